// The server that e2e_limits.py drives with curl and raw sockets: the
// limits come from the command line, so the script says what it tests.
//
//   limitsserver HOME [field=value]...
//
// HOME is served as static files; each field is a sluice::Limits member
// (maxUriBytes=1024 headTimeoutMs=800 ...). Listens on a free port of
// 127.0.0.1 and prints "PORT <n>" once it accepts connections.

#include <sluice/httpconnect.h>
#include <sluice/limits.h>
#include <sluice/server.h>

#include <QtCore/QCoreApplication>
#include <QtCore/QCryptographicHash>

#include <cstdio>
#include <map>
#include <string>
#include <variant>

using sluice::HttpConnect;
using sluice::Limits;

namespace {

using Field = std::variant<qint64 Limits::*, int Limits::*>;

const std::map<std::string, Field> &fields()
{
    static const std::map<std::string, Field> table {
            {"maxUriBytes", &Limits::maxUriBytes},
            {"maxHeadBytes", &Limits::maxHeadBytes},
            {"maxHeaderCount", &Limits::maxHeaderCount},
            {"maxBodyBytes", &Limits::maxBodyBytes},
            {"responseBufferBytes", &Limits::responseBufferBytes},
            {"maxConnections", &Limits::maxConnections},
            {"maxConnectionsPerAddress", &Limits::maxConnectionsPerAddress},
            {"maxPendingWriteBytes", &Limits::maxPendingWriteBytes},
            {"headTimeoutMs", &Limits::headTimeoutMs},
            {"bodyTimeoutMs", &Limits::bodyTimeoutMs},
            {"keepAliveTimeoutMs", &Limits::keepAliveTimeoutMs},
            {"sendTimeoutMs", &Limits::sendTimeoutMs},
    };
    return table;
}

bool setField(Limits *limits, const QString &assignment)
{
    const qsizetype equals = assignment.indexOf(QLatin1Char('='));
    if (equals <= 0)
        return false;
    const auto it = fields().find(assignment.left(equals).toStdString());
    bool ok = false;
    const qint64 value = assignment.mid(equals + 1).toLongLong(&ok);
    if (it == fields().end() || !ok)
        return false;
    std::visit(
            [&](auto member) {
                using Value = std::remove_reference_t<decltype(limits->*member)>;
                limits->*member = Value(value);
            },
            it->second);
    return true;
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const QStringList args = app.arguments();
    if (args.size() < 2) {
        std::fprintf(stderr, "usage: limitsserver HOME [field=value]...\n");
        return 2;
    }
    Limits limits;
    for (qsizetype i = 2; i < args.size(); ++i) {
        if (!setField(&limits, args.at(i))) {
            std::fprintf(stderr, "limitsserver: not a Limits field=value: %s\n",
                         qPrintable(args.at(i)));
            return 2;
        }
    }

    sluice::Server server;
    server.setLimits(limits);
    server.map(QStringLiteral("get:/hello"), [](HttpConnect &c) {
        c.response().setContentType("text/plain; charset=utf-8");
        c.response().write("hello\n");
    });
    // Any method, so that curl -T (PUT, streamed from stdin) reaches it too.
    server.map(QStringLiteral("/digest"), [](HttpConnect &c) {
        const QByteArray body = c.request().body();
        c.response().write(QByteArray::number(body.size()) + ' '
                           + QCryptographicHash::hash(body, QCryptographicHash::Sha256).toHex()
                           + '\n');
    });
    // A handler that ignores drained(): 100 MiB in one go.
    server.map(QStringLiteral("get:/flood"), [](HttpConnect &c) {
        // A fresh block each time: Qt shares a QByteArray written twice
        // instead of copying it, which would hide what buffering costs.
        for (int i = 0; i < 1600; ++i)
            c.response().write(QByteArray(64 * 1024, char('a' + i % 26)));
    });
    if (!server.setHome(args.at(1))) {
        std::fprintf(stderr, "limitsserver: %s\n", qPrintable(server.errorString()));
        return 2;
    }
    if (!server.listen(QHostAddress::LocalHost, 0)) {
        std::fprintf(stderr, "%s\n", qPrintable(server.errorString()));
        return 1;
    }
    std::printf("PORT %u\n", unsigned(server.serverPort()));
    std::fflush(stdout);
    return app.exec();
}
