// libFuzzer target for the whole request path of a real server: a
// sluice::Server on 127.0.0.1 in this process (HTTP routes, a forward, a
// redirect, a filter, ws: echo routes), the input written to it over a
// QTcpSocket, the event loop run until the server has answered (or closed)
// and gone quiet. This covers HttpConnection, the Dispatcher, Worker::handOff()
// and QWebSocketServer::handleConnection() behind it.
//
// Input: byte 0 holds options (bit 0: half-close after writing, bit 1: write
// in pieces with the event loop run between them), byte 1 seeds the split
// into pieces, the rest is what the client sends.
//
// Checks: the server does not crash, what it sends starts with an HTTP/1.1
// status line, and once the client is gone its connection count returns to 0.

#include <sluice/chain.h>
#include <sluice/httpconnect.h>
#include <sluice/server.h>
#include <sluice/websocket.h>

#include <QtCore/QCoreApplication>
#include <QtCore/QElapsedTimer>
#include <QtCore/QEventLoop>
#include <QtCore/QTimer>
#include <QtNetwork/QTcpSocket>

#include <sys/socket.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace {

[[noreturn]] void fail(const char *what, const QByteArray &detail = QByteArray())
{
    std::fprintf(stderr, "fuzz_server: %s %s\n", what, detail.constData());
    std::abort();
}

void echo(sluice::WebSocket *socket)
{
    QObject::connect(socket, &sluice::WebSocket::textReceived, socket,
                     [socket](const QString &message) { socket->sendText(message); });
    QObject::connect(socket, &sluice::WebSocket::binaryReceived, socket,
                     [socket](const QByteArray &message) { socket->sendBinary(message); });
}

sluice::Server &server()
{
    static sluice::Server *server = [] {
        static int argc = 1;
        static char name[] = "fuzz_server";
        static char *argv[] = {name, nullptr};
        new QCoreApplication(argc, argv);

        auto *s = new sluice::Server;
        sluice::Limits limits;
        // Small enough that the fuzzer reaches them.
        limits.maxUriBytes = 512;
        limits.maxHeadBytes = 2048;
        limits.maxHeaderCount = 24;
        limits.maxBodyBytes = 1024;
        limits.responseBufferBytes = 256;
        s->setLimits(limits);

        bool ok = true;
        ok &= s->map(QStringLiteral("/"),
                     [](sluice::HttpConnect &connect) { connect.response().write("home\n"); });
        ok &= s->map(QStringLiteral("/hello/(?<name>[^/]+)"), [](sluice::HttpConnect &connect) {
            connect.response().write(
                    QStringLiteral("Hello %1\n").arg(connect.param(QStringLiteral("name"))));
        });
        ok &= s->map(QStringLiteral("post:/body"), [](sluice::HttpConnect &connect) {
            // Past responseBufferBytes: goes out chunked (HTTP/1.1) or close-delimited.
            connect.response().write(connect.request().body().repeated(3));
        });
        ok &= s->map(QStringLiteral("get:/only-get"),
                     [](sluice::HttpConnect &connect) { connect.response().write("get\n"); });
        ok &= s->map(QStringLiteral("/old/(rest:.*)"), QStringLiteral("/hello/(rest)"));
        ok &= s->map(QStringLiteral("/away"), QStringLiteral("https://example.org/"));
        ok &= s->map(QStringLiteral("ws:/echo"), echo);
        ok &= s->map(QStringLiteral("ws:/chat/(?<room>\\w+)"), echo);
        ok &= s->map(QStringLiteral("ws:/guarded"), echo);
        ok &= s->filter(QStringLiteral("/guarded"),
                        [](sluice::HttpConnect &connect, sluice::Chain next) {
                            if (connect.request().header("X-Token") == "secret") {
                                next();
                                return;
                            }
                            connect.response().setStatus(403);
                            connect.response().write("forbidden\n");
                        });
        s->mapError(404, [](sluice::HttpConnect &connect) {
            connect.response().write("no such page\n");
        });
        if (!ok)
            fail("bad route", s->router()->errorString().toUtf8());
        if (!s->listen(QHostAddress::LocalHost, 0))
            fail("cannot listen", s->errorString().toUtf8());
        return s;
    }();
    return *server;
}

// Runs the event loop until done() or timeoutMs; false on timeout.
template<typename Done>
bool runUntil(Done done, int timeoutMs)
{
    QElapsedTimer timer;
    timer.start();
    QEventLoop loop;
    QTimer poll;
    poll.setInterval(1);
    QObject::connect(&poll, &QTimer::timeout, &loop, [&] {
        QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);
        if (done() || timer.hasExpired(timeoutMs))
            loop.quit();
    });
    if (!done()) {
        poll.start();
        loop.exec();
    }
    return done();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    sluice::Server &s = server();
    if (size < 2)
        return 0;
    const bool halfClose = data[0] & 1;
    const bool inPieces = data[0] & 2;
    const QByteArray input(reinterpret_cast<const char *>(data + 2), qsizetype(size - 2));

    QTcpSocket client;
    QByteArray received;
    bool closed = false;
    QEventLoop loop;
    QTimer quiet;
    quiet.setSingleShot(true);
    quiet.setInterval(20);
    QObject::connect(&quiet, &QTimer::timeout, &loop, &QEventLoop::quit);
    QObject::connect(&client, &QTcpSocket::readyRead, &client, [&] {
        received += client.readAll();
        quiet.start();
    });
    QObject::connect(&client, &QTcpSocket::disconnected, &loop, [&] {
        closed = true;
        loop.quit();
    });

    client.connectToHost(QHostAddress::LocalHost, s.serverPort());
    if (!runUntil([&] { return client.state() == QAbstractSocket::ConnectedState; }, 2000))
        fail("cannot connect", client.errorString().toUtf8());

    std::uint32_t state = 0x9e3779b9u ^ (std::uint32_t(data[1]) * 0x01000193u);
    for (qsizetype offset = 0; offset < input.size() && !closed;) {
        qsizetype piece = input.size() - offset;
        if (inPieces) {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            piece = qMin<qsizetype>(piece, 1 + state % 64);
        }
        client.write(input.mid(offset, piece));
        offset += piece;
        client.flush();
        if (inPieces)
            runUntil([] { return false; }, 1);
    }
    client.flush();
    if (halfClose && client.state() == QAbstractSocket::ConnectedState)
        ::shutdown(int(client.socketDescriptor()), SHUT_WR);

    // Until the server closes, or has been quiet for a while.
    if (!closed) {
        QTimer deadline;
        deadline.setSingleShot(true);
        QObject::connect(&deadline, &QTimer::timeout, &loop, &QEventLoop::quit);
        deadline.start(500);
        quiet.start();
        loop.exec();
    }

    if (!received.isEmpty() && !received.startsWith("HTTP/1.1 ")
        && !received.startsWith("HTTP/1.0 "))
        fail("not a status line:", received.left(64));
    if (received.size() >= 12) {
        const int status = received.mid(9, 3).toInt();
        if (status < 100 || status > 599)
            fail("bad status:", received.left(64));
    }

    client.abort();
    if (!runUntil([&] { return s.connectionCount() == 0; }, 3000))
        fail("connections left open:", QByteArray::number(s.connectionCount()));
    return 0;
}
