#include "config.h"

#include <sluice/broadcastrooms.h>
#include <sluice/handlers.h>
#include <sluice/processhandler.h>
#include <sluice/router.h>
#include <sluice/server.h>

#include <QtCore/QDir>
#include <QtCore/QFile>
#include <QtCore/QFileInfo>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>

#include <cmath>
#include <limits>

namespace {

constexpr qint64 maxBytes = qint64(1) << 40;

QString quoted(const QString &text)
{
    return u'"' + text + u'"';
}

QString listenText(const Config::Listen &listen)
{
    const QString address = listen.address.toString();
    return address.contains(u':') ? QStringLiteral("[%1]:%2").arg(address).arg(listen.port)
                                  : QStringLiteral("%1:%2").arg(address).arg(listen.port);
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
    return {QStringLiteral("contentType"), QStringLiteral("echo"), QStringLiteral("broadcast")};
}

bool Config::fail(const QString &keyPath, const QString &what)
{
    m_errorString = keyPath.isEmpty() ? QStringLiteral("%1: %2").arg(m_fileName, what)
                                      : QStringLiteral("%1: %2: %3").arg(m_fileName, keyPath, what);
    return false;
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

    // Keys the file may not have: a typo must not be silently ignored.
    const auto checkKeys = [this](const QJsonObject &object, const QString &path,
                                  const QStringList &allowed) {
        for (auto it = object.begin(); it != object.end(); ++it) {
            if (!allowed.contains(it.key())) {
                const QString keyPath = path.isEmpty() ? it.key() : path + u'.' + it.key();
                return fail(keyPath, QStringLiteral("unknown key"));
            }
        }
        return true;
    };
    const auto integer = [this](const QJsonValue &value, const QString &path, qint64 min,
                                qint64 max, qint64 *result) {
        const double number = value.toDouble();
        if (!value.isDouble() || std::floor(number) != number || number < double(min)
            || number > double(max)) {
            return fail(path, QStringLiteral("must be an integer from %1 to %2").arg(min).arg(max));
        }
        *result = qint64(number);
        return true;
    };
    const auto string = [this](const QJsonValue &value, const QString &path, QString *result) {
        if (!value.isString())
            return fail(path, QStringLiteral("must be a string"));
        *result = value.toString();
        return true;
    };
    const auto stringList
            = [this](const QJsonValue &value, const QString &path, QStringList *result) {
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
              };

    if (!checkKeys(top, QString(),
                   {QStringLiteral("listen"), QStringLiteral("root"), QStringLiteral("routes"),
                    QStringLiteral("errors"), QStringLiteral("limits")})) {
        return false;
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
            if (!checkKeys(object, path, {QStringLiteral("address"), QStringLiteral("port")}))
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

    if (top.contains(QStringLiteral("routes"))) {
        if (!top.value(QStringLiteral("routes")).isArray())
            return fail(QStringLiteral("routes"), QStringLiteral("must be an array"));
        const QJsonArray array = top.value(QStringLiteral("routes")).toArray();
        // Mapping onto a scratch router finds what the real one would refuse.
        sluice::Router scratch;
        const sluice::WebSocketHandler noWebSocket = [](sluice::WebSocket *) {
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
                                                  QStringLiteral("subprotocols")})) {
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

            QStringList given;
            for (const QString &kind : kinds) {
                if (object.contains(kind))
                    given.append(kind);
            }
            if (given.size() != 1) {
                return fail(path,
                            QStringLiteral("needs exactly one of handler, exec, forward, redirect "
                                           "(has %1)")
                                    .arg(given.isEmpty() ? QStringLiteral("none")
                                                         : given.join(QStringLiteral(", "))));
            }
            const QString kind = given.first();
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

            if (route.kind == Route::Kind::Handler || route.kind == Route::Kind::Exec) {
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
        struct Field
        {
            const char *name;
            qint64 *value;
        };
        qint64 monitorPayload = m_limits.monitorPayloadBytes;
        const Field fields[] = {
                {"maxHeadBytes", &m_limits.maxHeadBytes},
                {"maxBodyBytes", &m_limits.maxBodyBytes},
                {"responseBufferBytes", &m_limits.responseBufferBytes},
                {"maxWebSocketMessageBytes", &m_limits.maxWebSocketMessageBytes},
                {"monitorPayloadBytes", &monitorPayload},
        };
        QStringList names;
        for (const Field &field : fields)
            names.append(QString::fromLatin1(field.name));
        if (!checkKeys(limits, QStringLiteral("limits"), names))
            return false;
        for (const Field &field : fields) {
            const QString name = QString::fromLatin1(field.name);
            if (!limits.contains(name))
                continue;
            const bool isMonitor = field.value == &monitorPayload;
            if (!integer(limits.value(name), QStringLiteral("limits.") + name, isMonitor ? 0 : 1,
                         isMonitor ? std::numeric_limits<int>::max() : maxBytes, field.value)) {
                return false;
            }
        }
        m_limits.monitorPayloadBytes = int(monitorPayload);
    }
    return true;
}

bool Config::apply(sluice::Server &server, sluice::BroadcastRooms *rooms,
                   QString *errorString) const
{
    const auto failed = [errorString](const QString &why) {
        if (errorString)
            *errorString = why;
        return false;
    };
    server.setLimits(m_limits);
    if (!m_root.isEmpty() && !server.setHome(m_root))
        return failed(QStringLiteral("root: %1").arg(server.errorString()));

    for (const Route &route : m_routes) {
        sluice::MapOptions options;
        options.subprotocols = route.subprotocols;
        bool mapped = false;
        switch (route.kind) {
        case Route::Kind::Handler:
            options.handlerName = route.handler;
            if (route.handler == QLatin1String("contentType")) {
                mapped = server.map(route.uri, sluice::handlers::contentType(), options);
            } else if (route.handler == QLatin1String("echo")) {
                mapped = server.map(route.uri, sluice::handlers::echo(), options);
            } else if (route.handler == QLatin1String("broadcast")) {
                if (!rooms)
                    return failed(QStringLiteral("%1: no chat rooms to join").arg(route.uri));
                mapped = server.map(route.uri, rooms, &sluice::BroadcastRooms::join, options);
            }
            break;
        case Route::Kind::Exec: {
            sluice::ProcessHandler handler(route.exec);
            if (route.maxProcesses > 0)
                handler.setMaxProcesses(route.maxProcesses);
            // Arguments such as "app.log" mean the file next to the config.
            handler.setWorkingDirectory(m_directory);
            options.handlerName = QStringLiteral("exec");
            mapped = server.map(route.uri, sluice::WebSocketHandler(handler), options);
            break;
        }
        case Route::Kind::Forward:
        case Route::Kind::Redirect:
            mapped = server.map(route.uri, route.target, options);
            break;
        }
        if (!mapped)
            return failed(QStringLiteral("%1: %2").arg(route.uri, server.router()->errorString()));
    }
    for (auto it = m_errorPages.begin(); it != m_errorPages.end(); ++it)
        server.mapError(it.key(), it.value());
    return true;
}

QString Config::describe() const
{
    QStringList lines;
    if (!m_fileName.isEmpty())
        lines.append(QStringLiteral("config: %1").arg(m_fileName));
    for (const Listen &listen : m_listen)
        lines.append(QStringLiteral("listen: %1").arg(listenText(listen)));
    if (!m_root.isEmpty())
        lines.append(QStringLiteral("root: %1").arg(m_root));
    for (const Route &route : m_routes) {
        QString line;
        switch (route.kind) {
        case Route::Kind::Handler:
            line = QStringLiteral("route: WebSocket %1 %2").arg(route.uri, route.handler);
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
        lines.append(line);
    }
    for (auto it = m_errorPages.begin(); it != m_errorPages.end(); ++it)
        lines.append(QStringLiteral("error %1: %2").arg(it.key()).arg(it.value()));
    lines.append(QStringLiteral("limits: maxHeadBytes %1, maxBodyBytes %2, responseBufferBytes %3, "
                                "maxWebSocketMessageBytes %4, monitorPayloadBytes %5")
                         .arg(m_limits.maxHeadBytes)
                         .arg(m_limits.maxBodyBytes)
                         .arg(m_limits.responseBufferBytes)
                         .arg(m_limits.maxWebSocketMessageBytes)
                         .arg(m_limits.monitorPayloadBytes));
    return lines.join(u'\n') + u'\n';
}
