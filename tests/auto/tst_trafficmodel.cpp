#include <sluice/handlers.h>
#include <sluice/monitor.h>
#include <sluice/server.h>
#include <sluiceui/trafficmodel.h>

#include <QtCore/QBuffer>
#include <QtCore/QDateTime>
#include <QtCore/QElapsedTimer>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QProcess>
#include <QtTest/QAbstractItemModelTester>
#include <QtTest/QtTest>

#include <memory>

#include "trafficevents.h"

using sluice::TrafficModel;
using RowType = TrafficModel::RowType;
using namespace trafficevents;

namespace {

constexpr int kTimeout = 15000;

MonitorEvent http(quint64 connection, const QByteArray &method, const QString &target, int status,
                  qint64 bytesOut = 120, qint64 durationUs = 2500, qint64 timeUs = 0)
{
    MonitorEvent event;
    event.type = Type::HttpExchange;
    event.connectionId = connection;
    event.method = method;
    event.target = target;
    event.status = status;
    event.bytesIn = 80;
    event.bytesOut = bytesOut;
    event.durationUs = durationUs;
    event.timeUs = timeUs ? timeUs : baseUs();
    return event;
}

MonitorEvent opened(quint64 connection, const QString &target, qint64 timeUs = 0)
{
    MonitorEvent event;
    event.type = Type::WebSocketOpened;
    event.connectionId = connection;
    event.target = target;
    event.timeUs = timeUs ? timeUs : baseUs();
    return event;
}

MonitorEvent closed(quint64 connection, int code, const QString &reason, qint64 timeUs = 0)
{
    MonitorEvent event;
    event.type = Type::WebSocketClosed;
    event.connectionId = connection;
    event.closeCode = code;
    event.reason = reason;
    event.target = QStringLiteral("/echo");
    event.timeUs = timeUs ? timeUs : baseUs();
    return event;
}

QString display(const TrafficModel &model, int row, int column)
{
    return model.data(model.index(row, column)).toString();
}

quint64 connectionAt(const TrafficModel &model, int row)
{
    return model.data(model.index(row, 0), TrafficModel::ConnectionIdRole).toULongLong();
}

void attachTester(TrafficModel *model)
{
    new QAbstractItemModelTester(model, QAbstractItemModelTester::FailureReportingMode::QtTest,
                                 model);
}

QList<QJsonObject> jsonLines(const QByteArray &data)
{
    QList<QJsonObject> objects;
    const QList<QByteArray> lines = data.split('\n');
    for (const QByteArray &line : lines) {
        if (line.isEmpty())
            continue;
        QJsonParseError error;
        const QJsonDocument document = QJsonDocument::fromJson(line, &error);
        if (error.error != QJsonParseError::NoError || !document.isObject())
            return {};
        objects.append(document.object());
    }
    return objects;
}

QJsonObject harLog(const TrafficModel &model)
{
    QBuffer buffer;
    buffer.open(QIODevice::WriteOnly);
    if (!model.exportHar(&buffer))
        return {};
    QJsonParseError error;
    const QJsonDocument document = QJsonDocument::fromJson(buffer.data(), &error);
    if (error.error != QJsonParseError::NoError)
        return {};
    return document.object().value(QStringLiteral("log")).toObject();
}

QJsonArray webSocketMessages(const QJsonArray &entries, quint64 connection)
{
    for (const QJsonValue &entry : entries) {
        const QJsonObject object = entry.toObject();
        if (object.value(QStringLiteral("_resourceType")).toString() == QLatin1String("websocket")
            && object.value(QStringLiteral("connection")).toString() == QString::number(connection))
            return object.value(QStringLiteral("_webSocketMessages")).toArray();
    }
    return {};
}

} // namespace

class tst_TrafficModel : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();

    void columnsOfEachKind();
    void timeIsLocal();
    void textPreview();
    void binaryPreview();
    void roles();
    void headers();
    void otherEventsAreIgnored();

    void batchingOneInsertPerFlush();
    void timerFlushes();
    void capacityDropsOldest();
    void capacityDropRemovesOnlyShownRows();
    void payloadBudgetDropsOldest();
    void pendingQueueIsBounded();
    void shrinkingCapacityDrops();

    void textFilterMatchesWholePayload();
    void textFilterCaseSensitivity();
    void textFilterMatchesHttpTarget();
    void regexFilter();
    void invalidRegexShowsAll();
    void directionFilter();
    void connectionFilter();
    void hideControlFrames();
    void typeFilter();
    void newRowsPassThroughFilter();

    void pauseCountsMissed();
    void clearResetsEverything();

    void exportJsonLines();
    void exportJsonLinesFiltered();
    void exportJsonLinesFailsOnClosedDevice();
    void exportHar();
    void exportHarWithDroppedOpen();

    void throughput();
    void endToEnd();
};

void tst_TrafficModel::initTestCase()
{
    QVERIFY(QFile::exists(QStringLiteral("/usr/bin/python3")));
}

void tst_TrafficModel::columnsOfEachKind()
{
    TrafficModel model;
    attachTester(&model);
    model.addEvents({http(1, "GET", QStringLiteral("/path?q=%2F"), 200, 345),
                     opened(2, QStringLiteral("/echo")), text(2, Direction::Incoming, "hi"),
                     text(2, Direction::Outgoing, "hi"),
                     message(2, Direction::Incoming, Opcode::Binary, QByteArray("\x01\x02", 2)),
                     message(2, Direction::Outgoing, Opcode::Ping, "p"),
                     message(2, Direction::Incoming, Opcode::Pong, "p"),
                     message(2, Direction::Outgoing, Opcode::Close, "bye"),
                     closed(2, 1000, QStringLiteral("bye"))});
    model.flush();
    QCOMPARE(model.rowCount(), 9);
    QCOMPARE(model.columnCount(), 6);

    const QStringList types {
            QStringLiteral("HTTP"), QStringLiteral("open"),   QStringLiteral("text"),
            QStringLiteral("text"), QStringLiteral("binary"), QStringLiteral("ping"),
            QStringLiteral("pong"), QStringLiteral("close"),  QStringLiteral("closed")};
    const QStringList arrows {QString(),           QString(),           QStringLiteral("↓"),
                              QStringLiteral("↑"), QStringLiteral("↓"), QStringLiteral("↑"),
                              QStringLiteral("↓"), QStringLiteral("↑"), QString()};
    const QStringList sizes {QStringLiteral("345"), QString(),           QStringLiteral("2"),
                             QStringLiteral("2"),   QStringLiteral("2"), QStringLiteral("1"),
                             QStringLiteral("1"),   QStringLiteral("3"), QString()};
    for (int row = 0; row < 9; ++row) {
        QCOMPARE(display(model, row, TrafficModel::TypeColumn), types.at(row));
        QCOMPARE(display(model, row, TrafficModel::DirectionColumn), arrows.at(row));
        QCOMPARE(display(model, row, TrafficModel::SizeColumn), sizes.at(row));
        QCOMPARE(model.rowType(row),
                 RowType(model.data(model.index(row, 0), TrafficModel::TypeRole).toInt()));
    }
    QCOMPARE(display(model, 0, TrafficModel::ConnectionColumn), QStringLiteral("1"));
    QCOMPARE(display(model, 2, TrafficModel::ConnectionColumn), QStringLiteral("2"));
    // The "%2F" stays as it is: no placeholder games with the target.
    QCOMPARE(display(model, 0, TrafficModel::PreviewColumn),
             QStringLiteral("GET /path?q=%2F → 200"));
    QCOMPARE(display(model, 1, TrafficModel::PreviewColumn), QStringLiteral("/echo"));
    QCOMPARE(display(model, 2, TrafficModel::PreviewColumn), QStringLiteral("hi"));
    QCOMPARE(display(model, 4, TrafficModel::PreviewColumn), QStringLiteral("01 02"));
    QCOMPARE(display(model, 5, TrafficModel::PreviewColumn), QStringLiteral("p"));
    QCOMPARE(display(model, 7, TrafficModel::PreviewColumn), QStringLiteral("bye"));
    QCOMPARE(display(model, 8, TrafficModel::PreviewColumn), QStringLiteral("1000 bye"));
}

void tst_TrafficModel::timeIsLocal()
{
    TrafficModel model;
    attachTester(&model);
    model.addEvents({text(1, Direction::Incoming, "x")});
    model.flush();
    QCOMPARE(display(model, 0, TrafficModel::TimeColumn), QStringLiteral("13:14:15.678"));
    QVERIFY(model.data(model.index(0, TrafficModel::TimeColumn), Qt::ToolTipRole)
                    .toString()
                    .startsWith(QStringLiteral("2024-05-06 13:14:15.678")));
}

void tst_TrafficModel::textPreview()
{
    TrafficModel model;
    attachTester(&model);
    QByteArray longText;
    for (int i = 0; i < 30; ++i)
        longText += "word" + QByteArray::number(i) + ' ';
    // Capped by the monitor: 8 bytes kept of 50.
    model.addEvents({text(1, Direction::Incoming, "line one\nline two\r\nend"),
                     text(1, Direction::Incoming, longText),
                     message(1, Direction::Incoming, Opcode::Text, "12345678", 50),
                     text(1, Direction::Incoming, "h\xc3\xa9llo \xe2\x98\x83")});
    model.flush();
    QCOMPARE(display(model, 0, TrafficModel::PreviewColumn),
             QStringLiteral("line one⏎line two⏎end"));
    // The tooltip keeps the newlines.
    QCOMPARE(model.data(model.index(0, TrafficModel::PreviewColumn), Qt::ToolTipRole).toString(),
             QStringLiteral("line one\nline two\r\nend"));

    const QString preview = display(model, 1, TrafficModel::PreviewColumn);
    QCOMPARE(preview.size(), TrafficModel::PreviewLength + 1);
    QVERIFY(preview.endsWith(QStringLiteral("…")));
    QVERIFY(QString::fromUtf8(longText).startsWith(preview.chopped(1)));
    QCOMPARE(model.data(model.index(1, 0), TrafficModel::PayloadRole).toByteArray(), longText);
    QCOMPARE(model.data(model.index(1, TrafficModel::PreviewColumn), Qt::ToolTipRole).toString(),
             QString::fromUtf8(longText));

    QCOMPARE(display(model, 2, TrafficModel::PreviewColumn), QStringLiteral("12345678…"));
    QCOMPARE(display(model, 2, TrafficModel::SizeColumn), QStringLiteral("50"));
    QVERIFY(model.data(model.index(2, TrafficModel::SizeColumn), Qt::ToolTipRole)
                    .toString()
                    .contains(QStringLiteral("8")));
    QCOMPARE(display(model, 3, TrafficModel::PreviewColumn), QStringLiteral("héllo ☃"));
    QCOMPARE(display(model, 3, TrafficModel::SizeColumn), QStringLiteral("10"));
}

void tst_TrafficModel::binaryPreview()
{
    TrafficModel model;
    attachTester(&model);
    QByteArray everyByte;
    for (int i = 0; i < 256; ++i)
        everyByte.append(char(i));
    model.addEvents({message(1, Direction::Outgoing, Opcode::Binary, QByteArray("\x00\xff\x10", 3)),
                     message(1, Direction::Outgoing, Opcode::Binary, everyByte),
                     message(1, Direction::Incoming, Opcode::Pong, QByteArray("\xc3\x28", 2))});
    model.flush();
    QCOMPARE(display(model, 0, TrafficModel::PreviewColumn), QStringLiteral("00 ff 10"));
    const QString preview = display(model, 1, TrafficModel::PreviewColumn);
    QVERIFY(preview.startsWith(QStringLiteral("00 01 02 03")));
    QVERIFY(preview.endsWith(QStringLiteral("…")));
    QVERIFY(preview.size() <= TrafficModel::PreviewLength + 1);
    QVERIFY(preview.size() >= TrafficModel::PreviewLength - 3);
    QCOMPARE(display(model, 1, TrafficModel::SizeColumn), QStringLiteral("256"));
    // Not UTF-8: a pong payload shows as hex too.
    QCOMPARE(display(model, 2, TrafficModel::PreviewColumn), QStringLiteral("c3 28"));
}

void tst_TrafficModel::roles()
{
    TrafficModel model;
    attachTester(&model);
    const MonitorEvent sent
            = message(7, Direction::Outgoing, Opcode::Binary, "abc", -1, baseUs() + 5);
    model.addEvents({sent, http(8, "POST", QStringLiteral("/form"), 201)});
    model.flush();
    const QModelIndex first = model.index(0, TrafficModel::PreviewColumn);

    const QVariant eventVariant = model.data(first, TrafficModel::EventRole);
    QVERIFY(eventVariant.canConvert<MonitorEvent>());
    const MonitorEvent back = eventVariant.value<MonitorEvent>();
    QCOMPARE(back.connectionId, quint64(7));
    QCOMPARE(back.payload, QByteArray("abc"));
    QCOMPARE(back.timeUs, baseUs() + 5);
    QCOMPARE(back.opcode, Opcode::Binary);
    QCOMPARE(model.event(0).payload, QByteArray("abc"));

    QCOMPARE(model.data(first, TrafficModel::PayloadRole).toByteArray(), QByteArray("abc"));
    QCOMPARE(model.data(first, TrafficModel::ConnectionIdRole).toULongLong(), quint64(7));
    QCOMPARE(model.data(first, TrafficModel::DirectionRole).toInt(), int(Direction::Outgoing));
    QCOMPARE(model.data(first, TrafficModel::TypeRole).toInt(), int(RowType::Binary));
    QCOMPARE(model.data(model.index(1, 0), TrafficModel::TypeRole).toInt(), int(RowType::Http));
    QCOMPARE(model.data(model.index(1, 0), TrafficModel::DirectionRole).toInt(),
             int(Direction::None));

    const auto alignment = Qt::Alignment(
            model.data(model.index(0, TrafficModel::SizeColumn), Qt::TextAlignmentRole).toInt());
    QVERIFY(alignment & Qt::AlignRight);
    QVERIFY(!model.data(first, Qt::TextAlignmentRole).isValid());
    QVERIFY(!model.data(model.index(0, TrafficModel::PreviewColumn), Qt::ToolTipRole)
                     .toString()
                     .isEmpty());
    QVERIFY(model.data(model.index(1, TrafficModel::SizeColumn), Qt::ToolTipRole)
                    .toString()
                    .contains(QStringLiteral("120")));
    QVERIFY(!model.data(model.index(0, 0), Qt::DecorationRole).isValid());

    const QHash<int, QByteArray> names = model.roleNames();
    QCOMPARE(names.value(TrafficModel::EventRole), QByteArray("event"));
    QCOMPARE(names.value(TrafficModel::TypeRole), QByteArray("type"));
    QCOMPARE(names.value(Qt::DisplayRole), QByteArray("display"));
}

void tst_TrafficModel::headers()
{
    TrafficModel model;
    attachTester(&model);
    QStringList titles;
    for (int column = 0; column < model.columnCount(); ++column)
        titles << model.headerData(column, Qt::Horizontal).toString();
    QCOMPARE(titles, QStringList({QStringLiteral("Time"), QStringLiteral("Connection"),
                                  QStringLiteral("Direction"), QStringLiteral("Type"),
                                  QStringLiteral("Size"), QStringLiteral("Preview")}));
}

void tst_TrafficModel::otherEventsAreIgnored()
{
    TrafficModel model;
    attachTester(&model);
    QList<MonitorEvent> events;
    for (Type type : {Type::ConnectionOpened, Type::ConnectionClosed, Type::RoomJoined,
                      Type::RoomLeft, Type::Error}) {
        MonitorEvent event;
        event.type = type;
        events.append(event);
    }
    events.append(text(1, Direction::Incoming, "kept"));
    model.addEvents(events);
    QCOMPARE(model.pendingCount(), 1);
    model.flush();
    QCOMPARE(model.rowCount(), 1);
    QCOMPARE(model.droppedCount(), quint64(0));
}

void tst_TrafficModel::batchingOneInsertPerFlush()
{
    TrafficModel model;
    attachTester(&model);
    model.setFlushInterval(60000); // only flush() applies here
    QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);

    model.addEvents(numbered(10, 1));
    model.addEvents(numbered(10, 11));
    model.addEvents(numbered(10, 21));
    QCOMPARE(model.rowCount(), 0); // only queued
    QCOMPARE(model.pendingCount(), 30);
    QCOMPARE(inserted.count(), 0);

    model.flush();
    QCOMPARE(inserted.count(), 1);
    QCOMPARE(inserted.at(0).at(1).toInt(), 0);
    QCOMPARE(inserted.at(0).at(2).toInt(), 29);
    QCOMPARE(model.rowCount(), 30);
    QCOMPARE(model.pendingCount(), 0);
    for (int row = 0; row < 30; ++row)
        QCOMPARE(connectionAt(model, row), quint64(row + 1));

    model.flush(); // nothing queued, nothing inserted
    QCOMPARE(inserted.count(), 1);

    model.addEvents(numbered(5, 31));
    model.flush();
    QCOMPARE(inserted.count(), 2);
    QCOMPARE(inserted.at(1).at(1).toInt(), 30);
    QCOMPARE(inserted.at(1).at(2).toInt(), 34);
}

void tst_TrafficModel::timerFlushes()
{
    TrafficModel model;
    attachTester(&model);
    QCOMPARE(model.flushInterval(), TrafficModel::DefaultFlushInterval);
    model.setFlushInterval(20);
    QCOMPARE(model.flushInterval(), 20);
    QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);

    for (int i = 0; i < 5; ++i)
        model.addEvents(numbered(4, quint64(i * 4 + 1)));
    QCOMPARE(model.rowCount(), 0);
    QTRY_COMPARE_WITH_TIMEOUT(model.rowCount(), 20, kTimeout);
    // Queued within one interval: applied by one tick.
    QCOMPARE(inserted.count(), 1);
    QTest::qWait(60);
    QCOMPARE(inserted.count(), 1); // an idle model does not tick
}

void tst_TrafficModel::capacityDropsOldest()
{
    TrafficModel model;
    attachTester(&model);
    QCOMPARE(model.capacity(), TrafficModel::DefaultCapacity);
    model.setCapacity(5);
    QSignalSpy removed(&model, &QAbstractItemModel::rowsRemoved);
    QSignalSpy dropped(&model, &TrafficModel::droppedCountChanged);

    // Batches of 3 into 5 slots: the ring wraps several times.
    for (int batch = 0; batch < 4; ++batch) {
        model.addEvents(numbered(3, quint64(batch * 3 + 1)));
        model.flush();
    }
    QCOMPARE(model.rowCount(), 5);
    QCOMPARE(model.storedCount(), 5);
    QCOMPARE(model.droppedCount(), quint64(7));
    for (int row = 0; row < 5; ++row)
        QCOMPARE(connectionAt(model, row), quint64(8 + row));

    // One removal at the front per flush that overflowed (the 2nd to 4th).
    QCOMPARE(removed.count(), 3);
    for (const QList<QVariant> &arguments : std::as_const(removed))
        QCOMPARE(arguments.at(1).toInt(), 0);
    QCOMPARE(removed.at(0).at(2).toInt(), 0); // 1 row
    QCOMPARE(removed.at(1).at(2).toInt(), 2); // 3 rows
    QCOMPARE(dropped.count(), 3);
    QCOMPARE(dropped.last().at(0).toULongLong(), quint64(7));

    // Keeps going well past many wraps.
    for (int batch = 0; batch < 20; ++batch) {
        model.addEvents(numbered(4, quint64(100 + batch * 4)));
        model.flush();
    }
    QCOMPARE(model.rowCount(), 5);
    QCOMPARE(model.droppedCount(), quint64(7 + 80));
    for (int row = 0; row < 5; ++row)
        QCOMPARE(connectionAt(model, row), quint64(175 + row));
}

void tst_TrafficModel::payloadBudgetDropsOldest()
{
    TrafficModel model;
    attachTester(&model);
    QCOMPARE(model.payloadBudget(), TrafficModel::DefaultPayloadBudget);
    model.setPayloadBudget(10 * 1024);
    QSignalSpy dropped(&model, &TrafficModel::droppedCountChanged);

    // 100 messages of 1 KiB, in batches of 7: only the newest 10 fit.
    for (int i = 0; i < 100; i += 7) {
        QList<MonitorEvent> batch;
        for (int j = i; j < qMin(i + 7, 100); ++j)
            batch.append(text(quint64(j + 1), Direction::Incoming, QByteArray(1024, 'a' + j % 26)));
        model.addEvents(batch);
        model.flush();
    }
    QCOMPARE(model.storedCount(), 10);
    QCOMPARE(model.rowCount(), 10);
    QCOMPARE(model.storedPayloadBytes(), qint64(10 * 1024));
    QCOMPARE(model.droppedCount(), quint64(90));
    QVERIFY(!dropped.isEmpty());
    QCOMPARE(connectionAt(model, 0), quint64(91));
    QCOMPARE(connectionAt(model, 9), quint64(100));

    // Lowering the budget drops at once; one row too large still stays.
    model.setPayloadBudget(3000);
    QCOMPARE(model.storedCount(), 2);
    QCOMPARE(model.storedPayloadBytes(), qint64(2048));
    model.setPayloadBudget(10);
    QCOMPARE(model.storedCount(), 1);
    QCOMPARE(connectionAt(model, 0), quint64(100));
    model.clear();
    QCOMPARE(model.storedPayloadBytes(), qint64(0));
}

void tst_TrafficModel::capacityDropRemovesOnlyShownRows()
{
    TrafficModel model;
    attachTester(&model);
    model.setCapacity(6);
    model.setDirectionFilter(TrafficModel::DirectionFilter::Incoming);
    QSignalSpy removed(&model, &QAbstractItemModel::rowsRemoved);

    model.addEvents(numbered(6, 1)); // in, out, in, out, in, out
    model.flush();
    QCOMPARE(model.rowCount(), 3);
    model.addEvents(numbered(3, 7)); // in, out, in
    model.flush();
    // 3 dropped from storage (1 in, 2 out, 3 in): two of them were shown.
    QCOMPARE(model.droppedCount(), quint64(3));
    QCOMPARE(removed.count(), 1);
    QCOMPARE(removed.at(0).at(1).toInt(), 0);
    QCOMPARE(removed.at(0).at(2).toInt(), 1);
    QCOMPARE(model.storedCount(), 6);
    QCOMPARE(model.rowCount(), 3); // 5, 7, 9
    QCOMPARE(connectionAt(model, 0), quint64(5));
    QCOMPARE(connectionAt(model, 1), quint64(7));
    QCOMPARE(connectionAt(model, 2), quint64(9));

    // Only hidden rows go: no removal signal at all.
    model.setDirectionFilter(TrafficModel::DirectionFilter::Outgoing);
    removed.clear();
    QCOMPARE(model.rowCount(), 3); // 4, 6, 8
    model.addEvents({text(100, Direction::Incoming, "x")});
    model.flush(); // drops 4 (out): shown
    QCOMPARE(removed.count(), 1);
    model.addEvents({text(101, Direction::Incoming, "x")});
    model.flush(); // drops 5 (in): hidden
    QCOMPARE(removed.count(), 1);
    QCOMPARE(model.droppedCount(), quint64(5));
}

void tst_TrafficModel::pendingQueueIsBounded()
{
    TrafficModel model;
    attachTester(&model);
    model.setFlushInterval(60000);
    model.setCapacity(5);
    QSignalSpy dropped(&model, &TrafficModel::droppedCountChanged);

    model.addEvents(numbered(4, 1));
    QCOMPARE(model.droppedCount(), quint64(0));
    model.addEvents(numbered(8, 5));
    QCOMPARE(model.pendingCount(), 5);
    QCOMPARE(model.droppedCount(), quint64(7));
    QCOMPARE(dropped.count(), 1);
    QCOMPARE(model.rowCount(), 0);

    model.flush();
    QCOMPARE(model.rowCount(), 5);
    for (int row = 0; row < 5; ++row)
        QCOMPARE(connectionAt(model, row), quint64(8 + row));
    QCOMPARE(model.droppedCount(), quint64(7));
}

void tst_TrafficModel::shrinkingCapacityDrops()
{
    TrafficModel model;
    attachTester(&model);
    model.addEvents(numbered(10, 1));
    model.flush();
    QSignalSpy dropped(&model, &TrafficModel::droppedCountChanged);
    model.setCapacity(4);
    QCOMPARE(model.rowCount(), 4);
    QCOMPARE(model.droppedCount(), quint64(6));
    QCOMPARE(dropped.count(), 1);
    QCOMPARE(connectionAt(model, 0), quint64(7));

    model.setCapacity(8); // growing keeps what is there
    model.addEvents(numbered(6, 11));
    model.flush();
    QCOMPARE(model.rowCount(), 8);
    QCOMPARE(model.droppedCount(), quint64(8));
    for (int row = 0; row < 8; ++row)
        QCOMPARE(connectionAt(model, row), quint64(9 + row));

    model.setCapacity(0); // at least one row
    QCOMPARE(model.capacity(), 1);
    QCOMPARE(model.rowCount(), 1);
    QCOMPARE(connectionAt(model, 0), quint64(16));
}

void tst_TrafficModel::textFilterMatchesWholePayload()
{
    TrafficModel model;
    attachTester(&model);
    const QByteArray longPayload = QByteArray(400, 'a') + "needle" + QByteArray(100, 'b');
    model.addEvents({text(1, Direction::Incoming, longPayload), text(2, Direction::Incoming, "hay"),
                     message(3, Direction::Outgoing, Opcode::Binary, "bin needle bin")});
    model.flush();
    QVERIFY(!display(model, 0, TrafficModel::PreviewColumn).contains(QStringLiteral("needle")));

    QSignalSpy reset(&model, &QAbstractItemModel::modelReset);
    QSignalSpy changed(&model, &TrafficModel::filterChanged);
    model.setTextFilter(QStringLiteral("needle"));
    QCOMPARE(reset.count(), 1);
    QCOMPARE(changed.count(), 1);
    QCOMPARE(model.textFilter(), QStringLiteral("needle"));
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(connectionAt(model, 0), quint64(1));
    QCOMPARE(connectionAt(model, 1), quint64(3));
    QCOMPARE(model.storedCount(), 3);

    model.setTextFilter(QStringLiteral("needle")); // unchanged: no reset
    QCOMPARE(reset.count(), 1);

    model.setTextFilter(QString());
    QCOMPARE(model.rowCount(), 3);
}

void tst_TrafficModel::textFilterCaseSensitivity()
{
    TrafficModel model;
    attachTester(&model);
    model.addEvents({text(1, Direction::Incoming, "Hello World"),
                     text(2, Direction::Incoming, "hello world")});
    model.flush();
    model.setTextFilter(QStringLiteral("HELLO"), false, Qt::CaseInsensitive);
    QCOMPARE(model.rowCount(), 2);
    model.setTextFilter(QStringLiteral("Hello"), false, Qt::CaseSensitive);
    QCOMPARE(model.rowCount(), 1);
    QCOMPARE(connectionAt(model, 0), quint64(1));
    QCOMPARE(model.textFilterCaseSensitivity(), Qt::CaseSensitive);
    model.setTextFilter(QStringLiteral("^hello"), true, Qt::CaseSensitive);
    QCOMPARE(model.rowCount(), 1);
    QCOMPARE(connectionAt(model, 0), quint64(2));
    model.setTextFilter(QStringLiteral("^hello"), true, Qt::CaseInsensitive);
    QCOMPARE(model.rowCount(), 2);
}

void tst_TrafficModel::textFilterMatchesHttpTarget()
{
    TrafficModel model;
    attachTester(&model);
    model.addEvents({http(1, "GET", QStringLiteral("/api/users?id=4"), 200),
                     http(2, "POST", QStringLiteral("/login"), 302),
                     opened(3, QStringLiteral("/chat/room1")),
                     text(3, Direction::Incoming, "hello")});
    model.flush();
    model.setTextFilter(QStringLiteral("/api/users"));
    QCOMPARE(model.rowCount(), 1);
    QCOMPARE(model.rowType(0), RowType::Http);
    model.setTextFilter(QStringLiteral("room1"));
    QCOMPARE(model.rowCount(), 1);
    QCOMPARE(model.rowType(0), RowType::Open);
    model.setTextFilter(QStringLiteral("^POST /log"), true);
    QCOMPARE(model.rowCount(), 1);
    QCOMPARE(connectionAt(model, 0), quint64(2));
}

void tst_TrafficModel::regexFilter()
{
    TrafficModel model;
    attachTester(&model);
    QByteArray json = "{\"items\": [" + QByteArray(300, ' ') + "], \"id\": 4711}";
    model.addEvents({text(1, Direction::Incoming, json), text(2, Direction::Incoming, "id 12"),
                     text(3, Direction::Incoming, "\"id\": \"x\"")});
    model.flush();
    model.setTextFilter(QStringLiteral("\"id\":\\s*\\d+\\}$"), true);
    QVERIFY(model.isFilterValid());
    QVERIFY(model.isTextFilterRegex());
    QCOMPARE(model.rowCount(), 1);
    QCOMPARE(connectionAt(model, 0), quint64(1));
    // The same text as a plain filter finds nothing.
    model.setTextFilter(QStringLiteral("\"id\":\\s*\\d+\\}$"), false);
    QCOMPARE(model.rowCount(), 0);
}

void tst_TrafficModel::invalidRegexShowsAll()
{
    TrafficModel model;
    attachTester(&model);
    model.addEvents(numbered(4, 1));
    model.flush();
    model.setTextFilter(QStringLiteral("m1"));
    QCOMPARE(model.rowCount(), 1);

    model.setTextFilter(QStringLiteral("(m1"), true);
    QVERIFY(!model.isFilterValid());
    QVERIFY(!model.filterError().isEmpty());
    QCOMPARE(model.rowCount(), 4);
    // New rows still arrive while the regex is broken.
    model.addEvents(numbered(2, 5));
    model.flush();
    QCOMPARE(model.rowCount(), 6);
    // The other filters keep working.
    model.setConnectionFilter(2);
    QCOMPARE(model.rowCount(), 1);
    model.setConnectionFilter(0);

    model.setTextFilter(QStringLiteral("(m1)"), true);
    QVERIFY(model.isFilterValid());
    QVERIFY(model.filterError().isEmpty());
    QCOMPARE(model.rowCount(), 2); // "m1" from both batches
    QCOMPARE(connectionAt(model, 0), quint64(2));
    QCOMPARE(connectionAt(model, 1), quint64(6));
}

void tst_TrafficModel::directionFilter()
{
    TrafficModel model;
    attachTester(&model);
    model.addEvents({http(9, "GET", QStringLiteral("/"), 200), opened(1, QStringLiteral("/echo")),
                     text(1, Direction::Incoming, "a"), text(1, Direction::Outgoing, "b"),
                     text(1, Direction::Incoming, "c")});
    model.flush();
    QCOMPARE(model.directionFilter(), TrafficModel::DirectionFilter::Both);
    model.setDirectionFilter(TrafficModel::DirectionFilter::Incoming);
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(model.event(0).payload, QByteArray("a"));
    QCOMPARE(model.event(1).payload, QByteArray("c"));
    model.setDirectionFilter(TrafficModel::DirectionFilter::Outgoing);
    QCOMPARE(model.rowCount(), 1);
    QCOMPARE(display(model, 0, TrafficModel::DirectionColumn), QStringLiteral("↑"));
    model.setDirectionFilter(TrafficModel::DirectionFilter::Both);
    QCOMPARE(model.rowCount(), 5);
}

void tst_TrafficModel::connectionFilter()
{
    TrafficModel model;
    attachTester(&model);
    model.addEvents({text(1, Direction::Incoming, "a"), text(2, Direction::Incoming, "b"),
                     http(2, "GET", QStringLiteral("/x"), 404), text(3, Direction::Incoming, "c")});
    model.flush();
    model.setConnectionFilter(2);
    QCOMPARE(model.connectionFilter(), quint64(2));
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(connectionAt(model, 0), quint64(2));
    QCOMPARE(connectionAt(model, 1), quint64(2));
    model.setConnectionFilter(42);
    QCOMPARE(model.rowCount(), 0);
    model.setConnectionFilter(0);
    QCOMPARE(model.rowCount(), 4);
}

void tst_TrafficModel::hideControlFrames()
{
    TrafficModel model;
    attachTester(&model);
    model.addEvents(
            {text(1, Direction::Incoming, "a"), message(1, Direction::Outgoing, Opcode::Ping, "p"),
             message(1, Direction::Incoming, Opcode::Pong, "p"),
             message(1, Direction::Incoming, Opcode::Binary, "b"),
             message(1, Direction::Outgoing, Opcode::Close, "bye"), closed(1, 1000, QString())});
    model.flush();
    model.setHideControlFrames(true);
    QVERIFY(model.hidesControlFrames());
    QCOMPARE(model.rowCount(), 3);
    QCOMPARE(model.rowType(0), RowType::Text);
    QCOMPARE(model.rowType(1), RowType::Binary);
    QCOMPARE(model.rowType(2), RowType::Closed);
    model.setHideControlFrames(false);
    QCOMPARE(model.rowCount(), 6);
}

void tst_TrafficModel::typeFilter()
{
    TrafficModel model;
    attachTester(&model);
    model.addEvents(
            {text(1, Direction::Incoming, "a"), message(1, Direction::Outgoing, Opcode::Ping, "p"),
             message(1, Direction::Incoming, Opcode::Binary, "b"), closed(1, 1000, QString())});
    model.flush();
    QVERIFY(model.typeFilter().isEmpty());
    model.setTypeFilter({RowType::Binary, RowType::Ping});
    QCOMPARE(model.typeFilter(), (QList<RowType> {RowType::Binary, RowType::Ping}));
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(model.rowType(0), RowType::Ping);
    QCOMPARE(model.rowType(1), RowType::Binary);
    // New rows pass through it too.
    model.addEvents({text(2, Direction::Incoming, "c"),
                     message(2, Direction::Incoming, Opcode::Binary, "d")});
    model.flush();
    QCOMPARE(model.rowCount(), 3);
    QCOMPARE(model.rowType(2), RowType::Binary);
    model.setTypeFilter({});
    QCOMPARE(model.rowCount(), 6);
}

void tst_TrafficModel::newRowsPassThroughFilter()
{
    TrafficModel model;
    attachTester(&model);
    model.setTextFilter(QStringLiteral("keep"));
    model.setHideControlFrames(true);
    QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
    model.addEvents({text(1, Direction::Incoming, "drop"), text(2, Direction::Incoming, "keep 1"),
                     message(3, Direction::Outgoing, Opcode::Ping, "keep ping"),
                     text(4, Direction::Outgoing, "keep 2")});
    model.flush();
    QCOMPARE(inserted.count(), 1);
    QCOMPARE(inserted.at(0).at(1).toInt(), 0);
    QCOMPARE(inserted.at(0).at(2).toInt(), 1);
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(model.storedCount(), 4);

    model.addEvents({text(5, Direction::Incoming, "nothing")});
    model.flush();
    QCOMPARE(inserted.count(), 1); // nothing shown, nothing inserted

    // Lifting the filter shows what was stored meanwhile.
    model.setTextFilter(QString());
    model.setHideControlFrames(false);
    QCOMPARE(model.rowCount(), 5);
}

void tst_TrafficModel::pauseCountsMissed()
{
    TrafficModel model;
    attachTester(&model);
    model.setFlushInterval(60000);
    QSignalSpy missed(&model, &TrafficModel::missedCountChanged);
    QSignalSpy paused(&model, &TrafficModel::pausedChanged);

    model.addEvents(numbered(2, 1)); // before the pause: applied
    model.setPaused(true);
    QVERIFY(model.isPaused());
    QCOMPARE(paused.count(), 1);
    QCOMPARE(model.rowCount(), 2);

    model.addEvents(numbered(5, 3));
    model.addEvents(numbered(3, 8));
    QCOMPARE(model.missedCount(), quint64(8));
    QCOMPARE(missed.count(), 2);
    QCOMPARE(missed.last().at(0).toULongLong(), quint64(8));
    model.flush();
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(model.storedCount(), 2); // discarded, not stored

    model.setPaused(false);
    model.addEvents(numbered(2, 20));
    model.flush();
    QCOMPARE(model.rowCount(), 4);
    QCOMPARE(connectionAt(model, 2), quint64(20));
    QCOMPARE(model.missedCount(), quint64(8)); // stays until clear()

    model.clear();
    QCOMPARE(model.missedCount(), quint64(0));
    QCOMPARE(missed.last().at(0).toULongLong(), quint64(0));
}

void tst_TrafficModel::clearResetsEverything()
{
    TrafficModel model;
    attachTester(&model);
    model.setCapacity(3);
    model.setFlushInterval(60000);
    model.addEvents(numbered(5, 1));
    model.flush();
    model.addEvents(numbered(2, 6)); // pending: cleared too
    QCOMPARE(model.droppedCount(), quint64(2));
    QSignalSpy reset(&model, &QAbstractItemModel::modelReset);
    QSignalSpy dropped(&model, &TrafficModel::droppedCountChanged);

    model.clear();
    QCOMPARE(reset.count(), 1);
    QCOMPARE(model.rowCount(), 0);
    QCOMPARE(model.storedCount(), 0);
    QCOMPARE(model.pendingCount(), 0);
    QCOMPARE(model.droppedCount(), quint64(0));
    QCOMPARE(dropped.count(), 1);
    model.flush();
    QCOMPARE(model.rowCount(), 0);

    // And it fills again, ring and all.
    model.addEvents(numbered(4, 10));
    model.flush();
    QCOMPARE(model.rowCount(), 3);
    QCOMPARE(connectionAt(model, 0), quint64(11));
    QCOMPARE(model.droppedCount(), quint64(1));
}

void tst_TrafficModel::exportJsonLines()
{
    TrafficModel model;
    attachTester(&model);
    const qint64 t = baseUs();
    model.addEvents({http(1, "GET", QStringLiteral("/a b"), 200, 500, 1500, t),
                     opened(2, QStringLiteral("/echo"), t + 1000),
                     text(2, Direction::Incoming, "hé\n", t + 2000),
                     message(2, Direction::Outgoing, Opcode::Binary, QByteArray("\x00\xff", 2), 10,
                             t + 3000),
                     closed(2, 1001, QStringLiteral("gone"), t + 4000)});
    model.flush();

    QBuffer buffer;
    QVERIFY(buffer.open(QIODevice::WriteOnly));
    QVERIFY(model.exportJsonLines(&buffer));
    QCOMPARE(buffer.data().count('\n'), 5);
    const QList<QJsonObject> lines = jsonLines(buffer.data());
    QCOMPARE(lines.size(), 5);

    const QJsonObject exchange = lines.at(0);
    QCOMPARE(exchange.value(QStringLiteral("type")).toString(), QStringLiteral("HTTP"));
    QCOMPARE(exchange.value(QStringLiteral("method")).toString(), QStringLiteral("GET"));
    QCOMPARE(exchange.value(QStringLiteral("target")).toString(), QStringLiteral("/a b"));
    QCOMPARE(exchange.value(QStringLiteral("status")).toInt(), 200);
    QCOMPARE(exchange.value(QStringLiteral("size")).toInt(), 500);
    QCOMPARE(exchange.value(QStringLiteral("durationMs")).toDouble(), 1.5);
    QCOMPARE(exchange.value(QStringLiteral("connection")).toInt(), 1);
    QCOMPARE(exchange.value(QStringLiteral("direction")).toString(), QString());
    const QDateTime time = QDateTime::fromString(exchange.value(QStringLiteral("time")).toString(),
                                                 Qt::ISODateWithMs);
    QVERIFY(time.isValid());
    QCOMPARE(time.toMSecsSinceEpoch(), t / 1000);

    QCOMPARE(lines.at(1).value(QStringLiteral("type")).toString(), QStringLiteral("open"));
    QCOMPARE(lines.at(1).value(QStringLiteral("target")).toString(), QStringLiteral("/echo"));

    const QJsonObject incoming = lines.at(2);
    QCOMPARE(incoming.value(QStringLiteral("type")).toString(), QStringLiteral("text"));
    QCOMPARE(incoming.value(QStringLiteral("direction")).toString(), QStringLiteral("in"));
    QCOMPARE(incoming.value(QStringLiteral("payload")).toString(), QStringLiteral("hé\n"));
    QCOMPARE(incoming.value(QStringLiteral("payloadEncoding")).toString(), QStringLiteral("text"));
    QCOMPARE(incoming.value(QStringLiteral("size")).toInt(), 4);
    QCOMPARE(incoming.value(QStringLiteral("truncated")).toBool(), false);

    const QJsonObject outgoing = lines.at(3);
    QCOMPARE(outgoing.value(QStringLiteral("direction")).toString(), QStringLiteral("out"));
    QCOMPARE(outgoing.value(QStringLiteral("payloadEncoding")).toString(),
             QStringLiteral("base64"));
    QCOMPARE(
            QByteArray::fromBase64(outgoing.value(QStringLiteral("payload")).toString().toLatin1()),
            QByteArray("\x00\xff", 2));
    QCOMPARE(outgoing.value(QStringLiteral("size")).toInt(), 10);
    QCOMPARE(outgoing.value(QStringLiteral("truncated")).toBool(), true);

    QCOMPARE(lines.at(4).value(QStringLiteral("type")).toString(), QStringLiteral("closed"));
    QCOMPARE(lines.at(4).value(QStringLiteral("closeCode")).toInt(), 1001);
    QCOMPARE(lines.at(4).value(QStringLiteral("reason")).toString(), QStringLiteral("gone"));
}

void tst_TrafficModel::exportJsonLinesFiltered()
{
    TrafficModel model;
    attachTester(&model);
    model.addEvents(numbered(10, 1));
    model.flush();
    model.setDirectionFilter(TrafficModel::DirectionFilter::Outgoing);
    QBuffer buffer;
    QVERIFY(buffer.open(QIODevice::WriteOnly));
    QVERIFY(model.exportJsonLines(&buffer));
    const QList<QJsonObject> lines = jsonLines(buffer.data());
    QCOMPARE(lines.size(), 5);
    for (int i = 0; i < 5; ++i) {
        QCOMPARE(lines.at(i).value(QStringLiteral("connection")).toInt(), 2 * i + 2);
        QCOMPARE(lines.at(i).value(QStringLiteral("direction")).toString(), QStringLiteral("out"));
    }
}

void tst_TrafficModel::exportJsonLinesFailsOnClosedDevice()
{
    TrafficModel model;
    model.addEvents(numbered(1, 1));
    model.flush();
    QBuffer buffer;
    QVERIFY(!model.exportJsonLines(&buffer)); // not open
    QVERIFY(!model.exportHar(&buffer));
    QVERIFY(!model.exportJsonLines(nullptr));
    QVERIFY(buffer.open(QIODevice::ReadOnly));
    QVERIFY(!model.exportHar(&buffer));
}

void tst_TrafficModel::exportHar()
{
    TrafficModel model;
    attachTester(&model);
    const qint64 t = baseUs();
    model.addEvents({http(1, "GET", QStringLiteral("/index.html"), 200, 777, 4000, t + 4000),
                     opened(2, QStringLiteral("/echo?x=1"), t + 5000),
                     text(2, Direction::Incoming, "first", t + 6000),
                     text(2, Direction::Outgoing, "second", t + 7000),
                     message(2, Direction::Incoming, Opcode::Binary, QByteArray("\x01\x00", 2), -1,
                             t + 8000),
                     message(2, Direction::Outgoing, Opcode::Ping, "", -1, t + 9000),
                     message(2, Direction::Incoming, Opcode::Pong, "", -1, t + 9500),
                     message(2, Direction::Outgoing, Opcode::Close, "bye", -1, t + 10000),
                     closed(2, 1000, QStringLiteral("bye"), t + 11000)});
    model.flush();

    const QJsonObject log = harLog(model);
    QCOMPARE(log.value(QStringLiteral("version")).toString(), QStringLiteral("1.2"));
    const QJsonObject creator = log.value(QStringLiteral("creator")).toObject();
    QCOMPARE(creator.value(QStringLiteral("name")).toString(), QStringLiteral("Sluice"));
    QVERIFY(!creator.value(QStringLiteral("version")).toString().isEmpty());
    const QJsonArray entries = log.value(QStringLiteral("entries")).toArray();
    QCOMPARE(entries.size(), 2);

    const QJsonObject exchange = entries.at(0).toObject();
    QVERIFY(!exchange.contains(QStringLiteral("_resourceType")));
    QCOMPARE(QDateTime::fromString(exchange.value(QStringLiteral("startedDateTime")).toString(),
                                   Qt::ISODateWithMs)
                     .toMSecsSinceEpoch(),
             t / 1000); // the event's time less the duration
    QCOMPARE(exchange.value(QStringLiteral("time")).toDouble(), 4.0);
    const QJsonObject request = exchange.value(QStringLiteral("request")).toObject();
    QCOMPARE(request.value(QStringLiteral("method")).toString(), QStringLiteral("GET"));
    QCOMPARE(request.value(QStringLiteral("url")).toString(), QStringLiteral("/index.html"));
    QCOMPARE(request.value(QStringLiteral("httpVersion")).toString(), QStringLiteral("HTTP/1.1"));
    QVERIFY(request.value(QStringLiteral("headers")).isArray());
    QVERIFY(request.value(QStringLiteral("queryString")).isArray());
    QVERIFY(request.value(QStringLiteral("cookies")).isArray());
    QCOMPARE(request.value(QStringLiteral("headersSize")).toInt(), -1);
    QCOMPARE(request.value(QStringLiteral("bodySize")).toInt(), -1);
    const QJsonObject response = exchange.value(QStringLiteral("response")).toObject();
    QCOMPARE(response.value(QStringLiteral("status")).toInt(), 200);
    QVERIFY(response.value(QStringLiteral("statusText")).isString());
    QCOMPARE(response.value(QStringLiteral("content"))
                     .toObject()
                     .value(QStringLiteral("size"))
                     .toInt(),
             777);
    QVERIFY(response.value(QStringLiteral("redirectURL")).isString());
    QCOMPARE(response.value(QStringLiteral("headersSize")).toInt(), -1);
    QVERIFY(response.value(QStringLiteral("bodySize")).isDouble());
    QVERIFY(exchange.value(QStringLiteral("cache")).isObject());
    const QJsonObject timings = exchange.value(QStringLiteral("timings")).toObject();
    QCOMPARE(timings.value(QStringLiteral("send")).toDouble(), 0.0);
    QCOMPARE(timings.value(QStringLiteral("wait")).toDouble(), 4.0);
    QCOMPARE(timings.value(QStringLiteral("receive")).toDouble(), 0.0);

    const QJsonObject socket = entries.at(1).toObject();
    QCOMPARE(socket.value(QStringLiteral("_resourceType")).toString(), QStringLiteral("websocket"));
    QCOMPARE(socket.value(QStringLiteral("request"))
                     .toObject()
                     .value(QStringLiteral("url"))
                     .toString(),
             QStringLiteral("/echo?x=1"));
    QCOMPARE(socket.value(QStringLiteral("response"))
                     .toObject()
                     .value(QStringLiteral("status"))
                     .toInt(),
             101);
    QCOMPARE(socket.value(QStringLiteral("time")).toDouble(), 6.0); // open to closed
    const QJsonArray messages = socket.value(QStringLiteral("_webSocketMessages")).toArray();
    QCOMPARE(messages.size(), 6);
    const QStringList types {QStringLiteral("send"), QStringLiteral("receive"),
                             QStringLiteral("send"), QStringLiteral("receive"),
                             QStringLiteral("send"), QStringLiteral("receive")};
    const QList<int> opcodes {1, 1, 2, 9, 10, 8};
    const QList<qint64> times {6000, 7000, 8000, 9000, 9500, 10000};
    for (int i = 0; i < messages.size(); ++i) {
        const QJsonObject m = messages.at(i).toObject();
        QCOMPARE(m.value(QStringLiteral("type")).toString(), types.at(i));
        QCOMPARE(m.value(QStringLiteral("opcode")).toInt(), opcodes.at(i));
        QVERIFY(qAbs(m.value(QStringLiteral("time")).toDouble() - double(t + times.at(i)) / 1e6)
                < 1e-5);
    }
    QCOMPARE(messages.at(0).toObject().value(QStringLiteral("data")).toString(),
             QStringLiteral("first"));
    QCOMPARE(messages.at(1).toObject().value(QStringLiteral("data")).toString(),
             QStringLiteral("second"));
    QCOMPARE(messages.at(2).toObject().value(QStringLiteral("data")).toString(),
             QStringLiteral("AQA="));
    QCOMPARE(messages.at(5).toObject().value(QStringLiteral("data")).toString(),
             QStringLiteral("bye"));

    // What the filter hides stays out; the connection's open row is still
    // used for its entry.
    model.setTextFilter(QStringLiteral("second"));
    const QJsonArray filtered = harLog(model).value(QStringLiteral("entries")).toArray();
    QCOMPARE(filtered.size(), 1);
    QCOMPARE(filtered.at(0)
                     .toObject()
                     .value(QStringLiteral("request"))
                     .toObject()
                     .value(QStringLiteral("url"))
                     .toString(),
             QStringLiteral("/echo?x=1"));
    QCOMPARE(webSocketMessages(filtered, 2).size(), 1);
}

void tst_TrafficModel::exportHarWithDroppedOpen()
{
    TrafficModel model;
    attachTester(&model);
    model.setCapacity(4);
    const qint64 t = baseUs();
    model.addEvents(
            {opened(5, QStringLiteral("/feed"), t), text(5, Direction::Outgoing, "a", t + 1),
             text(5, Direction::Outgoing, "b", t + 2), opened(6, QStringLiteral("/other"), t + 3),
             text(5, Direction::Outgoing, "c", t + 4)});
    model.flush();
    QCOMPARE(model.droppedCount(), quint64(1));

    const QJsonArray entries = harLog(model).value(QStringLiteral("entries")).toArray();
    QCOMPARE(entries.size(), 2);
    const QJsonArray orphan = webSocketMessages(entries, 5);
    QCOMPARE(orphan.size(), 3);
    QCOMPARE(orphan.at(0).toObject().value(QStringLiteral("data")).toString(), QStringLiteral("a"));
    QCOMPARE(orphan.at(2).toObject().value(QStringLiteral("data")).toString(), QStringLiteral("c"));
    QCOMPARE(webSocketMessages(entries, 6).size(), 0);
    // Entries in time order: the orphan's first message came before 6 opened.
    QCOMPARE(entries.at(0).toObject().value(QStringLiteral("connection")).toString(),
             QStringLiteral("5"));
}

void tst_TrafficModel::throughput()
{
    TrafficModel model;
    attachTester(&model);
    QCOMPARE(model.capacity(), 100000);
    QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
    QElapsedTimer timer;
    timer.start();

    // 200 000 events in batches of 20 000, flushed between them.
    constexpr int kBatch = 20000;
    for (int batch = 0; batch < 10; ++batch) {
        QList<MonitorEvent> events;
        events.reserve(kBatch);
        for (int i = 0; i < kBatch; ++i)
            events.append(text(quint64(batch * kBatch + i + 1), Direction::Incoming,
                               "payload of a message"));
        model.addEvents(events);
        model.flush();
    }
    QCOMPARE(model.rowCount(), 100000);
    QCOMPARE(model.droppedCount(), quint64(100000));
    QCOMPARE(inserted.count(), 10);
    QCOMPARE(connectionAt(model, 0), quint64(100001));
    QCOMPARE(connectionAt(model, 99999), quint64(200000));
    qInfo("200000 events through the model in %lld ms", timer.elapsed());

    // All at once: the queue takes the cut.
    model.clear();
    QList<MonitorEvent> events;
    events.reserve(200000);
    for (int i = 0; i < 200000; ++i)
        events.append(text(quint64(i + 1), Direction::Outgoing, "x"));
    model.addEvents(events);
    model.flush();
    QCOMPARE(model.rowCount(), 100000);
    QCOMPARE(model.droppedCount(), quint64(100000));
    QCOMPARE(connectionAt(model, 0), quint64(100001));

    // A filter over the full ring.
    timer.restart();
    model.setTextFilter(QStringLiteral("x"));
    QCOMPARE(model.rowCount(), 100000);
    model.setTextFilter(QStringLiteral("^y"), true);
    QCOMPARE(model.rowCount(), 0);
    qInfo("two filters over 100000 rows in %lld ms", timer.elapsed());
}

void tst_TrafficModel::endToEnd()
{
    sluice::Server server;
    QVERIFY(server.map(QStringLiteral("ws:/echo"), sluice::handlers::echo()));
    QVERIFY(server.map(QStringLiteral("/hello"), sluice::handlers::hello()));
    QVERIFY2(server.listen(QHostAddress::LocalHost, 0), qPrintable(server.errorString()));
    const quint16 port = server.serverPort();

    TrafficModel model;
    attachTester(&model);
    model.setFlushInterval(20);
    connect(server.monitor(), &sluice::Monitor::eventsPosted, &model, &TrafficModel::addEvents);

    QProcess curl;
    curl.start(QStringLiteral("curl"),
               {QStringLiteral("-s"), QStringLiteral("--max-time"), QStringLiteral("10"),
                QStringLiteral("http://127.0.0.1:%1/hello").arg(port)});
    QTRY_COMPARE_WITH_TIMEOUT(curl.state(), QProcess::NotRunning, kTimeout);
    QCOMPARE(curl.exitCode(), 0);
    QCOMPARE(curl.readAllStandardOutput(), QByteArray("Hello world\n"));

    const QString script = QStringLiteral(R"(
import asyncio, sys, websockets
async def main():
    async with websockets.connect(sys.argv[1]) as ws:
        await ws.send("hello")
        assert await ws.recv() == "hello"
        await ws.send(bytes([0, 1, 2, 255]))
        assert await ws.recv() == bytes([0, 1, 2, 255])
asyncio.run(asyncio.wait_for(main(), 10))
)");
    QProcess python;
    python.start(
            QStringLiteral("/usr/bin/python3"),
            {QStringLiteral("-c"), script, QStringLiteral("ws://127.0.0.1:%1/echo").arg(port)});
    QTRY_COMPARE_WITH_TIMEOUT(python.state(), QProcess::NotRunning, kTimeout);
    QVERIFY2(python.exitCode() == 0, python.readAllStandardError().constData());

    // Everything is in once the server saw the WebSocket close.
    const auto hasClosed = [&model] {
        for (int row = 0; row < model.rowCount(); ++row) {
            if (model.rowType(row) == RowType::Closed)
                return true;
        }
        return false;
    };
    QTRY_VERIFY_WITH_TIMEOUT(hasClosed(), kTimeout);

    int httpRow = -1;
    int openRow = -1;
    QList<int> messageRows;
    for (int row = 0; row < model.rowCount(); ++row) {
        const RowType type = model.rowType(row);
        if (type == RowType::Http && model.event(row).target == QLatin1String("/hello"))
            httpRow = row;
        else if (type == RowType::Open)
            openRow = row;
        else if (type != RowType::Http && type != RowType::Closed)
            messageRows.append(row);
    }
    QVERIFY(httpRow >= 0);
    QCOMPARE(display(model, httpRow, TrafficModel::PreviewColumn),
             QStringLiteral("GET /hello → 200"));
    QVERIFY(display(model, httpRow, TrafficModel::SizeColumn).toInt() > 12);
    QCOMPARE(display(model, httpRow, TrafficModel::DirectionColumn), QString());
    QVERIFY(openRow >= 0);
    QCOMPARE(model.event(openRow).target, QStringLiteral("/echo"));

    // The messages both ways, then the client's close frame and the server's answer.
    QCOMPARE(messageRows.size(), 6);
    const QStringList arrows {QStringLiteral("↓"), QStringLiteral("↑"), QStringLiteral("↓"),
                              QStringLiteral("↑"), QStringLiteral("↓"), QStringLiteral("↑")};
    const QStringList types {QStringLiteral("text"),   QStringLiteral("text"),
                             QStringLiteral("binary"), QStringLiteral("binary"),
                             QStringLiteral("close"),  QStringLiteral("close")};
    const QStringList sizes {QStringLiteral("5"), QStringLiteral("5"), QStringLiteral("4"),
                             QStringLiteral("4"), QStringLiteral("0"), QStringLiteral("0")};
    const quint64 socketId = connectionAt(model, openRow);
    for (int i = 0; i < 6; ++i) {
        const int row = messageRows.at(i);
        QCOMPARE(display(model, row, TrafficModel::DirectionColumn), arrows.at(i));
        QCOMPARE(display(model, row, TrafficModel::TypeColumn), types.at(i));
        QCOMPARE(display(model, row, TrafficModel::SizeColumn), sizes.at(i));
        QCOMPARE(connectionAt(model, row), socketId);
    }
    QCOMPARE(display(model, messageRows.at(0), TrafficModel::PreviewColumn),
             QStringLiteral("hello"));
    QCOMPARE(display(model, messageRows.at(2), TrafficModel::PreviewColumn),
             QStringLiteral("00 01 02 ff"));

    const QJsonArray entries = harLog(model).value(QStringLiteral("entries")).toArray();
    bool sawHello = false;
    for (const QJsonValue &entry : entries) {
        const QJsonObject object = entry.toObject();
        const QJsonObject request = object.value(QStringLiteral("request")).toObject();
        if (request.value(QStringLiteral("url")).toString() == QLatin1String("/hello")) {
            sawHello = true;
            QCOMPARE(object.value(QStringLiteral("response"))
                             .toObject()
                             .value(QStringLiteral("status"))
                             .toInt(),
                     200);
        }
    }
    QVERIFY(sawHello);
    const QJsonArray messages = webSocketMessages(entries, socketId);
    QCOMPARE(messages.size(), 6);
    QCOMPARE(messages.at(4).toObject().value(QStringLiteral("opcode")).toInt(), 8);
    QCOMPARE(messages.at(5).toObject().value(QStringLiteral("type")).toString(),
             QStringLiteral("receive"));
    QCOMPARE(messages.at(0).toObject().value(QStringLiteral("type")).toString(),
             QStringLiteral("send"));
    QCOMPARE(messages.at(0).toObject().value(QStringLiteral("data")).toString(),
             QStringLiteral("hello"));
    QCOMPARE(messages.at(1).toObject().value(QStringLiteral("type")).toString(),
             QStringLiteral("receive"));
    QCOMPARE(messages.at(2).toObject().value(QStringLiteral("opcode")).toInt(), 2);
    QCOMPARE(QByteArray::fromBase64(
                     messages.at(3).toObject().value(QStringLiteral("data")).toString().toLatin1()),
             QByteArray("\x00\x01\x02\xff", 4));
    server.close();
}

QTEST_MAIN(tst_TrafficModel)
#include "tst_trafficmodel.moc"
