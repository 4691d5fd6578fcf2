// The Traffic tab, offscreen: a real server on loopback with real clients
// (python3-websockets, QWebSocket) feeding the model, the filter bar and the
// toolbar driven with QTest, follow-tail, the status labels, export and the
// saved state.

#include "wstestclient.h"

#include <sluice/handlers.h>
#include <sluice/monitor.h>
#include <sluice/server.h>
#include <sluiceui/payloadview.h>
#include <sluiceui/trafficmodel.h>
#include <sluiceui/trafficview.h>

#include <QtCore/QElapsedTimer>
#include <QtCore/QFile>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QLocale>
#include <QtCore/QProcess>
#include <QtCore/QTemporaryDir>
#include <QtGui/QAction>
#include <QtTest/QtTest>
#include <QtWidgets/QCheckBox>
#include <QtWidgets/QComboBox>
#include <QtWidgets/QHeaderView>
#include <QtWidgets/QLabel>
#include <QtWidgets/QLineEdit>
#include <QtWidgets/QMenu>
#include <QtWidgets/QPlainTextEdit>
#include <QtWidgets/QScrollBar>
#include <QtWidgets/QSplitter>
#include <QtWidgets/QTableView>
#include <QtWidgets/QToolButton>

#include <memory>

#include "trafficevents.h"

using sluice::PayloadView;
using sluice::TrafficModel;
using sluice::TrafficView;
using RowType = TrafficModel::RowType;
using namespace trafficevents;

namespace {

constexpr int kTimeout = 15000;

quint64 connectionAt(const TrafficModel *model, int row)
{
    return model->index(row, 0).data(TrafficModel::ConnectionIdRole).toULongLong();
}

// The python3-websockets script: sends each argument after the URL as a text
// message and waits for its echo.
const char kSendScript[] = R"(
import asyncio, sys, websockets
async def main():
    async with websockets.connect(sys.argv[1]) as ws:
        for message in sys.argv[2:]:
            if message.startswith("hex:"):
                data = bytes.fromhex(message[4:])
                await ws.send(data)
                assert await ws.recv() == data
            else:
                await ws.send(message)
                assert await ws.recv() == message
asyncio.run(asyncio.wait_for(main(), 10))
)";

} // namespace

class tst_TrafficView : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void init();
    void cleanup();

    void objectsByName();
    void rowsFromPythonClient();
    void selectingShowsDetail();
    void selectedDetailStaysWhileRowsArrive();
    void textFilterDebounced();
    void regexAndInvalidRegex();
    void matchCase();
    void directionFilter();
    void hideControlFrames();
    void connectionFilter();
    void pauseShowsMissed();
    void clearEmpties();
    void droppedLabel();
    void countLabelCoalesced();
    void followTailAtBottom();
    void scrolledUpStays();
    void scrolledUpKeepsFirstRowWhileDropping();
    void underLoad();
    void exportHar();
    void exportJsonLines();
    void exportFailures();
    void saveRestoreState();
    void restoreGarbage();

private:
    // Starts the echo server, its monitor feeding a new model and view.
    void startServer();
    void makeView();
    bool runPython(const QStringList &messages);
    template<typename T>
    T *child(const char *name) const
    {
        return m_view->findChild<T *>(QLatin1String(name));
    }
    int rowsOfType(RowType type) const;

    std::unique_ptr<sluice::Server> m_server;
    std::unique_ptr<TrafficModel> m_model;
    std::unique_ptr<TrafficView> m_view;
};

void tst_TrafficView::init()
{
    makeView();
    m_view->show();
    QVERIFY(QTest::qWaitForWindowExposed(m_view.get()));
}

void tst_TrafficView::cleanup()
{
    m_view.reset();
    m_model.reset();
    m_server.reset();
}

void tst_TrafficView::makeView()
{
    m_view.reset();
    m_model = std::make_unique<TrafficModel>();
    m_model->setFlushInterval(10);
    m_view = std::make_unique<TrafficView>(m_model.get());
    m_view->resize(900, 700);
}

void tst_TrafficView::startServer()
{
    m_server = std::make_unique<sluice::Server>();
    QVERIFY(m_server->map(QStringLiteral("ws:/echo"), sluice::handlers::echo()));
    QVERIFY2(m_server->listen(QHostAddress::LocalHost, 0), qPrintable(m_server->errorString()));
    connect(m_server->monitor(), &sluice::Monitor::eventsPosted, m_model.get(),
            &TrafficModel::addEvents);
}

bool tst_TrafficView::runPython(const QStringList &messages)
{
    QProcess python;
    QStringList arguments {QStringLiteral("-c"), QString::fromUtf8(kSendScript),
                           QStringLiteral("ws://127.0.0.1:%1/echo").arg(m_server->serverPort())};
    python.start(QStringLiteral("/usr/bin/python3"), arguments + messages);
    if (!QTest::qWaitFor([&] { return python.state() == QProcess::NotRunning; }, kTimeout))
        return false;
    if (python.exitStatus() != QProcess::NormalExit || python.exitCode() != 0) {
        qWarning("python3: %s", python.readAllStandardError().constData());
        return false;
    }
    return true;
}

int tst_TrafficView::rowsOfType(RowType type) const
{
    int count = 0;
    for (int row = 0; row < m_model->rowCount(); ++row)
        count += m_model->rowType(row) == type;
    return count;
}

void tst_TrafficView::objectsByName()
{
    for (const char *name : {"trafficFilter", "trafficConnection"})
        QVERIFY2(child<QLineEdit>(name), name);
    for (const char *name : {"trafficRegex", "trafficCase", "trafficHideControl"})
        QVERIFY2(child<QCheckBox>(name), name);
    for (const char *name : {"trafficPause", "trafficClear", "trafficExport"})
        QVERIFY2(child<QToolButton>(name), name);
    for (const char *name :
         {"trafficCount", "trafficDropped", "trafficMissed", "trafficFilterError"})
        QVERIFY2(child<QLabel>(name), name);
    QVERIFY(child<QComboBox>("trafficDirection"));
    QVERIFY(child<QSplitter>("trafficSplitter"));
    QVERIFY(child<PayloadView>("payloadView"));

    QCOMPARE(child<QLineEdit>("trafficFilter")->placeholderText(),
             QStringLiteral("Filter payload, target, reason…"));
    QCOMPARE(child<QCheckBox>("trafficRegex")->text(), QStringLiteral("Regex"));
    QCOMPARE(child<QCheckBox>("trafficCase")->text(), QStringLiteral("Match case"));
    QCOMPARE(child<QCheckBox>("trafficHideControl")->text(),
             QStringLiteral("Hide ping/pong/close"));
    auto *direction = child<QComboBox>("trafficDirection");
    QCOMPARE(direction->count(), 3);
    QCOMPARE(direction->itemText(0), QStringLiteral("Both"));
    QCOMPARE(direction->itemText(1), QStringLiteral("Incoming \u2193"));
    QCOMPARE(direction->itemText(2), QStringLiteral("Outgoing \u2191"));
    QVERIFY(child<QToolButton>("trafficPause")->isCheckable());
    QCOMPARE(child<QToolButton>("trafficPause")->text(), QStringLiteral("Pause"));

    QMenu *menu = child<QToolButton>("trafficExport")->menu();
    QVERIFY(menu);
    QStringList actions;
    for (const QAction *action : menu->actions())
        actions.append(action->text());
    QCOMPARE(actions,
             (QStringList {QStringLiteral("Export JSON Lines…"), QStringLiteral("Export HAR…")}));

    auto *table = child<QTableView>("trafficTable");
    QVERIFY(table);
    QCOMPARE(table, m_view->tableView());
    QCOMPARE(table->model(), m_model.get());
    QVERIFY(!table->verticalHeader()->isVisible());
    QCOMPARE(table->verticalHeader()->sectionResizeMode(0), QHeaderView::Fixed);
    QCOMPARE(table->selectionMode(), QAbstractItemView::SingleSelection);
    QCOMPARE(table->selectionBehavior(), QAbstractItemView::SelectRows);
    QCOMPARE(table->horizontalHeader()->sectionResizeMode(TrafficModel::PreviewColumn),
             QHeaderView::Stretch);
    QCOMPARE(child<QSplitter>("trafficSplitter")->orientation(), Qt::Vertical);
    QVERIFY(!child<QLabel>("trafficDropped")->isVisibleTo(m_view.get()));
    QVERIFY(!child<QLabel>("trafficMissed")->isVisibleTo(m_view.get()));
    QVERIFY(!child<QLabel>("trafficFilterError")->isVisibleTo(m_view.get()));
}

void tst_TrafficView::rowsFromPythonClient()
{
    startServer();
    m_view->show();
    QVERIFY(QTest::qWaitForWindowExposed(m_view.get()));
    QVERIFY(runPython({QStringLiteral("hello"), QStringLiteral("hex:0001ff")}));
    QTRY_COMPARE_WITH_TIMEOUT(rowsOfType(RowType::Closed), 1, kTimeout);

    QList<int> messages;
    for (int row = 0; row < m_model->rowCount(); ++row) {
        const RowType type = m_model->rowType(row);
        if (type == RowType::Text || type == RowType::Binary)
            messages.append(row);
    }
    QCOMPARE(messages.size(), 4);
    const QStringList arrows {QStringLiteral("↓"), QStringLiteral("↑"), QStringLiteral("↓"),
                              QStringLiteral("↑")};
    const QStringList types {QStringLiteral("text"), QStringLiteral("text"),
                             QStringLiteral("binary"), QStringLiteral("binary")};
    const QList<qint64> sizes {5, 5, 3, 3};
    const QAbstractItemModel *shown = child<QTableView>("trafficTable")->model();
    for (int i = 0; i < 4; ++i) {
        const int row = messages.at(i);
        QCOMPARE(shown->index(row, TrafficModel::DirectionColumn).data().toString(), arrows.at(i));
        QCOMPARE(shown->index(row, TrafficModel::TypeColumn).data().toString(), types.at(i));
        QCOMPARE(shown->index(row, TrafficModel::SizeColumn).data().toLongLong(), sizes.at(i));
    }
    QCOMPARE(shown->rowCount(), m_model->rowCount());
    const QString count = QStringLiteral("%1 of %1 rows").arg(m_model->rowCount());
    QTRY_COMPARE_WITH_TIMEOUT(child<QLabel>("trafficCount")->text(), count, 2000);
}

void tst_TrafficView::selectingShowsDetail()
{
    startServer();
    m_view->show();
    QVERIFY(QTest::qWaitForWindowExposed(m_view.get()));
    QVERIFY(runPython({QStringLiteral(R"({"user": "ada"})"), QStringLiteral("hex:00ff10")}));
    QTRY_COMPARE_WITH_TIMEOUT(rowsOfType(RowType::Closed), 1, kTimeout);

    int jsonRow = -1;
    int binaryRow = -1;
    for (int row = 0; row < m_model->rowCount(); ++row) {
        if (m_model->rowType(row) == RowType::Text && jsonRow < 0)
            jsonRow = row;
        if (m_model->rowType(row) == RowType::Binary && binaryRow < 0)
            binaryRow = row;
    }
    QVERIFY(jsonRow >= 0 && binaryRow >= 0);

    auto *table = child<QTableView>("trafficTable");
    auto *payload = child<PayloadView>("payloadView");
    const auto clickRow = [table](int row) {
        const QModelIndex index = table->model()->index(row, TrafficModel::PreviewColumn);
        table->scrollTo(index);
        QTest::mouseClick(table->viewport(), Qt::LeftButton, {}, table->visualRect(index).center());
    };
    clickRow(jsonRow);
    QVERIFY(payload->hasEvent());
    QCOMPARE(payload->event().payload, QByteArray(R"({"user": "ada"})"));
    QCOMPARE(payload->currentTab(), PayloadView::JsonTab);
    clickRow(binaryRow);
    QCOMPARE(payload->event().payload, QByteArray("\x00\xff\x10", 3));
    QCOMPARE(payload->currentTab(), PayloadView::HexTab);
    QCOMPARE(payload->findChild<QPlainTextEdit *>(QStringLiteral("payloadHex"))->toPlainText(),
             QStringLiteral("00000000  00 ff 10                                          |...|"));
}

void tst_TrafficView::selectedDetailStaysWhileRowsArrive()
{
    m_model->setCapacity(100);
    m_model->addEvents(numbered(100, 1000));
    m_model->flush();
    auto *table = child<QTableView>("trafficTable");
    auto *payload = child<PayloadView>("payloadView");
    table->selectRow(50); // connection 1050
    QCOMPARE(payload->event().connectionId, quint64(1050));

    // 30 more: 30 dropped at the front, 30 added at the end.
    m_model->addEvents(numbered(30, 5000));
    m_model->flush();
    QCOMPARE(m_model->droppedCount(), quint64(30));
    QCOMPARE(payload->event().connectionId, quint64(1050));
    const QModelIndexList selected = table->selectionModel()->selectedRows();
    QCOMPARE(selected.size(), 1);
    QCOMPARE(connectionAt(m_model.get(), selected.first().row()), quint64(1050));

    // The selected row itself dropped: the detail still shows it.
    m_model->addEvents(numbered(60, 6000));
    m_model->flush();
    QVERIFY(table->selectionModel()->selectedRows().isEmpty());
    QCOMPARE(payload->event().connectionId, quint64(1050));
}

void tst_TrafficView::textFilterDebounced()
{
    startServer();
    QVERIFY(runPython(
            {QStringLiteral("apple"), QStringLiteral("banana"), QStringLiteral("cherry")}));
    QTRY_COMPARE_WITH_TIMEOUT(rowsOfType(RowType::Closed), 1, kTimeout);
    const int all = m_model->rowCount();
    QCOMPARE(all, 10); // open, 3 × (in, out), close frames in and out, closed

    auto *filter = child<QLineEdit>("trafficFilter");
    QTest::keyClicks(filter, QStringLiteral("nan"));
    // Not yet: the filter waits for a pause in typing.
    QCOMPARE(m_model->textFilter(), QString());
    QCOMPARE(m_model->rowCount(), all);
    QTRY_COMPARE_WITH_TIMEOUT(m_model->rowCount(), 2, 2000);
    QCOMPARE(m_model->textFilter(), QStringLiteral("nan"));
    QCOMPARE(child<QTableView>("trafficTable")->model()->rowCount(), 2);
    for (int row = 0; row < 2; ++row)
        QCOMPARE(m_model->event(row).payload, QByteArray("banana"));
    QTRY_COMPARE_WITH_TIMEOUT(child<QLabel>("trafficCount")->text(), QStringLiteral("2 of 10 rows"),
                              2000);

    // The target of the open row matches too.
    filter->clear();
    QTest::keyClicks(filter, QStringLiteral("/echo"));
    QTRY_COMPARE_WITH_TIMEOUT(m_model->textFilter(), QStringLiteral("/echo"), 2000);
    QCOMPARE(m_model->rowCount(), 2); // open and closed rows
    QCOMPARE(m_model->rowType(0), RowType::Open);

    filter->clear();
    QTRY_COMPARE_WITH_TIMEOUT(m_model->rowCount(), all, 2000);
}

void tst_TrafficView::regexAndInvalidRegex()
{
    startServer();
    QVERIFY(runPython(
            {QStringLiteral("apple"), QStringLiteral("banana"), QStringLiteral("cherry")}));
    QTRY_COMPARE_WITH_TIMEOUT(rowsOfType(RowType::Closed), 1, kTimeout);
    const int all = m_model->rowCount();

    auto *filter = child<QLineEdit>("trafficFilter");
    auto *error = child<QLabel>("trafficFilterError");
    const QColor normalBase = filter->palette().color(QPalette::Base);
    QTest::mouseClick(child<QCheckBox>("trafficRegex"), Qt::LeftButton);
    QVERIFY(child<QCheckBox>("trafficRegex")->isChecked());
    QTest::keyClicks(filter, QStringLiteral("^(apple|cherry)$"));
    QTRY_COMPARE_WITH_TIMEOUT(m_model->rowCount(), 4, 2000);
    QVERIFY(m_model->isTextFilterRegex());
    QVERIFY(!error->isVisibleTo(m_view.get()));

    // Unbalanced: every row shows, the field turns red and says why.
    filter->setText(QStringLiteral("(apple"));
    QTRY_VERIFY_WITH_TIMEOUT(!m_model->isFilterValid(), 2000);
    QCOMPARE(m_model->rowCount(), all);
    QVERIFY(error->isVisibleTo(m_view.get()));
    QVERIFY2(error->text().contains(m_model->filterError()), qPrintable(error->text()));
    QVERIFY(filter->toolTip().contains(m_model->filterError()));
    QVERIFY(filter->palette().color(QPalette::Base) != normalBase);

    filter->setText(QStringLiteral("(apple)"));
    QTRY_COMPARE_WITH_TIMEOUT(m_model->rowCount(), 2, 2000);
    QVERIFY(!error->isVisibleTo(m_view.get()));
    QCOMPARE(filter->palette().color(QPalette::Base), normalBase);
    QVERIFY(filter->toolTip().isEmpty());

    // Off again: "(apple)" as plain text matches nothing.
    QTest::mouseClick(child<QCheckBox>("trafficRegex"), Qt::LeftButton);
    QCOMPARE(m_model->isTextFilterRegex(), false);
    QCOMPARE(m_model->rowCount(), 0);
}

void tst_TrafficView::matchCase()
{
    m_model->addEvents({text(1, Direction::Incoming, "Apple"),
                        text(1, Direction::Outgoing, "apple"),
                        text(1, Direction::Incoming, "pear")});
    m_model->flush();
    child<QLineEdit>("trafficFilter")->setText(QStringLiteral("APPLE"));
    QTRY_COMPARE_WITH_TIMEOUT(m_model->rowCount(), 2, 2000);
    child<QCheckBox>("trafficCase")->setChecked(true);
    QCOMPARE(m_model->textFilterCaseSensitivity(), Qt::CaseSensitive);
    QCOMPARE(m_model->rowCount(), 0);
    child<QLineEdit>("trafficFilter")->setText(QStringLiteral("Apple"));
    QTRY_COMPARE_WITH_TIMEOUT(m_model->rowCount(), 1, 2000);
    child<QCheckBox>("trafficCase")->setChecked(false);
    QCOMPARE(m_model->rowCount(), 2);
}

void tst_TrafficView::directionFilter()
{
    startServer();
    QVERIFY(runPython({QStringLiteral("one"), QStringLiteral("two"), QStringLiteral("three")}));
    QTRY_COMPARE_WITH_TIMEOUT(rowsOfType(RowType::Closed), 1, kTimeout);
    auto *direction = child<QComboBox>("trafficDirection");
    // Three messages and a close frame each way.
    direction->setCurrentIndex(1);
    QCOMPARE(m_model->directionFilter(), TrafficModel::DirectionFilter::Incoming);
    QCOMPARE(m_model->rowCount(), 4);
    for (int row = 0; row < 4; ++row)
        QCOMPARE(m_model->index(row, TrafficModel::DirectionColumn).data().toString(),
                 QStringLiteral("↓"));
    QCOMPARE(m_model->rowType(3), RowType::Close);
    direction->setCurrentIndex(2);
    QCOMPARE(m_model->rowCount(), 4);
    for (int row = 0; row < 4; ++row)
        QCOMPARE(m_model->index(row, TrafficModel::DirectionColumn).data().toString(),
                 QStringLiteral("↑"));
    direction->setCurrentIndex(0);
    QCOMPARE(m_model->rowCount(), 10);
}

void tst_TrafficView::hideControlFrames()
{
    startServer();
    quint64 id = 0;
    connect(m_server.get(), &sluice::Server::connectionOpened, this,
            [&id](quint64 opened) { id = opened; });
    wstestclient::Client client;
    QVERIFY2(client.open(m_server->serverPort(), QStringLiteral("/echo")),
             qPrintable(client.errorString()));
    QTRY_VERIFY_WITH_TIMEOUT(id != 0, kTimeout);
    client.socket().sendTextMessage(QStringLiteral("data"));
    QVERIFY(client.waitForCount(1));
    // The server pings (the client pongs), then closes with 4000.
    m_server->ping(id, "are you there");
    QTRY_COMPARE_WITH_TIMEOUT(rowsOfType(RowType::Pong), 1, kTimeout);
    m_server->closeConnection(id, 4000, QStringLiteral("bye"));
    QTRY_COMPARE_WITH_TIMEOUT(rowsOfType(RowType::Closed), 1, kTimeout);
    QCOMPARE(rowsOfType(RowType::Ping), 1);
    // The server's close frame, and the client's answer.
    QTRY_COMPARE_WITH_TIMEOUT(rowsOfType(RowType::Close), 2, kTimeout);
    // (Not QWebSocket::closeCode(): 4000 lies outside its enum's range.)
    QTRY_COMPARE(client.socket().state(), QAbstractSocket::UnconnectedState);
    for (int row = 0; row < m_model->rowCount(); ++row) {
        if (m_model->rowType(row) == RowType::Closed)
            QCOMPARE(m_model->event(row).closeCode, 4000);
    }
    const int all = m_model->rowCount();

    QTest::mouseClick(child<QCheckBox>("trafficHideControl"), Qt::LeftButton);
    QVERIFY(m_model->hidesControlFrames());
    QCOMPARE(m_model->rowCount(), all - 4);
    QCOMPARE(rowsOfType(RowType::Ping) + rowsOfType(RowType::Pong) + rowsOfType(RowType::Close), 0);
    QCOMPARE(rowsOfType(RowType::Text), 2);
    QTest::mouseClick(child<QCheckBox>("trafficHideControl"), Qt::LeftButton);
    QCOMPARE(m_model->rowCount(), all);

    // By type: only the control frames, then only the text messages.
    auto *type = child<QComboBox>("trafficType");
    QVERIFY(type);
    type->setCurrentIndex(type->findText(QStringLiteral("Control frames")));
    QCOMPARE(m_model->rowCount(), 4);
    QCOMPARE(rowsOfType(RowType::Ping) + rowsOfType(RowType::Pong) + rowsOfType(RowType::Close), 4);
    type->setCurrentIndex(type->findText(QStringLiteral("Text")));
    QCOMPARE(m_model->rowCount(), 2);
    QCOMPARE(rowsOfType(RowType::Text), 2);
    type->setCurrentIndex(0);
    QCOMPARE(m_model->rowCount(), all);
}

void tst_TrafficView::connectionFilter()
{
    startServer();
    QList<quint64> ids;
    connect(m_server.get(), &sluice::Server::connectionOpened, this,
            [&ids](quint64 opened) { ids.append(opened); });
    wstestclient::Client first;
    wstestclient::Client second;
    QVERIFY(first.open(m_server->serverPort(), QStringLiteral("/echo")));
    QVERIFY(second.open(m_server->serverPort(), QStringLiteral("/echo")));
    QTRY_COMPARE_WITH_TIMEOUT(ids.size(), 2, kTimeout);
    first.socket().sendTextMessage(QStringLiteral("from first"));
    second.socket().sendTextMessage(QStringLiteral("from second"));
    second.socket().sendTextMessage(QStringLiteral("again second"));
    QVERIFY(first.waitForCount(1));
    QVERIFY(second.waitForCount(2));
    QTRY_COMPARE_WITH_TIMEOUT(rowsOfType(RowType::Text), 6, kTimeout);

    const auto onlyConnection = [this](quint64 id) {
        for (int row = 0; row < m_model->rowCount(); ++row) {
            if (connectionAt(m_model.get(), row) != id)
                return false;
        }
        return m_model->rowCount() > 0;
    };
    auto *field = child<QLineEdit>("trafficConnection");
    m_view->setConnectionFilter(ids.at(0));
    QCOMPARE(field->text(), QString::number(ids.at(0)));
    QCOMPARE(m_model->connectionFilter(), ids.at(0));
    QCOMPARE(m_model->rowCount(), 3); // open, in, out
    QVERIFY(onlyConnection(ids.at(0)));

    m_view->setConnectionFilter(0);
    QCOMPARE(field->text(), QString());
    QCOMPARE(m_model->connectionFilter(), quint64(0));
    QCOMPARE(rowsOfType(RowType::Text), 6);

    // Typed by hand: only digits get in, applied after a pause.
    QTest::keyClicks(field, QStringLiteral("x%1y").arg(ids.at(1)));
    QCOMPARE(field->text(), QString::number(ids.at(1)));
    QTRY_COMPARE_WITH_TIMEOUT(m_model->connectionFilter(), ids.at(1), 2000);
    QCOMPARE(m_model->rowCount(), 5); // open, 2 × (in, out)
    QVERIFY(onlyConnection(ids.at(1)));
    field->clear();
    QTRY_COMPARE_WITH_TIMEOUT(m_model->connectionFilter(), quint64(0), 2000);
}

void tst_TrafficView::pauseShowsMissed()
{
    startServer();
    wstestclient::Client client;
    QVERIFY(client.open(m_server->serverPort(), QStringLiteral("/echo")));
    client.socket().sendTextMessage(QStringLiteral("before"));
    QVERIFY(client.waitForCount(1));
    QTRY_COMPARE_WITH_TIMEOUT(rowsOfType(RowType::Text), 2, kTimeout);

    auto *pause = child<QToolButton>("trafficPause");
    auto *missed = child<QLabel>("trafficMissed");
    QTest::mouseClick(pause, Qt::LeftButton);
    QVERIFY(m_model->isPaused());
    QCOMPARE(pause->text(), QStringLiteral("Resume"));
    for (int i = 0; i < 3; ++i)
        client.socket().sendTextMessage(QStringLiteral("while paused %1").arg(i));
    QVERIFY(client.waitForCount(4));
    QTRY_COMPARE_WITH_TIMEOUT(m_model->missedCount(), quint64(6), kTimeout);
    QTRY_VERIFY_WITH_TIMEOUT(missed->isVisibleTo(m_view.get()), 2000);
    QTRY_COMPARE_WITH_TIMEOUT(missed->text(), QStringLiteral("6 missed while paused"), 2000);
    QCOMPARE(rowsOfType(RowType::Text), 2);

    QTest::mouseClick(pause, Qt::LeftButton);
    QVERIFY(!m_model->isPaused());
    QCOMPARE(pause->text(), QStringLiteral("Pause"));
    client.socket().sendTextMessage(QStringLiteral("after"));
    QVERIFY(client.waitForCount(5));
    QTRY_COMPARE_WITH_TIMEOUT(rowsOfType(RowType::Text), 4, kTimeout);

    // Paused from elsewhere (the window's menu): the button follows.
    m_model->setPaused(true);
    QVERIFY(pause->isChecked());
    QCOMPARE(pause->text(), QStringLiteral("Resume"));
}

void tst_TrafficView::clearEmpties()
{
    m_model->addEvents(numbered(10));
    m_model->flush();
    m_model->setPaused(true);
    m_model->addEvents(numbered(2));
    auto *table = child<QTableView>("trafficTable");
    auto *payload = child<PayloadView>("payloadView");
    table->selectRow(3);
    QVERIFY(payload->hasEvent());
    QTRY_VERIFY_WITH_TIMEOUT(child<QLabel>("trafficMissed")->isVisibleTo(m_view.get()), 2000);

    QTest::mouseClick(child<QToolButton>("trafficClear"), Qt::LeftButton);
    QCOMPARE(m_model->rowCount(), 0);
    QCOMPARE(m_model->storedCount(), 0);
    QCOMPARE(m_model->missedCount(), quint64(0));
    QVERIFY(!payload->hasEvent());
    QTRY_COMPARE_WITH_TIMEOUT(child<QLabel>("trafficCount")->text(), QStringLiteral("0 of 0 rows"),
                              2000);
    QTRY_VERIFY_WITH_TIMEOUT(!child<QLabel>("trafficMissed")->isVisibleTo(m_view.get()), 2000);
}

void tst_TrafficView::droppedLabel()
{
    startServer();
    m_model->setCapacity(4);
    auto *dropped = child<QLabel>("trafficDropped");
    QVERIFY(runPython(
            {QStringLiteral("a"), QStringLiteral("b"), QStringLiteral("c"), QStringLiteral("d")}));
    // open + 8 messages + 2 close frames + closed = 12 rows through a ring of 4.
    QTRY_COMPARE_WITH_TIMEOUT(m_model->droppedCount(), quint64(8), kTimeout);
    QCOMPARE(m_model->rowCount(), 4);
    QTRY_COMPARE_WITH_TIMEOUT(dropped->text(), QStringLiteral("8 dropped (cap 4)"), 2000);
    QVERIFY(dropped->isVisibleTo(m_view.get()));
    QCOMPARE(child<QLabel>("trafficCount")->text(), QStringLiteral("4 of 4 rows"));

    const QLocale locale;
    m_model->setCapacity(100000);
    m_model->clear();
    QTRY_VERIFY_WITH_TIMEOUT(!dropped->isVisibleTo(m_view.get()), 2000);
    m_model->setCapacity(1000);
    m_model->addEvents(numbered(3000));
    m_model->flush();
    QTRY_COMPARE_WITH_TIMEOUT(
            dropped->text(),
            QStringLiteral("%1 dropped (cap %2)").arg(locale.toString(2000), locale.toString(1000)),
            2000);
}

void tst_TrafficView::countLabelCoalesced()
{
    auto *count = child<QLabel>("trafficCount");
    QTRY_COMPARE_WITH_TIMEOUT(count->text(), QStringLiteral("0 of 0 rows"), 2000);
    // Many inserts in a row make one label update, after a pause.
    for (int i = 0; i < 50; ++i) {
        m_model->addEvents(numbered(2, quint64(i) * 2 + 1));
        m_model->flush();
    }
    QCOMPARE(m_model->rowCount(), 100);
    QCOMPARE(count->text(), QStringLiteral("0 of 0 rows"));
    QTRY_COMPARE_WITH_TIMEOUT(count->text(), QStringLiteral("100 of 100 rows"), 2000);

    m_view->setConnectionFilter(7);
    QTRY_COMPARE_WITH_TIMEOUT(count->text(), QStringLiteral("1 of 100 rows"), 2000);
}

void tst_TrafficView::followTailAtBottom()
{
    m_view->show();
    QVERIFY(QTest::qWaitForWindowExposed(m_view.get()));
    auto *table = child<QTableView>("trafficTable");
    QScrollBar *bar = table->verticalScrollBar();
    QVERIFY(m_view->followsTail()); // no scroll bar yet

    m_model->addEvents(numbered(500));
    m_model->flush();
    QTRY_VERIFY_WITH_TIMEOUT(bar->maximum() > 0, 2000);
    QTRY_COMPARE_WITH_TIMEOUT(bar->value(), bar->maximum(), 2000);
    QVERIFY(m_view->followsTail());
    const QModelIndex last = m_model->index(499, 0);
    QVERIFY(table->viewport()->rect().intersects(table->visualRect(last)));

    // Through the model's own timer too.
    m_model->addEvents(numbered(300, 1000));
    QTRY_COMPARE_WITH_TIMEOUT(m_model->rowCount(), 800, 2000);
    QTRY_COMPARE_WITH_TIMEOUT(bar->value(), bar->maximum(), 2000);
    QVERIFY(table->viewport()->rect().intersects(table->visualRect(m_model->index(799, 0))));
    QVERIFY(m_view->followsTail());
}

void tst_TrafficView::scrolledUpStays()
{
    m_view->show();
    QVERIFY(QTest::qWaitForWindowExposed(m_view.get()));
    auto *table = child<QTableView>("trafficTable");
    QScrollBar *bar = table->verticalScrollBar();
    m_model->addEvents(numbered(500));
    m_model->flush();
    QTRY_COMPARE_WITH_TIMEOUT(bar->value(), bar->maximum(), 2000);

    // The user scrolls up (the wheel moves the scroll bar).
    bar->triggerAction(QAbstractSlider::SliderPageStepSub);
    bar->triggerAction(QAbstractSlider::SliderPageStepSub);
    QVERIFY(bar->value() < bar->maximum());
    QVERIFY(!m_view->followsTail());
    const int value = bar->value();
    const int topRow = table->rowAt(0);
    const quint64 topConnection = connectionAt(m_model.get(), topRow);

    m_model->addEvents(numbered(300, 1000));
    m_model->flush();
    QTest::qWait(50); // what the table does later, it does in this
    QCOMPARE(bar->value(), value);
    QCOMPARE(connectionAt(m_model.get(), table->rowAt(0)), topConnection);
    QVERIFY(!m_view->followsTail());

    // Back at the bottom, it follows again.
    bar->triggerAction(QAbstractSlider::SliderToMaximum);
    QVERIFY(m_view->followsTail());
    m_model->addEvents(numbered(100, 5000));
    m_model->flush();
    QTRY_COMPARE_WITH_TIMEOUT(bar->value(), bar->maximum(), 2000);
    QCOMPARE(connectionAt(m_model.get(), m_model->rowCount() - 1), quint64(5099));
    QVERIFY(table->viewport()->rect().intersects(
            table->visualRect(m_model->index(m_model->rowCount() - 1, 0))));
}

void tst_TrafficView::scrolledUpKeepsFirstRowWhileDropping()
{
    m_view->show();
    QVERIFY(QTest::qWaitForWindowExposed(m_view.get()));
    auto *table = child<QTableView>("trafficTable");
    QScrollBar *bar = table->verticalScrollBar();
    m_model->setCapacity(500);
    m_model->addEvents(numbered(500));
    m_model->flush();
    QTRY_COMPARE_WITH_TIMEOUT(bar->value(), bar->maximum(), 2000);

    bar->setValue(bar->maximum() / 2);
    QVERIFY(!m_view->followsTail());
    const quint64 topConnection = connectionAt(m_model.get(), table->rowAt(0));

    // 40 new rows push the 40 oldest out of the ring: the rows read stay.
    m_model->addEvents(numbered(40, 1000));
    m_model->flush();
    QCOMPARE(m_model->droppedCount(), quint64(40));
    QTest::qWait(50);
    QCOMPARE(connectionAt(m_model.get(), table->rowAt(0)), topConnection);
    QVERIFY(!m_view->followsTail());

    // At the bottom, dropping keeps it at the bottom.
    bar->setValue(bar->maximum());
    QVERIFY(m_view->followsTail());
    m_model->addEvents(numbered(40, 2000));
    m_model->flush();
    QTRY_COMPARE_WITH_TIMEOUT(bar->value(), bar->maximum(), 2000);
    QVERIFY(table->viewport()->rect().intersects(
            table->visualRect(m_model->index(m_model->rowCount() - 1, 0))));
}

void tst_TrafficView::underLoad()
{
    // 200 000 rows through a ring of 20 000 in batches of 2 000, following
    // the tail, a row selected: bounded work per batch, the detail kept.
    auto *table = child<QTableView>("trafficTable");
    m_model->setCapacity(20000);
    m_model->addEvents(numbered(2000, 1));
    m_model->flush();
    table->selectRow(1999);
    QCOMPARE(child<PayloadView>("payloadView")->event().connectionId, quint64(2000));
    QElapsedTimer timer;
    timer.start();
    for (int batch = 1; batch < 100; ++batch) {
        m_model->addEvents(numbered(2000, quint64(batch) * 2000 + 1));
        m_model->flush();
        QCoreApplication::processEvents();
    }
    const qint64 elapsed = timer.elapsed();
    qInfo("198 000 rows in 99 batches through the view in %lld ms", elapsed);
    QVERIFY2(elapsed < 20000, qPrintable(QString::number(elapsed)));
    QCOMPARE(m_model->rowCount(), 20000);
    QCOMPARE(m_model->droppedCount(), quint64(180000));
    QVERIFY(m_view->followsTail());
    QScrollBar *bar = table->verticalScrollBar();
    QTRY_COMPARE_WITH_TIMEOUT(bar->value(), bar->maximum(), 2000);
    QCOMPARE(child<PayloadView>("payloadView")->event().connectionId, quint64(2000));
    QTRY_COMPARE_WITH_TIMEOUT(child<QLabel>("trafficCount")->text(),
                              QStringLiteral("%1 of %1 rows").arg(QLocale().toString(20000)), 2000);
}

void tst_TrafficView::exportHar()
{
    startServer();
    QVERIFY(runPython({QStringLiteral("first message"), QStringLiteral("second message")}));
    QTRY_COMPARE_WITH_TIMEOUT(rowsOfType(RowType::Closed), 1, kTimeout);

    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString fileName = dir.filePath(QStringLiteral("traffic.har"));
    QString error = QStringLiteral("stale");
    QVERIFY2(m_view->exportTo(fileName, TrafficView::ExportFormat::Har, &error), qPrintable(error));
    QVERIFY(error.isEmpty());
    QFile file(fileName);
    QVERIFY(file.open(QIODevice::ReadOnly));
    QJsonParseError parseError;
    const QJsonDocument document = QJsonDocument::fromJson(file.readAll(), &parseError);
    QCOMPARE(parseError.error, QJsonParseError::NoError);
    const QJsonArray entries = document.object()
                                       .value(QStringLiteral("log"))
                                       .toObject()
                                       .value(QStringLiteral("entries"))
                                       .toArray();
    QJsonArray messages;
    for (const QJsonValue &entry : entries) {
        const QJsonObject object = entry.toObject();
        if (object.contains(QStringLiteral("_webSocketMessages")))
            messages = object.value(QStringLiteral("_webSocketMessages")).toArray();
    }
    // The messages, then the client's close frame and the server's answer.
    QCOMPARE(messages.size(), 6);
    QStringList data;
    QStringList types;
    QList<int> opcodes;
    for (const QJsonValue &message : messages) {
        data.append(message.toObject().value(QStringLiteral("data")).toString());
        types.append(message.toObject().value(QStringLiteral("type")).toString());
        opcodes.append(message.toObject().value(QStringLiteral("opcode")).toInt());
    }
    QCOMPARE(data, (QStringList {QStringLiteral("first message"), QStringLiteral("first message"),
                                 QStringLiteral("second message"), QStringLiteral("second message"),
                                 QString(), QString()}));
    // HAR speaks for the client: what it sent is "send".
    QCOMPARE(types, (QStringList {QStringLiteral("send"), QStringLiteral("receive"),
                                  QStringLiteral("send"), QStringLiteral("receive"),
                                  QStringLiteral("send"), QStringLiteral("receive")}));
    QCOMPARE(opcodes, (QList<int> {1, 1, 1, 1, 8, 8}));
}

void tst_TrafficView::exportJsonLines()
{
    startServer();
    QVERIFY(runPython({QStringLiteral("alpha"), QStringLiteral("beta")}));
    QTRY_COMPARE_WITH_TIMEOUT(rowsOfType(RowType::Closed), 1, kTimeout);
    // Only the visible rows go out: what came in, control frames hidden.
    child<QComboBox>("trafficDirection")->setCurrentIndex(1);
    QTest::mouseClick(child<QCheckBox>("trafficHideControl"), Qt::LeftButton);
    QCOMPARE(m_model->rowCount(), 2);

    QTemporaryDir dir;
    const QString fileName = dir.filePath(QStringLiteral("traffic.jsonl"));
    QString error;
    QVERIFY2(m_view->exportTo(fileName, TrafficView::ExportFormat::JsonLines, &error),
             qPrintable(error));
    QFile file(fileName);
    QVERIFY(file.open(QIODevice::ReadOnly));
    const QList<QByteArray> lines = file.readAll().trimmed().split('\n');
    QCOMPARE(lines.size(), 2);
    QStringList payloads;
    for (const QByteArray &line : lines) {
        QJsonParseError parseError;
        const QJsonDocument document = QJsonDocument::fromJson(line, &parseError);
        QCOMPARE(parseError.error, QJsonParseError::NoError);
        QVERIFY(document.isObject());
        QCOMPARE(document.object().value(QStringLiteral("direction")).toString(),
                 QStringLiteral("in"));
        payloads.append(document.object().value(QStringLiteral("payload")).toString());
    }
    QCOMPARE(payloads, (QStringList {QStringLiteral("alpha"), QStringLiteral("beta")}));
}

void tst_TrafficView::exportFailures()
{
    m_model->addEvents(numbered(3));
    m_model->flush();
    QTemporaryDir dir;
    QVERIFY(dir.isValid());

    // A folder that does not exist.
    const QString missing = dir.filePath(QStringLiteral("no/such/folder/traffic.har"));
    QString error;
    QVERIFY(!m_view->exportTo(missing, TrafficView::ExportFormat::Har, &error));
    QVERIFY2(error.contains(QDir::toNativeSeparators(missing)), qPrintable(error));
    QVERIFY(!QFile::exists(missing));

    // A name that is a folder.
    const QString folder = dir.filePath(QStringLiteral("folder"));
    QVERIFY(QDir(dir.path()).mkdir(QStringLiteral("folder")));
    error.clear();
    QVERIFY(!m_view->exportTo(folder, TrafficView::ExportFormat::JsonLines, &error));
    QVERIFY2(error.contains(QDir::toNativeSeparators(folder)), qPrintable(error));
    QVERIFY(QFileInfo(folder).isDir());

    // No name at all.
    error.clear();
    QVERIFY(!m_view->exportTo(QString(), TrafficView::ExportFormat::Har, &error));
    QVERIFY(!error.isEmpty());

    // Nothing but the folder was left behind.
    QCOMPARE(QDir(dir.path()).entryList(QDir::NoDotAndDotDot | QDir::AllEntries),
             QStringList {QStringLiteral("folder")});
    QVERIFY(m_view->exportTo(dir.filePath(QStringLiteral("ok.jsonl")),
                             TrafficView::ExportFormat::JsonLines));
}

void tst_TrafficView::saveRestoreState()
{
    m_view->show();
    QVERIFY(QTest::qWaitForWindowExposed(m_view.get()));
    auto *header = child<QTableView>("trafficTable")->horizontalHeader();
    header->resizeSection(TrafficModel::TypeColumn, 137);
    header->moveSection(TrafficModel::SizeColumn, TrafficModel::ConnectionColumn);
    auto *splitter = child<QSplitter>("trafficSplitter");
    splitter->setSizes({200, 300});
    const QList<int> sizes = splitter->sizes();
    child<QCheckBox>("trafficRegex")->setChecked(true);
    child<QCheckBox>("trafficCase")->setChecked(true);
    child<QComboBox>("trafficDirection")->setCurrentIndex(2);
    child<QCheckBox>("trafficHideControl")->setChecked(true);
    child<QComboBox>("trafficType")->setCurrentIndex(4);
    child<QLineEdit>("trafficFilter")->setText(QStringLiteral("not kept"));
    const QByteArray state = m_view->saveState();
    QVERIFY(!state.isEmpty());

    makeView();
    m_view->show();
    QVERIFY(QTest::qWaitForWindowExposed(m_view.get()));
    QVERIFY(m_view->restoreState(state));
    header = child<QTableView>("trafficTable")->horizontalHeader();
    QCOMPARE(header->sectionSize(TrafficModel::TypeColumn), 137);
    QCOMPARE(header->visualIndex(TrafficModel::SizeColumn), int(TrafficModel::ConnectionColumn));
    QCOMPARE(child<QSplitter>("trafficSplitter")->sizes(), sizes);
    QVERIFY(child<QCheckBox>("trafficRegex")->isChecked());
    QVERIFY(child<QCheckBox>("trafficCase")->isChecked());
    QCOMPARE(child<QComboBox>("trafficDirection")->currentIndex(), 2);
    QCOMPARE(child<QComboBox>("trafficType")->currentIndex(), 4);
    QCOMPARE(m_model->typeFilter(), QList<RowType> {RowType::Http});
    QVERIFY(child<QCheckBox>("trafficHideControl")->isChecked());
    QCOMPARE(child<QLineEdit>("trafficFilter")->text(), QString());
    // And the model filters as the controls say.
    QVERIFY(m_model->isTextFilterRegex());
    QCOMPARE(m_model->textFilterCaseSensitivity(), Qt::CaseSensitive);
    QCOMPARE(m_model->directionFilter(), TrafficModel::DirectionFilter::Outgoing);
    QVERIFY(m_model->hidesControlFrames());
    QCOMPARE(m_view->saveState(), state);
}

void tst_TrafficView::restoreGarbage()
{
    child<QCheckBox>("trafficRegex")->setChecked(true);
    child<QComboBox>("trafficDirection")->setCurrentIndex(1);
    auto *header = child<QTableView>("trafficTable")->horizontalHeader();
    header->resizeSection(TrafficModel::TypeColumn, 91);
    const QByteArray before = m_view->saveState();

    QVERIFY(!m_view->restoreState(QByteArray()));
    QVERIFY(!m_view->restoreState(QByteArray("garbage, not a state")));
    QVERIFY(!m_view->restoreState(before.left(before.size() - 3)));
    QVERIFY(!m_view->restoreState(before + "trailing"));
    QByteArray otherVersion = before;
    otherVersion[4] = char(99); // the version byte, after the magic
    QVERIFY(!m_view->restoreState(otherVersion));
    QByteArray badHeader = before;
    badHeader[12] = char(badHeader[12] ^ 0x5a); // inside the header's blob
    QVERIFY(!m_view->restoreState(badHeader));

    QCOMPARE(m_view->saveState(), before);
    QVERIFY(child<QCheckBox>("trafficRegex")->isChecked());
    QCOMPARE(child<QComboBox>("trafficDirection")->currentIndex(), 1);
    QCOMPARE(header->sectionSize(TrafficModel::TypeColumn), 91);
}

QTEST_MAIN(tst_TrafficView)
#include "tst_trafficview.moc"
