#include <sluice/httpconnect.h>
#include <sluice/monitor.h>
#include <sluice/monitorevent.h>
#include <sluice/server.h>
#include <sluice/websocket.h>

#include <QtCore/QDateTime>
#include <QtNetwork/QNetworkRequest>
#include <QtNetwork/QTcpSocket>
#include <QtTest/QtTest>
#include <QtWebSockets/QWebSocket>
#include <QtWebSockets/QWebSocketHandshakeOptions>

#include <memory>

using sluice::MonitorEvent;
using Type = sluice::MonitorEvent::Type;
using Direction = sluice::MonitorEvent::Direction;
using Opcode = sluice::MonitorEvent::Opcode;

namespace {

constexpr int kTimeout = 10000;

qint64 wallClockUs()
{
    return QDateTime::currentMSecsSinceEpoch() * 1000;
}

// Listens to the monitor from the test's thread and keeps every batch.
class Collector : public QObject
{
public:
    void attach(sluice::Monitor *monitor)
    {
        m_connection = connect(monitor, &sluice::Monitor::eventsPosted, this,
                               [this](const QList<MonitorEvent> &batch) {
                                   ++emissions;
                                   batchSizes.append(batch.size());
                                   events += batch;
                               });
    }
    void detach() { disconnect(m_connection); }

    QList<MonitorEvent> ofType(Type type) const
    {
        QList<MonitorEvent> found;
        for (const MonitorEvent &e : events) {
            if (e.type == type)
                found.append(e);
        }
        return found;
    }
    QList<MonitorEvent> ofConnection(quint64 id) const
    {
        QList<MonitorEvent> found;
        for (const MonitorEvent &e : events) {
            if (e.connectionId == id)
                found.append(e);
        }
        return found;
    }
    // The id the server gave the connection whose client end is localPort.
    quint64 idForPeerPort(quint16 localPort) const
    {
        for (const MonitorEvent &e : events) {
            if (e.type == Type::ConnectionOpened && e.peerPort == localPort)
                return e.connectionId;
        }
        return 0;
    }
    bool has(Type type, quint64 id) const
    {
        for (const MonitorEvent &e : events) {
            if (e.type == type && e.connectionId == id)
                return true;
        }
        return false;
    }
    int countMessages(quint64 id = 0) const
    {
        int n = 0;
        for (const MonitorEvent &e : events) {
            n += e.type == Type::WebSocketMessage && !e.isControlFrame()
                 && (id == 0 || e.connectionId == id);
        }
        return n;
    }

    QList<MonitorEvent> events;
    QList<int> batchSizes;
    int emissions = 0;

private:
    QMetaObject::Connection m_connection;
};

struct WsClient
{
    WsClient()
    {
        QObject::connect(&socket, &QWebSocket::textMessageReceived, &socket,
                         [this](const QString &) { ++received; });
        QObject::connect(&socket, &QWebSocket::binaryMessageReceived, &socket,
                         [this](const QByteArray &) { ++received; });
    }
    bool open(const QUrl &url, const QStringList &subprotocols = {})
    {
        QWebSocketHandshakeOptions options;
        options.setSubprotocols(subprotocols);
        socket.open(QNetworkRequest(url), options);
        return QTest::qWaitFor([this] { return socket.state() == QAbstractSocket::ConnectedState; },
                               kTimeout);
    }
    bool closeAndWait(int code = 1000)
    {
        socket.close(QWebSocketProtocol::CloseCode(code));
        return QTest::qWaitFor(
                [this] { return socket.state() == QAbstractSocket::UnconnectedState; }, kTimeout);
    }
    QWebSocket socket;
    int received = 0;
};

// One request on its own connection, read to the end.
bool httpRequest(quint16 port, const QByteArray &request, quint16 *localPort = nullptr,
                 QByteArray *answer = nullptr)
{
    QTcpSocket socket;
    socket.connectToHost(QHostAddress::LocalHost, port);
    if (!QTest::qWaitFor([&] { return socket.state() == QAbstractSocket::ConnectedState; },
                         kTimeout))
        return false;
    if (localPort)
        *localPort = socket.localPort();
    socket.write(request);
    QByteArray all;
    const bool closed = QTest::qWaitFor(
            [&] {
                all += socket.readAll();
                return socket.state() == QAbstractSocket::UnconnectedState;
            },
            kTimeout);
    all += socket.readAll();
    if (answer)
        *answer = all;
    return closed && all.startsWith("HTTP/1.1 200");
}

} // namespace

class tst_Monitor : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void init();
    void cleanup();

    void httpAndWebSocketEvents();
    void eventsArriveInBatches();
    void nothingRecordedWithoutListener();
    void destroyedListenerStopsRecording();
    void capacityBoundsPendingEvents();
    void capacityBoundsBatchesUnderTraffic();

private:
    QUrl wsUrl(const QString &path) const
    {
        return QUrl(QStringLiteral("ws://127.0.0.1:%1%2").arg(m_server->serverPort()).arg(path));
    }

    std::unique_ptr<sluice::Server> m_server;
};

void tst_Monitor::init()
{
    m_server = std::make_unique<sluice::Server>();
    QVERIFY(m_server->map(QStringLiteral("/hello"),
                          [](sluice::HttpConnect &c) { c.response().write("hello"); }));
    sluice::MapOptions options;
    options.subprotocols = {QStringLiteral("mon.v1")};
    QVERIFY(m_server->map(
            QStringLiteral("ws:/echo"),
            [](sluice::WebSocket *ws) {
                QObject::connect(ws, &sluice::WebSocket::textReceived, ws,
                                 [ws](const QString &m) { ws->sendText(m); });
                QObject::connect(ws, &sluice::WebSocket::binaryReceived, ws,
                                 [ws](const QByteArray &m) { ws->sendBinary(m); });
            },
            options));
    QVERIFY(m_server->listen(QHostAddress::LocalHost, 0));
}

void tst_Monitor::cleanup()
{
    m_server.reset();
}

void tst_Monitor::httpAndWebSocketEvents()
{
    sluice::Monitor *monitor = m_server->monitor();
    QVERIFY(monitor);
    QVERIFY(!monitor->isActive());
    monitor->setPayloadCap(16);
    QCOMPARE(monitor->payloadCap(), 16);

    Collector collector;
    collector.attach(monitor);
    QVERIFY(monitor->isActive());

    QList<quint64> openedBySignal;
    QList<quint64> closedBySignal;
    connect(m_server.get(), &sluice::Server::connectionOpened, &collector,
            [&openedBySignal](quint64 id) { openedBySignal.append(id); });
    connect(m_server.get(), &sluice::Server::connectionClosed, &collector,
            [&closedBySignal](quint64 id) { closedBySignal.append(id); });

    const qint64 startUs = wallClockUs();

    // An HTTP exchange with a body in and out.
    quint16 httpPort = 0;
    QByteArray answer;
    QVERIFY(httpRequest(m_server->serverPort(),
                        "POST /hello?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n"
                        "Connection: close\r\n\r\n12345",
                        &httpPort, &answer));

    // A WebSocket exchange: text and binary each way, one message past the cap.
    WsClient ws;
    QVERIFY(ws.open(wsUrl(QStringLiteral("/echo")), {QStringLiteral("mon.v1")}));
    QCOMPARE(ws.socket.subprotocol(), QStringLiteral("mon.v1"));
    const quint16 wsPort = ws.socket.localPort();
    const QByteArray binary("\x00\x01\x02", 3);
    QByteArray big;
    for (int i = 0; i < 100; ++i)
        big.append(char('a' + i % 26));
    ws.socket.sendTextMessage(QStringLiteral("hello"));
    ws.socket.sendBinaryMessage(binary);
    ws.socket.sendTextMessage(QString::fromLatin1(big));
    QTRY_COMPARE_WITH_TIMEOUT(ws.received, 3, kTimeout);
    QVERIFY(ws.closeAndWait(4005));

    const quint64 httpId = collector.idForPeerPort(httpPort);
    QTRY_VERIFY_WITH_TIMEOUT(collector.idForPeerPort(wsPort) != 0, kTimeout);
    const quint64 wsId = collector.idForPeerPort(wsPort);
    QVERIFY(httpId != 0);
    QVERIFY(httpId != wsId);
    QTRY_VERIFY_WITH_TIMEOUT(collector.has(Type::ConnectionClosed, httpId), kTimeout);
    QTRY_VERIFY_WITH_TIMEOUT(collector.has(Type::WebSocketClosed, wsId), kTimeout);
    QTRY_VERIFY_WITH_TIMEOUT(collector.has(Type::ConnectionClosed, wsId), kTimeout);
    const qint64 endUs = wallClockUs();

    // The server's own signals name the same connections.
    QTRY_VERIFY_WITH_TIMEOUT(closedBySignal.contains(wsId), kTimeout);
    QVERIFY(openedBySignal.contains(httpId));
    QVERIFY(openedBySignal.contains(wsId));
    QVERIFY(closedBySignal.contains(httpId));

    // Every WebSocket event carries the id of the connection it upgraded.
    for (const MonitorEvent &e : std::as_const(collector.events)) {
        if (e.type == Type::WebSocketOpened || e.type == Type::WebSocketMessage
            || e.type == Type::WebSocketClosed)
            QCOMPARE(e.connectionId, wsId);
        // (A server may also log the upgrade itself as a 101 exchange.)
        if (e.type == Type::HttpExchange && e.status != 101)
            QCOMPARE(e.connectionId, httpId);
    }

    // HTTP connection.
    const QList<MonitorEvent> http = collector.ofConnection(httpId);
    QVERIFY(!http.isEmpty());
    QCOMPARE(http.first().type, Type::ConnectionOpened);
    QVERIFY(http.first().peerAddress.isLoopback());
    QCOMPARE(http.last().type, Type::ConnectionClosed);
    QVERIFY(http.last().bytesIn >= 5);
    QVERIFY(http.last().bytesOut >= answer.size());
    bool sawExchange = false;
    for (const MonitorEvent &e : http) {
        if (e.type != Type::HttpExchange)
            continue;
        QVERIFY(!sawExchange);
        sawExchange = true;
        QCOMPARE(e.method, QByteArray("POST"));
        QCOMPARE(e.target, QStringLiteral("/hello?x=1"));
        QCOMPARE(e.status, 200);
        QCOMPARE(e.route, QStringLiteral("/hello"));
        QVERIFY(e.bytesIn >= 5);
        QVERIFY2(e.bytesOut >= 5, qPrintable(QString::number(e.bytesOut)));
        QVERIFY(e.bytesOut <= answer.size());
        QVERIFY(e.durationUs >= 0);
        QVERIFY(e.durationUs <= endUs - startUs);
    }
    QVERIFY(sawExchange);

    // WebSocket connection.
    const QList<MonitorEvent> wsEvents = collector.ofConnection(wsId);
    QCOMPARE(wsEvents.first().type, Type::ConnectionOpened);
    QCOMPARE(wsEvents.first().peerPort, wsPort);
    QCOMPARE(wsEvents.last().type, Type::ConnectionClosed);
    QVERIFY(wsEvents.last().bytesIn > 100);
    QVERIFY(wsEvents.last().bytesOut > 100);

    int opened = 0;
    int closed = 0;
    QList<MonitorEvent> messages;
    for (const MonitorEvent &e : wsEvents) {
        switch (e.type) {
        case Type::WebSocketOpened:
            ++opened;
            QCOMPARE(e.route, QStringLiteral("ws:/echo"));
            QCOMPARE(e.target, QStringLiteral("/echo"));
            QCOMPARE(e.reason, QStringLiteral("mon.v1"));
            QVERIFY(messages.isEmpty());
            break;
        case Type::WebSocketMessage:
            QCOMPARE(opened, 1);
            QCOMPARE(closed, 0);
            if (!e.isControlFrame())
                messages.append(e);
            break;
        case Type::WebSocketClosed:
            ++closed;
            QCOMPARE(e.closeCode, 4005);
            QVERIFY(e.durationUs > 0);
            break;
        default:
            break;
        }
    }
    QCOMPARE(opened, 1);
    QCOMPARE(closed, 1);

    struct Expected
    {
        Direction direction;
        Opcode opcode;
        qint64 size;
        QByteArray payload;
    };
    const QList<Expected> expected = {
            {Direction::Incoming, Opcode::Text, 5, "hello"},
            {Direction::Outgoing, Opcode::Text, 5, "hello"},
            {Direction::Incoming, Opcode::Binary, 3, binary},
            {Direction::Outgoing, Opcode::Binary, 3, binary},
            {Direction::Incoming, Opcode::Text, 100, big.left(16)},
            {Direction::Outgoing, Opcode::Text, 100, big.left(16)},
    };
    QCOMPARE(messages.size(), expected.size());
    for (int i = 0; i < expected.size(); ++i) {
        const MonitorEvent &e = messages.at(i);
        QCOMPARE(e.direction, expected.at(i).direction);
        QCOMPARE(e.opcode, expected.at(i).opcode);
        QCOMPARE(e.size, expected.at(i).size);
        QCOMPARE(e.payload, expected.at(i).payload);
        QCOMPARE(e.route, QStringLiteral("ws:/echo"));
    }

    // Times are microseconds since the epoch, in order within a connection.
    for (const QList<MonitorEvent> &list : {http, wsEvents}) {
        qint64 previous = 0;
        for (const MonitorEvent &e : list) {
            QVERIFY2(e.timeUs >= previous, qPrintable(MonitorEvent::typeName(e.type)));
            QVERIFY(e.timeUs >= startUs - 1000);
            QVERIFY(e.timeUs <= endUs + 1000);
            previous = e.timeUs;
        }
    }
    QVERIFY(qAbs(MonitorEvent::now() - wallClockUs()) < 1000 * 1000);
    collector.detach();
    QVERIFY(!monitor->isActive());
}

void tst_Monitor::eventsArriveInBatches()
{
    Collector collector;
    collector.attach(m_server->monitor());

    WsClient ws;
    QVERIFY(ws.open(wsUrl(QStringLiteral("/echo"))));
    constexpr int burst = 300;
    for (int i = 0; i < burst; ++i)
        ws.socket.sendTextMessage(QStringLiteral("m%1").arg(i));
    QTRY_COMPARE_WITH_TIMEOUT(ws.received, burst, kTimeout);
    QTRY_COMPARE_WITH_TIMEOUT(collector.countMessages(), 2 * burst, kTimeout);

    QVERIFY2(collector.emissions < collector.events.size(),
             qPrintable(QStringLiteral("%1 emissions for %2 events")
                                .arg(collector.emissions)
                                .arg(collector.events.size())));
    int summed = 0;
    for (int size : collector.batchSizes) {
        QVERIFY(size > 0);
        summed += size;
    }
    QCOMPARE(summed, collector.events.size());
    QCOMPARE(m_server->monitor()->droppedCount(), quint64(0));
}

void tst_Monitor::nothingRecordedWithoutListener()
{
    sluice::Monitor *monitor = m_server->monitor();
    QVERIFY(!monitor->isActive());

    QVERIFY(httpRequest(m_server->serverPort(),
                        "GET /hello?before=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    {
        WsClient ws;
        QVERIFY(ws.open(wsUrl(QStringLiteral("/echo"))));
        ws.socket.sendTextMessage(QStringLiteral("before"));
        QTRY_COMPARE_WITH_TIMEOUT(ws.received, 1, kTimeout);
        QVERIFY(ws.closeAndWait());
    }
    QTRY_COMPARE_WITH_TIMEOUT(m_server->connectionCount(), 0, kTimeout);

    Collector collector;
    collector.attach(monitor);
    QVERIFY(monitor->isActive());
    monitor->flush();
    QTest::qWait(100);
    QVERIFY2(collector.events.isEmpty(),
             qPrintable(MonitorEvent::typeName(collector.events.value(0).type)));

    QVERIFY(httpRequest(m_server->serverPort(),
                        "GET /hello?after=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    QTRY_COMPARE_WITH_TIMEOUT(collector.ofType(Type::HttpExchange).size(), 1, kTimeout);
    QCOMPARE(collector.ofType(Type::HttpExchange).first().target, QStringLiteral("/hello?after=1"));
    for (const MonitorEvent &e : collector.events) {
        QVERIFY(!e.target.contains(QLatin1String("before")));
        QVERIFY(!e.payload.contains("before"));
        QVERIFY(e.type != Type::WebSocketOpened && e.type != Type::WebSocketMessage
                && e.type != Type::WebSocketClosed);
    }
    QCOMPARE(collector.ofType(Type::ConnectionOpened).size(), 1);

    collector.detach();
    QVERIFY(!monitor->isActive());
}

void tst_Monitor::destroyedListenerStopsRecording()
{
    sluice::Monitor *monitor = m_server->monitor();
    {
        // Going out of scope disconnects it without an explicit disconnect().
        Collector collector;
        collector.attach(monitor);
        QVERIFY(monitor->isActive());
    }
    QVERIFY(!monitor->isActive());

    // Two listeners: the monitor stays active until the last one leaves.
    Collector first;
    Collector second;
    first.attach(monitor);
    second.attach(monitor);
    first.detach();
    QVERIFY(monitor->isActive());
    QVERIFY(httpRequest(m_server->serverPort(),
                        "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    QTRY_COMPARE_WITH_TIMEOUT(second.ofType(Type::HttpExchange).size(), 1, kTimeout);
    QVERIFY(first.events.isEmpty());
    second.detach();
    QVERIFY(!monitor->isActive());
}

void tst_Monitor::capacityBoundsPendingEvents()
{
    sluice::Monitor *monitor = m_server->monitor();
    monitor->setCapacity(10);
    QCOMPARE(monitor->capacity(), 10);
    Collector collector;
    collector.attach(monitor);
    const quint64 droppedBefore = monitor->droppedCount();

    // All posted before the event loop gets a chance to deliver any.
    for (int i = 0; i < 100; ++i) {
        MonitorEvent e;
        e.type = Type::Error;
        e.reason = QString::number(i);
        e.timeUs = MonitorEvent::now();
        monitor->post(std::move(e));
    }
    QVERIFY(monitor->droppedCount() - droppedBefore > 0);
    QTRY_COMPARE_WITH_TIMEOUT(
            collector.events.size() + int(monitor->droppedCount() - droppedBefore), 100, kTimeout);
    QTest::qWait(50);
    QCOMPARE(collector.events.size() + int(monitor->droppedCount() - droppedBefore), 100);
    QCOMPARE(monitor->droppedCount() - droppedBefore, quint64(90));
    for (int size : collector.batchSizes)
        QVERIFY(size <= 10);
    // The newest are the ones dropped.
    for (int i = 0; i < collector.events.size(); ++i)
        QCOMPARE(collector.events.at(i).reason, QString::number(i));
}

void tst_Monitor::capacityBoundsBatchesUnderTraffic()
{
    sluice::Monitor *monitor = m_server->monitor();
    constexpr int capacity = 8;
    monitor->setCapacity(capacity);
    Collector collector;
    collector.attach(monitor);

    WsClient ws;
    QVERIFY(ws.open(wsUrl(QStringLiteral("/echo"))));
    constexpr int burst = 200;
    for (int i = 0; i < burst; ++i)
        ws.socket.sendTextMessage(QStringLiteral("m%1").arg(i));
    QTRY_COMPARE_WITH_TIMEOUT(ws.received, burst, kTimeout);
    monitor->flush();
    QTest::qWait(50);

    for (int size : collector.batchSizes)
        QVERIFY2(size <= capacity, qPrintable(QString::number(size)));
    // Every message event was either delivered or counted as dropped.
    QVERIFY(collector.countMessages() + qint64(monitor->droppedCount()) >= 2 * burst);
}

int main(int argc, char *argv[])
{
    // A deadlock in the server should fail this test quickly, not hang ctest.
    if (!qEnvironmentVariableIsSet("QTEST_FUNCTION_TIMEOUT"))
        qputenv("QTEST_FUNCTION_TIMEOUT", "60000");
    QCoreApplication app(argc, argv);
    tst_Monitor test;
    QTEST_SET_MAIN_SOURCE_PATH
    return QTest::qExec(&test, argc, argv);
}
#include "tst_monitor.moc"
