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

namespace sluice {

class Monitor;
class Worker;

// An HTTP/1.1 and WebSocket server on one or more addresses, each port
// serving both. The URI mapping lives in router(); map(), filter() and
// mapError() here are Stream-style shortcuts to it.
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

    Limits limits() const { return m_limits; }
    // Applies to connections accepted from now on.
    void setLimits(const Limits &limits);
    QByteArray serverName() const { return m_serverName; }
    void setServerName(const QByteArray &name) { m_serverName = name; }

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
    friend class Worker;
    Router *m_router;
    Monitor *m_monitor;
    std::unique_ptr<Worker> m_worker;
    struct Listener;
    bool addListener(std::unique_ptr<Listener> listener, const QHostAddress &address, quint16 port);
    std::vector<std::unique_ptr<Listener>> m_listeners;
    Limits m_limits;
    QByteArray m_serverName = QByteArrayLiteral("Sluice/" SLUICE_VERSION_STR);
    QString m_errorString;
    bool m_shuttingDown = false;
};

} // namespace sluice

#endif // SLUICE_SERVER_H
