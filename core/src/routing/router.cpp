#include <sluice/router.h>

#include "route_p.h"

#include <QtCore/QMap>
#include <QtCore/QMutexLocker>

namespace sluice {

namespace {

struct FilterEntry
{
    QString pattern;
    QRegularExpression regex;
    Filter filter;
};

struct ErrorEntry
{
    QString uri;
    HttpHandler handler;
};

// Enough for the distinct paths of a real site; a flood of unique paths only
// costs a clear now and then.
constexpr qsizetype MatchCacheSize = 1024;

bool fail(QMutex &mutex, QString &errorString, const QString &why)
{
    QMutexLocker lock(&mutex);
    errorString = why;
    return false;
}

void addMethod(QList<QByteArray> &methods, const QByteArray &method)
{
    if (methods.contains(method))
        return;
    methods.append(method);
    // Every get: route answers HEAD too.
    if (method == "GET" && !methods.contains("HEAD"))
        methods.append(QByteArrayLiteral("HEAD"));
}

template<typename Entry, typename Key>
void placeEntry(QList<Entry> &list, Entry entry, bool preceding, Key keyOf)
{
    const auto key = keyOf(entry);
    for (qsizetype i = 0; i < list.size(); ++i) {
        if (keyOf(list.at(i)) != key)
            continue;
        if (preceding) {
            list.removeAt(i);
            list.prepend(std::move(entry));
        } else {
            list[i] = std::move(entry);
        }
        return;
    }
    if (preceding)
        list.prepend(std::move(entry));
    else
        list.append(std::move(entry));
}

} // namespace

struct RouterTable
{
    QList<Route> routes;
    QList<FilterEntry> filters;
    QMap<int, ErrorEntry> errors;
    HttpHandler fallback;
    QString fallbackName;

    mutable QMutex cacheMutex;
    mutable QHash<QString, RouteMatch> cache;

    RouterTable() = default;
    // A changed table starts with an empty cache: the cached answers were
    // worked out from the routes it replaces.
    RouterTable(const RouterTable &other)
        : routes(other.routes)
        , filters(other.filters)
        , errors(other.errors)
        , fallback(other.fallback)
        , fallbackName(other.fallbackName)
    { }
    RouterTable &operator=(const RouterTable &) = delete;

    RouteMatch lookUp(const QByteArray &method, const QString &path, bool webSocket) const;
};

RouteMatch RouterTable::lookUp(const QByteArray &method, const QString &path, bool webSocket) const
{
    RouteMatch result;
    if (webSocket) {
        for (const Route &route : routes) {
            if (route.isWebSocket() && route.matchPath(path, &result.params)) {
                result.outcome = RouteMatch::Found;
                result.route = route;
                return result;
            }
        }
        result.outcome = RouteMatch::NotFound;
        return result;
    }

    const bool head = method == "HEAD";
    for (const Route &route : routes) {
        if (route.isWebSocket())
            continue;
        QHash<QString, QString> params;
        if (!route.matchPath(path, &params))
            continue;
        const QByteArray routeMethod = route.method();
        if (routeMethod.isEmpty() || routeMethod == method || (head && routeMethod == "GET")) {
            result.outcome = RouteMatch::Found;
            result.route = route;
            result.params = std::move(params);
            result.allowedMethods.clear();
            return result;
        }
        addMethod(result.allowedMethods, routeMethod);
    }

    if (!result.allowedMethods.isEmpty()) {
        result.outcome = RouteMatch::MethodNotAllowed;
        return result;
    }
    for (const Route &route : routes) {
        if (route.isWebSocket() && route.matchPath(path)) {
            result.outcome = RouteMatch::UpgradeRequired;
            return result;
        }
    }
    result.outcome = RouteMatch::NotFound;
    return result;
}

Router::Router(QObject *parent)
    : QObject(parent)
    , m_table(std::make_shared<RouterTable>())
{ }

Router::~Router() = default;

std::shared_ptr<const RouterTable> Router::table() const
{
    QMutexLocker lock(&m_mutex);
    return m_table;
}

// Copy-on-write: matches in flight keep reading the table they hold while the
// change works on a copy. change returns false when it changed nothing.
void Router::replace(const Router &other)
{
    if (&other == this)
        return;
    const std::shared_ptr<const RouterTable> table = other.table();
    change([&table](RouterTable &next) {
        next.routes = table->routes;
        next.filters = table->filters;
        next.errors = table->errors;
        next.fallback = table->fallback;
        next.fallbackName = table->fallbackName;
        next.cache.clear();
        return true;
    });
}

template<typename Change>
void Router::change(Change &&change)
{
    {
        QMutexLocker lock(&m_mutex);
        auto next = std::make_shared<RouterTable>(*m_table);
        if (!change(*next))
            return;
        m_table = std::move(next);
    }
    // Outside the lock: a receiver may well read the routes back.
    Q_EMIT routesChanged();
}

bool Router::addRoute(const Route &route, bool preceding)
{
    change([&](RouterTable &table) {
        placeEntry(table.routes, route, preceding, [](const Route &r) { return r.uri(); });
        return true;
    });
    return true;
}

bool Router::map(const QString &uri, HttpHandler handler, const MapOptions &options)
{
    const Route route(uri);
    if (!route.isValid())
        return fail(m_mutex, m_errorString, route.errorString());
    if (route.isWebSocket()) {
        return fail(m_mutex, m_errorString,
                    QStringLiteral("\"%1\" is a ws: route: it needs a WebSocket handler").arg(uri));
    }
    if (!handler) {
        return fail(m_mutex, m_errorString,
                    QStringLiteral("no handler for \"%1\" (unmap() removes a route)").arg(uri));
    }
    return addRoute(route.withHttpHandler(std::move(handler), options.handlerName)
                            .withFilters(options.filters),
                    options.preceding);
}

bool Router::map(const QString &uri, WebSocketHandler handler, const MapOptions &options)
{
    const Route route(uri);
    if (!route.isValid())
        return fail(m_mutex, m_errorString, route.errorString());
    if (!route.isWebSocket()) {
        return fail(m_mutex, m_errorString,
                    QStringLiteral("\"%1\" is not a ws: route: a WebSocket handler needs a "
                                   "\"ws:\" key")
                            .arg(uri));
    }
    if (!handler) {
        return fail(m_mutex, m_errorString,
                    QStringLiteral("no handler for \"%1\" (unmap() removes a route)").arg(uri));
    }
    return addRoute(route.withWebSocketHandler(std::move(handler), options.subprotocols,
                                               options.handlerName)
                            .withFilters(options.filters)
                            .withCompression(options.compression),
                    options.preceding);
}

bool Router::map(const QString &uri, const QString &target, const MapOptions &options)
{
    const Route route(uri);
    if (!route.isValid())
        return fail(m_mutex, m_errorString, route.errorString());
    if (route.isWebSocket()) {
        return fail(m_mutex, m_errorString,
                    QStringLiteral("\"%1\" is a ws: route: it cannot forward or redirect to "
                                   "\"%2\"")
                            .arg(uri, target));
    }
    if (target.isEmpty()) {
        return fail(m_mutex, m_errorString,
                    QStringLiteral("empty target for \"%1\" (unmap() removes a route)").arg(uri));
    }
    return addRoute(route.withTarget(target).withFilters(options.filters), options.preceding);
}

bool Router::unmap(const QString &uri)
{
    bool removed = false;
    change([&](RouterTable &table) {
        for (qsizetype i = 0; i < table.routes.size(); ++i) {
            if (table.routes.at(i).uri() == uri) {
                table.routes.removeAt(i);
                removed = true;
                return true;
            }
        }
        return false;
    });
    if (!removed)
        return fail(m_mutex, m_errorString, QStringLiteral("no route \"%1\"").arg(uri));
    return true;
}

bool Router::filter(const QString &pattern, Filter filter, bool preceding)
{
    if (!filter) {
        return fail(
                m_mutex, m_errorString,
                QStringLiteral("no filter for \"%1\" (unfilter() removes a filter)").arg(pattern));
    }
    route_p::PathRegex regex = route_p::compilePathRegex(pattern, 0);
    if (!regex.isValid())
        return fail(m_mutex, m_errorString, regex.errorString);
    FilterEntry entry {pattern, regex.regex, std::move(filter)};
    change([&](RouterTable &table) {
        placeEntry(table.filters, std::move(entry), preceding,
                   [](const FilterEntry &e) { return e.pattern; });
        return true;
    });
    return true;
}

bool Router::unfilter(const QString &pattern)
{
    bool removed = false;
    change([&](RouterTable &table) {
        for (qsizetype i = 0; i < table.filters.size(); ++i) {
            if (table.filters.at(i).pattern == pattern) {
                table.filters.removeAt(i);
                removed = true;
                return true;
            }
        }
        return false;
    });
    if (!removed)
        return fail(m_mutex, m_errorString, QStringLiteral("no filter \"%1\"").arg(pattern));
    return true;
}

void Router::mapError(int status, const QString &uri)
{
    if (uri.isEmpty()) {
        unmapError(status);
        return;
    }
    change([&](RouterTable &table) {
        table.errors.insert(status, ErrorEntry {uri, {}});
        return true;
    });
}

void Router::mapError(int status, HttpHandler handler)
{
    if (!handler) {
        unmapError(status);
        return;
    }
    change([&](RouterTable &table) {
        table.errors.insert(status, ErrorEntry {{}, std::move(handler)});
        return true;
    });
}

void Router::unmapError(int status)
{
    change([&](RouterTable &table) { return table.errors.remove(status) > 0; });
}

QList<Route> Router::routes() const
{
    return table()->routes;
}

QStringList Router::filterPatterns() const
{
    const auto current = table();
    QStringList patterns;
    patterns.reserve(current->filters.size());
    for (const FilterEntry &entry : current->filters)
        patterns.append(entry.pattern);
    return patterns;
}

QList<int> Router::errorStatuses() const
{
    return table()->errors.keys();
}

RouteMatch Router::match(const QByteArray &method, const QString &path, bool webSocket) const
{
    const auto current = table();
    QString key;
    key.reserve(method.size() + path.size() + 2);
    key += webSocket ? u'w' : u'h';
    key += QLatin1String(method);
    key += u' ';
    key += path;
    {
        QMutexLocker lock(&current->cacheMutex);
        const auto it = current->cache.constFind(key);
        if (it != current->cache.constEnd())
            return it.value();
    }
    // Matched without the cache lock, so that slow regexes do not serialize
    // the threads; two threads may then work out the same answer, once each.
    RouteMatch result = current->lookUp(method, path, webSocket);
    QMutexLocker lock(&current->cacheMutex);
    if (current->cache.size() >= MatchCacheSize)
        current->cache.clear();
    current->cache.insert(key, result);
    return result;
}

QList<Filter> Router::filters(const QString &path) const
{
    const auto current = table();
    QList<Filter> result;
    for (const FilterEntry &entry : current->filters) {
        if (entry.regex.match(path).hasMatch())
            result.append(entry.filter);
    }
    return result;
}

QString Router::errorUri(int status) const
{
    return table()->errors.value(status).uri;
}

HttpHandler Router::errorHandler(int status) const
{
    return table()->errors.value(status).handler;
}

void Router::setFallback(HttpHandler handler, const QString &name)
{
    change([&](RouterTable &table) {
        table.fallback = std::move(handler);
        table.fallbackName = table.fallback ? name : QString();
        return true;
    });
}

HttpHandler Router::fallback() const
{
    return table()->fallback;
}

QString Router::fallbackName() const
{
    return table()->fallbackName;
}

QString Router::errorString() const
{
    QMutexLocker lock(&m_mutex);
    return m_errorString;
}

} // namespace sluice
