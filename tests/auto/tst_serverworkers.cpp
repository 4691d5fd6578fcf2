// Server's worker threads, from the outside: connections spread over them,
// handlers run on their connection's thread, ids and caps hold server-wide.

#include "testclient.h"
#include "wstestclient.h"

#include <sluice/httpconnect.h>
#include <sluice/monitor.h>
#include <sluice/server.h>
#include <sluice/websocket.h>

#include <QtCore/QMutex>
#include <QtCore/QThread>
#include <QtTest/QSignalSpy>
#include <QtTest/QtTest>

#include <memory>
#include <thread>
#include <vector>

using sluice::HttpConnect;

namespace {

constexpr int kTimeout = 10000;

QByteArray threadTag()
{
    return QByteArray::number(quintptr(QThread::currentThread()), 16);
}

} // namespace

class tst_ServerWorkers : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void defaultIsOnePerCore();
    void countChangesOnlyWhileIdle();
    void connectionsSpreadAndStay();
    void actOnConnectionsOnEveryWorker();
    void shutdownReachesEveryWorker();
    void capsHoldAcrossWorkers();
    void monitorSeesEveryWorker();
    void stopAndStartAgain();
};

void tst_ServerWorkers::defaultIsOnePerCore()
{
    sluice::Server server;
    QCOMPARE(server.workerCount(), QThread::idealThreadCount());
}

void tst_ServerWorkers::countChangesOnlyWhileIdle()
{
    sluice::Server server;
    QVERIFY(server.setWorkerCount(3));
    QCOMPARE(server.workerCount(), 3);
    QVERIFY(server.listen(QHostAddress::LocalHost, 0));
    QVERIFY(!server.setWorkerCount(2));
    QVERIFY(!server.errorString().isEmpty());
    QCOMPARE(server.workerCount(), 3);
    server.close();
    QVERIFY(server.setWorkerCount(2));
    QCOMPARE(server.workerCount(), 2);
    QVERIFY(server.setWorkerCount(0));
    QCOMPARE(server.workerCount(), QThread::idealThreadCount());
}

// Eight keep-alive clients on four workers: two each, and each client's
// requests all handled on one thread.
void tst_ServerWorkers::connectionsSpreadAndStay()
{
    sluice::Server server;
    QVERIFY(server.setWorkerCount(4));
    QVERIFY(server.map(QStringLiteral("/thread"),
                       [](HttpConnect &c) { c.response().end(threadTag()); }));
    QVERIFY(server.listen(QHostAddress::LocalHost, 0));

    std::vector<std::unique_ptr<testclient::Client>> clients;
    for (int i = 0; i < 8; ++i) {
        clients.push_back(std::make_unique<testclient::Client>());
        QVERIFY(clients.back()->connectTo(server.serverPort()));
    }
    QTRY_COMPARE_WITH_TIMEOUT(server.connectionCount(), 8, kTimeout);

    QHash<QByteArray, int> clientsPerThread;
    for (auto &client : clients) {
        QByteArray first;
        for (int request = 0; request < 3; ++request) {
            const testclient::Response response = client->get("/thread");
            QCOMPARE(response.status, 200);
            if (request == 0)
                first = response.body;
            QCOMPARE(response.body, first);
        }
        ++clientsPerThread[first];
    }
    QCOMPARE(clientsPerThread.size(), 4);
    for (const int count : std::as_const(clientsPerThread))
        QCOMPARE(count, 2);
    // Worker 0 is the server's own thread.
    QVERIFY(clientsPerThread.contains(threadTag()));

    clients.clear();
    QTRY_COMPARE_WITH_TIMEOUT(server.connectionCount(), 0, kTimeout);
}

// closeConnection(), sendText() and ping() find the connection's worker from
// its id, whichever thread calls them.
void tst_ServerWorkers::actOnConnectionsOnEveryWorker()
{
    sluice::Server server;
    QVERIFY(server.setWorkerCount(3));
    QMutex mutex;
    QList<quint64> ids;
    QSet<QByteArray> threads;
    QVERIFY(server.map(QStringLiteral("ws:/hold"), [&](sluice::WebSocket *socket) {
        QMutexLocker locker(&mutex);
        ids.append(socket->id());
        threads.insert(threadTag());
        socket->sendText(QString::number(socket->id()));
    }));
    QVERIFY(server.listen(QHostAddress::LocalHost, 0));

    std::vector<std::unique_ptr<wstestclient::Client>> clients;
    for (int i = 0; i < 6; ++i) {
        clients.push_back(std::make_unique<wstestclient::Client>());
        QVERIFY(clients.back()->open(server.serverPort(), QStringLiteral("/hold")));
        QVERIFY(clients.back()->waitForCount(1));
    }
    {
        QMutexLocker locker(&mutex);
        QCOMPARE(ids.size(), 6);
        QCOMPARE(threads.size(), 3);
    }
    QCOMPARE(server.connectionCount(), 6);

    // From another thread than the server's, as a window would.
    std::thread([&] {
        for (auto &client : clients) {
            const quint64 id = client->received().constFirst().text.toULongLong();
            server.sendText(id, QStringLiteral("for %1").arg(id));
        }
    }).join();
    for (auto &client : clients) {
        QVERIFY(client->waitForCount(2));
        const quint64 id = client->received().constFirst().text.toULongLong();
        QCOMPARE(client->received().at(1).text, QStringLiteral("for %1").arg(id));
    }
    for (auto &client : clients) {
        const quint64 id = client->received().constFirst().text.toULongLong();
        server.closeConnection(id, 4001, QStringLiteral("bye %1").arg(id));
    }
    for (auto &client : clients) {
        const quint64 id = client->received().constFirst().text.toULongLong();
        QTRY_COMPARE_WITH_TIMEOUT(client->socket().state(), QAbstractSocket::UnconnectedState,
                                  kTimeout);
        QCOMPARE(int(client->socket().closeCode()), 4001);
        QCOMPARE(client->socket().closeReason(), QStringLiteral("bye %1").arg(id));
        QCOMPARE(client->received().size(), 2);
    }
    QTRY_COMPARE_WITH_TIMEOUT(server.connectionCount(), 0, kTimeout);
    // An id nobody has is left alone.
    server.closeConnection(999999);
    server.sendText(999999, QStringLiteral("nobody"));
}

void tst_ServerWorkers::shutdownReachesEveryWorker()
{
    sluice::Server server;
    QVERIFY(server.setWorkerCount(3));
    QVERIFY(server.map(QStringLiteral("ws:/hold"), [](sluice::WebSocket *) {}));
    QVERIFY(server.listen(QHostAddress::LocalHost, 0));
    std::vector<std::unique_ptr<wstestclient::Client>> clients;
    for (int i = 0; i < 6; ++i) {
        clients.push_back(std::make_unique<wstestclient::Client>());
        QVERIFY(clients.back()->open(server.serverPort(), QStringLiteral("/hold")));
    }
    QTRY_COMPARE_WITH_TIMEOUT(server.connectionCount(), 6, kTimeout);

    QSignalSpy finished(&server, &sluice::Server::shutdownFinished);
    QSignalSpy closed(&server, &sluice::Server::connectionClosed);
    server.shutdown(5000);
    QVERIFY(finished.wait(kTimeout));
    QCOMPARE(finished.size(), 1);
    QCOMPARE(server.connectionCount(), 0);
    QTRY_COMPARE_WITH_TIMEOUT(closed.size(), 6, kTimeout);
    for (auto &client : clients) {
        QTRY_COMPARE_WITH_TIMEOUT(client->socket().state(), QAbstractSocket::UnconnectedState,
                                  kTimeout);
        QCOMPARE(int(client->socket().closeCode()), 1001);
    }
}

// Limits::maxConnections and maxConnectionsPerAddress count the whole
// server, not each worker.
void tst_ServerWorkers::capsHoldAcrossWorkers()
{
    sluice::Server server;
    QVERIFY(server.setWorkerCount(3));
    sluice::Limits limits;
    limits.maxConnections = 3;
    server.setLimits(limits);
    QVERIFY(server.map(QStringLiteral("/ok"), [](HttpConnect &c) { c.response().end("ok"); }));
    QVERIFY(server.listen(QHostAddress::LocalHost, 0));

    std::vector<std::unique_ptr<testclient::Client>> clients;
    for (int i = 0; i < 3; ++i) {
        clients.push_back(std::make_unique<testclient::Client>());
        QVERIFY(clients.back()->connectTo(server.serverPort()));
        QCOMPARE(clients.back()->get("/ok").status, 200);
    }
    testclient::Client refused;
    QVERIFY(refused.connectTo(server.serverPort()));
    const testclient::Response answer = refused.get("/ok");
    QCOMPARE(answer.status, 503);
    QCOMPARE(answer.headerValues("Retry-After"), QList<QByteArray> {"5"});
    QVERIFY(refused.waitForClosed());

    // A place freed on one worker is free for the next, wherever it lands.
    clients.front().reset();
    QTRY_COMPARE_WITH_TIMEOUT(server.connectionCount(), 2, kTimeout);
    testclient::Client next;
    QVERIFY(next.connectTo(server.serverPort()));
    QCOMPARE(next.get("/ok").status, 200);

    // Per address: two of the three workers would each allow one more.
    limits.maxConnections = 100;
    limits.maxConnectionsPerAddress = 3;
    server.setLimits(limits);
    testclient::Client overAddress;
    QVERIFY(overAddress.connectTo(server.serverPort()));
    QCOMPARE(overAddress.get("/ok").status, 503);
}

// Events from every worker reach the monitor's thread, each once.
void tst_ServerWorkers::monitorSeesEveryWorker()
{
    sluice::Server server;
    QVERIFY(server.setWorkerCount(4));
    QVERIFY(server.map(QStringLiteral("/hi"), [](HttpConnect &c) { c.response().end("hi"); }));
    QVERIFY(server.listen(QHostAddress::LocalHost, 0));
    QList<sluice::MonitorEvent> exchanges;
    int batches = 0;
    connect(server.monitor(), &sluice::Monitor::eventsPosted, this,
            [&](const QList<sluice::MonitorEvent> &events) {
                QCOMPARE(QThread::currentThread(), thread());
                ++batches;
                for (const sluice::MonitorEvent &event : events) {
                    if (event.type == sluice::MonitorEvent::Type::HttpExchange)
                        exchanges.append(event);
                }
            });
    std::vector<std::unique_ptr<testclient::Client>> clients;
    for (int i = 0; i < 8; ++i) {
        clients.push_back(std::make_unique<testclient::Client>());
        QVERIFY(clients.back()->connectTo(server.serverPort()));
    }
    for (int round = 0; round < 5; ++round) {
        for (auto &client : clients)
            QCOMPARE(client->get("/hi").status, 200);
    }
    QTRY_COMPARE_WITH_TIMEOUT(exchanges.size(), 40, kTimeout);
    QSet<quint64> connections;
    for (const sluice::MonitorEvent &event : std::as_const(exchanges))
        connections.insert(event.connectionId);
    QCOMPARE(connections.size(), 8);
    QVERIFY(batches > 0);
}

void tst_ServerWorkers::stopAndStartAgain()
{
    // Workers outlive close(): the same server listens and serves again.
    sluice::Server server;
    QVERIFY(server.setWorkerCount(2));
    QVERIFY(server.map(QStringLiteral("/hi"), [](HttpConnect &c) { c.response().end("hi"); }));
    for (int round = 0; round < 3; ++round) {
        QVERIFY(server.listen(QHostAddress::LocalHost, 0));
        for (int i = 0; i < 4; ++i) {
            testclient::Client client;
            QVERIFY(client.connectTo(server.serverPort()));
            QCOMPARE(client.get("/hi").body, QByteArray("hi"));
        }
        server.close();
        QTRY_COMPARE_WITH_TIMEOUT(server.connectionCount(), 0, kTimeout);
    }
}

QTEST_MAIN(tst_ServerWorkers)
#include "tst_serverworkers.moc"
