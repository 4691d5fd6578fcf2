#ifndef SLUICE_ROUTER_H
#define SLUICE_ROUTER_H

#include <sluice/chain.h>
#include <sluice/routematch.h>

#include <QtCore/QMutex>
#include <QtCore/QObject>
#include <QtCore/QPointer>

#include <memory>

namespace sluice {

struct RouterTable;

// How a route is added to the mapping.
struct MapOptions
{
    bool preceding = false; // put it first, not last
    QStringList subprotocols; // ws: routes: offered in the handshake, in preference order
    // ws: routes: permessage-deflate, when enabled (Sluice's engine only).
    WebSocketCompression compression;
    QString handlerName; // shown by the monitor and the logs
    // Filters for this route only, run after the router's filters: for a ws:
    // route before the upgrade, so that they can still answer over HTTP.
    QList<Filter> filters;
};

// The URI mapping, the filters and the error mapping of a server.
//
// Stream's rules: the first route in insertion order whose anchored regex
// matches the path (and whose method prefix matches, if it has one) wins.
// Changes may come from any thread at any time: each change publishes a new
// immutable table, and requests in flight keep the one they started with.
class SLUICE_CORE_EXPORT Router : public QObject
{
    Q_OBJECT
public:
    explicit Router(QObject *parent = nullptr);
    ~Router() override;

    bool map(const QString &uri, HttpHandler handler, const MapOptions &options = {});
    bool map(const QString &uri, WebSocketHandler handler, const MapOptions &options = {});
    // A string value forwards, or redirects (302) when it starts with a scheme.
    bool map(const QString &uri, const QString &target, const MapOptions &options = {});
    bool map(const QString &uri, const char *target, const MapOptions &options = {})
    {
        return map(uri, QString::fromUtf8(target), options);
    }
    // A QObject handler: the slot runs while the receiver lives.
    template<typename Receiver>
    bool map(const QString &uri, Receiver *receiver, void (Receiver::*slot)(WebSocket *),
             const MapOptions &options = {})
    {
        QPointer<Receiver> guard(receiver);
        return map(uri, WebSocketHandler([guard, slot](WebSocket *socket) {
                       if (guard)
                           (guard.data()->*slot)(socket);
                   }),
                   options);
    }
    template<typename Receiver>
    bool map(const QString &uri, Receiver *receiver, void (Receiver::*slot)(HttpConnect &),
             const MapOptions &options = {})
    {
        QPointer<Receiver> guard(receiver);
        return map(uri, HttpHandler([guard, slot](HttpConnect &connect) {
                       if (guard)
                           (guard.data()->*slot)(connect);
                   }),
                   options);
    }
    // Stream's map(uri, null): removes the route with that exact key.
    bool unmap(const QString &uri);

    // Takes other's routes, filters, error mapping and fallback in one step:
    // a request sees either the old mapping or the new one, never a mix.
    // For reloading a configuration built on a scratch router.
    void replace(const Router &other);

    // Filters run in insertion order before HTTP and ws: handlers alike.
    bool filter(const QString &pattern, Filter filter, bool preceding = false);
    bool unfilter(const QString &pattern);

    // Error mapping: an error status is answered by forwarding to uri, or by
    // running handler, with HttpConnect::errorStatus() and errorDetail() set.
    // An empty uri or a null handler unmaps that status.
    void mapError(int status, const QString &uri);
    void mapError(int status, HttpHandler handler);
    void unmapError(int status);

    // What answers a request no route matches (before 404): the server's
    // static files, usually. A null handler removes it.
    void setFallback(HttpHandler handler, const QString &name = QString());
    HttpHandler fallback() const;
    QString fallbackName() const;

    QList<Route> routes() const;
    QStringList filterPatterns() const;
    QList<int> errorStatuses() const;

    // method is compared as sent (methods are case-sensitive); HEAD also
    // matches get: routes.
    RouteMatch match(const QByteArray &method, const QString &path, bool webSocket) const;
    QList<Filter> filters(const QString &path) const;
    // What answers an error status: a uri to forward to, or a handler.
    QString errorUri(int status) const;
    HttpHandler errorHandler(int status) const;

    // Why the last failed map(), unmap(), filter() or unfilter() call failed;
    // a success does not clear it.
    QString errorString() const;

Q_SIGNALS:
    void routesChanged();

private:
    std::shared_ptr<const RouterTable> table() const;
    bool addRoute(const Route &route, bool preceding);
    template<typename Change>
    void change(Change &&change);

    mutable QMutex m_mutex;
    std::shared_ptr<const RouterTable> m_table;
    QString m_errorString;
};

} // namespace sluice

#endif // SLUICE_ROUTER_H
