#include "httpconnection_p.h"
#include "httpdate_p.h"
#include "logging_p.h"
#include "websocket_p.h"
#include "worker_p.h"

#include <sluice/monitor.h>
#include <sluice/server.h>
#include <sluice/websocket.h>

#include <QtCore/QDateTime>
#include <QtWebSockets/QWebSocket>
#include <QtWebSockets/QWebSocketServer>

namespace sluice {

Worker::Worker(Server *server)
    : m_server(server)
    , m_router(server->router())
    , m_monitor(server->monitor())
    , m_dispatcher(server->router())
{ }

Worker::~Worker()
{
    // WebSockets emit closed() as they go; nobody should hear it from a dying worker.
    for (WebSocket *socket : std::as_const(m_webSockets))
        socket->disconnect(this);
    // Handshakes still in Qt's hands have no parent to delete them.
    for (const auto &pending : std::as_const(m_pending)) {
        if (pending->tcpSocket) {
            pending->tcpSocket->disconnect(this);
            delete pending->tcpSocket.data();
        }
    }
}

QByteArray Worker::serverName() const
{
    return m_server->serverName();
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
    const quint64 id = m_nextId++;
    auto *connection = new HttpConnection(socket, this, id, m_server->limits());
    m_connections.insert(connection);
    Q_EMIT connectionOpened(id);
}

void Worker::removeConnection(HttpConnection *connection, bool handedOff)
{
    // A handed-off connection lives on as a pending upgrade, then a WebSocket.
    if (m_connections.remove(connection) && !handedOff)
        Q_EMIT connectionClosed(connection->id());
}

QWebSocketServer *Worker::webSocketServer(const QStringList &subprotocols)
{
    auto it = m_webSocketServers.find(subprotocols);
    if (it != m_webSocketServers.end())
        return it->second;
    auto *server = new QWebSocketServer(QString::fromLatin1(m_server->serverName()),
                                        QWebSocketServer::NonSecureMode, this);
    server->setSupportedSubprotocols(subprotocols);
    connect(server, &QWebSocketServer::newConnection, this,
            [this, server] { onWebSocketReady(server); });
    m_webSocketServers.emplace(subprotocols, server);
    return server;
}

void Worker::handOff(QTcpSocket *socket, std::unique_ptr<WebSocketContext> context)
{
    const PeerKey key {socket->peerAddress(), socket->peerPort(), socket->localPort()};
    const quint64 id = context->id;
    context->tcpSocket = socket;
    QWebSocketServer *server = webSocketServer(context->route.subprotocols());
    m_pending.insert(key, std::shared_ptr<WebSocketContext>(std::move(context)));
    // A handshake Qt refuses ends with the socket closed and no newConnection.
    const auto forget = [this, key, id] {
        auto it = m_pending.find(key);
        if (it != m_pending.end() && it.value()->id == id) {
            const qint64 openedUs = it.value()->openedUs;
            m_pending.erase(it);
            // A handshake Qt refused still ends a connection the monitor saw open.
            if (m_monitor->isActive()) {
                MonitorEvent closed;
                closed.type = MonitorEvent::Type::ConnectionClosed;
                closed.connectionId = id;
                closed.timeUs = MonitorEvent::now();
                closed.durationUs = closed.timeUs - openedUs;
                m_monitor->post(std::move(closed));
            }
            Q_EMIT connectionClosed(id);
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
        if (!pending) {
            qCWarning(lcWebSocket) << "a WebSocket nobody handed off:" << key.address << key.port;
            qsocket->abort();
            qsocket->deleteLater();
            continue;
        }
        qsocket->setMaxAllowedIncomingMessageSize(
                quint64(m_server->limits().maxWebSocketMessageBytes));
        const quint64 id = pending->id;
        auto *socket = new WebSocket(qsocket, std::make_unique<WebSocketContext>(*pending),
                                     m_monitor, this);
        m_webSockets.insert(id, socket);
        connect(socket, &WebSocket::closed, this, [this, id] { onWebSocketClosed(id); });

        const WebSocketHandler handler = pending->route.webSocketHandler();
        QPointer<WebSocket> guard(socket);
        try {
            if (handler)
                handler(socket);
        } catch (const std::exception &e) {
            qCWarning(lcWebSocket)
                    << "handler threw for" << pending->request.target() << ':' << e.what();
            if (guard)
                guard->close(1011, QStringLiteral("handler failed"));
        } catch (...) {
            qCWarning(lcWebSocket) << "handler threw for" << pending->request.target();
            if (guard)
                guard->close(1011, QStringLiteral("handler failed"));
        }
    }
}

void Worker::onWebSocketClosed(quint64 id)
{
    if (m_webSockets.remove(id))
        Q_EMIT connectionClosed(id);
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
            pending->tcpSocket->abort();
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
        socket->socket()->abort();
    for (const auto &pending : QHash<PeerKey, std::shared_ptr<WebSocketContext>>(m_pending)) {
        if (pending->tcpSocket)
            pending->tcpSocket->abort();
    }
}

} // namespace sluice
