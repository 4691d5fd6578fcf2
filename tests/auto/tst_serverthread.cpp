#include <sluice/handlers.h>
#include <sluice/httpconnect.h>
#include <sluice/httpresponse.h>
#include <sluice/monitor.h>
#include <sluice/server.h>
#include <sluice/serverthread.h>

#include <QtCore/QElapsedTimer>
#include <QtCore/QProcess>
#include <QtCore/QThread>
#include <QtTest/QtTest>

#include <atomic>
#include <numeric>

using namespace sluice;

namespace {

const QString kPython = QStringLiteral("/usr/bin/python3");

// Debian's python3-websockets: opens, says "ready", then prints the close
// code and reason the server sends.
const char *const kWaitForClose = R"(
import asyncio, sys
import websockets

async def main(url):
    async with websockets.connect(url, open_timeout=10, ping_interval=None) as ws:
        print('ready', flush=True)
        try:
            await asyncio.wait_for(ws.recv(), 20)
        except websockets.exceptions.ConnectionClosed:
            pass
        print(ws.close_code, ws.close_reason, flush=True)

asyncio.run(main(sys.argv[1]))
)";

// curl, waited for with waitForFinished(): the calling thread runs no event
// loop meanwhile, so only a server on another thread can answer.
struct Curl
{
    int exitCode = -1;
    QByteArray body;
};

Curl curlBlocking(const QString &url)
{
    QProcess process;
    process.start(QStringLiteral("curl"),
                  {QStringLiteral("-sS"), QStringLiteral("--max-time"), QStringLiteral("10"), url});
    Curl result;
    if (!process.waitForFinished(15000))
        return result;
    result.exitCode = process.exitCode();
    result.body = process.readAllStandardOutput();
    return result;
}

} // namespace

class tst_ServerThread : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void serverLivesOnItsOwnThread();
    void answersWhileTheOwnerThreadIsBlocked();
    void stopAndStartKeepThePort();
    void listenFailureIsReported();
    void callReturnsAndPostQueues();
    void destructionClosesWebSocketsWith1001();
    void monitorBatchesCrossThreads();
};

void tst_ServerThread::serverLivesOnItsOwnThread()
{
    ServerThread serverThread;
    QVERIFY(serverThread.server());
    QVERIFY(serverThread.serverThread() != QThread::currentThread());
    QCOMPARE(serverThread.server()->thread(), serverThread.serverThread());
    QCOMPARE(serverThread.server()->monitor()->thread(), serverThread.serverThread());

    std::atomic<QThread *> handlerThread {nullptr};
    serverThread.server()->map(QStringLiteral("get:/where"), [&](HttpConnect &connect) {
        handlerThread = QThread::currentThread();
        connect.response().write("here");
    });
    QVERIFY(serverThread.listen(QHostAddress::LocalHost, 0));
    const Curl reply = curlBlocking(
            serverThread.urls().value(0).resolved(QUrl(QStringLiteral("/where"))).toString());
    QCOMPARE(reply.exitCode, 0);
    QCOMPARE(reply.body, QByteArray("here"));
    QCOMPARE(handlerThread.load(), serverThread.serverThread());
}

void tst_ServerThread::answersWhileTheOwnerThreadIsBlocked()
{
    ServerThread serverThread;
    serverThread.server()->map(QStringLiteral("get:/hello"), handlers::hello());
    QVERIFY(serverThread.listen(QHostAddress::LocalHost, 0));
    const QUrl url = serverThread.urls().value(0).resolved(QUrl(QStringLiteral("/hello")));
    // Several requests in a row while this thread never returns to its loop.
    for (int i = 0; i < 5; ++i) {
        const Curl reply = curlBlocking(url.toString());
        QCOMPARE(reply.exitCode, 0);
        QVERIFY2(!reply.body.isEmpty(), "empty answer");
    }
}

void tst_ServerThread::stopAndStartKeepThePort()
{
    ServerThread serverThread;
    serverThread.server()->map(QStringLiteral("get:/ok"),
                               [](HttpConnect &connect) { connect.response().write("ok"); });
    QSignalSpy listening(&serverThread, &ServerThread::listeningChanged);
    QVERIFY(serverThread.listen(QHostAddress::LocalHost, 0));
    QVERIFY(serverThread.isListening());
    const QUrl url = serverThread.urls().value(0).resolved(QUrl(QStringLiteral("/ok")));
    QVERIFY(url.port() > 0);
    QCOMPARE(listening.size(), 1);
    QCOMPARE(listening.takeFirst().at(0).toBool(), true);

    serverThread.stop();
    QVERIFY(!serverThread.isListening());
    QVERIFY(serverThread.urls().isEmpty());
    QCOMPARE(listening.takeFirst().at(0).toBool(), false);
    QCOMPARE(curlBlocking(url.toString()).exitCode, 7); // couldn't connect

    QVERIFY(serverThread.start());
    QCOMPARE(listening.takeFirst().at(0).toBool(), true);
    QCOMPARE(serverThread.urls().value(0).port(), url.port());
    const Curl reply = curlBlocking(url.toString());
    QCOMPARE(reply.exitCode, 0);
    QCOMPARE(reply.body, QByteArray("ok"));
    // Starting what runs already changes nothing.
    QVERIFY(serverThread.start());
    QCOMPARE(serverThread.urls().size(), 1);
}

void tst_ServerThread::listenFailureIsReported()
{
    ServerThread first;
    QVERIFY(first.listen(QHostAddress::LocalHost, 0));
    const quint16 taken = quint16(first.urls().value(0).port());
    ServerThread second;
    QVERIFY(!second.listen(QHostAddress::LocalHost, taken));
    QVERIFY2(second.errorString().contains(QString::number(taken)),
             qPrintable(second.errorString()));
    QVERIFY(!second.isListening());
    // Nothing to start again: the failed address is not remembered.
    QVERIFY(second.start());
    QVERIFY(!second.isListening());
}

void tst_ServerThread::callReturnsAndPostQueues()
{
    ServerThread serverThread;
    QThread *seen = serverThread.call([](Server &) { return QThread::currentThread(); });
    QCOMPARE(seen, serverThread.serverThread());
    QCOMPARE(serverThread.call([](Server &server) { return server.connectionCount(); }), 0);

    std::atomic<int> posted {0};
    for (int i = 0; i < 10; ++i)
        serverThread.post([&posted](Server &) { posted.fetch_add(1); });
    // call() is queued behind the posts, so they have all run when it returns.
    serverThread.call([](Server &) {});
    QCOMPARE(posted.load(), 10);
}

void tst_ServerThread::destructionClosesWebSocketsWith1001()
{
    if (!QFileInfo::exists(kPython))
        QSKIP("/usr/bin/python3 is not installed");
    auto serverThread = std::make_unique<ServerThread>();
    serverThread->server()->map(QStringLiteral("ws:/echo"), handlers::echo());
    QVERIFY(serverThread->listen(QHostAddress::LocalHost, 0));
    QUrl url = serverThread->urls().value(0);
    url.setScheme(QStringLiteral("ws"));
    url.setPath(QStringLiteral("/echo"));

    QProcess client;
    client.start(kPython,
                 {QStringLiteral("-c"), QString::fromLatin1(kWaitForClose), url.toString()});
    QVERIFY(client.waitForStarted(5000));
    QTRY_VERIFY_WITH_TIMEOUT(client.canReadLine(), 15000);
    QCOMPARE(client.readLine().trimmed(), QByteArray("ready"));
    QTRY_COMPARE_WITH_TIMEOUT(
            serverThread->call([](Server &server) { return server.connectionCount(); }), 1, 5000);

    serverThread.reset();
    QVERIFY(client.waitForFinished(15000));
    QCOMPARE(client.readAllStandardOutput().trimmed().split(' ').value(0), QByteArray("1001"));
}

void tst_ServerThread::monitorBatchesCrossThreads()
{
    ServerThread serverThread;
    Monitor *monitor = serverThread.server()->monitor();
    QCOMPARE(monitor->batchInterval(), 0);
    monitor->setBatchInterval(300);
    QCOMPARE(monitor->batchInterval(), 300);

    QList<int> batchSizes;
    QList<QThread *> threads;
    connect(monitor, &Monitor::eventsPosted, this, [&](const QList<MonitorEvent> &events) {
        batchSizes.append(int(events.size()));
        threads.append(QThread::currentThread());
    });
    QTRY_VERIFY(monitor->isActive());

    // Ten separate turns of the server's loop, 20 ms apart: with the interval
    // they still cross to this thread as one batch.
    QElapsedTimer clock;
    clock.start();
    for (int i = 0; i < 10; ++i) {
        serverThread.post([i](Server &server) {
            MonitorEvent event;
            event.type = MonitorEvent::Type::ConnectionOpened;
            event.connectionId = quint64(i + 1);
            server.monitor()->post(std::move(event));
        });
        QThread::msleep(20);
    }
    QTRY_COMPARE_WITH_TIMEOUT(std::accumulate(batchSizes.cbegin(), batchSizes.cend(), 0), 10, 5000);
    QCOMPARE(batchSizes.size(), 1);
    QVERIFY2(clock.elapsed() >= 290, qPrintable(QString::number(clock.elapsed())));
    QCOMPARE(threads.value(0), QThread::currentThread());

    // Back to 0: the next event is delivered without waiting for an interval.
    monitor->setBatchInterval(0);
    batchSizes.clear();
    serverThread.post([](Server &server) {
        MonitorEvent event;
        event.type = MonitorEvent::Type::ConnectionOpened;
        event.connectionId = 99;
        server.monitor()->post(std::move(event));
    });
    QTRY_COMPARE_WITH_TIMEOUT(batchSizes.size(), 1, 5000);
}

QTEST_MAIN(tst_ServerThread)
#include "tst_serverthread.moc"
