#include "wstestclient.h"

#include <sluice/handlers.h>
#include <sluice/monitor.h>
#include <sluice/server.h>
#include <sluiceui/statshistory.h>

#include <QtCore/QDateTime>
#include <QtTest/QAbstractItemModelTester>
#include <QtTest/QtTest>

#include <memory>

using sluice::MonitorEvent;
using sluice::StatsHistory;
using Type = MonitorEvent::Type;
using Direction = MonitorEvent::Direction;
using Opcode = MonitorEvent::Opcode;

namespace {

constexpr int kTimeout = 10000;
// A whole second, so "T0 + n s" is the start of bucket n.
constexpr qint64 kT0Ms = 1700000000000;
constexpr qint64 kT0Second = kT0Ms / 1000;

qint64 usAt(qint64 ms)
{
    return ms * 1000;
}

MonitorEvent opened(quint64 id, qint64 ms)
{
    MonitorEvent event;
    event.type = Type::ConnectionOpened;
    event.connectionId = id;
    event.timeUs = usAt(ms);
    return event;
}

MonitorEvent closed(quint64 id, qint64 ms)
{
    MonitorEvent event;
    event.type = Type::ConnectionClosed;
    event.connectionId = id;
    event.timeUs = usAt(ms);
    return event;
}

MonitorEvent message(Direction direction, qint64 size, qint64 ms, Opcode opcode = Opcode::Text)
{
    MonitorEvent event;
    event.type = Type::WebSocketMessage;
    event.connectionId = 1;
    event.direction = direction;
    event.opcode = opcode;
    event.size = size;
    event.timeUs = usAt(ms);
    return event;
}

MonitorEvent exchange(int status, qint64 bytesIn, qint64 bytesOut, qint64 ms)
{
    MonitorEvent event;
    event.type = Type::HttpExchange;
    event.connectionId = 2;
    event.status = status;
    event.bytesIn = bytesIn;
    event.bytesOut = bytesOut;
    event.timeUs = usAt(ms);
    return event;
}

qint64 columnSum(const StatsHistory &history, int column)
{
    qint64 sum = 0;
    for (int row = 0; row < history.rowCount(); ++row)
        sum += history.value(row, column);
    return sum;
}

QList<qint64> column(const StatsHistory &history, int column)
{
    QList<qint64> values;
    for (int row = 0; row < history.rowCount(); ++row)
        values.append(history.value(row, column));
    return values;
}

} // namespace

class tst_StatsHistory : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void init();
    void cleanup();

    void startsWithTheCurrentSecond();
    void headersAndRoles();
    void countsPerSecond();
    void controlFramesAndOtherEventsAreNotMessages();
    void batchIsAppliedOnTheFlushTimer();
    void bigBatchIsOneDataChanged();
    void emptySecondsAdvance();
    void tickTimerAdvancesWithoutEvents();
    void windowDropsTheOldest();
    void clockJumpKeepsTheWindow();
    void shrinkingTheWindowDropsNow();
    void openConnectionsAtTheEndOfEachSecond();
    void closeOfUnknownConnectionIsIgnored();
    void oldEventsCountInTotalsOnly();
    void futureEventsGoToTheCurrentBucket();
    void lateEventBeforeTheFirstBucket();
    void totalsChangedOncePerFlush();
    void clearStartsOver();
    void realServerEcho();

private:
    void setNow(qint64 ms) { m_nowMs = ms; }
    void verifyContiguous() const;

    std::unique_ptr<StatsHistory> m_history;
    std::unique_ptr<QAbstractItemModelTester> m_tester;
    qint64 m_nowMs = kT0Ms;
};

void tst_StatsHistory::init()
{
    m_nowMs = kT0Ms;
    m_history = std::make_unique<StatsHistory>();
    m_history->setClock([this] { return m_nowMs; });
    m_tester = std::make_unique<QAbstractItemModelTester>(
            m_history.get(), QAbstractItemModelTester::FailureReportingMode::QtTest);
}

void tst_StatsHistory::cleanup()
{
    m_tester.reset();
    m_history.reset();
}

void tst_StatsHistory::verifyContiguous() const
{
    const qint64 first = m_history->bucket(0).second;
    for (int row = 0; row < m_history->rowCount(); ++row)
        QCOMPARE(m_history->bucket(row).second, first + row);
}

void tst_StatsHistory::startsWithTheCurrentSecond()
{
    QCOMPARE(m_history->rowCount(), 1);
    QCOMPARE(m_history->columnCount(), int(StatsHistory::ColumnCount));
    QCOMPARE(m_history->columnCount(), 9);
    QCOMPARE(m_history->bucket(0).second, kT0Second);
    QCOMPARE(m_history->windowSeconds(), 300);
    QCOMPARE(m_history->startedMs(), kT0Ms);
    setNow(kT0Ms + 4200);
    QCOMPARE(m_history->uptimeMs(), 4200);
    QCOMPARE(m_history->totalMessages(), 0);
    QCOMPARE(m_history->totalBytes(), 0);
    QCOMPARE(m_history->totalConnections(), 0);
    QCOMPARE(m_history->totalRequests(), 0);
    for (int c = StatsHistory::ConnectionsColumn; c < StatsHistory::ColumnCount; ++c)
        QCOMPARE(m_history->value(0, c), 0);
}

void tst_StatsHistory::headersAndRoles()
{
    const QStringList expected {
            QStringLiteral("Time"),
            QStringLiteral("Connections"),
            QStringLiteral("New connections"),
            QStringLiteral("Messages/s"),
            QStringLiteral("Messages in/s"),
            QStringLiteral("Messages out/s"),
            QStringLiteral("Bytes/s"),
            QStringLiteral("Requests/s"),
            QStringLiteral("Errors/s"),
    };
    for (int c = 0; c < expected.size(); ++c)
        QCOMPARE(m_history->headerData(c, Qt::Horizontal).toString(), expected.at(c));

    m_history->addEvents({message(Direction::Incoming, 7, kT0Ms + 10)});
    m_history->flush();
    const QModelIndex time = m_history->index(0, StatsHistory::TimeColumn);
    QCOMPARE(time.data().toString(),
             QDateTime::fromSecsSinceEpoch(kT0Second).toString(QStringLiteral("HH:mm:ss")));
    QCOMPARE(time.data(StatsHistory::ValueRole).toLongLong(), kT0Second);
    const QModelIndex messages = m_history->index(0, StatsHistory::MessagesColumn);
    QCOMPARE(messages.data().toLongLong(), 1);
    QCOMPARE(messages.data(StatsHistory::ValueRole).toLongLong(), 1);
    QCOMPARE(m_history->index(0, StatsHistory::BytesColumn).data().toLongLong(), 7);
    QVERIFY(messages.data(Qt::TextAlignmentRole).toInt() & Qt::AlignRight);
}

void tst_StatsHistory::countsPerSecond()
{
    setNow(kT0Ms + 2500);
    m_history->addEvents({
            // second 0
            message(Direction::Incoming, 10, kT0Ms + 1),
            message(Direction::Incoming, 20, kT0Ms + 400),
            message(Direction::Outgoing, 30, kT0Ms + 999, Opcode::Binary),
            exchange(200, 100, 1000, kT0Ms + 500),
            // second 1
            exchange(500, 50, 60, kT0Ms + 1000),
            exchange(503, 1, 2, kT0Ms + 1500),
            exchange(404, 3, 4, kT0Ms + 1999),
            message(Direction::Outgoing, 5, kT0Ms + 1001),
            // second 2
            message(Direction::Incoming, 1, kT0Ms + 2000),
            message(Direction::Outgoing, 2, kT0Ms + 2001),
    });
    m_history->flush();
    QCOMPARE(m_history->rowCount(), 3);
    verifyContiguous();
    QCOMPARE(m_history->bucket(2).second, kT0Second + 2);

    QCOMPARE(column(*m_history, StatsHistory::MessagesColumn), (QList<qint64> {3, 1, 2}));
    QCOMPARE(column(*m_history, StatsHistory::MessagesInColumn), (QList<qint64> {2, 0, 1}));
    QCOMPARE(column(*m_history, StatsHistory::MessagesOutColumn), (QList<qint64> {1, 1, 1}));
    QCOMPARE(column(*m_history, StatsHistory::BytesColumn),
             (QList<qint64> {10 + 20 + 30 + 100 + 1000, 50 + 60 + 1 + 2 + 3 + 4 + 5, 3}));
    QCOMPARE(column(*m_history, StatsHistory::RequestsColumn), (QList<qint64> {1, 3, 0}));
    QCOMPARE(column(*m_history, StatsHistory::ErrorsColumn), (QList<qint64> {0, 2, 0}));

    QCOMPARE(m_history->totalMessages(), 6);
    QCOMPARE(m_history->totalMessagesIn(), 3);
    QCOMPARE(m_history->totalMessagesOut(), 3);
    QCOMPARE(m_history->totalRequests(), 4);
    QCOMPARE(m_history->totalErrors(), 2);
    QCOMPARE(m_history->totalBytes(), columnSum(*m_history, StatsHistory::BytesColumn));
}

void tst_StatsHistory::controlFramesAndOtherEventsAreNotMessages()
{
    MonitorEvent room;
    room.type = Type::RoomJoined;
    room.size = 5;
    room.timeUs = usAt(kT0Ms);
    MonitorEvent wsOpened;
    wsOpened.type = Type::WebSocketOpened;
    wsOpened.timeUs = usAt(kT0Ms);
    MonitorEvent error;
    error.type = Type::Error;
    error.status = 500;
    error.timeUs = usAt(kT0Ms);
    m_history->addEvents({
            message(Direction::Incoming, 4, kT0Ms, Opcode::Ping),
            message(Direction::Outgoing, 4, kT0Ms, Opcode::Pong),
            message(Direction::Outgoing, 2, kT0Ms, Opcode::Close),
            room,
            wsOpened,
            error,
            message(Direction::Incoming, 9, kT0Ms, Opcode::Binary),
    });
    m_history->flush();
    QCOMPARE(m_history->value(0, StatsHistory::MessagesColumn), 1);
    QCOMPARE(m_history->value(0, StatsHistory::BytesColumn), 9);
    QCOMPARE(m_history->value(0, StatsHistory::ErrorsColumn), 0);
    QCOMPARE(m_history->value(0, StatsHistory::NewConnectionsColumn), 0);
    QCOMPARE(m_history->totalMessages(), 1);
    QCOMPARE(m_history->totalBytes(), 9);
}

void tst_StatsHistory::batchIsAppliedOnTheFlushTimer()
{
    m_history->setFlushInterval(30);
    QCOMPARE(m_history->flushInterval(), 30);
    QSignalSpy changed(m_history.get(), &StatsHistory::dataChanged);
    m_history->addEvents({message(Direction::Incoming, 1, kT0Ms)});
    m_history->addEvents({message(Direction::Incoming, 1, kT0Ms)});
    // Nothing moves before the timer: no event loop has run yet.
    QCOMPARE(m_history->value(0, StatsHistory::MessagesColumn), 0);
    QCOMPARE(m_history->totalMessages(), 0);
    QCOMPARE(changed.count(), 0);
    QTRY_COMPARE_WITH_TIMEOUT(m_history->value(0, StatsHistory::MessagesColumn), 2, kTimeout);
    QCOMPARE(changed.count(), 1);
    QCOMPARE(m_history->totalMessages(), 2);
}

void tst_StatsHistory::bigBatchIsOneDataChanged()
{
    QList<MonitorEvent> batch;
    for (int i = 0; i < 10000; ++i)
        batch.append(
                message(i % 2 ? Direction::Incoming : Direction::Outgoing, 3, kT0Ms + i % 1000));
    QSignalSpy changed(m_history.get(), &StatsHistory::dataChanged);
    QSignalSpy inserted(m_history.get(), &StatsHistory::rowsInserted);
    m_history->addEvents(batch);
    m_history->addEvents(batch);
    m_history->flush();
    QCOMPARE(changed.count(), 1);
    QCOMPARE(inserted.count(), 0);
    QCOMPARE(m_history->value(0, StatsHistory::MessagesColumn), 20000);
    QCOMPARE(m_history->value(0, StatsHistory::BytesColumn), 60000);
    QCOMPARE(m_history->value(0, StatsHistory::MessagesInColumn), 10000);
}

void tst_StatsHistory::emptySecondsAdvance()
{
    m_history->addEvents({opened(1, kT0Ms)});
    m_history->flush();
    QSignalSpy inserted(m_history.get(), &StatsHistory::rowsInserted);
    setNow(kT0Ms + 5000);
    m_history->flush();
    QCOMPARE(m_history->rowCount(), 6);
    QCOMPARE(inserted.count(), 1); // one insert for the five seconds
    QCOMPARE(inserted.at(0).at(1).toInt(), 1);
    QCOMPARE(inserted.at(0).at(2).toInt(), 5);
    verifyContiguous();
    for (int row = 1; row < 6; ++row) {
        QCOMPARE(m_history->value(row, StatsHistory::MessagesColumn), 0);
        QCOMPARE(m_history->value(row, StatsHistory::NewConnectionsColumn), 0);
        // The open connection is still open in the empty seconds.
        QCOMPARE(m_history->value(row, StatsHistory::ConnectionsColumn), 1);
    }
    // Same second again: nothing new.
    setNow(kT0Ms + 5999);
    m_history->flush();
    QCOMPARE(m_history->rowCount(), 6);
}

void tst_StatsHistory::tickTimerAdvancesWithoutEvents()
{
    // The 1 s timer appends the seconds by itself; the test only moves the
    // clock, and waits for the timer's next tick.
    setNow(kT0Ms + 3000);
    QTRY_COMPARE_WITH_TIMEOUT(m_history->rowCount(), 4, 3000);
    verifyContiguous();
    QCOMPARE(m_history->bucket(3).second, kT0Second + 3);
}

void tst_StatsHistory::windowDropsTheOldest()
{
    m_history->setWindowSeconds(10);
    QCOMPARE(m_history->windowSeconds(), 10);
    setNow(kT0Ms + 9000);
    for (int s = 0; s < 10; ++s)
        m_history->addEvents({message(Direction::Incoming, 1, kT0Ms + s * 1000)});
    m_history->flush();
    QCOMPARE(m_history->rowCount(), 10);
    QCOMPARE(column(*m_history, StatsHistory::MessagesColumn), QList<qint64>(10, 1));

    QSignalSpy removed(m_history.get(), &StatsHistory::rowsRemoved);
    setNow(kT0Ms + 12000);
    m_history->flush();
    QCOMPARE(m_history->rowCount(), 10);
    QCOMPARE(removed.count(), 1);
    QCOMPARE(removed.at(0).at(1).toInt(), 0); // from the front
    QCOMPARE(removed.at(0).at(2).toInt(), 2);
    QCOMPARE(m_history->bucket(0).second, kT0Second + 3);
    QCOMPARE(m_history->bucket(9).second, kT0Second + 12);
    verifyContiguous();
    QCOMPARE(columnSum(*m_history, StatsHistory::MessagesColumn), 7);
    // Totals remember what the window forgot.
    QCOMPARE(m_history->totalMessages(), 10);
}

void tst_StatsHistory::clockJumpKeepsTheWindow()
{
    m_history->setWindowSeconds(10);
    m_history->addEvents({message(Direction::Incoming, 1, kT0Ms)});
    m_history->flush();
    setNow(kT0Ms + 3600 * 1000);
    m_history->flush();
    QCOMPARE(m_history->rowCount(), 10);
    QCOMPARE(m_history->bucket(9).second, kT0Second + 3600);
    verifyContiguous();
    QCOMPARE(columnSum(*m_history, StatsHistory::MessagesColumn), 0);

    // A clock that goes back leaves the timeline alone.
    setNow(kT0Ms + 1000);
    m_history->addEvents({message(Direction::Incoming, 1, kT0Ms + 1000)});
    m_history->flush();
    QCOMPARE(m_history->rowCount(), 10);
    QCOMPARE(m_history->bucket(9).second, kT0Second + 3600);
    QCOMPARE(m_history->totalMessages(), 2);
}

void tst_StatsHistory::shrinkingTheWindowDropsNow()
{
    setNow(kT0Ms + 9000);
    m_history->flush();
    QCOMPARE(m_history->rowCount(), 10);
    QSignalSpy removed(m_history.get(), &StatsHistory::rowsRemoved);
    m_history->setWindowSeconds(4);
    QCOMPARE(m_history->rowCount(), 4);
    QCOMPARE(removed.count(), 1);
    QCOMPARE(m_history->bucket(0).second, kT0Second + 6);
    m_history->setWindowSeconds(0); // at least one bucket
    QCOMPARE(m_history->windowSeconds(), 1);
    QCOMPARE(m_history->rowCount(), 1);
    QCOMPARE(m_history->bucket(0).second, kT0Second + 9);
}

void tst_StatsHistory::openConnectionsAtTheEndOfEachSecond()
{
    setNow(kT0Ms + 3000);
    m_history->addEvents({
            opened(1, kT0Ms + 100),
            opened(2, kT0Ms + 200),
            opened(3, kT0Ms + 300),
            closed(1, kT0Ms + 400),
            closed(2, kT0Ms + 1500),
            opened(4, kT0Ms + 2100),
    });
    m_history->flush();
    QCOMPARE(m_history->rowCount(), 4);
    QCOMPARE(column(*m_history, StatsHistory::ConnectionsColumn), (QList<qint64> {2, 1, 2, 2}));
    QCOMPARE(column(*m_history, StatsHistory::NewConnectionsColumn), (QList<qint64> {3, 0, 1, 0}));
    QCOMPARE(m_history->totalConnections(), 4);
    QCOMPARE(m_history->openConnections(), 2);

    // Closes in a later flush change only the seconds from then on.
    setNow(kT0Ms + 4000);
    m_history->addEvents({closed(3, kT0Ms + 4000), closed(4, kT0Ms + 4001)});
    m_history->flush();
    QCOMPARE(column(*m_history, StatsHistory::ConnectionsColumn), (QList<qint64> {2, 1, 2, 2, 0}));
    QCOMPARE(m_history->openConnections(), 0);
}

void tst_StatsHistory::closeOfUnknownConnectionIsIgnored()
{
    // Connections opened before the history started close without ever
    // having been counted; the count must not go below zero.
    m_history->addEvents({closed(77, kT0Ms), closed(78, kT0Ms), opened(1, kT0Ms)});
    m_history->flush();
    QCOMPARE(m_history->value(0, StatsHistory::ConnectionsColumn), 1);
    QCOMPARE(m_history->openConnections(), 1);
    // Twice the same open is one connection open.
    m_history->addEvents({opened(1, kT0Ms)});
    m_history->flush();
    QCOMPARE(m_history->openConnections(), 1);
}

void tst_StatsHistory::oldEventsCountInTotalsOnly()
{
    m_history->setWindowSeconds(10);
    setNow(kT0Ms + 20000);
    m_history->flush();
    QSignalSpy changed(m_history.get(), &StatsHistory::dataChanged);
    QSignalSpy inserted(m_history.get(), &StatsHistory::rowsInserted);
    m_history->addEvents({
            message(Direction::Incoming, 11, kT0Ms + 5000), // 15 s ago
            message(Direction::Outgoing, 12, kT0Ms + 10999), // 10 s ago: just out
            exchange(500, 1, 1, 0), // the epoch
    });
    m_history->flush();
    QCOMPARE(changed.count(), 0);
    QCOMPARE(inserted.count(), 0);
    QCOMPARE(columnSum(*m_history, StatsHistory::MessagesColumn), 0);
    QCOMPARE(columnSum(*m_history, StatsHistory::BytesColumn), 0);
    QCOMPARE(columnSum(*m_history, StatsHistory::ErrorsColumn), 0);
    QCOMPARE(m_history->totalMessages(), 2);
    QCOMPARE(m_history->totalBytes(), 25);
    QCOMPARE(m_history->totalErrors(), 1);

    // The oldest second still inside the window does count.
    m_history->addEvents({message(Direction::Incoming, 1, kT0Ms + 11000)});
    m_history->flush();
    QCOMPARE(m_history->bucket(0).second, kT0Second + 11);
    QCOMPARE(m_history->value(0, StatsHistory::MessagesColumn), 1);
}

void tst_StatsHistory::futureEventsGoToTheCurrentBucket()
{
    setNow(kT0Ms + 2000);
    m_history->addEvents({
            message(Direction::Incoming, 1, kT0Ms + 60000),
            exchange(200, 1, 1, kT0Ms + 3600 * 1000),
    });
    m_history->flush();
    QCOMPARE(m_history->rowCount(), 3);
    QCOMPARE(m_history->bucket(2).second, kT0Second + 2);
    QCOMPARE(m_history->value(2, StatsHistory::MessagesColumn), 1);
    QCOMPARE(m_history->value(2, StatsHistory::RequestsColumn), 1);
    // When the future comes, its bucket is empty: they were counted once.
    setNow(kT0Ms + 60000);
    m_history->flush();
    QCOMPARE(columnSum(*m_history, StatsHistory::MessagesColumn), 1);
    QCOMPARE(m_history->totalMessages(), 1);
}

void tst_StatsHistory::lateEventBeforeTheFirstBucket()
{
    // The history started at T0; a batch still carrying an event from 3 s
    // before gets those seconds back at the front.
    QSignalSpy inserted(m_history.get(), &StatsHistory::rowsInserted);
    m_history->addEvents({message(Direction::Incoming, 1, kT0Ms - 3000)});
    m_history->flush();
    QCOMPARE(m_history->rowCount(), 4);
    QCOMPARE(inserted.count(), 1);
    QCOMPARE(inserted.at(0).at(1).toInt(), 0);
    QCOMPARE(inserted.at(0).at(2).toInt(), 2);
    QCOMPARE(m_history->bucket(0).second, kT0Second - 3);
    verifyContiguous();
    QCOMPARE(column(*m_history, StatsHistory::MessagesColumn), (QList<qint64> {1, 0, 0, 0}));
}

void tst_StatsHistory::totalsChangedOncePerFlush()
{
    QSignalSpy totals(m_history.get(), &StatsHistory::totalsChanged);
    m_history->addEvents({opened(1, kT0Ms), message(Direction::Incoming, 1, kT0Ms)});
    m_history->addEvents({exchange(200, 5, 5, kT0Ms)});
    m_history->flush();
    QCOMPARE(totals.count(), 1);
    QCOMPARE(m_history->totalConnections(), 1);
    QCOMPARE(m_history->totalMessages(), 1);
    QCOMPARE(m_history->totalRequests(), 1);
    QCOMPARE(m_history->totalBytes(), 11);
    m_history->flush();
    QCOMPARE(totals.count(), 1);
    // Control frames change nothing worth a signal.
    m_history->addEvents({message(Direction::Incoming, 1, kT0Ms, Opcode::Ping)});
    m_history->flush();
    QCOMPARE(totals.count(), 1);
    m_history->addEvents({closed(1, kT0Ms)});
    m_history->flush();
    QCOMPARE(totals.count(), 2);
    QCOMPARE(m_history->openConnections(), 0);
}

void tst_StatsHistory::clearStartsOver()
{
    m_history->addEvents({opened(1, kT0Ms), message(Direction::Incoming, 1, kT0Ms)});
    setNow(kT0Ms + 5000);
    m_history->flush();
    QCOMPARE(m_history->rowCount(), 6);
    QSignalSpy reset(m_history.get(), &StatsHistory::modelReset);
    setNow(kT0Ms + 7000);
    m_history->clear();
    QCOMPARE(reset.count(), 1);
    QCOMPARE(m_history->rowCount(), 1);
    QCOMPARE(m_history->bucket(0).second, kT0Second + 7);
    QCOMPARE(m_history->startedMs(), kT0Ms + 7000);
    QCOMPARE(m_history->totalMessages(), 0);
    QCOMPARE(m_history->totalConnections(), 0);
    // Still open on the server: clearing the history does not close it.
    QCOMPARE(m_history->openConnections(), 1);
    QCOMPARE(m_history->value(0, StatsHistory::ConnectionsColumn), 1);
}

void tst_StatsHistory::realServerEcho()
{
    // The real clock, a real server and a real client.
    m_tester.reset();
    m_history = std::make_unique<StatsHistory>();
    m_tester = std::make_unique<QAbstractItemModelTester>(
            m_history.get(), QAbstractItemModelTester::FailureReportingMode::QtTest);

    sluice::Server server;
    QVERIFY(server.map(QStringLiteral("ws:/echo"), sluice::handlers::echo()));
    connect(server.monitor(), &sluice::Monitor::eventsPosted, m_history.get(),
            &StatsHistory::addEvents, Qt::QueuedConnection);
    QVERIFY2(server.listen(QHostAddress::LocalHost, 0), qPrintable(server.errorString()));

    wstestclient::Client client;
    QVERIFY2(client.open(server.serverPort(), QStringLiteral("/echo")),
             qPrintable(client.errorString()));
    qint64 payloadBytes = 0;
    for (int i = 0; i < 100; ++i) {
        const QString text = QStringLiteral("message %1").arg(i);
        payloadBytes += text.toUtf8().size();
        client.socket().sendTextMessage(text);
    }
    QVERIFY(client.waitForCount(100));
    QTRY_COMPARE_WITH_TIMEOUT(m_history->totalMessages(), 200, kTimeout);
    QTRY_COMPARE_WITH_TIMEOUT(m_history->openConnections(), 1, kTimeout);
    m_history->flush();
    QCOMPARE(m_history->totalMessagesIn(), 100);
    QCOMPARE(m_history->totalMessagesOut(), 100);
    QCOMPARE(m_history->totalConnections(), 1);
    QCOMPARE(columnSum(*m_history, StatsHistory::MessagesColumn), 200);
    QCOMPARE(columnSum(*m_history, StatsHistory::MessagesInColumn), 100);
    QCOMPARE(columnSum(*m_history, StatsHistory::MessagesOutColumn), 100);
    QCOMPARE(columnSum(*m_history, StatsHistory::NewConnectionsColumn), 1);
    QCOMPARE(m_history->value(m_history->rowCount() - 1, StatsHistory::ConnectionsColumn), 1);
    // Both directions' payloads, plus whatever the upgrade exchange carried.
    QVERIFY2(m_history->totalBytes() >= 2 * payloadBytes,
             qPrintable(QString::number(m_history->totalBytes())));
    QCOMPARE(columnSum(*m_history, StatsHistory::BytesColumn), m_history->totalBytes());
    verifyContiguous();

    client.socket().close();
    QTRY_COMPARE_WITH_TIMEOUT(m_history->openConnections(), 0, kTimeout);
    m_history->flush();
    QCOMPARE(m_history->value(m_history->rowCount() - 1, StatsHistory::ConnectionsColumn), 0);
    QCOMPARE(m_history->totalMessages(), 200);
    server.close();
}

QTEST_MAIN(tst_StatsHistory)
#include "tst_statshistory.moc"
