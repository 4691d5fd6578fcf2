// The JSON config of the sluice app: one file describes a whole server.
// load() validates everything up front (keys, types, regexes, handler names,
// root) so that a bad file is refused before anything listens.

#ifndef SLUICE_APP_CONFIG_H
#define SLUICE_APP_CONFIG_H

#include <sluice/limits.h>

#include <QtCore/QList>
#include <QtCore/QMap>
#include <QtCore/QString>
#include <QtCore/QStringList>
#include <QtNetwork/QHostAddress>

#include <optional>

namespace sluice {
class BroadcastRooms;
class Server;
} // namespace sluice

class Config
{
public:
    struct Listen
    {
        QHostAddress address;
        quint16 port = 8080;
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
    };

    static QStringList knownHandlers();

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
    QMap<int, QString> errorPages() const { return m_errorPages; }
    sluice::Limits limits() const { return m_limits; }

    // Maps the routes, error pages and limits onto server (and root when
    // set). rooms serves the "broadcast" handler.
    bool apply(sluice::Server &server, sluice::BroadcastRooms *rooms,
               QString *errorString = nullptr) const;

    // The resolved server, one line per listen address, root, route (in
    // order: kind, uri, handler or target) and error page.
    QString describe() const;

private:
    bool fail(const QString &keyPath, const QString &what);

    QString m_fileName;
    QString m_directory;
    QString m_errorString;
    QList<Listen> m_listen;
    QString m_root;
    QList<Route> m_routes;
    QMap<int, QString> m_errorPages;
    sluice::Limits m_limits;
};

#endif // SLUICE_APP_CONFIG_H
