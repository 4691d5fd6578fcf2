#ifndef SLUICE_ROUTE_P_H
#define SLUICE_ROUTE_P_H

#include <sluice/route.h>
#include <sluice/websocketcompression.h>

#include <QtCore/QRegularExpression>

namespace sluice {

struct RouteData
{
    QString uri;
    QString errorString;
    bool valid = false;
    QByteArray method;
    bool webSocket = false;
    QString pattern;
    QStringList parameterNames;
    // Anchored and optimized before the route is shared, so that threads
    // matching at once only ever read it.
    QRegularExpression regex;
    Route::Kind kind = Route::Kind::Http;
    QString target;
    QStringList subprotocols;
    WebSocketCompression compression;
    QString handlerName;
    HttpHandler httpHandler;
    WebSocketHandler webSocketHandler;
    QList<Filter> filters;
};

namespace route_p {

// The regex of a key after its prefix, compiled the way routes and filters
// use it: "(name:regex)" rewritten to "(?<name>regex)", anchored on the whole
// path, optimized. prefixLength is where the regex starts in key, so that a
// regex error is reported at its offset in the key as written.
struct PathRegex
{
    QString pattern; // rewritten, not anchored
    QRegularExpression regex;
    QString errorString;

    bool isValid() const { return errorString.isEmpty(); }
};

PathRegex compilePathRegex(const QString &key, qsizetype prefixLength);

// Stream's older "(name:regex)" group form rewritten to "(?<name>regex)".
// originalOffsets, when given, receives for each position of the result
// (plus one past its end) the matching position in source.
QString rewriteNamedGroups(const QString &source, QList<qsizetype> *originalOffsets = nullptr);

bool hasScheme(const QString &target);

} // namespace route_p
} // namespace sluice

#endif // SLUICE_ROUTE_P_H
