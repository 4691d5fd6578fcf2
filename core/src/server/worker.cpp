#include "admission_p.h"
#include "global/logging_p.h"
#include "global/socketcontrol_p.h"
#include "http/httpconnection_p.h"
#include "http/httpdate_p.h"
#include "websocket/qtwebsocket_p.h"
#include "websocket/sluiceengine_p.h"
#include "worker_p.h"

#include <sluice/monitor.h>
#include <sluice/server.h>
#include <sluice/websocket.h>

#include <QtCore/QDateTime>
#include <QtWebSockets/QWebSocket>
#include <QtWebSockets/QWebSocketServer>

#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace sluice {

namespace {
// Connections past a limit are answered 503 as their request arrives; past
// this many such answers at once, new ones are reset straight away.
constexpr int MaxRefusing = 64;
} // namespace

Worker::Worker(Server *server, Admission *admission, int index, int count)
    : m_admission(admission)
    , m_router(server->router())
    , m_monitor(server->monitor())
    , m_dispatcher(server->router())
    , m_nextId(quint64(index) + 1)
    , m_idStep(quint64(count))
    , m_limits(server->limits())
    , m_serverName(server->serverName())
    , m_webSocketEngine(server->webSocketEngine())
    , m_sweepTimer(this) // a child, so that it moves with the worker to its thread
{
    connect(&m_sweepTimer, &QTimer::timeout, this, &Worker::sweep);
}

Worker::~Worker()
{
    // WebSockets emit closed() as they go; nobody should hear it from a dying
    // worker. They go before the engine they use, closed ones waiting for
    // their deleteLater() too.
    for (WebSocket *socket : std::as_const(m_webSockets))
        socket->disconnect(this);
    qDeleteAll(findChildren<WebSocket *>(QString(), Qt::FindDirectChildrenOnly));
    delete m_engine;
    // Handshakes still in Qt's hands have no parent to delete them.
    for (const auto &pending : std::as_const(m_pending)) {
        if (pending->tcpSocket) {
            pending->tcpSocket->disconnect(this);
            delete pending->tcpSocket.data();
        }
    }
}

void Worker::setLimits(const Limits &limits)
{
    m_limits = limits;
}

void Worker::setServerName(const QByteArray &name)
{
    m_serverName = name;
}

QByteArray Worker::dateHeader()
{
    const qint64 now = QDateTime::currentSecsSinceEpoch();
    if (now != m_dateSecond) {
        m_dateSecond = now;
        m_date = formatHttpDate(QDateTime::fromSecsSinceEpoch(now, Qt::UTC));
    }
    return m_date;
}

void Worker::accept(QTcpSocket *socket)
{
    const Limits &limits = m_limits;
    const QHostAddress address = socket->peerAddress();
    const bool full
            = !m_admission->admit(address, limits.maxConnections, limits.maxConnectionsPerAddress);
    if (full) {
        if (m_refusing >= MaxRefusing) {
            m_open.fetch_sub(1, std::memory_order_relaxed);
            resetConnection(socket);
            socket->deleteLater();
            return;
        }
        ++m_refusing;
        // At most one line a second: a flood must not become a log flood.
        ++m_refusedSinceLog;
        if (nowMs() - m_refusalLoggedMs >= 1000) {
            qCWarning(lcServer).noquote()
                    << "refusing connections (503):" << m_refusedSinceLog
                    << "since the last report;" << m_admission->total() << "open,"
                    << m_admission->count(address) << "from" << address.toString();
            m_refusalLoggedMs = nowMs();
            m_refusedSinceLog = 0;
        }
    }
    const quint64 id = m_nextId;
    m_nextId += m_idStep;
    if (!full)
        m_admitted.insert(id, address);
    auto *connection = new HttpConnection(socket, this, id, limits, full);
    m_connections.insert(connection);
    scheduleSweep(limits);
    Q_EMIT connectionOpened(id);
}

void Worker::release(quint64 id)
{
    const auto it = m_admitted.constFind(id);
    if (it == m_admitted.constEnd())
        return;
    m_admission->release(it.value());
    m_admitted.erase(it);
}

void Worker::closed(quint64 id)
{
    release(id);
    m_open.fetch_sub(1, std::memory_order_relaxed);
    Q_EMIT connectionClosed(id);
}

void Worker::removeConnection(HttpConnection *connection, bool handedOff)
{
    if (!m_connections.remove(connection))
        return;
    if (connection->isRefusing())
        --m_refusing;
    // A handed-off connection lives on as a pending upgrade, then a WebSocket.
    if (!handedOff)
        closed(connection->id());
}

void Worker::scheduleSweep(const Limits &limits)
{
    // A quarter of the shortest timeout keeps each within 25% of its setting.
    int shortest = 0;
    for (const int timeout :
         {limits.headTimeoutMs, limits.bodyTimeoutMs, limits.keepAliveTimeoutMs,
          limits.sendTimeoutMs, limits.handshakeTimeoutMs, limits.webSocketPingIntervalMs,
          limits.webSocketPongTimeoutMs, limits.webSocketCloseTimeoutMs}) {
        if (timeout > 0 && (shortest == 0 || timeout < shortest))
            shortest = timeout;
    }
    if (shortest == 0)
        return;
    const int interval = qBound(10, shortest / 4, 1000);
    if (!m_sweepTimer.isActive() || interval < m_sweepTimer.interval())
        m_sweepTimer.start(interval);
}

void Worker::sweep()
{
    const qint64 now = nowMs();
    const Limits &limits = m_limits;
    // Copies: a timeout can end a connection, and with it its entry.
    for (HttpConnection *connection : QSet<HttpConnection *>(m_connections))
        connection->checkTimeouts(now);
    if (limits.handshakeTimeoutMs > 0) {
        for (const auto &pending : QHash<PeerKey, std::shared_ptr<WebSocketContext>>(m_pending)) {
            if (pending->tcpSocket && now - pending->handedOffMs >= limits.handshakeTimeoutMs) {
                qCInfo(lcWebSocket) << "connection" << pending->id
                                    << "cut: the WebSocket handshake took longer than"
                                    << limits.handshakeTimeoutMs << "ms";
                resetConnection(pending->tcpSocket);
            }
        }
    }
    for (WebSocket *socket : QHash<quint64, WebSocket *>(m_webSockets))
        WebSocketPrivate::get(socket)->checkTimeouts(now, limits);
    if (m_engine)
        m_engine->sweep(now);
    if (connectionCount() == 0 && lingeringCount() == 0) {
        m_sweepTimer.stop();
        // glibc keeps what a burst of connections freed in its arenas (the
        // soak test saw 36 MB held for 0.5 MB in use): an idle server gives
        // it back, at most once a sweep.
#ifdef __GLIBC__
        malloc_trim(0);
#endif
    }
}

QWebSocketServer *Worker::webSocketServer(const QStringList &subprotocols)
{
    auto it = m_webSocketServers.find(subprotocols);
    if (it != m_webSocketServers.end())
        return it->second;
    auto *server = new QWebSocketServer(QString::fromLatin1(m_serverName),
                                        QWebSocketServer::NonSecureMode, this);
    server->setSupportedSubprotocols(subprotocols);
    connect(server, &QWebSocketServer::newConnection, this,
            [this, server] { onWebSocketReady(server); });
    m_webSocketServers.emplace(subprotocols, server);
    return server;
}

int Worker::lingeringCount() const
{
    return m_engine ? m_engine->lingeringCount() : 0;
}

void Worker::handOff(QTcpSocket *socket, std::unique_ptr<WebSocketContext> context)
{
    if (m_webSocketEngine == Server::WebSocketEngine::Qt) {
        handOffToQt(socket, std::move(context));
        return;
    }
    if (!m_engine)
        m_engine = new SluiceEngine(this);
    const SluiceEngine::Upgrade upgrade {m_limits, m_serverName, m_monitor};
    std::unique_ptr<SluiceWebSocketPrivate> d
            = m_engine->accept(socket, std::move(context), upgrade);
    SluiceWebSocketPrivate *raw = d.get();
    const QPointer<WebSocket> socketAlive(startWebSocket(std::move(d)));
    if (socketAlive && !raw->finished)
        raw->start();
}

WebSocket *Worker::startWebSocket(std::unique_ptr<WebSocketPrivate> d)
{
    WebSocketPrivate *raw = d.get();
    const quint64 id = raw->context->id;
    const WebSocketHandler handler = raw->context->route.webSocketHandler();
    const QByteArray target = raw->context->request.target();
    WebSocket *socket = WebSocketPrivate::create(std::move(d), this);
    m_webSockets.insert(id, socket);
    connect(socket, &WebSocket::closed, this, [this, id] { onWebSocketClosed(id); });
    raw->postOpened(socket->subprotocol());
    QPointer<WebSocket> guard(socket);
    try {
        if (handler)
            handler(socket);
    } catch (const std::exception &e) {
        qCWarning(lcWebSocket) << "handler threw for" << target << ':' << e.what();
        if (guard)
            guard->close(1011, QStringLiteral("handler failed"));
    } catch (...) {
        qCWarning(lcWebSocket) << "handler threw for" << target;
        if (guard)
            guard->close(1011, QStringLiteral("handler failed"));
    }
    return guard;
}

void Worker::handOffToQt(QTcpSocket *socket, std::unique_ptr<WebSocketContext> context)
{
    const PeerKey key {socket->peerAddress(), socket->peerPort(), socket->localPort()};
    const quint64 id = context->id;
    context->tcpSocket = socket;
    context->handedOffMs = nowMs();
    QWebSocketServer *server = webSocketServer(context->route.subprotocols());
    m_pending.insert(key, std::shared_ptr<WebSocketContext>(std::move(context)));
    // A handshake Qt refuses ends with the socket closed and no newConnection.
    const auto forget = [this, key, id] {
        auto it = m_pending.find(key);
        if (it != m_pending.end() && it.value()->id == id) {
            const qint64 openedUs = it.value()->openedUs;
            m_pending.erase(it);
            // A handshake Qt refused still ends a connection the monitor saw open.
            if (m_monitor->isActive(MonitorEvent::Type::ConnectionClosed)) {
                MonitorEvent closed;
                closed.type = MonitorEvent::Type::ConnectionClosed;
                closed.connectionId = id;
                closed.timeUs = MonitorEvent::now();
                closed.durationUs = closed.timeUs - openedUs;
                m_monitor->post(std::move(closed));
            }
            this->closed(id);
        }
    };
    connect(socket, &QAbstractSocket::disconnected, this, forget);
    connect(socket, &QObject::destroyed, this, forget);
    socket->setParent(nullptr);
    server->handleConnection(socket);
}

void Worker::onWebSocketReady(QWebSocketServer *server)
{
    while (QWebSocket *qsocket = server->nextPendingConnection()) {
        const PeerKey key {qsocket->peerAddress(), qsocket->peerPort(), qsocket->localPort()};
        const std::shared_ptr<WebSocketContext> pending = m_pending.take(key);
        if (!pending && qsocket->state() != QAbstractSocket::ConnectedState) {
            // The client left before Qt finished its side of the handshake:
            // the socket forgot its peer, and the pending entry went with it.
            qCDebug(lcWebSocket) << "a WebSocket closed during its handshake";
            qsocket->abort();
            qsocket->deleteLater();
            continue;
        }
        if (!pending) {
            qCWarning(lcWebSocket) << "a WebSocket nobody handed off:" << key.address << key.port;
            qsocket->abort();
            qsocket->deleteLater();
            continue;
        }
        const Limits &limits = m_limits;
        qsocket->setMaxAllowedIncomingMessageSize(quint64(limits.maxWebSocketMessageBytes));
        qsocket->setMaxAllowedIncomingFrameSize(quint64(limits.maxWebSocketFrameBytes));
        auto d = std::make_unique<QtWebSocketPrivate>(qsocket,
                                                      std::make_unique<WebSocketContext>(*pending),
                                                      m_monitor, limits.maxPendingWriteBytes);
        startWebSocket(std::move(d));
    }
}

void Worker::onWebSocketClosed(quint64 id)
{
    if (m_webSockets.remove(id))
        closed(id);
}

void Worker::closeAll()
{
    for (HttpConnection *connection : QSet<HttpConnection *>(m_connections))
        connection->closeWhenIdle();
    for (WebSocket *socket : QHash<quint64, WebSocket *>(m_webSockets))
        socket->close(1001, QStringLiteral("server shutting down"));
    // A handshake still in Qt's hands would open a WebSocket nobody closes.
    for (const auto &pending : QHash<PeerKey, std::shared_ptr<WebSocketContext>>(m_pending)) {
        if (pending->tcpSocket)
            resetConnection(pending->tcpSocket);
    }
}

HttpConnection *Worker::httpConnection(quint64 id) const
{
    for (HttpConnection *connection : m_connections) {
        if (connection->id() == id)
            return connection;
    }
    return nullptr;
}

void Worker::abortAll()
{
    for (HttpConnection *connection : QSet<HttpConnection *>(m_connections))
        connection->abort();
    for (WebSocket *socket : QHash<quint64, WebSocket *>(m_webSockets))
        WebSocketPrivate::get(socket)->cut();
    if (m_engine)
        m_engine->abortLingering();
    for (const auto &pending : QHash<PeerKey, std::shared_ptr<WebSocketContext>>(m_pending)) {
        if (pending->tcpSocket)
            resetConnection(pending->tcpSocket);
    }
}

} // namespace sluice
