#include <sluice/monitor.h>
#include <sluice/server.h>
#include <sluice/websocket.h>

#include "admission_p.h"
#include "global/logging_p.h"
#include "http/httpconnection_p.h"
#include "worker_p.h"

#include <sluice/tlsconfiguration.h>

#include <QtCore/QElapsedTimer>
#include <QtCore/QHash>
#include <QtCore/QThread>
#include <QtCore/QTimer>
#include <QtNetwork/QSslServer>
#include <QtNetwork/QSslSocket>
#include <QtNetwork/QTcpServer>

#include <limits>

namespace sluice {

namespace {

// QSslServer, and a log line for every client that does not get through the
// TLS handshake. QSslServer owns a socket until its handshake is done and
// drops it quietly when the first byte is not a ClientHello, so each socket
// is tracked from incomingConnection() to nextPendingConnection().
class TlsServer : public QSslServer
{
public:
    explicit TlsServer(QObject *parent = nullptr);
    ~TlsServer() override;

    void setTimeout(int timeoutMs);
    QTcpSocket *nextPendingConnection() override;

protected:
    void incomingConnection(qintptr handle) override;

private:
    struct Handshake
    {
        QHostAddress address;
        quint16 port = 0;
        QElapsedTimer since;
    };
    void failed(QSslSocket *socket, const QString &why);

    int m_timeoutMs = 0;
    QHash<QSslSocket *, Handshake> m_handshakes;
};

TlsServer::TlsServer(QObject *parent)
    : QSslServer(parent)
{
    connect(this, &QSslServer::errorOccurred, this,
            [this](QSslSocket *socket, QAbstractSocket::SocketError error) {
                switch (error) {
                case QAbstractSocket::SocketTimeoutError:
                    failed(socket,
                           QStringLiteral("no TLS handshake within %1 ms").arg(m_timeoutMs));
                    break;
                case QAbstractSocket::RemoteHostClosedError:
                    failed(socket, QStringLiteral("closed by the client during the TLS handshake"));
                    break;
                default:
                    failed(socket,
                           QStringLiteral("TLS handshake failed: %1").arg(socket->errorString()));
                    break;
                }
            });
}

TlsServer::~TlsServer()
{
    // Sockets still in their handshake are deleted by ~QObject, after the
    // members here: none of their signals may reach failed() by then.
    for (QObject *child : children())
        child->disconnect(this);
}

void TlsServer::setTimeout(int timeoutMs)
{
    m_timeoutMs = timeoutMs;
    // QSslServer has no "none": a timer that never fires in practice.
    setHandshakeTimeout(timeoutMs > 0 ? timeoutMs : std::numeric_limits<int>::max());
}

void TlsServer::incomingConnection(qintptr handle)
{
    QSslServer::incomingConnection(handle);
    // QSslServer gives no access to the socket it made but as its newest child.
    const QObjectList &children = this->children();
    auto *socket = children.isEmpty() ? nullptr : qobject_cast<QSslSocket *>(children.constLast());
    if (!socket || socket->socketDescriptor() != handle)
        return;
    Handshake &handshake = m_handshakes[socket];
    handshake.address = socket->peerAddress();
    handshake.port = socket->peerPort();
    handshake.since.start();
    // Runs after QSslServer's own check of the first byte: a socket it has
    // not started encrypting by then, it has refused.
    connect(socket, &QSslSocket::readyRead, this, [this, socket] {
        if (socket->mode() != QSslSocket::UnencryptedMode) {
            disconnect(socket, &QSslSocket::readyRead, this, nullptr);
        } else if (socket->state() != QAbstractSocket::ConnectedState) {
            failed(socket,
                   QStringLiteral("not a TLS handshake (plain HTTP on a TLS port?): closed"));
        }
    });
    // Only the pointer is used: this runs inside the socket's destructor.
    connect(socket, &QObject::destroyed, this,
            [this, socket] { failed(socket, QStringLiteral("closed before the TLS handshake")); });
}

QTcpSocket *TlsServer::nextPendingConnection()
{
    QTcpSocket *socket = QSslServer::nextPendingConnection();
    if (socket) {
        m_handshakes.remove(static_cast<QSslSocket *>(socket));
        socket->disconnect(this);
    }
    return socket;
}

void TlsServer::failed(QSslSocket *socket, const QString &why)
{
    const auto it = m_handshakes.constFind(socket);
    if (it == m_handshakes.constEnd())
        return;
    qCInfo(lcServer).noquote() << QStringLiteral(
                                          "TLS client %1 port %2 on port %3: %4 (after %5 ms)")
                                          .arg(it->address.toString())
                                          .arg(it->port)
                                          .arg(serverPort())
                                          .arg(why)
                                          .arg(it->since.elapsed());
    m_handshakes.erase(it);
}

} // namespace

struct Server::Listener
{
    std::unique_ptr<QTcpServer> tcpServer;
    TlsServer *tlsServer = nullptr; // tcpServer, when it is one
};

namespace {
// SLUICE_WEBSOCKET_ENGINE=qt picks QtWebSockets' engine for every server of
// a process that does not choose one itself.
Server::WebSocketEngine defaultWebSocketEngine()
{
    const QByteArray name = qgetenv("SLUICE_WEBSOCKET_ENGINE").trimmed().toLower();
    if (name == "qt")
        return Server::WebSocketEngine::Qt;
    if (!name.isEmpty() && name != "sluice") {
        qCWarning(lcServer).noquote() << "SLUICE_WEBSOCKET_ENGINE" << name
                                      << "is neither \"sluice\" nor \"qt\": using Sluice's engine";
    }
    return Server::WebSocketEngine::Sluice;
}
} // namespace

Server::Server(QObject *parent)
    : QObject(parent)
    , m_router(new Router(this))
    , m_monitor(new Monitor(this))
    , m_admission(std::make_unique<Admission>())
    , m_webSocketEngine(defaultWebSocketEngine())
{
    m_monitor->setPayloadCap(m_limits.monitorPayloadBytes);
    startWorkers(QThread::idealThreadCount());
}

Server::~Server()
{
    m_listeners.clear();
    stopWorkers();
}

template<typename Function>
void Server::forEachWorker(Function function)
{
    for (Worker *worker : m_workers) {
        if (worker->thread() == QThread::currentThread())
            function(*worker);
        else
            QMetaObject::invokeMethod(worker, [worker, function] { function(*worker); });
    }
}

void Server::startWorkers(int count)
{
    count = qMax(1, count);
    for (int index = 0; index < count; ++index) {
        auto *worker = new Worker(this, m_admission.get(), index, count);
        connect(worker, &Worker::connectionOpened, this, &Server::connectionOpened);
        connect(worker, &Worker::connectionClosed, this, &Server::connectionClosed);
        if (index == 0) {
            // A child, so that it follows the server if it moves to another thread.
            worker->setParent(this);
        } else {
            auto *thread = new QThread;
            thread->setObjectName(QStringLiteral("sluice worker %1").arg(index));
            worker->moveToThread(thread);
            thread->start();
            m_threads.push_back(thread);
        }
        m_workers.push_back(worker);
    }
}

void Server::stopWorkers()
{
    for (Worker *worker : m_workers) {
        // Each worker's connections are deleted on their own thread.
        if (worker->thread() == QThread::currentThread())
            delete worker;
        else
            QMetaObject::invokeMethod(
                    worker, [worker] { delete worker; }, Qt::BlockingQueuedConnection);
    }
    m_workers.clear();
    for (QThread *thread : m_threads) {
        thread->quit();
        thread->wait();
        delete thread;
    }
    m_threads.clear();
}

bool Server::setWorkerCount(int count)
{
    if (count <= 0)
        count = QThread::idealThreadCount();
    if (count == workerCount())
        return true;
    if (isListening() || connectionCount() > 0) {
        m_errorString = tr("the worker count can only change while nothing is open");
        return false;
    }
    stopWorkers();
    startWorkers(count);
    return true;
}

Worker *Server::leastBusyWorker()
{
    // The fewest open connections wins, ties in turn: round robin alone
    // would let long-lived WebSockets pile up on one worker.
    const int count = workerCount();
    Worker *best = nullptr;
    for (int k = 0; k < count; ++k) {
        Worker *worker = m_workers[size_t((m_nextWorker + k) % count)];
        if (!best || worker->openCount() < best->openCount())
            best = worker;
    }
    m_nextWorker = (m_nextWorker + 1) % count;
    return best;
}

Worker *Server::workerFor(quint64 id) const
{
    if (id == 0)
        return nullptr;
    return m_workers[size_t((id - 1) % quint64(m_workers.size()))];
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
    forEachWorker([limits](Worker &worker) { worker.setLimits(limits); });
    for (const auto &listener : m_listeners) {
        listener->tcpServer->setMaxPendingConnections(qMax(1, limits.maxConnections));
        if (listener->tlsServer)
            listener->tlsServer->setTimeout(limits.handshakeTimeoutMs);
    }
}

void Server::setWebSocketEngine(WebSocketEngine engine)
{
    m_webSocketEngine = engine;
    forEachWorker([engine](Worker &worker) { worker.setWebSocketEngine(engine); });
}

void Server::setServerName(const QByteArray &name)
{
    m_serverName = name;
    forEachWorker([name](Worker &worker) { worker.setServerName(name); });
}

bool Server::listen(const QHostAddress &address, quint16 port)
{
    auto listener = std::make_unique<Listener>();
    listener->tcpServer = std::make_unique<QTcpServer>();
    return addListener(std::move(listener), address, port);
}

bool Server::listenSecure(const QHostAddress &address, quint16 port,
                          const QSslConfiguration &configuration)
{
    QString why;
    if (TlsConfiguration::isAvailable(&why)) {
        if (configuration.localCertificate().isNull())
            why = tr("no certificate in the TLS configuration");
        else if (configuration.privateKey().isNull())
            why = tr("no private key in the TLS configuration");
    }
    if (!why.isEmpty()) {
        m_errorString = tr("cannot listen on %1 port %2 with TLS: %3")
                                .arg(address.toString())
                                .arg(port)
                                .arg(why);
        qCWarning(lcServer).noquote() << m_errorString;
        return false;
    }
    auto listener = std::make_unique<Listener>();
    auto *tlsServer = new TlsServer;
    listener->tcpServer.reset(tlsServer);
    listener->tlsServer = tlsServer;
    tlsServer->setSslConfiguration(configuration);
    tlsServer->setTimeout(m_limits.handshakeTimeoutMs);
    return addListener(std::move(listener), address, port);
}

bool Server::addListener(std::unique_ptr<Listener> listener, const QHostAddress &address,
                         quint16 port)
{
    QTcpServer *tcpServer = listener->tcpServer.get();
    // Connections leave the pending queue at once; with TLS, QSslServer
    // counts those still in their handshake too, so this bounds them.
    tcpServer->setMaxPendingConnections(qMax(1, m_limits.maxConnections));
    if (!tcpServer->listen(address, port)) {
        m_errorString = tr("cannot listen on %1 port %2: %3")
                                .arg(address.toString())
                                .arg(port)
                                .arg(tcpServer->errorString());
        qCWarning(lcServer).noquote() << m_errorString;
        return false;
    }
    const auto acceptAll = [this, tcpServer] {
        while (QTcpSocket *socket = tcpServer->nextPendingConnection()) {
            Worker *worker = leastBusyWorker();
            // Counted now, so that the next choice sees it.
            worker->reserve();
            if (worker->thread() == QThread::currentThread()) {
                worker->accept(socket);
                continue;
            }
            socket->setParent(nullptr);
            socket->moveToThread(worker->thread());
            QMetaObject::invokeMethod(worker, [worker, socket] { worker->accept(socket); });
        }
    };
    // Qt 6.4's QSslServer emits newConnection() as the handshake starts, and
    // pendingConnectionAvailable() once it is done: from deep inside the
    // socket's read notification, which would touch the socket again on
    // this thread after it moved to a worker's. Queued, it runs after.
    if (listener->tlsServer)
        connect(tcpServer, &QTcpServer::pendingConnectionAvailable, this, acceptAll,
                Qt::QueuedConnection);
    else
        connect(tcpServer, &QTcpServer::newConnection, this, acceptAll);
    qCInfo(lcServer).noquote() << QStringLiteral("listening on %1 port %2%3")
                                          .arg(tcpServer->serverAddress().toString())
                                          .arg(tcpServer->serverPort())
                                          .arg(listener->tlsServer ? QStringLiteral(" (TLS)")
                                                                   : QString());
    m_listeners.push_back(std::move(listener));
    return true;
}

bool Server::isListening() const
{
    return !m_listeners.empty();
}

quint16 Server::serverPort() const
{
    return m_listeners.empty() ? 0 : m_listeners.front()->tcpServer->serverPort();
}

QList<QUrl> Server::urls() const
{
    QList<QUrl> urls;
    for (const auto &listener : m_listeners) {
        QUrl url;
        url.setScheme(listener->tlsServer ? QStringLiteral("https") : QStringLiteral("http"));
        QHostAddress address = listener->tcpServer->serverAddress();
        if (address == QHostAddress::Any || address == QHostAddress::AnyIPv4)
            address = QHostAddress::LocalHost;
        else if (address == QHostAddress::AnyIPv6)
            address = QHostAddress::LocalHostIPv6;
        url.setHost(address.toString());
        url.setPort(listener->tcpServer->serverPort());
        url.setPath(QStringLiteral("/"));
        urls.append(url);
    }
    return urls;
}

void Server::close()
{
    m_listeners.clear();
    forEachWorker([](Worker &worker) { worker.closeAll(); });
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
    for (Worker *worker : m_workers) {
        connect(worker, &Worker::connectionClosed, graceTimer, [this, finish] {
            if (connectionCount() == 0)
                finish();
        });
    }
    connect(graceTimer, &QTimer::timeout, this, [this, finish] {
        if (const int open = connectionCount()) {
            qCWarning(lcServer) << "grace period over: cutting" << open << "connections";
            forEachWorker([](Worker &worker) { worker.abortAll(); });
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
    Worker *worker = workerFor(id);
    if (!worker)
        return;
    QMetaObject::invokeMethod(worker, [worker, id, code, reason] {
        if (WebSocket *socket = worker->webSocket(id))
            socket->close(code, reason);
        else if (HttpConnection *connection = worker->httpConnection(id))
            connection->closeWhenIdle();
    });
}

void Server::sendText(quint64 id, const QString &message)
{
    Worker *worker = workerFor(id);
    if (!worker)
        return;
    QMetaObject::invokeMethod(worker, [worker, id, message] {
        if (WebSocket *socket = worker->webSocket(id))
            socket->sendText(message);
    });
}

void Server::sendBinary(quint64 id, const QByteArray &message)
{
    Worker *worker = workerFor(id);
    if (!worker)
        return;
    QMetaObject::invokeMethod(worker, [worker, id, message] {
        if (WebSocket *socket = worker->webSocket(id))
            socket->sendBinary(message);
    });
}

void Server::ping(quint64 id, const QByteArray &payload)
{
    Worker *worker = workerFor(id);
    if (!worker)
        return;
    QMetaObject::invokeMethod(worker, [worker, id, payload] {
        if (WebSocket *socket = worker->webSocket(id))
            socket->ping(payload);
    });
}

int Server::connectionCount() const
{
    int count = 0;
    for (const Worker *worker : m_workers)
        count += worker->openCount();
    return count;
}

} // namespace sluice
