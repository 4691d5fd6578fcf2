#ifndef SLUICE_ACCESSLOG_H
#define SLUICE_ACCESSLOG_H

#include <sluice/monitorevent.h>

#include <QtCore/QObject>

#include <functional>
#include <memory>

namespace sluice {

class Monitor;
class MonitorQueue;

// The access log, written from the monitor's events: one line per HTTP
// exchange and per WebSocket open and close (with duration, bytes and
// message counts), and with traffic logging one per WebSocket message too.
// Connection opened/closed and room events are left out: one per TCP
// connection and per join is too chatty, and the exchanges say it all.
//
// Text lines are for people: time (ISO 8601 UTC, milliseconds), peer
// ("[::1]:port" for IPv6, "-" when the event has none), "#" connection id,
// then per event ([...] only when set):
//   http:     "<method> <target>" <status> <bytes out>B in <duration> [route=<route>]
//   ws open:  ws open <target> [route=<route>] [subprotocol=<name>]
//   ws close: ws close <target> <code> "<reason>" <duration> in=<n> msgs/<bytes>B
//             out=<n> msgs/<bytes>B
//   traffic:  ws <-|-> <text|binary|ping|pong|close> <size>B ["<text>"|0x<hex>][…]
//   error:    error <status or close code> "<reason>"
//   drops:    <time> monitor dropped <n> events   (no peer, no id)
// for example
//   2026-11-24T10:11:12.345Z 127.0.0.1:53412 #3 "GET /hello/x" 200 149B in 0.8ms
// Durations are in milliseconds with one decimal, in seconds past 10 s; bytes
// out are the whole response on the wire. Payloads are cut to payloadCap()
// bytes, "…" marking the cut, with the message's full size before them.
// Strings a client controls (method and target, reasons, payloads) are
// quoted with C-style escapes for quotes, backslashes and control
// characters, so a line is always one line; targets are quoted only when
// they need it.
//
// JSON lines are one compact object each, for machines: "time", "event"
// (http, ws_open, ws_close, ws_message, error, dropped), "connection",
// "peer" and "port" when known, "route" when set, and the event's fields:
// method, target, status, bytesIn, bytesOut, durationMs / target,
// subprotocol / target, closeCode, reason, messagesIn, messagesOut, bytesIn,
// bytesOut, durationMs / direction ("in", "out"), opcode, size, payload
// (binary ones base64, with "payloadEncoding": "base64"), truncated / status
// or closeCode, reason / count.
//
// Lines are also gated by the logging categories "sluice.access" and
// "sluice.traffic" (info), so QT_LOGGING_RULES can turn them off. The log
// takes the monitor's events through a MonitorQueue of the types it writes:
// without traffic logging no WebSocket message becomes an event at all. At
// most Monitor::capacity() events wait to be written; past it the newest
// are dropped, and a line says how many.
class SLUICE_CORE_EXPORT AccessLog : public QObject
{
    Q_OBJECT
public:
    enum class Format { Text, Json };
    Q_ENUM(Format)
    // Gets each line, '\n' included, on the log's thread.
    using Writer = std::function<void(const QByteArray &line)>;

    AccessLog(Monitor *monitor, Writer writer, QObject *parent = nullptr);
    ~AccessLog() override;

    Format format() const { return m_format; }
    void setFormat(Format format) { m_format = format; }
    // Also log every WebSocket message (control frames included).
    bool logsTraffic() const { return m_traffic; }
    void setLogsTraffic(bool on);
    // Bytes of each message payload shown in traffic lines.
    int payloadCap() const { return m_payloadCap; }
    void setPayloadCap(int bytes) { m_payloadCap = bytes; }

    // The line for event, or empty when this log leaves it out.
    QByteArray formatEvent(const MonitorEvent &event) const;

private:
    void attach();
    void write();

    Monitor *m_monitor;
    std::unique_ptr<MonitorQueue> m_queue;
    Writer m_writer;
    Format m_format = Format::Text;
    bool m_traffic = false;
    int m_payloadCap = 256;
    quint64 m_droppedSeen = 0;
};

} // namespace sluice

#endif // SLUICE_ACCESSLOG_H
