#ifndef SLUICE_WEBSOCKET_P_H
#define SLUICE_WEBSOCKET_P_H

#include "websocketframe_p.h"

#include <sluice/httprequest.h>
#include <sluice/monitorevent.h>
#include <sluice/route.h>
#include <sluice/websocket.h>

#include <QtCore/QHash>
#include <QtCore/QPointer>
#include <QtCore/QVariant>
#include <QtNetwork/QTcpSocket>

#include <limits>
#include <memory>

namespace sluice {

class Monitor;
struct Limits;

// What the HTTP side learnt about an upgrade before handing the socket on.
struct WebSocketContext
{
    quint64 id = 0;
    Route route;
    QHash<QString, QString> params;
    HttpRequest request;
    QVariantHash dataset;
    qint64 openedUs = 0;
    qint64 handedOffMs = 0; // Worker::nowMs(), for the handshake timeout
    // Bytes of the upgrade request still unread in the socket.
    qint64 headBytes = 0;
    bool tls = false;
    // Qt 6.4's QWebSocket does not own the socket it was upgraded from.
    QPointer<QTcpSocket> tcpSocket;
};

// The state of a WebSocket that does not depend on the engine under it
// (Sluice's own, or QtWebSockets'), and what an engine provides.
class DeletionGuard;

class WebSocketPrivate
{
public:
    WebSocketPrivate(std::unique_ptr<WebSocketContext> context, Monitor *monitor,
                     qint64 maxPendingWriteBytes);
    virtual ~WebSocketPrivate();
    WebSocketPrivate(const WebSocketPrivate &) = delete;
    WebSocketPrivate &operator=(const WebSocketPrivate &) = delete;

    // Makes the public object; it owns d from then on.
    static WebSocket *create(std::unique_ptr<WebSocketPrivate> d, QObject *parent);
    static WebSocketPrivate *get(WebSocket *socket) { return socket->d.get(); }
    // Called once q exists.
    virtual void created() { }

    // --- what an engine provides
    // Open, and no close frame sent or received.
    virtual bool isConnected() const = 0;
    virtual qint64 pendingBytes() const = 0;
    virtual qint64 writeMessage(WebSocketOpcode opcode, QByteArrayView payload) = 0;
    virtual void writePing(const QByteArray &payload) = 0;
    // Starts the closing handshake.
    virtual void writeClose(int code, const QString &reason) = 0;
    // Whether a close frame was sent and the client's is still awaited.
    virtual bool isClosing() const = 0;
    // Ends the connection now with a TCP reset; finish() follows.
    virtual void cut() = 0;
    // Tells onDrained() when the backlog falls, or stops.
    virtual void watchDrain(bool watch) = 0;
    virtual QString subprotocol() const = 0;
    virtual bool isCompressed() const { return false; }
    virtual QWebSocket *qtSocket() const { return nullptr; }
    // The object goes while the connection is open (its server is deleted).
    virtual void abandon() = 0;

    // --- shared by both engines
    QUrl requestUrl() const;
    void postOpened(const QString &subprotocol);
    // Counts the message and tells the monitor about it; the QByteArray
    // form shares the payload instead of copying it.
    void record(MonitorEvent::Opcode opcode, MonitorEvent::Direction direction,
                const QByteArray &payload);
    void record(MonitorEvent::Opcode opcode, MonitorEvent::Direction direction,
                QByteArrayView payload);
    void count(MonitorEvent::Opcode opcode, MonitorEvent::Direction direction, qint64 size);
    void post(MonitorEvent::Opcode opcode, MonitorEvent::Direction direction, qint64 size,
              const QByteArray &kept);
    // Whether a message of size may be queued for the client now.
    bool admitOutgoing(qint64 size);
    void onDrained();
    // Called by the worker's sweep: keep-alive pings, and cutting a client
    // that stopped answering them or never answers a close.
    void checkTimeouts(qint64 nowMs, const Limits &limits);
    // The connection ended: tells the monitor and the handler, and deletes q.
    void finish(int code, const QString &reason);
    void postClosed(int code, const QString &reason);
    // Runs a handler's slots: an exception closes the socket with 1011
    // instead of unwinding through the event loop. False once q is gone.
    template<typename Emit>
    bool guarded(Emit &&emitSignal);
    void failHandler(const QByteArray &what);

    WebSocket *q = nullptr;
    std::unique_ptr<WebSocketContext> context;
    Monitor *monitor;
    QVariantHash dataset;
    qint64 openedUs;
    qint64 bytesIn = 0;
    qint64 bytesOut = 0;
    qint64 messagesIn = 0;
    qint64 messagesOut = 0;
    qint64 maxPendingWriteBytes = std::numeric_limits<qint64>::max();
    // Worker::nowMs() times; 0: not yet.
    qint64 lastHeardMs = 0;
    qint64 pingSentMs = 0;
    qint64 closingSinceMs = 0;
    // Why the server cut the connection, reported with 1006.
    QString cutReason;
    WebSocket::OverflowPolicy overflowPolicy = WebSocket::OverflowPolicy::Close;
    // Set while a DeletionGuard watches; the destructor sets what it points to.
    bool *deletedFlag = nullptr;
    bool heard = false; // since the last sweep
    bool overflowed = false;
    bool finished = false;
};

// Says whether the WebSocketPrivate it watches (and its WebSocket) was
// deleted meanwhile, by a slot that deleted the socket: a QPointer's
// allocation and atomics, per message, for a bool on the stack. (GCC 12
// takes the flag's address, handed back in the destructor, for a dangling
// pointer.)
QT_WARNING_PUSH
#if defined(Q_CC_GNU_ONLY) && Q_CC_GNU_ONLY >= 1200
QT_WARNING_DISABLE_GCC("-Wdangling-pointer")
#endif
class DeletionGuard
{
public:
    explicit DeletionGuard(WebSocketPrivate *d)
        : m_d(d)
        , m_outer(std::exchange(d->deletedFlag, &m_deleted))
    { }
    ~DeletionGuard()
    {
        if (!m_deleted)
            m_d->deletedFlag = m_outer;
        else if (m_outer)
            *m_outer = true;
    }
    Q_DISABLE_COPY_MOVE(DeletionGuard)
    bool isDeleted() const { return m_deleted; }

private:
    WebSocketPrivate *m_d;
    bool *m_outer;
    bool m_deleted = false;
};
QT_WARNING_POP

template<typename Emit>
bool WebSocketPrivate::guarded(Emit &&emitSignal)
{
    const DeletionGuard guard(this);
    // Copied inside the catch: the exception (and its what()) ends with it.
    QByteArray what;
    try {
        emitSignal();
        return !guard.isDeleted();
    } catch (const std::exception &e) {
        what = QByteArray(": ") + e.what();
    } catch (...) { }
    if (guard.isDeleted())
        return false;
    failHandler(what);
    return !guard.isDeleted();
}

} // namespace sluice

#endif // SLUICE_WEBSOCKET_P_H
