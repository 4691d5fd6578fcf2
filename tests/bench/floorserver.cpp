// sluice-floor: the cheapest echo and HTTP responder plain Qt can be, the
// floor that run_bench.py measures Sluice against. Sluice is built on the
// same QTcpServer and QWebSocket, so what it costs above these is what its
// routing, limits, monitor events and HTTP handling add.
//
//   sluice-floor [--ws-port N] [--http-port N] [--home DIR]
//
// WebSocket: a QWebSocketServer listening itself (no hand-off), every text
//            and binary message sent back as it came, on any path.
// HTTP/1.1:  a QTcpServer that reads up to each "\r\n\r\n", looks only at
//            the request line's path and answers with Content-Length on the
//            kept-alive connection: "/hello" with "Hello, World!\n", "/1k.bin"
//            with DIR/1k.bin, anything else 404. No other parsing, no
//            headers looked at, no bodies, no timeouts.
//
// Prints "WS_PORT <n>" and "HTTP_PORT <n>" once listening; SIGTERM ends it.

#include <QtCore/QCommandLineParser>
#include <QtCore/QCoreApplication>
#include <QtCore/QDir>
#include <QtCore/QFile>
#include <QtNetwork/QTcpServer>
#include <QtNetwork/QTcpSocket>
#include <QtWebSockets/QWebSocket>
#include <QtWebSockets/QWebSocketServer>

#include <cstdio>
#include <memory>

namespace {

// A request head longer than this is not one a benchmark client sends.
constexpr qsizetype MaxHeadBytes = 64 * 1024;

QByteArray response(const QByteArray &status, const QByteArray &type, const QByteArray &body)
{
    return "HTTP/1.1 " + status + "\r\nContent-Type: " + type
           + "\r\nContent-Length: " + QByteArray::number(body.size()) + "\r\n\r\n" + body;
}

struct Responses
{
    QByteArray hello;
    QByteArray file;
    QByteArray notFound;
};

void serveHttp(QTcpSocket *socket, const Responses *responses)
{
    // What has arrived and not been answered; pipelined requests are
    // answered with one write.
    auto pending = std::make_shared<QByteArray>();
    QObject::connect(socket, &QTcpSocket::readyRead, socket, [socket, responses, pending] {
        pending->append(socket->readAll());
        QByteArray out;
        qsizetype start = 0;
        for (;;) {
            const qsizetype headEnd = pending->indexOf("\r\n\r\n", start);
            if (headEnd < 0)
                break;
            // "GET /path HTTP/1.1": the path is between the first two spaces.
            const qsizetype lineEnd = pending->indexOf("\r\n", start);
            const qsizetype pathStart = pending->indexOf(' ', start) + 1;
            const qsizetype pathEnd = pathStart > 0 ? pending->indexOf(' ', pathStart) : -1;
            const QByteArrayView path = pathStart > 0 && pathEnd > pathStart && pathEnd < lineEnd
                                                ? QByteArrayView(pending->constData() + pathStart,
                                                                 pathEnd - pathStart)
                                                : QByteArrayView();
            if (path == "/hello")
                out += responses->hello;
            else if (path == "/1k.bin")
                out += responses->file;
            else
                out += responses->notFound;
            start = headEnd + 4;
        }
        pending->remove(0, start);
        if (pending->size() > MaxHeadBytes) {
            socket->abort();
            return;
        }
        if (!out.isEmpty())
            socket->write(out);
    });
    QObject::connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
}

int portOption(const QCommandLineParser &parser, const QString &name, bool *ok)
{
    bool valid = false;
    const int port = parser.value(name).toInt(&valid);
    if (!valid || port < 0 || port > 65535) {
        std::fprintf(stderr, "sluice-floor: --%s: not a port number: %s\n", qPrintable(name),
                     qPrintable(parser.value(name)));
        *ok = false;
    }
    return port;
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("sluice-floor"));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral(
            "The plain Qt floor for tests/bench/run_bench.py: a QWebSocketServer echo "
            "and a minimal keep-alive HTTP responder."));
    parser.addHelpOption();
    const QString wsPortName = QStringLiteral("ws-port");
    const QString httpPortName = QStringLiteral("http-port");
    const QString homeName = QStringLiteral("home");
    parser.addOption({wsPortName, QStringLiteral("WebSocket port on 127.0.0.1 (0: any)."),
                      QStringLiteral("N"), QStringLiteral("0")});
    parser.addOption({httpPortName, QStringLiteral("HTTP port on 127.0.0.1 (0: any)."),
                      QStringLiteral("N"), QStringLiteral("0")});
    parser.addOption({homeName, QStringLiteral("Folder holding 1k.bin for /1k.bin."),
                      QStringLiteral("DIR")});
    parser.process(app);

    bool ok = true;
    const int wsPort = portOption(parser, wsPortName, &ok);
    const int httpPort = portOption(parser, httpPortName, &ok);
    if (!ok)
        return 2;

    Responses responses;
    responses.hello = response("200 OK", "text/plain", "Hello, World!\n");
    responses.notFound = response("404 Not Found", "text/plain", "Not Found\n");
    if (parser.isSet(homeName)) {
        QFile file(QDir(parser.value(homeName)).filePath(QStringLiteral("1k.bin")));
        if (!file.open(QIODevice::ReadOnly)) {
            std::fprintf(stderr, "sluice-floor: %s: %s\n", qPrintable(file.fileName()),
                         qPrintable(file.errorString()));
            return 1;
        }
        responses.file = response("200 OK", "application/octet-stream", file.readAll());
    } else {
        responses.file = responses.notFound;
    }

    QWebSocketServer wsServer(QStringLiteral("sluice-floor"), QWebSocketServer::NonSecureMode);
    QObject::connect(&wsServer, &QWebSocketServer::newConnection, &wsServer, [&wsServer] {
        while (QWebSocket *socket = wsServer.nextPendingConnection()) {
            QObject::connect(socket, &QWebSocket::textMessageReceived, socket,
                             &QWebSocket::sendTextMessage);
            QObject::connect(socket, &QWebSocket::binaryMessageReceived, socket,
                             &QWebSocket::sendBinaryMessage);
            QObject::connect(socket, &QWebSocket::disconnected, socket, &QObject::deleteLater);
        }
    });
    if (!wsServer.listen(QHostAddress::LocalHost, quint16(wsPort))) {
        std::fprintf(stderr, "sluice-floor: WebSocket port %d: %s\n", wsPort,
                     qPrintable(wsServer.errorString()));
        return 1;
    }

    QTcpServer httpServer;
    QObject::connect(&httpServer, &QTcpServer::newConnection, &httpServer,
                     [&httpServer, &responses] {
                         while (QTcpSocket *socket = httpServer.nextPendingConnection())
                             serveHttp(socket, &responses);
                     });
    if (!httpServer.listen(QHostAddress::LocalHost, quint16(httpPort))) {
        std::fprintf(stderr, "sluice-floor: HTTP port %d: %s\n", httpPort,
                     qPrintable(httpServer.errorString()));
        return 1;
    }

    std::printf("WS_PORT %u\nHTTP_PORT %u\n", unsigned(wsServer.serverPort()),
                unsigned(httpServer.serverPort()));
    std::fflush(stdout);
    return app.exec();
}
