#ifndef SLUICE_WORKER_P_H
#define SLUICE_WORKER_P_H

#include "global/clock_p.h"
#include "routing/dispatcher_p.h"

#include <sluice/limits.h>
#include <sluice/server.h>

#include <QtCore/QHash>
#include <QtCore/QObject>
#include <QtCore/QSet>
#include <QtCore/QTimer>
#include <QtNetwork/QHostAddress>

#include <atomic>
#include <map>
#include <memory>

QT_BEGIN_NAMESPACE
class QTcpSocket;
class QWebSocketServer;
QT_END_NAMESPACE

namespace sluice {

class Admission;
class HttpConnection;
class Monitor;
class Router;
class SluiceEngine;
class WebSocket;
class WebSocketPrivate;
struct WebSocketContext;

// Everything that serves connections on one event loop: the HTTP
// connections, the WebSocket engine that takes the upgrades (Sluice's, or
// QtWebSockets': non-listening QWebSocketServers, one per set of
// subprotocols a route offers, since Qt negotiates per server), and the
// WebSockets they produce. A server has one worker per thread; all members
// but openCount() and the setters' queued calls are used on the worker's
// own thread.
class Worker : public QObject
{
    Q_OBJECT
public:
    // Worker index of count hands out the ids index + 1 + k * count, so that
    // an id tells which worker owns it.
    Worker(Server *server, Admission *admission, int index, int count);
    ~Worker() override;

    void setLimits(const Limits &limits);
    void setServerName(const QByteArray &name);
    void setWebSocketEngine(Server::WebSocketEngine engine) { m_webSocketEngine = engine; }

    // The server counts a connection it passes to accept() first, from its
    // own thread, so that the next one goes where fewest are open.
    void reserve() { m_open.fetch_add(1, std::memory_order_relaxed); }
    void accept(QTcpSocket *socket);
    void handOff(QTcpSocket *socket, std::unique_ptr<WebSocketContext> context);
    void removeConnection(HttpConnection *connection, bool handedOff);
    // Closes idle HTTP connections now, busy ones after their response, and
    // WebSockets with 1001.
    void closeAll();
    // Cuts every connection still open, handshakes included.
    void abortAll();
    // The open WebSocket or HTTP connection with id, or null.
    WebSocket *webSocket(quint64 id) const { return m_webSockets.value(id); }
    HttpConnection *httpConnection(quint64 id) const;

    int connectionCount() const
    {
        return int(m_connections.size() + m_pending.size() + m_webSockets.size());
    }
    // Connections whose WebSocket closed, still sending their last bytes.
    int lingeringCount() const;
    // Connections accepted and not yet closed; safe from any thread.
    int openCount() const { return m_open.load(std::memory_order_relaxed); }
    Router *router() const { return m_router; }
    static qint64 nowMs() { return monotonicMs(); }
    Monitor *monitor() const { return m_monitor; }
    Dispatcher *dispatcher() { return &m_dispatcher; }
    QByteArray serverName() const { return m_serverName; }
    // The Date header's value, formatted once a second.
    QByteArray dateHeader();

Q_SIGNALS:
    void connectionOpened(quint64 id);
    void connectionClosed(quint64 id);

private:
    struct PeerKey
    {
        QHostAddress address;
        quint16 port;
        quint16 localPort;
        friend bool operator==(const PeerKey &a, const PeerKey &b)
        {
            return a.port == b.port && a.localPort == b.localPort && a.address == b.address;
        }
        friend size_t qHash(const PeerKey &key, size_t seed = 0)
        {
            return qHashMulti(seed, key.address, key.port, key.localPort);
        }
    };

    QWebSocketServer *webSocketServer(const QStringList &subprotocols);
    void handOffToQt(QTcpSocket *socket, std::unique_ptr<WebSocketContext> context);
    // Adds a WebSocket whose handshake is done, and runs its route's handler.
    WebSocket *startWebSocket(std::unique_ptr<WebSocketPrivate> d);
    // Gives back the connection's place under the caps (Admission).
    void release(quint64 id);
    void closed(quint64 id);
    // Runs every connection's timeouts; the timer runs while any are open.
    void sweep();
    void scheduleSweep(const Limits &limits);
    void onWebSocketReady(QWebSocketServer *server);
    void onWebSocketClosed(quint64 id);

    Admission *m_admission;
    Router *m_router;
    Monitor *m_monitor;
    Dispatcher m_dispatcher;
    quint64 m_nextId;
    quint64 m_idStep;
    std::atomic<int> m_open {0};
    Limits m_limits;
    QByteArray m_serverName;
    QSet<HttpConnection *> m_connections;
    // Upgrades handed to Qt, matched back by the peer's address and port.
    QHash<PeerKey, std::shared_ptr<WebSocketContext>> m_pending;
    QHash<quint64, WebSocket *> m_webSockets;
    std::map<QStringList, QWebSocketServer *> m_webSocketServers;
    SluiceEngine *m_engine = nullptr; // made on the worker's thread, at the first upgrade
    Server::WebSocketEngine m_webSocketEngine;
    QByteArray m_date;
    qint64 m_dateSecond = -1;
    QTimer m_sweepTimer;
    QHash<quint64, QHostAddress> m_admitted;
    int m_refusing = 0;
    int m_refusedSinceLog = 0;
    qint64 m_refusalLoggedMs = -1000000;
};

} // namespace sluice

#endif // SLUICE_WORKER_P_H
