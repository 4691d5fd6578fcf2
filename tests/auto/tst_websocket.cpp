#include <sluice/chain.h>
#include <sluice/contenttype.h>
#include <sluice/httpconnect.h>
#include <sluice/server.h>
#include <sluice/websocket.h>

#include <QtCore/QCryptographicHash>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QMimeDatabase>
#include <QtCore/QMutex>
#include <QtCore/QPointer>
#include <QtCore/QTimer>
#include <QtNetwork/QNetworkRequest>
#include <QtNetwork/QTcpSocket>
#include <QtTest/QtTest>
#include <QtWebSockets/QWebSocket>
#include <QtWebSockets/QWebSocketHandshakeOptions>

#include "rawwebsocket.h"

#include <memory>
#include <stdexcept>

using namespace std::chrono_literals;

namespace {

constexpr int kTimeout = 10000;

// Handlers may run on a server thread, so whatever they observe is handed
// to the test through a lock.
class Probe
{
public:
    void set(const QString &key, const QVariant &value)
    {
        QMutexLocker lock(&m_mutex);
        m_values.insert(key, value);
    }
    QVariant get(const QString &key) const
    {
        QMutexLocker lock(&m_mutex);
        return m_values.value(key);
    }
    bool has(const QString &key) const
    {
        QMutexLocker lock(&m_mutex);
        return m_values.contains(key);
    }
    void append(const QString &entry)
    {
        QMutexLocker lock(&m_mutex);
        m_log.append(entry);
    }
    QStringList log() const
    {
        QMutexLocker lock(&m_mutex);
        return m_log;
    }
    void setSocket(sluice::WebSocket *socket)
    {
        QMutexLocker lock(&m_mutex);
        m_socket = socket;
    }
    bool socketIsNull() const
    {
        QMutexLocker lock(&m_mutex);
        return m_socket.isNull();
    }

private:
    mutable QMutex m_mutex;
    QVariantHash m_values;
    QStringList m_log;
    QPointer<sluice::WebSocket> m_socket;
};

void echo(sluice::WebSocket *socket)
{
    QObject::connect(socket, &sluice::WebSocket::textReceived, socket,
                     [socket](const QString &message) { socket->sendText(message); });
    QObject::connect(socket, &sluice::WebSocket::binaryReceived, socket,
                     [socket](const QByteArray &message) { socket->sendBinary(message); });
}

// The seed's handler: each query is a file extension, each reply its type.
void seedContentTypeHandler(sluice::WebSocket *socket)
{
    QObject::connect(socket, &sluice::WebSocket::textReceived, socket,
                     [socket](const QString &ext) { socket->sendText(sluice::contentType(ext)); });
}

void reportSubprotocol(sluice::WebSocket *socket)
{
    const QString chosen = socket->subprotocol();
    socket->sendText(chosen.isEmpty() ? QStringLiteral("none") : chosen);
}

QString mimeFor(const QString &extension)
{
    return QMimeDatabase()
            .mimeTypeForFile(QStringLiteral("file.") + extension, QMimeDatabase::MatchExtension)
            .name();
}

QByteArray acceptFor(const QByteArray &key)
{
    return QCryptographicHash::hash(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11",
                                    QCryptographicHash::Sha1)
            .toBase64();
}

QByteArray upgradeRequest(const QByteArray &path, const QByteArray &key,
                          const QByteArray &extraHeaders = QByteArray())
{
    return "GET " + path
           + " HTTP/1.1\r\n"
             "Host: 127.0.0.1\r\n"
             "Upgrade: websocket\r\n"
             "Connection: Upgrade\r\n"
             "Sec-WebSocket-Key: "
           + key
           + "\r\n"
             "Sec-WebSocket-Version: 13\r\n"
           + extraHeaders + "\r\n";
}

// A client frame must be masked (RFC 6455 5.3); the mask is arbitrary.
QByteArray maskedFrame(quint8 opcode, const QByteArray &payload)
{
    Q_ASSERT(payload.size() < 126);
    static const char mask[4] = {0x37, char(0xfa), 0x21, 0x3d};
    QByteArray frame;
    frame.append(char(0x80 | opcode));
    frame.append(char(0x80 | payload.size()));
    frame.append(mask, 4);
    for (qsizetype i = 0; i < payload.size(); ++i)
        frame.append(char(payload.at(i) ^ mask[i % 4]));
    return frame;
}

struct RawResponse
{
    int status = 0;
    QByteArray statusLine;
    QList<QPair<QByteArray, QByteArray>> headers;
    QByteArray body;

    QByteArray header(const QByteArray &name) const
    {
        for (const auto &h : headers) {
            if (h.first.compare(name, Qt::CaseInsensitive) == 0)
                return h.second;
        }
        return QByteArray();
    }
    int count(const QByteArray &name) const
    {
        int n = 0;
        for (const auto &h : headers)
            n += h.first.compare(name, Qt::CaseInsensitive) == 0;
        return n;
    }
};

// Takes one complete response (head, and a Content-Length body) off the
// front of buffer; false while it has not all arrived.
bool takeResponse(QByteArray &buffer, RawResponse *response)
{
    const qsizetype headEnd = buffer.indexOf("\r\n\r\n");
    if (headEnd < 0)
        return false;
    const QList<QByteArray> lines = buffer.left(headEnd).split('\n');
    RawResponse r;
    r.statusLine = lines.first().trimmed();
    const QList<QByteArray> parts = r.statusLine.split(' ');
    if (parts.size() < 2 || !parts.first().startsWith("HTTP/1."))
        return false;
    r.status = parts.at(1).toInt();
    for (qsizetype i = 1; i < lines.size(); ++i) {
        const QByteArray line = lines.at(i).trimmed();
        const qsizetype colon = line.indexOf(':');
        if (colon > 0)
            r.headers.append({line.left(colon).trimmed(), line.mid(colon + 1).trimmed()});
    }
    qsizetype length = 0;
    if (r.status != 101 && r.status != 204 && r.status != 304)
        length = r.header("Content-Length").toLongLong();
    if (buffer.size() < headEnd + 4 + length)
        return false;
    r.body = buffer.mid(headEnd + 4, length);
    buffer.remove(0, headEnd + 4 + length);
    *response = r;
    return true;
}

// A hand-driven TCP client for what QWebSocket cannot show: the HTTP answer
// to a refused or misdirected upgrade.
class RawClient
{
public:
    bool connectTo(quint16 port)
    {
        m_socket.connectToHost(QHostAddress::LocalHost, port);
        return QTest::qWaitFor(
                [this] { return m_socket.state() == QAbstractSocket::ConnectedState; }, kTimeout);
    }
    void write(const QByteArray &data) { m_socket.write(data); }
    // False when the server hangs up (or times out) before a whole response.
    bool readResponse(RawResponse *response)
    {
        bool parsed = false;
        (void)QTest::qWaitFor(
                [this, response, &parsed] {
                    m_buffer += m_socket.readAll();
                    parsed = takeResponse(m_buffer, response);
                    return parsed || m_socket.state() == QAbstractSocket::UnconnectedState;
                },
                kTimeout);
        return parsed;
    }
    bool readBytes(qsizetype count, QByteArray *out)
    {
        const bool ok = QTest::qWaitFor(
                [this, count] {
                    m_buffer += m_socket.readAll();
                    return m_buffer.size() >= count;
                },
                kTimeout);
        *out = m_buffer.left(count);
        m_buffer.remove(0, qMin(count, m_buffer.size()));
        return ok;
    }
    bool waitDisconnected()
    {
        return QTest::qWaitFor(
                [this] {
                    m_buffer += m_socket.readAll();
                    return m_socket.state() == QAbstractSocket::UnconnectedState;
                },
                kTimeout);
    }
    QByteArray pending() const { return m_buffer; }
    QTcpSocket &socket() { return m_socket; }

private:
    QTcpSocket m_socket;
    QByteArray m_buffer;
};

// A client that keeps what it received, in order.
struct Client
{
    Client()
    {
        QObject::connect(&socket, &QWebSocket::textMessageReceived, &socket,
                         [this](const QString &m) { texts.append(m); });
        QObject::connect(&socket, &QWebSocket::binaryMessageReceived, &socket,
                         [this](const QByteArray &m) { binaries.append(m); });
        QObject::connect(&socket, &QWebSocket::connected, &socket, [this] { wasConnected = true; });
        QObject::connect(&socket, &QWebSocket::disconnected, &socket,
                         [this] { wasDisconnected = true; });
        QObject::connect(&socket, QOverload<QAbstractSocket::SocketError>::of(&QWebSocket::error),
                         &socket, [this](QAbstractSocket::SocketError e) { errors.append(e); });
    }
    void open(const QUrl &url, const QStringList &subprotocols = {},
              const QList<QPair<QByteArray, QByteArray>> &headers = {})
    {
        QNetworkRequest request(url);
        for (const auto &h : headers)
            request.setRawHeader(h.first, h.second);
        QWebSocketHandshakeOptions options;
        options.setSubprotocols(subprotocols);
        socket.open(request, options);
    }
    bool waitConnected()
    {
        return QTest::qWaitFor([this] { return wasConnected || wasDisconnected; }, kTimeout)
               && wasConnected;
    }
    bool waitDisconnected()
    {
        return QTest::qWaitFor([this] { return wasDisconnected; }, kTimeout);
    }

    QWebSocket socket;
    QStringList texts;
    QList<QByteArray> binaries;
    QList<QAbstractSocket::SocketError> errors;
    bool wasConnected = false;
    bool wasDisconnected = false;
};

} // namespace

// A handler object in the test's thread, reached through Router::map's
// receiver + member overload.
class RoomKeeper : public QObject
{
    Q_OBJECT
public:
    explicit RoomKeeper(Probe *probe)
        : m_probe(probe)
    { }

public Q_SLOTS:
    void accept(sluice::WebSocket *socket)
    {
        m_probe->append(QStringLiteral("accepted ") + socket->param(QStringLiteral("room")));
        connect(socket, &sluice::WebSocket::textReceived, socket, [socket](const QString &m) {
            socket->sendText(QStringLiteral("keeper:") + socket->param(QStringLiteral("room"))
                             + QLatin1Char(':') + m);
        });
    }

private:
    Probe *m_probe;
};

class tst_WebSocket : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void init();
    void cleanup();

    void textAndBinaryEcho();
    void seedContentType_data();
    void seedContentType();
    void severalQueriesOnOneConnection();
    void pathParametersAndRequest_data();
    void pathParametersAndRequest();
    void serverClosesWithCode();
    void clientClosesWithCode();
    void qobjectHandler();
    void subprotocols_data();
    void subprotocols();
    void stoppingFilterRefusesHandshake();
    void filterContinuingLater();
    void plainGetOnWebSocketRoute();
    void upgradeToUnmappedPath_data();
    void upgradeToUnmappedPath();
    void pipelinedGetThenUpgrade();
    void manyConcurrentClients();
    void pingPong();
    void throwingHandler_data();
    void throwingHandler();
    void serverCloseGoesAway();
    void connectionCount();
    void socketDeletedAfterClosed_data();
    void socketDeletedAfterClosed();
    void handshakeHeaderVariants_data();
    void handshakeHeaderVariants();
    void badHandshakeIsAnswered_data();
    void badHandshakeIsAnswered();
    void messageTooBig();
    void clientLeavesDuringDeferredFilter();
    void destroyingServerWithOpenSockets();
    void framesOnTheWire_data();
    void framesOnTheWire();
    void burstAnsweredInOrderBeforeClose();
    void answersNotHeldBehindPartialFrame();
    void writesThroughQWebSocketKeepOrder();

private:
    QUrl url(const QString &pathAndQuery) const
    {
        return QUrl(QStringLiteral("ws://127.0.0.1:%1%2")
                            .arg(m_server->serverPort())
                            .arg(pathAndQuery));
    }

    std::unique_ptr<Probe> m_probe;
    std::unique_ptr<sluice::Server> m_server;
};

void tst_WebSocket::init()
{
    m_probe = std::make_unique<Probe>();
    m_server = std::make_unique<sluice::Server>();
    Probe *probe = m_probe.get();
    sluice::Server &s = *m_server;

    QVERIFY(s.map(QStringLiteral("ws:/echo"), echo));
    // Sluice's own frames and QWebSocket's, on one socket in one answer.
    QVERIFY(s.map(QStringLiteral("ws:/mixed"), [](sluice::WebSocket *ws) {
        QObject::connect(ws, &sluice::WebSocket::textReceived, ws, [ws](const QString &m) {
            ws->sendText(m + QStringLiteral(" 1"));
            ws->socket()->sendTextMessage(m + QStringLiteral(" 2"));
            ws->sendBinary((m + QStringLiteral(" 3")).toUtf8());
            ws->ping(m.toUtf8());
            ws->sendText(m + QStringLiteral(" 4"));
        });
    }));
    QVERIFY(s.map(QStringLiteral("ws:/contentType"), seedContentTypeHandler));
    QVERIFY(s.map(QStringLiteral("get:/hello"),
                  [](sluice::HttpConnect &c) { c.response().write("hello"); }));

    QVERIFY(s.map(QStringLiteral("ws:/rooms/(?<room>\\w+)/(user:\\w+)"), [](sluice::WebSocket *ws) {
        QJsonArray headerNames;
        for (const auto &h : ws->headers())
            headerNames.append(QString::fromLatin1(h.first));
        QJsonObject seen {
                {QStringLiteral("room"), ws->param(QStringLiteral("room"))},
                {QStringLiteral("user"), ws->param(QStringLiteral("user"))},
                {QStringLiteral("paramCount"), ws->params().size()},
                {QStringLiteral("path"), ws->path()},
                {QStringLiteral("route"), ws->route()},
                {QStringLiteral("xTest"), QString::fromLatin1(ws->header("x-test"))},
                {QStringLiteral("headerNames"), headerNames},
                {QStringLiteral("peer"), ws->peerAddress().toString()},
                {QStringLiteral("peerPort"), int(ws->peerPort())},
                {QStringLiteral("topic"),
                 QUrlQuery(ws->requestUrl()).queryItemValue(QStringLiteral("topic"))},
                {QStringLiteral("id"), QString::number(ws->id())},
                {QStringLiteral("open"), ws->isOpen()},
        };
        ws->sendText(QString::fromUtf8(QJsonDocument(seen).toJson(QJsonDocument::Compact)));
    }));

    // The first message says how to close: "<code> <reason>".
    QVERIFY(s.map(QStringLiteral("ws:/close"), [](sluice::WebSocket *ws) {
        QObject::connect(ws, &sluice::WebSocket::textReceived, ws, [ws](const QString &m) {
            const qsizetype space = m.indexOf(QLatin1Char(' '));
            ws->close(m.left(space).toInt(), m.mid(space + 1));
        });
    }));
    QVERIFY(s.map(QStringLiteral("ws:/observed"), [probe](sluice::WebSocket *ws) {
        probe->setSocket(ws);
        QObject::connect(ws, &sluice::WebSocket::closed, ws, [probe](int code, const QString &r) {
            probe->append(QStringLiteral("closed %1 %2").arg(code).arg(r));
        });
        QObject::connect(ws, &QObject::destroyed,
                         [probe] { probe->append(QStringLiteral("destroyed")); });
        QObject::connect(ws, &sluice::WebSocket::textReceived, ws, [ws](const QString &m) {
            if (m == QLatin1String("close yourself"))
                ws->close(4010, QStringLiteral("as asked"));
        });
        ws->sendText(QStringLiteral("observed"));
    }));

    sluice::MapOptions offering;
    offering.subprotocols = {QStringLiteral("v2"), QStringLiteral("v1")};
    QVERIFY(s.map(QStringLiteral("ws:/proto"), reportSubprotocol, offering));
    QVERIFY(s.map(QStringLiteral("ws:/noproto"), reportSubprotocol));

    QVERIFY(s.filter(QStringLiteral("/guarded"), [probe](sluice::HttpConnect &c, sluice::Chain) {
        probe->append(QStringLiteral("guard ran"));
        c.response().setStatus(403);
        c.response().write("no");
    }));
    QVERIFY(s.map(QStringLiteral("ws:/guarded"), [probe](sluice::WebSocket *ws) {
        probe->append(QStringLiteral("guarded handler ran"));
        echo(ws);
    }));
    QVERIFY(s.filter(QStringLiteral("/later"), [probe](sluice::HttpConnect &c, sluice::Chain next) {
        probe->append(QStringLiteral("later filter"));
        QTimer::singleShot(50, &c, [probe, next] {
            probe->set(QStringLiteral("continued"), true);
            next();
        });
    }));
    QVERIFY(s.map(QStringLiteral("ws:/later"), [probe](sluice::WebSocket *ws) {
        ws->sendText(probe->has(QStringLiteral("continued")) ? QStringLiteral("after filter")
                                                             : QStringLiteral("too early"));
        echo(ws);
    }));

    // Asked to, the handler pings the client and reports the pong it gets back.
    QVERIFY(s.map(QStringLiteral("ws:/ping"), [](sluice::WebSocket *ws) {
        QObject::connect(ws, &sluice::WebSocket::pongReceived, ws,
                         [ws](quint64, const QByteArray &payload) {
                             ws->sendText(QStringLiteral("pong:") + QString::fromUtf8(payload));
                         });
        QObject::connect(ws, &sluice::WebSocket::textReceived, ws,
                         [ws](const QString &m) { ws->ping(m.toUtf8()); });
    }));

    QVERIFY(s.map(QStringLiteral("ws:/throw/std"),
                  [](sluice::WebSocket *) { throw std::runtime_error("handler failed"); }));
    QVERIFY(s.map(QStringLiteral("ws:/throw/int"), [](sluice::WebSocket *) { throw 42; }));

    QVERIFY(s.listen(QHostAddress::LocalHost, 0));
    QVERIFY(s.isListening());
    QVERIFY(s.serverPort() != 0);
}

void tst_WebSocket::cleanup()
{
    m_server.reset();
    m_probe.reset();
}

void tst_WebSocket::textAndBinaryEcho()
{
    Client c;
    c.open(url(QStringLiteral("/echo")));
    QVERIFY(c.waitConnected());

    c.socket.sendTextMessage(QStringLiteral("héllo wörld"));
    QByteArray binary;
    for (int i = 0; i < 300; ++i)
        binary.append(char(i));
    c.socket.sendBinaryMessage(binary);
    c.socket.sendTextMessage(QString());

    QTRY_COMPARE_WITH_TIMEOUT(c.texts.size(), 2, kTimeout);
    QTRY_COMPARE_WITH_TIMEOUT(c.binaries.size(), 1, kTimeout);
    QCOMPARE(c.texts.at(0), QStringLiteral("héllo wörld"));
    QCOMPARE(c.texts.at(1), QString());
    QCOMPARE(c.binaries.at(0), binary);

    // A message bigger than one Qt frame comes back whole.
    const QByteArray big(1024 * 1024 + 17, 'x');
    c.socket.sendBinaryMessage(big);
    QTRY_COMPARE_WITH_TIMEOUT(c.binaries.size(), 2, kTimeout);
    QCOMPARE(c.binaries.at(1), big);
    QVERIFY(c.errors.isEmpty());
}

void tst_WebSocket::seedContentType_data()
{
    QTest::addColumn<QString>("extension");
    QTest::addColumn<QString>("expected");

    QTest::newRow("js") << "js" << mimeFor(QStringLiteral("js"));
    QTest::newRow("html") << "html" << mimeFor(QStringLiteral("html"));
    QTest::newRow("css") << "css" << mimeFor(QStringLiteral("css"));
    QTest::newRow("png") << "png" << mimeFor(QStringLiteral("png"));
    QTest::newRow("unknown") << "zzzunknown" << QStringLiteral("application/octet-stream");
}

void tst_WebSocket::seedContentType()
{
    QFETCH(QString, extension);
    QFETCH(QString, expected);
    QVERIFY(!expected.isEmpty());

    Client c;
    c.open(url(QStringLiteral("/contentType")));
    QVERIFY(c.waitConnected());
    c.socket.sendTextMessage(extension);
    QTRY_COMPARE_WITH_TIMEOUT(c.texts.size(), 1, kTimeout);
    QCOMPARE(c.texts.at(0), expected);
}

void tst_WebSocket::severalQueriesOnOneConnection()
{
    const QStringList queries
            = {QStringLiteral("js"),  QStringLiteral("html"),       QStringLiteral("css"),
               QStringLiteral("png"), QStringLiteral("zzzunknown"), QStringLiteral("js")};
    Client c;
    c.open(url(QStringLiteral("/contentType")));
    QVERIFY(c.waitConnected());

    // One at a time, as the seed's page does: the socket stays open between.
    for (int i = 0; i < 3; ++i) {
        c.socket.sendTextMessage(queries.at(i));
        QTRY_COMPARE_WITH_TIMEOUT(c.texts.size(), i + 1, kTimeout);
        QCOMPARE(c.texts.at(i), mimeFor(queries.at(i)));
        QCOMPARE(c.socket.state(), QAbstractSocket::ConnectedState);
    }
    // Then in a burst: answers come back in order.
    for (int i = 3; i < queries.size(); ++i)
        c.socket.sendTextMessage(queries.at(i));
    QTRY_COMPARE_WITH_TIMEOUT(c.texts.size(), queries.size(), kTimeout);
    for (int i = 0; i < queries.size(); ++i)
        QCOMPARE(c.texts.at(i), mimeFor(queries.at(i)));
    QCOMPARE(c.texts.at(4), QStringLiteral("application/octet-stream"));
    QVERIFY(!c.wasDisconnected);
}

void tst_WebSocket::pathParametersAndRequest_data()
{
    QTest::addColumn<QString>("room");
    QTest::addColumn<QString>("user");

    QTest::newRow("lobby/alice") << "lobby"
                                 << "alice";
    QTest::newRow("r2/bob_7") << "r2"
                              << "bob_7";
}

void tst_WebSocket::pathParametersAndRequest()
{
    QFETCH(QString, room);
    QFETCH(QString, user);

    Client c;
    c.open(url(QStringLiteral("/rooms/%1/%2?topic=cats&n=2").arg(room, user)), {},
           {{"X-Test", "abc 123"}});
    QVERIFY(c.waitConnected());
    QTRY_COMPARE_WITH_TIMEOUT(c.texts.size(), 1, kTimeout);

    QJsonParseError error;
    const QJsonObject seen = QJsonDocument::fromJson(c.texts.at(0).toUtf8(), &error).object();
    QCOMPARE(error.error, QJsonParseError::NoError);
    QCOMPARE(seen.value(QStringLiteral("room")).toString(), room);
    QCOMPARE(seen.value(QStringLiteral("user")).toString(), user);
    QCOMPARE(seen.value(QStringLiteral("paramCount")).toInt(), 2);
    QCOMPARE(seen.value(QStringLiteral("path")).toString(),
             QStringLiteral("/rooms/%1/%2").arg(room, user));
    QCOMPARE(seen.value(QStringLiteral("route")).toString(),
             QStringLiteral("ws:/rooms/(?<room>\\w+)/(user:\\w+)"));
    QCOMPARE(seen.value(QStringLiteral("xTest")).toString(), QStringLiteral("abc 123"));
    QVERIFY(seen.value(QStringLiteral("headerNames"))
                    .toArray()
                    .contains(QJsonValue(QStringLiteral("X-Test"))));
    QVERIFY(QHostAddress(seen.value(QStringLiteral("peer")).toString()).isLoopback());
    QCOMPARE(seen.value(QStringLiteral("peerPort")).toInt(), int(c.socket.localPort()));
    QCOMPARE(seen.value(QStringLiteral("topic")).toString(), QStringLiteral("cats"));
    QVERIFY(seen.value(QStringLiteral("id")).toString().toULongLong() != 0);
    QCOMPARE(seen.value(QStringLiteral("open")).toBool(), true);
}

void tst_WebSocket::serverClosesWithCode()
{
    Client c;
    c.open(url(QStringLiteral("/close")));
    QVERIFY(c.waitConnected());
    c.socket.sendTextMessage(QStringLiteral("4001 server says bye"));
    QVERIFY(c.waitDisconnected());
    QCOMPARE(int(c.socket.closeCode()), 4001);
    QCOMPARE(c.socket.closeReason(), QStringLiteral("server says bye"));
}

void tst_WebSocket::clientClosesWithCode()
{
    Client c;
    c.open(url(QStringLiteral("/observed")));
    QVERIFY(c.waitConnected());
    QTRY_COMPARE_WITH_TIMEOUT(c.texts.size(), 1, kTimeout);
    c.socket.close(QWebSocketProtocol::CloseCode(4002), QStringLiteral("client says bye"));
    QVERIFY(c.waitDisconnected());
    QTRY_VERIFY_WITH_TIMEOUT(m_probe->log().contains(QStringLiteral("closed 4002 client says bye")),
                             kTimeout);
    QCOMPARE(m_probe->log().count(QStringLiteral("closed 4002 client says bye")), 1);
}

void tst_WebSocket::qobjectHandler()
{
    RoomKeeper *keeper = new RoomKeeper(m_probe.get());
    QVERIFY(m_server->map(QStringLiteral("ws:/keeper/(?<room>\\w+)"), keeper, &RoomKeeper::accept));

    Client c;
    c.open(url(QStringLiteral("/keeper/blue")));
    QVERIFY(c.waitConnected());
    c.socket.sendTextMessage(QStringLiteral("hi"));
    QTRY_COMPARE_WITH_TIMEOUT(c.texts.size(), 1, kTimeout);
    QCOMPARE(c.texts.at(0), QStringLiteral("keeper:blue:hi"));
    QCOMPARE(m_probe->log(), QStringList {QStringLiteral("accepted blue")});

    // Once the receiver is gone its slot no longer runs.
    delete keeper;
    Client late;
    late.open(url(QStringLiteral("/keeper/red")));
    // The handshake is Qt's, so it completes; only the handler is gone.
    QVERIFY(late.waitConnected());
    late.socket.sendTextMessage(QStringLiteral("anyone?"));
    QTest::qWait(200);
    QVERIFY(late.texts.isEmpty());
    QCOMPARE(m_probe->log(), QStringList {QStringLiteral("accepted blue")});
}

void tst_WebSocket::subprotocols_data()
{
    QTest::addColumn<QString>("path");
    QTest::addColumn<QStringList>("requested");
    QTest::addColumn<QString>("expected");

    QTest::newRow("v1 of v2,v1") << "/proto" << QStringList {"v1"} << "v1";
    QTest::newRow("v2 of v2,v1") << "/proto" << QStringList {"v2"} << "v2";
    QTest::newRow("client order v1,v2") << "/proto" << QStringList {"v1", "v2"} << "v1";
    QTest::newRow("client order x,v2,v1") << "/proto" << QStringList {"x", "v2", "v1"} << "v2";
    QTest::newRow("unknown x") << "/proto" << QStringList {"x"} << "";
    QTest::newRow("none asked") << "/proto" << QStringList {} << "";
    QTest::newRow("route offers none") << "/noproto" << QStringList {"v1"} << "";
}

void tst_WebSocket::subprotocols()
{
    QFETCH(QString, path);
    QFETCH(QStringList, requested);
    QFETCH(QString, expected);

    Client c;
    c.open(url(path), requested);
    QVERIFY(c.waitConnected());
    QCOMPARE(c.socket.subprotocol(), expected);
    QTRY_COMPARE_WITH_TIMEOUT(c.texts.size(), 1, kTimeout);
    QCOMPARE(c.texts.at(0), expected.isEmpty() ? QStringLiteral("none") : expected);
}

void tst_WebSocket::stoppingFilterRefusesHandshake()
{
    Client c;
    c.open(url(QStringLiteral("/guarded")));
    QVERIFY(QTest::qWaitFor([&c] { return c.wasConnected || !c.errors.isEmpty(); }, kTimeout));
    QVERIFY(!c.wasConnected);
    QVERIFY(!c.errors.isEmpty());
    QVERIFY2(c.socket.errorString().contains(QLatin1String("403")),
             qPrintable(c.socket.errorString()));

    // Seen raw: the upgrade is answered by the filter's response.
    RawClient raw;
    QVERIFY(raw.connectTo(m_server->serverPort()));
    raw.write(upgradeRequest("/guarded", "dGhlIHNhbXBsZSBub25jZQ=="));
    RawResponse r;
    QVERIFY(raw.readResponse(&r));
    QCOMPARE(r.status, 403);
    QCOMPARE(r.body, QByteArray("no"));
    QVERIFY(r.header("Sec-WebSocket-Accept").isEmpty());
    QVERIFY(m_probe->log().count(QStringLiteral("guard ran")) >= 2);
    QVERIFY(!m_probe->log().contains(QStringLiteral("guarded handler ran")));
}

void tst_WebSocket::filterContinuingLater()
{
    Client c;
    c.open(url(QStringLiteral("/later")));
    QVERIFY(c.waitConnected());
    QTRY_COMPARE_WITH_TIMEOUT(c.texts.size(), 1, kTimeout);
    QCOMPARE(c.texts.at(0), QStringLiteral("after filter"));
    c.socket.sendTextMessage(QStringLiteral("still here"));
    QTRY_COMPARE_WITH_TIMEOUT(c.texts.size(), 2, kTimeout);
    QCOMPARE(c.texts.at(1), QStringLiteral("still here"));
}

void tst_WebSocket::plainGetOnWebSocketRoute()
{
    RawClient raw;
    QVERIFY(raw.connectTo(m_server->serverPort()));
    raw.write("GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    RawResponse r;
    QVERIFY(raw.readResponse(&r));
    QCOMPARE(r.status, 426);
    QCOMPARE(r.header("Upgrade").toLower(), QByteArray("websocket"));
    QVERIFY(r.body.startsWith("426 "));
}

void tst_WebSocket::upgradeToUnmappedPath_data()
{
    QTest::addColumn<QByteArray>("path");

    QTest::newRow("unmapped") << QByteArray("/nowhere");
    QTest::newRow("http-only route") << QByteArray("/hello");
}

void tst_WebSocket::upgradeToUnmappedPath()
{
    QFETCH(QByteArray, path);

    RawClient raw;
    QVERIFY(raw.connectTo(m_server->serverPort()));
    raw.write(upgradeRequest(path, "dGhlIHNhbXBsZSBub25jZQ=="));
    RawResponse r;
    QVERIFY(raw.readResponse(&r));
    QCOMPARE(r.status, 404);
    QVERIFY(r.header("Sec-WebSocket-Accept").isEmpty());
    QVERIFY(r.body.startsWith("404 Not Found"));
}

void tst_WebSocket::pipelinedGetThenUpgrade()
{
    const QByteArray key = "x3JJHMbDL1EzLkh9GBhXDw==";
    // RFC 6455's own example, so that acceptFor() is checked too.
    QCOMPARE(acceptFor("dGhlIHNhbXBsZSBub25jZQ=="), QByteArray("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));

    RawClient raw;
    QVERIFY(raw.connectTo(m_server->serverPort()));
    raw.write("GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + upgradeRequest("/echo", key));

    RawResponse first;
    QVERIFY(raw.readResponse(&first));
    QCOMPARE(first.status, 200);
    QCOMPARE(first.body, QByteArray("hello"));

    RawResponse second;
    QVERIFY(raw.readResponse(&second));
    QCOMPARE(second.status, 101);
    QCOMPARE(second.header("Upgrade").toLower(), QByteArray("websocket"));
    QVERIFY(second.header("Connection").toLower().contains("upgrade"));
    QCOMPARE(second.header("Sec-WebSocket-Accept"), acceptFor(key));

    // The socket now speaks WebSocket: a masked text frame is echoed unmasked.
    raw.write(maskedFrame(0x1, "pipelined"));
    QByteArray frame;
    QVERIFY(raw.readBytes(2 + 9, &frame));
    QCOMPARE(quint8(frame.at(0)), quint8(0x81));
    QCOMPARE(quint8(frame.at(1)), quint8(9));
    QCOMPARE(frame.mid(2), QByteArray("pipelined"));

    // A close frame with 1000 is answered with 1000 and the server hangs up.
    raw.write(maskedFrame(0x8, QByteArray("\x03\xe8", 2)));
    QByteArray closeFrame;
    QVERIFY(raw.readBytes(4, &closeFrame));
    QCOMPARE(quint8(closeFrame.at(0)), quint8(0x88));
    QCOMPARE(closeFrame.mid(2, 2), QByteArray("\x03\xe8", 2));
    QVERIFY(raw.waitDisconnected());
}

void tst_WebSocket::manyConcurrentClients()
{
    constexpr int clientCount = 50;
    constexpr int messageCount = 100;

    std::vector<std::unique_ptr<Client>> clients;
    for (int i = 0; i < clientCount; ++i) {
        clients.push_back(std::make_unique<Client>());
        Client *c = clients.back().get();
        QObject::connect(&c->socket, &QWebSocket::connected, &c->socket, [c, i] {
            for (int n = 0; n < messageCount; ++n)
                c->socket.sendTextMessage(QStringLiteral("%1:%2").arg(i).arg(n));
        });
        c->open(url(QStringLiteral("/echo")));
    }

    auto allDone = [&clients] {
        for (const auto &c : clients) {
            if (c->texts.size() < messageCount || c->wasDisconnected)
                return false;
        }
        return true;
    };
    QTRY_VERIFY_WITH_TIMEOUT(allDone(), 60000);
    QCOMPARE(m_server->connectionCount(), clientCount);

    // Nothing extra trails behind.
    QTest::qWait(100);
    for (int i = 0; i < clientCount; ++i) {
        const Client &c = *clients[i];
        QVERIFY(c.errors.isEmpty());
        QCOMPARE(c.texts.size(), messageCount);
        for (int n = 0; n < messageCount; ++n)
            QCOMPARE(c.texts.at(n), QStringLiteral("%1:%2").arg(i).arg(n));
    }

    for (auto &c : clients)
        c->socket.close();
    QTRY_COMPARE_WITH_TIMEOUT(m_server->connectionCount(), 0, kTimeout);
}

void tst_WebSocket::pingPong()
{
    Client c;
    c.open(url(QStringLiteral("/ping")));
    QVERIFY(c.waitConnected());

    QByteArray clientPong;
    connect(&c.socket, &QWebSocket::pong, &c.socket,
            [&clientPong](quint64, const QByteArray &payload) { clientPong = payload; });
    c.socket.ping("from client");
    QTRY_COMPARE_WITH_TIMEOUT(clientPong, QByteArray("from client"), kTimeout);

    // And the other way: the server's ping is answered by Qt's client.
    c.socket.sendTextMessage(QStringLiteral("from server"));
    QTRY_COMPARE_WITH_TIMEOUT(c.texts.size(), 1, kTimeout);
    QCOMPARE(c.texts.at(0), QStringLiteral("pong:from server"));
}

void tst_WebSocket::throwingHandler_data()
{
    QTest::addColumn<QString>("path");

    QTest::newRow("std::exception") << "/throw/std";
    QTest::newRow("int") << "/throw/int";
}

void tst_WebSocket::throwingHandler()
{
    QFETCH(QString, path);

    Client c;
    c.open(url(path));
    QVERIFY(c.waitDisconnected());
    QCOMPARE(int(c.socket.closeCode()), int(QWebSocketProtocol::CloseCodeBadOperation));

    // The server goes on serving.
    Client next;
    next.open(url(QStringLiteral("/echo")));
    QVERIFY(next.waitConnected());
    next.socket.sendTextMessage(QStringLiteral("alive"));
    QTRY_COMPARE_WITH_TIMEOUT(next.texts, QStringList {QStringLiteral("alive")}, kTimeout);
}

void tst_WebSocket::serverCloseGoesAway()
{
    Client a;
    Client b;
    a.open(url(QStringLiteral("/echo")));
    b.open(url(QStringLiteral("/observed")));
    QVERIFY(a.waitConnected());
    QVERIFY(b.waitConnected());
    QTRY_COMPARE_WITH_TIMEOUT(b.texts.size(), 1, kTimeout);
    const quint16 port = m_server->serverPort();

    m_server->close();
    QVERIFY(!m_server->isListening());
    QVERIFY(a.waitDisconnected());
    QVERIFY(b.waitDisconnected());
    QCOMPARE(int(a.socket.closeCode()), int(QWebSocketProtocol::CloseCodeGoingAway));
    QCOMPARE(int(b.socket.closeCode()), int(QWebSocketProtocol::CloseCodeGoingAway));
    // The handler's socket learns why it closed; the reason is the server's choice.
    QTRY_VERIFY_WITH_TIMEOUT(
            !m_probe->log().filter(QRegularExpression(QStringLiteral("^closed 1001\\b"))).isEmpty(),
            kTimeout);
    QTRY_COMPARE_WITH_TIMEOUT(m_server->connectionCount(), 0, kTimeout);

    // No longer listening: a new connection is refused.
    QTcpSocket late;
    late.connectToHost(QHostAddress::LocalHost, port);
    QVERIFY(QTest::qWaitFor([&late] { return late.state() == QAbstractSocket::UnconnectedState; },
                            kTimeout));
    QCOMPARE(late.error(), QAbstractSocket::ConnectionRefusedError);
}

void tst_WebSocket::connectionCount()
{
    QCOMPARE(m_server->connectionCount(), 0);

    RawClient http;
    QVERIFY(http.connectTo(m_server->serverPort()));
    http.write("GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    RawResponse r;
    QVERIFY(http.readResponse(&r));
    QCOMPARE(r.status, 200);
    QTRY_COMPARE_WITH_TIMEOUT(m_server->connectionCount(), 1, kTimeout);

    Client a;
    Client b;
    a.open(url(QStringLiteral("/echo")));
    b.open(url(QStringLiteral("/echo")));
    QVERIFY(a.waitConnected());
    QVERIFY(b.waitConnected());
    QTRY_COMPARE_WITH_TIMEOUT(m_server->connectionCount(), 3, kTimeout);

    a.socket.close();
    QVERIFY(a.waitDisconnected());
    QTRY_COMPARE_WITH_TIMEOUT(m_server->connectionCount(), 2, kTimeout);

    http.socket().disconnectFromHost();
    QTRY_COMPARE_WITH_TIMEOUT(m_server->connectionCount(), 1, kTimeout);

    // An abrupt end counts as an end too.
    b.socket.abort();
    QTRY_COMPARE_WITH_TIMEOUT(m_server->connectionCount(), 0, kTimeout);
}

void tst_WebSocket::socketDeletedAfterClosed_data()
{
    QTest::addColumn<bool>("serverCloses");

    QTest::newRow("client closes") << false;
    QTest::newRow("server closes") << true;
}

void tst_WebSocket::socketDeletedAfterClosed()
{
    QFETCH(bool, serverCloses);

    Client c;
    c.open(url(QStringLiteral("/observed")));
    QVERIFY(c.waitConnected());
    QTRY_COMPARE_WITH_TIMEOUT(c.texts.size(), 1, kTimeout);
    QVERIFY(!m_probe->socketIsNull());

    if (serverCloses)
        c.socket.sendTextMessage(QStringLiteral("close yourself"));
    else
        c.socket.close(QWebSocketProtocol::CloseCodeNormal, QStringLiteral("done"));
    QVERIFY(c.waitDisconnected());

    QTRY_VERIFY_WITH_TIMEOUT(m_probe->socketIsNull(), kTimeout);
    const QStringList log = m_probe->log();
    QCOMPARE(log.size(), 2);
    QVERIFY2(log.at(0).startsWith(QLatin1String("closed ")), qPrintable(log.join(u'|')));
    QCOMPARE(log.at(1), QStringLiteral("destroyed"));
    if (serverCloses) {
        QCOMPARE(int(c.socket.closeCode()), 4010);
        QCOMPARE(log.at(0), QStringLiteral("closed 4010 as asked"));
    } else {
        QCOMPARE(log.at(0), QStringLiteral("closed 1000 done"));
    }
}

void tst_WebSocket::handshakeHeaderVariants_data()
{
    QTest::addColumn<QByteArray>("request");

    // Firefox sends "keep-alive, Upgrade"; header names and tokens ignore case.
    QTest::newRow("keep-alive, Upgrade")
            << QByteArray("GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                          "Connection: keep-alive, Upgrade\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                          "Sec-WebSocket-Version: 13\r\n\r\n");
    QTest::newRow("odd case") << QByteArray(
            "GET /echo HTTP/1.1\r\nhost: 127.0.0.1\r\nUPGRADE: WebSocket\r\n"
            "connection: upgrade\r\n"
            "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "sec-websocket-version: 13\r\n\r\n");
    QTest::newRow("query and extension offer")
            << QByteArray("GET /echo?a=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                          "Connection: Upgrade\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                          "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
                          "Sec-WebSocket-Version: 13\r\n\r\n");
}

void tst_WebSocket::handshakeHeaderVariants()
{
    QFETCH(QByteArray, request);

    RawClient raw;
    QVERIFY(raw.connectTo(m_server->serverPort()));
    raw.write(request);
    RawResponse r;
    QVERIFY(raw.readResponse(&r));
    QCOMPARE(r.status, 101);
    QCOMPARE(r.header("Sec-WebSocket-Accept"), QByteArray("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    // No extension is agreed to, so frames stay uncompressed.
    QVERIFY(r.header("Sec-WebSocket-Extensions").isEmpty());

    raw.write(maskedFrame(0x1, "variant"));
    QByteArray frame;
    QVERIFY(raw.readBytes(2 + 7, &frame));
    QCOMPARE(frame, QByteArray("\x81\x07variant"));
}

void tst_WebSocket::badHandshakeIsAnswered_data()
{
    QTest::addColumn<QByteArray>("request");
    QTest::addColumn<int>("status"); // 0: any error status

    QTest::newRow("no key") << QByteArray("GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                          "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                                          "Sec-WebSocket-Version: 13\r\n\r\n")
                            << 400;
    // RFC 6455 4.4's own example answers an unknown version with 400.
    QTest::newRow("version 8") << QByteArray("GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                             "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                                             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                             "Sec-WebSocket-Version: 8\r\n\r\n")
                               << 400;
    QTest::newRow("HTTP/1.0") << QByteArray("GET /echo HTTP/1.0\r\nHost: 127.0.0.1\r\n"
                                            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                                            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                            "Sec-WebSocket-Version: 13\r\n\r\n")
                              << 0;
}

void tst_WebSocket::badHandshakeIsAnswered()
{
    QFETCH(QByteArray, request);
    QFETCH(int, status);

    // An upgrade that cannot go ahead still gets an HTTP answer, not a bare hang-up.
    RawClient raw;
    QVERIFY(raw.connectTo(m_server->serverPort()));
    raw.write(request);
    RawResponse r;
    QVERIFY2(raw.readResponse(&r), raw.pending().constData());
    if (status)
        QCOMPARE(r.status, status);
    else
        QVERIFY2(r.status >= 400, r.statusLine.constData());
    if (request.contains("Version: 8"))
        QVERIFY(r.header("Sec-WebSocket-Version").contains("13"));
    QVERIFY(r.header("Sec-WebSocket-Accept").isEmpty());
    QVERIFY(!r.header("Date").isEmpty());
    QCOMPARE(r.header("Server"), QByteArray("Sluice/0.1.0"));
    QVERIFY(raw.waitDisconnected());
    QTRY_COMPARE_WITH_TIMEOUT(m_server->connectionCount(), 0, kTimeout);

    Client next;
    next.open(url(QStringLiteral("/echo")));
    QVERIFY(next.waitConnected());
}

void tst_WebSocket::messageTooBig()
{
    sluice::Limits limits = m_server->limits();
    limits.maxWebSocketMessageBytes = 1000;
    m_server->setLimits(limits);

    Client c;
    c.open(url(QStringLiteral("/echo")));
    QVERIFY(c.waitConnected());
    c.socket.sendBinaryMessage(QByteArray(1000, 'a'));
    QTRY_COMPARE_WITH_TIMEOUT(c.binaries.size(), 1, kTimeout);
    c.socket.sendBinaryMessage(QByteArray(1001, 'b'));
    QVERIFY(c.waitDisconnected());
    QCOMPARE(int(c.socket.closeCode()), int(QWebSocketProtocol::CloseCodeTooMuchData));
    QCOMPARE(c.binaries.size(), 1);
}

void tst_WebSocket::clientLeavesDuringDeferredFilter()
{
    {
        Client c;
        c.open(url(QStringLiteral("/later")));
        // The request is in; the filter holds it for 50 ms.
        QVERIFY(QTest::qWaitFor(
                [this] { return m_probe->log().contains(QStringLiteral("later filter")); },
                kTimeout));
        c.socket.abort();
    }
    QTest::qWait(150);
    QTRY_COMPARE_WITH_TIMEOUT(m_server->connectionCount(), 0, kTimeout);

    Client next;
    next.open(url(QStringLiteral("/echo")));
    QVERIFY(next.waitConnected());
    next.socket.sendTextMessage(QStringLiteral("fine"));
    QTRY_COMPARE_WITH_TIMEOUT(next.texts, QStringList {QStringLiteral("fine")}, kTimeout);
}

void tst_WebSocket::destroyingServerWithOpenSockets()
{
    Client a;
    Client b;
    a.open(url(QStringLiteral("/echo")));
    b.open(url(QStringLiteral("/observed")));
    QVERIFY(a.waitConnected());
    QVERIFY(b.waitConnected());
    QTRY_COMPARE_WITH_TIMEOUT(b.texts.size(), 1, kTimeout);

    m_server.reset();
    QVERIFY(a.waitDisconnected());
    QVERIFY(b.waitDisconnected());
    QVERIFY(m_probe->socketIsNull());
}

int main(int argc, char *argv[])
{
    // A deadlock in the server should fail this test quickly, not hang ctest.
    if (!qEnvironmentVariableIsSet("QTEST_FUNCTION_TIMEOUT"))
        qputenv("QTEST_FUNCTION_TIMEOUT", "60000");
    QCoreApplication app(argc, argv);
    tst_WebSocket test;
    QTEST_SET_MAIN_SOURCE_PATH
    return QTest::qExec(&test, argc, argv);
}
void tst_WebSocket::framesOnTheWire_data()
{
    QTest::addColumn<int>("opcode");
    QTest::addColumn<int>("size");
    QTest::addColumn<int>("headSize");

    // RFC 6455 5.2: the length takes the fewest bytes that hold it.
    for (const int opcode : {int(rawws::Text), int(rawws::Binary)}) {
        const char *kind = opcode == rawws::Text ? "text" : "binary";
        QTest::addRow("%s empty", kind) << opcode << 0 << 2;
        QTest::addRow("%s 125", kind) << opcode << 125 << 2;
        QTest::addRow("%s 126", kind) << opcode << 126 << 4;
        QTest::addRow("%s 65535", kind) << opcode << 65535 << 4;
        QTest::addRow("%s 65536", kind) << opcode << 65536 << 10;
        QTest::addRow("%s 1 MiB + 3", kind) << opcode << (1 << 20) + 3 << 10;
    }
}

void tst_WebSocket::framesOnTheWire()
{
    // QtWebSockets' engine splits large messages into frames of its own choosing.
    if (m_server->webSocketEngine() == sluice::Server::WebSocketEngine::Qt)
        QSKIP("framing is QtWebSockets' own under its engine");
    QFETCH(int, opcode);
    QFETCH(int, size);
    QFETCH(int, headSize);

    rawws::Client client;
    QVERIFY(client.connectTo(m_server->serverPort()));
    QCOMPARE(client.upgrade("/echo"), 101);
    QByteArray payload(size, Qt::Uninitialized);
    for (int i = 0; i < size; ++i)
        payload[i] = char('a' + i % 26);
    client.sendFrame(quint8(opcode), payload);

    rawws::Frame frame;
    QVERIFY(client.nextFrame(&frame));
    QCOMPARE(int(frame.opcode), opcode);
    QVERIFY(frame.fin);
    QVERIFY2(!frame.masked, "a server must not mask its frames (RFC 6455 5.1)");
    QCOMPARE(frame.headSize, qsizetype(headSize));
    QCOMPARE(frame.payload.size(), payload.size());
    QCOMPARE(frame.payload, payload);
}

void tst_WebSocket::burstAnsweredInOrderBeforeClose()
{
    rawws::Client client;
    QVERIFY(client.connectTo(m_server->serverPort()));
    QCOMPARE(client.upgrade("/echo"), 101);

    // One write: the server reads the messages and the close frame together.
    constexpr int Count = 200;
    QByteArray burst;
    for (int i = 0; i < Count; ++i) {
        burst += rawws::clientFrame(i % 2 ? rawws::Binary : rawws::Text,
                                    QByteArray::number(i) + QByteArray(i * 7, 'z'));
    }
    burst += rawws::clientFrame(rawws::Close, rawws::closePayload(1000, "done"));
    client.send(burst);

    for (int i = 0; i < Count; ++i) {
        rawws::Frame frame;
        QVERIFY2(client.nextFrame(&frame), qPrintable(QStringLiteral("echo %1").arg(i)));
        QCOMPARE(int(frame.opcode), i % 2 ? int(rawws::Binary) : int(rawws::Text));
        QCOMPARE(frame.payload, QByteArray::number(i) + QByteArray(i * 7, 'z'));
    }
    rawws::Frame close;
    QVERIFY(client.nextFrame(&close));
    QCOMPARE(int(close.opcode), int(rawws::Close));
    QCOMPARE(close.closeCode(), 1000);
    QVERIFY(client.waitForClosed());
}

void tst_WebSocket::answersNotHeldBehindPartialFrame()
{
    rawws::Client client;
    QVERIFY(client.connectTo(m_server->serverPort()));
    QCOMPARE(client.upgrade("/echo"), 101);

    // Three whole messages and the start of a fourth arrive together: the
    // three answers must not wait for the rest of the fourth.
    const QByteArray fourth = rawws::clientFrame(rawws::Text, QByteArray(5000, 'd'));
    client.send(rawws::clientFrame(rawws::Text, "one") + rawws::clientFrame(rawws::Text, "two")
                + rawws::clientFrame(rawws::Binary, "three") + fourth.left(100));
    for (const QByteArray expected : {"one", "two", "three"}) {
        rawws::Frame frame;
        QVERIFY2(client.nextFrame(&frame, 5000), expected.constData());
        QCOMPARE(frame.payload, expected);
    }

    client.send(fourth.mid(100));
    rawws::Frame frame;
    QVERIFY(client.nextFrame(&frame));
    QCOMPARE(frame.payload, QByteArray(5000, 'd'));
}

void tst_WebSocket::writesThroughQWebSocketKeepOrder()
{
    if (m_server->webSocketEngine() != sluice::Server::WebSocketEngine::Qt)
        QSKIP("socket() is QtWebSockets' engine's only");
    rawws::Client client;
    QVERIFY(client.connectTo(m_server->serverPort()));
    QCOMPARE(client.upgrade("/mixed"), 101);

    // Twice in one write (answers gather), then once alone (answers go
    // straight to the kernel while Qt holds nothing).
    client.send(rawws::clientFrame(rawws::Text, "a") + rawws::clientFrame(rawws::Text, "b"));
    client.sendFrame(rawws::Text, "c");
    for (const char *message : {"a", "b", "c"}) {
        const QByteArray m(message);
        const QList<QPair<int, QByteArray>> expected {
                {rawws::Text, m + " 1"}, {rawws::Text, m + " 2"}, {rawws::Binary, m + " 3"},
                {rawws::Ping, m},        {rawws::Text, m + " 4"},
        };
        for (const auto &[opcode, payload] : expected) {
            rawws::Frame frame;
            QVERIFY2(client.nextFrame(&frame), payload.constData());
            QCOMPARE(int(frame.opcode), opcode);
            QCOMPARE(frame.payload, payload);
        }
    }
}

#include "tst_websocket.moc"
