#include <sluice/broadcastrooms.h>
#include <sluice/monitor.h>
#include <sluice/websocket.h>

namespace sluice {

BroadcastRooms::BroadcastRooms(Monitor *monitor, QObject *parent)
    : QObject(parent)
    , m_monitor(monitor)
{ }

BroadcastRooms::~BroadcastRooms()
{
    for (const QList<WebSocket *> &members : std::as_const(m_rooms)) {
        for (WebSocket *socket : members)
            socket->disconnect(this);
    }
}

void BroadcastRooms::join(WebSocket *socket)
{
    const QString parameter = socket->param(m_roomParameter);
    const QString room = parameter.isEmpty() ? socket->path() : parameter;
    const quint64 id = socket->id();
    m_rooms[room].append(socket);

    connect(socket, &WebSocket::textReceived, this, [this, room, socket](const QString &message) {
        for (WebSocket *member : m_rooms.value(room)) {
            if (member != socket)
                member->sendText(message);
        }
    });
    connect(socket, &WebSocket::binaryReceived, this,
            [this, room, socket](const QByteArray &message) {
                for (WebSocket *member : m_rooms.value(room)) {
                    if (member != socket)
                        member->sendBinary(message);
                }
            });
    connect(socket, &WebSocket::closed, this,
            [this, room, socket, id] { leave(room, socket, id); });
    postEvent(true, room, socket, id);
    Q_EMIT memberJoined(room, id);
}

void BroadcastRooms::leave(const QString &room, WebSocket *socket, quint64 id)
{
    auto it = m_rooms.find(room);
    if (it == m_rooms.end() || !it->removeOne(socket))
        return;
    if (it->isEmpty())
        m_rooms.erase(it);
    postEvent(false, room, socket, id);
    Q_EMIT memberLeft(room, id);
}

void BroadcastRooms::postEvent(bool joined, const QString &room, const WebSocket *socket,
                               quint64 id)
{
    if (!m_monitor || !m_monitor->isActive())
        return;
    MonitorEvent event;
    event.type = joined ? MonitorEvent::Type::RoomJoined : MonitorEvent::Type::RoomLeft;
    event.connectionId = id;
    event.timeUs = MonitorEvent::now();
    event.route = socket->route();
    event.target = socket->path();
    event.room = room;
    event.size = m_rooms.value(room).size();
    m_monitor->post(std::move(event));
}

} // namespace sluice
