// The server that e2e_exec.py drives with Debian's python3-websockets:
// ProcessHandler routes over real programs, cat and a script that exits.

#include <sluice/processhandler.h>
#include <sluice/server.h>

#include <QtCore/QCoreApplication>
#include <QtCore/QFile>
#include <QtCore/QTemporaryDir>

#include <cstdio>

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);

    QTemporaryDir dir;
    const QString exitScript = dir.filePath(QStringLiteral("exit.sh"));
    QFile file(exitScript);
    if (!dir.isValid() || !file.open(QIODevice::WriteOnly)) {
        std::fprintf(stderr, "execserver: cannot write the exit script\n");
        return 1;
    }
    // The route's parameter reaches the program as an environment variable.
    file.write("read line\necho \"$line, exiting with $SLUICE_PARAM_CODE\"\n"
               "exit \"$SLUICE_PARAM_CODE\"\n");
    file.close();

    sluice::Server server;
    bool mapped = server.map(QStringLiteral("ws:/cat"),
                             sluice::ProcessHandler({QStringLiteral("cat")}));
    mapped &= server.map(QStringLiteral("ws:/exit/(?<code>\\d+)"),
                         sluice::ProcessHandler({QStringLiteral("/bin/sh"), exitScript}));
    if (!mapped) {
        std::fprintf(stderr, "execserver: bad mapping: %s\n",
                     qPrintable(server.router()->errorString()));
        return 1;
    }
    if (!server.listen(QHostAddress::LocalHost, 0)) {
        std::fprintf(stderr, "execserver: cannot listen: %s\n", qPrintable(server.errorString()));
        return 1;
    }
    // The script reads this line to learn where to connect.
    std::printf("PORT %u\n", unsigned(server.serverPort()));
    std::fflush(stdout);
    return app.exec();
}
