// The server that e2e_handlers.py drives with Debian's python3-websockets:
// nothing but the built-in handlers, mapped the way an application would.

#include <sluice/broadcastrooms.h>
#include <sluice/handlers.h>
#include <sluice/server.h>

#include <QtCore/QCoreApplication>

#include <cstdio>

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);

    sluice::Server server;
    sluice::BroadcastRooms rooms(server.monitor());
    bool mapped = server.map(QStringLiteral("ws:/echo"), sluice::handlers::echo());
    mapped &= server.map(QStringLiteral("ws:/contentType"), sluice::handlers::contentType());
    mapped &= server.map(QStringLiteral("ws:/chat/(?<room>\\w+)"), &rooms,
                         &sluice::BroadcastRooms::join);
    if (!mapped) {
        std::fprintf(stderr, "handlerserver: bad mapping: %s\n",
                     qPrintable(server.router()->errorString()));
        return 1;
    }
    if (!server.listen(QHostAddress::LocalHost, 0)) {
        std::fprintf(stderr, "handlerserver: cannot listen: %s\n",
                     qPrintable(server.errorString()));
        return 1;
    }
    // The script reads this line to learn where to connect.
    std::printf("PORT %u\n", unsigned(server.serverPort()));
    std::fflush(stdout);
    return app.exec();
}
