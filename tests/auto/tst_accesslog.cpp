// The access log: each kind of line in both formats, escaping, caps and
// gating; then a real server driven by curl and python3-websockets.

#include <sluice/accesslog.h>
#include <sluice/handlers.h>
#include <sluice/httpconnect.h>
#include <sluice/monitor.h>
#include <sluice/server.h>

#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QLoggingCategory>
#include <QtCore/QProcess>
#include <QtTest/QtTest>

using sluice::AccessLog;
using sluice::MonitorEvent;

namespace {

// 2026-11-24T10:11:12.345Z
constexpr qint64 kTimeUs = 1795515072345000;

MonitorEvent exchange()
{
    MonitorEvent event;
    event.type = MonitorEvent::Type::HttpExchange;
    event.connectionId = 3;
    event.timeUs = kTimeUs;
    event.peerAddress = QHostAddress(QStringLiteral("127.0.0.1"));
    event.peerPort = 53412;
    event.method = "GET";
    event.target = QStringLiteral("/hello/x");
    event.route = QStringLiteral("get:/hello/(?<name>[^/]+)");
    event.status = 200;
    event.bytesIn = 80;
    event.bytesOut = 12;
    event.durationUs = 812;
    return event;
}

MonitorEvent message(MonitorEvent::Direction direction, MonitorEvent::Opcode opcode,
                     const QByteArray &payload)
{
    MonitorEvent event;
    event.type = MonitorEvent::Type::WebSocketMessage;
    event.connectionId = 5;
    event.timeUs = kTimeUs;
    event.direction = direction;
    event.opcode = opcode;
    event.size = payload.size();
    event.payload = payload;
    return event;
}

QJsonObject json(const QByteArray &line)
{
    QJsonParseError error;
    const QJsonDocument document = QJsonDocument::fromJson(line, &error);
    if (error.error != QJsonParseError::NoError || !document.isObject())
        qWarning("not a JSON object: %s", line.constData());
    return document.object();
}

} // namespace

class tst_AccessLog : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void httpText();
    void httpJson();
    void webSocketOpenAndClose();
    void trafficOnlyWhenAsked();
    void trafficPayloads();
    void textCutKeepsUtf8Whole();
    void oneLineWhateverTheClientSends();
    void ipv6Peer();
    void connectionEventsAreLeftOut();
    void categoriesGate();
    void dropsAreReported();
    void dropsAreReportedInJson();
    void endToEnd();

private:
    sluice::Monitor m_monitor;
};

void tst_AccessLog::httpText()
{
    AccessLog log(&m_monitor, nullptr);
    QCOMPARE(log.formatEvent(exchange()),
             QByteArray("2026-11-24T10:11:12.345Z 127.0.0.1:53412 #3 \"GET /hello/x\" 200 12B "
                        "in 0.8ms route=get:/hello/(?<name>[^/]+)\n"));
    MonitorEvent slow = exchange();
    slow.durationUs = 12'340'000;
    slow.route.clear();
    QCOMPARE(log.formatEvent(slow),
             QByteArray("2026-11-24T10:11:12.345Z 127.0.0.1:53412 #3 \"GET /hello/x\" 200 12B "
                        "in 12.3s\n"));
    slow.durationUs = 9'999'949;
    QVERIFY(log.formatEvent(slow).endsWith(" 200 12B in 9999.9ms\n"));
}

void tst_AccessLog::httpJson()
{
    AccessLog log(&m_monitor, nullptr);
    log.setFormat(AccessLog::Format::Json);
    const QByteArray line = log.formatEvent(exchange());
    QVERIFY(line.endsWith('\n'));
    QCOMPARE(line.count('\n'), 1);
    const QJsonObject object = json(line);
    QCOMPARE(object.value(QStringLiteral("event")).toString(), QStringLiteral("http"));
    QCOMPARE(object.value(QStringLiteral("time")).toString(),
             QStringLiteral("2026-11-24T10:11:12.345Z"));
    QCOMPARE(object.value(QStringLiteral("connection")).toInt(), 3);
    QCOMPARE(object.value(QStringLiteral("peer")).toString(), QStringLiteral("127.0.0.1"));
    QCOMPARE(object.value(QStringLiteral("port")).toInt(), 53412);
    QCOMPARE(object.value(QStringLiteral("method")).toString(), QStringLiteral("GET"));
    QCOMPARE(object.value(QStringLiteral("target")).toString(), QStringLiteral("/hello/x"));
    QCOMPARE(object.value(QStringLiteral("status")).toInt(), 200);
    QCOMPARE(object.value(QStringLiteral("bytesIn")).toInt(), 80);
    QCOMPARE(object.value(QStringLiteral("bytesOut")).toInt(), 12);
    QCOMPARE(object.value(QStringLiteral("durationMs")).toDouble(), 0.812);
    QCOMPARE(object.value(QStringLiteral("route")).toString(),
             QStringLiteral("get:/hello/(?<name>[^/]+)"));
}

void tst_AccessLog::webSocketOpenAndClose()
{
    MonitorEvent opened;
    opened.type = MonitorEvent::Type::WebSocketOpened;
    opened.connectionId = 5;
    opened.timeUs = kTimeUs;
    opened.peerAddress = QHostAddress(QStringLiteral("127.0.0.1"));
    opened.peerPort = 40000;
    opened.target = QStringLiteral("/echo");
    opened.route = QStringLiteral("ws:/echo");
    opened.reason = QStringLiteral("chat");
    MonitorEvent closed = opened;
    closed.type = MonitorEvent::Type::WebSocketClosed;
    closed.reason = QStringLiteral("bye");
    closed.closeCode = 1000;
    closed.messagesIn = 3;
    closed.messagesOut = 4;
    closed.bytesIn = 120;
    closed.bytesOut = 160;
    closed.durationUs = 12'345'678;

    AccessLog log(&m_monitor, nullptr);
    QCOMPARE(log.formatEvent(opened),
             QByteArray("2026-11-24T10:11:12.345Z 127.0.0.1:40000 #5 ws open /echo "
                        "route=ws:/echo subprotocol=chat\n"));
    QCOMPARE(log.formatEvent(closed),
             QByteArray("2026-11-24T10:11:12.345Z 127.0.0.1:40000 #5 ws close /echo 1000 \"bye\" "
                        "12.3s in=3 msgs/120B out=4 msgs/160B\n"));

    log.setFormat(AccessLog::Format::Json);
    const QJsonObject open = json(log.formatEvent(opened));
    QCOMPARE(open.value(QStringLiteral("event")).toString(), QStringLiteral("ws_open"));
    QCOMPARE(open.value(QStringLiteral("subprotocol")).toString(), QStringLiteral("chat"));
    const QJsonObject close = json(log.formatEvent(closed));
    QCOMPARE(close.value(QStringLiteral("event")).toString(), QStringLiteral("ws_close"));
    QCOMPARE(close.value(QStringLiteral("closeCode")).toInt(), 1000);
    QCOMPARE(close.value(QStringLiteral("reason")).toString(), QStringLiteral("bye"));
    QCOMPARE(close.value(QStringLiteral("messagesIn")).toInt(), 3);
    QCOMPARE(close.value(QStringLiteral("messagesOut")).toInt(), 4);
    QCOMPARE(close.value(QStringLiteral("bytesOut")).toInt(), 160);
    QCOMPARE(close.value(QStringLiteral("durationMs")).toDouble(), 12345.678);
}

void tst_AccessLog::trafficOnlyWhenAsked()
{
    const MonitorEvent in
            = message(MonitorEvent::Direction::Incoming, MonitorEvent::Opcode::Text, "hello");
    AccessLog log(&m_monitor, nullptr);
    QVERIFY(!log.logsTraffic());
    QVERIFY(log.formatEvent(in).isEmpty());
    log.setLogsTraffic(true);
    QCOMPARE(log.formatEvent(in),
             QByteArray("2026-11-24T10:11:12.345Z - #5 ws <- text 5B \"hello\"\n"));
}

void tst_AccessLog::trafficPayloads()
{
    AccessLog log(&m_monitor, nullptr);
    log.setLogsTraffic(true);
    log.setPayloadCap(4);
    QCOMPARE(
            log.formatEvent(message(MonitorEvent::Direction::Outgoing, MonitorEvent::Opcode::Binary,
                                    QByteArray("\x00\x01\x02\x03\x04", 5))),
            QByteArray("2026-11-24T10:11:12.345Z - #5 ws -> binary 5B 0x00010203\u2026\n"));
    QCOMPARE(log.formatEvent(message(MonitorEvent::Direction::Incoming, MonitorEvent::Opcode::Text,
                                     "abcdefgh")),
             QByteArray("2026-11-24T10:11:12.345Z - #5 ws <- text 8B \"abcd\"\u2026\n"));
    QCOMPARE(log.formatEvent(message(MonitorEvent::Direction::Incoming, MonitorEvent::Opcode::Ping,
                                     QByteArray())),
             QByteArray("2026-11-24T10:11:12.345Z - #5 ws <- ping 0B\n"));

    log.setFormat(AccessLog::Format::Json);
    const QJsonObject binary
            = json(log.formatEvent(message(MonitorEvent::Direction::Outgoing,
                                           MonitorEvent::Opcode::Binary, "\x01\x02\x03\x04\x05")));
    QCOMPARE(binary.value(QStringLiteral("direction")).toString(), QStringLiteral("out"));
    QCOMPARE(binary.value(QStringLiteral("opcode")).toString(), QStringLiteral("binary"));
    QCOMPARE(binary.value(QStringLiteral("size")).toInt(), 5);
    QCOMPARE(binary.value(QStringLiteral("payloadEncoding")).toString(), QStringLiteral("base64"));
    QCOMPARE(QByteArray::fromBase64(binary.value(QStringLiteral("payload")).toString().toLatin1()),
             QByteArray("\x01\x02\x03\x04"));
    QCOMPARE(binary.value(QStringLiteral("truncated")).toBool(), true);
    const QJsonObject text = json(log.formatEvent(
            message(MonitorEvent::Direction::Incoming, MonitorEvent::Opcode::Text, "hi")));
    QCOMPARE(text.value(QStringLiteral("payload")).toString(), QStringLiteral("hi"));
    QCOMPARE(text.value(QStringLiteral("direction")).toString(), QStringLiteral("in"));
    QCOMPARE(text.value(QStringLiteral("truncated")).toBool(), false);
}

void tst_AccessLog::textCutKeepsUtf8Whole()
{
    AccessLog log(&m_monitor, nullptr);
    log.setLogsTraffic(true);
    log.setPayloadCap(2);
    // "a" then the two bytes of "é": a cut at 2 would split the second.
    const MonitorEvent event
            = message(MonitorEvent::Direction::Outgoing, MonitorEvent::Opcode::Text,
                      QStringLiteral("a\u00e9").toUtf8());
    QCOMPARE(log.formatEvent(event),
             QByteArray("2026-11-24T10:11:12.345Z - #5 ws -> text 3B \"a\"\u2026\n"));
    log.setPayloadCap(3);
    QCOMPARE(log.formatEvent(event),
             QByteArray("2026-11-24T10:11:12.345Z - #5 ws -> text 3B \"a\u00e9\"\n"));

    // The monitor's own cut counts as one too: size says the message was longer.
    MonitorEvent cut = event;
    cut.size = 4096;
    log.setFormat(AccessLog::Format::Json);
    const QJsonObject object = json(log.formatEvent(cut));
    QCOMPARE(object.value(QStringLiteral("payload")).toString(), QStringLiteral("a\u00e9"));
    QCOMPARE(object.value(QStringLiteral("size")).toInt(), 4096);
    QCOMPARE(object.value(QStringLiteral("truncated")).toBool(), true);
}

void tst_AccessLog::oneLineWhateverTheClientSends()
{
    AccessLog log(&m_monitor, nullptr);
    log.setLogsTraffic(true);
    MonitorEvent evil = exchange();
    evil.target
            = QStringLiteral("/a\"b\r\n2026-01-01T00:00:00.000Z 10.0.0.1:1 #9 \"GET /admin\" 200");
    const QByteArray line = log.formatEvent(evil);
    QCOMPARE(line.count('\n'), 1);
    QVERIFY(!line.contains('\r'));
    QVERIFY2(line.contains("\"GET /a\\\"b\\r\\n2026"), line.constData());

    const QByteArray payload = log.formatEvent(
            message(MonitorEvent::Direction::Incoming, MonitorEvent::Opcode::Text, "x\ny\x01\"z"));
    QCOMPARE(payload,
             QByteArray("2026-11-24T10:11:12.345Z - #5 ws <- text 6B \"x\\ny\\x01\\\"z\"\n"));

    MonitorEvent closed;
    closed.type = MonitorEvent::Type::WebSocketClosed;
    closed.timeUs = kTimeUs;
    closed.target = QStringLiteral("/odd path");
    closed.reason = QStringLiteral("line\nbreak");
    const QByteArray closeLine = log.formatEvent(closed);
    QCOMPARE(closeLine.count('\n'), 1);
    QVERIFY2(closeLine.contains("ws close \"/odd path\" 0 \"line\\nbreak\""),
             closeLine.constData());

    // Separators some viewers break lines at, and C1 controls.
    MonitorEvent separators = exchange();
    separators.route.clear();
    separators.target = QStringLiteral("/x\u2028y\u0085z");
    QVERIFY2(
            log.formatEvent(separators).endsWith(" #3 \"GET /x\\u2028y\\x85z\" 200 12B in 0.8ms\n"),
            log.formatEvent(separators).constData());

    log.setFormat(AccessLog::Format::Json);
    const QByteArray jsonLine = log.formatEvent(evil);
    QCOMPARE(jsonLine.count('\n'), 1);
    QCOMPARE(json(jsonLine).value(QStringLiteral("target")).toString(), evil.target);
}

void tst_AccessLog::ipv6Peer()
{
    MonitorEvent event = exchange();
    event.peerAddress = QHostAddress(QStringLiteral("::1"));
    AccessLog log(&m_monitor, nullptr);
    QVERIFY(log.formatEvent(event).startsWith("2026-11-24T10:11:12.345Z [::1]:53412 #3 "));
}

void tst_AccessLog::connectionEventsAreLeftOut()
{
    AccessLog log(&m_monitor, nullptr);
    log.setLogsTraffic(true);
    for (const auto type :
         {MonitorEvent::Type::ConnectionOpened, MonitorEvent::Type::ConnectionClosed,
          MonitorEvent::Type::RoomJoined, MonitorEvent::Type::RoomLeft}) {
        MonitorEvent event = exchange();
        event.type = type;
        QVERIFY(log.formatEvent(event).isEmpty());
    }
    MonitorEvent error = exchange();
    error.type = MonitorEvent::Type::Error;
    error.status = 500;
    error.reason = QStringLiteral("handler threw");
    QCOMPARE(log.formatEvent(error),
             QByteArray(
                     "2026-11-24T10:11:12.345Z 127.0.0.1:53412 #3 error 500 \"handler threw\"\n"));
}

void tst_AccessLog::categoriesGate()
{
    // Whatever happens below, the next test gets the rules back.
    const auto restore = qScopeGuard([] { QLoggingCategory::setFilterRules(QString()); });
    AccessLog log(&m_monitor, nullptr);
    log.setLogsTraffic(true);
    const MonitorEvent in
            = message(MonitorEvent::Direction::Incoming, MonitorEvent::Opcode::Text, "x");
    QLoggingCategory::setFilterRules(QStringLiteral("sluice.access.info=false"));
    QVERIFY(log.formatEvent(exchange()).isEmpty());
    QVERIFY(!log.formatEvent(in).isEmpty());
    QLoggingCategory::setFilterRules(QStringLiteral("sluice.traffic.info=false"));
    QVERIFY(!log.formatEvent(exchange()).isEmpty());
    QVERIFY(log.formatEvent(in).isEmpty());

    // And through the monitor, as a server would deliver them.
    sluice::Monitor monitor;
    QByteArrayList lines;
    AccessLog written(&monitor, [&lines](const QByteArray &line) { lines.append(line); });
    QLoggingCategory::setFilterRules(QStringLiteral("sluice.access.info=false"));
    monitor.post(exchange());
    QCoreApplication::processEvents();
    QVERIFY(lines.isEmpty());
    QLoggingCategory::setFilterRules(QString());
    monitor.post(exchange());
    QTRY_COMPARE_WITH_TIMEOUT(lines.size(), 1, 5000);
    QVERIFY(!log.formatEvent(exchange()).isEmpty());
}

void tst_AccessLog::dropsAreReported()
{
    sluice::Monitor monitor;
    monitor.setCapacity(2);
    // Drops of another listener's are not this log's news.
    {
        AccessLog earlier(&monitor, nullptr);
        for (int i = 0; i < 3; ++i)
            monitor.post(exchange());
    }

    // Two wait at most: three of five are dropped.
    QByteArrayList lines;
    AccessLog log(&monitor, [&lines](const QByteArray &line) { lines.append(line); });
    for (int i = 0; i < 5; ++i)
        monitor.post(exchange());
    // The batch arrives by itself.
    QTRY_COMPARE_WITH_TIMEOUT(lines.size(), 3, 5000);
    QVERIFY(lines.at(0).contains("\"GET /hello/x\" 200"));
    QVERIFY(lines.at(1).contains("\"GET /hello/x\" 200"));
    QVERIFY2(QRegularExpression(
                     QStringLiteral("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z "
                                    "monitor dropped 3 events\n$"))
                     .match(QString::fromUtf8(lines.at(2)))
                     .hasMatch(),
             lines.at(2).constData());

    // Told once: the next batch without drops has no such line.
    monitor.post(exchange());
    QTRY_COMPARE_WITH_TIMEOUT(lines.size(), 4, 5000);
    QCoreApplication::processEvents();
    QCOMPARE(lines.size(), 4);
    QVERIFY(lines.at(3).contains("\"GET /hello/x\" 200"));
}

void tst_AccessLog::dropsAreReportedInJson()
{
    sluice::Monitor monitor;
    monitor.setCapacity(1);
    QByteArrayList lines;
    AccessLog log(&monitor, [&lines](const QByteArray &line) { lines.append(line); });
    log.setFormat(AccessLog::Format::Json);
    monitor.post(exchange());
    monitor.post(exchange());
    QTRY_COMPARE_WITH_TIMEOUT(lines.size(), 2, 5000);
    QCOMPARE(json(lines.at(0)).value(QStringLiteral("event")).toString(), QStringLiteral("http"));
    const QJsonObject dropped = json(lines.at(1));
    QCOMPARE(dropped.value(QStringLiteral("event")).toString(), QStringLiteral("dropped"));
    QCOMPARE(dropped.value(QStringLiteral("count")).toInt(), 1);
    QVERIFY(dropped.value(QStringLiteral("time")).toString().endsWith(u'Z'));
}

void tst_AccessLog::endToEnd()
{
    sluice::Server server;
    QVERIFY(server.map(QStringLiteral("get:/hello/(?<name>[^/]+)"), sluice::handlers::hello()));
    QVERIFY(server.map(QStringLiteral("ws:/echo"), sluice::handlers::echo()));
    QVERIFY2(server.listen(QHostAddress::LocalHost, 0), qPrintable(server.errorString()));
    const quint16 port = server.serverPort();
    QByteArrayList lines;
    AccessLog log(server.monitor(), [&lines](const QByteArray &line) { lines.append(line); });
    log.setLogsTraffic(true);
    // A second log on the same monitor, for machines.
    QByteArrayList jsonLines;
    AccessLog jsonLog(server.monitor(),
                      [&jsonLines](const QByteArray &line) { jsonLines.append(line); });
    jsonLog.setFormat(AccessLog::Format::Json);

    // Clients we did not write, run while this thread's event loop serves.
    const auto run = [](const QString &program, const QStringList &arguments) {
        QProcess process;
        process.start(program, arguments);
        if (!process.waitForStarted(10000)) {
            qWarning("%s did not start: %s", qPrintable(program),
                     qPrintable(process.errorString()));
            return false;
        }
        if (!QTest::qWaitFor([&] { return process.state() == QProcess::NotRunning; }, 30000)) {
            process.kill();
            process.waitForFinished();
            qWarning("%s timed out", qPrintable(program));
            return false;
        }
        const bool ok = process.exitStatus() == QProcess::NormalExit && process.exitCode() == 0;
        if (!ok)
            qWarning("%s failed: %s", qPrintable(program),
                     process.readAllStandardError().constData());
        return ok;
    };
    const QString base = QStringLiteral("http://127.0.0.1:%1").arg(port);
    QVERIFY(run(QStringLiteral("curl"),
                {QStringLiteral("-sS"), base + QStringLiteral("/hello/log")}));
    QVERIFY(run(QStringLiteral("curl"),
                {QStringLiteral("-sS"), base + QStringLiteral("/missing")}));
    const QString script
            = QStringLiteral("import asyncio, sys, websockets\n"
                             "async def main():\n"
                             "    async with websockets.connect(sys.argv[1]) as ws:\n"
                             "        for text in ('one', 'two'):\n"
                             "            await ws.send(text)\n"
                             "            assert await asyncio.wait_for(ws.recv(), 5) == text\n"
                             "        await ws.close(1000)\n"
                             "        assert ws.close_code == 1000, ws.close_code\n"
                             "asyncio.run(asyncio.wait_for(main(), 20))\n");
    QVERIFY(run(
            QStringLiteral("/usr/bin/python3"),
            {QStringLiteral("-c"), script, QStringLiteral("ws://127.0.0.1:%1/echo").arg(port)}));

    // 2 exchanges, open, 4 messages, the client's close frame and the
    // server's answer, close.
    QTRY_COMPARE_WITH_TIMEOUT(lines.size(), 10, 5000);
    QTRY_COMPARE_WITH_TIMEOUT(jsonLines.size(), 4, 5000);
    QVERIFY2(lines.last().contains(" ws close "), lines.last().constData());

    QByteArrayList http;
    QByteArrayList messages;
    QByteArrayList socketLines;
    for (const QByteArray &line : std::as_const(lines)) {
        QCOMPARE(line.count('\n'), 1);
        if (line.contains(" ws <- ") || line.contains(" ws -> "))
            messages.append(line);
        else if (line.contains(" ws open ") || line.contains(" ws close "))
            socketLines.append(line);
        else
            http.append(line);
    }
    const QString peer = QStringLiteral("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z "
                                        "127\\.0\\.0\\.1:\\d+ #\\d+ ");
    QCOMPARE(http.size(), 2);
    // Bytes out count the whole response on the wire, head and body.
    QVERIFY2(
            QRegularExpression(peer
                               + QStringLiteral("\"GET /hello/log\" 200 \\d+B in \\d+\\.\\dms "
                                                "route=get:/hello/\\(\\?<name>\\[\\^/\\]\\+\\)\n$"))
                    .match(QString::fromUtf8(http.at(0)))
                    .hasMatch(),
            http.at(0).constData());
    QVERIFY2(QRegularExpression(peer
                                + QStringLiteral("\"GET /missing\" 404 \\d+B in \\d+\\.\\dms\n$"))
                     .match(QString::fromUtf8(http.at(1)))
                     .hasMatch(),
             http.at(1).constData());

    QCOMPARE(socketLines.size(), 2);
    QVERIFY2(QRegularExpression(peer + QStringLiteral("ws open /echo route=ws:/echo\n$"))
                     .match(QString::fromUtf8(socketLines.at(0)))
                     .hasMatch(),
             socketLines.at(0).constData());
    QVERIFY2(QRegularExpression(peer
                                + QStringLiteral("ws close /echo 1000 \"\" \\d+\\.\\dm?s "
                                                 "in=2 msgs/6B out=2 msgs/6B\n$"))
                     .match(QString::fromUtf8(socketLines.at(1)))
                     .hasMatch(),
             socketLines.at(1).constData());

    // Traffic lines carry no peer; the connection id ties them to the socket.
    const QByteArray id = socketLines.at(0).split(' ').at(2);
    QVERIFY(id.startsWith('#'));
    QVERIFY(socketLines.at(1).contains(" " + id + " "));
    QByteArrayList traffic;
    for (const QByteArray &line : std::as_const(messages))
        traffic.append(line.mid(line.indexOf(" - #") + 3));
    QCOMPARE(traffic,
             (QByteArrayList {id + " ws <- text 3B \"one\"\n", id + " ws -> text 3B \"one\"\n",
                              id + " ws <- text 3B \"two\"\n", id + " ws -> text 3B \"two\"\n",
                              id + " ws <- close 0B\n", id + " ws -> close 0B\n"}));

    // The JSON log leaves traffic out: it was not asked for.
    QStringList events;
    for (const QByteArray &line : std::as_const(jsonLines))
        events.append(json(line).value(QStringLiteral("event")).toString());
    QCOMPARE(events, (QStringList {QStringLiteral("http"), QStringLiteral("http"),
                                   QStringLiteral("ws_open"), QStringLiteral("ws_close")}));
    const QJsonObject missing = json(jsonLines.at(1));
    QCOMPARE(missing.value(QStringLiteral("status")).toInt(), 404);
    QCOMPARE(missing.value(QStringLiteral("target")).toString(), QStringLiteral("/missing"));
    QCOMPARE(missing.value(QStringLiteral("peer")).toString(), QStringLiteral("127.0.0.1"));
    QVERIFY(missing.value(QStringLiteral("port")).toInt() > 0);
    QVERIFY(missing.value(QStringLiteral("bytesIn")).toInt() > 0);
    const QJsonObject closed = json(jsonLines.at(3));
    QCOMPARE(closed.value(QStringLiteral("closeCode")).toInt(), 1000);
    QCOMPARE(closed.value(QStringLiteral("messagesIn")).toInt(), 2);
    QCOMPARE(closed.value(QStringLiteral("messagesOut")).toInt(), 2);
    QCOMPARE(closed.value(QStringLiteral("bytesIn")).toInt(), 6);
    QCOMPARE(closed.value(QStringLiteral("target")).toString(), QStringLiteral("/echo"));
    QCOMPARE(closed.value(QStringLiteral("route")).toString(), QStringLiteral("ws:/echo"));
    QVERIFY(closed.value(QStringLiteral("durationMs")).toDouble() > 0);
}

QTEST_GUILESS_MAIN(tst_AccessLog)
#include "tst_accesslog.moc"
