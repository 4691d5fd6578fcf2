#ifndef SLUICE_BROADCASTROOMS_H
#define SLUICE_BROADCASTROOMS_H

#include <sluice/sluiceglobal.h>

#include <QtCore/QObject>
#include <QtCore/QStringList>

#include <memory>

namespace sluice {

class Monitor;
class WebSocket;

// Chat rooms: every message a member sends goes to every other member of
// its room, as it came (text as text, binary as binary). The room is the
// route's path parameter "room" (see setRoomParameter()), or the whole path
// when the route has none. Map join() as the handler:
//     server.map("ws:/chat/(?<room>\\w+)", &rooms, &BroadcastRooms::join);
// Joins and leaves are signals, and monitor events when a monitor is given.
//
// A room may span the server's worker threads. Members on the sender's
// thread get a message at once; each other thread gets the messages for its
// members through one queue, drained by one queued call per batch, so each
// member receives every other member's messages once and in the order they
// were sent. join() and the signals run on the member's thread; rooms() and
// memberCount() are safe from any thread.
class SLUICE_CORE_EXPORT BroadcastRooms : public QObject
{
    Q_OBJECT
public:
    explicit BroadcastRooms(Monitor *monitor = nullptr, QObject *parent = nullptr);
    ~BroadcastRooms() override;

    QString roomParameter() const { return m_roomParameter; }
    // Before the first join().
    void setRoomParameter(const QString &name) { m_roomParameter = name; }

    QStringList rooms() const;
    int memberCount(const QString &room) const;

    // Bytes of messages waiting for one other thread (64 MiB by default).
    // Past it, messages for that thread are dropped and counted, and a
    // warning is logged at most once a second: a stalled thread must not
    // make the others buffer without bound.
    qint64 maxQueuedBytes() const;
    void setMaxQueuedBytes(qint64 bytes);
    quint64 droppedCount() const;

public Q_SLOTS:
    void join(sluice::WebSocket *socket);

Q_SIGNALS:
    void memberJoined(const QString &room, quint64 id);
    void memberLeft(const QString &room, quint64 id);

private:
    friend class RoomShard;
    struct Shared;
    std::shared_ptr<Shared> d;
    QString m_roomParameter = QStringLiteral("room");
};

} // namespace sluice

#endif // SLUICE_BROADCASTROOMS_H
