// The minimal window against a real server on loopback: it shows where the
// server listens and follows its connection count.

#include "testclient.h"

#include <sluice/httpconnect.h>
#include <sluice/server.h>
#include <sluiceui/mainwindow.h>

#include <QtTest/QtTest>
#include <QtWidgets/QLabel>

class tst_MainWindow : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void showsAddressesAndConnections();
    void notListening();
};

void tst_MainWindow::showsAddressesAndConnections()
{
    sluice::Server server;
    server.map(QStringLiteral("/x"), [](sluice::HttpConnect &c) { c.response().write("x"); });
    QVERIFY(server.listen(QHostAddress::LocalHost, 0));
    sluice::MainWindow window(&server);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));

    auto *addresses = window.findChild<QLabel *>(QStringLiteral("addresses"));
    auto *connections = window.findChild<QLabel *>(QStringLiteral("connections"));
    QVERIFY(addresses && connections);
    const QString url = QStringLiteral("http://127.0.0.1:%1/").arg(server.serverPort());
    QVERIFY2(addresses->text().contains(url), qPrintable(addresses->text()));
    QCOMPARE(connections->text(), QStringLiteral("0"));

    testclient::Client client;
    QVERIFY(client.connectTo(server.serverPort()));
    QCOMPARE(client.get("/x").body, "x");
    QTRY_COMPARE(connections->text(), QStringLiteral("1"));
    client.abort();
    QTRY_COMPARE(connections->text(), QStringLiteral("0"));
}

void tst_MainWindow::notListening()
{
    sluice::Server server;
    sluice::MainWindow window(&server);
    auto *addresses = window.findChild<QLabel *>(QStringLiteral("addresses"));
    QVERIFY(addresses);
    QCOMPARE(addresses->text(), QStringLiteral("not listening"));
    QVERIFY(server.listen(QHostAddress::LocalHost, 0));
    window.refresh();
    QVERIFY(addresses->text().contains(QString::number(server.serverPort())));
}

QTEST_MAIN(tst_MainWindow)
#include "tst_mainwindow.moc"
