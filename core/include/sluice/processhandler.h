#ifndef SLUICE_PROCESSHANDLER_H
#define SLUICE_PROCESSHANDLER_H

#include <sluice/handler.h>
#include <sluice/sluiceglobal.h>

#include <QtCore/QProcessEnvironment>
#include <QtCore/QString>
#include <QtCore/QStringList>

#include <atomic>
#include <memory>

namespace sluice {

class WebSocket;

// A ws: handler that runs one program per connection, as websocketd does:
// each text message is a line on its stdin, each line it writes to stdout is
// a text message, and what it writes to stderr goes to the log (category
// "sluice.exec"). The program runs without a shell, with the server's
// environment plus the request: SLUICE_PATH, SLUICE_QUERY (raw),
// SLUICE_REMOTE_ADDR, SLUICE_REMOTE_PORT, SLUICE_PARAM_<NAME> per path
// parameter and HTTP_<HEADER> per request header, as CGI does.
//     server.map("ws:/tail", sluice::ProcessHandler({"tail", "-f", "app.log"}));
// Closing the socket terminates the program (and kills it 2 s later); the
// program exiting closes the socket with 1000 (exit code 0) or 1011 with
// "exit status N" or "crashed". Copies share one count of running programs;
// beyond maxProcesses() a new connection is closed with 1013 (Try Again Later).
class SLUICE_CORE_EXPORT ProcessHandler
{
public:
    ProcessHandler(const QStringList &command);

    QStringList command() const { return m_command; }

    int maxProcesses() const { return m_maxProcesses; }
    void setMaxProcesses(int count) { m_maxProcesses = count; }
    // Programs running now, across this handler and its copies.
    int runningProcesses() const { return m_running->load(); }

    QString workingDirectory() const { return m_workingDirectory; }
    void setWorkingDirectory(const QString &directory) { m_workingDirectory = directory; }

    // Variables added to (or replacing) the server's own for every program.
    QProcessEnvironment environment() const { return m_environment; }
    void setEnvironment(const QProcessEnvironment &environment) { m_environment = environment; }

    void operator()(WebSocket *socket) const;

    // A filter for the route (MapOptions::filters) that answers an upgrade
    // with 503 and Retry-After while maxProcesses() programs run, so that
    // clients hear "busy" over HTTP instead of after the handshake. Upgrades
    // admitted at the same moment can still meet the 1013 close.
    Filter admission() const;

private:
    QStringList m_command;
    QString m_workingDirectory;
    QProcessEnvironment m_environment;
    int m_maxProcesses = 16;
    std::shared_ptr<std::atomic<int>> m_running;
};

} // namespace sluice

#endif // SLUICE_PROCESSHANDLER_H
