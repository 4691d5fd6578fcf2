// The server that e2e_websockets.py drives with Debian's python3-websockets:
// the seed's contentType handler plus routes that exercise echo, path
// parameters, close codes, subprotocols and a refusing filter.

#include <sluice/chain.h>
#include <sluice/contenttype.h>
#include <sluice/httpconnect.h>
#include <sluice/server.h>
#include <sluice/websocket.h>

#include <QtCore/QCoreApplication>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>

#include <cstdio>
#include <memory>

static void echo(sluice::WebSocket *socket)
{
    QObject::connect(socket, &sluice::WebSocket::textReceived, socket,
                     [socket](const QString &message) { socket->sendText(message); });
    QObject::connect(socket, &sluice::WebSocket::binaryReceived, socket,
                     [socket](const QByteArray &message) { socket->sendBinary(message); });
}

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    const QStringList args = app.arguments();
    bool portOk = true;
    const quint16 port = args.size() > 1 ? args.at(1).toUShort(&portOk) : 0;
    if (!portOk) {
        std::fprintf(stderr, "usage: wsserver [port]\n");
        return 2;
    }

    sluice::Server server;
    bool mapped = true;

    mapped &= server.map(QStringLiteral("ws:/contentType"), [](sluice::WebSocket *socket) {
        QObject::connect(
                socket, &sluice::WebSocket::textReceived, socket,
                [socket](const QString &ext) { socket->sendText(sluice::contentType(ext)); });
    });

    mapped &= server.map(QStringLiteral("ws:/echo"), echo);

    mapped &= server.map(
            QStringLiteral("ws:/rooms/(?<room>\\w+)/(user:\\w+)"), [](sluice::WebSocket *socket) {
                const QJsonObject seen {
                        {QStringLiteral("room"), socket->param(QStringLiteral("room"))},
                        {QStringLiteral("user"), socket->param(QStringLiteral("user"))},
                };
                socket->sendText(
                        QString::fromUtf8(QJsonDocument(seen).toJson(QJsonDocument::Compact)));
                echo(socket);
            });

    mapped &= server.map(QStringLiteral("ws:/close/(?<code>\\d+)"), [](sluice::WebSocket *socket) {
        const int code = socket->param(QStringLiteral("code")).toInt();
        // One close only, however many messages are already queued behind.
        auto done = std::make_shared<bool>(false);
        auto closeOnce = [socket, code, done] {
            if (!*done) {
                *done = true;
                socket->close(code, QStringLiteral("bye"));
            }
        };
        QObject::connect(socket, &sluice::WebSocket::textReceived, socket, closeOnce);
        QObject::connect(socket, &sluice::WebSocket::binaryReceived, socket, closeOnce);
    });

    sluice::MapOptions chat;
    chat.subprotocols = {QStringLiteral("chat.v2"), QStringLiteral("chat.v1")};
    mapped &= server.map(
            QStringLiteral("ws:/proto"),
            [](sluice::WebSocket *socket) {
                const QString chosen = socket->subprotocol();
                socket->sendText(chosen.isEmpty() ? QStringLiteral("none") : chosen);
            },
            chat);

    mapped &= server.filter(QStringLiteral("/guarded"),
                            [](sluice::HttpConnect &connect, sluice::Chain next) {
                                if (connect.request().header("X-Token") == "secret") {
                                    next();
                                    return;
                                }
                                connect.response().setStatus(403);
                                connect.response().write("forbidden\n");
                            });
    mapped &= server.map(QStringLiteral("ws:/guarded"), echo);

    if (!mapped) {
        std::fprintf(stderr, "wsserver: bad mapping: %s\n",
                     qPrintable(server.router()->errorString()));
        return 1;
    }
    if (!server.listen(QHostAddress::LocalHost, port)) {
        std::fprintf(stderr, "wsserver: cannot listen: %s\n", qPrintable(server.errorString()));
        return 1;
    }
    std::printf("PORT %u\n", unsigned(server.serverPort()));
    std::fflush(stdout);
    return app.exec();
}
