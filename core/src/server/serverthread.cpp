#include <sluice/server.h>
#include <sluice/serverthread.h>

#include <QtCore/QMutexLocker>
#include <QtCore/QThread>

namespace sluice {

ServerThread::ServerThread(QObject *parent)
    : QObject(parent)
    , m_thread(new QThread)
{
    m_thread->setObjectName(QStringLiteral("sluice-server"));
    m_thread->start();
    // The Server, its worker and its sockets must be born on the thread that
    // runs their event loop: the worker is not a QObject child of the
    // server, so moveToThread() could not take it along.
    auto *creator = new QObject;
    creator->moveToThread(m_thread);
    QMetaObject::invokeMethod(
            creator, [this] { m_server = new Server; }, Qt::BlockingQueuedConnection);
    delete creator;
}

ServerThread::~ServerThread()
{
    Server *server = m_server;
    QMetaObject::invokeMethod(
            server,
            [server] {
                server->close();
                delete server;
            },
            Qt::BlockingQueuedConnection);
    m_server = nullptr;
    m_thread->quit();
    m_thread->wait();
    delete m_thread;
}

void ServerThread::run(const std::function<void(Server &)> &function)
{
    if (QThread::currentThread() == m_thread) {
        function(*m_server);
        return;
    }
    Server *server = m_server;
    QMetaObject::invokeMethod(
            server, [server, &function] { function(*server); }, Qt::BlockingQueuedConnection);
}

void ServerThread::post(std::function<void(Server &)> function)
{
    Server *server = m_server;
    QMetaObject::invokeMethod(
            server, [server, function = std::move(function)] { function(*server); },
            Qt::QueuedConnection);
}

bool ServerThread::listen(const QHostAddress &address, quint16 port)
{
    return listenOn({address, port, false, QSslConfiguration()});
}

bool ServerThread::listenSecure(const QHostAddress &address, quint16 port,
                                const QSslConfiguration &configuration)
{
    return listenOn({address, port, true, configuration});
}

bool ServerThread::listenOn(const Address &address)
{
    QString error;
    quint16 bound = 0;
    const bool ok = call([&](Server &server) {
        const int before = server.urls().size();
        const bool listening
                = !address.secure ? server.listen(address.address, address.port)
                                  : server.listenSecure(address.address, address.port, address.tls);
        if (!listening) {
            error = server.errorString();
            return false;
        }
        const QList<QUrl> urls = server.urls();
        bound = urls.size() > before ? quint16(urls.last().port()) : address.port;
        return true;
    });
    {
        QMutexLocker locker(&m_mutex);
        if (ok)
            m_addresses.append({address.address, bound, address.secure, address.tls});
        else
            m_errorString = error;
    }
    refreshUrls();
    return ok;
}

void ServerThread::stop()
{
    call([](Server &server) { server.close(); });
    refreshUrls();
}

bool ServerThread::start()
{
    QList<Address> addresses;
    {
        QMutexLocker locker(&m_mutex);
        addresses = m_addresses;
    }
    QString error;
    const bool ok = call([&](Server &server) {
        if (server.isListening())
            return true;
        bool all = true;
        for (const Address &address : std::as_const(addresses)) {
            const bool listening = !address.secure ? server.listen(address.address, address.port)
                                                   : server.listenSecure(address.address,
                                                                         address.port, address.tls);
            if (!listening) {
                error = server.errorString();
                all = false;
            }
        }
        return all;
    });
    if (!ok) {
        QMutexLocker locker(&m_mutex);
        m_errorString = error;
    }
    refreshUrls();
    return ok;
}

bool ServerThread::isListening() const
{
    QMutexLocker locker(&m_mutex);
    return !m_urls.isEmpty();
}

QList<QUrl> ServerThread::urls() const
{
    QMutexLocker locker(&m_mutex);
    return m_urls;
}

QString ServerThread::errorString() const
{
    QMutexLocker locker(&m_mutex);
    return m_errorString;
}

void ServerThread::refreshUrls()
{
    const QList<QUrl> urls = call([](Server &server) { return server.urls(); });
    {
        QMutexLocker locker(&m_mutex);
        m_urls = urls;
    }
    Q_EMIT listeningChanged(!urls.isEmpty());
}

} // namespace sluice
