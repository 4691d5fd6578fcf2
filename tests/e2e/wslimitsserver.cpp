// The server that e2e_wslimits.py drives with Debian's python3-websockets
// and raw sockets: small WebSocket limits and short timeouts, an echo route,
// an origin-checked route, a route that floods its client, and an HTTP
// route reporting what the server saw.
//
// Limits: frames up to 4096 bytes, messages up to 16384, a ping after 500 ms
// of silence and 500 ms for the pong, 1000 ms for a close or a handshake,
// 256 KiB waiting for a slow reader.

#include <sluice/filters.h>
#include <sluice/httpconnect.h>
#include <sluice/server.h>
#include <sluice/websocket.h>

#include <QtCore/QCoreApplication>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QTimer>

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
        std::fprintf(stderr, "usage: wslimitsserver [port]\n");
        return 2;
    }

    sluice::Server server;
    sluice::Limits limits;
    limits.maxWebSocketFrameBytes = 4096;
    limits.maxWebSocketMessageBytes = 16384;
    limits.webSocketPingIntervalMs = 500;
    limits.webSocketPongTimeoutMs = 500;
    limits.webSocketCloseTimeoutMs = 1000;
    limits.handshakeTimeoutMs = 1000;
    limits.maxPendingWriteBytes = 256 * 1024;
    server.setLimits(limits);

    // What the flood route's sockets were closed with, in order.
    QJsonArray floodCloses;
    bool mapped = true;
    mapped &= server.map(QStringLiteral("ws:/echo"), echo);

    sluice::MapOptions guarded;
    guarded.filters.append(sluice::filters::allowOrigins({QStringLiteral("https://good.example")}));
    mapped &= server.map(QStringLiteral("ws:/origin"), echo, guarded);

    // 64 KiB text messages every 2 ms, numbered, until the socket closes.
    mapped &= server.map(QStringLiteral("ws:/flood"), [&floodCloses](sluice::WebSocket *socket) {
        QObject::connect(socket, &sluice::WebSocket::closed, socket,
                         [&floodCloses](int code) { floodCloses.append(code); });
        auto *timer = new QTimer(socket);
        auto next = std::make_shared<int>(0);
        QObject::connect(timer, &QTimer::timeout, socket, [socket, next] {
            QString message = QString::number((*next)++) + QLatin1Char(':');
            message.append(QString(64 * 1024 - message.size(), QLatin1Char('x')));
            socket->sendText(message);
        });
        timer->start(2);
    });

    mapped &= server.map(QStringLiteral("get:/stats"), [&](sluice::HttpConnect &connect) {
        const QJsonObject stats {
                {QStringLiteral("floodCloses"), floodCloses},
                // This request's own connection is one of them.
                {QStringLiteral("connections"), server.connectionCount()},
        };
        connect.response().setContentType("application/json");
        connect.response().write(QJsonDocument(stats).toJson(QJsonDocument::Compact));
    });

    if (!mapped) {
        std::fprintf(stderr, "wslimitsserver: bad mapping: %s\n",
                     qPrintable(server.router()->errorString()));
        return 1;
    }
    if (!server.listen(QHostAddress::LocalHost, port)) {
        std::fprintf(stderr, "wslimitsserver: cannot listen: %s\n",
                     qPrintable(server.errorString()));
        return 1;
    }
    std::printf("PORT %u\n", unsigned(server.serverPort()));
    std::fflush(stdout);
    return app.exec();
}
