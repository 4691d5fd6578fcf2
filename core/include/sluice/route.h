#ifndef SLUICE_ROUTE_H
#define SLUICE_ROUTE_H

#include <sluice/handler.h>
#include <sluice/sluiceglobal.h>
#include <sluice/websocketcompression.h>

#include <QtCore/QHash>
#include <QtCore/QList>
#include <QtCore/QString>
#include <QtCore/QStringList>

#include <memory>

namespace sluice {

struct RouteData;

// One entry of the URI mapping, as the key was written and as it is matched.
// Keys follow Stream: "[method:|ws:]regex", the regex anchored on the whole
// path, "(name:regex)" accepted for "(?<name>regex)".
class SLUICE_CORE_EXPORT Route
{
public:
    enum class Kind { Http, WebSocket, Forward, Redirect };

    Route();
    // Parses a key; on failure the route is invalid and errorString says why
    // (a bad regex gives the regex error and its offset in the key).
    explicit Route(const QString &uri);

    bool isValid() const;
    QString errorString() const;

    QString uri() const; // the key as mapped
    QByteArray method() const; // upper case, empty for any method
    bool isWebSocket() const; // "ws:" key
    QString pattern() const; // the regex, old-style groups rewritten
    QStringList parameterNames() const;
    Kind kind() const;
    QString target() const; // forward or redirect target
    QStringList subprotocols() const;
    // ws: routes: whether and how permessage-deflate is agreed.
    WebSocketCompression compression() const;
    QString handlerName() const;

    // On a match, *params is replaced by the named groups that took part;
    // otherwise it is left untouched.
    bool matchPath(const QString &path, QHash<QString, QString> *params = nullptr) const;
    // A forward or redirect target with each "(name)" replaced by that group.
    QString expandTarget(const QHash<QString, QString> &params) const;

    HttpHandler httpHandler() const;
    WebSocketHandler webSocketHandler() const;
    // Filters for this route only, run after the router's own.
    QList<Filter> filters() const;

    // Used by the router to finish a parsed route.
    Route withHttpHandler(HttpHandler handler, const QString &name) const;
    Route withWebSocketHandler(WebSocketHandler handler, const QStringList &subprotocols,
                               const QString &name) const;
    Route withTarget(const QString &target) const;
    Route withFilters(const QList<Filter> &filters) const;
    Route withCompression(const WebSocketCompression &compression) const;

    static QString kindName(Kind kind);

private:
    std::shared_ptr<const RouteData> d;
};

} // namespace sluice

#endif // SLUICE_ROUTE_H
