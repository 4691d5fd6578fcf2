// The traffic detail pane: text, JSON tree, hex dump (checked against
// hexdump -C), the info line, and which tab shows; then messages a real
// python3-websockets client sent through a real server.

#include <sluice/handlers.h>
#include <sluice/monitor.h>
#include <sluice/server.h>
#include <sluiceui/payloadview.h>

#include <QtCore/QDateTime>
#include <QtCore/QLocale>
#include <QtCore/QProcess>
#include <QtCore/QRandomGenerator>
#include <QtCore/QStandardPaths>
#include <QtGui/QStandardItemModel>
#include <QtTest/QtTest>
#include <QtWidgets/QLabel>
#include <QtWidgets/QPlainTextEdit>
#include <QtWidgets/QTabBar>
#include <QtWidgets/QTabWidget>
#include <QtWidgets/QTreeView>

using sluice::MonitorEvent;
using sluice::PayloadView;
using Direction = MonitorEvent::Direction;
using Opcode = MonitorEvent::Opcode;
using Type = MonitorEvent::Type;

namespace {

constexpr int kTimeout = 15000;

MonitorEvent message(Opcode opcode, const QByteArray &payload, qint64 size = -1,
                     Direction direction = Direction::Incoming)
{
    MonitorEvent event;
    event.type = Type::WebSocketMessage;
    event.connectionId = 7;
    event.direction = direction;
    event.opcode = opcode;
    event.payload = payload;
    event.size = size >= 0 ? size : payload.size();
    event.timeUs = MonitorEvent::now();
    event.route = QStringLiteral("ws:/echo");
    return event;
}

MonitorEvent text(const QByteArray &payload)
{
    return message(Opcode::Text, payload);
}

MonitorEvent binary(const QByteArray &payload)
{
    return message(Opcode::Binary, payload);
}

MonitorEvent http()
{
    MonitorEvent event;
    event.type = Type::HttpExchange;
    event.connectionId = 3;
    event.method = "GET";
    event.target = QStringLiteral("/hello?name=x");
    event.status = 200;
    event.route = QStringLiteral("/hello");
    event.bytesIn = 80;
    event.bytesOut = 120;
    event.durationUs = 2500;
    event.timeUs = MonitorEvent::now();
    return event;
}

struct Parts
{
    QLabel *info;
    QTabWidget *tabs;
    QPlainTextEdit *text;
    QTreeView *json;
    QPlainTextEdit *hex;
};

Parts parts(PayloadView &view)
{
    return {view.findChild<QLabel *>(QStringLiteral("payloadInfo")),
            view.findChild<QTabWidget *>(QStringLiteral("payloadTabs")),
            view.findChild<QPlainTextEdit *>(QStringLiteral("payloadText")),
            view.findChild<QTreeView *>(QStringLiteral("payloadJson")),
            view.findChild<QPlainTextEdit *>(QStringLiteral("payloadHex"))};
}

QModelIndex child(const QAbstractItemModel *model, const QModelIndex &parent, const QString &key)
{
    for (int row = 0; row < model->rowCount(parent); ++row) {
        const QModelIndex index = model->index(row, 0, parent);
        if (index.data().toString() == key)
            return index;
    }
    return QModelIndex();
}

QString valueOf(const QModelIndex &keyIndex)
{
    return keyIndex.siblingAtColumn(1).data().toString();
}

void clickTab(QTabWidget *tabs, int index)
{
    QTabBar *bar = tabs->tabBar();
    QTest::mouseClick(bar, Qt::LeftButton, {}, bar->tabRect(index).center());
}

} // namespace

class tst_PayloadView : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void objectsByName();
    void textMessage();
    void jsonObjectNested();
    void jsonArray();
    void jsonScalar();
    void jsonInvalid();
    void jsonTooLarge();
    void hexExactLines();
    void hexMatchesHexdump();
    void binaryPicksHex();
    void truncatedInfo();
    void renderCap();
    void httpRow();
    void openAndClosedRows();
    void userTabIsKept();
    void clearEmpties();
    void realServerMessages();
};

void tst_PayloadView::objectsByName()
{
    PayloadView view;
    const Parts p = parts(view);
    QVERIFY(p.info && p.tabs && p.text && p.json && p.hex);
    QCOMPARE(p.tabs->count(), 3);
    QCOMPARE(p.tabs->tabText(PayloadView::TextTab), QStringLiteral("Text"));
    QCOMPARE(p.tabs->tabText(PayloadView::JsonTab), QStringLiteral("JSON"));
    QCOMPARE(p.tabs->tabText(PayloadView::HexTab), QStringLiteral("Hex"));
    QVERIFY(p.text->isReadOnly());
    QVERIFY(p.hex->isReadOnly());
    // Monospace by its widths (some monospace fonts do not set the flag).
    const QFontMetrics metrics(p.hex->font());
    QCOMPARE(metrics.horizontalAdvance(QStringLiteral("iiii")),
             metrics.horizontalAdvance(QStringLiteral("MMMM")));
    QVERIFY(!view.hasEvent());
}

void tst_PayloadView::textMessage()
{
    PayloadView view;
    const Parts p = parts(view);
    view.setEvent(text("héllo world"));
    QVERIFY(view.hasEvent());
    QCOMPARE(view.currentTab(), PayloadView::TextTab);
    QCOMPARE(p.tabs->currentIndex(), int(PayloadView::TextTab));
    QCOMPARE(p.text->toPlainText(), QStringLiteral("héllo world"));
    QVERIFY(!p.tabs->isTabEnabled(PayloadView::JsonTab));
    QVERIFY(p.tabs->tabToolTip(PayloadView::JsonTab).startsWith(QStringLiteral("Not JSON")));
    QVERIFY(p.tabs->isTabEnabled(PayloadView::HexTab));
    QVERIFY(p.hex->toPlainText().startsWith(QStringLiteral("00000000  68 c3 a9 6c 6c 6f")));
    const QString info = p.info->text();
    QVERIFY2(info.contains(QStringLiteral("text")), qPrintable(info));
    QVERIFY2(info.contains(QStringLiteral("incoming")), qPrintable(info));
    QVERIFY2(info.contains(QStringLiteral("12 bytes")), qPrintable(info));
    QVERIFY2(!info.contains(QStringLiteral("truncated")), qPrintable(info));

    view.setEvent(message(Opcode::Text, "out", -1, Direction::Outgoing));
    QVERIFY(p.info->text().contains(QStringLiteral("outgoing \u2191")));
}

void tst_PayloadView::jsonObjectNested()
{
    PayloadView view;
    const Parts p = parts(view);
    view.setEvent(text(R"({"a": 1, "b": {"c": [10, 2.5, {"d": true, "e": null}]}, "s": "x"})"));
    QCOMPARE(view.currentTab(), PayloadView::JsonTab);
    QVERIFY(p.tabs->isTabEnabled(PayloadView::JsonTab));
    QVERIFY(p.tabs->tabToolTip(PayloadView::JsonTab).isEmpty());

    const QAbstractItemModel *model = p.json->model();
    QCOMPARE(model->columnCount(), 2);
    QCOMPARE(model->headerData(0, Qt::Horizontal).toString(), QStringLiteral("Key"));
    QCOMPARE(model->headerData(1, Qt::Horizontal).toString(), QStringLiteral("Value"));
    QCOMPARE(model->rowCount(), 3);
    const QModelIndex a = child(model, {}, QStringLiteral("a"));
    const QModelIndex b = child(model, {}, QStringLiteral("b"));
    const QModelIndex s = child(model, {}, QStringLiteral("s"));
    QVERIFY(a.isValid() && b.isValid() && s.isValid());
    QCOMPARE(valueOf(a), QStringLiteral("1"));
    QCOMPARE(valueOf(s), QStringLiteral("\"x\""));
    QCOMPARE(valueOf(b), QStringLiteral("{1}"));
    const QModelIndex c = child(model, b, QStringLiteral("c"));
    QVERIFY(c.isValid());
    QCOMPARE(valueOf(c), QStringLiteral("[3]"));
    QCOMPARE(model->rowCount(c), 3);
    QCOMPARE(valueOf(model->index(0, 0, c)), QStringLiteral("10"));
    QCOMPARE(valueOf(model->index(1, 0, c)), QStringLiteral("2.5"));
    const QModelIndex inner = model->index(2, 0, c);
    QCOMPARE(inner.data().toString(), QStringLiteral("2"));
    QCOMPARE(valueOf(child(model, inner, QStringLiteral("d"))), QStringLiteral("true"));
    QCOMPARE(valueOf(child(model, inner, QStringLiteral("e"))), QStringLiteral("null"));

    // Two levels open, the third closed.
    QVERIFY(p.json->isExpanded(b));
    QVERIFY(p.json->isExpanded(c));
    QVERIFY(!p.json->isExpanded(inner));
}

void tst_PayloadView::jsonArray()
{
    PayloadView view;
    const Parts p = parts(view);
    view.setEvent(text(R"([1, "two", null, [], {}, 20.9, 1e21])"));
    QCOMPARE(view.currentTab(), PayloadView::JsonTab);
    const QAbstractItemModel *model = p.json->model();
    QCOMPARE(model->rowCount(), 7);
    QStringList keys;
    QStringList values;
    for (int row = 0; row < 7; ++row) {
        keys.append(model->index(row, 0).data().toString());
        values.append(model->index(row, 1).data().toString());
    }
    QCOMPARE(keys, (QStringList {QStringLiteral("0"), QStringLiteral("1"), QStringLiteral("2"),
                                 QStringLiteral("3"), QStringLiteral("4"), QStringLiteral("5"),
                                 QStringLiteral("6")}));
    // Numbers as short as they read back: 20.9, not 20.899999999999999.
    QCOMPARE(values,
             (QStringList {QStringLiteral("1"), QStringLiteral("\"two\""), QStringLiteral("null"),
                           QStringLiteral("[0]"), QStringLiteral("{0}"), QStringLiteral("20.9"),
                           QStringLiteral("1e+21")}));
}

void tst_PayloadView::jsonScalar()
{
    // A lone value is JSON, and the tab is there, but text is the better
    // first view of "42".
    PayloadView view;
    const Parts p = parts(view);
    view.setEvent(text(" 42 "));
    QVERIFY(p.tabs->isTabEnabled(PayloadView::JsonTab));
    QCOMPARE(view.currentTab(), PayloadView::TextTab);
    QCOMPARE(p.json->model()->rowCount(), 1);
    QCOMPARE(p.json->model()->index(0, 1).data().toString(), QStringLiteral("42"));

    view.setEvent(text("\"quoted\""));
    QVERIFY(p.tabs->isTabEnabled(PayloadView::JsonTab));
    QCOMPARE(p.json->model()->index(0, 1).data().toString(), QStringLiteral("\"quoted\""));

    // Two values are not one JSON text; a bare word is not JSON.
    view.setEvent(text("1, 2"));
    QVERIFY(!p.tabs->isTabEnabled(PayloadView::JsonTab));
    view.setEvent(text("1],[2"));
    QVERIFY(!p.tabs->isTabEnabled(PayloadView::JsonTab));
    view.setEvent(text("hello"));
    QVERIFY(!p.tabs->isTabEnabled(PayloadView::JsonTab));
    view.setEvent(text(""));
    QVERIFY(!p.tabs->isTabEnabled(PayloadView::JsonTab));
}

void tst_PayloadView::jsonInvalid()
{
    PayloadView view;
    const Parts p = parts(view);
    view.setEvent(text(R"({"a": [1, 2)"));
    QVERIFY(!p.tabs->isTabEnabled(PayloadView::JsonTab));
    QCOMPARE(view.currentTab(), PayloadView::TextTab);
    const QString why = p.tabs->tabToolTip(PayloadView::JsonTab);
    QVERIFY2(why.startsWith(QStringLiteral("Not JSON")) && why.contains(QStringLiteral("offset")),
             qPrintable(why));
    QCOMPARE(p.json->model()->rowCount(), 0);

    // A JSON message cut by the monitor says so.
    view.setEvent(message(Opcode::Text, R"({"a": "bbbb)", 100));
    QVERIFY(!p.tabs->isTabEnabled(PayloadView::JsonTab));
    QVERIFY(p.tabs->tabToolTip(PayloadView::JsonTab).contains(QStringLiteral("kept only")));
}

void tst_PayloadView::jsonTooLarge()
{
    PayloadView view;
    const Parts p = parts(view);
    QByteArray big = "[\"" + QByteArray(PayloadView::MaxJsonBytes, 'x') + "\"]";
    view.setEvent(text(big));
    QVERIFY(!p.tabs->isTabEnabled(PayloadView::JsonTab));
    QVERIFY2(p.tabs->tabToolTip(PayloadView::JsonTab).contains(QStringLiteral("1 MiB")),
             qPrintable(p.tabs->tabToolTip(PayloadView::JsonTab)));

    // Just under the limit it parses, and a huge tree is capped.
    QByteArray many = "[";
    for (int i = 0; i < 3 * PayloadView::MaxJsonItems; ++i)
        many += QByteArray::number(i % 10) + ',';
    many.back() = ']';
    view.setEvent(text(many));
    QVERIFY(p.tabs->isTabEnabled(PayloadView::JsonTab));
    const QAbstractItemModel *model = p.json->model();
    QCOMPARE(model->rowCount(), PayloadView::MaxJsonItems + 1);
    QCOMPARE(model->index(PayloadView::MaxJsonItems, 1).data().toString(),
             QStringLiteral("more items not shown"));
}

void tst_PayloadView::hexExactLines()
{
    // hexdump -C's layout, '.' for what is not printable ASCII, the last
    // line padded so the text column lines up.
    const QByteArray data = QByteArray("0123456789abcdef") + QByteArray("\x00\x01\xff\x7f Hi~", 8);
    const QStringList expected {
            QStringLiteral("00000000  30 31 32 33 34 35 36 37  38 39 61 62 63 64 65 66  "
                           "|0123456789abcdef|"),
            QStringLiteral(
                    "00000010  00 01 ff 7f 20 48 69 7e                           |.... Hi~|"),
    };
    QCOMPARE(PayloadView::hexDump(data).split(u'\n'), expected);

    const QStringList nine {QStringLiteral(
            "00000000  41 42 43 44 45 46 47 48  0a                       |ABCDEFGH.|")};
    QCOMPARE(PayloadView::hexDump("ABCDEFGH\n").split(u'\n'), nine);
    QCOMPARE(PayloadView::hexDump(QByteArray()), QString());

    PayloadView view;
    view.setEvent(binary(data));
    QCOMPARE(parts(view).hex->toPlainText().split(u'\n'), expected);
}

void tst_PayloadView::hexMatchesHexdump()
{
    const QString hexdump = QStandardPaths::findExecutable(QStringLiteral("hexdump"));
    if (hexdump.isEmpty())
        QSKIP("hexdump is not installed");
    QByteArray data(1000, Qt::Uninitialized);
    QRandomGenerator generator(42);
    for (char &c : data)
        c = char(generator.bounded(256));
    QProcess process;
    process.start(hexdump, {QStringLiteral("-C")});
    QVERIFY(process.waitForStarted(kTimeout));
    process.write(data);
    process.closeWriteChannel();
    QVERIFY(process.waitForFinished(kTimeout));
    QString out = QString::fromLatin1(process.readAllStandardOutput());
    QStringList lines = out.split(u'\n', Qt::SkipEmptyParts);
    QCOMPARE(lines.takeLast(), QStringLiteral("000003e8")); // hexdump's closing offset
    // hexdump writes "*" for repeated lines; random data has none.
    QVERIFY(!lines.contains(QStringLiteral("*")));
    QCOMPARE(PayloadView::hexDump(data).split(u'\n'), lines);
}

void tst_PayloadView::binaryPicksHex()
{
    PayloadView view;
    const Parts p = parts(view);
    view.setEvent(binary(QByteArray("\x00\x01\x02\xff", 4)));
    QCOMPARE(view.currentTab(), PayloadView::HexTab);
    QCOMPARE(p.hex->toPlainText(),
             QStringLiteral("00000000  00 01 02 ff                                       |....|"));
    QVERIFY(p.info->text().contains(QStringLiteral("binary")));
    QVERIFY(p.info->text().contains(QStringLiteral("4 bytes")));

    // A binary message holding JSON shows as JSON.
    view.setEvent(binary(R"({"k": "v"})"));
    QCOMPARE(view.currentTab(), PayloadView::JsonTab);
}

void tst_PayloadView::truncatedInfo()
{
    PayloadView view;
    const Parts p = parts(view);
    view.setEvent(message(Opcode::Text, QByteArray(4096, 'a'), 10000));
    const QString expected = QStringLiteral("truncated: showing %1 of %2 bytes")
                                     .arg(QLocale().toString(4096), QLocale().toString(10000));
    QVERIFY2(p.info->text().contains(expected), qPrintable(p.info->text()));
    QVERIFY(p.info->text().contains(QStringLiteral("%1 bytes").arg(QLocale().toString(10000))));
    QCOMPARE(p.text->toPlainText().size(), 4096);

    view.setEvent(message(Opcode::Text, "whole", 5));
    QVERIFY(!p.info->text().contains(QStringLiteral("truncated")));
}

void tst_PayloadView::renderCap()
{
    PayloadView view;
    const Parts p = parts(view);
    const qsizetype size = PayloadView::MaxRenderBytes + 1000;
    view.setEvent(message(Opcode::Text, QByteArray(size, 'z'), size));
    QCOMPARE(p.text->toPlainText().size(), PayloadView::MaxRenderBytes);
    QCOMPARE(p.hex->document()->blockCount(), int(PayloadView::MaxRenderBytes / 16));
    QVERIFY2(p.info->text().contains(QStringLiteral("256 KiB")), qPrintable(p.info->text()));
    QVERIFY(!p.info->text().contains(QStringLiteral("truncated")));
}

void tst_PayloadView::httpRow()
{
    PayloadView view;
    const Parts p = parts(view);
    view.setEvent(http());
    QCOMPARE(view.currentTab(), PayloadView::TextTab);
    const QStringList lines = p.text->toPlainText().split(u'\n');
    QCOMPARE(lines.value(0), QStringLiteral("GET /hello?name=x"));
    QVERIFY(lines.contains(QStringLiteral("Status: 200")));
    QVERIFY(lines.contains(QStringLiteral("Route: /hello")));
    QVERIFY(lines.contains(QStringLiteral("Duration: %1 ms").arg(QLocale().toString(2.5, 'f', 3))));
    QVERIFY(lines.contains(QStringLiteral("Sent: 120 bytes")));
    QVERIFY(lines.contains(QStringLiteral("Received: 80 bytes")));
    QVERIFY(lines.contains(QStringLiteral("Connection: 3")));
    QVERIFY(!p.tabs->isTabEnabled(PayloadView::JsonTab));
    QVERIFY(!p.tabs->isTabEnabled(PayloadView::HexTab));
    QVERIFY(p.info->text().startsWith(QStringLiteral("HTTP")));
}

void tst_PayloadView::openAndClosedRows()
{
    PayloadView view;
    const Parts p = parts(view);
    MonitorEvent open;
    open.type = Type::WebSocketOpened;
    open.connectionId = 9;
    open.target = QStringLiteral("/echo");
    open.reason = QStringLiteral("chat");
    view.setEvent(open);
    QString text = p.text->toPlainText();
    QVERIFY2(text.contains(QStringLiteral("Target: /echo"))
                     && text.contains(QStringLiteral("Subprotocol: chat")),
             qPrintable(text));

    MonitorEvent closed;
    closed.type = Type::WebSocketClosed;
    closed.connectionId = 9;
    closed.closeCode = 4001;
    closed.reason = QStringLiteral("bye");
    view.setEvent(closed);
    text = p.text->toPlainText();
    QVERIFY2(text.contains(QStringLiteral("Close code: 4001"))
                     && text.contains(QStringLiteral("Reason: bye")),
             qPrintable(text));
    QVERIFY(!p.tabs->isTabEnabled(PayloadView::HexTab));
}

void tst_PayloadView::userTabIsKept()
{
    PayloadView view;
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    const Parts p = parts(view);
    const MonitorEvent json = text(R"({"x": 1})");
    view.setEvent(json);
    QCOMPARE(view.currentTab(), PayloadView::JsonTab);
    QCOMPARE(view.userTab(), -1);

    // The user picks Hex: it stays for every event that has a payload.
    clickTab(p.tabs, PayloadView::HexTab);
    QCOMPARE(view.currentTab(), PayloadView::HexTab);
    QCOMPARE(view.userTab(), int(PayloadView::HexTab));
    view.setEvent(text("plain"));
    QCOMPARE(view.currentTab(), PayloadView::HexTab);
    view.setEvent(json);
    QCOMPARE(view.currentTab(), PayloadView::HexTab);
    // Not for an HTTP row, which has none; back to it after.
    view.setEvent(http());
    QCOMPARE(view.currentTab(), PayloadView::TextTab);
    QCOMPARE(view.userTab(), int(PayloadView::HexTab));
    view.setEvent(binary("\x01\x02"));
    QCOMPARE(view.currentTab(), PayloadView::HexTab);

    // The user picks Text on a binary message: text it is, even for JSON.
    clickTab(p.tabs, PayloadView::TextTab);
    QCOMPARE(view.userTab(), int(PayloadView::TextTab));
    view.setEvent(json);
    QCOMPARE(view.currentTab(), PayloadView::TextTab);

    // JSON picked by hand; plain text disables it, the next JSON brings it back.
    view.setEvent(json);
    clickTab(p.tabs, PayloadView::JsonTab);
    QCOMPARE(view.userTab(), int(PayloadView::JsonTab));
    view.setEvent(binary("\xff"));
    QCOMPARE(view.currentTab(), PayloadView::HexTab);
    view.setEvent(text("[1]"));
    QCOMPARE(view.currentTab(), PayloadView::JsonTab);
    QCOMPARE(view.userTab(), int(PayloadView::JsonTab));
}

void tst_PayloadView::clearEmpties()
{
    PayloadView view;
    const Parts p = parts(view);
    view.setEvent(text(R"({"x": 1})"));
    view.clear();
    QVERIFY(!view.hasEvent());
    QCOMPARE(p.text->toPlainText(), QString());
    QCOMPARE(p.hex->toPlainText(), QString());
    QCOMPARE(p.json->model()->rowCount(), 0);
    QVERIFY(!p.tabs->isTabEnabled(PayloadView::JsonTab));
    QCOMPARE(view.currentTab(), PayloadView::TextTab);
    QCOMPARE(p.info->text(), QStringLiteral("No row selected"));
}

void tst_PayloadView::realServerMessages()
{
    sluice::Server server;
    QVERIFY(server.map(QStringLiteral("ws:/echo"), sluice::handlers::echo()));
    QVERIFY2(server.listen(QHostAddress::LocalHost, 0), qPrintable(server.errorString()));
    server.monitor()->setPayloadCap(64);

    QList<MonitorEvent> messages;
    connect(server.monitor(), &sluice::Monitor::eventsPosted, this,
            [&messages](const QList<MonitorEvent> &events) {
                for (const MonitorEvent &event : events) {
                    if (event.type == Type::WebSocketMessage)
                        messages.append(event);
                }
            });

    const QString script = QStringLiteral(R"(
import asyncio, json, sys, websockets
async def main():
    async with websockets.connect(sys.argv[1]) as ws:
        await ws.send(json.dumps({"user": "ada", "tags": ["a", "b"]}))
        await ws.recv()
        await ws.send(bytes(range(20)))
        await ws.recv()
        await ws.send("y" * 100)
        await ws.recv()
asyncio.run(asyncio.wait_for(main(), 10))
)");
    QProcess python;
    python.start(QStringLiteral("/usr/bin/python3"),
                 {QStringLiteral("-c"), script,
                  QStringLiteral("ws://127.0.0.1:%1/echo").arg(server.serverPort())});
    QTRY_COMPARE_WITH_TIMEOUT(python.state(), QProcess::NotRunning, kTimeout);
    QVERIFY2(python.exitCode() == 0, python.readAllStandardError().constData());
    QTRY_VERIFY_WITH_TIMEOUT(messages.size() >= 6, kTimeout);

    PayloadView view;
    const Parts p = parts(view);
    // In, then its echo out, for each of the three.
    view.setEvent(messages.at(0));
    QCOMPARE(view.currentTab(), PayloadView::JsonTab);
    QVERIFY(p.info->text().contains(QStringLiteral("incoming")));
    const QModelIndex tags = child(p.json->model(), {}, QStringLiteral("tags"));
    QCOMPARE(valueOf(tags), QStringLiteral("[2]"));
    QVERIFY(p.json->isExpanded(tags));
    QCOMPARE(valueOf(child(p.json->model(), {}, QStringLiteral("user"))),
             QStringLiteral("\"ada\""));

    view.setEvent(messages.at(3));
    QCOMPARE(messages.at(3).opcode, Opcode::Binary);
    QVERIFY(p.info->text().contains(QStringLiteral("outgoing")));
    QCOMPARE(view.currentTab(), PayloadView::HexTab);
    QCOMPARE(p.hex->toPlainText().split(u'\n'),
             (QStringList {QStringLiteral("00000000  00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e "
                                          "0f  |................|"),
                           QStringLiteral("00000010  10 11 12 13                                   "
                                          "    |....|")}));

    // The monitor kept 64 of the 100 bytes.
    view.setEvent(messages.at(4));
    QVERIFY2(p.info->text().contains(QStringLiteral("truncated: showing 64 of 100 bytes")),
             qPrintable(p.info->text()));
    QCOMPARE(p.text->toPlainText(), QString(64, u'y'));
}

QTEST_MAIN(tst_PayloadView)
#include "tst_payloadview.moc"
