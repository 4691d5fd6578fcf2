// The server goes on, and frees everything, whatever clients and handlers
// do: clients that reset the connection at every stage of an exchange,
// clients that half-close, handlers that throw. After each case the
// connection count is back to 0, every connection the monitor saw open was
// seen closed, and the server still answers fresh HTTP and WebSocket clients.

#include "rawwebsocket.h"

#include <sluice/httpconnect.h>
#include <sluice/httpstatus.h>
#include <sluice/monitor.h>
#include <sluice/server.h>
#include <sluice/websocket.h>

#include <QtCore/QFile>
#include <QtCore/QTemporaryDir>
#include <QtCore/QTimer>
#include <QtTest/QtTest>

#include <memory>
#include <stdexcept>

namespace {

constexpr int kTimeout = 10000;
constexpr qint64 kBigFileBytes = 16 * 1024 * 1024;

struct Probe
{
    QStringList log;
    QHash<quint64, int> closeCodes;
};

} // namespace

class tst_Resilience : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void init();
    void cleanup();

    void resetAtEveryStage_data();
    void resetAtEveryStage();
    void halfClosedAfterCompleteRequest_data();
    void halfClosedAfterCompleteRequest();
    void halfClosedDuringSlowHandler();
    void halfClosedMidHead();
    void halfClosedWebSocket();
    void httpHandlerThrows_data();
    void httpHandlerThrows();
    // Last: before handler exceptions were caught, this one took the
    // process down with it.
    void webSocketHandlerThrows_data();
    void webSocketHandlerThrows();

private:
    quint16 port() const { return m_server->serverPort(); }
    // Connection count 0, every opened connection closed in the monitor,
    // and a fresh HTTP request and WebSocket echo served.
    void verifyRecovered();
    QSet<quint64> idsOf(sluice::MonitorEvent::Type type) const
    {
        QSet<quint64> ids;
        for (const sluice::MonitorEvent &event : m_events) {
            if (event.type == type)
                ids.insert(event.connectionId);
        }
        return ids;
    }

    QTemporaryDir m_home;
    std::unique_ptr<sluice::Server> m_server;
    Probe m_probe;
    QList<sluice::MonitorEvent> m_events;
};

void tst_Resilience::initTestCase()
{
    QVERIFY(m_home.isValid());
    QFile big(m_home.filePath(QStringLiteral("big.bin")));
    QVERIFY(big.open(QIODevice::WriteOnly));
    QByteArray block(1024 * 1024, '\0');
    for (qsizetype i = 0; i < block.size(); ++i)
        block[i] = char(i * 7);
    for (qint64 written = 0; written < kBigFileBytes; written += block.size())
        QCOMPARE(big.write(block), block.size());
}

void tst_Resilience::init()
{
    m_probe = Probe();
    m_events.clear();
    m_server = std::make_unique<sluice::Server>();
    sluice::Server &s = *m_server;
    Probe *probe = &m_probe;
    connect(s.monitor(), &sluice::Monitor::eventsPosted, this,
            [this](const QList<sluice::MonitorEvent> &events) { m_events += events; });
    QVERIFY(s.setHome(m_home.path()));

    QVERIFY(s.map(QStringLiteral("get:/hello"),
                  [](sluice::HttpConnect &c) { c.response().write("hello\n"); }));
    QVERIFY(s.map(QStringLiteral("post:/upload"), [probe](sluice::HttpConnect &c) {
        probe->log.append(QStringLiteral("upload %1").arg(c.request().body().size()));
        c.response().write(QByteArray::number(c.request().body().size()));
    }));
    // Answers 400 ms later, unless the client went away.
    QVERIFY(s.map(QStringLiteral("get:/slow"), [probe](sluice::HttpConnect &c) {
        probe->log.append(QStringLiteral("slow started"));
        c.defer();
        QObject::connect(&c, &sluice::HttpConnect::aborted, &c,
                         [probe] { probe->log.append(QStringLiteral("slow aborted")); });
        QTimer::singleShot(400, &c, [probe, &c] {
            probe->log.append(QStringLiteral("slow answered"));
            c.response().end("slow\n");
        });
    }));
    QVERIFY(s.map(QStringLiteral("get:/throw/std"),
                  [](sluice::HttpConnect &) { throw std::runtime_error("handler failed"); }));
    QVERIFY(s.map(QStringLiteral("get:/throw/int"), [](sluice::HttpConnect &) { throw 42; }));
    QVERIFY(s.map(QStringLiteral("ws:/echo"), [probe](sluice::WebSocket *socket) {
        const quint64 id = socket->id();
        QObject::connect(socket, &sluice::WebSocket::closed, socket,
                         [probe, id](int code) { probe->closeCodes.insert(id, code); });
        QObject::connect(socket, &sluice::WebSocket::textReceived, socket,
                         [socket](const QString &message) { socket->sendText(message); });
        QObject::connect(socket, &sluice::WebSocket::binaryReceived, socket,
                         [socket](const QByteArray &message) { socket->sendBinary(message); });
    }));
    // Throws from its message slots, after the handshake went well.
    QVERIFY(s.map(QStringLiteral("ws:/throw"), [probe](sluice::WebSocket *socket) {
        const quint64 id = socket->id();
        QObject::connect(socket, &sluice::WebSocket::closed, socket,
                         [probe, id](int code) { probe->closeCodes.insert(id, code); });
        QObject::connect(socket, &sluice::WebSocket::textReceived, socket,
                         [](const QString &) { throw std::runtime_error("text handler failed"); });
        QObject::connect(socket, &sluice::WebSocket::binaryReceived, socket,
                         [](const QByteArray &) { throw 42; });
    }));
    QVERIFY(s.listen(QHostAddress::LocalHost, 0));
}

void tst_Resilience::cleanup()
{
    m_server.reset();
}

void tst_Resilience::verifyRecovered()
{
    QTRY_COMPARE_WITH_TIMEOUT(m_server->connectionCount(), 0, kTimeout);
    QTRY_COMPARE_WITH_TIMEOUT(idsOf(sluice::MonitorEvent::Type::ConnectionClosed),
                              idsOf(sluice::MonitorEvent::Type::ConnectionOpened), kTimeout);
    QVERIFY(!idsOf(sluice::MonitorEvent::Type::ConnectionOpened).isEmpty());

    rawws::Client http;
    QVERIFY(http.connectTo(port()));
    http.send("GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    QVERIFY2(http.readHead() == 200, http.head().constData());
    QTRY_COMPARE_WITH_TIMEOUT(http.buffer(), QByteArray("hello\n"), kTimeout);

    rawws::Client ws;
    QVERIFY(ws.connectTo(port()));
    QCOMPARE(ws.upgrade("/echo"), 101);
    ws.sendText("still serving");
    rawws::Frame frame;
    QVERIFY(ws.nextFrame(&frame));
    QCOMPARE(frame.payload, QByteArray("still serving"));
}

void tst_Resilience::resetAtEveryStage_data()
{
    QTest::addColumn<QString>("stage");

    QTest::newRow("mid-head") << QStringLiteral("mid-head");
    QTest::newRow("mid-body") << QStringLiteral("mid-body");
    QTest::newRow("mid-chunked-body") << QStringLiteral("mid-chunked-body");
    QTest::newRow("slow handler working") << QStringLiteral("slow handler");
    QTest::newRow("mid-response") << QStringLiteral("mid-response");
    QTest::newRow("idle keep-alive") << QStringLiteral("idle keep-alive");
    QTest::newRow("right after the upgrade request") << QStringLiteral("upgrade request");
    QTest::newRow("right after the 101") << QStringLiteral("after 101");
    QTest::newRow("mid-WebSocket-frame") << QStringLiteral("mid-frame");
    QTest::newRow("mid-fragmented-message") << QStringLiteral("mid-message");
}

void tst_Resilience::resetAtEveryStage()
{
    QFETCH(QString, stage);

    rawws::Client client;
    QVERIFY(client.connectTo(port()));
    // Lets the server read what was sent before the reset comes.
    const auto serverHasRead = [] {
        QTest::qWait(100);
    };

    if (stage == QLatin1String("mid-head")) {
        client.send("GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Partial: abc");
        serverHasRead();
    } else if (stage == QLatin1String("mid-body")) {
        client.send("POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n"
                    + QByteArray(1000, 'b'));
        serverHasRead();
    } else if (stage == QLatin1String("mid-chunked-body")) {
        client.send("POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "3e8\r\n"
                    + QByteArray(1000, 'c') + "\r\n200\r\n" + QByteArray(100, 'd'));
        serverHasRead();
    } else if (stage == QLatin1String("slow handler")) {
        client.send("GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        QTRY_VERIFY_WITH_TIMEOUT(m_probe.log.contains(QStringLiteral("slow started")), kTimeout);
    } else if (stage == QLatin1String("mid-response")) {
        client.send("GET /big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        QCOMPARE(client.readHead(), 200);
        QTRY_VERIFY_WITH_TIMEOUT(client.buffer().size() >= 256 * 1024, kTimeout);
    } else if (stage == QLatin1String("idle keep-alive")) {
        client.send("GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        QCOMPARE(client.readHead(), 200);
        QTRY_COMPARE_WITH_TIMEOUT(client.buffer(), QByteArray("hello\n"), kTimeout);
    } else if (stage == QLatin1String("upgrade request")) {
        client.send(rawws::upgradeRequest("/echo"));
    } else if (stage == QLatin1String("after 101")) {
        QCOMPARE(client.upgrade("/echo"), 101);
    } else if (stage == QLatin1String("mid-frame")) {
        QCOMPARE(client.upgrade("/echo"), 101);
        const QByteArray frame = rawws::clientFrame(rawws::Binary, QByteArray(100000, 'w'));
        client.send(frame.left(1014));
        serverHasRead();
    } else if (stage == QLatin1String("mid-message")) {
        QCOMPARE(client.upgrade("/echo"), 101);
        client.sendFrame(rawws::Text, QByteArray(1000, 'p'), false);
        client.sendFrame(rawws::Continuation, QByteArray(1000, 'q'), false);
        serverHasRead();
    } else {
        QFAIL("unknown stage");
    }
    client.reset();

    if (stage == QLatin1String("slow handler")) {
        QTRY_VERIFY_WITH_TIMEOUT(m_probe.log.contains(QStringLiteral("slow aborted")), kTimeout);
        // Past the handler's timer: the connect it used as context is gone.
        QTest::qWait(500);
        QVERIFY2(!m_probe.log.contains(QStringLiteral("slow answered")),
                 qPrintable(m_probe.log.join(QLatin1Char(','))));
    }
    if (stage.startsWith(QLatin1String("mid-")) && stage.contains(QLatin1String("body")))
        QVERIFY2(m_probe.log.filter(QStringLiteral("upload")).isEmpty(),
                 qPrintable(m_probe.log.join(QLatin1Char(','))));
    verifyRecovered();

    // A WebSocket that vanished without a close frame closed with 1006
    // (RFC 6455 7.1.5) as its handler sees it.
    if (stage == QLatin1String("after 101") || stage == QLatin1String("mid-frame")
        || stage == QLatin1String("mid-message")) {
        QCOMPARE(m_probe.closeCodes.begin().value(), 1006);
    }
}

void tst_Resilience::halfClosedAfterCompleteRequest_data()
{
    QTest::addColumn<QByteArray>("requests");
    QTest::addColumn<QByteArrayList>("bodies");

    QTest::newRow("one request") << QByteArray("GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                                 << QByteArrayList {"hello\n"};
    QTest::newRow("two pipelined")
            << QByteArray("GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                          "POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n\r\n"
                          "12345")
            << QByteArrayList {"hello\n", "5"};
}

// A client that sends whole requests and then shuts down its sending side
// (shutdown(SHUT_WR), as `nc -N` does). Qt's QTcpSocket takes the end of
// input for the end of the connection and drops what it has not written yet,
// so the server cannot promise an answer; what it does promise: never a
// partial or garbled one, and everything freed.
void tst_Resilience::halfClosedAfterCompleteRequest()
{
    QFETCH(QByteArray, requests);
    QFETCH(QByteArrayList, bodies);

    rawws::Client client;
    QVERIFY(client.connectTo(port()));
    client.send(requests);
    client.shutdownWrite();
    QVERIFY2(client.waitForClosed(), "the server kept the half-closed connection open");
    const QByteArray received = client.buffer();
    if (!received.isEmpty()) {
        qsizetype from = 0;
        for (const QByteArray &body : bodies) {
            QVERIFY2(received.indexOf("HTTP/1.1 200 OK\r\n", from) == from, received.constData());
            const qsizetype end = received.indexOf("\r\n\r\n", from);
            QVERIFY(end > 0);
            QCOMPARE(received.mid(end + 4, body.size()), body);
            from = end + 4 + body.size();
        }
        QCOMPARE(from, received.size());
    }
    verifyRecovered();
}

// The client half-closes while the handler is still working on its answer.
// Qt's sockets take the end of input for the end of the connection, so the
// server may take this for a client that left (aborted(), no answer) or
// answer and close; either way the connection is freed and nothing leaks.
void tst_Resilience::halfClosedDuringSlowHandler()
{
    rawws::Client client;
    QVERIFY(client.connectTo(port()));
    client.send("GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    QTRY_VERIFY_WITH_TIMEOUT(m_probe.log.contains(QStringLiteral("slow started")), kTimeout);
    client.shutdownWrite();
    QVERIFY2(client.waitForClosed(), "the server kept the half-closed connection open");
    const bool answered = client.buffer().startsWith("HTTP/1.1 200");
    qInfo("half-closed during a slow handler: %s; handler log: %s",
          answered ? "answered, then closed" : "closed without an answer",
          qPrintable(m_probe.log.join(QStringLiteral(", "))));
    if (answered)
        QVERIFY(client.buffer().endsWith("slow\n"));
    else
        QVERIFY(client.buffer().isEmpty());
    QVERIFY(answered || m_probe.log.contains(QStringLiteral("slow aborted")));
    QTest::qWait(500); // past the handler's timer
    verifyRecovered();
}

// Half a head and then no more: nothing can be answered; the server closes.
void tst_Resilience::halfClosedMidHead()
{
    rawws::Client client;
    QVERIFY(client.connectTo(port()));
    client.send("GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    client.shutdownWrite();
    QVERIFY2(client.waitForClosed(), "the server kept the half-closed connection open");
    qInfo("answer to half a head: %s",
          client.buffer().isEmpty() ? "none" : client.buffer().left(40).constData());
    QVERIFY2(client.buffer().isEmpty() || client.buffer().startsWith("HTTP/1.1 400"),
             client.buffer().constData());
    verifyRecovered();
}

// A WebSocket client that shuts down its sending side without a close
// frame: the server ends the connection too.
void tst_Resilience::halfClosedWebSocket()
{
    rawws::Client client;
    QVERIFY(client.connectTo(port()));
    QCOMPARE(client.upgrade("/echo"), 101);
    client.sendText("before");
    rawws::Frame frame;
    QVERIFY(client.nextFrame(&frame));
    QCOMPARE(frame.payload, QByteArray("before"));
    client.shutdownWrite();
    QVERIFY2(client.waitForClosed(), "the server kept the half-closed WebSocket open");
    QTRY_COMPARE_WITH_TIMEOUT(m_probe.closeCodes.size(), 1, kTimeout);
    const int code = m_probe.closeCodes.begin().value();
    verifyRecovered();
    // No close frame came: RFC 6455 7.1.5 calls that 1006, not a normal close.
    QCOMPARE(code, 1006);
}

void tst_Resilience::httpHandlerThrows_data()
{
    QTest::addColumn<QByteArray>("path");

    QTest::newRow("std::exception") << QByteArray("/throw/std");
    QTest::newRow("int") << QByteArray("/throw/int");
}

void tst_Resilience::httpHandlerThrows()
{
    QFETCH(QByteArray, path);

    rawws::Client client;
    QVERIFY(client.connectTo(port()));
    client.send("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    QCOMPARE(client.readHead(), 500);
    const QByteArray body = "500 Internal Server Error\n";
    QTRY_COMPARE_WITH_TIMEOUT(client.buffer(), body, kTimeout);
    // The exception said nothing to the client: no detail in the body.
    QVERIFY(!client.head().contains("handler failed"));
    // Unless the server chose to close, the connection is still good.
    if (!client.head().toLower().contains("connection: close")) {
        client.buffer().clear();
        client.send("GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        QCOMPARE(client.readHead(), 200);
        QTRY_COMPARE_WITH_TIMEOUT(client.buffer(), QByteArray("hello\n"), kTimeout);
    }
    client.socket().disconnectFromHost();
    verifyRecovered();
}

void tst_Resilience::webSocketHandlerThrows_data()
{
    QTest::addColumn<bool>("text");

    QTest::newRow("std::exception from textReceived") << true;
    QTest::newRow("int from binaryReceived") << false;
}

void tst_Resilience::webSocketHandlerThrows()
{
    QFETCH(bool, text);

    rawws::Client client;
    QVERIFY(client.connectTo(port()));
    QCOMPARE(client.upgrade("/throw"), 101);
    client.sendFrame(text ? rawws::Text : rawws::Binary, "boom");
    rawws::Frame frame;
    QVERIFY2(client.nextFrame(&frame), "no close frame");
    QCOMPARE(int(frame.opcode), int(rawws::Close));
    QCOMPARE(frame.closeCode(), 1011);
    client.sendFrame(rawws::Close, rawws::closePayload(1011));
    QVERIFY(client.waitForClosed());
    QTRY_COMPARE_WITH_TIMEOUT(m_probe.closeCodes.size(), 1, kTimeout);
    QCOMPARE(m_probe.closeCodes.begin().value(), 1011);
    verifyRecovered();
}

int main(int argc, char *argv[])
{
    // A deadlock in the server should fail this test quickly, not hang ctest.
    if (!qEnvironmentVariableIsSet("QTEST_FUNCTION_TIMEOUT"))
        qputenv("QTEST_FUNCTION_TIMEOUT", "60000");
    QCoreApplication app(argc, argv);
    tst_Resilience test;
    QTEST_SET_MAIN_SOURCE_PATH
    return QTest::qExec(&test, argc, argv);
}
#include "tst_resilience.moc"
