// WebSocket messages as a server posts them, for the tests of the traffic
// model and view.

#ifndef SLUICE_TESTS_TRAFFICEVENTS_H
#define SLUICE_TESTS_TRAFFICEVENTS_H

#include <sluice/monitorevent.h>

#include <QtCore/QDateTime>
#include <QtCore/QList>

namespace trafficevents {

using sluice::MonitorEvent;
using Type = MonitorEvent::Type;
using Direction = MonitorEvent::Direction;
using Opcode = MonitorEvent::Opcode;

// 2024-05-06 13:14:15.678 local time, with some microseconds.
inline qint64 baseUs()
{
    return QDateTime(QDate(2024, 5, 6), QTime(13, 14, 15, 678)).toMSecsSinceEpoch() * 1000 + 321;
}

inline MonitorEvent message(quint64 connection, Direction direction, Opcode opcode,
                            const QByteArray &payload, qint64 size = -1, qint64 timeUs = 0)
{
    MonitorEvent event;
    event.type = Type::WebSocketMessage;
    event.connectionId = connection;
    event.direction = direction;
    event.opcode = opcode;
    event.payload = payload;
    event.size = size >= 0 ? size : payload.size();
    event.timeUs = timeUs ? timeUs : baseUs();
    event.route = QStringLiteral("ws:/echo");
    return event;
}

inline MonitorEvent text(quint64 connection, Direction direction, const QByteArray &payload,
                         qint64 timeUs = 0)
{
    return message(connection, direction, Opcode::Text, payload, -1, timeUs);
}

// n text messages; the connection id counts from first so each row says
// which event it came from.
inline QList<MonitorEvent> numbered(int n, quint64 first = 1)
{
    QList<MonitorEvent> events;
    events.reserve(n);
    for (int i = 0; i < n; ++i)
        events.append(text(first + quint64(i), i % 2 ? Direction::Outgoing : Direction::Incoming,
                           "m" + QByteArray::number(i)));
    return events;
}

} // namespace trafficevents

#endif // SLUICE_TESTS_TRAFFICEVENTS_H
