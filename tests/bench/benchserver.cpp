// sluice-benchserver: Sluice as run_bench.py measures it next to its peers.
//
//   sluice-benchserver [--port N] [--workers N] [--home DIR] [--max-connections N]
//
// ws:/echo   sluice::handlers::echo(): text and binary sent back as they came
// /hello     "Hello, World!\n" as text/plain, the body nginx and the Qt floor
//            answer too, so that every server sends the same bytes
// otherwise  the files under --home (run_bench.py puts 1k.bin there)
//
// Everything else is as a user gets it: the default sluice::Limits (every
// cap and timeout in place) and the monitor producing events, with no
// listener attached. Prints "PORT <n>" once listening; SIGTERM ends it.

#include <sluice/handlers.h>
#include <sluice/httpconnect.h>
#include <sluice/limits.h>
#include <sluice/server.h>

#include <QtCore/QCommandLineParser>
#include <QtCore/QCoreApplication>

#include <cstdio>

namespace {

int intOption(const QCommandLineParser &parser, const QString &name, int minimum, int maximum,
              bool *ok)
{
    bool valid = false;
    const int value = parser.value(name).toInt(&valid);
    if (!valid || value < minimum || value > maximum) {
        std::fprintf(stderr, "sluice-benchserver: --%s: not a number from %d to %d: %s\n",
                     qPrintable(name), minimum, maximum, qPrintable(parser.value(name)));
        *ok = false;
        return minimum;
    }
    return value;
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("sluice-benchserver"));

    QCommandLineParser parser;
    parser.setApplicationDescription(
            QStringLiteral("Sluice's echo route, a small handler and static files, for "
                           "tests/bench/run_bench.py."));
    parser.addHelpOption();
    const QString portName = QStringLiteral("port");
    const QString workersName = QStringLiteral("workers");
    const QString homeName = QStringLiteral("home");
    const QString maxConnectionsName = QStringLiteral("max-connections");
    parser.addOption({portName, QStringLiteral("Port on 127.0.0.1 (0: any free one)."),
                      QStringLiteral("N"), QStringLiteral("0")});
    parser.addOption({workersName, QStringLiteral("Worker threads (0: one per core)."),
                      QStringLiteral("N"), QStringLiteral("0")});
    parser.addOption(
            {homeName, QStringLiteral("Serve the files under DIR."), QStringLiteral("DIR")});
    parser.addOption({maxConnectionsName,
                      QStringLiteral("Limits::maxConnections (default: the library's). The memory "
                                     "run opens 10,000 idle WebSockets and needs a little more."),
                      QStringLiteral("N")});
    parser.process(app);

    bool ok = true;
    const int port = intOption(parser, portName, 0, 65535, &ok);
    const int workers = intOption(parser, workersName, 0, 1024, &ok);
    sluice::Limits limits;
    if (parser.isSet(maxConnectionsName))
        limits.maxConnections = intOption(parser, maxConnectionsName, 1, 1000000, &ok);
    if (!ok)
        return 2;

    sluice::Server server;
    server.setLimits(limits);
    // One by default under taskset: idealThreadCount() counts the cores
    // the process may use.
    server.setWorkerCount(workers);

    // A lambda rather than handlers::hello(): that one formats a name into a
    // QString per request, and the comparison with nginx should measure the
    // server, not the string work of one demo handler.
    static const QByteArray helloBody = QByteArrayLiteral("Hello, World!\n");
    bool mapped = server.map(QStringLiteral("ws:/echo"), sluice::handlers::echo());
    mapped &= server.map(QStringLiteral("/hello"), [](sluice::HttpConnect &connect) {
        connect.response().setContentType("text/plain");
        connect.response().write(helloBody);
    });
    if (!mapped) {
        std::fprintf(stderr, "sluice-benchserver: cannot map the routes\n");
        return 1;
    }
    if (parser.isSet(homeName) && !server.setHome(parser.value(homeName))) {
        std::fprintf(stderr, "sluice-benchserver: %s\n", qPrintable(server.errorString()));
        return 1;
    }
    if (!server.listen(QHostAddress::LocalHost, quint16(port))) {
        std::fprintf(stderr, "sluice-benchserver: %s\n", qPrintable(server.errorString()));
        return 1;
    }
    std::printf("PORT %u\n", unsigned(server.serverPort()));
    std::fflush(stdout);
    return app.exec();
}
