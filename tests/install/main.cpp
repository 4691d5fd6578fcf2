// Built against an installed Sluice by check.sh. The part up to listen() is the
// README's quick start, so the README's example is known to compile; the rest
// asks the server once over HTTP and once over WebSocket, prints the port and
// exits, so that the check ends by itself.

#include <sluice/contenttype.h>
#include <sluice/httpconnect.h>
#include <sluice/server.h>
#include <sluice/websocket.h>

#include <QtCore/QCoreApplication>
#include <QtCore/QTimer>
#include <QtNetwork/QTcpSocket>
#include <QtWebSockets/QWebSocket>

#include <cstdio>

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);

    sluice::Server server;
    // The seed's handler: each text message is a file extension, answered
    // with its MIME type.
    server.map("ws:/contentType", [](sluice::WebSocket *socket) {
        QObject::connect(socket, &sluice::WebSocket::textReceived, socket,
                         [socket](const QString &extension) {
                             socket->sendText(sluice::contentType(extension));
                         });
    });
    server.map("get:/hello/(?<name>[^/]+)", [](sluice::HttpConnect &connect) {
        connect.response().setContentType("text/plain; charset=utf-8");
        connect.response().write("Hello " + connect.param("name") + "\n");
    });
    if (!server.listen(QHostAddress::LocalHost, 0)) {
        std::fprintf(stderr, "listen failed: %s\n", qPrintable(server.errorString()));
        return 1;
    }
    const quint16 port = server.serverPort();
    std::printf("port %u\n", unsigned(port));
    std::fflush(stdout);

    // Bounded: a server that never answers fails the check instead of hanging it.
    QTimer::singleShot(10000, &app, [] {
        std::fprintf(stderr, "timed out\n");
        QCoreApplication::exit(1);
    });

    QTcpSocket http;
    QByteArray httpReply;
    QWebSocket webSocket;

    QObject::connect(&webSocket, &QWebSocket::connected, &app,
                     [&webSocket] { webSocket.sendTextMessage(QStringLiteral("html")); });
    QObject::connect(&webSocket, &QWebSocket::textMessageReceived, &app,
                     [](const QString &message) {
                         const bool ok = message == QStringLiteral("text/html");
                         std::printf("ws:/contentType html -> %s\n", qPrintable(message));
                         QCoreApplication::exit(ok ? 0 : 1);
                     });
    QObject::connect(&webSocket, &QWebSocket::disconnected, &app, [&webSocket] {
        std::fprintf(stderr, "WebSocket closed: %s\n", qPrintable(webSocket.errorString()));
        QCoreApplication::exit(1);
    });

    QObject::connect(&http, &QTcpSocket::connected, &app, [&http] {
        http.write("GET /hello/install HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    });
    QObject::connect(&http, &QTcpSocket::readyRead, &app,
                     [&http, &httpReply] { httpReply += http.readAll(); });
    QObject::connect(&http, &QTcpSocket::disconnected, &app, [&] {
        httpReply += http.readAll();
        const bool ok = httpReply.startsWith("HTTP/1.1 200 ")
                        && httpReply.endsWith("\r\n\r\nHello install\n");
        std::printf("GET /hello/install -> %s\n", ok ? "ok" : "unexpected reply");
        if (!ok) {
            std::fprintf(stderr, "%s\n", httpReply.constData());
            QCoreApplication::exit(1);
            return;
        }
        webSocket.open(QUrl(QStringLiteral("ws://127.0.0.1:%1/contentType").arg(port)));
    });
    http.connectToHost(QHostAddress::LocalHost, port);

    const int status = app.exec();
    // The sockets close as they are destroyed; that is no longer a failure.
    QObject::disconnect(&webSocket, nullptr, &app, nullptr);
    QObject::disconnect(&http, nullptr, &app, nullptr);
    return status;
}
