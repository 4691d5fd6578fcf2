#include "config.h"

#include <sluice/broadcastrooms.h>
#include <sluice/chain.h>
#include <sluice/handlers.h>
#include <sluice/processhandler.h>
#include <sluice/router.h>
#include <sluice/server.h>
#include <sluice/staticfiles.h>

#include <QtCore/QDir>
#include <QtCore/QFile>
#include <QtCore/QFileInfo>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QRegularExpression>
#include <QtCore/QThread>
#include <QtCore/QUrl>

#include <cmath>
#include <limits>

namespace {

constexpr qint64 maxBytes = qint64(1) << 40;
// More threads than this serve no machine better; the cap catches typos.
constexpr qint64 MaxWorkers = 256;

// The "limits" keys, in the order describe() prints them. Sizes and counts
// must be at least 1; times may be 0 (no timeout).
struct LimitField
{
    const char *name;
    qint64 sluice::Limits::*bytes = nullptr;
    int sluice::Limits::*number = nullptr;
    qint64 minimum = 1;
};
using L = sluice::Limits;
const LimitField limitFields[] = {
        {"maxUriBytes", &L::maxUriBytes},
        {"maxHeadBytes", &L::maxHeadBytes},
        {"maxHeaderCount", nullptr, &L::maxHeaderCount},
        {"maxBodyBytes", &L::maxBodyBytes},
        {"responseBufferBytes", &L::responseBufferBytes},
        {"maxWebSocketFrameBytes", &L::maxWebSocketFrameBytes},
        {"maxWebSocketMessageBytes", &L::maxWebSocketMessageBytes},
        {"maxConnections", nullptr, &L::maxConnections},
        {"maxConnectionsPerAddress", nullptr, &L::maxConnectionsPerAddress},
        {"maxPendingWriteBytes", &L::maxPendingWriteBytes},
        {"headTimeoutMs", nullptr, &L::headTimeoutMs, 0},
        {"bodyTimeoutMs", nullptr, &L::bodyTimeoutMs, 0},
        {"keepAliveTimeoutMs", nullptr, &L::keepAliveTimeoutMs, 0},
        {"sendTimeoutMs", nullptr, &L::sendTimeoutMs, 0},
        {"handshakeTimeoutMs", nullptr, &L::handshakeTimeoutMs, 0},
        {"webSocketPingIntervalMs", nullptr, &L::webSocketPingIntervalMs, 0},
        {"webSocketPongTimeoutMs", nullptr, &L::webSocketPongTimeoutMs, 0},
        {"webSocketCloseTimeoutMs", nullptr, &L::webSocketCloseTimeoutMs, 0},
        {"monitorPayloadBytes", nullptr, &L::monitorPayloadBytes, 0},
};

QString quoted(const QString &text)
{
    return u'"' + text + u'"';
}

QString listenText(const Config::Listen &listen)
{
    const QString address = listen.address.toString();
    const QString text = address.contains(u':')
                                 ? QStringLiteral("[%1]:%2").arg(address).arg(listen.port)
                                 : QStringLiteral("%1:%2").arg(address).arg(listen.port);
    if (!listen.isSecure())
        return text;
    return QStringLiteral("%1 tls certificate %2 key %3")
            .arg(text, listen.tls.certificateFile(), listen.tls.keyFile());
}

// QJsonParseError counts bytes; people count lines and characters.
QString lineColumn(const QByteArray &data, int offset)
{
    const QByteArray before = data.left(qMax(0, offset));
    const int line = int(before.count('\n')) + 1;
    const QByteArray lastLine = before.mid(before.lastIndexOf('\n') + 1);
    const int column = int(QString::fromUtf8(lastLine).size()) + 1;
    return QStringLiteral("%1:%2").arg(line).arg(column);
}

} // namespace

QStringList Config::knownHandlers()
{
    return webSocketHandlers() + QStringList {QStringLiteral("hello")};
}

QStringList Config::webSocketHandlers()
{
    return {QStringLiteral("contentType"), QStringLiteral("echo"), QStringLiteral("broadcast")};
}

bool Config::fail(const QString &keyPath, const QString &what)
{
    m_errorString = keyPath.isEmpty() ? QStringLiteral("%1: %2").arg(m_fileName, what)
                                      : QStringLiteral("%1: %2: %3").arg(m_fileName, keyPath, what);
    return false;
}

bool Config::checkKeys(const QJsonObject &object, const QString &path, const QStringList &allowed)
{
    // A typo must not be silently ignored.
    for (auto it = object.begin(); it != object.end(); ++it) {
        if (!allowed.contains(it.key())) {
            const QString keyPath = path.isEmpty() ? it.key() : path + u'.' + it.key();
            return fail(keyPath, QStringLiteral("unknown key"));
        }
    }
    return true;
}

bool Config::exactlyOne(const QJsonObject &object, const QString &path, const QStringList &keys,
                        QString *key)
{
    QStringList given;
    for (const QString &candidate : keys) {
        if (object.contains(candidate))
            given.append(candidate);
    }
    if (given.size() != 1) {
        return fail(path, QStringLiteral("needs exactly one of %1 (has %2)")
                                  .arg(keys.join(QStringLiteral(", ")),
                                       given.isEmpty() ? QStringLiteral("none")
                                                       : given.join(QStringLiteral(", "))));
    }
    *key = given.first();
    return true;
}

bool Config::integer(const QJsonValue &value, const QString &path, qint64 min, qint64 max,
                     qint64 *result)
{
    const double number = value.toDouble();
    if (!value.isDouble() || std::floor(number) != number || number < double(min)
        || number > double(max)) {
        return fail(path, QStringLiteral("must be an integer from %1 to %2").arg(min).arg(max));
    }
    *result = qint64(number);
    return true;
}

bool Config::loadWebSocketEngine(const QJsonValue &value)
{
    const QString name = value.toString();
    if (value.isString() && name == QLatin1String("sluice"))
        m_webSocketEngine = sluice::Server::WebSocketEngine::Sluice;
    else if (value.isString() && name == QLatin1String("qt"))
        m_webSocketEngine = sluice::Server::WebSocketEngine::Qt;
    else
        return fail(QStringLiteral("webSocketEngine"),
                    QStringLiteral("must be \"sluice\" or \"qt\""));
    return true;
}

// "compression": true, false, or an object of WebSocketCompression's fields.
bool Config::loadCompression(const QJsonValue &value, const QString &path,
                             sluice::WebSocketCompression *compression)
{
    *compression = sluice::WebSocketCompression();
    if (value.isBool()) {
        compression->enabled = value.toBool();
        return true;
    }
    if (!value.isObject())
        return fail(path, QStringLiteral("must be true, false or an object"));
    const QJsonObject object = value.toObject();
    struct Number
    {
        const char *key;
        qint64 min;
        qint64 max;
    };
    static const Number numbers[] = {{"threshold", 1, qint64(1) << 40},
                                     {"level", 1, 9},
                                     {"serverMaxWindowBits", 8, 15},
                                     {"clientMaxWindowBits", 8, 15},
                                     {"memLevel", 1, 9}};
    static const char *const flags[]
            = {"enabled", "serverContextTakeover", "clientContextTakeover"};
    QStringList allowed;
    for (const Number &number : numbers)
        allowed.append(QLatin1String(number.key));
    for (const char *flag : flags)
        allowed.append(QLatin1String(flag));
    if (!checkKeys(object, path, allowed))
        return false;
    qint64 parsed[std::size(numbers)];
    for (size_t i = 0; i < std::size(numbers); ++i) {
        const QString key = QLatin1String(numbers[i].key);
        parsed[i] = -1;
        if (object.contains(key)
            && !integer(object.value(key), path + u'.' + key, numbers[i].min, numbers[i].max,
                        &parsed[i]))
            return false;
    }
    for (const char *flag : flags) {
        const QString key = QLatin1String(flag);
        if (object.contains(key) && !object.value(key).isBool())
            return fail(path + u'.' + key, QStringLiteral("must be true or false"));
    }
    compression->enabled = object.value(QStringLiteral("enabled")).toBool(true);
    compression->serverContextTakeover
            = object.value(QStringLiteral("serverContextTakeover")).toBool();
    compression->clientContextTakeover
            = object.value(QStringLiteral("clientContextTakeover")).toBool();
    if (parsed[0] >= 0)
        compression->thresholdBytes = parsed[0];
    if (parsed[1] >= 0)
        compression->level = int(parsed[1]);
    if (parsed[2] >= 0)
        compression->serverMaxWindowBits = int(parsed[2]);
    if (parsed[3] >= 0)
        compression->clientMaxWindowBits = int(parsed[3]);
    if (parsed[4] >= 0)
        compression->memLevel = int(parsed[4]);
    return true;
}

bool Config::string(const QJsonValue &value, const QString &path, QString *result)
{
    if (!value.isString())
        return fail(path, QStringLiteral("must be a string"));
    *result = value.toString();
    return true;
}

bool Config::stringList(const QJsonValue &value, const QString &path, QStringList *result)
{
    if (!value.isArray())
        return fail(path, QStringLiteral("must be an array of strings"));
    const QJsonArray array = value.toArray();
    for (qsizetype i = 0; i < array.size(); ++i) {
        if (!array.at(i).isString() || array.at(i).toString().isEmpty()) {
            return fail(QStringLiteral("%1[%2]").arg(path).arg(i),
                        QStringLiteral("must be a non-empty string"));
        }
        result->append(array.at(i).toString());
    }
    return true;
}

bool Config::origins(const QJsonValue &value, const QString &path, bool allowAny, bool allowSelf,
                     QStringList *result)
{
    QStringList list;
    if (!stringList(value, path, &list))
        return false;
    if (list.isEmpty())
        return fail(path, QStringLiteral("must list at least one origin"));
    for (qsizetype i = 0; i < list.size(); ++i) {
        const QString &entry = list.at(i);
        if ((allowAny && entry == u'*') || (allowSelf && entry == QLatin1String("self")))
            continue;
        // An origin is a scheme, a host and maybe a port: nothing more.
        const QUrl url(entry, QUrl::StrictMode);
        const QString scheme = url.scheme();
        const bool web = scheme == QLatin1String("http") || scheme == QLatin1String("https");
        if (!url.isValid() || !web || url.host().isEmpty() || !url.userInfo().isEmpty()
            || !(url.path().isEmpty() || url.path() == u'/') || url.hasQuery()
            || url.hasFragment()) {
            QStringList forms {QStringLiteral("\"https://host[:port]\"")};
            if (allowSelf)
                forms.append(QStringLiteral("\"self\""));
            if (allowAny)
                forms.append(QStringLiteral("\"*\""));
            return fail(QStringLiteral("%1[%2]").arg(path).arg(i),
                        QStringLiteral("not an origin (%1): %2")
                                .arg(forms.join(QStringLiteral(" or ")), quoted(entry)));
        }
    }
    *result = list;
    return true;
}

bool Config::load(const QString &fileName)
{
    *this = Config();
    m_fileName = fileName;
    m_directory = QFileInfo(fileName).absolutePath();

    QFile file(fileName);
    if (!file.open(QIODevice::ReadOnly))
        return fail(QString(), QStringLiteral("cannot read: %1").arg(file.errorString()));
    const QByteArray data = file.readAll();

    QJsonParseError parseError;
    const QJsonDocument document = QJsonDocument::fromJson(data, &parseError);
    if (parseError.error != QJsonParseError::NoError) {
        m_errorString = QStringLiteral("%1:%2: %3")
                                .arg(fileName, lineColumn(data, parseError.offset),
                                     parseError.errorString());
        return false;
    }
    if (!document.isObject())
        return fail(QString(), QStringLiteral("must be a JSON object"));
    const QJsonObject top = document.object();

    if (!checkKeys(top, QString(),
                   {QStringLiteral("listen"), QStringLiteral("root"), QStringLiteral("filters"),
                    QStringLiteral("routes"), QStringLiteral("errors"), QStringLiteral("limits"),
                    QStringLiteral("workers"), QStringLiteral("webSocketEngine")})) {
        return false;
    }
    if (top.contains(QStringLiteral("webSocketEngine"))
        && !loadWebSocketEngine(top.value(QStringLiteral("webSocketEngine"))))
        return false;
    if (top.contains(QStringLiteral("workers"))) {
        qint64 workers = 0;
        if (!integer(top.value(QStringLiteral("workers")), QStringLiteral("workers"), 0, MaxWorkers,
                     &workers))
            return false;
        m_workers = int(workers);
    }

    if (top.contains(QStringLiteral("listen"))) {
        const QJsonValue listen = top.value(QStringLiteral("listen"));
        if (!listen.isArray() || listen.toArray().isEmpty())
            return fail(QStringLiteral("listen"), QStringLiteral("must be a non-empty array"));
        const QJsonArray array = listen.toArray();
        for (qsizetype i = 0; i < array.size(); ++i) {
            const QString path = QStringLiteral("listen[%1]").arg(i);
            if (!array.at(i).isObject())
                return fail(path, QStringLiteral("must be an object"));
            const QJsonObject object = array.at(i).toObject();
            if (!checkKeys(
                        object, path,
                        {QStringLiteral("address"), QStringLiteral("port"), QStringLiteral("tls")}))
                return false;
            Listen entry;
            entry.address = QHostAddress(QHostAddress::Any);
            if (object.contains(QStringLiteral("address"))) {
                QString address;
                if (!string(object.value(QStringLiteral("address")),
                            path + QStringLiteral(".address"), &address))
                    return false;
                if (!entry.address.setAddress(address)) {
                    return fail(
                            path + QStringLiteral(".address"),
                            QStringLiteral("not an IPv4 or IPv6 address: %1").arg(quoted(address)));
                }
            }
            if (object.contains(QStringLiteral("port"))) {
                qint64 port = 0;
                if (!integer(object.value(QStringLiteral("port")), path + QStringLiteral(".port"),
                             0, 65535, &port)) {
                    return false;
                }
                entry.port = quint16(port);
            }
            if (object.contains(QStringLiteral("tls"))
                && !loadTls(object.value(QStringLiteral("tls")), path + QStringLiteral(".tls"),
                            &entry.tls)) {
                return false;
            }
            m_listen.append(entry);
        }
    }

    if (top.contains(QStringLiteral("root"))) {
        QString root;
        if (!string(top.value(QStringLiteral("root")), QStringLiteral("root"), &root))
            return false;
        if (!root.startsWith(QStringLiteral(":/")))
            root = QDir::cleanPath(QDir(m_directory).absoluteFilePath(root));
        const QFileInfo info(root);
        if (root.isEmpty() || !info.isDir() || !info.isReadable()) {
            return fail(QStringLiteral("root"),
                        QStringLiteral("not a readable directory: %1").arg(root));
        }
        m_root = root;
    }

    if (top.contains(QStringLiteral("filters"))
        && !loadFilters(top.value(QStringLiteral("filters"))))
        return false;

    if (top.contains(QStringLiteral("routes"))) {
        if (!top.value(QStringLiteral("routes")).isArray())
            return fail(QStringLiteral("routes"), QStringLiteral("must be an array"));
        const QJsonArray array = top.value(QStringLiteral("routes")).toArray();
        // Mapping onto a scratch router finds what the real one would refuse.
        sluice::Router scratch;
        const sluice::WebSocketHandler noWebSocket = [](sluice::WebSocket *) {
        };
        const sluice::HttpHandler noHttp = [](sluice::HttpConnect &) {
        };
        const QStringList kinds = {QStringLiteral("handler"), QStringLiteral("exec"),
                                   QStringLiteral("forward"), QStringLiteral("redirect")};
        for (qsizetype i = 0; i < array.size(); ++i) {
            const QString path = QStringLiteral("routes[%1]").arg(i);
            if (!array.at(i).isObject())
                return fail(path, QStringLiteral("must be an object"));
            const QJsonObject object = array.at(i).toObject();
            if (!checkKeys(object, path,
                           kinds
                                   + QStringList {QStringLiteral("uri"),
                                                  QStringLiteral("maxProcesses"),
                                                  QStringLiteral("subprotocols"),
                                                  QStringLiteral("origins"),
                                                  QStringLiteral("compression")})) {
                return false;
            }
            Route route;
            if (!object.contains(QStringLiteral("uri")))
                return fail(path + QStringLiteral(".uri"), QStringLiteral("missing"));
            if (!string(object.value(QStringLiteral("uri")), path + QStringLiteral(".uri"),
                        &route.uri))
                return false;
            const sluice::Route parsed(route.uri);
            if (!parsed.isValid())
                return fail(path + QStringLiteral(".uri"), parsed.errorString());

            QString kind;
            if (!exactlyOne(object, path, kinds, &kind))
                return false;
            const QString kindPath = path + u'.' + kind;
            const QJsonValue value = object.value(kind);
            if (kind == QLatin1String("handler")) {
                route.kind = Route::Kind::Handler;
                if (!string(value, kindPath, &route.handler))
                    return false;
                if (!knownHandlers().contains(route.handler)) {
                    return fail(kindPath, QStringLiteral("unknown handler %1 (known: %2)")
                                                  .arg(quoted(route.handler),
                                                       knownHandlers().join(QStringLiteral(", "))));
                }
                const bool forWebSocket = webSocketHandlers().contains(route.handler);
                if (forWebSocket != parsed.isWebSocket()) {
                    return fail(kindPath,
                                forWebSocket ? QStringLiteral("%1 is a WebSocket handler: the uri "
                                                              "needs \"ws:\"")
                                                       .arg(quoted(route.handler))
                                             : QStringLiteral("%1 is an HTTP handler: the uri "
                                                              "cannot be \"ws:\"")
                                                       .arg(quoted(route.handler)));
                }
            } else if (kind == QLatin1String("exec")) {
                route.kind = Route::Kind::Exec;
                if (!stringList(value, kindPath, &route.exec))
                    return false;
                if (route.exec.isEmpty())
                    return fail(kindPath, QStringLiteral("must name a program"));
                // A bare name goes through PATH as in a shell; a relative
                // path is relative to the config file, like root.
                QString &program = route.exec.first();
                if (program.contains(u'/') && QDir::isRelativePath(program))
                    program = QDir::cleanPath(QDir(m_directory).absoluteFilePath(program));
            } else {
                route.kind = kind == QLatin1String("forward") ? Route::Kind::Forward
                                                              : Route::Kind::Redirect;
                if (!string(value, kindPath, &route.target))
                    return false;
            }

            if (object.contains(QStringLiteral("maxProcesses"))) {
                if (route.kind != Route::Kind::Exec) {
                    return fail(path + QStringLiteral(".maxProcesses"),
                                QStringLiteral("only for exec routes"));
                }
                qint64 count = 0;
                if (!integer(object.value(QStringLiteral("maxProcesses")),
                             path + QStringLiteral(".maxProcesses"), 1, 100000, &count)) {
                    return false;
                }
                route.maxProcesses = int(count);
            }
            if (object.contains(QStringLiteral("subprotocols"))) {
                if (!parsed.isWebSocket()) {
                    return fail(path + QStringLiteral(".subprotocols"),
                                QStringLiteral("only for ws: routes"));
                }
                if (!stringList(object.value(QStringLiteral("subprotocols")),
                                path + QStringLiteral(".subprotocols"), &route.subprotocols)) {
                    return false;
                }
            }

            if (object.contains(QStringLiteral("compression"))) {
                const QString keyPath = path + QStringLiteral(".compression");
                if (!parsed.isWebSocket())
                    return fail(keyPath, QStringLiteral("only for ws: routes"));
                if (!loadCompression(object.value(QStringLiteral("compression")), keyPath,
                                     &route.compression))
                    return false;
            }

            if (object.contains(QStringLiteral("origins"))) {
                if (!parsed.isWebSocket()) {
                    return fail(path + QStringLiteral(".origins"),
                                QStringLiteral("only for ws: routes"));
                }
                if (!origins(object.value(QStringLiteral("origins")),
                             path + QStringLiteral(".origins"), false, true, &route.origins)) {
                    return false;
                }
            }

            if (route.kind == Route::Kind::Handler && !parsed.isWebSocket()) {
                if (!scratch.map(route.uri, noHttp))
                    return fail(path + QStringLiteral(".uri"), scratch.errorString());
            } else if (route.kind == Route::Kind::Handler || route.kind == Route::Kind::Exec) {
                if (!scratch.map(route.uri, noWebSocket))
                    return fail(path + QStringLiteral(".uri"), scratch.errorString());
            } else {
                if (!scratch.map(route.uri, route.target))
                    return fail(path + QStringLiteral(".uri"), scratch.errorString());
                // The router tells a redirect from a forward by the scheme.
                const sluice::Route::Kind mapped = scratch.routes().last().kind();
                if (route.kind == Route::Kind::Forward && mapped != sluice::Route::Kind::Forward) {
                    return fail(kindPath, QStringLiteral("%1 is a URL: use \"redirect\"")
                                                  .arg(quoted(route.target)));
                }
                if (route.kind == Route::Kind::Redirect
                    && mapped != sluice::Route::Kind::Redirect) {
                    return fail(kindPath,
                                QStringLiteral("%1 has no scheme: a redirect needs an absolute "
                                               "URL such as \"https://example.com/\" (use "
                                               "\"forward\" for a path on this server)")
                                        .arg(quoted(route.target)));
                }
            }
            m_routes.append(route);
        }
    }

    if (top.contains(QStringLiteral("errors"))) {
        if (!top.value(QStringLiteral("errors")).isObject())
            return fail(QStringLiteral("errors"), QStringLiteral("must be an object"));
        const QJsonObject errors = top.value(QStringLiteral("errors")).toObject();
        for (auto it = errors.begin(); it != errors.end(); ++it) {
            const QString path = QStringLiteral("errors.") + it.key();
            bool ok = false;
            const int status = it.key().toInt(&ok);
            if (!ok || status < 400 || status > 599)
                return fail(path, QStringLiteral("not an HTTP error status (400 to 599)"));
            QString uri;
            if (!string(it.value(), path, &uri))
                return false;
            if (!uri.startsWith(u'/'))
                return fail(path, QStringLiteral("must be a path starting with \"/\""));
            m_errorPages.insert(status, uri);
        }
    }

    if (top.contains(QStringLiteral("limits"))) {
        if (!top.value(QStringLiteral("limits")).isObject())
            return fail(QStringLiteral("limits"), QStringLiteral("must be an object"));
        const QJsonObject limits = top.value(QStringLiteral("limits")).toObject();
        QStringList names;
        for (const LimitField &field : limitFields)
            names.append(QString::fromLatin1(field.name));
        if (!checkKeys(limits, QStringLiteral("limits"), names))
            return false;
        for (const LimitField &field : limitFields) {
            const QString name = QString::fromLatin1(field.name);
            if (!limits.contains(name))
                continue;
            qint64 value = 0;
            const qint64 maximum = field.bytes ? maxBytes : std::numeric_limits<int>::max();
            if (!integer(limits.value(name), QStringLiteral("limits.") + name, field.minimum,
                         maximum, &value)) {
                return false;
            }
            if (field.bytes)
                m_limits.*field.bytes = value;
            else
                m_limits.*field.number = int(value);
        }
    }
    return true;
}

bool Config::loadTls(const QJsonValue &value, const QString &path, sluice::TlsConfiguration *tls)
{
    if (!value.isObject())
        return fail(path, QStringLiteral("must be an object with \"certificate\" and \"key\""));
    const QJsonObject object = value.toObject();
    if (!checkKeys(object, path, {QStringLiteral("certificate"), QStringLiteral("key")}))
        return false;
    QString files[2];
    const QString keys[2] = {QStringLiteral("certificate"), QStringLiteral("key")};
    for (int i = 0; i < 2; ++i) {
        if (!object.contains(keys[i]))
            return fail(path + u'.' + keys[i], QStringLiteral("missing (a PEM file)"));
        if (!string(object.value(keys[i]), path + u'.' + keys[i], &files[i]))
            return false;
        if (files[i].isEmpty())
            return fail(path + u'.' + keys[i], QStringLiteral("must name a PEM file"));
        files[i] = QDir::cleanPath(QDir(m_directory).absoluteFilePath(files[i]));
    }
    if (tls->load(files[0], files[1]))
        return true;
    switch (tls->error()) {
    case sluice::TlsConfiguration::Error::CertificateError:
        return fail(path + QStringLiteral(".certificate"), tls->errorString());
    case sluice::TlsConfiguration::Error::KeyError:
    case sluice::TlsConfiguration::Error::MismatchError:
        return fail(path + QStringLiteral(".key"), tls->errorString());
    default:
        return fail(path, tls->errorString());
    }
}

bool Config::loadFilters(const QJsonValue &value)
{
    if (!value.isArray())
        return fail(QStringLiteral("filters"), QStringLiteral("must be an array"));
    const QJsonArray array = value.toArray();
    sluice::Router scratch;
    const QStringList kinds
            = {QStringLiteral("origins"), QStringLiteral("basicAuth"), QStringLiteral("cors")};
    for (qsizetype i = 0; i < array.size(); ++i) {
        const QString path = QStringLiteral("filters[%1]").arg(i);
        if (!array.at(i).isObject())
            return fail(path, QStringLiteral("must be an object"));
        const QJsonObject object = array.at(i).toObject();
        if (!checkKeys(object, path, kinds + QStringList {QStringLiteral("uri")}))
            return false;
        Filter filter;
        if (!object.contains(QStringLiteral("uri")))
            return fail(path + QStringLiteral(".uri"), QStringLiteral("missing"));
        if (!string(object.value(QStringLiteral("uri")), path + QStringLiteral(".uri"),
                    &filter.uri)) {
            return false;
        }
        if (!scratch.filter(filter.uri, [](sluice::HttpConnect &, sluice::Chain) {}))
            return fail(path + QStringLiteral(".uri"), scratch.errorString());

        QString kind;
        if (!exactlyOne(object, path, kinds, &kind))
            return false;
        const QString kindPath = path + u'.' + kind;
        const QJsonValue settings = object.value(kind);
        if (kind == QLatin1String("origins")) {
            filter.kind = Filter::Kind::Origins;
            if (!origins(settings, kindPath, false, true, &filter.origins))
                return false;
        } else if (kind == QLatin1String("basicAuth")) {
            filter.kind = Filter::Kind::BasicAuth;
            if (!settings.isObject())
                return fail(kindPath, QStringLiteral("must be an object"));
            const QJsonObject auth = settings.toObject();
            if (!checkKeys(auth, kindPath,
                           {QStringLiteral("realm"), QStringLiteral("passwordFile")})) {
                return false;
            }
            filter.realm = QStringLiteral("Sluice");
            if (auth.contains(QStringLiteral("realm"))
                && !string(auth.value(QStringLiteral("realm")), kindPath + QStringLiteral(".realm"),
                           &filter.realm)) {
                return false;
            }
            const QString filePath = kindPath + QStringLiteral(".passwordFile");
            if (!auth.contains(QStringLiteral("passwordFile")))
                return fail(filePath, QStringLiteral("missing"));
            QString passwordFile;
            if (!string(auth.value(QStringLiteral("passwordFile")), filePath, &passwordFile))
                return false;
            passwordFile = QDir::cleanPath(QDir(m_directory).absoluteFilePath(passwordFile));
            if (!filter.passwords.load(passwordFile))
                return fail(filePath, filter.passwords.errorString());
        } else {
            filter.kind = Filter::Kind::Cors;
            if (!settings.isObject())
                return fail(kindPath, QStringLiteral("must be an object"));
            const QJsonObject cors = settings.toObject();
            if (!checkKeys(cors, kindPath,
                           {QStringLiteral("origins"), QStringLiteral("methods"),
                            QStringLiteral("headers"), QStringLiteral("exposedHeaders"),
                            QStringLiteral("credentials"), QStringLiteral("maxAge")})) {
                return false;
            }
            if (!cors.contains(QStringLiteral("origins")))
                return fail(kindPath + QStringLiteral(".origins"), QStringLiteral("missing"));
            if (!origins(cors.value(QStringLiteral("origins")),
                         kindPath + QStringLiteral(".origins"), true, false,
                         &filter.cors.origins)) {
                return false;
            }
            // Header names and methods are tokens (RFC 9110 5.6.2).
            static const QRegularExpression token(QStringLiteral("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"));
            const auto tokens = [&](const QString &key, QByteArrayList *result) {
                if (!cors.contains(key))
                    return true;
                QStringList list;
                if (!stringList(cors.value(key), kindPath + u'.' + key, &list))
                    return false;
                result->clear();
                for (qsizetype j = 0; j < list.size(); ++j) {
                    if (!token.match(list.at(j)).hasMatch()) {
                        return fail(QStringLiteral("%1.%2[%3]").arg(kindPath, key).arg(j),
                                    QStringLiteral("not a token: %1").arg(quoted(list.at(j))));
                    }
                    result->append(list.at(j).toLatin1());
                }
                return true;
            };
            if (!tokens(QStringLiteral("methods"), &filter.cors.methods)
                || !tokens(QStringLiteral("headers"), &filter.cors.headers)
                || !tokens(QStringLiteral("exposedHeaders"), &filter.cors.exposedHeaders)) {
                return false;
            }
            if (cors.contains(QStringLiteral("credentials"))) {
                const QJsonValue credentials = cors.value(QStringLiteral("credentials"));
                if (!credentials.isBool()) {
                    return fail(kindPath + QStringLiteral(".credentials"),
                                QStringLiteral("must be true or false"));
                }
                filter.cors.credentials = credentials.toBool();
                // Browsers refuse credentials with a wildcard origin.
                if (filter.cors.credentials && filter.cors.origins.contains(QStringLiteral("*"))) {
                    return fail(kindPath + QStringLiteral(".credentials"),
                                QStringLiteral("cannot be true with the origin \"*\" (browsers "
                                               "refuse it): list the origins"));
                }
            }
            if (cors.contains(QStringLiteral("maxAge"))) {
                qint64 maxAge = 0;
                if (!integer(cors.value(QStringLiteral("maxAge")),
                             kindPath + QStringLiteral(".maxAge"), 0, 86400, &maxAge)) {
                    return false;
                }
                filter.cors.maxAgeSeconds = int(maxAge);
            }
        }
        m_filters.append(filter);
    }
    return true;
}

bool Config::apply(sluice::Router &router, sluice::BroadcastRooms *rooms,
                   QString *errorString) const
{
    const auto failed = [errorString](const QString &why) {
        if (errorString)
            *errorString = why;
        return false;
    };
    if (!m_root.isEmpty()) {
        const sluice::StaticFiles files(m_root);
        if (!files.isValid())
            return failed(QStringLiteral("root: %1 is not a readable directory").arg(m_root));
        router.setFallback(files, QStringLiteral("static %1").arg(m_root));
    }

    for (const Filter &filter : m_filters) {
        sluice::Filter function;
        switch (filter.kind) {
        case Filter::Kind::Origins:
            function = sluice::filters::allowOrigins(filter.origins);
            break;
        case Filter::Kind::BasicAuth:
            function = sluice::filters::basicAuth(filter.passwords, filter.realm);
            break;
        case Filter::Kind::Cors:
            function = sluice::filters::cors(filter.cors);
            break;
        }
        if (!router.filter(filter.uri, function))
            return failed(QStringLiteral("%1: %2").arg(filter.uri, router.errorString()));
    }

    for (const Route &route : m_routes) {
        sluice::MapOptions options;
        options.subprotocols = route.subprotocols;
        options.compression = route.compression;
        if (!route.origins.isEmpty())
            options.filters.append(sluice::filters::allowOrigins(route.origins));
        bool mapped = false;
        switch (route.kind) {
        case Route::Kind::Handler:
            options.handlerName = route.handler;
            if (route.handler == QLatin1String("contentType")) {
                mapped = router.map(route.uri, sluice::handlers::contentType(), options);
            } else if (route.handler == QLatin1String("echo")) {
                mapped = router.map(route.uri, sluice::handlers::echo(), options);
            } else if (route.handler == QLatin1String("broadcast")) {
                if (!rooms)
                    return failed(QStringLiteral("%1: no chat rooms to join").arg(route.uri));
                mapped = router.map(route.uri, rooms, &sluice::BroadcastRooms::join, options);
            } else if (route.handler == QLatin1String("hello")) {
                mapped = router.map(route.uri, sluice::handlers::hello(), options);
            }
            break;
        case Route::Kind::Exec: {
            sluice::ProcessHandler handler(route.exec);
            if (route.maxProcesses > 0)
                handler.setMaxProcesses(route.maxProcesses);
            // Arguments such as "app.log" mean the file next to the config.
            handler.setWorkingDirectory(m_directory);
            options.handlerName = QStringLiteral("exec");
            // Busy is said with 503 before the upgrade, not 1013 after it.
            options.filters.append(handler.admission());
            mapped = router.map(route.uri, sluice::WebSocketHandler(handler), options);
            break;
        }
        case Route::Kind::Forward:
        case Route::Kind::Redirect:
            mapped = router.map(route.uri, route.target, options);
            break;
        }
        if (!mapped)
            return failed(QStringLiteral("%1: %2").arg(route.uri, router.errorString()));
    }
    for (auto it = m_errorPages.begin(); it != m_errorPages.end(); ++it)
        router.mapError(it.key(), it.value());
    return true;
}

bool Config::apply(sluice::Server &server, sluice::BroadcastRooms *rooms,
                   QString *errorString) const
{
    sluice::Router scratch;
    if (!apply(scratch, rooms, errorString))
        return false;
    // Without a root of its own the server keeps the files it serves.
    if (m_root.isEmpty())
        scratch.setFallback(server.router()->fallback(), server.router()->fallbackName());
    server.router()->replace(scratch);
    server.setLimits(m_limits);
    if (m_webSocketEngine)
        server.setWebSocketEngine(*m_webSocketEngine);
    return true;
}

namespace {
QString compressionText(const sluice::WebSocketCompression &compression)
{
    QStringList parts {QStringLiteral("threshold %1 B").arg(compression.thresholdBytes),
                       QStringLiteral("level %1").arg(compression.level)};
    if (compression.serverContextTakeover)
        parts.append(QStringLiteral("server context takeover (window %1 bits)")
                             .arg(compression.serverMaxWindowBits));
    if (compression.clientContextTakeover)
        parts.append(QStringLiteral("client context takeover (window %1 bits)")
                             .arg(compression.clientMaxWindowBits));
    return QStringLiteral(" (%1)").arg(parts.join(QStringLiteral(", ")));
}
} // namespace

QString Config::describe() const
{
    QStringList lines;
    if (!m_fileName.isEmpty())
        lines.append(QStringLiteral("config: %1").arg(m_fileName));
    for (const Listen &listen : m_listen)
        lines.append(QStringLiteral("listen: %1").arg(listenText(listen)));
    lines.append(m_workers > 0 ? QStringLiteral("workers: %1").arg(m_workers)
                               : QStringLiteral("workers: one per core (%1)")
                                         .arg(QThread::idealThreadCount()));
    if (m_webSocketEngine) {
        lines.append(QStringLiteral("webSocketEngine: %1")
                             .arg(*m_webSocketEngine == sluice::Server::WebSocketEngine::Qt
                                          ? QStringLiteral("qt")
                                          : QStringLiteral("sluice")));
    }
    if (!m_root.isEmpty())
        lines.append(QStringLiteral("root: %1").arg(m_root));
    for (const Filter &filter : m_filters) {
        switch (filter.kind) {
        case Filter::Kind::Origins:
            lines.append(QStringLiteral("filter: origins %1 %2")
                                 .arg(filter.uri, filter.origins.join(u',')));
            break;
        case Filter::Kind::BasicAuth:
            lines.append(QStringLiteral("filter: basicAuth %1 realm %2, %3 users from %4")
                                 .arg(filter.uri, quoted(filter.realm))
                                 .arg(filter.passwords.users().size())
                                 .arg(filter.passwords.fileName()));
            break;
        case Filter::Kind::Cors:
            lines.append(QStringLiteral("filter: cors %1 %2 methods %3%4")
                                 .arg(filter.uri, filter.cors.origins.join(u','),
                                      QString::fromLatin1(filter.cors.methods.join(',')),
                                      filter.cors.credentials ? QStringLiteral(" credentials")
                                                              : QString()));
            break;
        }
    }
    for (const Route &route : m_routes) {
        QString line;
        switch (route.kind) {
        case Route::Kind::Handler:
            line = QStringLiteral("route: %1 %2 %3")
                           .arg(webSocketHandlers().contains(route.handler)
                                        ? QStringLiteral("WebSocket")
                                        : QStringLiteral("HTTP"),
                                route.uri, route.handler);
            break;
        case Route::Kind::Exec:
            line = QStringLiteral("route: WebSocket %1 exec %2")
                           .arg(route.uri, route.exec.join(u' '));
            if (route.maxProcesses > 0)
                line += QStringLiteral(" (at most %1 processes)").arg(route.maxProcesses);
            break;
        case Route::Kind::Forward:
            line = QStringLiteral("route: forward %1 %2").arg(route.uri, route.target);
            break;
        case Route::Kind::Redirect:
            line = QStringLiteral("route: redirect %1 %2").arg(route.uri, route.target);
            break;
        }
        if (!route.subprotocols.isEmpty())
            line += QStringLiteral(" subprotocols %1").arg(route.subprotocols.join(u','));
        if (!route.origins.isEmpty())
            line += QStringLiteral(" origins %1").arg(route.origins.join(u','));
        if (route.compression.enabled)
            line += QStringLiteral(" compression") + compressionText(route.compression);
        lines.append(line);
    }
    for (auto it = m_errorPages.begin(); it != m_errorPages.end(); ++it)
        lines.append(QStringLiteral("error %1: %2").arg(it.key()).arg(it.value()));
    QStringList limits;
    for (const LimitField &field : limitFields) {
        const qint64 value = field.bytes ? m_limits.*field.bytes : m_limits.*field.number;
        limits.append(QStringLiteral("%1 %2").arg(QLatin1String(field.name)).arg(value));
    }
    lines.append(QStringLiteral("limits: ") + limits.join(QStringLiteral(", ")));
    return lines.join(u'\n') + u'\n';
}
