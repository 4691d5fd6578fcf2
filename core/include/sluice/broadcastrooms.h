#ifndef SLUICE_BROADCASTROOMS_H
#define SLUICE_BROADCASTROOMS_H

#include <sluice/sluiceglobal.h>

#include <QtCore/QHash>
#include <QtCore/QList>
#include <QtCore/QObject>
#include <QtCore/QStringList>

namespace sluice {

class Monitor;
class WebSocket;

// Chat rooms: every message a member sends goes to every other member of
// its room, as it came (text as text, binary as binary). The room is the
// route's path parameter "room" (see setRoomParameter()), or the whole path
// when the route has none. Map join() as the handler:
//     server.map("ws:/chat/(?<room>\\w+)", &rooms, &BroadcastRooms::join);
// Joins and leaves are signals, and monitor events when a monitor is given.
class SLUICE_CORE_EXPORT BroadcastRooms : public QObject
{
    Q_OBJECT
public:
    explicit BroadcastRooms(Monitor *monitor = nullptr, QObject *parent = nullptr);
    ~BroadcastRooms() override;

    QString roomParameter() const { return m_roomParameter; }
    void setRoomParameter(const QString &name) { m_roomParameter = name; }

    QStringList rooms() const { return m_rooms.keys(); }
    int memberCount(const QString &room) const { return int(m_rooms.value(room).size()); }

public Q_SLOTS:
    void join(sluice::WebSocket *socket);

Q_SIGNALS:
    void memberJoined(const QString &room, quint64 id);
    void memberLeft(const QString &room, quint64 id);

private:
    void leave(const QString &room, WebSocket *socket, quint64 id);
    void postEvent(bool joined, const QString &room, const WebSocket *socket, quint64 id);

    Monitor *m_monitor;
    QString m_roomParameter = QStringLiteral("room");
    QHash<QString, QList<WebSocket *>> m_rooms;
};

} // namespace sluice

#endif // SLUICE_BROADCASTROOMS_H
