// The example server: the seed's ws:/contentType handler, echo and chat
// sockets, one HTTP route with a path parameter, and the default site
// (embedded, or a folder given with --root), or a whole server read from
// a JSON file with --config (app/config.cpp).

#include "config.h"

#include <sluice/broadcastrooms.h>
#include <sluice/handlers.h>
#include <sluice/httpconnect.h>
#include <sluice/server.h>

#include <QtCore/QCommandLineParser>
#include <QtCore/QCoreApplication>
#include <QtCore/QFileInfo>
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
    const QCommandLineOption bindOption(
            QStringLiteral("bind"),
            QStringLiteral("Address to listen on (default: all; repeatable)."),
            QStringLiteral("ADDRESS"));
    const QCommandLineOption rootOption(
            QStringLiteral("root"),
            QStringLiteral("Serve the files in DIR (default: the embedded site)."),
            QStringLiteral("DIR"));
    const QCommandLineOption configOption(
            QStringLiteral("config"),
            QStringLiteral("Read listen addresses, root, routes, error pages and limits from "
                           "the JSON FILE; --port, --bind and --root override it."),
            QStringLiteral("FILE"));
    const QCommandLineOption checkConfigOption(
            QStringLiteral("check-config"),
            QStringLiteral("Validate the --config file, print the resolved route map and exit "
                           "(0 when valid, 2 when not)."));
    parser.addOption(portOption);
    parser.addOption(bindOption);
    parser.addOption(rootOption);
    parser.addOption(configOption);
    parser.addOption(checkConfigOption);
    parser.process(app);

    bool portOk = false;
    const uint port = parser.value(portOption).toUInt(&portOk);
    if (!portOk || port > 65535) {
        std::fprintf(stderr, "sluice: invalid port: %s\n", qPrintable(parser.value(portOption)));
        return 1;
    }
    QList<QHostAddress> bindAddresses;
    for (const QString &text : parser.values(bindOption)) {
        QHostAddress address;
        if (!address.setAddress(text)) {
            std::fprintf(stderr, "sluice: invalid address: %s\n", qPrintable(text));
            return 1;
        }
        bindAddresses.append(address);
    }

    const bool checkOnly = parser.isSet(checkConfigOption);
    if (checkOnly && !parser.isSet(configOption)) {
        std::fprintf(stderr, "sluice: --check-config needs --config FILE\n");
        return 2;
    }
    Config config;
    if (parser.isSet(configOption) && !config.load(parser.value(configOption))) {
        std::fprintf(stderr, "sluice: %s\n", qPrintable(config.errorString()));
        return 2;
    }

    // The command line wins over the file: --bind replaces its addresses,
    // --port replaces every port.
    QList<Config::Listen> listen = config.listen();
    if (!bindAddresses.isEmpty()) {
        const quint16 bindPort = listen.isEmpty() ? quint16(8080) : listen.first().port;
        listen.clear();
        for (const QHostAddress &address : std::as_const(bindAddresses))
            listen.append({address, bindPort});
    }
    if (listen.isEmpty())
        listen.append({QHostAddress(QHostAddress::Any), quint16(8080)});
    if (parser.isSet(portOption)) {
        for (Config::Listen &entry : listen)
            entry.port = quint16(port);
    }
    config.setListen(listen);
    if (parser.isSet(rootOption))
        config.setRoot(parser.value(rootOption));
    else if (config.root().isEmpty())
        config.setRoot(QStringLiteral(":/site"));

    if (checkOnly) {
        const QFileInfo root(config.root());
        if (!root.isDir() || !root.isReadable()) {
            std::fprintf(stderr, "sluice: --root: %s is not a readable directory\n",
                         qPrintable(config.root()));
            return 2;
        }
        std::fputs(qPrintable(config.describe()), stdout);
        return 0;
    }

    if (!installQuitSignals(app)) {
        std::perror("sluice: cannot install signal handlers");
        return 1;
    }

    sluice::Server server;
    sluice::BroadcastRooms rooms(server.monitor());
    if (parser.isSet(configOption)) {
        QString error;
        if (!config.apply(server, &rooms, &error)) {
            std::fprintf(stderr, "sluice: %s: %s\n", qPrintable(config.fileName()),
                         qPrintable(error));
            return 2;
        }
    } else {
        mapRoutes(server, &rooms);
    }
    if (!server.setHome(config.root())) {
        std::fprintf(stderr, "sluice: --root: %s\n", qPrintable(server.errorString()));
        return 2;
    }

    for (const Config::Listen &entry : std::as_const(listen)) {
        const QString address = entry.address.toString();
        if (server.listen(entry.address, entry.port))
            continue;
        const QString where = address.contains(u':')
                                      ? QStringLiteral("[%1]:%2").arg(address).arg(entry.port)
                                      : QStringLiteral("%1:%2").arg(address).arg(entry.port);
        // The server's reason may name the address already; say it once.
        const QString reason = server.errorString();
        if (reason.contains(address))
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
