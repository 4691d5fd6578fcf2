// The monitor window driven as a user drives it, against a real server on
// loopback and clients we did not write (Debian's python3-websockets, curl).

#include <sluice/handlers.h>
#include <sluice/monitor.h>
#include <sluice/server.h>
#include <sluice/serverthread.h>
#include <sluiceui/connectionmodel.h>
#include <sluiceui/connectionsview.h>
#include <sluiceui/logview.h>
#include <sluiceui/monitorwindow.h>
#include <sluiceui/routemodel.h>
#include <sluiceui/statshistory.h>
#include <sluiceui/trafficmodel.h>
#include <sluiceui/trafficview.h>

#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QProcess>
#include <QtCore/QSettings>
#include <QtCore/QStandardPaths>
#include <QtCore/QTemporaryDir>
#include <QtTest/QtTest>
#include <QtWidgets/QApplication>
#include <QtWidgets/QCheckBox>
#include <QtWidgets/QDialog>
#include <QtWidgets/QLabel>
#include <QtWidgets/QLineEdit>
#include <QtWidgets/QPlainTextEdit>
#include <QtWidgets/QSpinBox>
#include <QtWidgets/QTabWidget>
#include <QtWidgets/QTableView>
#include <QtWidgets/QToolButton>

#include <memory>
#include <thread>

using namespace sluice;

namespace {

const QString kPython = QStringLiteral("/usr/bin/python3");

// Opens, sends each argument after the URL, prints each echo, then waits for
// the server to close and prints the close code and reason.
const char *const kClient = R"(
import asyncio, sys
import websockets

async def main(url, *messages):
    async with websockets.connect(url, open_timeout=10, ping_interval=None) as ws:
        for message in messages:
            await ws.send(message)
            print('echo', await asyncio.wait_for(ws.recv(), 10), flush=True)
        try:
            await asyncio.wait_for(ws.recv(), 30)
        except websockets.exceptions.ConnectionClosed:
            pass
        print('closed', ws.close_code, ws.close_reason, flush=True)

asyncio.run(main(*sys.argv[1:]))
)";

int curlStatus(const QUrl &url)
{
    QProcess curl;
    curl.start(QStringLiteral("curl"),
               {QStringLiteral("-s"), QStringLiteral("-o"), QStringLiteral("/dev/null"),
                QStringLiteral("-w"), QStringLiteral("%{http_code}"), QStringLiteral("--max-time"),
                QStringLiteral("10"), url.toString()});
    if (!curl.waitForFinished(15000) || curl.exitCode() != 0)
        return -curl.exitCode();
    return curl.readAllStandardOutput().toInt();
}

} // namespace

class tst_MonitorWindow : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void init();
    void cleanup();

    void tabsAndRoutes();
    void webSocketClientShowsInConnectionsAndTraffic();
    void filterHidesAndShowsRows();
    void closingFromTheUiReachesTheClient();
    void exportHarHoldsTheMessages();
    void stopAndStartFromTheStrip();
    void logTakesLinesFromAnyThread();
    void layoutAndPreferencesAreKept();

private:
    QUrl url(const QString &path, const QString &scheme = QStringLiteral("http")) const;
    QProcess *startClient(const QStringList &messages);
    template<typename T>
    T *child(const char *name) const
    {
        T *widget = m_window->findChild<T *>(QLatin1String(name));
        if (!widget)
            qWarning("no %s named %s", T::staticMetaObject.className(), name);
        return widget;
    }

    std::unique_ptr<ServerThread> m_server;
    std::unique_ptr<MonitorWindow> m_window;
    std::vector<std::unique_ptr<QProcess>> m_clients;
    QTemporaryDir m_dir;
};

void tst_MonitorWindow::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName(QStringLiteral("SluiceTests"));
    QCoreApplication::setApplicationName(QStringLiteral("tst_monitorwindow"));
    QSettings().clear();
    if (!QFileInfo::exists(kPython))
        QSKIP("/usr/bin/python3 is not installed");
}

void tst_MonitorWindow::init()
{
    m_server = std::make_unique<ServerThread>();
    m_server->server()->map(QStringLiteral("ws:/echo"), handlers::echo());
    m_server->server()->map(QStringLiteral("get:/hello"), handlers::hello());
    QVERIFY(m_server->listen(QHostAddress::LocalHost, 0));
    m_window = std::make_unique<MonitorWindow>(m_server.get());
    m_window->show();
    QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
}

void tst_MonitorWindow::cleanup()
{
    m_window.reset();
    m_server.reset();
    for (auto &client : m_clients) {
        if (!client->waitForFinished(10000))
            client->kill();
    }
    m_clients.clear();
}

QUrl tst_MonitorWindow::url(const QString &path, const QString &scheme) const
{
    QUrl url = m_server->urls().value(0);
    url.setScheme(scheme);
    url.setPath(path);
    return url;
}

QProcess *tst_MonitorWindow::startClient(const QStringList &messages)
{
    auto client = std::make_unique<QProcess>();
    client->setProcessChannelMode(QProcess::ForwardedErrorChannel);
    client->start(kPython,
                  QStringList {QStringLiteral("-c"), QString::fromLatin1(kClient),
                               url(QStringLiteral("/echo"), QStringLiteral("ws")).toString()}
                          + messages);
    m_clients.push_back(std::move(client));
    return m_clients.back().get();
}

void tst_MonitorWindow::tabsAndRoutes()
{
    QTabWidget *tabs = m_window->tabs();
    QStringList titles;
    for (int i = 0; i < tabs->count(); ++i)
        titles.append(tabs->tabText(i).remove(u'&'));
    QCOMPARE(titles, (QStringList {QStringLiteral("Traffic"), QStringLiteral("Connections"),
                                   QStringLiteral("Routes"), QStringLiteral("Stats"),
                                   QStringLiteral("Log")}));

    auto *routes = child<QTableView>("routeTable");
    QVERIFY(routes);
    QCOMPARE(routes->model(), m_window->routeModel());
    const auto patternRow = [&](const QString &pattern) {
        return m_window->routeModel()->rowOf(RouteModel::RowType::Route, pattern);
    };
    QVERIFY(patternRow(QStringLiteral("ws:/echo")) >= 0);
    QVERIFY(patternRow(QStringLiteral("get:/hello")) >= 0);

    // A route mapped while the window is open shows up, and counts its hits.
    m_server->server()->map(QStringLiteral("get:/later"), handlers::hello());
    QTRY_VERIFY_WITH_TIMEOUT(patternRow(QStringLiteral("get:/later")) >= 0, 5000);
    QCOMPARE(curlStatus(url(QStringLiteral("/later"))), 200);
    QTRY_COMPARE_WITH_TIMEOUT(
            m_window->routeModel()
                    ->index(patternRow(QStringLiteral("get:/later")), RouteModel::HitsColumn)
                    .data()
                    .toLongLong(),
            1, 5000);

    auto *addresses = child<QLabel>("serverAddresses");
    QVERIFY(addresses);
    QVERIFY2(addresses->text().contains(QString::number(url(QString()).port())),
             qPrintable(addresses->text()));
    QCOMPARE(child<QLabel>("serverState")->text(), QStringLiteral("Listening on"));
}

void tst_MonitorWindow::webSocketClientShowsInConnectionsAndTraffic()
{
    QProcess *client = startClient({QStringLiteral("hello world")});
    QTRY_VERIFY_WITH_TIMEOUT(client->canReadLine(), 15000);
    QCOMPARE(client->readLine().trimmed(), QByteArray("echo hello world"));

    // The connections table shows it, as a WebSocket on the echo route.
    auto *table = child<QTableView>("connectionTable");
    QVERIFY(table);
    QTRY_COMPARE_WITH_TIMEOUT(table->model()->rowCount(), 1, 5000);
    ConnectionModel *connections = m_window->connectionModel();
    QCOMPARE(connections->index(0, ConnectionModel::KindColumn)
                     .data(ConnectionModel::KindRole)
                     .toInt(),
             int(ConnectionModel::Kind::WebSocket));
    QCOMPARE(connections->index(0, ConnectionModel::RouteColumn).data().toString(),
             QStringLiteral("ws:/echo"));

    // Traffic: the message in, its echo out, 11 bytes each.
    TrafficModel *traffic = m_window->trafficModel();
    const auto rowsOf = [traffic](TrafficModel::RowType type) {
        QList<int> rows;
        for (int row = 0; row < traffic->rowCount(); ++row) {
            if (traffic->rowType(row) == type)
                rows.append(row);
        }
        return rows;
    };
    QTRY_COMPARE_WITH_TIMEOUT(rowsOf(TrafficModel::RowType::Text).size(), 2, 5000);
    const QList<int> text = rowsOf(TrafficModel::RowType::Text);
    QCOMPARE(traffic->index(text.at(0), TrafficModel::DirectionColumn)
                     .data(TrafficModel::DirectionRole)
                     .toInt(),
             int(MonitorEvent::Direction::Incoming));
    QCOMPARE(traffic->index(text.at(1), TrafficModel::DirectionColumn)
                     .data(TrafficModel::DirectionRole)
                     .toInt(),
             int(MonitorEvent::Direction::Outgoing));
    for (int row : text) {
        QCOMPARE(traffic->index(row, TrafficModel::SizeColumn).data().toLongLong(), 11);
        QCOMPARE(traffic->index(row, TrafficModel::PreviewColumn)
                         .data(TrafficModel::PayloadRole)
                         .toByteArray(),
                 QByteArray("hello world"));
    }
    QCOMPARE(rowsOf(TrafficModel::RowType::Open).size(), 1);
    auto *trafficTable = child<QTableView>("trafficTable");
    QVERIFY(trafficTable);
    QCOMPARE(trafficTable->model()->rowCount(), traffic->rowCount());

    // The totals in the strip count the messages.
    QTRY_VERIFY_WITH_TIMEOUT(
            child<QLabel>("serverTotals")->text().contains(QStringLiteral("2 messages")), 5000);
    m_server->call([](Server &server) { server.close(); });
}

void tst_MonitorWindow::filterHidesAndShowsRows()
{
    QProcess *client = startClient(
            {QStringLiteral("alpha"), QStringLiteral("beta"), QStringLiteral("{\"gamma\": 3}")});
    Q_UNUSED(client);
    TrafficModel *traffic = m_window->trafficModel();
    QTRY_COMPARE_WITH_TIMEOUT(traffic->rowCount(), 7, 15000); // open + 3 × (in, out)

    auto *filter = child<QLineEdit>("trafficFilter");
    QVERIFY(filter);
    QTest::keyClicks(filter, QStringLiteral("beta"));
    QTRY_COMPARE_WITH_TIMEOUT(traffic->rowCount(), 2, 5000);
    QCOMPARE(child<QTableView>("trafficTable")->model()->rowCount(), 2);

    filter->clear();
    QTRY_COMPARE_WITH_TIMEOUT(traffic->rowCount(), 7, 5000);

    // A regex over the whole payload.
    child<QCheckBox>("trafficRegex")->setChecked(true);
    QTest::keyClicks(filter, QStringLiteral("^(alpha|\\{)"));
    QTRY_COMPARE_WITH_TIMEOUT(traffic->rowCount(), 4, 5000);
    filter->clear();
    child<QCheckBox>("trafficRegex")->setChecked(false);
    QTRY_COMPARE_WITH_TIMEOUT(traffic->rowCount(), 7, 5000);
    m_server->call([](Server &server) { server.close(); });
}

void tst_MonitorWindow::closingFromTheUiReachesTheClient()
{
    QProcess *client = startClient({QStringLiteral("ping me")});
    QTRY_VERIFY_WITH_TIMEOUT(client->canReadLine(), 15000);
    QCOMPARE(client->readLine().trimmed(), QByteArray("echo ping me"));
    QTRY_COMPARE_WITH_TIMEOUT(m_window->connectionModel()->rowCount(), 1, 5000);
    const quint64 id = m_window->connectionModel()->connectionId(0);

    // Show traffic: the traffic tab, filtered on that connection.
    m_window->tabs()->setCurrentWidget(m_window->connectionsView());
    m_window->connectionsView()->selectConnection(id);
    QCOMPARE(m_window->connectionsView()->selectedConnection(), id);
    auto *showTraffic = child<QToolButton>("connectionTraffic");
    QVERIFY(showTraffic);
    QTest::mouseClick(showTraffic, Qt::LeftButton);
    QCOMPARE(m_window->tabs()->currentWidget(), m_window->trafficView());
    QCOMPARE(m_window->trafficModel()->connectionFilter(), id);
    QCOMPARE(child<QLineEdit>("trafficConnection")->text(), QString::number(id));

    m_window->tabs()->setCurrentWidget(m_window->connectionsView());
    auto *closeButton = child<QToolButton>("connectionClose");
    QVERIFY(closeButton);
    QTRY_VERIFY(closeButton->isEnabled());
    QTest::mouseClick(closeButton, Qt::LeftButton);

    QDialog *dialog = nullptr;
    QTRY_VERIFY_WITH_TIMEOUT(
            (dialog = m_window->findChild<QDialog *>(QStringLiteral("closeDialog")))
                    && dialog->isVisible(),
            5000);
    auto *code = dialog->findChild<QSpinBox *>(QStringLiteral("closeCode"));
    auto *reason = dialog->findChild<QLineEdit *>(QStringLiteral("closeReason"));
    QVERIFY(code && reason);
    code->setValue(4002);
    reason->setText(QStringLiteral("closed from the window"));
    dialog->accept();

    QVERIFY(client->waitForFinished(15000));
    QCOMPARE(client->readAllStandardOutput().trimmed(),
             QByteArray("closed 4002 closed from the window"));
    QTRY_COMPARE_WITH_TIMEOUT(m_window->connectionModel()->rowCount(), 0, 5000);
}

void tst_MonitorWindow::exportHarHoldsTheMessages()
{
    QCOMPARE(curlStatus(url(QStringLiteral("/hello"))), 200);
    QProcess *client = startClient({QStringLiteral("first"), QStringLiteral("second")});
    QTRY_COMPARE_WITH_TIMEOUT(m_window->trafficModel()->rowCount(), 6, 15000); // http, open, 4
    m_server->call([](Server &server) { server.close(); });
    QVERIFY(client->waitForFinished(15000));

    const QString file = m_dir.filePath(QStringLiteral("traffic.har"));
    QString error;
    QVERIFY2(m_window->trafficView()->exportTo(file, TrafficView::ExportFormat::Har, &error),
             qPrintable(error));
    QFile har(file);
    QVERIFY(har.open(QIODevice::ReadOnly));
    QJsonParseError parseError;
    const QJsonDocument document = QJsonDocument::fromJson(har.readAll(), &parseError);
    QCOMPARE(parseError.error, QJsonParseError::NoError);
    const QJsonArray entries = document.object()[u"log"_qs][u"entries"_qs].toArray();
    QJsonArray messages;
    bool sawHello = false;
    for (const QJsonValue &entry : entries) {
        if (entry[u"request"_qs][u"url"_qs].toString().endsWith(u"/hello"))
            sawHello = true;
        if (entry[u"_resourceType"_qs] == u"websocket"_qs)
            messages = entry[u"_webSocketMessages"_qs].toArray();
    }
    QVERIFY(sawHello);
    QStringList seen;
    for (const QJsonValue &message : messages)
        seen.append(message[u"type"_qs].toString() + u' ' + message[u"data"_qs].toString());
    QCOMPARE(seen, (QStringList {QStringLiteral("send first"), QStringLiteral("receive first"),
                                 QStringLiteral("send second"), QStringLiteral("receive second")}));
}

void tst_MonitorWindow::stopAndStartFromTheStrip()
{
    const QUrl hello = url(QStringLiteral("/hello"));
    QCOMPARE(curlStatus(hello), 200);
    auto *button = child<QToolButton>("serverStartStop");
    QVERIFY(button);
    QCOMPARE(button->text(), QStringLiteral("Stop"));
    QTest::mouseClick(button, Qt::LeftButton);
    QTRY_COMPARE_WITH_TIMEOUT(button->text(), QStringLiteral("Start"), 5000);
    QCOMPARE(child<QLabel>("serverState")->text(), QStringLiteral("Stopped"));
    QCOMPARE(curlStatus(hello), -7); // curl: could not connect
    QTest::mouseClick(button, Qt::LeftButton);
    QTRY_COMPARE_WITH_TIMEOUT(button->text(), QStringLiteral("Stop"), 5000);
    QCOMPARE(curlStatus(hello), 200);
    QVERIFY(child<QLabel>("serverUptime")->text().startsWith(QStringLiteral("up ")));
}

void tst_MonitorWindow::logTakesLinesFromAnyThread()
{
    std::thread writer([this] {
        for (int i = 0; i < 100; ++i)
            m_window->appendLog(QStringLiteral("line %1 from a thread").arg(i));
    });
    writer.join();
    auto *text = child<QPlainTextEdit>("logText");
    QVERIFY(text);
    QTRY_VERIFY_WITH_TIMEOUT(text->toPlainText().contains(QStringLiteral("line 99 from a thread")),
                             5000);
    QVERIFY(text->toPlainText().contains(QStringLiteral("line 0 from a thread")));
}

void tst_MonitorWindow::layoutAndPreferencesAreKept()
{
    m_window->tabs()->setCurrentIndex(3);
    m_window->trafficModel()->setCapacity(5000);
    m_window->resize(900, 600);
    m_window->close();
    m_window.reset();

    m_window = std::make_unique<MonitorWindow>(m_server.get());
    QCOMPARE(m_window->tabs()->currentIndex(), 3);
    QCOMPARE(m_window->trafficModel()->capacity(), 5000);
    QCOMPARE(m_window->size(), QSize(900, 600));
    m_window->close();
    QSettings().clear();
}

QTEST_MAIN(tst_MonitorWindow)
#include "tst_monitorwindow.moc"
