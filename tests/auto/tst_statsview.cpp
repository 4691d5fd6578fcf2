// The Stats tab: the sparklines show the history's columns, the totals are
// formatted for the locale; hand-built events on an injected clock, then a
// real server with a WebSocket client and curl.

#include <sluiceui/sparkline.h>
#include <sluiceui/statshistory.h>
#include <sluiceui/statsview.h>

#include <sluice/handlers.h>
#include <sluice/monitor.h>
#include <sluice/server.h>

#include "wstestclient.h"

#include <QtCore/QLocale>
#include <QtCore/QProcess>
#include <QtTest/QtTest>
#include <QtWidgets/QLabel>

#include <numeric>

using sluice::MonitorEvent;
using sluice::Sparkline;
using sluice::StatsHistory;
using sluice::StatsView;
using Type = MonitorEvent::Type;
using Direction = MonitorEvent::Direction;
using Opcode = MonitorEvent::Opcode;

namespace {

constexpr qint64 kStartMs = 1795515072000; // on a second boundary

MonitorEvent makeEvent(Type type, quint64 id, qint64 timeMs)
{
    MonitorEvent e;
    e.type = type;
    e.connectionId = id;
    e.timeUs = timeMs * 1000;
    return e;
}

MonitorEvent message(quint64 id, qint64 timeMs, Direction direction, Opcode opcode, qint64 size)
{
    MonitorEvent e = makeEvent(Type::WebSocketMessage, id, timeMs);
    e.direction = direction;
    e.opcode = opcode;
    e.size = size;
    return e;
}

MonitorEvent exchange(quint64 id, qint64 timeMs, int status, qint64 bytesIn, qint64 bytesOut)
{
    MonitorEvent e = makeEvent(Type::HttpExchange, id, timeMs);
    e.method = "GET";
    e.target = QStringLiteral("/");
    e.status = status;
    e.bytesIn = bytesIn;
    e.bytesOut = bytesOut;
    return e;
}

QString labelText(const StatsView &view, const char *name)
{
    const QLabel *label = view.findChild<QLabel *>(QLatin1String(name));
    return label ? label->text() : QStringLiteral("<no %1>").arg(QLatin1String(name));
}

Sparkline *chart(const StatsView &view, const char *name)
{
    return view.findChild<Sparkline *>(QLatin1String(name));
}

double sum(const QList<double> &values)
{
    return std::accumulate(values.begin(), values.end(), 0.0);
}

} // namespace

class tst_StatsView : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void layout();
    void values();
    void realServer();
};

void tst_StatsView::initTestCase()
{
    // Group separators and a known decimal point.
    QLocale::setDefault(QLocale(QLocale::English, QLocale::UnitedStates));
}

void tst_StatsView::layout()
{
    StatsHistory history;
    StatsView view(&history);
    QCOMPARE(view.history(), &history);
    const struct
    {
        const char *name;
        StatsHistory::Column column;
        const char *unit;
    } expected[] = {
            {"statsConnections", StatsHistory::ConnectionsColumn, "connections"},
            {"statsMessages", StatsHistory::MessagesColumn, "msg/s"},
            {"statsMessagesIn", StatsHistory::MessagesInColumn, "msg/s"},
            {"statsMessagesOut", StatsHistory::MessagesOutColumn, "msg/s"},
            {"statsBytes", StatsHistory::BytesColumn, "B/s"},
            {"statsRequests", StatsHistory::RequestsColumn, "req/s"},
    };
    for (const auto &entry : expected) {
        Sparkline *sparkline = chart(view, entry.name);
        QVERIFY2(sparkline, entry.name);
        QCOMPARE(sparkline, view.sparkline(entry.column));
        QCOMPARE(sparkline->model(), &history);
        QCOMPARE(sparkline->column(), int(entry.column));
        QCOMPARE(sparkline->unit(), QLatin1String(entry.unit));
        QVERIFY(!sparkline->title().isEmpty());
    }
    QVERIFY(!view.sparkline(StatsHistory::TimeColumn));
    QVERIFY(view.findChild<QWidget *>(QStringLiteral("statsTotals")));
    for (const char *name : {"statsTotalConnections", "statsTotalMessagesIn",
                             "statsTotalMessagesOut", "statsTotalRequests", "statsTotalErrors"})
        QCOMPARE(labelText(view, name), QStringLiteral("0"));
    QCOMPARE(labelText(view, "statsTotalBytes"), QStringLiteral("0 bytes"));

    // Without a history: nothing to show, nothing to crash on.
    StatsView empty(nullptr);
    QCOMPARE(labelText(empty, "statsTotalRequests"), QStringLiteral("0"));
    QVERIFY(!chart(empty, "statsMessages")->hasValues());
}

void tst_StatsView::values()
{
    qint64 nowMs = kStartMs + 500;
    StatsHistory history;
    history.setClock([&nowMs] { return nowMs; });
    StatsView view(&history);
    view.show();

    QList<MonitorEvent> events;
    for (quint64 id = 1; id <= 3; ++id)
        events.append(makeEvent(Type::ConnectionOpened, id, kStartMs + 10));
    events.append(makeEvent(Type::ConnectionClosed, 3, kStartMs + 20));
    for (int i = 0; i < 1500; ++i)
        events.append(message(1, kStartMs + 30, Direction::Incoming, Opcode::Text, 1000));
    events.append(message(1, kStartMs + 40, Direction::Outgoing, Opcode::Binary, 24));
    events.append(message(1, kStartMs + 40, Direction::Outgoing, Opcode::Binary, 24));
    // Control frames are not messages.
    events.append(message(1, kStartMs + 50, Direction::Incoming, Opcode::Ping, 4));
    events.append(exchange(2, kStartMs + 60, 200, 100, 900));
    events.append(exchange(2, kStartMs + 70, 200, 100, 900));
    events.append(exchange(2, kStartMs + 80, 503, 100, 900));
    history.addEvents(events);
    history.flush();

    QCOMPARE(chart(view, "statsConnections")->currentValue(), 2.0);
    QCOMPARE(chart(view, "statsMessages")->currentValue(), 1502.0);
    QCOMPARE(chart(view, "statsMessagesIn")->currentValue(), 1500.0);
    QCOMPARE(chart(view, "statsMessagesOut")->currentValue(), 2.0);
    QCOMPARE(chart(view, "statsBytes")->currentValue(), 1503048.0);
    QCOMPARE(chart(view, "statsRequests")->currentValue(), 3.0);
    QCOMPARE(chart(view, "statsMessages")->valueText(), QStringLiteral("1502 msg/s"));
    QCOMPARE(chart(view, "statsConnections")->valueText(), QStringLiteral("2 connections"));
    // Bytes read as data sizes, not as "1503.0k B/s".
    QCOMPARE(chart(view, "statsBytes")->valueText(),
             QLocale().formattedDataSize(1503048) + QStringLiteral("/s"));

    QCOMPARE(labelText(view, "statsTotalConnections"), QStringLiteral("3"));
    QCOMPARE(labelText(view, "statsTotalMessagesIn"), QStringLiteral("1,500"));
    QCOMPARE(labelText(view, "statsTotalMessagesOut"), QStringLiteral("2"));
    QCOMPARE(labelText(view, "statsTotalBytes"), QStringLiteral("1.43 MiB"));
    QCOMPARE(view.findChild<QLabel *>(QStringLiteral("statsTotalBytes"))->toolTip(),
             QStringLiteral("1,503,048 bytes"));
    QCOMPARE(labelText(view, "statsTotalRequests"), QStringLiteral("3"));
    QCOMPARE(labelText(view, "statsTotalErrors"), QStringLiteral("1"));

    // A quiet second: the rates fall to zero, the open connections stay, the
    // totals do not move.
    nowMs += 1000;
    history.addEvents({message(1, nowMs, Direction::Incoming, Opcode::Binary, 1024 * 1024 * 3)});
    history.flush();
    QCOMPARE(chart(view, "statsMessages")->values(), QList<double>({1502, 1}));
    QCOMPARE(chart(view, "statsConnections")->values(), QList<double>({2, 2}));
    QCOMPARE(chart(view, "statsRequests")->currentValue(), 0.0);
    QCOMPARE(chart(view, "statsBytes")->currentValue(), 3145728.0);
    QCOMPARE(labelText(view, "statsTotalMessagesIn"), QStringLiteral("1,501"));
    QCOMPARE(labelText(view, "statsTotalBytes"), QStringLiteral("4.43 MiB"));
    QCOMPARE(labelText(view, "statsTotalConnections"), QStringLiteral("3"));

    QCOMPARE(StatsView::formatBytes(1023), QStringLiteral("1,023 bytes"));
    QCOMPARE(StatsView::formatBytes(1536), QStringLiteral("1.50 KiB"));
    QCOMPARE(StatsView::formatBytes(qint64(5) << 30), QStringLiteral("5.00 GiB"));

    // clear() starts the totals over.
    history.clear();
    QTRY_COMPARE_WITH_TIMEOUT(labelText(view, "statsTotalMessagesIn"), QStringLiteral("0"), 2000);
}

void tst_StatsView::realServer()
{
    sluice::Server server;
    QVERIFY(server.map(QStringLiteral("ws:/echo"), sluice::handlers::echo()));
    QVERIFY(server.map(QStringLiteral("get:/hello/(?<name>[^/]+)"), sluice::handlers::hello()));
    QVERIFY2(server.listen(QHostAddress::LocalHost, 0), qPrintable(server.errorString()));

    StatsHistory history;
    connect(server.monitor(), &sluice::Monitor::eventsPosted, &history, &StatsHistory::addEvents);
    StatsView view(&history);
    view.show();

    wstestclient::Client client;
    QVERIFY2(client.open(server.serverPort(), QStringLiteral("/echo")),
             qPrintable(client.errorString()));
    for (const char *text : {"one", "two", "six"})
        client.socket().sendTextMessage(QLatin1String(text));
    QVERIFY(client.waitForCount(3));

    QProcess curl;
    curl.start(QStringLiteral("curl"),
               {QStringLiteral("-sS"),
                QStringLiteral("http://127.0.0.1:%1/hello/stats").arg(server.serverPort())});
    QVERIFY2(curl.waitForStarted(10000), qPrintable(curl.errorString()));
    QTRY_COMPARE_WITH_TIMEOUT(curl.state(), QProcess::NotRunning, 10000);
    QCOMPARE(curl.readAllStandardOutput(), QByteArray("Hello stats\n"));

    QTRY_COMPARE_WITH_TIMEOUT(labelText(view, "statsTotalRequests"), QStringLiteral("1"), 5000);
    QTRY_COMPARE_WITH_TIMEOUT(labelText(view, "statsTotalMessagesOut"), QStringLiteral("3"), 5000);
    QCOMPARE(labelText(view, "statsTotalMessagesIn"), QStringLiteral("3"));
    QCOMPARE(labelText(view, "statsTotalConnections"), QStringLiteral("2"));
    QCOMPARE(labelText(view, "statsTotalErrors"), QStringLiteral("0"));
    QVERIFY(history.totalBytes() > 18);
    QCOMPARE(labelText(view, "statsTotalBytes"), StatsView::formatBytes(history.totalBytes()));
    // The seconds may be two by now: the charts add up to the totals.
    QCOMPARE(sum(chart(view, "statsMessages")->values()), 6.0);
    QCOMPARE(sum(chart(view, "statsRequests")->values()), 1.0);
    QCOMPARE(sum(chart(view, "statsBytes")->values()), double(history.totalBytes()));
    // The WebSocket is still open (curl's connection may still be closing).
    QTRY_COMPARE_WITH_TIMEOUT(chart(view, "statsConnections")->currentValue(), 1.0, 5000);

    client.socket().close();
    QTRY_COMPARE_WITH_TIMEOUT(chart(view, "statsConnections")->currentValue(), 0.0, 5000);
}

QTEST_MAIN(tst_StatsView)
#include "tst_statsview.moc"
