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
// Connection and room events are left out: the exchanges say it all.
//
// Text lines are for people (time, peer, connection id, then the event):
//   2026-11-24T10:11:12.345Z 127.0.0.1:53412 #3 "GET /hello/x" 200 149B 812us route=get:/hello/x
//   2026-11-24T10:11:12.345Z 127.0.0.1:53414 #5 ws open /echo route=ws:/echo subprotocol=chat
//   2026-11-24T10:11:24.645Z 127.0.0.1:53414 #5 ws close /echo 1000 "bye" 12.3s in=3/120B
//   out=3/120B 2026-11-24T10:11:13.000Z #5 ws <- text 5B "hello"        (binary: 0x0102..., cut:
//   ...)
// Bytes out are the whole response on the wire. Strings a client controls
// are quoted and escaped, so that a line is always one line.
// JSON lines are one object each, for machines: "time", "event" (http,
// ws_open, ws_close, ws_message, error, dropped), "connection", "peer",
// "port", "route" and the event's own fields (see tst_accesslog).
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
