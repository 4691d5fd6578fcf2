#ifndef SLUICE_ACCESSLOG_H
#define SLUICE_ACCESSLOG_H

#include <sluice/monitorevent.h>

#include <QtCore/QObject>

#include <functional>

namespace sluice {

class Monitor;

// The access log, written from the monitor's events: one line per HTTP
// exchange and per WebSocket open and close (with duration, bytes and
// message counts), and with traffic logging one per WebSocket message too.
// Text lines are for people; JSON lines are one object each, for machines.
// Lines are also gated by the logging categories "sluice.access" and
// "sluice.traffic" (info), so QT_LOGGING_RULES can turn them off.
class SLUICE_CORE_EXPORT AccessLog : public QObject
{
    Q_OBJECT
public:
    enum class Format { Text, Json };
    Q_ENUM(Format)
    // Gets each line, '\n' included, on the monitor's thread.
    using Writer = std::function<void(const QByteArray &line)>;

    AccessLog(Monitor *monitor, Writer writer, QObject *parent = nullptr);
    ~AccessLog() override;

    Format format() const { return m_format; }
    void setFormat(Format format) { m_format = format; }
    // Also log every WebSocket message (control frames included).
    bool logsTraffic() const { return m_traffic; }
    void setLogsTraffic(bool on) { m_traffic = on; }
    // Bytes of each message payload shown in traffic lines.
    int payloadCap() const { return m_payloadCap; }
    void setPayloadCap(int bytes) { m_payloadCap = bytes; }

    // The line for event, or empty when this log leaves it out.
    QByteArray formatEvent(const MonitorEvent &event) const;

private:
    void write(const QList<MonitorEvent> &events);

    Monitor *m_monitor;
    Writer m_writer;
    Format m_format = Format::Text;
    bool m_traffic = false;
    int m_payloadCap = 256;
    quint64 m_droppedSeen = 0;
};

} // namespace sluice

#endif // SLUICE_ACCESSLOG_H
