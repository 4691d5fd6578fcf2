// Monitor events as a server posts them for one connection, for the tests
// of the connection models and views.

#ifndef SLUICE_TESTS_CONNECTIONEVENTS_H
#define SLUICE_TESTS_CONNECTIONEVENTS_H

#include <sluice/monitorevent.h>

namespace connectionevents {

using sluice::MonitorEvent;
using Type = MonitorEvent::Type;
using Direction = MonitorEvent::Direction;
using Opcode = MonitorEvent::Opcode;

// 2026-11-24T10:11:12.345Z
constexpr qint64 kTimeUs = 1795515072345000;

inline MonitorEvent opened(quint64 id, qint64 timeUs = kTimeUs)
{
    MonitorEvent event;
    event.type = Type::ConnectionOpened;
    event.connectionId = id;
    event.timeUs = timeUs;
    event.peerAddress = QHostAddress(QStringLiteral("127.0.0.1"));
    event.peerPort = quint16(40000 + id);
    return event;
}

inline MonitorEvent closed(quint64 id)
{
    MonitorEvent event;
    event.type = Type::ConnectionClosed;
    event.connectionId = id;
    event.timeUs = kTimeUs + 1000000;
    return event;
}

inline MonitorEvent exchange(quint64 id, const QString &route, int status = 200, qint64 bytesIn = 0,
                             qint64 bytesOut = 0, const QString &target = QStringLiteral("/x"))
{
    MonitorEvent event;
    event.type = Type::HttpExchange;
    event.connectionId = id;
    event.timeUs = kTimeUs + 500;
    event.peerAddress = QHostAddress(QStringLiteral("127.0.0.1"));
    event.peerPort = quint16(40000 + id);
    event.method = "GET";
    event.target = target;
    event.route = route;
    event.status = status;
    event.bytesIn = bytesIn;
    event.bytesOut = bytesOut;
    event.durationUs = 500;
    return event;
}

inline MonitorEvent webSocketOpened(quint64 id, const QString &route,
                                    const QString &target = QStringLiteral("/x"),
                                    const QString &subprotocol = QString())
{
    MonitorEvent event;
    event.type = Type::WebSocketOpened;
    event.connectionId = id;
    event.timeUs = kTimeUs + 1000;
    event.peerAddress = QHostAddress(QStringLiteral("127.0.0.1"));
    event.peerPort = quint16(40000 + id);
    event.route = route;
    event.target = target;
    event.reason = subprotocol;
    return event;
}

inline MonitorEvent message(quint64 id, Direction direction, Opcode opcode, qint64 size)
{
    MonitorEvent event;
    event.type = Type::WebSocketMessage;
    event.connectionId = id;
    event.timeUs = kTimeUs + 2000;
    event.direction = direction;
    event.opcode = opcode;
    event.size = size;
    event.payload = QByteArray(int(size), 'x');
    return event;
}

inline MonitorEvent webSocketClosed(quint64 id, int code, const QString &reason, qint64 closedUs)
{
    MonitorEvent event;
    event.type = Type::WebSocketClosed;
    event.connectionId = id;
    event.timeUs = closedUs;
    event.closeCode = code;
    event.reason = reason;
    return event;
}

} // namespace connectionevents

#endif // SLUICE_TESTS_CONNECTIONEVENTS_H
