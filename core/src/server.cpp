#include <sluice/monitor.h>
#include <sluice/server.h>
#include <sluice/websocket.h>

#include "httpconnection_p.h"
#include "logging_p.h"
#include "worker_p.h"

#include <QtCore/QTimer>
#include <QtNetwork/QTcpServer>

namespace sluice {

struct Server::Listener
{
    QTcpServer tcpServer;
};

Server::Server(QObject *parent)
    : QObject(parent)
    , m_router(new Router(this))
    , m_monitor(new Monitor(this))
{
    m_monitor->setPayloadCap(m_limits.monitorPayloadBytes);
    m_worker = std::make_unique<Worker>(this);
    connect(m_worker.get(), &Worker::connectionOpened, this, &Server::connectionOpened);
    connect(m_worker.get(), &Worker::connectionClosed, this, &Server::connectionClosed);
}

Server::~Server()
{
    m_listeners.clear();
    m_worker.reset();
}

bool Server::setHome(const QString &home)
{
    return setHome(StaticFiles(home));
}

bool Server::setHome(const StaticFiles &files)
{
    if (!files.isValid()) {
        m_errorString = tr("%1 is not a readable directory").arg(files.home());
        return false;
    }
    m_router->setFallback(files, QStringLiteral("static %1").arg(files.home()));
    return true;
}

void Server::setLimits(const Limits &limits)
{
    m_limits = limits;
    m_monitor->setPayloadCap(limits.monitorPayloadBytes);
}

bool Server::listen(const QHostAddress &address, quint16 port)
{
    auto listener = std::make_unique<Listener>();
    if (!listener->tcpServer.listen(address, port)) {
        m_errorString = tr("cannot listen on %1 port %2: %3")
                                .arg(address.toString())
                                .arg(port)
                                .arg(listener->tcpServer.errorString());
        qCWarning(lcServer).noquote() << m_errorString;
        return false;
    }
    QTcpServer *tcpServer = &listener->tcpServer;
    connect(tcpServer, &QTcpServer::newConnection, this, [this, tcpServer] {
        while (QTcpSocket *socket = tcpServer->nextPendingConnection())
            m_worker->accept(socket);
    });
    qCInfo(lcServer).noquote() << "listening on" << tcpServer->serverAddress().toString() << "port"
                               << tcpServer->serverPort();
    m_listeners.push_back(std::move(listener));
    return true;
}

bool Server::isListening() const
{
    return !m_listeners.empty();
}

quint16 Server::serverPort() const
{
    return m_listeners.empty() ? 0 : m_listeners.front()->tcpServer.serverPort();
}

QList<QUrl> Server::urls() const
{
    QList<QUrl> urls;
    for (const auto &listener : m_listeners) {
        QUrl url;
        url.setScheme(QStringLiteral("http"));
        QHostAddress address = listener->tcpServer.serverAddress();
        if (address == QHostAddress::Any || address == QHostAddress::AnyIPv4)
            address = QHostAddress::LocalHost;
        else if (address == QHostAddress::AnyIPv6)
            address = QHostAddress::LocalHostIPv6;
        url.setHost(address.toString());
        url.setPort(listener->tcpServer.serverPort());
        url.setPath(QStringLiteral("/"));
        urls.append(url);
    }
    return urls;
}

void Server::close()
{
    m_listeners.clear();
    m_worker->closeAll();
}

void Server::shutdown(int graceMs)
{
    if (m_shuttingDown)
        return;
    m_shuttingDown = true;
    qCInfo(lcServer) << "shutting down with" << connectionCount() << "connections open";
    close();

    // The timer is also the context of the connections below: deleting it
    // ends them.
    auto *graceTimer = new QTimer(this);
    graceTimer->setSingleShot(true);
    const auto finish = [this, graceTimer] {
        if (graceTimer->property("finished").toBool())
            return;
        graceTimer->setProperty("finished", true);
        graceTimer->stop();
        graceTimer->deleteLater();
        Q_EMIT shutdownFinished();
    };
    connect(m_worker.get(), &Worker::connectionClosed, graceTimer, [this, finish] {
        if (connectionCount() == 0)
            finish();
    });
    connect(graceTimer, &QTimer::timeout, this, [this, finish] {
        if (const int open = connectionCount()) {
            qCWarning(lcServer) << "grace period over: cutting" << open << "connections";
            m_worker->abortAll();
        }
        finish();
    });
    graceTimer->start(qMax(0, graceMs));
    // Nothing open: finish from the event loop, so that callers connect first.
    if (connectionCount() == 0)
        QMetaObject::invokeMethod(graceTimer, finish, Qt::QueuedConnection);
}

void Server::closeConnection(quint64 id, int code, const QString &reason)
{
    QMetaObject::invokeMethod(m_worker.get(), [worker = m_worker.get(), id, code, reason] {
        if (WebSocket *socket = worker->webSocket(id))
            socket->close(code, reason);
        else if (HttpConnection *connection = worker->httpConnection(id))
            connection->closeWhenIdle();
    });
}

void Server::sendText(quint64 id, const QString &message)
{
    QMetaObject::invokeMethod(m_worker.get(), [worker = m_worker.get(), id, message] {
        if (WebSocket *socket = worker->webSocket(id))
            socket->sendText(message);
    });
}

void Server::sendBinary(quint64 id, const QByteArray &message)
{
    QMetaObject::invokeMethod(m_worker.get(), [worker = m_worker.get(), id, message] {
        if (WebSocket *socket = worker->webSocket(id))
            socket->sendBinary(message);
    });
}

void Server::ping(quint64 id, const QByteArray &payload)
{
    QMetaObject::invokeMethod(m_worker.get(), [worker = m_worker.get(), id, payload] {
        if (WebSocket *socket = worker->webSocket(id))
            socket->ping(payload);
    });
}

int Server::connectionCount() const
{
    return m_worker->connectionCount();
}

} // namespace sluice
