// The live connection table: hand-built event sequences (HTTP, WebSocket,
// late attach), batching, the cap, roles for a sort proxy, the duration tick;
// then a real server driven by QWebSocket clients and curl.

#include <sluiceui/connectionmodel.h>

#include <sluice/handlers.h>
#include <sluice/httpconnect.h>
#include <sluice/monitor.h>
#include <sluice/server.h>

#include "connectionevents.h"
#include "wstestclient.h"

#include <QtCore/QDateTime>
#include <QtCore/QPointer>
#include <QtCore/QProcess>
#include <QtCore/QSortFilterProxyModel>
#include <QtTest/QAbstractItemModelTester>
#include <QtTest/QtTest>

#include <memory>

using sluice::ConnectionModel;
using namespace connectionevents;

namespace {

QVariant cell(const ConnectionModel &model, int row, int column, int role = Qt::DisplayRole)
{
    return model.data(model.index(row, column), role);
}

QString text(const ConnectionModel &model, int row, int column)
{
    return cell(model, row, column).toString();
}

qint64 number(const ConnectionModel &model, int row, int column)
{
    return cell(model, row, column, ConnectionModel::SortRole).toLongLong();
}

std::unique_ptr<QAbstractItemModelTester> tester(QAbstractItemModel *model)
{
    return std::make_unique<QAbstractItemModelTester>(
            model, QAbstractItemModelTester::FailureReportingMode::QtTest);
}

} // namespace

class tst_ConnectionModel : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void headers();
    void httpConnection();
    void webSocketConnection();
    void webSocketCloseRemovesTheRow();
    void lateAttach();
    void batching();
    void scatteredRemovals();
    void pendingCapacityFlushesEarly();
    void fedFromItsOwnSignals();
    void cap();
    void rolesForAProxy();
    void durationTicksWhileThereAreRows();
    void clear();
    void endToEnd();
};

void tst_ConnectionModel::headers()
{
    ConnectionModel model;
    QCOMPARE(model.columnCount(), 12);
    QCOMPARE(model.rowCount(), 0);
    QStringList names;
    for (int column = 0; column < model.columnCount(); ++column)
        names.append(model.headerData(column, Qt::Horizontal).toString());
    QCOMPARE(names, QStringList({QStringLiteral("Id"), QStringLiteral("Peer"),
                                 QStringLiteral("Route"), QStringLiteral("Kind"),
                                 QStringLiteral("Subprotocol"), QStringLiteral("Opened"),
                                 QStringLiteral("Duration"), QStringLiteral("Messages in"),
                                 QStringLiteral("Messages out"), QStringLiteral("Bytes in"),
                                 QStringLiteral("Bytes out"), QStringLiteral("State")}));
    QVERIFY(!model.headerData(0, Qt::Vertical).isValid());
    QVERIFY(!model.headerData(12, Qt::Horizontal).isValid());
}

void tst_ConnectionModel::httpConnection()
{
    ConnectionModel model;
    const auto check = tester(&model);

    model.addEvents({opened(1)});
    QCOMPARE(model.rowCount(), 0); // not before the tick
    model.flush();
    QCOMPARE(model.rowCount(), 1);
    QCOMPARE(model.connectionCount(), 1);
    QCOMPARE(model.rowOf(1), 0);
    QCOMPARE(model.connectionId(0), quint64(1));
    QCOMPARE(text(model, 0, ConnectionModel::IdColumn), QStringLiteral("1"));
    QCOMPARE(cell(model, 0, ConnectionModel::IdColumn, ConnectionModel::SortRole).userType(),
             QMetaType::ULongLong);
    QCOMPARE(text(model, 0, ConnectionModel::PeerColumn), QStringLiteral("127.0.0.1:40001"));
    QCOMPARE(text(model, 0, ConnectionModel::KindColumn), QString());
    QCOMPARE(cell(model, 0, 0, ConnectionModel::KindRole).toInt(),
             int(ConnectionModel::Kind::Unknown));
    QCOMPARE(text(model, 0, ConnectionModel::OpenedColumn),
             QDateTime::fromMSecsSinceEpoch(kTimeUs / 1000).toString(QStringLiteral("HH:mm:ss")));
    QCOMPARE(number(model, 0, ConnectionModel::OpenedColumn), kTimeUs);
    QCOMPARE(text(model, 0, ConnectionModel::StateColumn), QStringLiteral("open"));

    model.addEvents(
            {exchange(1, QStringLiteral("get:/hello"), 200, 80, 120, QStringLiteral("/hello"))});
    model.flush();
    QCOMPARE(text(model, 0, ConnectionModel::KindColumn), QStringLiteral("HTTP"));
    QCOMPARE(cell(model, 0, 3, ConnectionModel::KindRole).toInt(),
             int(ConnectionModel::Kind::Http));
    QCOMPARE(text(model, 0, ConnectionModel::RouteColumn), QStringLiteral("get:/hello"));
    QCOMPARE(number(model, 0, ConnectionModel::MessagesInColumn), 1);
    QCOMPARE(number(model, 0, ConnectionModel::MessagesOutColumn), 1);
    QCOMPARE(number(model, 0, ConnectionModel::BytesInColumn), 80);
    QCOMPARE(number(model, 0, ConnectionModel::BytesOutColumn), 120);

    // Keep-alive: the second request counts on, the route is the last one.
    model.addEvents(
            {exchange(1, QStringLiteral("get:/other"), 404, 70, 30, QStringLiteral("/other?q=1"))});
    model.flush();
    QCOMPARE(text(model, 0, ConnectionModel::RouteColumn), QStringLiteral("get:/other"));
    QCOMPARE(number(model, 0, ConnectionModel::MessagesInColumn), 2);
    QCOMPARE(number(model, 0, ConnectionModel::MessagesOutColumn), 2);
    QCOMPARE(number(model, 0, ConnectionModel::BytesInColumn), 150);
    QCOMPARE(number(model, 0, ConnectionModel::BytesOutColumn), 150);
    const QString tip = cell(model, 0, ConnectionModel::RouteColumn, Qt::ToolTipRole).toString();
    QVERIFY2(tip.contains(QStringLiteral("GET /other?q=1 → 404")), qPrintable(tip));
    QCOMPARE(cell(model, 0, ConnectionModel::MessagesInColumn, Qt::ToolTipRole).toString(),
             QStringLiteral("2 request(s)"));

    model.addEvents({closed(1)});
    model.flush();
    QCOMPARE(model.rowCount(), 0);
    QCOMPARE(model.rowOf(1), -1);
}

void tst_ConnectionModel::webSocketConnection()
{
    ConnectionModel model;
    const auto check = tester(&model);

    model.addEvents({opened(7), exchange(7, QStringLiteral("get:/page"), 200, 100, 200)});
    model.flush();
    QCOMPARE(number(model, 0, ConnectionModel::MessagesInColumn), 1);

    model.addEvents({webSocketOpened(7, QStringLiteral("ws:/echo"), QStringLiteral("/echo?room=a"),
                                     QStringLiteral("chat"))});
    model.flush();
    QCOMPARE(text(model, 0, ConnectionModel::KindColumn), QStringLiteral("WebSocket"));
    QCOMPARE(text(model, 0, ConnectionModel::RouteColumn), QStringLiteral("ws:/echo"));
    QCOMPARE(text(model, 0, ConnectionModel::SubprotocolColumn), QStringLiteral("chat"));
    QVERIFY(cell(model, 0, ConnectionModel::RouteColumn, Qt::ToolTipRole)
                    .toString()
                    .contains(QStringLiteral("/echo?room=a")));
    // The counts start again with the WebSocket.
    QCOMPARE(number(model, 0, ConnectionModel::MessagesInColumn), 0);
    QCOMPARE(number(model, 0, ConnectionModel::BytesInColumn), 0);

    model.addEvents({
            message(7, Direction::Incoming, Opcode::Text, 5),
            message(7, Direction::Outgoing, Opcode::Text, 5),
            message(7, Direction::Incoming, Opcode::Binary, 3),
            message(7, Direction::Incoming, Opcode::Ping, 4),
            message(7, Direction::Outgoing, Opcode::Pong, 4),
    });
    model.flush();
    // Control frames are not messages, but their bytes count.
    QCOMPARE(number(model, 0, ConnectionModel::MessagesInColumn), 2);
    QCOMPARE(number(model, 0, ConnectionModel::MessagesOutColumn), 1);
    QCOMPARE(number(model, 0, ConnectionModel::BytesInColumn), 12);
    QCOMPARE(number(model, 0, ConnectionModel::BytesOutColumn), 9);
    QCOMPARE(cell(model, 0, ConnectionModel::MessagesInColumn).toLongLong(), 2);
    const QString tip
            = cell(model, 0, ConnectionModel::MessagesInColumn, Qt::ToolTipRole).toString();
    QVERIFY2(tip.contains(QStringLiteral("2 data messages"))
                     && tip.contains(QStringLiteral("1 control frames")),
             qPrintable(tip));

    // The core's final counts win over ours.
    MonitorEvent bye = webSocketClosed(7, 1000, QStringLiteral("bye"), kTimeUs + 3'700'000'000);
    bye.messagesIn = 3;
    bye.messagesOut = 1;
    bye.bytesIn = 20;
    bye.bytesOut = 9;
    model.addEvents({bye});
    model.flush();
    QCOMPARE(model.rowCount(), 1);
    QCOMPARE(text(model, 0, ConnectionModel::StateColumn), QStringLiteral("closing (1000)"));
    QVERIFY(cell(model, 0, ConnectionModel::StateColumn, Qt::ToolTipRole)
                    .toString()
                    .contains(QStringLiteral("bye")));
    QCOMPARE(number(model, 0, ConnectionModel::MessagesInColumn), 3);
    QCOMPARE(number(model, 0, ConnectionModel::BytesInColumn), 20);
    // The duration stops at the close: 1h 01m 40s after the open.
    QCOMPARE(number(model, 0, ConnectionModel::DurationColumn), 3'700'000'000);
    QCOMPARE(text(model, 0, ConnectionModel::DurationColumn), QStringLiteral("1h 01m 40s"));

    model.addEvents({closed(7)});
    model.flush();
    QCOMPARE(model.rowCount(), 0);
}

void tst_ConnectionModel::webSocketCloseRemovesTheRow()
{
    // As the core posts them: WebSocketClosed, then ConnectionClosed.
    ConnectionModel model;
    const auto check = tester(&model);
    model.addEvents({opened(1), opened(2), opened(3)});
    model.addEvents({webSocketOpened(2, QStringLiteral("ws:/a"), QStringLiteral("/a"), {})});
    model.flush();
    QCOMPARE(model.rowCount(), 3);
    QSignalSpy removed(&model, &QAbstractItemModel::rowsRemoved);
    model.addEvents({webSocketClosed(2, 1001, QString(), kTimeUs + 65'000'000), closed(2)});
    model.flush();
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(removed.size(), 1);
    QCOMPARE(removed.at(0).at(1).toInt(), 1);
    QCOMPARE(model.rowOf(2), -1);
    QCOMPARE(model.rowOf(3), 1);

    // Events that follow a close are not a new connection.
    model.addEvents({closed(3), exchange(3, QStringLiteral("/late"), 200, 1, 1)});
    model.flush();
    QCOMPARE(model.rowCount(), 1);
    QCOMPARE(model.rowOf(3), -1);
}

void tst_ConnectionModel::lateAttach()
{
    // Connections that opened before the model listened.
    ConnectionModel model;
    const auto check = tester(&model);
    model.addEvents({exchange(42, QStringLiteral("get:/x"), 200, 10, 20),
                     webSocketOpened(43, QStringLiteral("ws:/y"), QStringLiteral("/y"), {}),
                     message(44, Direction::Incoming, Opcode::Text, 3), closed(45)});
    model.flush();
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(text(model, model.rowOf(42), ConnectionModel::KindColumn), QStringLiteral("HTTP"));
    QCOMPARE(text(model, model.rowOf(42), ConnectionModel::PeerColumn),
             QStringLiteral("127.0.0.1:40042"));
    QCOMPARE(text(model, model.rowOf(43), ConnectionModel::KindColumn),
             QStringLiteral("WebSocket"));
    QCOMPARE(model.rowOf(44), -1);
}

void tst_ConnectionModel::batching()
{
    ConnectionModel model;
    const auto check = tester(&model);
    QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
    QSignalSpy removed(&model, &QAbstractItemModel::rowsRemoved);

    // Many batches within one tick make one insert.
    for (quint64 id = 1; id <= 500; id += 50) {
        QList<MonitorEvent> batch;
        for (quint64 i = id; i < id + 50; ++i)
            batch.append(opened(i));
        model.addEvents(batch);
    }
    // Opened and closed within the tick: never shown.
    model.addEvents({opened(1000), exchange(1000, QStringLiteral("/"), 200, 1, 1), closed(1000)});
    QCOMPARE(model.rowCount(), 0);
    QTRY_COMPARE_WITH_TIMEOUT(model.rowCount(), 500, 2000);
    QCOMPARE(inserted.size(), 1);
    QCOMPARE(inserted.at(0).at(1).toInt(), 0);
    QCOMPARE(inserted.at(0).at(2).toInt(), 499);
    QCOMPARE(model.rowOf(1000), -1);
    QCOMPARE(changed.size(), 0);

    // Updates to many rows: one dataChanged, spanning them.
    QList<MonitorEvent> updates;
    for (quint64 id = 10; id <= 300; id += 7)
        updates.append(exchange(id, QStringLiteral("/u"), 200, 1, 1));
    model.addEvents(updates);
    QTRY_COMPARE_WITH_TIMEOUT(changed.size(), 1, 2000);
    QCOMPARE(changed.at(0).at(0).toModelIndex().row(), 9);
    QCOMPARE(changed.at(0).at(1).toModelIndex().row(), 9 + 41 * 7);
    QCOMPARE(removed.size(), 0);

    // Closes of adjacent rows: one removal; opens and closes together.
    QList<MonitorEvent> mixed;
    for (quint64 id = 101; id <= 200; ++id)
        mixed.append(closed(id));
    for (quint64 id = 501; id <= 520; ++id)
        mixed.append(opened(id));
    inserted.clear();
    model.addEvents(mixed);
    model.flush();
    QCOMPARE(removed.size(), 1);
    QCOMPARE(removed.at(0).at(1).toInt(), 100);
    QCOMPARE(removed.at(0).at(2).toInt(), 199);
    QCOMPARE(inserted.size(), 1);
    QCOMPARE(model.rowCount(), 420);
    QCOMPARE(model.rowOf(201), 100);
    QCOMPARE(model.rowOf(520), 419);
}

void tst_ConnectionModel::scatteredRemovals()
{
    ConnectionModel model;
    const auto check = tester(&model);
    QList<MonitorEvent> opens;
    for (quint64 id = 1; id <= 50; ++id)
        opens.append(opened(id));
    model.addEvents(opens);
    model.flush();

    QSignalSpy removed(&model, &QAbstractItemModel::rowsRemoved);
    // The row of a connection is right even while the removals go out.
    connect(&model, &QAbstractItemModel::rowsRemoved, this, [&model] {
        for (int row = 0; row < model.rowCount(); ++row)
            QCOMPARE(model.rowOf(model.connectionId(row)), row);
    });
    model.addEvents({closed(3), closed(4), closed(5), closed(20), closed(50), closed(1)});
    model.flush();
    QCOMPARE(removed.size(), 4);
    QCOMPARE(model.rowCount(), 44);
    QSet<quint64> left;
    for (int row = 0; row < model.rowCount(); ++row) {
        left.insert(model.connectionId(row));
        QCOMPARE(model.rowOf(model.connectionId(row)), row);
    }
    for (quint64 gone : {1, 3, 4, 5, 20, 50})
        QVERIFY(!left.contains(gone));
    QCOMPARE(model.connectionId(0), quint64(2));
}

void tst_ConnectionModel::pendingCapacityFlushesEarly()
{
    ConnectionModel model;
    model.setFlushInterval(60000);
    model.setPendingCapacity(10);
    QList<MonitorEvent> opens;
    for (quint64 id = 1; id <= 25; ++id)
        opens.append(opened(id));
    model.addEvents(opens);
    // Two full queues went in at once; the rest waits for the tick.
    QCOMPARE(model.rowCount(), 20);
    model.flush();
    QCOMPARE(model.rowCount(), 25);
    // Events the model has no use for do not fill the queue.
    MonitorEvent room;
    room.type = Type::RoomJoined;
    model.addEvents(QList<MonitorEvent>(30, room));
    QCOMPARE(model.rowCount(), 25);
}

void tst_ConnectionModel::fedFromItsOwnSignals()
{
    ConnectionModel model;
    const auto check = tester(&model);
    model.setPendingCapacity(1);
    // A receiver that reacts to rows going by feeding more: that waits for
    // the next tick rather than change rows under the flush.
    quint64 next = 100;
    connect(&model, &QAbstractItemModel::rowsRemoved, &model, [&] {
        if (next < 103)
            model.addEvents({opened(next++)});
    });
    bool cleared = false;
    connect(&model, &QAbstractItemModel::rowsInserted, &model, [&] {
        if (model.rowOf(102) >= 0 && !cleared) {
            cleared = true;
            model.clear();
        }
    });
    model.addEvents({opened(1), opened(2), opened(3)});
    QCOMPARE(model.rowCount(), 3);
    model.addEvents({closed(1)});
    QCOMPARE(model.rowCount(), 2);
    QTRY_COMPARE_WITH_TIMEOUT(model.rowOf(100), 2, 2000);
    model.addEvents({closed(2), closed(3)});
    QTRY_VERIFY_WITH_TIMEOUT(cleared, 2000);
    QTRY_COMPARE_WITH_TIMEOUT(model.rowCount(), 0, 2000);
}

void tst_ConnectionModel::cap()
{
    ConnectionModel model;
    QCOMPARE(model.capacity(), 100000);
    const auto check = tester(&model);
    model.setCapacity(10);
    QSignalSpy dropped(&model, &ConnectionModel::droppedCountChanged);
    QList<MonitorEvent> opens;
    for (quint64 id = 1; id <= 15; ++id)
        opens.append(opened(id));
    model.addEvents(opens);
    model.flush();
    QCOMPARE(model.rowCount(), 10);
    QCOMPARE(model.hiddenCount(), 5);
    QCOMPARE(model.droppedCount(), quint64(5));
    QCOMPARE(dropped.size(), 1);
    QCOMPARE(dropped.at(0).at(0).toULongLong(), quint64(5));
    QCOMPARE(model.rowOf(10), 9);
    QCOMPARE(model.rowOf(11), -1);

    // A hidden connection stays hidden, whatever it does.
    model.addEvents({exchange(12, QStringLiteral("/x"), 200, 1, 1),
                     webSocketOpened(13, QStringLiteral("ws:/y"), QStringLiteral("/y"), {})});
    model.flush();
    QCOMPARE(model.rowCount(), 10);
    QCOMPARE(model.rowOf(12), -1);
    model.addEvents({closed(12), closed(13)});
    model.flush();
    QCOMPARE(model.hiddenCount(), 3);
    QCOMPARE(model.rowCount(), 10);

    // Room again: the next connection shows.
    model.addEvents({closed(1), closed(2), opened(100), opened(101), opened(102)});
    model.flush();
    QCOMPARE(model.rowCount(), 10);
    QCOMPARE(model.rowOf(100), 8);
    QCOMPARE(model.rowOf(101), 9);
    QCOMPARE(model.rowOf(102), -1);
    QCOMPARE(model.droppedCount(), quint64(6));
    QCOMPARE(model.hiddenCount(), 4);
    QCOMPARE(dropped.size(), 2);
}

void tst_ConnectionModel::rolesForAProxy()
{
    ConnectionModel model;
    model.addEvents({opened(1), opened(2), opened(3), opened(4),
                     exchange(1, QStringLiteral("get:/b"), 200, 100, 1),
                     exchange(2, QStringLiteral("get:/a"), 200, 9, 1),
                     exchange(3, QStringLiteral("get:/a"), 200, 10, 1),
                     webSocketOpened(4, QStringLiteral("ws:/a"), QStringLiteral("/a"), {})});
    model.flush();
    QCOMPARE(model.rowCount(), 4);

    const QVariant bytes
            = cell(model, 0, ConnectionModel::BytesInColumn, ConnectionModel::SortRole);
    QCOMPARE(bytes.userType(), QMetaType::LongLong);
    QCOMPARE(bytes.toLongLong(), 100);
    QCOMPARE(cell(model, 0, ConnectionModel::BytesInColumn, Qt::ToolTipRole).toString(),
             QStringLiteral("100 bytes"));
    QCOMPARE(cell(model, 0, ConnectionModel::BytesInColumn, Qt::TextAlignmentRole).toInt(),
             int(Qt::AlignRight | Qt::AlignVCenter));
    QCOMPARE(cell(model, 0, ConnectionModel::PeerColumn, Qt::TextAlignmentRole).toInt(),
             int(Qt::AlignLeft | Qt::AlignVCenter));
    QCOMPARE(cell(model, 2, ConnectionModel::RouteColumn, ConnectionModel::ConnectionIdRole)
                     .toULongLong(),
             quint64(3));
    QCOMPARE(cell(model, 3, ConnectionModel::IdColumn, ConnectionModel::KindRole).toInt(),
             int(ConnectionModel::Kind::WebSocket));

    QSortFilterProxyModel proxy;
    const auto check = tester(&proxy);
    proxy.setSourceModel(&model);
    proxy.setSortRole(ConnectionModel::SortRole);
    proxy.sort(ConnectionModel::BytesInColumn, Qt::AscendingOrder);
    // 0, 9, 10, 100: as numbers, not as "100 bytes" < "9 bytes".
    QList<quint64> order;
    for (int row = 0; row < proxy.rowCount(); ++row)
        order.append(proxy.index(row, 0).data(ConnectionModel::ConnectionIdRole).toULongLong());
    QCOMPARE(order, QList<quint64>({4, 2, 3, 1}));

    proxy.setFilterKeyColumn(ConnectionModel::RouteColumn);
    proxy.setFilterFixedString(QStringLiteral("/a"));
    QCOMPARE(proxy.rowCount(), 3);

    // The proxy follows the model's batches.
    model.addEvents({closed(2), exchange(1, QStringLiteral("get:/a"), 200, 1, 1)});
    model.flush();
    QCOMPARE(proxy.rowCount(), 3);
    QCOMPARE(proxy.index(2, 0).data(ConnectionModel::ConnectionIdRole).toULongLong(), quint64(1));
}

void tst_ConnectionModel::durationTicksWhileThereAreRows()
{
    ConnectionModel model;
    const auto check = tester(&model);
    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
    QTest::qWait(1300);
    QCOMPARE(changed.size(), 0); // no rows, no tick

    model.addEvents({opened(1, MonitorEvent::now() - 65'000'000), opened(2)});
    model.flush();
    QCOMPARE(text(model, 0, ConnectionModel::DurationColumn), QStringLiteral("1m 05s"));
    QVERIFY(number(model, 0, ConnectionModel::DurationColumn) >= 65'000'000);
    QTRY_VERIFY_WITH_TIMEOUT(changed.size() >= 1, 2500);
    const QModelIndex topLeft = changed.at(0).at(0).toModelIndex();
    const QModelIndex bottomRight = changed.at(0).at(1).toModelIndex();
    QCOMPARE(topLeft, model.index(0, ConnectionModel::DurationColumn));
    QCOMPARE(bottomRight, model.index(1, ConnectionModel::DurationColumn));

    model.addEvents({closed(1), closed(2)});
    model.flush();
    QCOMPARE(model.rowCount(), 0);
    const qsizetype ticks = changed.size();
    QTest::qWait(1300);
    QCOMPARE(changed.size(), ticks);
}

void tst_ConnectionModel::clear()
{
    ConnectionModel model;
    const auto check = tester(&model);
    model.setCapacity(2);
    model.addEvents({opened(1), opened(2), opened(3)});
    model.flush();
    model.addEvents({opened(4)}); // pending
    QCOMPARE(model.droppedCount(), quint64(1));
    QSignalSpy reset(&model, &QAbstractItemModel::modelReset);
    QSignalSpy dropped(&model, &ConnectionModel::droppedCountChanged);
    model.clear();
    QCOMPARE(reset.size(), 1);
    QCOMPARE(model.rowCount(), 0);
    QCOMPARE(model.hiddenCount(), 0);
    QCOMPARE(model.droppedCount(), quint64(0));
    QCOMPARE(dropped.size(), 1);
    model.flush();
    QCOMPARE(model.rowCount(), 0); // the pending open went too
    // A connection that was hidden comes back on its next exchange.
    model.addEvents({exchange(3, QStringLiteral("/"), 200, 1, 1)});
    model.flush();
    QCOMPARE(model.rowOf(3), 0);
}

void tst_ConnectionModel::endToEnd()
{
    sluice::Server server;
    // The held request below is finished from this thread: its handler must
    // run here too.
    QVERIFY(server.setWorkerCount(1));
    QPointer<sluice::HttpConnect> slow;
    QVERIFY(server.map(QStringLiteral("ws:/echo"), sluice::handlers::echo()));
    QVERIFY(server.map(QStringLiteral("get:/hello/(?<name>[^/]+)"), sluice::handlers::hello()));
    QVERIFY(server.map(QStringLiteral("get:/slow"), [&slow](sluice::HttpConnect &c) {
        c.defer();
        slow = &c;
    }));
    QVERIFY2(server.listen(QHostAddress::LocalHost, 0), qPrintable(server.errorString()));
    const quint16 port = server.serverPort();

    ConnectionModel model;
    const auto check = tester(&model);
    connect(server.monitor(), &sluice::Monitor::eventsPosted, &model, &ConnectionModel::addEvents);

    wstestclient::Client clients[3];
    for (auto &client : clients)
        QVERIFY2(client.open(port, QStringLiteral("/echo")), qPrintable(client.errorString()));
    // The TCP connection shows first, the handshake makes it a WebSocket.
    const auto webSockets = [&model] {
        int count = 0;
        for (int row = 0; row < model.rowCount(); ++row)
            count += cell(model, row, 0, ConnectionModel::KindRole).toInt()
                     == int(ConnectionModel::Kind::WebSocket);
        return count;
    };
    QTRY_COMPARE_WITH_TIMEOUT(webSockets(), 3, 5000);
    QCOMPARE(model.rowCount(), 3);

    const auto rowOfClient = [&model](wstestclient::Client &client) {
        const QString peer = QStringLiteral("127.0.0.1:%1").arg(client.socket().localPort());
        for (int row = 0; row < model.rowCount(); ++row) {
            if (text(model, row, ConnectionModel::PeerColumn) == peer)
                return row;
        }
        return -1;
    };
    for (auto &client : clients) {
        const int row = rowOfClient(client);
        QVERIFY(row >= 0);
        QCOMPARE(text(model, row, ConnectionModel::KindColumn), QStringLiteral("WebSocket"));
        QCOMPARE(text(model, row, ConnectionModel::RouteColumn), QStringLiteral("ws:/echo"));
        QCOMPARE(text(model, row, ConnectionModel::StateColumn), QStringLiteral("open"));
        QVERIFY(model.rowOf(model.connectionId(row)) == row);
    }

    clients[0].socket().sendTextMessage(QStringLiteral("one"));
    clients[0].socket().sendTextMessage(QStringLiteral("two"));
    clients[1].socket().sendBinaryMessage(QByteArray("abcd"));
    QVERIFY(clients[0].waitForCount(2));
    QVERIFY(clients[1].waitForCount(1));
    QTRY_COMPARE_WITH_TIMEOUT(
            number(model, rowOfClient(clients[0]), ConnectionModel::MessagesOutColumn), 2, 5000);
    QCOMPARE(number(model, rowOfClient(clients[0]), ConnectionModel::MessagesInColumn), 2);
    QCOMPARE(number(model, rowOfClient(clients[0]), ConnectionModel::BytesInColumn), 6);
    QCOMPARE(number(model, rowOfClient(clients[0]), ConnectionModel::BytesOutColumn), 6);
    QTRY_COMPARE_WITH_TIMEOUT(
            number(model, rowOfClient(clients[1]), ConnectionModel::MessagesOutColumn), 1, 5000);
    QCOMPARE(number(model, rowOfClient(clients[1]), ConnectionModel::BytesInColumn), 4);
    QCOMPARE(number(model, rowOfClient(clients[2]), ConnectionModel::MessagesInColumn), 0);

    clients[2].socket().close();
    QTRY_COMPARE_WITH_TIMEOUT(model.rowCount(), 2, 5000);
    QVERIFY(rowOfClient(clients[0]) >= 0);
    QVERIFY(rowOfClient(clients[1]) >= 0);

    // curl: one connection, a quick request and one the server holds.
    QProcess curl;
    const QString base = QStringLiteral("http://127.0.0.1:%1").arg(port);
    curl.start(QStringLiteral("curl"),
               {QStringLiteral("-sS"), base + QStringLiteral("/hello/model"),
                base + QStringLiteral("/slow")});
    QVERIFY2(curl.waitForStarted(10000), qPrintable(curl.errorString()));
    QTRY_VERIFY_WITH_TIMEOUT(slow, 10000);
    const auto findHttpRow = [&model] {
        for (int row = 0; row < model.rowCount(); ++row) {
            if (cell(model, row, 0, ConnectionModel::KindRole).toInt()
                == int(ConnectionModel::Kind::Http))
                return row;
        }
        return -1;
    };
    QTRY_VERIFY_WITH_TIMEOUT(findHttpRow() >= 0, 5000);
    QCOMPARE(model.rowCount(), 3);
    const int httpRow = findHttpRow();
    QCOMPARE(text(model, httpRow, ConnectionModel::RouteColumn),
             QStringLiteral("get:/hello/(?<name>[^/]+)"));
    QCOMPARE(number(model, httpRow, ConnectionModel::MessagesInColumn), 1);
    QVERIFY(number(model, httpRow, ConnectionModel::BytesOutColumn) > 0);

    slow->response().end("done\n");
    QTRY_COMPARE_WITH_TIMEOUT(curl.state(), QProcess::NotRunning, 10000);
    QCOMPARE(curl.exitCode(), 0);
    QCOMPARE(curl.readAllStandardOutput(), QByteArray("Hello model\ndone\n"));
    QTRY_COMPARE_WITH_TIMEOUT(model.rowCount(), 2, 5000);
    QVERIFY(rowOfClient(clients[0]) >= 0);
}

QTEST_MAIN(tst_ConnectionModel)
#include "tst_connectionmodel.moc"
