#include <sluice/handlers.h>
#include <sluice/monitor.h>
#include <sluice/monitorqueue.h>
#include <sluice/server.h>
#include <sluice/serverthread.h>

#include <QtCore/QProcess>
#include <QtTest/QtTest>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

using namespace sluice;

namespace {

MonitorEvent opened(quint64 id)
{
    MonitorEvent event;
    event.type = MonitorEvent::Type::ConnectionOpened;
    event.connectionId = id;
    return event;
}

} // namespace

class tst_MonitorQueue : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void attachingActivatesTheMonitor();
    void takeInOrderAndInParts();
    void capacityDropsTheNewest();
    void payloadBudgetDropsTheNewest();
    void signalListenersAndQueuesEachGetEverything();
    void queueMayOutliveItsMonitor();
    void postersOnManyThreads();
    void realServerOnItsThread();
};

void tst_MonitorQueue::attachingActivatesTheMonitor()
{
    Monitor monitor;
    QVERIFY(!monitor.isActive());
    {
        MonitorQueue queue(&monitor);
        QVERIFY(monitor.isActive());
        MonitorQueue second(&monitor);
        QVERIFY(monitor.isActive());
    }
    QVERIFY(!monitor.isActive());
    // Nothing is recorded while nobody listens.
    monitor.post(opened(1));
    MonitorQueue late(&monitor);
    QCOMPARE(late.size(), 0);
}

void tst_MonitorQueue::takeInOrderAndInParts()
{
    Monitor monitor;
    MonitorQueue queue(&monitor);
    for (quint64 id = 1; id <= 10; ++id)
        monitor.post(opened(id));
    QCOMPARE(queue.size(), 10);
    const QList<MonitorEvent> first = queue.take(4);
    QCOMPARE(first.size(), 4);
    QCOMPARE(first.first().connectionId, quint64(1));
    QCOMPARE(first.last().connectionId, quint64(4));
    QCOMPARE(queue.size(), 6);
    const QList<MonitorEvent> rest = queue.take();
    QCOMPARE(rest.size(), 6);
    QCOMPARE(rest.first().connectionId, quint64(5));
    QCOMPARE(rest.last().connectionId, quint64(10));
    QVERIFY(queue.take().isEmpty());
    QCOMPARE(queue.take(0).size(), 0);
}

void tst_MonitorQueue::capacityDropsTheNewest()
{
    Monitor monitor;
    MonitorQueue queue(&monitor, 10);
    QCOMPARE(queue.capacity(), 10);
    for (quint64 id = 1; id <= 25; ++id)
        monitor.post(opened(id));
    QCOMPARE(queue.size(), 10);
    QCOMPARE(queue.droppedCount(), quint64(15));
    const QList<MonitorEvent> events = queue.take();
    QCOMPARE(events.last().connectionId, quint64(10));
    // Room again once taken.
    monitor.post(opened(26));
    QCOMPARE(queue.take().value(0).connectionId, quint64(26));
    QCOMPARE(queue.droppedCount(), quint64(15));
}

void tst_MonitorQueue::payloadBudgetDropsTheNewest()
{
    Monitor monitor;
    MonitorQueue queue(&monitor, 1000, 10 * 1024);
    QCOMPARE(queue.payloadBudget(), qint64(10 * 1024));
    for (quint64 id = 1; id <= 30; ++id) {
        MonitorEvent event = opened(id);
        event.type = MonitorEvent::Type::WebSocketMessage;
        event.payload = QByteArray(1024, 'x');
        monitor.post(std::move(event));
    }
    QCOMPARE(queue.size(), 10);
    QCOMPARE(queue.droppedCount(), quint64(20));
    // Events without payload still fit; taking part frees its bytes.
    monitor.post(opened(31));
    QCOMPARE(queue.size(), 11);
    QCOMPARE(queue.take(3).size(), 3);
    for (quint64 id = 32; id <= 40; ++id) {
        MonitorEvent event = opened(id);
        event.payload = QByteArray(1024, 'y');
        monitor.post(std::move(event));
    }
    QCOMPARE(queue.size(), 11); // 3 KiB freed, 3 of the 9 fitted
    QCOMPARE(queue.droppedCount(), quint64(26));
    QCOMPARE(queue.take().last().connectionId, quint64(34));
}

void tst_MonitorQueue::signalListenersAndQueuesEachGetEverything()
{
    Monitor monitor;
    MonitorQueue queue(&monitor);
    QList<quint64> signalled;
    connect(&monitor, &Monitor::eventsPosted, this, [&](const QList<MonitorEvent> &events) {
        for (const MonitorEvent &event : events)
            signalled.append(event.connectionId);
    });
    for (quint64 id = 1; id <= 5; ++id)
        monitor.post(opened(id));
    monitor.flush();
    QCOMPARE(signalled, (QList<quint64> {1, 2, 3, 4, 5}));
    QList<quint64> taken;
    for (const MonitorEvent &event : queue.take())
        taken.append(event.connectionId);
    QCOMPARE(taken, signalled);
    // A queue alone does not feed the signal's batch.
    disconnect(&monitor, &Monitor::eventsPosted, this, nullptr);
    monitor.post(opened(6));
    monitor.flush();
    QCOMPARE(signalled.size(), 5);
    QCOMPARE(queue.take().size(), 1);
}

void tst_MonitorQueue::queueMayOutliveItsMonitor()
{
    auto monitor = std::make_unique<Monitor>();
    MonitorQueue queue(monitor.get());
    monitor->post(opened(1));
    monitor.reset();
    QCOMPARE(queue.take().size(), 1); // what was queued stays takeable
    QVERIFY(queue.take().isEmpty());
}

void tst_MonitorQueue::postersOnManyThreads()
{
    Monitor monitor;
    MonitorQueue queue(&monitor, 5000);
    constexpr int threads = 4;
    constexpr int perThread = 10000;
    std::atomic<int> finished {0};
    std::vector<std::thread> posters;
    for (int t = 0; t < threads; ++t) {
        posters.emplace_back([&monitor, &finished, t] {
            for (int i = 0; i < perThread; ++i)
                monitor.post(opened(quint64(t) << 32 | quint64(i)));
            finished.fetch_add(1);
        });
    }
    qsizetype taken = 0;
    std::vector<qint64> last(threads, -1);
    bool ordered = true;
    const auto drain = [&] {
        for (const MonitorEvent &event : queue.take(777)) {
            const int thread = int(event.connectionId >> 32);
            const qint64 index = qint64(quint32(event.connectionId));
            // Per thread in the order posted; gaps are the dropped ones.
            ordered = ordered && index > last[size_t(thread)];
            last[size_t(thread)] = index;
            ++taken;
        }
    };
    while (finished.load() < threads)
        drain();
    for (std::thread &poster : posters)
        poster.join();
    while (queue.size() > 0)
        drain();
    QCOMPARE(taken + qsizetype(queue.droppedCount()), qsizetype(threads * perThread));
    QVERIFY(ordered);
    QVERIFY(taken >= 5000);
}

void tst_MonitorQueue::realServerOnItsThread()
{
    ServerThread serverThread;
    serverThread.server()->map(QStringLiteral("get:/hello"), handlers::hello());
    MonitorQueue queue(serverThread.server()->monitor());
    QVERIFY(serverThread.listen(QHostAddress::LocalHost, 0));
    QUrl url = serverThread.urls().value(0);
    url.setPath(QStringLiteral("/hello"));

    QProcess curl;
    curl.start(QStringLiteral("curl"), {QStringLiteral("-s"), QStringLiteral("--max-time"),
                                        QStringLiteral("10"), url.toString(), url.toString()});
    QVERIFY(curl.waitForFinished(15000));
    QCOMPARE(curl.exitCode(), 0);

    QList<MonitorEvent> events;
    QTRY_VERIFY_WITH_TIMEOUT(
            [&] {
                events += queue.take();
                return std::count_if(events.cbegin(), events.cend(),
                                     [](const MonitorEvent &e) {
                                         return e.type == MonitorEvent::Type::HttpExchange;
                                     })
                       == 2;
            }(),
            5000);
    const auto first = std::find_if(events.cbegin(), events.cend(), [](const MonitorEvent &e) {
        return e.type == MonitorEvent::Type::HttpExchange;
    });
    QCOMPARE(first->target, QStringLiteral("/hello"));
    QCOMPARE(first->status, 200);
    QCOMPARE(events.first().type, MonitorEvent::Type::ConnectionOpened);
    QCOMPARE(events.first().peerAddress, QHostAddress(QHostAddress::LocalHost));
}

QTEST_MAIN(tst_MonitorQueue)
#include "tst_monitorqueue.moc"
