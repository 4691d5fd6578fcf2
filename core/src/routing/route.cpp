#include "route_p.h"

namespace sluice {

namespace route_p {

static bool isAsciiLetter(QChar c)
{
    return (c >= u'a' && c <= u'z') || (c >= u'A' && c <= u'Z');
}

static bool isAsciiDigit(QChar c)
{
    return c >= u'0' && c <= u'9';
}

// PCRE's group names: a letter or underscore, then letters, digits, underscores.
static qsizetype groupNameEnd(const QString &s, qsizetype from)
{
    qsizetype i = from;
    if (i >= s.size() || !(isAsciiLetter(s.at(i)) || s.at(i) == u'_'))
        return from;
    while (i < s.size() && (isAsciiLetter(s.at(i)) || isAsciiDigit(s.at(i)) || s.at(i) == u'_'))
        ++i;
    return i;
}

QString rewriteNamedGroups(const QString &source, QList<qsizetype> *originalOffsets)
{
    QString out;
    out.reserve(source.size() + 16);
    QList<qsizetype> offsets;
    if (originalOffsets)
        offsets.reserve(source.size() + 17);

    const auto copy = [&](qsizetype from, qsizetype to) {
        out += QStringView(source).mid(from, to - from);
        if (originalOffsets) {
            for (qsizetype i = from; i < to; ++i)
                offsets.append(i);
        }
    };
    const auto insert = [&](QStringView text, qsizetype origin) {
        out += text;
        if (originalOffsets) {
            for (qsizetype i = 0; i < text.size(); ++i)
                offsets.append(origin);
        }
    };

    const qsizetype n = source.size();
    bool inClass = false;
    qsizetype i = 0;
    while (i < n) {
        const QChar c = source.at(i);
        if (c == u'\\') {
            // \Q...\E quotes everything up to \E (or the end), in a class too.
            if (i + 1 < n && source.at(i + 1) == u'Q') {
                const qsizetype e = source.indexOf(QLatin1String("\\E"), i + 2);
                const qsizetype end = e < 0 ? n : e + 2;
                copy(i, end);
                i = end;
            } else {
                const qsizetype end = qMin(i + 2, n);
                copy(i, end);
                i = end;
            }
            continue;
        }
        if (inClass) {
            // A POSIX class such as [:alpha:] ends with its own "]".
            if (c == u'[' && i + 1 < n && source.at(i + 1) == u':') {
                const qsizetype e = source.indexOf(QLatin1String(":]"), i + 2);
                if (e >= 0) {
                    copy(i, e + 2);
                    i = e + 2;
                    continue;
                }
            }
            if (c == u']')
                inClass = false;
            copy(i, i + 1);
            ++i;
            continue;
        }
        if (c == u'[') {
            inClass = true;
            qsizetype end = i + 1;
            if (end < n && source.at(end) == u'^')
                ++end;
            // A "]" right at the start of a class is a literal, not its end.
            if (end < n && source.at(end) == u']')
                ++end;
            copy(i, end);
            i = end;
            continue;
        }
        if (c == u'(') {
            const qsizetype nameEnd = groupNameEnd(source, i + 1);
            if (nameEnd > i + 1 && nameEnd < n && source.at(nameEnd) == u':') {
                insert(u"(?<", i);
                copy(i + 1, nameEnd);
                insert(u">", nameEnd);
                i = nameEnd + 1;
                continue;
            }
        }
        copy(i, i + 1);
        ++i;
    }

    if (originalOffsets) {
        offsets.append(n);
        *originalOffsets = std::move(offsets);
    }
    return out;
}

PathRegex compilePathRegex(const QString &key, qsizetype prefixLength)
{
    PathRegex result;
    QList<qsizetype> offsets;
    result.pattern = rewriteNamedGroups(key.mid(prefixLength), &offsets);

    // Checked unanchored first: anchoring can hide an error (a stray ")"
    // closes the anchoring group) and would shift the offset.
    const QRegularExpression plain(result.pattern);
    if (!plain.isValid()) {
        const qsizetype at = qBound<qsizetype>(0, plain.patternErrorOffset(), offsets.size() - 1);
        result.errorString = QStringLiteral("bad regex in \"%1\": %2 at offset %3")
                                     .arg(key, plain.errorString(),
                                          QString::number(prefixLength + offsets.at(at)));
        return result;
    }

    result.regex = QRegularExpression(QRegularExpression::anchoredPattern(result.pattern));
    if (!result.regex.isValid()) {
        // Valid alone but not inside "\A(?:...)\z", e.g. an unterminated \Q.
        result.errorString
                = QStringLiteral("bad regex in \"%1\": %2 once anchored on the whole path")
                          .arg(key, result.regex.errorString());
        result.regex = QRegularExpression();
        return result;
    }
    // Compiled once here, before the route is shared: QRegularExpression
    // compiles lazily on first use, which is not safe while several threads
    // match with the same instance. (isValid() compiles too; optimize() keeps
    // that true should it stop doing so.)
    result.regex.optimize();
    return result;
}

bool hasScheme(const QString &target)
{
    if (target.isEmpty() || !isAsciiLetter(target.at(0)))
        return false;
    qsizetype i = 1;
    while (i < target.size()) {
        const QChar c = target.at(i);
        if (!(isAsciiLetter(c) || isAsciiDigit(c) || c == u'+' || c == u'.' || c == u'-'))
            break;
        ++i;
    }
    return QStringView(target).mid(i).startsWith(QLatin1String("://"));
}

} // namespace route_p

using namespace route_p;

static const RouteData &emptyRouteData()
{
    static const RouteData empty;
    return empty;
}

Route::Route() = default;

Route::Route(const QString &uri)
{
    auto data = std::make_shared<RouteData>();
    data->uri = uri;

    qsizetype prefixLength = 0;
    qsizetype letters = 0;
    while (letters < uri.size() && isAsciiLetter(uri.at(letters)))
        ++letters;
    if (letters > 0 && letters < uri.size() && uri.at(letters) == u':') {
        const QString prefix = uri.left(letters);
        if (prefix.compare(QLatin1String("ws"), Qt::CaseInsensitive) == 0)
            data->webSocket = true;
        else
            data->method = prefix.toLatin1().toUpper();
        prefixLength = letters + 1;
    }

    if (!QStringView(uri).mid(prefixLength).startsWith(u'/')) {
        data->errorString = QStringLiteral("bad route key \"%1\": expected \"/path\", "
                                           "\"<method>:/path\" or \"ws:/path\"")
                                    .arg(uri);
        d = std::move(data);
        return;
    }

    PathRegex regex = compilePathRegex(uri, prefixLength);
    data->pattern = regex.pattern;
    if (!regex.isValid()) {
        data->errorString = regex.errorString;
        d = std::move(data);
        return;
    }
    data->regex = regex.regex;
    const QStringList groups = data->regex.namedCaptureGroups();
    for (const QString &name : groups) {
        if (!name.isEmpty() && !data->parameterNames.contains(name))
            data->parameterNames.append(name);
    }
    data->kind = data->webSocket ? Kind::WebSocket : Kind::Http;
    data->valid = true;
    d = std::move(data);
}

bool Route::isValid() const
{
    return d && d->valid;
}

QString Route::errorString() const
{
    return d ? d->errorString : QString();
}

QString Route::uri() const
{
    return d ? d->uri : QString();
}

QByteArray Route::method() const
{
    return d ? d->method : QByteArray();
}

bool Route::isWebSocket() const
{
    return d && d->webSocket;
}

QString Route::pattern() const
{
    return d ? d->pattern : QString();
}

QStringList Route::parameterNames() const
{
    return d ? d->parameterNames : QStringList();
}

Route::Kind Route::kind() const
{
    return d ? d->kind : Kind::Http;
}

QString Route::target() const
{
    return d ? d->target : QString();
}

QStringList Route::subprotocols() const
{
    return d ? d->subprotocols : QStringList();
}

WebSocketCompression Route::compression() const
{
    return d ? d->compression : WebSocketCompression();
}

QString Route::handlerName() const
{
    return d ? d->handlerName : QString();
}

bool Route::matchPath(const QString &path, QHash<QString, QString> *params) const
{
    if (!isValid())
        return false;
    const QRegularExpressionMatch match = d->regex.match(path);
    if (!match.hasMatch())
        return false;
    if (params) {
        params->clear();
        for (const QString &name : d->parameterNames) {
            // An optional group that took no part in the match has no value.
            if (match.hasCaptured(name))
                params->insert(name, match.captured(name));
        }
    }
    return true;
}

QString Route::expandTarget(const QHash<QString, QString> &params) const
{
    const QString source = target();
    QString out;
    out.reserve(source.size());
    qsizetype i = 0;
    while (i < source.size()) {
        if (source.at(i) == u'(') {
            const qsizetype nameEnd = groupNameEnd(source, i + 1);
            if (nameEnd > i + 1 && nameEnd < source.size() && source.at(nameEnd) == u')') {
                const auto it = params.constFind(source.mid(i + 1, nameEnd - i - 1));
                if (it != params.constEnd()) {
                    out += it.value();
                    i = nameEnd + 1;
                    continue;
                }
            }
        }
        out += source.at(i);
        ++i;
    }
    return out;
}

HttpHandler Route::httpHandler() const
{
    return d ? d->httpHandler : HttpHandler();
}

WebSocketHandler Route::webSocketHandler() const
{
    return d ? d->webSocketHandler : WebSocketHandler();
}

Route Route::withHttpHandler(HttpHandler handler, const QString &name) const
{
    auto data = std::make_shared<RouteData>(d ? *d : emptyRouteData());
    data->kind = Kind::Http;
    data->target.clear();
    data->subprotocols.clear();
    data->webSocketHandler = nullptr;
    data->handlerName = name.isEmpty() && handler ? QStringLiteral("lambda") : name;
    data->httpHandler = std::move(handler);
    Route route;
    route.d = std::move(data);
    return route;
}

Route Route::withWebSocketHandler(WebSocketHandler handler, const QStringList &subprotocols,
                                  const QString &name) const
{
    auto data = std::make_shared<RouteData>(d ? *d : emptyRouteData());
    data->kind = Kind::WebSocket;
    data->target.clear();
    data->subprotocols = subprotocols;
    data->httpHandler = nullptr;
    data->handlerName = name.isEmpty() && handler ? QStringLiteral("lambda") : name;
    data->webSocketHandler = std::move(handler);
    Route route;
    route.d = std::move(data);
    return route;
}

Route Route::withCompression(const WebSocketCompression &compression) const
{
    auto data = std::make_shared<RouteData>(d ? *d : emptyRouteData());
    data->compression = compression;
    Route route;
    route.d = std::move(data);
    return route;
}

QList<Filter> Route::filters() const
{
    return d ? d->filters : QList<Filter>();
}

Route Route::withFilters(const QList<Filter> &filters) const
{
    auto data = std::make_shared<RouteData>(d ? *d : emptyRouteData());
    data->filters = filters;
    Route route;
    route.d = std::move(data);
    return route;
}

Route Route::withTarget(const QString &target) const
{
    auto data = std::make_shared<RouteData>(d ? *d : emptyRouteData());
    data->kind = hasScheme(target) ? Kind::Redirect : Kind::Forward;
    data->target = target;
    data->subprotocols.clear();
    data->httpHandler = nullptr;
    data->webSocketHandler = nullptr;
    data->handlerName = target;
    Route route;
    route.d = std::move(data);
    return route;
}

QString Route::kindName(Kind kind)
{
    switch (kind) {
    case Kind::Http:
        return QStringLiteral("HTTP");
    case Kind::WebSocket:
        return QStringLiteral("WebSocket");
    case Kind::Forward:
        return QStringLiteral("forward");
    case Kind::Redirect:
        return QStringLiteral("redirect");
    }
    return QString();
}

} // namespace sluice
