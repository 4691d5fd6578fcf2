#include <sluice/broadcastrooms.h>
#include <sluice/monitor.h>
#include <sluice/websocket.h>

#include "global/clock_p.h"
#include "global/logging_p.h"

#include <QtCore/QHash>
#include <QtCore/QList>
#include <QtCore/QMutex>
#include <QtCore/QReadWriteLock>
#include <QtCore/QThread>

#include <atomic>
#include <vector>

namespace sluice {

class RoomShard;

struct BroadcastRooms::Shared
{
    explicit Shared(Monitor *monitor)
        : monitor(monitor)
    { }

    Monitor *const monitor;
    std::atomic<qint64> maxQueuedBytes {qint64(64) * 1024 * 1024};
    std::atomic<quint64> dropped {0};
    std::atomic<qint64> dropLoggedMs {-1000000};
    // More than one shard: only then does a message look past its own thread.
    std::atomic<int> shardCount {0};
    // Set as the rooms go: shards still waiting for deletion on other
    // threads relay nothing and report nothing from then on.
    std::atomic<bool> closed {false};

    // Guards the maps below, and keeps a shard alive while another thread
    // queues a message for it (a shard is removed under it before it goes).
    mutable QMutex mutex;
    QHash<QThread *, RoomShard *> shards;
    QHash<QString, QList<RoomShard *>> roomShards; // the shards with members in a room
    QHash<QString, int> counts; // members per room, all threads

    // Signals go out through owner while it lives; a member leaving on a
    // worker thread may race with the rooms' destruction on theirs.
    QReadWriteLock ownerLock;
    BroadcastRooms *owner = nullptr;
};

namespace {

struct QueuedMessage
{
    QString room;
    QString text;
    QByteArray binary;
    bool isBinary = false;
};

} // namespace

// The members of every room on one thread, and the queue through which the
// other threads send them messages. It lives on that thread.
class RoomShard : public QObject
{
public:
    explicit RoomShard(std::shared_ptr<BroadcastRooms::Shared> shared)
        : m_shared(std::move(shared))
    { }

    // The shard of the calling thread, made on first use. It goes with its
    // thread, or with the rooms, whichever ends first.
    static RoomShard *ofThisThread(const std::shared_ptr<BroadcastRooms::Shared> &shared);

    void add(const QString &room, WebSocket *socket);
    void leave(const QString &room, WebSocket *socket, quint64 id, const QString &route,
               const QString &path);
    void relay(const QString &room, WebSocket *from, const QString &text, const QByteArray &binary,
               bool isBinary);
    // Any thread, with the shared mutex held.
    void enqueue(const QueuedMessage &message);

private:
    void deliver(const QString &room, WebSocket *from, const QString &text,
                 const QByteArray &binary, bool isBinary);
    void drain();

    std::shared_ptr<BroadcastRooms::Shared> m_shared;
    QHash<QString, QList<WebSocket *>> m_members;

    QMutex m_queueMutex;
    std::vector<QueuedMessage> m_queue;
    qint64 m_queuedBytes = 0;
    bool m_drainPosted = false;
};

namespace {

qint64 messageBytes(const QueuedMessage &message)
{
    return message.isBinary ? message.binary.size() : message.text.size() * qint64(sizeof(QChar));
}

void postRoomEvent(Monitor *monitor, bool joined, const QString &room, quint64 id,
                   const QString &route, const QString &path, int members)
{
    const auto type = joined ? MonitorEvent::Type::RoomJoined : MonitorEvent::Type::RoomLeft;
    if (!monitor || !monitor->isActive(type))
        return;
    MonitorEvent event;
    event.type = type;
    event.connectionId = id;
    event.timeUs = MonitorEvent::now();
    event.route = route;
    event.target = path;
    event.room = room;
    event.size = members;
    monitor->post(std::move(event));
}

} // namespace

RoomShard *RoomShard::ofThisThread(const std::shared_ptr<BroadcastRooms::Shared> &shared)
{
    QThread *thread = QThread::currentThread();
    QMutexLocker locker(&shared->mutex);
    if (RoomShard *shard = shared->shards.value(thread))
        return shard;
    auto *shard = new RoomShard(shared);
    shared->shards.insert(thread, shard);
    shared->shardCount.store(int(shared->shards.size()), std::memory_order_relaxed);
    std::weak_ptr<BroadcastRooms::Shared> weak = shared;
    QObject::connect(
            thread, &QThread::finished, shard,
            [weak, shard, thread] {
                if (const auto shared = weak.lock()) {
                    QMutexLocker locker(&shared->mutex);
                    if (shared->shards.value(thread) == shard) {
                        shared->shards.remove(thread);
                        shared->shardCount.store(int(shared->shards.size()),
                                                 std::memory_order_relaxed);
                    }
                    for (auto it = shared->roomShards.begin(); it != shared->roomShards.end();) {
                        it->removeAll(shard);
                        it = it->isEmpty() ? shared->roomShards.erase(it) : std::next(it);
                    }
                }
                delete shard;
            },
            Qt::DirectConnection);
    return shard;
}

void RoomShard::add(const QString &room, WebSocket *socket)
{
    QList<WebSocket *> &members = m_members[room];
    members.append(socket);
    QMutexLocker locker(&m_shared->mutex);
    if (members.size() == 1)
        m_shared->roomShards[room].append(this);
    ++m_shared->counts[room];
}

void RoomShard::leave(const QString &room, WebSocket *socket, quint64 id, const QString &route,
                      const QString &path)
{
    auto it = m_members.find(room);
    if (it == m_members.end() || !it->removeOne(socket)
        || m_shared->closed.load(std::memory_order_acquire))
        return;
    int members = 0;
    {
        QMutexLocker locker(&m_shared->mutex);
        if (it->isEmpty()) {
            m_members.erase(it);
            auto shards = m_shared->roomShards.find(room);
            if (shards != m_shared->roomShards.end()) {
                shards->removeOne(this);
                if (shards->isEmpty())
                    m_shared->roomShards.erase(shards);
            }
        }
        auto count = m_shared->counts.find(room);
        if (count != m_shared->counts.end()) {
            members = --count.value();
            if (members <= 0)
                m_shared->counts.erase(count);
        }
    }
    postRoomEvent(m_shared->monitor, false, room, id, route, path, qMax(0, members));
    QReadLocker owner(&m_shared->ownerLock);
    if (m_shared->owner)
        Q_EMIT m_shared->owner->memberLeft(room, id);
}

void RoomShard::relay(const QString &room, WebSocket *from, const QString &text,
                      const QByteArray &binary, bool isBinary)
{
    deliver(room, from, text, binary, isBinary);
    if (m_shared->shardCount.load(std::memory_order_relaxed) < 2)
        return;
    QMutexLocker locker(&m_shared->mutex);
    const auto shards = m_shared->roomShards.constFind(room);
    if (shards == m_shared->roomShards.constEnd())
        return;
    // QString and QByteArray are shared, not copied, into each queue.
    const QueuedMessage message {room, text, binary, isBinary};
    for (RoomShard *shard : *shards) {
        if (shard != this)
            shard->enqueue(message);
    }
}

void RoomShard::enqueue(const QueuedMessage &message)
{
    const qint64 bytes = messageBytes(message);
    QMutexLocker locker(&m_queueMutex);
    if (m_queuedBytes + bytes > m_shared->maxQueuedBytes.load(std::memory_order_relaxed)
        && !m_queue.empty()) {
        const quint64 dropped = m_shared->dropped.fetch_add(1, std::memory_order_relaxed) + 1;
        const qint64 now = monotonicMs();
        qint64 logged = m_shared->dropLoggedMs.load(std::memory_order_relaxed);
        if (now - logged >= 1000 && m_shared->dropLoggedMs.compare_exchange_strong(logged, now)) {
            qCWarning(lcWebSocket)
                    << "broadcast rooms: a thread is" << m_queuedBytes
                    << "bytes behind; dropping its messages (" << dropped << "so far)";
        }
        return;
    }
    m_queue.push_back(message);
    m_queuedBytes += bytes;
    if (m_drainPosted)
        return;
    m_drainPosted = true;
    // One queued call per batch, not per message.
    QMetaObject::invokeMethod(
            this, [this] { drain(); }, Qt::QueuedConnection);
}

void RoomShard::drain()
{
    std::vector<QueuedMessage> batch;
    {
        QMutexLocker locker(&m_queueMutex);
        batch.swap(m_queue);
        m_queuedBytes = 0;
        m_drainPosted = false;
    }
    for (const QueuedMessage &message : batch)
        deliver(message.room, nullptr, message.text, message.binary, message.isBinary);
}

void RoomShard::deliver(const QString &room, WebSocket *from, const QString &text,
                        const QByteArray &binary, bool isBinary)
{
    const auto members = m_members.constFind(room);
    if (members == m_members.constEnd() || m_shared->closed.load(std::memory_order_acquire))
        return;
    // A copy: a send that fails can close a member, and the list with it.
    const QList<WebSocket *> targets = *members;
    for (WebSocket *member : targets) {
        if (member == from)
            continue;
        if (isBinary)
            member->sendBinary(binary);
        else
            member->sendText(text);
    }
}

BroadcastRooms::BroadcastRooms(Monitor *monitor, QObject *parent)
    : QObject(parent)
    , d(std::make_shared<Shared>(monitor))
{
    d->owner = this;
}

BroadcastRooms::~BroadcastRooms()
{
    d->closed.store(true, std::memory_order_release);
    {
        QWriteLocker owner(&d->ownerLock);
        d->owner = nullptr;
    }
    QMutexLocker locker(&d->mutex);
    for (RoomShard *shard : std::as_const(d->shards)) {
        // Deleting a shard ends its connections to its members' signals.
        if (shard->thread() == QThread::currentThread())
            delete shard;
        else
            shard->deleteLater();
    }
    d->shards.clear();
    d->shardCount.store(0, std::memory_order_relaxed);
    d->roomShards.clear();
    d->counts.clear();
}

QStringList BroadcastRooms::rooms() const
{
    QMutexLocker locker(&d->mutex);
    return d->counts.keys();
}

int BroadcastRooms::memberCount(const QString &room) const
{
    QMutexLocker locker(&d->mutex);
    return d->counts.value(room);
}

qint64 BroadcastRooms::maxQueuedBytes() const
{
    return d->maxQueuedBytes.load(std::memory_order_relaxed);
}

void BroadcastRooms::setMaxQueuedBytes(qint64 bytes)
{
    d->maxQueuedBytes.store(bytes, std::memory_order_relaxed);
}

quint64 BroadcastRooms::droppedCount() const
{
    return d->dropped.load(std::memory_order_relaxed);
}

void BroadcastRooms::join(WebSocket *socket)
{
    const QString parameter = socket->param(m_roomParameter);
    const QString room = parameter.isEmpty() ? socket->path() : parameter;
    const quint64 id = socket->id();
    const QString route = socket->route();
    const QString path = socket->path();
    RoomShard *shard = RoomShard::ofThisThread(d);
    shard->add(room, socket);

    connect(socket, &WebSocket::textReceived, shard, [shard, room, socket](const QString &text) {
        shard->relay(room, socket, text, QByteArray(), false);
    });
    connect(socket, &WebSocket::binaryReceived, shard,
            [shard, room, socket](const QByteArray &binary) {
                shard->relay(room, socket, QString(), binary, true);
            });
    // destroyed() too: a socket deleted without closing must not stay a member.
    const auto leave = [shard, room, socket, id, route, path] {
        shard->leave(room, socket, id, route, path);
    };
    connect(socket, &WebSocket::closed, shard, leave);
    connect(socket, &QObject::destroyed, shard, leave);
    postRoomEvent(d->monitor, true, room, id, route, path, memberCount(room));
    Q_EMIT memberJoined(room, id);
}

} // namespace sluice
