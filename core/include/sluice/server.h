#ifndef SLUICE_SERVER_H
#define SLUICE_SERVER_H

#include <sluice/limits.h>
#include <sluice/router.h>
#include <sluice/staticfiles.h>

#include <QtCore/QObject>
#include <QtCore/QUrl>
#include <QtNetwork/QHostAddress>
#include <QtNetwork/QSslConfiguration>

#include <memory>
#include <vector>

QT_BEGIN_NAMESPACE
class QThread;
QT_END_NAMESPACE

namespace sluice {

class Admission;
class Monitor;
class Worker;

// An HTTP/1.1 and WebSocket server on one or more addresses, each port
// serving both. The URI mapping lives in router(); map(), filter() and
// mapError() here are Stream-style shortcuts to it.
//
// Connections are served by workerCount() event loops: the server's own
// thread and workerCount() - 1 threads of its own. Each accepted connection
// goes to the worker with the fewest open, and stays there: its handlers,
// filters and WebSocket slots run on that worker's thread, so a handler
// that shares state with others must guard it (or the server is given one
// worker). The caps of limits() hold for the server as a whole.
class SLUICE_CORE_EXPORT Server : public QObject
{
    Q_OBJECT
public:
    explicit Server(QObject *parent = nullptr);
    ~Server() override;

    Router *router() const { return m_router; }
    Monitor *monitor() const { return m_monitor; }

    template<typename... Args>
    bool map(const QString &uri, Args &&...args)
    {
        return m_router->map(uri, std::forward<Args>(args)...);
    }
    bool unmap(const QString &uri) { return m_router->unmap(uri); }
    bool filter(const QString &pattern, Filter filter, bool preceding = false)
    {
        return m_router->filter(pattern, std::move(filter), preceding);
    }
    bool unfilter(const QString &pattern) { return m_router->unfilter(pattern); }
    template<typename Target>
    void mapError(int status, Target &&target)
    {
        m_router->mapError(status, std::forward<Target>(target));
    }

    // Serves the files under home when no route matches (Stream's resource
    // loader): ":/site" for compiled-in resources, or a folder. False, with
    // errorString(), when home is not a readable directory.
    bool setHome(const QString &home);
    bool setHome(const StaticFiles &files);

    // What parses and writes the frames of the server's WebSockets.
    enum class WebSocketEngine {
        // Sluice's own (the default): RFC 6455 throughout (UTF-8 checked as
        // it arrives, fragments of any split), permessage-deflate, and a few
        // hundred bytes per idle connection.
        Sluice,
        // QtWebSockets': QWebSocketServer::handleConnection() makes a
        // QWebSocket per connection, reachable through WebSocket::socket().
        // No permessage-deflate.
        Qt,
    };
    Q_ENUM(WebSocketEngine)
    WebSocketEngine webSocketEngine() const { return m_webSocketEngine; }
    // Applies to upgrades from now on. The default is Sluice's engine, or
    // the one the environment variable SLUICE_WEBSOCKET_ENGINE names
    // ("sluice" or "qt").
    void setWebSocketEngine(WebSocketEngine engine);

    Limits limits() const { return m_limits; }
    // Applies to connections accepted from now on.
    void setLimits(const Limits &limits);
    QByteArray serverName() const { return m_serverName; }
    void setServerName(const QByteArray &name);

    // The number of threads serving connections, this one included;
    // QThread::idealThreadCount() unless set.
    int workerCount() const { return int(m_workers.size()); }
    // 0 means QThread::idealThreadCount(). Only while nothing is open
    // (before listen(), or after close() once connectionCount() is 0):
    // false otherwise, with errorString().
    bool setWorkerCount(int count);

    // Adds a listening address; call again for more. Port 0 picks a free port.
    bool listen(const QHostAddress &address = QHostAddress::Any, quint16 port = 0);
    // Adds a TLS listening address: https and wss on one port, as listen()
    // serves http and ws. The configuration needs a local certificate and a
    // private key (TlsConfiguration::sslConfiguration() makes one from PEM
    // files). Limits::handshakeTimeoutMs bounds the TLS handshake; a client
    // that fails it is logged (sluice.server) and dropped. False, with
    // errorString(), when Qt has no TLS backend, the configuration has no
    // certificate or key, or the address cannot be bound.
    bool listenSecure(const QHostAddress &address, quint16 port,
                      const QSslConfiguration &configuration);
    bool isListening() const;
    // The port of the first listener.
    quint16 serverPort() const;
    // One per listener, in the order they were added: http://, or https://
    // for TLS ones; a wildcard address is shown as the loopback one.
    QList<QUrl> urls() const;
    // Stops listening and closes every connection: idle ones now, busy ones
    // once their response is out, WebSockets with 1001 (Going Away).
    void close();
    // close(), then waits: what is still open after grace (a response in
    // flight, a client that never answers the close frame) is cut.
    // shutdownFinished() follows once no connection is left, at the latest
    // right after grace.
    void shutdown(int graceMs = 10000);
    bool isShuttingDown() const { return m_shuttingDown; }

    int connectionCount() const;
    QString errorString() const { return m_errorString; }

    // Acting on one live connection by its id (MonitorEvent::connectionId),
    // from any thread: the work is queued to the connection's thread, and a
    // connection that is gone by then is left alone. A WebSocket is closed
    // with code and reason; an HTTP connection closes once its response in
    // flight (if any) is sent.
    void closeConnection(quint64 id, int code = 1000, const QString &reason = QString());
    void sendText(quint64 id, const QString &message);
    void sendBinary(quint64 id, const QByteArray &message);
    void ping(quint64 id, const QByteArray &payload = QByteArray());

Q_SIGNALS:
    void connectionOpened(quint64 id);
    void connectionClosed(quint64 id);
    void shutdownFinished();

private:
    Worker *workerFor(quint64 id) const;
    Worker *leastBusyWorker();
    void startWorkers(int count);
    void stopWorkers();
    // Runs function(worker) on each worker's thread: at once for the one on
    // this thread, queued for the others.
    template<typename Function>
    void forEachWorker(Function function);

    Router *m_router;
    Monitor *m_monitor;
    std::unique_ptr<Admission> m_admission;
    std::vector<Worker *> m_workers; // [0] lives on the server's thread
    std::vector<QThread *> m_threads; // those of m_workers[1...]
    int m_nextWorker = 0;
    struct Listener;
    bool addListener(std::unique_ptr<Listener> listener, const QHostAddress &address, quint16 port);
    std::vector<std::unique_ptr<Listener>> m_listeners;
    Limits m_limits;
    WebSocketEngine m_webSocketEngine;
    QByteArray m_serverName = QByteArrayLiteral("Sluice/" SLUICE_VERSION_STR);
    QString m_errorString;
    bool m_shuttingDown = false;
};

} // namespace sluice

#endif // SLUICE_SERVER_H
