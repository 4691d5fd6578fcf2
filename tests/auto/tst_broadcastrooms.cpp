#include "wstestclient.h"

#include <sluice/broadcastrooms.h>
#include <sluice/httpconnect.h>
#include <sluice/httpresponse.h>
#include <sluice/monitor.h>
#include <sluice/monitorevent.h>
#include <sluice/server.h>
#include <sluice/websocket.h>

#include <QtCore/QHash>
#include <QtCore/QMutex>
#include <QtCore/QProcess>
#include <QtCore/QThread>
#include <QtTest/QSignalSpy>
#include <QtTest/QtTest>
#include <QtWebSockets/QWebSocket>

#include <memory>
#include <vector>

namespace {

constexpr int kTimeout = 10000;
// How long a client must stay silent to count as "received nothing". The
// relays run synchronously in this thread, so a stray message would come
// well within it.
constexpr int kQuietMs = 300;

using wstestclient::Client;
using wstestclient::Message;

// A server with rooms on ws:/chat/<room>, rooms reporting to its monitor.
struct Fixture
{
    Fixture()
        : rooms(server.monitor())
    {
        // QSignalSpy appends from whichever thread emits (a direct
        // connection) while this thread reads it: the suites that spy on the
        // rooms' signals keep every member on this thread, with one worker.
        // Rooms across workers are tested without spies (roomSpansWorkers).
        server.setWorkerCount(1);
    }

    bool start()
    {
        if (!server.map(QStringLiteral("ws:/chat/(?<room>\\w+)"), &rooms,
                        &sluice::BroadcastRooms::join))
            return false;
        if (!server.listen(QHostAddress::LocalHost, 0))
            return false;
        port = server.serverPort();
        return port != 0;
    }

    sluice::Server server;
    sluice::BroadcastRooms rooms;
    quint16 port = 0;
};

// Collects the room events of a monitor; connecting is what turns it on.
class RoomEvents : public QObject
{
public:
    explicit RoomEvents(sluice::Monitor *monitor)
        : m_monitor(monitor)
    {
        connect(monitor, &sluice::Monitor::eventsPosted, this,
                [this](const QList<sluice::MonitorEvent> &events) {
                    for (const sluice::MonitorEvent &event : events) {
                        if (event.type == sluice::MonitorEvent::Type::RoomJoined
                            || event.type == sluice::MonitorEvent::Type::RoomLeft)
                            m_events.append(event);
                    }
                });
    }

    bool waitForCount(qsizetype count)
    {
        return QTest::qWaitFor(
                [&] {
                    m_monitor->flush();
                    return m_events.size() >= count;
                },
                kTimeout);
    }
    const QList<sluice::MonitorEvent> &events() const { return m_events; }

private:
    sluice::Monitor *m_monitor;
    QList<sluice::MonitorEvent> m_events;
};

QString describe(const QList<Message> &messages)
{
    QStringList items;
    for (const Message &message : messages)
        items.append((message.isText ? QStringLiteral("text:") : QStringLiteral("binary:"))
                     + message.content());
    return items.join(QStringLiteral(", "));
}

} // namespace

class tst_BroadcastRooms : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void relaysToTheOthersInTheRoomOnly();
    void binaryStaysBinary();
    void memberSignals();
    void countsAndRooms();
    void disconnectedMemberIsRemoved();
    void monitorEvents();
    void noMonitorNoRoomEvents();
    void routeWithoutRoomParameterUsesThePath();
    void customRoomParameter();
    void crowd();
    void roomSpansWorkers();
    void queueForAStalledWorkerIsBounded();
    void serverCloseEmptiesTheRooms();
    void roomsDestroyedBeforeTheirMembers();
    void serverDestroyedBeforeTheRooms();
};

void tst_BroadcastRooms::relaysToTheOthersInTheRoomOnly()
{
    Fixture f;
    QVERIFY2(f.start(), qPrintable(f.server.errorString()));
    Client a1, a2, a3, b1;
    QVERIFY2(a1.open(f.port, QStringLiteral("/chat/a")), qPrintable(a1.errorString()));
    QVERIFY2(a2.open(f.port, QStringLiteral("/chat/a")), qPrintable(a2.errorString()));
    QVERIFY2(a3.open(f.port, QStringLiteral("/chat/a")), qPrintable(a3.errorString()));
    QVERIFY2(b1.open(f.port, QStringLiteral("/chat/b")), qPrintable(b1.errorString()));
    QTRY_COMPARE_WITH_TIMEOUT(f.rooms.memberCount(QStringLiteral("a")), 3, kTimeout);
    QTRY_COMPARE_WITH_TIMEOUT(f.rooms.memberCount(QStringLiteral("b")), 1, kTimeout);

    const QString hello = QString::fromUtf8("from a1 \xe2\x98\x83");
    a1.socket().sendTextMessage(hello);
    QVERIFY(a2.waitForCount(1));
    QVERIFY(a3.waitForCount(1));
    QTest::qWait(kQuietMs);
    QVERIFY2(a1.received().isEmpty(), qPrintable(describe(a1.received())));
    QVERIFY2(b1.received().isEmpty(), qPrintable(describe(b1.received())));
    for (Client *peer : {&a2, &a3}) {
        QCOMPARE(peer->received().size(), 1);
        QVERIFY(peer->received().first().isText);
        QCOMPARE(peer->received().first().text, hello);
    }

    // A room of one: its member hears nothing, not even itself, and
    // nobody else hears it.
    b1.socket().sendTextMessage(QStringLiteral("from b1"));
    QTest::qWait(kQuietMs);
    QCOMPARE(b1.received().size(), 0);
    QCOMPARE(a1.received().size(), 0);
    QCOMPARE(a2.received().size(), 1);
    QCOMPARE(a3.received().size(), 1);

    // Every member can speak, not just the first.
    a3.socket().sendTextMessage(QStringLiteral("from a3"));
    QVERIFY(a1.waitForCount(1));
    QVERIFY(a2.waitForCount(2));
    QTest::qWait(kQuietMs);
    QCOMPARE(a1.received().size(), 1);
    QCOMPARE(a1.received().first().text, QStringLiteral("from a3"));
    QCOMPARE(a2.received().size(), 2);
    QCOMPARE(a2.received().at(1).text, QStringLiteral("from a3"));
    QCOMPARE(a3.received().size(), 1);
    QCOMPARE(b1.received().size(), 0);
}

void tst_BroadcastRooms::binaryStaysBinary()
{
    Fixture f;
    QVERIFY2(f.start(), qPrintable(f.server.errorString()));
    Client a1, a2, a3;
    QVERIFY(a1.open(f.port, QStringLiteral("/chat/a")));
    QVERIFY(a2.open(f.port, QStringLiteral("/chat/a")));
    QVERIFY(a3.open(f.port, QStringLiteral("/chat/a")));
    QTRY_COMPARE_WITH_TIMEOUT(f.rooms.memberCount(QStringLiteral("a")), 3, kTimeout);

    QByteArray payload;
    for (int i = 0; i < 256; ++i)
        payload.append(char(i));
    payload += QByteArray(200000, '\xfe');
    a2.socket().sendBinaryMessage(payload);
    // Text that looks like the binary's start, right behind it: kinds and
    // order both survive the relay.
    a2.socket().sendTextMessage(QStringLiteral("text after"));
    a2.socket().sendBinaryMessage(QByteArray());
    QVERIFY(a1.waitForCount(3));
    QVERIFY(a3.waitForCount(3));
    QTest::qWait(kQuietMs);
    QCOMPARE(a2.received().size(), 0);
    for (Client *peer : {&a1, &a3}) {
        const QList<Message> got = peer->received();
        QCOMPARE(got.size(), 3);
        QVERIFY(!got.at(0).isText);
        QVERIFY(got.at(0).binary == payload);
        QVERIFY(got.at(1).isText);
        QCOMPARE(got.at(1).text, QStringLiteral("text after"));
        QVERIFY(!got.at(2).isText);
        QVERIFY(got.at(2).binary.isEmpty());
    }
}

void tst_BroadcastRooms::memberSignals()
{
    Fixture f;
    QVERIFY2(f.start(), qPrintable(f.server.errorString()));
    QSignalSpy joined(&f.rooms, &sluice::BroadcastRooms::memberJoined);
    QSignalSpy left(&f.rooms, &sluice::BroadcastRooms::memberLeft);
    QSignalSpy opened(&f.server, &sluice::Server::connectionOpened);
    QVERIFY(joined.isValid() && left.isValid() && opened.isValid());

    // One at a time, so that each join can be matched to its connection.
    struct Member
    {
        QString path;
        QString room;
        quint64 id = 0;
        std::unique_ptr<Client> client;
    };
    std::vector<Member> members;
    members.push_back({QStringLiteral("/chat/a"), QStringLiteral("a"), 0, nullptr});
    members.push_back({QStringLiteral("/chat/b"), QStringLiteral("b"), 0, nullptr});
    members.push_back({QStringLiteral("/chat/a"), QStringLiteral("a"), 0, nullptr});
    for (size_t i = 0; i < members.size(); ++i) {
        Member &member = members[i];
        member.client = std::make_unique<Client>();
        QVERIFY2(member.client->open(f.port, member.path),
                 qPrintable(member.client->errorString()));
        QTRY_COMPARE_WITH_TIMEOUT(joined.size(), qsizetype(i + 1), kTimeout);
        QCOMPARE(opened.size(), qsizetype(i + 1));
        const QList<QVariant> args = joined.at(qsizetype(i));
        QCOMPARE(args.at(0).toString(), member.room);
        member.id = args.at(1).toULongLong();
        QVERIFY(member.id != 0);
        // The id is the server's connection id, the one its signals use.
        QCOMPARE(member.id, opened.at(qsizetype(i)).at(0).toULongLong());
    }
    QVERIFY(members[0].id != members[1].id);
    QVERIFY(members[0].id != members[2].id);
    QVERIFY(members[1].id != members[2].id);
    QCOMPARE(left.size(), 0);

    // Leaving in another order than joining: the ids follow the members.
    members[2].client->socket().close();
    QTRY_COMPARE_WITH_TIMEOUT(left.size(), 1, kTimeout);
    QCOMPARE(left.at(0).at(0).toString(), QStringLiteral("a"));
    QCOMPARE(left.at(0).at(1).toULongLong(), members[2].id);

    members[1].client->socket().close();
    QTRY_COMPARE_WITH_TIMEOUT(left.size(), 2, kTimeout);
    QCOMPARE(left.at(1).at(0).toString(), QStringLiteral("b"));
    QCOMPARE(left.at(1).at(1).toULongLong(), members[1].id);

    members[0].client->socket().close();
    QTRY_COMPARE_WITH_TIMEOUT(left.size(), 3, kTimeout);
    QCOMPARE(left.at(2).at(0).toString(), QStringLiteral("a"));
    QCOMPARE(left.at(2).at(1).toULongLong(), members[0].id);

    // Each member leaves once.
    QTest::qWait(kQuietMs);
    QCOMPARE(left.size(), 3);
    QCOMPARE(joined.size(), 3);
}

void tst_BroadcastRooms::countsAndRooms()
{
    Fixture f;
    QVERIFY2(f.start(), qPrintable(f.server.errorString()));
    const QString a = QStringLiteral("a");
    const QString b = QStringLiteral("b");
    QVERIFY(f.rooms.rooms().isEmpty());
    QCOMPARE(f.rooms.memberCount(a), 0);

    Client a1, a2, b1;
    QVERIFY(a1.open(f.port, QStringLiteral("/chat/a")));
    QTRY_COMPARE_WITH_TIMEOUT(f.rooms.memberCount(a), 1, kTimeout);
    QCOMPARE(f.rooms.rooms(), QStringList {a});
    QVERIFY(a2.open(f.port, QStringLiteral("/chat/a")));
    QTRY_COMPARE_WITH_TIMEOUT(f.rooms.memberCount(a), 2, kTimeout);
    QVERIFY(b1.open(f.port, QStringLiteral("/chat/b")));
    QTRY_COMPARE_WITH_TIMEOUT(f.rooms.memberCount(b), 1, kTimeout);
    QStringList names = f.rooms.rooms();
    names.sort();
    QCOMPARE(names, (QStringList {a, b}));
    QCOMPARE(f.rooms.memberCount(a), 2);
    QCOMPARE(f.rooms.memberCount(QStringLiteral("nosuchroom")), 0);

    a1.socket().close();
    QTRY_COMPARE_WITH_TIMEOUT(f.rooms.memberCount(a), 1, kTimeout);
    QCOMPARE(f.rooms.memberCount(b), 1);
    names = f.rooms.rooms();
    names.sort();
    QCOMPARE(names, (QStringList {a, b}));

    // An empty room is gone, not kept with no one in it.
    b1.socket().close();
    QTRY_COMPARE_WITH_TIMEOUT(f.rooms.memberCount(b), 0, kTimeout);
    QTRY_COMPARE_WITH_TIMEOUT(f.rooms.rooms(), QStringList {a}, kTimeout);

    a2.socket().close();
    QTRY_VERIFY_WITH_TIMEOUT(f.rooms.rooms().isEmpty(), kTimeout);
    QCOMPARE(f.rooms.memberCount(a), 0);

    // And a room can be opened again after it emptied.
    Client again;
    QVERIFY(again.open(f.port, QStringLiteral("/chat/b")));
    QTRY_COMPARE_WITH_TIMEOUT(f.rooms.memberCount(b), 1, kTimeout);
    QCOMPARE(f.rooms.rooms(), QStringList {b});
}

void tst_BroadcastRooms::disconnectedMemberIsRemoved()
{
    Fixture f;
    QVERIFY2(f.start(), qPrintable(f.server.errorString()));
    const QString a = QStringLiteral("a");
    QSignalSpy left(&f.rooms, &sluice::BroadcastRooms::memberLeft);
    Client a1, a2, a3, a4;
    QVERIFY(a1.open(f.port, QStringLiteral("/chat/a")));
    QVERIFY(a2.open(f.port, QStringLiteral("/chat/a")));
    QVERIFY(a3.open(f.port, QStringLiteral("/chat/a")));
    QTRY_COMPARE_WITH_TIMEOUT(f.rooms.memberCount(a), 3, kTimeout);

    // A clean close handshake.
    a3.socket().close();
    QTRY_COMPARE_WITH_TIMEOUT(f.rooms.memberCount(a), 2, kTimeout);
    QCOMPARE(left.size(), 1);
    a1.socket().sendTextMessage(QStringLiteral("after a3 left"));
    QVERIFY(a2.waitForCount(1));
    QCOMPARE(a2.received().first().text, QStringLiteral("after a3 left"));

    // A peer that vanishes without a close frame.
    a2.socket().abort();
    QTRY_COMPARE_WITH_TIMEOUT(f.rooms.memberCount(a), 1, kTimeout);
    QCOMPARE(left.size(), 2);

    // Sending into a room whose other members are gone reaches nobody and
    // harms nothing; a newcomer then hears the survivor.
    a1.socket().sendTextMessage(QStringLiteral("anyone?"));
    QVERIFY(a4.open(f.port, QStringLiteral("/chat/a")));
    QTRY_COMPARE_WITH_TIMEOUT(f.rooms.memberCount(a), 2, kTimeout);
    a1.socket().sendTextMessage(QStringLiteral("welcome a4"));
    a4.socket().sendBinaryMessage(QByteArrayLiteral("thanks"));
    QVERIFY(a4.waitForCount(1));
    QVERIFY(a1.waitForCount(1));
    QTest::qWait(kQuietMs);
    QCOMPARE(a4.received().size(), 1);
    QCOMPARE(a4.received().first().text, QStringLiteral("welcome a4"));
    QCOMPARE(a1.received().size(), 1);
    QVERIFY(!a1.received().first().isText);
    QCOMPARE(a1.received().first().binary, QByteArrayLiteral("thanks"));
    QCOMPARE(a1.socket().state(), QAbstractSocket::ConnectedState);
    QCOMPARE(left.size(), 2);
}

void tst_BroadcastRooms::monitorEvents()
{
    Fixture f;
    QVERIFY2(f.start(), qPrintable(f.server.errorString()));
    RoomEvents monitor(f.server.monitor());
    QSignalSpy joined(&f.rooms, &sluice::BroadcastRooms::memberJoined);
    QSignalSpy left(&f.rooms, &sluice::BroadcastRooms::memberLeft);
    using Type = sluice::MonitorEvent::Type;

    Client a1, a2, b1;
    QVERIFY(a1.open(f.port, QStringLiteral("/chat/a")));
    QTRY_COMPARE_WITH_TIMEOUT(joined.size(), 1, kTimeout);
    QVERIFY(a2.open(f.port, QStringLiteral("/chat/a")));
    QTRY_COMPARE_WITH_TIMEOUT(joined.size(), 2, kTimeout);
    QVERIFY(b1.open(f.port, QStringLiteral("/chat/b")));
    QTRY_COMPARE_WITH_TIMEOUT(joined.size(), 3, kTimeout);
    QVERIFY(monitor.waitForCount(3));

    const quint64 a1Id = joined.at(0).at(1).toULongLong();
    const quint64 a2Id = joined.at(1).at(1).toULongLong();
    const quint64 b1Id = joined.at(2).at(1).toULongLong();
    {
        const QList<sluice::MonitorEvent> events = monitor.events();
        QCOMPARE(events.size(), 3);
        QCOMPARE(events.at(0).type, Type::RoomJoined);
        QCOMPARE(events.at(0).room, QStringLiteral("a"));
        QCOMPARE(events.at(0).size, 1);
        QCOMPARE(events.at(0).connectionId, a1Id);
        QCOMPARE(events.at(1).type, Type::RoomJoined);
        QCOMPARE(events.at(1).room, QStringLiteral("a"));
        QCOMPARE(events.at(1).size, 2);
        QCOMPARE(events.at(1).connectionId, a2Id);
        QCOMPARE(events.at(2).type, Type::RoomJoined);
        QCOMPARE(events.at(2).room, QStringLiteral("b"));
        QCOMPARE(events.at(2).size, 1);
        QCOMPARE(events.at(2).connectionId, b1Id);
        for (const sluice::MonitorEvent &event : events) {
            QCOMPARE(event.route, QStringLiteral("ws:/chat/(?<room>\\w+)"));
            QVERIFY(event.timeUs > 0);
        }
        QCOMPARE(events.at(0).target, QStringLiteral("/chat/a"));
        QCOMPARE(events.at(2).target, QStringLiteral("/chat/b"));
    }

    a1.socket().close();
    QTRY_COMPARE_WITH_TIMEOUT(left.size(), 1, kTimeout);
    QVERIFY(monitor.waitForCount(4));
    QCOMPARE(monitor.events().at(3).type, Type::RoomLeft);
    QCOMPARE(monitor.events().at(3).room, QStringLiteral("a"));
    QCOMPARE(monitor.events().at(3).size, 1);
    QCOMPARE(monitor.events().at(3).connectionId, a1Id);

    b1.socket().abort();
    QTRY_COMPARE_WITH_TIMEOUT(left.size(), 2, kTimeout);
    a2.socket().close();
    QTRY_COMPARE_WITH_TIMEOUT(left.size(), 3, kTimeout);
    QVERIFY(monitor.waitForCount(6));
    QCOMPARE(monitor.events().at(4).type, Type::RoomLeft);
    QCOMPARE(monitor.events().at(4).room, QStringLiteral("b"));
    QCOMPARE(monitor.events().at(4).size, 0);
    QCOMPARE(monitor.events().at(4).connectionId, b1Id);
    QCOMPARE(monitor.events().at(5).type, Type::RoomLeft);
    QCOMPARE(monitor.events().at(5).room, QStringLiteral("a"));
    QCOMPARE(monitor.events().at(5).size, 0);
    QCOMPARE(monitor.events().at(5).connectionId, a2Id);

    QTest::qWait(kQuietMs);
    f.server.monitor()->flush();
    QCOMPARE(monitor.events().size(), 6);
}

void tst_BroadcastRooms::noMonitorNoRoomEvents()
{
    // Rooms built without a monitor keep quiet on the server's monitor even
    // while it records everything else.
    QList<sluice::MonitorEvent> all; // outlives the connection that fills it
    sluice::Server server;
    QVERIFY(server.setWorkerCount(1)); // the spies below (see Fixture)
    sluice::BroadcastRooms rooms;
    QVERIFY(server.map(QStringLiteral("ws:/chat/(?<room>\\w+)"), &rooms,
                       &sluice::BroadcastRooms::join));
    QVERIFY(server.listen(QHostAddress::LocalHost, 0));
    QObject::connect(server.monitor(), &sluice::Monitor::eventsPosted, &rooms,
                     [&all](const QList<sluice::MonitorEvent> &events) { all += events; });
    QSignalSpy joined(&rooms, &sluice::BroadcastRooms::memberJoined);
    QSignalSpy left(&rooms, &sluice::BroadcastRooms::memberLeft);

    Client a1, a2;
    QVERIFY(a1.open(server.serverPort(), QStringLiteral("/chat/a")));
    QVERIFY(a2.open(server.serverPort(), QStringLiteral("/chat/a")));
    QTRY_COMPARE_WITH_TIMEOUT(joined.size(), 2, kTimeout);
    a1.socket().sendTextMessage(QStringLiteral("hi"));
    QVERIFY(a2.waitForCount(1));
    a1.socket().close();
    QTRY_COMPARE_WITH_TIMEOUT(left.size(), 1, kTimeout);
    QTest::qWait(kQuietMs);
    server.monitor()->flush();

    bool sawWebSocket = false;
    for (const sluice::MonitorEvent &event : std::as_const(all)) {
        QVERIFY2(event.type != sluice::MonitorEvent::Type::RoomJoined
                         && event.type != sluice::MonitorEvent::Type::RoomLeft,
                 qPrintable(sluice::MonitorEvent::typeName(event.type)));
        sawWebSocket |= event.type == sluice::MonitorEvent::Type::WebSocketMessage;
    }
    // The monitor was listening: the absence above means something.
    QVERIFY(sawWebSocket);
}

void tst_BroadcastRooms::routeWithoutRoomParameterUsesThePath()
{
    sluice::Server server;
    QVERIFY(server.setWorkerCount(1)); // the spy below (see Fixture)
    sluice::BroadcastRooms rooms(server.monitor());
    QVERIFY(server.map(QStringLiteral("ws:/plain/\\w+"), &rooms, &sluice::BroadcastRooms::join));
    QVERIFY(server.map(QStringLiteral("ws:/lobby"), &rooms, &sluice::BroadcastRooms::join));
    QVERIFY(server.listen(QHostAddress::LocalHost, 0));
    const quint16 port = server.serverPort();
    QSignalSpy joined(&rooms, &sluice::BroadcastRooms::memberJoined);

    Client x1, x2, y1, lobby;
    QVERIFY(x1.open(port, QStringLiteral("/plain/x")));
    QVERIFY(x2.open(port, QStringLiteral("/plain/x")));
    QVERIFY(y1.open(port, QStringLiteral("/plain/y")));
    QVERIFY(lobby.open(port, QStringLiteral("/lobby")));
    QTRY_COMPARE_WITH_TIMEOUT(joined.size(), 4, kTimeout);
    QCOMPARE(joined.at(0).at(0).toString(), QStringLiteral("/plain/x"));
    QCOMPARE(joined.at(2).at(0).toString(), QStringLiteral("/plain/y"));
    QCOMPARE(joined.at(3).at(0).toString(), QStringLiteral("/lobby"));
    QCOMPARE(rooms.memberCount(QStringLiteral("/plain/x")), 2);
    QCOMPARE(rooms.memberCount(QStringLiteral("/plain/y")), 1);
    QCOMPARE(rooms.memberCount(QStringLiteral("/lobby")), 1);
    QStringList names = rooms.rooms();
    names.sort();
    QCOMPARE(names, (QStringList {QStringLiteral("/lobby"), QStringLiteral("/plain/x"),
                                  QStringLiteral("/plain/y")}));

    // Same route, different paths: different rooms.
    x1.socket().sendTextMessage(QStringLiteral("x only"));
    QVERIFY(x2.waitForCount(1));
    QTest::qWait(kQuietMs);
    QCOMPARE(x2.received().first().text, QStringLiteral("x only"));
    QCOMPARE(x1.received().size(), 0);
    QCOMPARE(y1.received().size(), 0);
    QCOMPARE(lobby.received().size(), 0);
}

void tst_BroadcastRooms::customRoomParameter()
{
    sluice::Server server;
    sluice::BroadcastRooms rooms(server.monitor());
    QCOMPARE(rooms.roomParameter(), QStringLiteral("room"));
    rooms.setRoomParameter(QStringLiteral("channel"));
    QCOMPARE(rooms.roomParameter(), QStringLiteral("channel"));
    QVERIFY(server.map(QStringLiteral("ws:/(?<channel>\\w+)/(?<room>\\w+)"), &rooms,
                       &sluice::BroadcastRooms::join));
    QVERIFY(server.listen(QHostAddress::LocalHost, 0));
    const quint16 port = server.serverPort();

    // The channel decides, whatever "room" says.
    Client one, two;
    QVERIFY(one.open(port, QStringLiteral("/news/first")));
    QVERIFY(two.open(port, QStringLiteral("/news/second")));
    QTRY_COMPARE_WITH_TIMEOUT(rooms.memberCount(QStringLiteral("news")), 2, kTimeout);
    QCOMPARE(rooms.rooms(), QStringList {QStringLiteral("news")});
    one.socket().sendTextMessage(QStringLiteral("headline"));
    QVERIFY(two.waitForCount(1));
    QCOMPARE(two.received().first().text, QStringLiteral("headline"));
}

void tst_BroadcastRooms::crowd()
{
    constexpr int clients = 20;
    constexpr int messages = 20;
    Fixture f;
    QVERIFY2(f.start(), qPrintable(f.server.errorString()));
    std::vector<std::unique_ptr<Client>> crowd;
    for (int i = 0; i < clients; ++i) {
        crowd.push_back(std::make_unique<Client>());
        QVERIFY2(crowd.back()->open(f.port, QStringLiteral("/chat/crowd")),
                 qPrintable(crowd.back()->errorString()));
    }
    QTRY_COMPARE_WITH_TIMEOUT(f.rooms.memberCount(QStringLiteral("crowd")), clients, kTimeout);

    // Everyone talks at once; interleaving between senders is free, the
    // order of one sender's messages is not.
    for (int n = 0; n < messages; ++n) {
        for (int i = 0; i < clients; ++i)
            crowd[i]->socket().sendTextMessage(QStringLiteral("%1:%2").arg(i).arg(n));
    }
    const qsizetype expected = (clients - 1) * messages;
    for (int i = 0; i < clients; ++i) {
        QVERIFY2(crowd[i]->waitForCount(expected, 30000),
                 qPrintable(QStringLiteral("client %1 got %2 of %3")
                                    .arg(i)
                                    .arg(crowd[i]->received().size())
                                    .arg(expected)));
    }
    QTest::qWait(kQuietMs);

    for (int i = 0; i < clients; ++i) {
        const QList<Message> got = crowd[i]->received();
        QCOMPARE(got.size(), expected);
        QHash<int, int> nextFrom;
        for (const Message &message : got) {
            QVERIFY(message.isText);
            const QStringList parts = message.text.split(QLatin1Char(':'));
            QCOMPARE(parts.size(), 2);
            bool senderOk = false;
            bool numberOk = false;
            const int sender = parts.at(0).toInt(&senderOk);
            const int number = parts.at(1).toInt(&numberOk);
            QVERIFY(senderOk && numberOk);
            QVERIFY2(sender != i, qPrintable(QStringLiteral("client %1 heard itself").arg(i)));
            QVERIFY(sender >= 0 && sender < clients);
            // Exactly once and in order: each sender's next number, no gap,
            // no repeat.
            QVERIFY2(number == nextFrom.value(sender),
                     qPrintable(QStringLiteral("client %1: from %2 got %3, expected %4")
                                        .arg(i)
                                        .arg(sender)
                                        .arg(number)
                                        .arg(nextFrom.value(sender))));
            nextFrom[sender] = number + 1;
        }
        QCOMPARE(nextFrom.size(), clients - 1);
        for (auto it = nextFrom.cbegin(); it != nextFrom.cend(); ++it)
            QCOMPARE(it.value(), messages);
    }
}

// Members spread over four worker threads: each still hears every other
// member's messages once and in order, though most cross a thread.
void tst_BroadcastRooms::roomSpansWorkers()
{
    constexpr int clients = 12;
    constexpr int messages = 50;
    sluice::Server server;
    QVERIFY(server.setWorkerCount(4));
    sluice::BroadcastRooms rooms;
    QMutex mutex;
    QSet<QThread *> threads;
    QVERIFY(server.map(QStringLiteral("ws:/chat/(?<room>\\w+)"), [&](sluice::WebSocket *socket) {
        {
            QMutexLocker locker(&mutex);
            threads.insert(QThread::currentThread());
        }
        rooms.join(socket);
    }));
    QVERIFY(server.listen(QHostAddress::LocalHost, 0));
    std::vector<std::unique_ptr<Client>> members;
    for (int i = 0; i < clients; ++i) {
        members.push_back(std::make_unique<Client>());
        QVERIFY(members.back()->open(server.serverPort(), QStringLiteral("/chat/span")));
    }
    QTRY_COMPARE_WITH_TIMEOUT(rooms.memberCount(QStringLiteral("span")), clients, kTimeout);
    {
        QMutexLocker locker(&mutex);
        QCOMPARE(threads.size(), 4);
    }

    for (int n = 0; n < messages; ++n) {
        for (int i = 0; i < clients; ++i) {
            if (n % 2)
                members[i]->socket().sendTextMessage(QStringLiteral("%1:%2").arg(i).arg(n));
            else
                members[i]->socket().sendBinaryMessage(
                        QStringLiteral("%1:%2").arg(i).arg(n).toUtf8());
        }
    }
    const qsizetype expected = (clients - 1) * messages;
    for (int i = 0; i < clients; ++i) {
        QVERIFY2(members[i]->waitForCount(expected, 30000),
                 qPrintable(QStringLiteral("client %1 got %2 of %3")
                                    .arg(i)
                                    .arg(members[i]->received().size())
                                    .arg(expected)));
    }
    QTest::qWait(kQuietMs);
    for (int i = 0; i < clients; ++i) {
        const QList<Message> got = members[i]->received();
        QCOMPARE(got.size(), expected);
        QHash<int, int> nextFrom;
        for (const Message &message : got) {
            const QStringList parts = message.content().split(QLatin1Char(':'));
            QCOMPARE(parts.size(), 2);
            const int sender = parts.at(0).toInt();
            const int number = parts.at(1).toInt();
            QVERIFY(sender != i);
            // Text stays text and binary binary across threads.
            QCOMPARE(message.isText, number % 2 == 1);
            QCOMPARE(number, nextFrom.value(sender));
            nextFrom[sender] = number + 1;
        }
        QCOMPARE(nextFrom.size(), clients - 1);
    }
    QCOMPARE(rooms.droppedCount(), quint64(0));

    members.clear();
    QTRY_VERIFY_WITH_TIMEOUT(rooms.rooms().isEmpty(), kTimeout);
}

// A worker busy in a handler cannot drain its queue; past maxQueuedBytes the
// messages for it are dropped and counted, and it catches up afterwards.
void tst_BroadcastRooms::queueForAStalledWorkerIsBounded()
{
    sluice::Server server;
    QVERIFY(server.setWorkerCount(2));
    sluice::BroadcastRooms rooms;
    rooms.setMaxQueuedBytes(64 * 1024);
    QMutex mutex;
    QHash<QString, QThread *> threadOf; // by client name
    QVERIFY(server.map(QStringLiteral("ws:/chat/(?<room>\\w+)/(?<name>\\w+)"),
                       [&](sluice::WebSocket *socket) {
                           {
                               QMutexLocker locker(&mutex);
                               threadOf.insert(socket->param(QStringLiteral("name")),
                                               QThread::currentThread());
                           }
                           rooms.join(socket);
                       }));
    // Holds its thread for a while, but only the listener's.
    QVERIFY(server.map(QStringLiteral("/stall"), [&](sluice::HttpConnect &c) {
        QThread *listener = nullptr;
        {
            QMutexLocker locker(&mutex);
            listener = threadOf.value(QStringLiteral("listener"));
        }
        if (QThread::currentThread() != listener) {
            c.response().setStatus(409);
            c.response().end("other thread");
            return;
        }
        QThread::msleep(1500);
        c.response().end("stalled");
    }));
    QVERIFY(server.listen(QHostAddress::LocalHost, 0));
    // The talker lands on worker 0, which is this thread; the listener on
    // the other, so that stalling it leaves this test's event loop running.
    Client talker, listener;
    QVERIFY(talker.open(server.serverPort(), QStringLiteral("/chat/q/talker")));
    QVERIFY(listener.open(server.serverPort(), QStringLiteral("/chat/q/listener")));
    QTRY_COMPARE_WITH_TIMEOUT(rooms.memberCount(QStringLiteral("q")), 2, kTimeout);
    {
        QMutexLocker locker(&mutex);
        QCOMPARE(threadOf.value(QStringLiteral("talker")), QThread::currentThread());
        QVERIFY(threadOf.value(QStringLiteral("listener")) != QThread::currentThread());
    }

    // curl lands on either worker; it asks again until it stalls the listener's.
    // Waits spin this thread's event loop: it serves the talker.
    QProcess curl;
    bool stalled = false;
    for (int attempt = 0; attempt < 10 && !stalled; ++attempt) {
        curl.start(QStringLiteral("curl"),
                   {QStringLiteral("-s"), QStringLiteral("--max-time"), QStringLiteral("10"),
                    QStringLiteral("http://127.0.0.1:%1/stall").arg(server.serverPort())});
        QVERIFY(curl.waitForStarted(kTimeout));
        // Stalling takes 1.5 s; a refusal comes back at once.
        QTest::qWait(500);
        stalled = curl.state() != QProcess::NotRunning;
    }
    QVERIFY(stalled);
    const QString chunk(8 * 1024, QLatin1Char('x')); // 16 KiB queued as UTF-16
    for (int n = 0; n < 40; ++n)
        talker.socket().sendTextMessage(QString::number(n) + chunk);
    QTRY_COMPARE_WITH_TIMEOUT(curl.state(), QProcess::NotRunning, kTimeout);
    QCOMPARE(curl.readAllStandardOutput(), QByteArray("stalled"));

    QTRY_VERIFY_WITH_TIMEOUT(rooms.droppedCount() > 0, kTimeout);
    QTest::qWait(kQuietMs);
    const qsizetype delivered = listener.received().size();
    QCOMPARE(qsizetype(rooms.droppedCount()) + delivered, 40);
    QVERIFY(delivered <= 64 / 16 + 1);
    // What got through came in order, from the start.
    for (qsizetype i = 0; i < delivered; ++i)
        QVERIFY(listener.received().at(i).text.startsWith(QString::number(i) + QLatin1Char('x')));

    talker.socket().sendTextMessage(QStringLiteral("after"));
    QVERIFY(listener.waitForCount(delivered + 1));
    QCOMPARE(listener.received().constLast().text, QStringLiteral("after"));
}

void tst_BroadcastRooms::serverCloseEmptiesTheRooms()
{
    Fixture f;
    QVERIFY2(f.start(), qPrintable(f.server.errorString()));
    QSignalSpy left(&f.rooms, &sluice::BroadcastRooms::memberLeft);
    Client a1, a2, b1;
    QVERIFY(a1.open(f.port, QStringLiteral("/chat/a")));
    QVERIFY(a2.open(f.port, QStringLiteral("/chat/a")));
    QVERIFY(b1.open(f.port, QStringLiteral("/chat/b")));
    QTRY_COMPARE_WITH_TIMEOUT(f.rooms.memberCount(QStringLiteral("a")), 2, kTimeout);
    QTRY_COMPARE_WITH_TIMEOUT(f.rooms.memberCount(QStringLiteral("b")), 1, kTimeout);

    f.server.close();
    QTRY_COMPARE_WITH_TIMEOUT(left.size(), 3, kTimeout);
    QVERIFY(f.rooms.rooms().isEmpty());
    for (Client *client : {&a1, &a2, &b1}) {
        QTRY_COMPARE_WITH_TIMEOUT(client->socket().state(), QAbstractSocket::UnconnectedState,
                                  kTimeout);
        QCOMPARE(client->socket().closeCode(), QWebSocketProtocol::CloseCodeGoingAway);
    }
}

void tst_BroadcastRooms::roomsDestroyedBeforeTheirMembers()
{
    sluice::Server server;
    auto rooms = std::make_unique<sluice::BroadcastRooms>(server.monitor());
    QVERIFY(server.map(QStringLiteral("ws:/chat/(?<room>\\w+)"), rooms.get(),
                       &sluice::BroadcastRooms::join));
    QVERIFY(server.listen(QHostAddress::LocalHost, 0));
    RoomEvents monitor(server.monitor());
    Client a1, a2;
    QVERIFY(a1.open(server.serverPort(), QStringLiteral("/chat/a")));
    QVERIFY(a2.open(server.serverPort(), QStringLiteral("/chat/a")));
    QTRY_COMPARE_WITH_TIMEOUT(rooms->memberCount(QStringLiteral("a")), 2, kTimeout);

    // The members outlive the rooms: their traffic and their leaving must
    // not reach into the destroyed object.
    rooms.reset();
    a1.socket().sendTextMessage(QStringLiteral("into the void"));
    a1.socket().sendBinaryMessage(QByteArrayLiteral("also"));
    QTest::qWait(kQuietMs);
    QCOMPARE(a2.received().size(), 0);
    a1.socket().close();
    a2.socket().abort();
    QTRY_COMPARE_WITH_TIMEOUT(server.connectionCount(), 0, kTimeout);
    QVERIFY(monitor.waitForCount(2));
    QTest::qWait(kQuietMs);
    server.monitor()->flush();
    // The joins were seen; no leave comes from rooms that no longer exist.
    QCOMPARE(monitor.events().size(), 2);
}

void tst_BroadcastRooms::serverDestroyedBeforeTheRooms()
{
    // An application may well keep its rooms longer than a server it stops
    // and deletes (or simply declare them first). The server's sockets die
    // with it; the rooms must not keep them.
    auto rooms = std::make_unique<sluice::BroadcastRooms>();
    QSignalSpy joined(rooms.get(), &sluice::BroadcastRooms::memberJoined);
    QSignalSpy left(rooms.get(), &sluice::BroadcastRooms::memberLeft);
    auto server = std::make_unique<sluice::Server>();
    QVERIFY(server->setWorkerCount(1)); // the spies above (see Fixture)
    QVERIFY(server->map(QStringLiteral("ws:/chat/(?<room>\\w+)"), rooms.get(),
                        &sluice::BroadcastRooms::join));
    QVERIFY(server->listen(QHostAddress::LocalHost, 0));
    Client a1, a2, b1;
    QVERIFY(a1.open(server->serverPort(), QStringLiteral("/chat/a")));
    QVERIFY(a2.open(server->serverPort(), QStringLiteral("/chat/a")));
    QVERIFY(b1.open(server->serverPort(), QStringLiteral("/chat/b")));
    QTRY_COMPARE_WITH_TIMEOUT(joined.size(), 3, kTimeout);

    server.reset();
    // Should the rooms still hold the dead sockets, destroying the rooms
    // would touch freed memory and take the whole run down; leak them so
    // that the failures below are what gets reported.
    auto keepAliveIfStale = qScopeGuard([&rooms] {
        if (!rooms->rooms().isEmpty())
            (void)rooms.release();
    });
    QTRY_VERIFY_WITH_TIMEOUT(rooms->rooms().isEmpty(), 2000);
    QCOMPARE(rooms->memberCount(QStringLiteral("a")), 0);
    QCOMPARE(left.size(), 3);
    QStringList leftRooms;
    for (const QList<QVariant> &args : std::as_const(left))
        leftRooms.append(args.at(0).toString());
    leftRooms.sort();
    QCOMPARE(leftRooms,
             (QStringList {QStringLiteral("a"), QStringLiteral("a"), QStringLiteral("b")}));
}

QTEST_MAIN(tst_BroadcastRooms)
#include "tst_broadcastrooms.moc"
