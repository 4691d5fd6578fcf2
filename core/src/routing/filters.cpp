#include <sluice/chain.h>
#include <sluice/filters.h>
#include <sluice/httpconnect.h>
#include <sluice/passwordfile.h>

#include <QtConcurrent/QtConcurrentRun>
#include <QtCore/QFutureWatcher>
#include <QtCore/QSet>
#include <QtCore/QStringDecoder>
#include <QtCore/QUrl>

namespace sluice {

namespace {

int defaultPort(const QString &scheme)
{
    if (scheme == u"http" || scheme == u"ws")
        return 80;
    if (scheme == u"https" || scheme == u"wss")
        return 443;
    return -1;
}

// An origin as a scheme, a host and an effective port, so that
// "HTTPS://Example.com:443" and "https://example.com" compare equal.
struct Origin
{
    QString scheme;
    QString host;
    int port = -1;
    bool isValid() const { return !scheme.isEmpty() && !host.isEmpty(); }
    bool hasDefaultPort() const { return port == defaultPort(scheme); }
    QString toString() const
    {
        const QString bracketed = host.contains(u':') ? u'[' + host + u']' : host;
        return hasDefaultPort() || port < 0
                       ? scheme + QLatin1String("://") + bracketed
                       : scheme + QLatin1String("://") + bracketed + u':' + QString::number(port);
    }
    static Origin parse(const QString &text)
    {
        const QUrl url(text.trimmed(), QUrl::StrictMode);
        Origin origin;
        // An origin is nothing but scheme://host[:port]; "null" and anything
        // with a path or credentials are not one.
        if (!url.isValid() || url.host().isEmpty() || !url.userInfo().isEmpty()
            || (!url.path().isEmpty() && url.path() != u"/") || url.hasQuery() || url.hasFragment())
            return origin;
        origin.scheme = url.scheme().toLower();
        origin.host = url.host(QUrl::FullyEncoded).toLower();
        origin.port = url.port(defaultPort(origin.scheme));
        return origin;
    }
};

// The key an origin is compared by: its normal form, or, for what does not
// parse ("null" from sandboxed pages), the text as sent, lower-cased.
QString originKey(const QString &text)
{
    const Origin origin = Origin::parse(text);
    return origin.isValid() ? origin.toString() : text.trimmed().toLower();
}

// Whether origin names the host the request was sent to. Host carries no
// scheme, so a Host without a port stands for the default port of the
// origin's scheme (TLS may end in front of us).
bool isSameHost(const Origin &origin, const QByteArray &hostHeader)
{
    if (!origin.isValid() || hostHeader.isEmpty())
        return false;
    const QUrl host(QStringLiteral("http://") + QString::fromLatin1(hostHeader.trimmed()),
                    QUrl::StrictMode);
    if (!host.isValid() || host.host().isEmpty() || !host.userInfo().isEmpty()
        || !host.path().isEmpty() || host.hasQuery() || host.hasFragment())
        return false;
    if (host.host(QUrl::FullyEncoded).toLower() != origin.host)
        return false;
    const int port = host.port(-1);
    return port < 0 ? origin.hasDefaultPort() : origin.port == port;
}

// Strict UTF-8 (RFC 7617's charset): a name with invalid bytes is no name.
bool fromUtf8(const QByteArray &bytes, QString *text)
{
    QStringDecoder decoder(QStringDecoder::Utf8);
    *text = decoder(bytes);
    return !decoder.hasError();
}

QByteArray quoted(const QString &text)
{
    QByteArray result = text.toUtf8();
    result.replace('\\', "\\\\");
    result.replace('"', "\\\"");
    return '"' + result + '"';
}

QByteArrayList tokens(const QByteArray &list)
{
    QByteArrayList result;
    for (const QByteArray &item : list.split(',')) {
        const QByteArray token = item.trimmed();
        if (!token.isEmpty())
            result.append(token);
    }
    return result;
}

bool containsCaseInsensitive(const QByteArrayList &list, const QByteArray &name)
{
    for (const QByteArray &item : list) {
        if (item.compare(name, Qt::CaseInsensitive) == 0)
            return true;
    }
    return false;
}

} // namespace

namespace filters {

Filter allowOrigins(const QStringList &origins)
{
    QSet<QString> allowed;
    bool self = false;
    for (const QString &origin : origins) {
        if (origin.trimmed().compare(u"self", Qt::CaseInsensitive) == 0)
            self = true;
        else
            allowed.insert(originKey(origin));
    }
    return [allowed, self](HttpConnect &connect, Chain chain) {
        const HttpRequest &request = connect.request();
        if (!request.headerHasToken("Upgrade", "websocket") || !request.hasHeader("Origin")) {
            chain();
            return;
        }
        const QString text = QString::fromLatin1(request.header("Origin").trimmed());
        if (allowed.contains(originKey(text))
            || (self && isSameHost(Origin::parse(text), request.header("Host")))) {
            chain();
            return;
        }
        connect.error(403, QStringLiteral("origin %1 is not allowed").arg(text));
    };
}

Filter basicAuth(const PasswordFile &passwords, const QString &realm)
{
    const QByteArray challenge = "Basic realm=" + quoted(realm) + ", charset=\"UTF-8\"";
    return [passwords, challenge](HttpConnect &connect, Chain chain) {
        const QByteArray authorization = connect.request().header("Authorization").trimmed();
        const qsizetype space = authorization.indexOf(' ');
        if (space > 0 && authorization.left(space).compare("Basic", Qt::CaseInsensitive) == 0) {
            const auto decoded
                    = QByteArray::fromBase64Encoding(authorization.mid(space + 1).trimmed(),
                                                     QByteArray::AbortOnBase64DecodingErrors);
            const qsizetype colon = decoded ? decoded.decoded.indexOf(':') : -1;
            if (colon > 0) {
                QString user;
                QString password;
                if (fromUtf8(decoded.decoded.left(colon), &user)
                    && fromUtf8(decoded.decoded.mid(colon + 1), &password)) {
                    // bcrypt and yescrypt are slow on purpose (milliseconds a
                    // try): hashing on the server's thread would let a client
                    // stall every connection with wrong passwords. The
                    // watcher is the connection's child: if the client goes
                    // first, the answer goes nowhere and the chain is dropped.
                    auto *watcher = new QFutureWatcher<bool>(&connect);
                    QObject::connect(watcher, &QFutureWatcherBase::finished, watcher,
                                     [watcher, user, challenge, chain, target = &connect] {
                                         watcher->deleteLater();
                                         if (watcher->result()) {
                                             target->dataset().insert(QStringLiteral("user"), user);
                                             chain();
                                         } else {
                                             target->error(401, QString(),
                                                           {{"WWW-Authenticate", challenge}});
                                         }
                                     });
                    watcher->setFuture(QtConcurrent::run([passwords, user, password] {
                        return passwords.verify(user, password);
                    }));
                    return;
                }
            }
        }
        connect.error(401, QString(), {{"WWW-Authenticate", challenge}});
    };
}

Filter cors(const CorsPolicy &policy)
{
    QSet<QString> allowed;
    bool anyOrigin = false;
    for (const QString &origin : policy.origins) {
        if (origin.trimmed() == u"*")
            anyOrigin = true;
        else
            allowed.insert(originKey(origin));
    }
    return [policy, allowed, anyOrigin](HttpConnect &connect, Chain chain) {
        const HttpRequest &request = connect.request();
        if (!request.hasHeader("Origin")) {
            chain();
            return;
        }
        const QByteArray origin = request.header("Origin").trimmed();
        const bool originAllowed
                = anyOrigin || allowed.contains(originKey(QString::fromLatin1(origin)));
        // With credentials the browser refuses "*": the origin has to be named.
        const QByteArray allowOrigin = anyOrigin && !policy.credentials ? "*" : origin;
        HttpResponse &response = connect.response();

        if (request.method() == "OPTIONS" && request.hasHeader("Access-Control-Request-Method")) {
            if (!originAllowed) {
                connect.error(403, QStringLiteral("origin %1 is not allowed")
                                           .arg(QString::fromLatin1(origin)));
                return;
            }
            const QByteArray method = request.header("Access-Control-Request-Method").trimmed();
            if (!policy.methods.contains(method)) {
                connect.error(403, QStringLiteral("method %1 is not allowed")
                                           .arg(QString::fromLatin1(method)));
                return;
            }
            const QByteArrayList asked = tokens(request.header("Access-Control-Request-Headers"));
            // Headers a page may always send (CORS-safelisted whatever their value).
            static const QByteArrayList safelisted {"Accept", "Accept-Language",
                                                    "Content-Language"};
            for (const QByteArray &header : asked) {
                if (!containsCaseInsensitive(policy.headers, header)
                    && !containsCaseInsensitive(safelisted, header)) {
                    connect.error(403, QStringLiteral("header %1 is not allowed")
                                               .arg(QString::fromLatin1(header)));
                    return;
                }
            }
            response.setStatus(204);
            response.setHeader("Access-Control-Allow-Origin", allowOrigin);
            response.setHeader("Access-Control-Allow-Methods", policy.methods.join(", "));
            if (!asked.isEmpty())
                response.setHeader("Access-Control-Allow-Headers", asked.join(", "));
            response.setHeader("Access-Control-Max-Age", QByteArray::number(policy.maxAgeSeconds));
            if (policy.credentials)
                response.setHeader("Access-Control-Allow-Credentials", "true");
            // The answer depends on all three: a cache must not reuse it for others.
            response.addHeader("Vary", "Origin, Access-Control-Request-Method, "
                                       "Access-Control-Request-Headers");
            response.end();
            return;
        }

        if (originAllowed) {
            response.setHeader("Access-Control-Allow-Origin", allowOrigin);
            response.addHeader("Vary", "Origin");
            if (policy.credentials)
                response.setHeader("Access-Control-Allow-Credentials", "true");
            if (!policy.exposedHeaders.isEmpty())
                response.setHeader("Access-Control-Expose-Headers",
                                   policy.exposedHeaders.join(", "));
        }
        // A refused origin still gets its answer, without the headers that
        // would let the page's script read it.
        chain();
    };
}

} // namespace filters
} // namespace sluice
