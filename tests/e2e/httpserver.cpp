// The server that e2e_curl.py drives with the real curl: it maps the routes
// the script checks, listens on 127.0.0.1 at the port given (0 = any free
// one) and prints "PORT <n>" once it accepts connections.

#include <sluice/httpconnect.h>
#include <sluice/httpstatus.h>
#include <sluice/server.h>

#include <QtCore/QCoreApplication>
#include <QtCore/QCryptographicHash>

#include <cstdio>
#include <stdexcept>

using sluice::HttpConnect;

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const QStringList args = app.arguments();
    bool ok = true;
    const quint16 port = args.size() > 1 ? args.at(1).toUShort(&ok) : 0;
    if (!ok) {
        std::fprintf(stderr, "usage: httpserver [port]\n");
        return 2;
    }

    sluice::Server server;
    server.map(QStringLiteral("get:/hello"), [](HttpConnect &c) {
        const QString name = c.request().queryItem(QStringLiteral("name"));
        c.response().setContentType("text/plain; charset=utf-8");
        c.response().write(
                QStringLiteral("Hello %1").arg(name.isEmpty() ? QStringLiteral("world") : name));
    });
    server.map(QStringLiteral("get:/user/(?<name>[^/]+)/(id:\\d+)"), [](HttpConnect &c) {
        c.response().write(
                QStringLiteral("user %1 #%2")
                        .arg(c.param(QStringLiteral("name")), c.param(QStringLiteral("id"))));
    });
    server.map(QStringLiteral("post:/echo"), [](HttpConnect &c) {
        if (c.request().hasHeader("Content-Type"))
            c.response().setHeader("Content-Type", c.request().header("Content-Type"));
        c.response().write(c.request().body());
    });
    // Large uploads answer with their length and digest rather than an echo.
    server.map(QStringLiteral("post:/digest"), [](HttpConnect &c) {
        const QByteArray body = c.request().body();
        c.response().write(QByteArray::number(body.size()) + ' '
                           + QCryptographicHash::hash(body, QCryptographicHash::Sha256).toHex()
                           + ' '
                           + (c.request().headerHasToken("Transfer-Encoding", "chunked") ? "chunked"
                                                                                         : "length")
                           + '\n');
    });
    server.map(QStringLiteral("get:/only-get"), [](HttpConnect &c) { c.response().write("get"); });
    server.map(QStringLiteral("ws:/socket"), [](sluice::WebSocket *) {});
    server.map(QStringLiteral("/boom"), [](HttpConnect &) {
        throw std::runtime_error("this text must not reach the client");
    });
    server.map(QStringLiteral("/teapot"), [](HttpConnect &) {
        throw sluice::HttpStatus(418, QStringLiteral("short and stout"));
    });
    server.map(QStringLiteral("/old/(?<rest>.*)"), "/new/(rest)");
    server.map(QStringLiteral("/new/(?<rest>.*)"), [](HttpConnect &c) {
        c.response().write(QStringLiteral("new %1 at %2")
                                   .arg(c.param(QStringLiteral("rest")), c.request().path()));
    });
    server.map(QStringLiteral("/relative"),
               [](HttpConnect &c) { c.redirect(QStringLiteral("/hello?name=relative")); });
    server.map(QStringLiteral("get:/stream/(?<n>\\d+)"), [](HttpConnect &c) {
        const qint64 size = c.param(QStringLiteral("n")).toLongLong();
        QByteArray block(8192, Qt::Uninitialized);
        for (qint64 sent = 0; sent < size; sent += block.size()) {
            for (int i = 0; i < block.size(); ++i)
                block[i] = char('a' + (sent + i) % 26);
            c.response().write(block.left(int(qMin<qint64>(block.size(), size - sent))));
        }
    });

    if (!server.listen(QHostAddress::LocalHost, port)) {
        std::fprintf(stderr, "%s\n", qPrintable(server.errorString()));
        return 1;
    }
    // Known only now: a scheme-qualified target is a 302 redirect.
    const QString here = QStringLiteral("http://127.0.0.1:%1").arg(server.serverPort());
    server.map(QStringLiteral("/away"), here + QStringLiteral("/hello?name=redirected"));
    server.map(QStringLiteral("/away/(?<who>\\w+)"), here + QStringLiteral("/hello?name=(who)"));

    std::printf("PORT %u\n", unsigned(server.serverPort()));
    std::fflush(stdout);
    return app.exec();
}
