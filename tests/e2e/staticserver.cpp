// The server that e2e_static.py drives with the real curl: it serves the
// folder given as the first argument (and nothing else), listens on a free
// port of 127.0.0.1 and prints "PORT <n>" once it accepts connections.
//
// Usage: staticserver HOME [--listing] [--follow-symlinks]

#include <sluice/server.h>
#include <sluice/staticfiles.h>

#include <QtCore/QCoreApplication>

#include <cstdio>

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const QStringList args = app.arguments();
    if (args.size() < 2 || args.at(1).startsWith(QLatin1String("--"))) {
        std::fprintf(stderr, "usage: staticserver HOME [--listing] [--follow-symlinks]\n");
        return 2;
    }

    sluice::StaticFiles files(args.at(1));
    for (const QString &flag : args.mid(2)) {
        if (flag == QLatin1String("--listing")) {
            files.setDirectoryListing(true);
        } else if (flag == QLatin1String("--follow-symlinks")) {
            files.setFollowSymlinks(true);
        } else {
            std::fprintf(stderr, "unknown flag: %s\n", qPrintable(flag));
            return 2;
        }
    }

    sluice::Server server;
    if (!server.setHome(files) || !server.listen(QHostAddress::LocalHost, 0)) {
        std::fprintf(stderr, "%s\n", qPrintable(server.errorString()));
        return 1;
    }
    std::printf("PORT %u\n", unsigned(server.serverPort()));
    std::fflush(stdout);
    return app.exec();
}
