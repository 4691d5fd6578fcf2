#include "testclient.h"

#include <sluice/httpconnect.h>
#include <sluice/server.h>

#include <QtCore/QTimer>
#include <QtTest/QtTest>

#include <atomic>
#include <memory>
#include <stdexcept>

using sluice::HttpConnect;
using testclient::Client;
using testclient::Response;

namespace {
std::atomic<bool> g_streamEnded {false};
std::atomic<int> g_resetAfterHead {-1};
} // namespace

// What a handler does to its HttpResponse, as a client sees it on the wire.
class tst_HttpResponse : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void init();

    void status_data();
    void status();
    void headers();
    void multipleSetCookie();
    void utf8Text();
    void flushStreamsChunked();
    void streamedOverHttp10IsCloseDelimited();
    void endWithData();
    void writeAfterEndIgnored();
    void resetBeforeHead();
    void resetAfterHeadRefused();
    void emptyResponse();
    void noContent();
    void throwAfterHeadSentCutsTheResponse();

private:
    Response get(const QByteArray &target, Client *client = nullptr);

    std::unique_ptr<sluice::Server> m_server;
    quint16 m_port = 0;
};

void tst_HttpResponse::initTestCase()
{
    m_server = std::make_unique<sluice::Server>();
    auto &s = *m_server;
    s.map(QStringLiteral("/status/(?<code>\\d+)"), [](HttpConnect &c) {
        c.response().setStatus(c.param(QStringLiteral("code")).toInt());
        c.response().write("body");
    });
    s.map(QStringLiteral("/status-reason/(?<code>\\d+)"), [](HttpConnect &c) {
        c.response().setStatus(c.param(QStringLiteral("code")).toInt(), "Custom Thing");
        c.response().write("body");
    });
    s.map(QStringLiteral("/headers"), [](HttpConnect &c) {
        auto &r = c.response();
        r.setHeader("X-Set", "first");
        r.setHeader("x-set", "second");
        r.addHeader("X-Add", "1");
        r.addHeader("X-Add", "2");
        r.setHeader("X-Gone", "soon");
        r.addHeader("X-Gone", "twice");
        r.removeHeader("x-gone");
        r.setContentType("application/json");
        r.write("{}");
    });
    s.map(QStringLiteral("/cookies"), [](HttpConnect &c) {
        c.response().addHeader("Set-Cookie", "a=1; Path=/");
        c.response().addHeader("Set-Cookie", "b=2; Expires=Wed, 21 Oct 2015 07:28:00 GMT");
        c.response().addHeader("Set-Cookie", "c=3; HttpOnly");
    });
    s.map(QStringLiteral("/utf8"), [](HttpConnect &c) {
        c.response().setContentType("text/plain; charset=utf-8");
        c.response().write(QStringLiteral("h\u00e9llo \u2713 \U0001F600"));
    });
    s.map(QStringLiteral("/flush"), [](HttpConnect &c) {
        c.defer();
        c.response().write("first;");
        c.response().flush();
        QTimer::singleShot(500, &c, [&c] {
            c.response().write("second;");
            c.response().write("third");
            g_streamEnded = true;
            c.response().end();
        });
    });
    s.map(QStringLiteral("/big"), [](HttpConnect &c) {
        for (int i = 0; i < 100; ++i)
            c.response().write(QByteArray(1000, char('A' + i % 26)));
    });
    s.map(QStringLiteral("/end"), [](HttpConnect &c) { c.response().end("done"); });
    s.map(QStringLiteral("/after-end"), [](HttpConnect &c) {
        c.response().write("x");
        c.response().end();
        c.response().write("y");
        c.response().setHeader("X-Late", "1");
        c.response().end("z");
    });
    s.map(QStringLiteral("/deferred-ended-now"), [](HttpConnect &c) {
        c.defer();
        c.response().end("early");
    });
    s.map(QStringLiteral("/reset"), [](HttpConnect &c) {
        auto &r = c.response();
        r.setStatus(500, "Nope");
        r.setHeader("X-Junk", "1");
        r.write("junk");
        const bool reset = r.reset();
        r.write(reset ? "clean" : "reset refused");
    });
    s.map(QStringLiteral("/reset-late"), [](HttpConnect &c) {
        auto &r = c.response();
        r.write("a");
        r.flush();
        g_resetAfterHead = r.reset() ? 1 : 0;
        r.setStatus(500);
        r.write("b");
    });
    s.map(QStringLiteral("/empty"), [](HttpConnect &) {});
    s.map(QStringLiteral("/no-content"), [](HttpConnect &c) { c.response().setStatus(204); });
    s.map(QStringLiteral("/fail-midway"), [](HttpConnect &c) {
        c.response().write(QByteArray(100 * 1024, 'm'));
        c.response().flush();
        throw std::runtime_error("after the head went out");
    });
    QVERIFY2(m_server->listen(QHostAddress::LocalHost, 0), qPrintable(m_server->errorString()));
    m_port = m_server->serverPort();
}

void tst_HttpResponse::cleanupTestCase()
{
    m_server.reset();
}

void tst_HttpResponse::init()
{
    g_streamEnded = false;
    g_resetAfterHead = -1;
}

Response tst_HttpResponse::get(const QByteArray &target, Client *client)
{
    Client own;
    if (!client) {
        client = &own;
        if (!client->connectTo(m_port))
            return Response();
    }
    Response response = client->get(target);
    if (response.status < 0)
        qWarning("%s\n%s", qPrintable(client->errorString()), TRANSCRIPT(*client));
    return response;
}

void tst_HttpResponse::status_data()
{
    QTest::addColumn<QByteArray>("target");
    QTest::addColumn<int>("code");
    QTest::addColumn<QByteArray>("reason");
    QTest::newRow("201") << QByteArray("/status/201") << 201 << QByteArray("Created");
    QTest::newRow("202") << QByteArray("/status/202") << 202 << QByteArray("Accepted");
    QTest::newRow("handler's own 404")
            << QByteArray("/status/404") << 404 << QByteArray("Not Found");
    QTest::newRow("own reason") << QByteArray("/status-reason/299") << 299
                                << QByteArray("Custom Thing");
    QTest::newRow("own reason on 200")
            << QByteArray("/status-reason/200") << 200 << QByteArray("Custom Thing");
}

void tst_HttpResponse::status()
{
    QFETCH(QByteArray, target);
    QFETCH(int, code);
    QFETCH(QByteArray, reason);
    const Response response = get(target);
    QCOMPARE(response.status, code);
    QCOMPARE(response.reason, reason);
    QCOMPARE(response.raw.left(response.raw.indexOf("\r\n")),
             "HTTP/1.1 " + QByteArray::number(code) + ' ' + reason);
    // A status the handler sets is its answer, not an error page.
    QCOMPARE(response.body, "body");
}

void tst_HttpResponse::headers()
{
    const Response response = get("/headers");
    QCOMPARE(response.status, 200);
    QCOMPARE(response.headerValues("X-Set"), QList<QByteArray> {"second"});
    QCOMPARE(response.headerValues("X-Add"), (QList<QByteArray> {"1", "2"}));
    QVERIFY(!response.hasHeader("X-Gone"));
    QCOMPARE(response.headerValues("Content-Type"), QList<QByteArray> {"application/json"});
    QCOMPARE(response.header("Content-Length"), "2");
    QCOMPARE(response.body, "{}");
}

void tst_HttpResponse::multipleSetCookie()
{
    const Response response = get("/cookies");
    QCOMPARE(response.status, 200);
    // Never folded into one line: Expires holds a comma.
    QCOMPARE(response.headerValues("Set-Cookie"),
             (QList<QByteArray> {"a=1; Path=/", "b=2; Expires=Wed, 21 Oct 2015 07:28:00 GMT",
                                 "c=3; HttpOnly"}));
}

void tst_HttpResponse::utf8Text()
{
    const Response response = get("/utf8");
    const QByteArray expected = QStringLiteral("h\u00e9llo \u2713 \U0001F600").toUtf8();
    QCOMPARE(response.body, expected);
    QCOMPARE(response.header("Content-Length"), QByteArray::number(expected.size()));
    QCOMPARE(QString::fromUtf8(response.body), QStringLiteral("h\u00e9llo \u2713 \U0001F600"));
}

void tst_HttpResponse::flushStreamsChunked()
{
    Client client;
    QVERIFY(client.connectTo(m_port));
    client.send("GET /flush HTTP/1.1\r\nHost: a\r\n\r\n");
    // flush() sends the head and what was written, well before the end.
    QVERIFY2(QTest::qWaitFor([&] { return client.pending().contains("first;"); }, 400),
             TRANSCRIPT(client));
    QVERIFY(!g_streamEnded);
    const QByteArray head = client.pending().left(client.pending().indexOf("\r\n\r\n")).toLower();
    QVERIFY2(head.contains("\r\ntransfer-encoding: chunked"), head.constData());
    QVERIFY2(!head.contains("\r\ncontent-length:"), head.constData());

    Response response;
    QVERIFY2(client.read(&response), TRANSCRIPT(client));
    QVERIFY(response.chunked);
    QCOMPARE(response.body, "first;second;third");
    QCOMPARE(get("/end", &client).body, "done");

    // Past responseBufferBytes without a flush.
    const Response big = get("/big", &client);
    QVERIFY(big.chunked);
    QCOMPARE(big.body.size(), 100000);
    for (int i = 0; i < 100; ++i)
        QVERIFY(big.body.mid(i * 1000, 1000) == QByteArray(1000, char('A' + i % 26)));
}

void tst_HttpResponse::streamedOverHttp10IsCloseDelimited()
{
    Client client;
    QVERIFY(client.connectTo(m_port));
    client.send("GET /big HTTP/1.0\r\nHost: a\r\n\r\n");
    Response response;
    QVERIFY2(client.read(&response), TRANSCRIPT(client));
    QCOMPARE(response.status, 200);
    // HTTP/1.0 has no chunked coding: the body ends when the connection does.
    QVERIFY(!response.chunked);
    QVERIFY(response.closeDelimited);
    QCOMPARE(response.body.size(), 100000);
    QVERIFY(client.isClosed());
}

void tst_HttpResponse::endWithData()
{
    const Response response = get("/end");
    QCOMPARE(response.status, 200);
    QCOMPARE(response.body, "done");
    QCOMPARE(response.header("Content-Length"), "4");
    QVERIFY(!response.chunked);
}

void tst_HttpResponse::writeAfterEndIgnored()
{
    Client client;
    QVERIFY(client.connectTo(m_port));
    const Response response = get("/after-end", &client);
    QCOMPARE(response.body, "x");
    QCOMPARE(response.header("Content-Length"), "1");
    QVERIFY(!response.hasHeader("X-Late"));
    QVERIFY2(client.staysQuiet(100), TRANSCRIPT(client));
    const Response later = get("/deferred-ended-now", &client);
    QCOMPARE(later.body, "early");
    QCOMPARE(get("/end", &client).body, "done");
}

void tst_HttpResponse::resetBeforeHead()
{
    const Response response = get("/reset");
    QCOMPARE(response.status, 200);
    QCOMPARE(response.reason, "OK");
    QVERIFY(!response.hasHeader("X-Junk"));
    QCOMPARE(response.body, "clean");
}

void tst_HttpResponse::resetAfterHeadRefused()
{
    const Response response = get("/reset-late");
    QCOMPARE(response.status, 200);
    QCOMPARE(response.body, "ab");
    QTRY_COMPARE(g_resetAfterHead.load(), 0);
}

void tst_HttpResponse::emptyResponse()
{
    Client client;
    QVERIFY(client.connectTo(m_port));
    const Response response = get("/empty", &client);
    QCOMPARE(response.status, 200);
    QCOMPARE(response.header("Content-Length"), "0");
    QVERIFY(response.body.isEmpty());
    QCOMPARE(get("/end", &client).body, "done");
}

void tst_HttpResponse::noContent()
{
    Client client;
    QVERIFY(client.connectTo(m_port));
    const Response response = get("/no-content", &client);
    QCOMPARE(response.status, 204);
    // RFC 9110 8.6: never a Content-Length (nor chunked coding) on a 204.
    QVERIFY2(!response.hasHeader("Content-Length"), qPrintable(response.toString()));
    QVERIFY2(!response.hasHeader("Transfer-Encoding"), qPrintable(response.toString()));
    QVERIFY2(client.staysQuiet(100), TRANSCRIPT(client));
    QCOMPARE(get("/end", &client).body, "done");
}

void tst_HttpResponse::throwAfterHeadSentCutsTheResponse()
{
    Client client;
    QVERIFY(client.connectTo(m_port));
    client.send("GET /fail-midway HTTP/1.1\r\nHost: a\r\n\r\n");
    // The status may be on its way already: whatever the client gets must not
    // look like a complete response (no terminating chunk, no false length),
    // and the connection closes.
    QVERIFY2(client.waitForClosed(), TRANSCRIPT(client));
    Response response;
    QVERIFY2(!client.read(&response, false, 100), TRANSCRIPT(client));
    if (!client.received().isEmpty())
        QVERIFY2(client.received().startsWith("HTTP/1.1 200 "), TRANSCRIPT(client));
    // The server goes on serving.
    QCOMPARE(get("/end").body, "done");
}

QTEST_GUILESS_MAIN(tst_HttpResponse)
#include "tst_httpresponse.moc"
