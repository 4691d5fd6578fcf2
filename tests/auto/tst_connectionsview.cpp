// The Connections tab: controls and actions on hand-built rows, the close and
// send dialogs' validation, the saved state; then a real server and a
// python3-websockets client that prints what the view's actions made it
// receive (messages, a ping, the close code and reason).

#include <sluiceui/connectionmodel.h>
#include <sluiceui/connectionsview.h>

#include <sluice/handlers.h>
#include <sluice/monitor.h>
#include <sluice/server.h>

#include "testclient.h"

#include <QtCore/QProcess>
#include <QtCore/QSortFilterProxyModel>
#include <QtTest/QtTest>

#include "connectionevents.h"
#include <QtWidgets/QComboBox>
#include <QtWidgets/QDialog>
#include <QtWidgets/QDialogButtonBox>
#include <QtWidgets/QHeaderView>
#include <QtWidgets/QLabel>
#include <QtWidgets/QLineEdit>
#include <QtWidgets/QPlainTextEdit>
#include <QtWidgets/QPushButton>
#include <QtWidgets/QRadioButton>
#include <QtWidgets/QSpinBox>
#include <QtWidgets/QTableView>
#include <QtWidgets/QToolButton>

using sluice::ConnectionModel;
using sluice::ConnectionsView;
using namespace connectionevents;

namespace {

template<typename T>
T *child(const QObject &parent, const char *name)
{
    return parent.findChild<T *>(QLatin1String(name));
}

QPushButton *okButton(const QDialog &dialog)
{
    return dialog.findChild<QDialogButtonBox *>()->button(QDialogButtonBox::Ok);
}

// A model with WebSocket rows 1 (ws:/chat), 2 (ws:/feed) and an HTTP row 3.
void fill(ConnectionModel &model)
{
    model.addEvents({opened(1), webSocketOpened(1, QStringLiteral("ws:/chat")), opened(2),
                     webSocketOpened(2, QStringLiteral("ws:/feed")), opened(3),
                     exchange(3, QStringLiteral("get:/page"))});
    model.flush();
}

// bytes bytes as hex, 32 a line.
QString hexLines(int bytes)
{
    QString text;
    text.reserve(bytes * 3);
    for (int i = 0; i < bytes; ++i)
        text += (i % 32 == 31) ? QStringLiteral("a5\n") : QStringLiteral("a5 ");
    return text;
}

// bytes bytes of ASCII text, in lines of 100.
QString textLines(int bytes)
{
    QString text(bytes, u'x');
    for (int i = 99; i < bytes; i += 100)
        text[i] = u'\n';
    return text;
}

// python3-websockets, printing one line per thing it gets.
const char kClientScript[] = R"(
import asyncio, sys
import websockets
from websockets.legacy.client import WebSocketClientProtocol

class Protocol(WebSocketClientProtocol):
    async def pong(self, data=b""):
        print("ping [%s]" % data.hex(), flush=True)
        await super().pong(data)

async def main():
    async with websockets.connect(sys.argv[1], create_protocol=Protocol,
                                  ping_interval=None, close_timeout=5) as ws:
        print("open", ws.local_address[1], flush=True)
        try:
            async for message in ws:
                if isinstance(message, str):
                    print("text", message, flush=True)
                else:
                    print("binary", message.hex(), flush=True)
        except websockets.ConnectionClosed:
            pass
        print("closed", ws.close_code, ws.close_reason, flush=True)

asyncio.run(asyncio.wait_for(main(), 60))
)";

class PythonClient
{
public:
    void start(quint16 port)
    {
        QObject::connect(&m_process, &QProcess::readyReadStandardOutput, &m_process,
                         [this] { m_output += m_process.readAllStandardOutput(); });
        m_process.start(QStringLiteral("/usr/bin/python3"),
                        {QStringLiteral("-c"), QString::fromUtf8(kClientScript),
                         QStringLiteral("ws://127.0.0.1:%1/echo").arg(port)});
    }
    QStringList lines() const
    {
        return QString::fromUtf8(m_output).split(u'\n', Qt::SkipEmptyParts);
    }
    bool has(const QString &line) const { return lines().contains(line); }
    // The client's port, once it is open.
    quint16 localPort() const
    {
        for (const QString &line : lines()) {
            if (line.startsWith(QStringLiteral("open ")))
                return quint16(line.mid(5).toUInt());
        }
        return 0;
    }
    QString errors() { return QString::fromUtf8(m_process.readAllStandardError()); }
    QProcess &process() { return m_process; }

private:
    QProcess m_process;
    QByteArray m_output;
};

} // namespace

class tst_ConnectionsView : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void controls();
    void actionsFollowSelection();
    void filterAndCount();
    void closeDialogValidation();
    void sendDialogValidation();
    void state();
    void realClient();
    void realHttpClose();
};

void tst_ConnectionsView::initTestCase()
{
    QLocale::setDefault(QLocale(QLocale::English, QLocale::UnitedStates));
}

void tst_ConnectionsView::controls()
{
    ConnectionModel model;
    ConnectionsView view(&model, nullptr);
    QVERIFY(child<QLineEdit>(view, "connectionFilter"));
    QTableView *table = child<QTableView>(view, "connectionTable");
    QVERIFY(table);
    QCOMPARE(table, view.tableView());
    QCOMPARE(table->model(), view.proxyModel());
    QCOMPARE(view.proxyModel()->sourceModel(), &model);
    QCOMPARE(view.proxyModel()->filterKeyColumn(), -1);
    QCOMPARE(view.proxyModel()->sortRole(), int(ConnectionModel::SortRole));
    QVERIFY(table->isSortingEnabled());
    QCOMPARE(table->selectionMode(), QAbstractItemView::SingleSelection);
    QCOMPARE(table->selectionBehavior(), QAbstractItemView::SelectRows);
    QVERIFY(table->verticalHeader()->isHidden());
    QCOMPARE(table->verticalHeader()->sectionResizeMode(0), QHeaderView::Fixed);
    for (const char *name :
         {"connectionClose", "connectionSend", "connectionPing", "connectionTraffic"})
        QVERIFY2(child<QToolButton>(view, name), name);
    QCOMPARE(child<QLabel>(view, "connectionCount")->text(), QStringLiteral("0 live"));
    QVERIFY(child<QLabel>(view, "connectionStatus"));
    QCOMPARE(table->actions().size(), 4); // the context menu
    QCOMPARE(view.selectedConnection(), quint64(0));
    for (const char *name :
         {"connectionClose", "connectionSend", "connectionPing", "connectionTraffic"})
        QVERIFY2(!child<QToolButton>(view, name)->isEnabled(), name);

    // No server: only Show traffic works.
    fill(model);
    view.show();
    view.selectConnection(1);
    QCOMPARE(view.selectedConnection(), quint64(1));
    QVERIFY(!child<QToolButton>(view, "connectionClose")->isEnabled());
    QVERIFY(!child<QToolButton>(view, "connectionSend")->isEnabled());
    QVERIFY(!child<QToolButton>(view, "connectionPing")->isEnabled());
    QVERIFY(child<QToolButton>(view, "connectionTraffic")->isEnabled());
    QSignalSpy traffic(&view, &ConnectionsView::trafficRequested);
    QTest::mouseClick(child<QToolButton>(view, "connectionTraffic"), Qt::LeftButton);
    QCOMPARE(traffic.size(), 1);
    QCOMPARE(traffic.at(0).at(0).toULongLong(), quint64(1));
    view.closeSelected(); // nothing to act with
    QVERIFY(!child<QDialog>(view, "closeDialog"));

    // A double click shows the traffic too.
    view.selectConnection(2);
    const QModelIndex index = table->currentIndex();
    const QPoint center = table->visualRect(index).center();
    // As a mouse does it: the double click follows a click.
    QTest::mouseClick(table->viewport(), Qt::LeftButton, {}, center);
    QTest::mouseDClick(table->viewport(), Qt::LeftButton, {}, center);
    QTRY_COMPARE_WITH_TIMEOUT(traffic.size(), 2, 2000);
    QCOMPARE(traffic.at(1).at(0).toULongLong(), quint64(2));

    QVERIFY(ConnectionsView::isSendableCloseCode(1000));
    QVERIFY(ConnectionsView::isSendableCloseCode(1011));
    QVERIFY(ConnectionsView::isSendableCloseCode(3000));
    QVERIFY(ConnectionsView::isSendableCloseCode(4999));
    for (int code : {999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000})
        QVERIFY2(!ConnectionsView::isSendableCloseCode(code), qPrintable(QString::number(code)));
}

void tst_ConnectionsView::actionsFollowSelection()
{
    sluice::Server server; // not listening: the actions only need it to exist
    ConnectionModel model;
    ConnectionsView view(&model, &server);
    QCOMPARE(view.server(), &server);
    fill(model);
    view.show();

    // HTTP: Close (after the response in flight) and traffic only.
    view.selectConnection(3);
    QCOMPARE(view.selectedConnection(), quint64(3));
    QVERIFY(child<QToolButton>(view, "connectionClose")->isEnabled());
    QVERIFY(!child<QToolButton>(view, "connectionSend")->isEnabled());
    QVERIFY(!child<QToolButton>(view, "connectionPing")->isEnabled());
    QVERIFY(child<QToolButton>(view, "connectionTraffic")->isEnabled());
    QTest::mouseClick(child<QToolButton>(view, "connectionClose"), Qt::LeftButton);
    QDialog *dialog = child<QDialog>(view, "closeDialog");
    QVERIFY(dialog);
    QVERIFY(dialog->isVisible());
    QVERIFY(!child<QSpinBox>(*dialog, "closeCode")->isEnabled());
    QVERIFY(okButton(*dialog)->isEnabled());
    QTest::mouseClick(okButton(*dialog), Qt::LeftButton);
    QCOMPARE(child<QLabel>(view, "connectionStatus")->text(),
             QStringLiteral("#3 closes after its response"));
    QTRY_VERIFY_WITH_TIMEOUT(!child<QDialog>(view, "closeDialog"), 2000);

    // WebSocket: everything.
    view.selectConnection(2);
    QVERIFY(child<QToolButton>(view, "connectionClose")->isEnabled());
    QVERIFY(child<QToolButton>(view, "connectionSend")->isEnabled());
    QVERIFY(child<QToolButton>(view, "connectionPing")->isEnabled());

    // A selected connection that goes away takes the actions with it.
    MonitorEvent gone;
    gone.type = Type::ConnectionClosed;
    gone.connectionId = 2;
    model.addEvents({gone});
    model.flush();
    QCOMPARE(view.selectedConnection(), quint64(0));
    QVERIFY(!child<QToolButton>(view, "connectionClose")->isEnabled());
    QVERIFY(!child<QToolButton>(view, "connectionPing")->isEnabled());
    QVERIFY(!child<QToolButton>(view, "connectionTraffic")->isEnabled());

    // A connection that becomes a WebSocket under the selection.
    model.addEvents({opened(7)});
    model.flush();
    view.selectConnection(7);
    QVERIFY(child<QToolButton>(view, "connectionClose")->isEnabled());
    QVERIFY(!child<QToolButton>(view, "connectionPing")->isEnabled());
    model.addEvents({webSocketOpened(7, QStringLiteral("ws:/late"))});
    model.flush();
    QCOMPARE(view.selectedConnection(), quint64(7));
    QVERIFY(child<QToolButton>(view, "connectionPing")->isEnabled());

    view.selectConnection(12345);
    QCOMPARE(view.selectedConnection(), quint64(0));
}

void tst_ConnectionsView::filterAndCount()
{
    ConnectionModel model;
    ConnectionsView view(&model, nullptr);
    view.show();
    fill(model);
    QLabel *count = child<QLabel>(view, "connectionCount");
    QCOMPARE(count->text(), QStringLiteral("3 live"));
    QCOMPARE(view.proxyModel()->rowCount(), 3);

    QLineEdit *filter = child<QLineEdit>(view, "connectionFilter");
    QTest::keyClicks(filter, QStringLiteral("CHAT"));
    QCOMPARE(view.proxyModel()->rowCount(), 1);
    QCOMPARE(view.proxyModel()->index(0, 0).data(ConnectionModel::ConnectionIdRole).toULongLong(),
             quint64(1));
    QCOMPARE(count->text(), QStringLiteral("3 live (1 match the filter)"));
    // Not shown, not selectable.
    view.selectConnection(2);
    QCOMPARE(view.selectedConnection(), quint64(0));
    view.selectConnection(1);
    QCOMPARE(view.selectedConnection(), quint64(1));
    // Any column: the peer's port.
    filter->clear();
    QTest::keyClicks(filter, QStringLiteral(":40003"));
    QCOMPARE(view.proxyModel()->rowCount(), 1);
    QCOMPARE(view.proxyModel()->index(0, 0).data(ConnectionModel::ConnectionIdRole).toULongLong(),
             quint64(3));
    filter->clear();
    QCOMPARE(view.proxyModel()->rowCount(), 3);
    QCOMPARE(count->text(), QStringLiteral("3 live"));

    // Past the model's cap.
    model.setCapacity(3);
    model.addEvents({opened(10), opened(11)});
    model.flush();
    QCOMPARE(model.hiddenCount(), 2);
    QCOMPARE(count->text(), QStringLiteral("3 live +2 not shown"));
    MonitorEvent gone;
    gone.type = Type::ConnectionClosed;
    gone.connectionId = 1;
    model.addEvents({gone});
    model.flush();
    QCOMPARE(count->text(), QStringLiteral("2 live +2 not shown"));

    // Thousands are grouped.
    ConnectionModel big;
    ConnectionsView bigView(&big, nullptr);
    QList<MonitorEvent> many;
    for (quint64 id = 1; id <= 1200; ++id)
        many.append(opened(id));
    big.addEvents(many);
    big.flush();
    QCOMPARE(child<QLabel>(bigView, "connectionCount")->text(), QStringLiteral("1,200 live"));
}

void tst_ConnectionsView::closeDialogValidation()
{
    sluice::Server server;
    ConnectionModel model;
    ConnectionsView view(&model, &server);
    view.show();
    fill(model);
    view.selectConnection(1);
    QTest::mouseClick(child<QToolButton>(view, "connectionClose"), Qt::LeftButton);
    QDialog *dialog = child<QDialog>(view, "closeDialog");
    QVERIFY(dialog);
    QVERIFY(dialog->isVisible());
    QVERIFY(dialog->isModal());
    // Asking again does not open a second one.
    view.closeSelected();
    QCOMPARE(view.findChildren<QDialog *>(QStringLiteral("closeDialog")).size(), 1);

    QSpinBox *code = child<QSpinBox>(*dialog, "closeCode");
    QComboBox *preset = child<QComboBox>(*dialog, "closeCodePreset");
    QLineEdit *reason = child<QLineEdit>(*dialog, "closeReason");
    QLabel *codeError = child<QLabel>(*dialog, "closeCodeError");
    QLabel *reasonError = child<QLabel>(*dialog, "closeReasonError");
    QPushButton *ok = okButton(*dialog);
    QVERIFY(code && preset && reason && codeError && reasonError && ok);
    QCOMPARE(code->value(), 1000);
    QCOMPARE(code->minimum(), 1000);
    QCOMPARE(code->maximum(), 4999);
    QVERIFY(ok->isEnabled());
    QVERIFY(codeError->isHidden());

    // Typed in: 1005 is never sent.
    code->selectAll();
    QTest::keyClicks(code, QStringLiteral("1005"));
    QCOMPARE(code->value(), 1005);
    QVERIFY(!ok->isEnabled());
    QVERIFY(codeError->isVisible());
    QVERIFY(codeError->text().contains(QStringLiteral("1005")));
    for (int bad : {1004, 1006, 1015, 1016, 2500, 2999}) {
        code->setValue(bad);
        QVERIFY2(!ok->isEnabled(), qPrintable(QString::number(bad)));
        QVERIFY(codeError->isVisible());
    }
    for (int good : {1001, 1014, 3000, 4001, 4999}) {
        code->setValue(good);
        QVERIFY2(ok->isEnabled(), qPrintable(QString::number(good)));
        QVERIFY(codeError->isHidden());
    }

    // The presets set the code, and follow it.
    QCOMPARE(preset->count(), 5);
    QCOMPARE(preset->currentIndex(), -1); // 4999 is none of them
    const int policy = preset->findData(1008);
    QVERIFY(policy >= 0);
    preset->setCurrentIndex(policy);
    Q_EMIT preset->activated(policy);
    QCOMPARE(code->value(), 1008);
    code->setValue(4000);
    QCOMPARE(preset->currentData().toInt(), 4000);

    // The reason: 123 bytes of UTF-8 at most.
    QTest::keyClicks(reason, QString(123, u'r'));
    QVERIFY(ok->isEnabled());
    QVERIFY(reasonError->isHidden());
    QTest::keyClicks(reason, QStringLiteral("r"));
    QVERIFY(!ok->isEnabled());
    QVERIFY(reasonError->isVisible());
    QVERIFY(reasonError->text().contains(QStringLiteral("124")));
    // Bytes, not characters: 62 × é is 124 bytes.
    reason->setText(QString(62, QChar(0xe9)));
    QVERIFY(!ok->isEnabled());
    reason->setText(QString(61, QChar(0xe9)));
    QVERIFY(ok->isEnabled());
    // Both wrong, then one fixed: still disabled.
    reason->setText(QString(200, u'x'));
    code->setValue(1005);
    reason->clear();
    QVERIFY(!ok->isEnabled());
    code->setValue(1000);
    QVERIFY(ok->isEnabled());

    QTest::keyClick(dialog, Qt::Key_Escape);
    QTRY_VERIFY_WITH_TIMEOUT(!child<QDialog>(view, "closeDialog"), 2000);
    QCOMPARE(child<QLabel>(view, "connectionStatus")->text(), QString());
}

void tst_ConnectionsView::sendDialogValidation()
{
    sluice::Server server;
    ConnectionModel model;
    ConnectionsView view(&model, &server);
    view.show();
    fill(model);
    view.selectConnection(2);
    QTest::mouseClick(child<QToolButton>(view, "connectionSend"), Qt::LeftButton);
    QDialog *dialog = child<QDialog>(view, "sendDialog");
    QVERIFY(dialog);
    QVERIFY(dialog->isVisible());
    QRadioButton *text = child<QRadioButton>(*dialog, "sendText");
    QRadioButton *binary = child<QRadioButton>(*dialog, "sendBinary");
    QPlainTextEdit *payload = child<QPlainTextEdit>(*dialog, "sendPayload");
    QLabel *error = child<QLabel>(*dialog, "sendPayloadError");
    QPushButton *ok = okButton(*dialog);
    QVERIFY(text && binary && payload && error && ok);
    QVERIFY(text->isChecked());
    QVERIFY(ok->isEnabled()); // an empty text message is a message

    QTest::keyClicks(payload, QStringLiteral("zz not hex"));
    QVERIFY(ok->isEnabled());
    QTest::mouseClick(binary, Qt::LeftButton);
    QVERIFY(binary->isChecked());
    QVERIFY(!ok->isEnabled());
    QVERIFY(error->isVisible());
    QVERIFY(error->text().contains(QStringLiteral("'z'")));

    payload->setPlainText(QStringLiteral("00 ff\n10"));
    QVERIFY(ok->isEnabled());
    QVERIFY(error->isHidden());
    QCOMPARE(child<QLabel>(*dialog, "sendPayloadSize")->text(), QStringLiteral("3 bytes"));
    payload->setPlainText(QStringLiteral("00 f"));
    QVERIFY(!ok->isEnabled());
    QVERIFY(error->text().contains(QStringLiteral("Odd")));
    payload->setPlainText(QStringLiteral("0x10"));
    QVERIFY(!ok->isEnabled());

    // 1 MiB at most, counted in bytes; entered as lines, as a user would.
    payload->setPlainText(hexLines(ConnectionsView::MaxSendBytes));
    QVERIFY(ok->isEnabled());
    QCOMPARE(child<QLabel>(*dialog, "sendPayloadSize")->text(), QStringLiteral("1,048,576 bytes"));
    payload->setPlainText(hexLines(ConnectionsView::MaxSendBytes + 1));
    QVERIFY(!ok->isEnabled());
    QVERIFY(error->isVisible());
    QTest::mouseClick(text, Qt::LeftButton);
    QVERIFY(!ok->isEnabled()); // 3 MiB of text
    payload->setPlainText(textLines(ConnectionsView::MaxSendBytes));
    QVERIFY(ok->isEnabled());
    QVERIFY(error->isHidden());
    // One more character, of two bytes in UTF-8.
    payload->setPlainText(textLines(ConnectionsView::MaxSendBytes - 1) + QChar(0xe9));
    QVERIFY(!ok->isEnabled());
    QVERIFY(error->isVisible());

    dialog->reject();
    QTRY_VERIFY_WITH_TIMEOUT(!child<QDialog>(view, "sendDialog"), 2000);
}

void tst_ConnectionsView::state()
{
    ConnectionModel model;
    QByteArray saved;
    {
        ConnectionsView view(&model, nullptr);
        view.tableView()->sortByColumn(ConnectionModel::RouteColumn, Qt::DescendingOrder);
        view.tableView()->horizontalHeader()->resizeSection(ConnectionModel::PeerColumn, 321);
        view.tableView()->horizontalHeader()->moveSection(ConnectionModel::StateColumn, 0);
        child<QLineEdit>(view, "connectionFilter")->setText(QStringLiteral("not kept"));
        saved = view.saveState();
    }
    QVERIFY(!saved.isEmpty());

    ConnectionsView view(&model, nullptr);
    fill(model);
    QHeaderView *header = view.tableView()->horizontalHeader();
    QCOMPARE(header->sortIndicatorSection(), int(ConnectionModel::IdColumn));
    QVERIFY(view.restoreState(saved));
    QCOMPARE(header->sortIndicatorSection(), int(ConnectionModel::RouteColumn));
    QCOMPARE(header->sortIndicatorOrder(), Qt::DescendingOrder);
    QCOMPARE(header->sectionSize(ConnectionModel::PeerColumn), 321);
    QCOMPARE(header->visualIndex(ConnectionModel::StateColumn), 0);
    QCOMPARE(child<QLineEdit>(view, "connectionFilter")->text(), QString());
    // Sorted for real: ws:/feed, ws:/chat, get:/page.
    QCOMPARE(view.proxyModel()->index(0, 0).data(ConnectionModel::ConnectionIdRole).toULongLong(),
             quint64(2));
    QCOMPARE(view.proxyModel()->index(2, 0).data(ConnectionModel::ConnectionIdRole).toULongLong(),
             quint64(3));

    // Bad blobs change nothing.
    view.tableView()->sortByColumn(ConnectionModel::KindColumn, Qt::AscendingOrder);
    QVERIFY(!view.restoreState(QByteArray()));
    QVERIFY(!view.restoreState(QByteArray("not a state")));
    QVERIFY(!view.restoreState(saved.left(saved.size() - 2)));
    QVERIFY(!view.restoreState(saved + "x"));
    QByteArray newer = saved;
    newer[4] = char(42); // the version
    QVERIFY(!view.restoreState(newer));
    QCOMPARE(header->sortIndicatorSection(), int(ConnectionModel::KindColumn));
    QCOMPARE(header->sectionSize(ConnectionModel::PeerColumn), 321); // from the good restore
}

void tst_ConnectionsView::realClient()
{
    sluice::Server server;
    QVERIFY(server.map(QStringLiteral("ws:/echo"), sluice::handlers::echo()));
    QVERIFY2(server.listen(QHostAddress::LocalHost, 0), qPrintable(server.errorString()));
    ConnectionModel model;
    model.setFlushInterval(10);
    connect(server.monitor(), &sluice::Monitor::eventsPosted, &model, &ConnectionModel::addEvents);
    QList<MonitorEvent> events;
    connect(server.monitor(), &sluice::Monitor::eventsPosted, this,
            [&events](const QList<MonitorEvent> &batch) { events += batch; });
    ConnectionsView view(&model, &server);
    view.resize(900, 400);
    view.show();

    PythonClient first;
    PythonClient second;
    first.start(server.serverPort());
    second.start(server.serverPort());
    QTRY_VERIFY2_WITH_TIMEOUT(first.localPort() && second.localPort(),
                              qPrintable(first.errors() + second.errors()), 20000);
    const auto idOf = [&model](quint16 port) -> quint64 {
        const QString peer = QStringLiteral("127.0.0.1:%1").arg(port);
        for (int row = 0; row < model.rowCount(); ++row) {
            if (model.index(row, ConnectionModel::PeerColumn).data().toString() == peer
                && model.index(row, 0).data(ConnectionModel::KindRole).toInt()
                           == int(ConnectionModel::Kind::WebSocket))
                return model.connectionId(row);
        }
        return 0;
    };
    QTRY_VERIFY_WITH_TIMEOUT(idOf(first.localPort()) && idOf(second.localPort()), 5000);
    const quint64 id = idOf(first.localPort());
    QCOMPARE(view.proxyModel()->rowCount(), 2);
    QCOMPARE(child<QLabel>(view, "connectionCount")->text(), QStringLiteral("2 live"));

    // The filter finds it by its port, and hides the other.
    QLineEdit *filter = child<QLineEdit>(view, "connectionFilter");
    QTest::keyClicks(filter, QStringLiteral(":%1").arg(first.localPort()));
    QCOMPARE(view.proxyModel()->rowCount(), 1);
    filter->clear();
    QCOMPARE(view.proxyModel()->rowCount(), 2);
    QTest::keyClicks(filter, QStringLiteral(":%1").arg(first.localPort()));

    // Selected by a click on its row.
    QTableView *table = view.tableView();
    QTest::mouseClick(table->viewport(), Qt::LeftButton, {},
                      table->visualRect(view.proxyModel()->index(0, 1)).center());
    QCOMPARE(view.selectedConnection(), id);

    // Send… text.
    QTest::mouseClick(child<QToolButton>(view, "connectionSend"), Qt::LeftButton);
    QDialog *dialog = child<QDialog>(view, "sendDialog");
    QVERIFY(dialog);
    QTest::keyClicks(child<QPlainTextEdit>(*dialog, "sendPayload"), QStringLiteral("hi"));
    QTest::mouseClick(okButton(*dialog), Qt::LeftButton);
    QTRY_VERIFY2_WITH_TIMEOUT(first.has(QStringLiteral("text hi")),
                              qPrintable(first.lines().join(u'|')), 10000);
    QCOMPARE(child<QLabel>(view, "connectionStatus")->text(),
             QStringLiteral("2 bytes of text sent to #%1").arg(id));
    QTRY_VERIFY_WITH_TIMEOUT(!child<QDialog>(view, "sendDialog"), 2000);

    // Send… binary, as hex.
    QTest::mouseClick(child<QToolButton>(view, "connectionSend"), Qt::LeftButton);
    dialog = child<QDialog>(view, "sendDialog");
    QVERIFY(dialog);
    QTest::mouseClick(child<QRadioButton>(*dialog, "sendBinary"), Qt::LeftButton);
    QTest::keyClicks(child<QPlainTextEdit>(*dialog, "sendPayload"), QStringLiteral("00 ff 10"));
    QVERIFY(okButton(*dialog)->isEnabled());
    QTest::mouseClick(okButton(*dialog), Qt::LeftButton);
    QTRY_VERIFY2_WITH_TIMEOUT(first.has(QStringLiteral("binary 00ff10")),
                              qPrintable(first.lines().join(u'|')), 10000);
    QCOMPARE(child<QLabel>(view, "connectionStatus")->text(),
             QStringLiteral("3 bytes sent to #%1").arg(id));
    QTRY_VERIFY_WITH_TIMEOUT(!child<QDialog>(view, "sendDialog"), 2000);

    // Ping: the client gets it and its pong comes back.
    QTest::mouseClick(child<QToolButton>(view, "connectionPing"), Qt::LeftButton);
    QCOMPARE(child<QLabel>(view, "connectionStatus")->text(),
             QStringLiteral("ping sent to #%1").arg(id));
    QTRY_VERIFY2_WITH_TIMEOUT(first.has(QStringLiteral("ping []")),
                              qPrintable(first.lines().join(u'|')), 10000);
    const auto pongBack = [&events, id] {
        for (const MonitorEvent &event : events) {
            if (event.connectionId == id && event.opcode == MonitorEvent::Opcode::Pong
                && event.direction == MonitorEvent::Direction::Incoming)
                return true;
        }
        return false;
    };
    QTRY_VERIFY_WITH_TIMEOUT(pongBack(), 10000);
    // The model counts it apart from the messages: 2 data messages each way.
    const int row = model.rowOf(id);
    QTRY_VERIFY_WITH_TIMEOUT(model.index(model.rowOf(id), ConnectionModel::MessagesInColumn)
                                     .data(Qt::ToolTipRole)
                                     .toString()
                                     .contains(QStringLiteral("1 control frames")),
                             5000);
    QCOMPARE(model.index(row, ConnectionModel::MessagesOutColumn).data().toLongLong(), 2);
    QVERIFY(!second.has(QStringLiteral("text hi")));
    QVERIFY(!second.has(QStringLiteral("ping []")));

    // Close… 4001 "bye".
    QTest::mouseClick(child<QToolButton>(view, "connectionClose"), Qt::LeftButton);
    dialog = child<QDialog>(view, "closeDialog");
    QVERIFY(dialog);
    QSpinBox *code = child<QSpinBox>(*dialog, "closeCode");
    code->selectAll();
    QTest::keyClicks(code, QStringLiteral("4001"));
    QTest::keyClicks(child<QLineEdit>(*dialog, "closeReason"), QStringLiteral("bye"));
    QVERIFY(okButton(*dialog)->isEnabled());
    QTest::mouseClick(okButton(*dialog), Qt::LeftButton);
    QCOMPARE(child<QLabel>(view, "connectionStatus")->text(),
             QStringLiteral("close 4001 sent to #%1").arg(id));
    QTRY_VERIFY2_WITH_TIMEOUT(first.has(QStringLiteral("closed 4001 bye")),
                              qPrintable(first.lines().join(u'|')), 10000);
    QTRY_COMPARE_WITH_TIMEOUT(first.process().state(), QProcess::NotRunning, 10000);
    QCOMPARE(first.process().exitCode(), 0);
    QTRY_COMPARE_WITH_TIMEOUT(model.rowOf(id), -1, 5000);
    QCOMPARE(view.selectedConnection(), quint64(0));
    QVERIFY(!child<QToolButton>(view, "connectionClose")->isEnabled());

    // The other one is still there, and closes the same way.
    filter->clear();
    QCOMPARE(child<QLabel>(view, "connectionCount")->text(), QStringLiteral("1 live"));
    view.selectConnection(idOf(second.localPort()));
    view.closeSelected();
    dialog = child<QDialog>(view, "closeDialog");
    QVERIFY(dialog);
    dialog->accept();
    QTRY_VERIFY2_WITH_TIMEOUT(second.has(QStringLiteral("closed 1000 ")),
                              qPrintable(second.lines().join(u'|')), 10000);
    QTRY_COMPARE_WITH_TIMEOUT(second.process().state(), QProcess::NotRunning, 10000);
    QTRY_COMPARE_WITH_TIMEOUT(model.rowCount(), 0, 5000);
}

void tst_ConnectionsView::realHttpClose()
{
    sluice::Server server;
    QVERIFY(server.map(QStringLiteral("get:/hello/(?<name>[^/]+)"), sluice::handlers::hello()));
    QVERIFY2(server.listen(QHostAddress::LocalHost, 0), qPrintable(server.errorString()));
    ConnectionModel model;
    model.setFlushInterval(10);
    connect(server.monitor(), &sluice::Monitor::eventsPosted, &model, &ConnectionModel::addEvents);
    ConnectionsView view(&model, &server);
    view.show();

    // A keep-alive connection, idle after its exchange.
    testclient::Client client;
    QVERIFY(client.connectTo(server.serverPort()));
    QCOMPARE(client.get("/hello/view").status, 200);
    QTRY_COMPARE_WITH_TIMEOUT(model.rowCount(), 1, 5000);
    QTRY_COMPARE_WITH_TIMEOUT(model.index(0, 0).data(ConnectionModel::KindRole).toInt(),
                              int(ConnectionModel::Kind::Http), 5000);
    const quint64 id = model.connectionId(0);
    view.selectConnection(id);
    QVERIFY(!child<QToolButton>(view, "connectionSend")->isEnabled());
    QVERIFY(!child<QToolButton>(view, "connectionPing")->isEnabled());
    QVERIFY(client.staysQuiet(100));

    QTest::mouseClick(child<QToolButton>(view, "connectionClose"), Qt::LeftButton);
    QDialog *dialog = child<QDialog>(view, "closeDialog");
    QVERIFY(dialog);
    QTest::mouseClick(okButton(*dialog), Qt::LeftButton);
    QVERIFY(client.waitForClosed(5000));
    QTRY_COMPARE_WITH_TIMEOUT(model.rowCount(), 0, 5000);
    QCOMPARE(child<QLabel>(view, "connectionStatus")->text(),
             QStringLiteral("#%1 closes after its response").arg(id));
}

QTEST_MAIN(tst_ConnectionsView)
#include "tst_connectionsview.moc"
