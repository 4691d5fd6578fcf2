// The example server: the seed's ws:/contentType handler, echo and chat
// sockets, one HTTP route with a path parameter, and the default site
// (embedded, or a folder given with --root).

#include <sluice/broadcastrooms.h>
#include <sluice/handlers.h>
#include <sluice/httpconnect.h>
#include <sluice/server.h>

#include <QtCore/QCommandLineParser>
#include <QtCore/QCoreApplication>
#include <QtCore/QSocketNotifier>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <unistd.h>

namespace {

// The write end of the self-pipe: a signal handler may only do
// async-signal-safe work, so it writes a byte and the event loop does the rest.
int signalPipeWriteFd = -1;

extern "C" void onQuitSignal(int)
{
    const int savedErrno = errno;
    const char byte = 1;
    // A full pipe already holds a pending quit, so a failed write loses nothing.
    [[maybe_unused]] const ssize_t written = ::write(signalPipeWriteFd, &byte, 1);
    errno = savedErrno;
}

// Makes SIGINT and SIGTERM quit the event loop, which then exits with 0.
bool installQuitSignals(QCoreApplication &app)
{
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0)
        return false;
    signalPipeWriteFd = fds[1];

    auto *notifier = new QSocketNotifier(fds[0], QSocketNotifier::Read, &app);
    QObject::connect(notifier, &QSocketNotifier::activated, &app, [notifier, &app] {
        char buffer[16];
        while (::read(int(notifier->socket()), buffer, sizeof buffer) > 0) { }
        app.quit();
    });

    struct sigaction action = {};
    action.sa_handler = onQuitSignal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    return ::sigaction(SIGINT, &action, nullptr) == 0
           && ::sigaction(SIGTERM, &action, nullptr) == 0;
}

void mapRoutes(sluice::Server &server, sluice::BroadcastRooms *rooms)
{
    sluice::MapOptions contentTypeOptions;
    contentTypeOptions.handlerName = QStringLiteral("contentType");
    // The seed's handler: every text message is a file extension, answered
    // with its MIME type, for as long as the client keeps the socket open.
    server.map(QStringLiteral("ws:/contentType"), sluice::handlers::contentType(),
               contentTypeOptions);

    sluice::MapOptions echoOptions;
    echoOptions.handlerName = QStringLiteral("echo");
    server.map(QStringLiteral("ws:/echo"), sluice::handlers::echo(), echoOptions);

    sluice::MapOptions chatOptions;
    chatOptions.handlerName = QStringLiteral("broadcast");
    server.map(QStringLiteral("ws:/chat/(?<room>\\w+)"), rooms, &sluice::BroadcastRooms::join,
               chatOptions);

    sluice::MapOptions helloOptions;
    helloOptions.handlerName = QStringLiteral("hello");
    server.map(
            QStringLiteral("get:/hello/(?<name>[^/]+)"),
            [](sluice::HttpConnect &connect) {
                connect.response().setContentType("text/plain; charset=utf-8");
                connect.response().write(
                        QStringLiteral("Hello %1\n").arg(connect.param(QStringLiteral("name"))));
            },
            helloOptions);
}

} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("sluice"));
    QCoreApplication::setApplicationVersion(QStringLiteral(SLUICE_VERSION_STR));

    QCommandLineParser parser;
    parser.setApplicationDescription(
            QStringLiteral("Sluice example server: HTTP/1.1 and WebSocket on one port."));
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption portOption(QStringLiteral("port"),
                                        QStringLiteral("Port to listen on (0 picks a free port)."),
                                        QStringLiteral("PORT"), QStringLiteral("8080"));
    const QCommandLineOption bindOption(QStringLiteral("bind"),
                                        QStringLiteral("Address to listen on (default: all)."),
                                        QStringLiteral("ADDRESS"));
    const QCommandLineOption rootOption(
            QStringLiteral("root"),
            QStringLiteral("Serve the files in DIR (default: the embedded site)."),
            QStringLiteral("DIR"));
    parser.addOption(portOption);
    parser.addOption(bindOption);
    parser.addOption(rootOption);
    parser.process(app);

    bool portOk = false;
    const uint port = parser.value(portOption).toUInt(&portOk);
    if (!portOk || port > 65535) {
        std::fprintf(stderr, "sluice: invalid port: %s\n", qPrintable(parser.value(portOption)));
        return 1;
    }
    QHostAddress address(QHostAddress::Any);
    if (parser.isSet(bindOption) && !address.setAddress(parser.value(bindOption))) {
        std::fprintf(stderr, "sluice: invalid address: %s\n", qPrintable(parser.value(bindOption)));
        return 1;
    }

    if (!installQuitSignals(app)) {
        std::perror("sluice: cannot install signal handlers");
        return 1;
    }

    sluice::Server server;
    sluice::BroadcastRooms rooms(server.monitor());
    mapRoutes(server, &rooms);
    const QString home =
            parser.isSet(rootOption) ? parser.value(rootOption) : QStringLiteral(":/site");
    if (!server.setHome(home)) {
        std::fprintf(stderr, "sluice: --root: %s\n", qPrintable(server.errorString()));
        return 2;
    }

    if (!server.listen(address, quint16(port))) {
        const QString where = address.toString().contains(u':')
                                      ? QStringLiteral("[%1]:%2").arg(address.toString()).arg(port)
                                      : QStringLiteral("%1:%2").arg(address.toString()).arg(port);
        // The server's reason may name the address already; say it once.
        const QString reason = server.errorString();
        if (reason.contains(address.toString()))
            std::fprintf(stderr, "sluice: %s\n", qPrintable(reason));
        else
            std::fprintf(stderr, "sluice: cannot listen on %s: %s\n", qPrintable(where),
                         qPrintable(reason));
        return 1;
    }
    for (const QUrl &url : server.urls())
        std::printf("Listening on %s\n", qPrintable(url.toString()));
    std::fflush(stdout);

    const int status = app.exec();
    server.close();
    return status;
}
