#include "testclient.h"

#include <sluice/httpconnect.h>
#include <sluice/server.h>

#include <QtCore/QElapsedTimer>
#include <QtCore/QTimer>
#include <QtTest/QtTest>

#include <atomic>
#include <memory>

using testclient::Client;
using testclient::Response;

namespace {

// Bytes a client can recognise out of place: a wrong offset shows as a
// wrong letter, not as the same byte repeated.
QByteArray pattern(qsizetype size)
{
    QByteArray bytes(size, Qt::Uninitialized);
    for (qsizetype i = 0; i < size; ++i)
        bytes[i] = char('a' + (i * 7 + i / 26) % 26);
    return bytes;
}

// Handlers may run on a server thread: what they report goes through atomics.
std::atomic<int> g_aborted {0};
std::atomic<int> g_lateEnds {0};
std::atomic<int> g_echoRuns {0};

} // namespace

class tst_HttpConnection : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void init();
    void cleanup();

    void keepAlive();
    void pipelining();
    void manyPipelined();
    void pipelinedDeferredKeepsOrder();
    void pipelineStopsAtConnectionClose();
    void contentLengthBody();
    void chunkedRequestBody();
    void expectContinue();
    void head();
    void connectionClose();
    void http10Closes();
    void http10KeepAlive();
    void dateAndServerHeaders();
    void smallResponseHasContentLength();
    void streamedResponseIsChunked();
    void malformedRequest_data();
    void malformedRequest();
    void headTooLarge();
    void headTooLargeWithoutEnd();
    void bodyTooLarge_data();
    void bodyTooLarge();
    void expectContinueTooLarge();
    void expectContinueIgnoredOnHttp10();
    void slowClient();
    void clientDisconnectsMidRequest_data();
    void clientDisconnectsMidRequest();
    void clientDisconnectsWhileDeferred();

private:
    void start(const sluice::Limits &limits = sluice::Limits());
    Response exchange(Client &client, const QByteArray &request, bool head = false);

    std::unique_ptr<sluice::Server> m_server;
    quint16 m_port = 0;
};

void tst_HttpConnection::init()
{
    g_aborted = 0;
    g_lateEnds = 0;
    g_echoRuns = 0;
}

void tst_HttpConnection::cleanup()
{
    m_server.reset();
    m_port = 0;
}

void tst_HttpConnection::start(const sluice::Limits &limits)
{
    m_server = std::make_unique<sluice::Server>();
    m_server->setLimits(limits);
    using sluice::HttpConnect;
    m_server->map(QStringLiteral("/hello"), [](HttpConnect &c) { c.response().write("hello"); });
    m_server->map(QStringLiteral("/id/(?<n>\\d+)"),
                  [](HttpConnect &c) { c.response().write("id=" + c.param("n").toUtf8()); });
    m_server->map(QStringLiteral("/echo"), [](HttpConnect &c) {
        ++g_echoRuns;
        c.response().setHeader("X-Method", c.request().method());
        c.response().write(c.request().body());
    });
    m_server->map(QStringLiteral("/slow/(?<n>\\d+)"), [](HttpConnect &c) {
        c.defer();
        const QByteArray body = "slow=" + c.param("n").toUtf8();
        QTimer::singleShot(150, &c, [&c, body] { c.response().end(body); });
    });
    m_server->map(QStringLiteral("/stream/(?<n>\\d+)"), [](HttpConnect &c) {
        const QByteArray body = pattern(c.param("n").toLongLong());
        for (qsizetype i = 0; i < body.size(); i += 4096)
            c.response().write(body.mid(i, 4096));
    });
    m_server->map(QStringLiteral("/hang"), [](HttpConnect &c) {
        c.defer();
        QObject::connect(&c, &HttpConnect::aborted, [] { ++g_aborted; });
        QTimer::singleShot(300, &c, [&c] {
            ++g_lateEnds;
            c.response().end("late");
        });
    });
    QVERIFY2(m_server->listen(QHostAddress::LocalHost, 0), qPrintable(m_server->errorString()));
    m_port = m_server->serverPort();
    QVERIFY(m_port != 0);
}

Response tst_HttpConnection::exchange(Client &client, const QByteArray &request, bool head)
{
    client.send(request);
    Response response;
    if (!client.read(&response, head)) {
        qWarning("%s\n%s", qPrintable(client.errorString()), TRANSCRIPT(client));
        response.status = -1;
    }
    return response;
}

void tst_HttpConnection::keepAlive()
{
    start();
    Client client;
    QVERIFY(client.connectTo(m_port));
    for (int i = 1; i <= 3; ++i) {
        const Response response = client.get("/id/" + QByteArray::number(i));
        QVERIFY2(response.status == 200, TRANSCRIPT(client));
        QCOMPARE(response.body, "id=" + QByteArray::number(i));
        QVERIFY(!response.headerHasToken("Connection", "close"));
        QCOMPARE(response.header("Content-Length"), QByteArray::number(response.body.size()));
    }
    QVERIFY2(client.staysQuiet(100), TRANSCRIPT(client));
    QTRY_COMPARE(m_server->connectionCount(), 1);
}

void tst_HttpConnection::pipelining()
{
    start();
    Client client;
    QVERIFY(client.connectTo(m_port));
    client.send("GET /id/1 HTTP/1.1\r\nHost: a\r\n\r\n"
                "GET /id/2 HTTP/1.1\r\nHost: a\r\n\r\n"
                "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 9\r\n\r\nthe body!"
                "GET /id/4 HTTP/1.1\r\nHost: a\r\n\r\n"
                "GET /id/5 HTTP/1.1\r\nHost: a\r\n\r\n");
    const QList<QByteArray> expected = {"id=1", "id=2", "the body!", "id=4", "id=5"};
    for (const QByteArray &body : expected) {
        Response response;
        QVERIFY2(client.read(&response),
                 qPrintable(client.errorString() + QLatin1Char('\n') + client.transcript()));
        QCOMPARE(response.status, 200);
        QCOMPARE(response.body, body);
    }
    QVERIFY2(client.staysQuiet(100), TRANSCRIPT(client));
}

void tst_HttpConnection::manyPipelined()
{
    start();
    Client client;
    QVERIFY(client.connectTo(m_port));
    const int count = 300;
    QByteArray requests;
    for (int i = 0; i < count; ++i)
        requests += "GET /id/" + QByteArray::number(i) + " HTTP/1.1\r\nHost: a\r\n\r\n";
    client.send(requests);
    for (int i = 0; i < count; ++i) {
        Response response;
        QVERIFY2(client.read(&response), qPrintable(client.errorString()));
        QCOMPARE(response.body, "id=" + QByteArray::number(i));
    }
}

void tst_HttpConnection::pipelinedDeferredKeepsOrder()
{
    start();
    Client client;
    QVERIFY(client.connectTo(m_port));
    // The slow one answers 150 ms later; the fast one must wait its turn.
    client.send("GET /slow/1 HTTP/1.1\r\nHost: a\r\n\r\n"
                "GET /id/2 HTTP/1.1\r\nHost: a\r\n\r\n"
                "GET /slow/3 HTTP/1.1\r\nHost: a\r\n\r\n"
                "GET /id/4 HTTP/1.1\r\nHost: a\r\n\r\n");
    for (const QByteArray body : {"slow=1", "id=2", "slow=3", "id=4"}) {
        Response response;
        QVERIFY2(client.read(&response),
                 qPrintable(client.errorString() + QLatin1Char('\n') + client.transcript()));
        QCOMPARE(response.status, 200);
        QCOMPARE(response.body, body);
    }
}

void tst_HttpConnection::pipelineStopsAtConnectionClose()
{
    start();
    Client client;
    QVERIFY(client.connectTo(m_port));
    client.send("GET /id/1 HTTP/1.1\r\nHost: a\r\n\r\n"
                "GET /id/2 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
                "GET /id/3 HTTP/1.1\r\nHost: a\r\n\r\n");
    Response first, second;
    QVERIFY2(client.read(&first), TRANSCRIPT(client));
    QCOMPARE(first.body, "id=1");
    QVERIFY2(client.read(&second), TRANSCRIPT(client));
    QCOMPARE(second.body, "id=2");
    QVERIFY(second.headerHasToken("Connection", "close"));
    QVERIFY2(client.waitForClosed(), TRANSCRIPT(client));
    QVERIFY2(client.pending().isEmpty(), TRANSCRIPT(client));
}

void tst_HttpConnection::contentLengthBody()
{
    start();
    Client client;
    QVERIFY(client.connectTo(m_port));
    const QByteArray body = pattern(100000);
    const Response response
            = exchange(client, "PUT /echo HTTP/1.1\r\nHost: a\r\nContent-Length: "
                                       + QByteArray::number(body.size()) + "\r\n\r\n" + body);
    QCOMPARE(response.status, 200);
    QCOMPARE(response.header("X-Method"), "PUT");
    QCOMPARE(response.body.size(), body.size());
    QVERIFY(response.body == body);
    // The connection is still in step after a large body.
    QCOMPARE(client.get("/id/9").body, "id=9");
}

void tst_HttpConnection::chunkedRequestBody()
{
    start();
    Client client;
    QVERIFY(client.connectTo(m_port));
    const QList<QByteArray> pieces = {
            "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
            "5\r\nhel",
            "lo\r\n",
            "7\r",
            "\n world,\r\n",
            "9;name=value\r\n chunked!\r\n",
            "0\r\n",
            "\r\n",
    };
    for (const QByteArray &piece : pieces) {
        client.send(piece);
        QTest::qWait(20);
    }
    Response response;
    QVERIFY2(client.read(&response), TRANSCRIPT(client));
    QCOMPARE(response.status, 200);
    QCOMPARE(response.body, "hello world, chunked!");
    QCOMPARE(client.get("/id/1").body, "id=1");
}

void tst_HttpConnection::expectContinue()
{
    start();
    Client client;
    QVERIFY(client.connectTo(m_port));
    client.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n"
                "Expect: 100-continue\r\n\r\n");
    Response interim;
    QVERIFY2(client.read(&interim), TRANSCRIPT(client));
    QCOMPARE(interim.status, 100);
    QCOMPARE(interim.version, "HTTP/1.1");
    QCOMPARE(interim.reason, "Continue");
    // No final answer may come before the body does.
    QVERIFY2(client.staysQuiet(200), TRANSCRIPT(client));
    QCOMPARE(g_echoRuns.load(), 0);

    client.send("hello there");
    Response response;
    QVERIFY2(client.read(&response), TRANSCRIPT(client));
    QCOMPARE(response.status, 200);
    QCOMPARE(response.body, "hello there");
    QCOMPARE(client.get("/id/2").body, "id=2");
}

void tst_HttpConnection::head()
{
    start();
    Client client;
    QVERIFY(client.connectTo(m_port));
    const Response response
            = exchange(client, "HEAD /hello HTTP/1.1\r\nHost: a\r\n\r\n", /*head=*/true);
    QCOMPARE(response.status, 200);
    QCOMPARE(response.header("Content-Length"), "5");
    QVERIFY(response.body.isEmpty());
    // Any body byte sent after the head would show up here.
    QVERIFY2(client.staysQuiet(150), TRANSCRIPT(client));

    const Response next = client.get("/id/7");
    QVERIFY2(next.status == 200, TRANSCRIPT(client));
    QCOMPARE(next.body, "id=7");

    // A HEAD on a response that would stream: still no body, still in step.
    const Response streamed
            = exchange(client, "HEAD /stream/200000 HTTP/1.1\r\nHost: a\r\n\r\n", true);
    QCOMPARE(streamed.status, 200);
    QVERIFY2(client.staysQuiet(150), TRANSCRIPT(client));
    QCOMPARE(client.get("/id/8").body, "id=8");
}

void tst_HttpConnection::connectionClose()
{
    start();
    Client client;
    QVERIFY(client.connectTo(m_port));
    const Response response
            = exchange(client, "GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    QCOMPARE(response.status, 200);
    QCOMPARE(response.body, "hello");
    QVERIFY(response.headerHasToken("Connection", "close"));
    QVERIFY2(client.waitForClosed(), TRANSCRIPT(client));
    QTRY_COMPARE(m_server->connectionCount(), 0);
}

void tst_HttpConnection::http10Closes()
{
    start();
    Client client;
    QVERIFY(client.connectTo(m_port));
    const Response response = exchange(client, "GET /hello HTTP/1.0\r\n\r\n");
    QCOMPARE(response.status, 200);
    QCOMPARE(response.body, "hello");
    QVERIFY(!response.chunked);
    QVERIFY2(client.waitForClosed(), TRANSCRIPT(client));
}

void tst_HttpConnection::http10KeepAlive()
{
    start();
    Client client;
    QVERIFY(client.connectTo(m_port));
    const Response first = exchange(client, "GET /id/1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    QCOMPARE(first.status, 200);
    QCOMPARE(first.body, "id=1");
    QVERIFY(!first.chunked);
    // An HTTP/1.0 client only keeps the connection when the answer says so.
    QVERIFY2(first.headerHasToken("Connection", "keep-alive"), qPrintable(first.toString()));
    QVERIFY2(client.staysQuiet(150), TRANSCRIPT(client));
    const Response second
            = exchange(client, "GET /id/2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    QCOMPARE(second.body, "id=2");
    // Without the token again, this one is the last.
    const Response third = exchange(client, "GET /id/3 HTTP/1.0\r\n\r\n");
    QCOMPARE(third.body, "id=3");
    QVERIFY2(client.waitForClosed(), TRANSCRIPT(client));
}

void tst_HttpConnection::dateAndServerHeaders()
{
    start();
    Client client;
    QVERIFY(client.connectTo(m_port));
    for (const QByteArray target : {"/hello", "/nowhere"}) {
        const Response response = client.get(target);
        QVERIFY(response.status == 200 || response.status == 404);
        QCOMPARE(response.headerValues("Server"), QList<QByteArray> {"Sluice/0.1.0"});
        QCOMPARE(response.headerValues("Date").size(), 1);
        const QDateTime date = testclient::parseHttpDate(response.header("Date"));
        QVERIFY2(date.isValid(), response.header("Date").constData());
        QVERIFY2(qAbs(date.secsTo(QDateTime::currentDateTimeUtc())) < 60,
                 response.header("Date").constData());
    }
}

void tst_HttpConnection::smallResponseHasContentLength()
{
    start();
    Client client;
    QVERIFY(client.connectTo(m_port));
    const Response response = client.get("/stream/1000");
    QCOMPARE(response.status, 200);
    QVERIFY(!response.chunked);
    QCOMPARE(response.header("Content-Length"), "1000");
    QVERIFY(response.body == pattern(1000));
}

void tst_HttpConnection::streamedResponseIsChunked()
{
    sluice::Limits limits;
    limits.responseBufferBytes = 16 * 1024;
    start(limits);
    Client client;
    QVERIFY(client.connectTo(m_port));
    const Response response = client.get("/stream/200000");
    QVERIFY2(response.status == 200, qPrintable(client.errorString()));
    QVERIFY(response.chunked);
    QVERIFY(!response.hasHeader("Content-Length"));
    QCOMPARE(response.body.size(), 200000);
    QVERIFY(response.body == pattern(200000));
    // The terminating chunk left the connection in step.
    QCOMPARE(client.get("/id/3").body, "id=3");
}

void tst_HttpConnection::malformedRequest_data()
{
    QTest::addColumn<QByteArray>("request");
    QTest::newRow("garbage") << QByteArray("GARBAGE\r\n\r\n");
    QTest::newRow("bad header line")
            << QByteArray("GET /hello HTTP/1.1\r\nHost: a\r\nthis is not a header\r\n\r\n");
    QTest::newRow("bad version") << QByteArray("GET /hello HTTP/x.y\r\nHost: a\r\n\r\n");
    QTest::newRow("bad chunk size")
            << QByteArray("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "zz\r\nhello\r\n0\r\n\r\n");
    // RFC 9112 5.1: whitespace between a field name and the colon MUST be
    // rejected with 400 (it is how requests get smuggled past proxies).
    QTest::newRow("space before colon") << QByteArray("GET /hello HTTP/1.1\r\nHost : a\r\n\r\n");
    // RFC 9112 3.2: an HTTP/1.1 request without Host MUST get 400.
    QTest::newRow("no host on 1.1") << QByteArray("GET /hello HTTP/1.1\r\n\r\n");
    QTest::newRow("two content lengths")
            << QByteArray("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
                          "Content-Length: 4\r\n\r\nabcd");
    QTest::newRow("bad content length")
            << QByteArray("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 12abc\r\n\r\n");
}

void tst_HttpConnection::malformedRequest()
{
    QFETCH(QByteArray, request);
    start();
    {
        Client client;
        QVERIFY(client.connectTo(m_port));
        const Response response = exchange(client, request);
        QVERIFY2(response.status == 400, TRANSCRIPT(client));
        QVERIFY(response.body.startsWith("400 Bad Request\n"));
        QCOMPARE(response.header("Content-Type"), "text/plain; charset=utf-8");
        QVERIFY2(client.waitForClosed(), TRANSCRIPT(client));
    }
    QCOMPARE(g_echoRuns.load(), 0);
    Client other;
    QVERIFY(other.connectTo(m_port));
    const Response response = other.get("/hello");
    QVERIFY2(response.status == 200, TRANSCRIPT(other));
    QCOMPARE(response.body, "hello");
}

void tst_HttpConnection::headTooLarge()
{
    sluice::Limits limits;
    limits.maxHeadBytes = 1024;
    start(limits);
    {
        Client client;
        QVERIFY(client.connectTo(m_port));
        const Response response = exchange(client, "GET /hello HTTP/1.1\r\nHost: a\r\nX-Big: "
                                                           + QByteArray(4000, 'x') + "\r\n\r\n");
        QVERIFY2(response.status == 431, TRANSCRIPT(client));
        QVERIFY(response.body.startsWith("431 Request Header Fields Too Large\n"));
    }
    // Just under the limit still passes.
    Client client;
    QVERIFY(client.connectTo(m_port));
    const Response response = client.get("/hello", "X-Small: " + QByteArray(800, 'x') + "\r\n");
    QVERIFY2(response.status == 200, TRANSCRIPT(client));
}

void tst_HttpConnection::headTooLargeWithoutEnd()
{
    // A head that never ends must not make the server hold it forever.
    sluice::Limits limits;
    limits.maxHeadBytes = 1024;
    start(limits);
    Client client;
    QVERIFY(client.connectTo(m_port));
    client.send("GET /hello HTTP/1.1\r\nHost: a\r\n");
    for (int i = 0; i < 40; ++i) {
        client.send("X-Filler-" + QByteArray::number(i) + ": " + QByteArray(100, 'y') + "\r\n");
        QTest::qWait(2);
    }
    Response response;
    QVERIFY2(client.read(&response), TRANSCRIPT(client));
    QCOMPARE(response.status, 431);
    QVERIFY2(client.waitForClosed(), TRANSCRIPT(client));
}

void tst_HttpConnection::bodyTooLarge_data()
{
    QTest::addColumn<bool>("chunked");
    QTest::newRow("content-length") << false;
    QTest::newRow("chunked") << true;
}

void tst_HttpConnection::bodyTooLarge()
{
    QFETCH(bool, chunked);
    sluice::Limits limits;
    limits.maxBodyBytes = 1000;
    start(limits);
    {
        Client client;
        QVERIFY(client.connectTo(m_port));
        const QByteArray body = pattern(5000);
        if (chunked) {
            client.send("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
            for (qsizetype i = 0; i < body.size() && !client.isClosed(); i += 500) {
                client.send("1f4\r\n" + body.mid(i, 500) + "\r\n");
                QTest::qWait(2);
            }
            if (!client.isClosed())
                client.send("0\r\n\r\n");
        } else {
            client.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: "
                        + QByteArray::number(body.size()) + "\r\n\r\n" + body);
        }
        Response response;
        QVERIFY2(client.read(&response), TRANSCRIPT(client));
        QCOMPARE(response.status, 413);
        QVERIFY(response.body.startsWith("413 Payload Too Large\n"));
        QVERIFY2(client.waitForClosed(), TRANSCRIPT(client));
    }
    QCOMPARE(g_echoRuns.load(), 0);
    // At the limit is fine.
    Client client;
    QVERIFY(client.connectTo(m_port));
    const Response response
            = exchange(client, "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n"
                                       + pattern(1000));
    QCOMPARE(response.status, 200);
    QCOMPARE(response.body.size(), 1000);
}

void tst_HttpConnection::expectContinueTooLarge()
{
    // The declared length is over the limit: refuse before inviting the body.
    sluice::Limits limits;
    limits.maxBodyBytes = 1000;
    start(limits);
    Client client;
    QVERIFY(client.connectTo(m_port));
    client.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n"
                "Expect: 100-continue\r\n\r\n");
    Response response;
    QVERIFY2(client.read(&response), TRANSCRIPT(client));
    QVERIFY2(response.status == 413, TRANSCRIPT(client));
    QCOMPARE(g_echoRuns.load(), 0);
}

void tst_HttpConnection::expectContinueIgnoredOnHttp10()
{
    // RFC 9110 10.1.1: a 100-continue expectation in an HTTP/1.0 request
    // MUST be ignored (no interim answer, no 417).
    start();
    Client client;
    QVERIFY(client.connectTo(m_port));
    client.send("POST /echo HTTP/1.0\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
    QTest::qWait(50);
    client.send("abc");
    Response response;
    QVERIFY2(client.read(&response), TRANSCRIPT(client));
    QVERIFY2(response.status == 200, TRANSCRIPT(client));
    QCOMPARE(response.body, "abc");
}

void tst_HttpConnection::slowClient()
{
    start();
    Client client;
    QVERIFY(client.connectTo(m_port));
    client.sendSlowly("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789"
                      "GET /id/5 HTTP/1.1\r\nHost: a\r\n\r\n");
    Response first, second;
    QVERIFY2(client.read(&first), TRANSCRIPT(client));
    QCOMPARE(first.status, 200);
    QCOMPARE(first.body, "0123456789");
    QVERIFY2(client.read(&second), TRANSCRIPT(client));
    QCOMPARE(second.body, "id=5");

    // Chunked, one byte at a time too.
    client.sendSlowly("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
    Response third;
    QVERIFY2(client.read(&third), TRANSCRIPT(client));
    QCOMPARE(third.body, "abcde");
}

void tst_HttpConnection::clientDisconnectsMidRequest_data()
{
    QTest::addColumn<QByteArray>("partial");
    QTest::newRow("in request line") << QByteArray("GET /hel");
    QTest::newRow("in headers") << QByteArray("GET /hello HTTP/1.1\r\nHost: a\r\nX-A");
    QTest::newRow("in body") << QByteArray(
            "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nonly some");
    QTest::newRow("in chunk") << QByteArray(
            "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc");
    QTest::newRow("waiting for 100")
            << QByteArray("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\nExpect: "
                          "100-continue\r\n\r\n");
}

void tst_HttpConnection::clientDisconnectsMidRequest()
{
    QFETCH(QByteArray, partial);
    start();
    for (bool abort : {false, true}) {
        Client client;
        QVERIFY(client.connectTo(m_port));
        client.send(partial);
        QTest::qWait(50);
        if (abort)
            client.abort();
        else
            client.socket().disconnectFromHost();
    }
    QTRY_COMPARE(m_server->connectionCount(), 0);
    QCOMPARE(g_echoRuns.load(), 0);
    Client other;
    QVERIFY(other.connectTo(m_port));
    const Response response = other.get("/hello");
    QVERIFY2(response.status == 200, TRANSCRIPT(other));
}

void tst_HttpConnection::clientDisconnectsWhileDeferred()
{
    start();
    {
        Client client;
        QVERIFY(client.connectTo(m_port));
        client.send("GET /hang HTTP/1.1\r\nHost: a\r\n\r\n");
        QTest::qWait(50);
        client.abort();
    }
    QTRY_COMPARE(g_aborted.load(), 1);
    QTRY_COMPARE(m_server->connectionCount(), 0);
    // The connect went with its client, and with it the handler's timer.
    QTest::qWait(400);
    QCOMPARE(g_lateEnds.load(), 0);

    Client other;
    QVERIFY(other.connectTo(m_port));
    QCOMPARE(other.get("/hello").body, "hello");
}

QTEST_GUILESS_MAIN(tst_HttpConnection)
#include "tst_httpconnection.moc"
