// The JSON config of the sluice app: one file describes a whole server.
// load() validates everything up front (keys, types, regexes, handler names,
// root) so that a bad file is refused before anything listens.

#ifndef SLUICE_APP_CONFIG_H
#define SLUICE_APP_CONFIG_H

#include <sluice/filters.h>
#include <sluice/limits.h>
#include <sluice/passwordfile.h>
#include <sluice/server.h>
#include <sluice/tlsconfiguration.h>
#include <sluice/websocketcompression.h>

#include <QtCore/QJsonObject>
#include <QtCore/QJsonValue>
#include <QtCore/QList>
#include <QtCore/QMap>
#include <QtCore/QString>
#include <QtCore/QStringList>
#include <QtNetwork/QHostAddress>

#include <optional>

namespace sluice {
class BroadcastRooms;
class Router;
} // namespace sluice

class Config
{
public:
    struct Listen
    {
        QHostAddress address;
        quint16 port = 8080;
        sluice::TlsConfiguration tls; // loaded from "tls"; null: plain HTTP
        bool isSecure() const { return !tls.isNull(); }
    };

    struct Route
    {
        enum class Kind { Handler, Exec, Forward, Redirect };
        QString uri;
        Kind kind = Kind::Handler;
        QString handler; // Kind::Handler
        QStringList exec; // Kind::Exec, program resolved
        int maxProcesses = 0; // Kind::Exec, 0 = ProcessHandler's default
        QString target; // Kind::Forward and Kind::Redirect
        QStringList subprotocols;
        QStringList origins; // ws: routes: the Origin allow-list, empty = any
        sluice::WebSocketCompression compression; // ws: routes
    };

    struct Filter
    {
        enum class Kind { Origins, BasicAuth, Cors };
        QString uri; // the filter's path regex
        Kind kind = Kind::Origins;
        QStringList origins; // Kind::Origins
        QString realm; // Kind::BasicAuth
        sluice::PasswordFile passwords; // Kind::BasicAuth, loaded
        sluice::CorsPolicy cors; // Kind::Cors
    };

    // Built-in handlers by name; webSocketHandlers() need ws: routes.
    static QStringList knownHandlers();
    static QStringList webSocketHandlers();

    // Reads and validates fileName; on failure errorString() says
    // "<file>: <key path>: <what is wrong>".
    bool load(const QString &fileName);
    QString errorString() const { return m_errorString; }

    QString fileName() const { return m_fileName; }
    QString directory() const { return m_directory; } // relative paths resolve here

    QList<Listen> listen() const { return m_listen; } // empty: not in the file
    void setListen(const QList<Listen> &listen) { m_listen = listen; }
    QString root() const { return m_root; } // absolute, or ":/..."; empty: not in the file
    void setRoot(const QString &root) { m_root = root; }
    QList<Route> routes() const { return m_routes; }
    QList<Filter> filters() const { return m_filters; }
    QMap<int, QString> errorPages() const { return m_errorPages; }
    sluice::Limits limits() const { return m_limits; }
    // Worker threads (Server::setWorkerCount()); 0: one per core. Read at
    // start only: a reload keeps the threads the server has.
    int workers() const { return m_workers; }
    void setWorkers(int workers) { m_workers = workers; }
    // "webSocketEngine"; unset: the server's default.
    std::optional<sluice::Server::WebSocketEngine> webSocketEngine() const
    {
        return m_webSocketEngine;
    }

    // Maps the filters, routes, error pages and root onto router (which
    // should be empty). rooms serves the "broadcast" handler.
    bool apply(sluice::Router &router, sluice::BroadcastRooms *rooms,
               QString *errorString = nullptr) const;
    // Builds the mapping on a scratch router, then swaps it into server in
    // one step along with the limits: used to start and to reload alike, so
    // connections already open keep going. Nothing changes on failure.
    bool apply(sluice::Server &server, sluice::BroadcastRooms *rooms,
               QString *errorString = nullptr) const;

    // The resolved server, one line per listen address, root, route (in
    // order: kind, uri, handler or target) and error page.
    QString describe() const;

private:
    bool fail(const QString &keyPath, const QString &what);
    bool checkKeys(const QJsonObject &object, const QString &path, const QStringList &allowed);
    // The one key of keys that object has, or an error naming those it has.
    bool exactlyOne(const QJsonObject &object, const QString &path, const QStringList &keys,
                    QString *key);
    bool integer(const QJsonValue &value, const QString &path, qint64 min, qint64 max,
                 qint64 *result);
    bool string(const QJsonValue &value, const QString &path, QString *result);
    bool stringList(const QJsonValue &value, const QString &path, QStringList *result);
    bool origins(const QJsonValue &value, const QString &path, bool allowAny, bool allowSelf,
                 QStringList *result);
    bool loadFilters(const QJsonValue &value);
    bool loadTls(const QJsonValue &value, const QString &path, sluice::TlsConfiguration *tls);
    bool loadCompression(const QJsonValue &value, const QString &path,
                         sluice::WebSocketCompression *compression);
    bool loadWebSocketEngine(const QJsonValue &value);

    QString m_fileName;
    QString m_directory;
    QString m_errorString;
    QList<Listen> m_listen;
    QString m_root;
    QList<Route> m_routes;
    QList<Filter> m_filters;
    QMap<int, QString> m_errorPages;
    sluice::Limits m_limits;
    int m_workers = 0;
    std::optional<sluice::Server::WebSocketEngine> m_webSocketEngine;
};

#endif // SLUICE_APP_CONFIG_H
