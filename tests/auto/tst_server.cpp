#include "testclient.h"
#include "wstestclient.h"

#include <sluice/chain.h>
#include <sluice/httpconnect.h>
#include <sluice/httpstatus.h>
#include <sluice/monitor.h>
#include <sluice/router.h>
#include <sluice/server.h>
#include <sluice/websocket.h>

#include <QtCore/QElapsedTimer>
#include <QtCore/QTimer>
#include <QtNetwork/QTcpServer>
#include <QtTest/QSignalSpy>
#include <QtTest/QtTest>

#include <algorithm>
#include <atomic>
#include <memory>
#include <stdexcept>
#include <thread>

using sluice::Chain;
using sluice::HttpConnect;
using testclient::Client;
using testclient::Response;

namespace {

std::atomic<int> g_handlerRuns {0};

QByteArray upgradeHead(const QByteArray &target)
{
    return "GET " + target
           + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
             "Origin: http://127.0.0.1\r\n\r\n";
}

} // namespace

class tst_Server : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void init();
    void cleanup();

    void notFound();
    void methodNotAllowed();
    void headOnErrors();
    void upgradeRequiredOnWebSocketRoute();
    void upgradeToHttpRouteIsNotFound();
    void handlerThrows();
    void handlerThrowsHttpStatus();
    void pathParameters_data();
    void pathParameters();
    void methodPrefixes_data();
    void methodPrefixes();
    void forwardMapping();
    void redirectMapping();
    void connectRedirect();
    void connectForward();
    void connectInclude();
    void errorMappedToUri();
    void errorMappedToHandler();
    void filterContinues();
    void filterStops();
    void filterContinuesLater();
    void filterThrows();
    void filterOrder();
    void filterDataset();
    void mapAtRunTime();
    void listenOnTwoAddresses();
    void portZero();
    void closeStopsListening();
    void connectionCount();
    void portInUse();
    void routeFiltersRunAfterServerFilters();
    void routeFilterAnswersUpgrade();
    void replaceSwapsTheWholeMapping();
    void shutdownWithNothingOpen();
    void shutdownFinishesResponseInFlight();
    void shutdownClosesWebSocketsWithGoingAway();
    void shutdownCutsWhatOutlivesGrace();
    void actOnConnectionsById();

private:
    void start();
    Response get(const QByteArray &target, const QByteArray &method = "GET",
                 const QByteArray &extra = QByteArray());
    Response send(const QByteArray &raw, bool head = false);

    std::unique_ptr<sluice::Server> m_server;
    quint16 m_port = 0;
};

void tst_Server::init()
{
    g_handlerRuns = 0;
    m_server = std::make_unique<sluice::Server>();
}

void tst_Server::cleanup()
{
    m_server.reset();
    m_port = 0;
}

void tst_Server::start()
{
    QVERIFY2(m_server->listen(QHostAddress::LocalHost, 0), qPrintable(m_server->errorString()));
    m_port = m_server->serverPort();
    QVERIFY(m_port != 0);
}

Response tst_Server::send(const QByteArray &raw, bool head)
{
    Client client;
    Response response;
    response.status = -1;
    if (!client.connectTo(m_port)) {
        qWarning("connect failed: %s", qPrintable(client.errorString()));
        return response;
    }
    client.send(raw);
    if (!client.read(&response, head)) {
        qWarning("%s\n%s", qPrintable(client.errorString()), TRANSCRIPT(client));
        response.status = -1;
    }
    return response;
}

Response tst_Server::get(const QByteArray &target, const QByteArray &method,
                         const QByteArray &extra)
{
    return send(method + ' ' + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra + "\r\n",
                method == "HEAD");
}

void tst_Server::notFound()
{
    start();
    const Response response = get("/nothing/here");
    QCOMPARE(response.status, 404);
    QCOMPARE(response.reason, "Not Found");
    QCOMPARE(response.body, "404 Not Found\n");
    QCOMPARE(response.header("Content-Type"), "text/plain; charset=utf-8");
    QCOMPARE(response.header("Content-Length"), "14");
}

void tst_Server::methodNotAllowed()
{
    m_server->map(QStringLiteral("post:/m"), [](HttpConnect &c) { c.response().write("post"); });
    m_server->map(QStringLiteral("get:/m"), [](HttpConnect &c) { c.response().write("get"); });
    m_server->map(QStringLiteral("delete:/m"), [](HttpConnect &c) { c.response().write("del"); });
    // Matches /m too, under a method already listed.
    m_server->map(QStringLiteral("post:/(m)"), [](HttpConnect &c) { c.response().write("p2"); });
    m_server->map(QStringLiteral("put:/other"), [](HttpConnect &c) { c.response().write("x"); });
    start();

    const Response response = get("/m", "PATCH");
    QCOMPARE(response.status, 405);
    QCOMPARE(response.body, "405 Method Not Allowed\n");
    QCOMPARE(response.headerList("Allow"), (QList<QByteArray> {"POST", "GET", "HEAD", "DELETE"}));
    QCOMPARE(get("/m", "DELETE").body, "del");
    QCOMPARE(get("/m", "HEAD").status, 200);
    QCOMPARE(get("/nope", "PATCH").status, 404);
}

void tst_Server::headOnErrors()
{
    m_server->map(QStringLiteral("post:/p"), [](HttpConnect &c) { c.response().write("p"); });
    m_server->map(QStringLiteral("/boom"), [](HttpConnect &) { throw std::runtime_error("x"); });
    m_server->map(QStringLiteral("/ok"), [](HttpConnect &c) { c.response().write("ok"); });
    start();
    Client client;
    QVERIFY(client.connectTo(m_port));
    // An error page answers HEAD with its head only; the next exchange shows
    // whether a body slipped through.
    const QList<QPair<QByteArray, int>> cases = {{"/nothing", 404}, {"/p", 405}, {"/boom", 500}};
    for (const auto &[target, status] : cases) {
        client.send("HEAD " + target + " HTTP/1.1\r\nHost: a\r\n\r\n");
        Response response;
        QVERIFY2(client.read(&response, /*noBody=*/true), TRANSCRIPT(client));
        QCOMPARE(response.status, status);
        QVERIFY(response.header("Content-Length").toInt() > 0);
        const Response next = client.get("/ok");
        QVERIFY2(next.status == 200 && next.body == "ok", TRANSCRIPT(client));
    }
}

void tst_Server::upgradeRequiredOnWebSocketRoute()
{
    m_server->map(QStringLiteral("ws:/sock"), [](sluice::WebSocket *) {});
    start();
    const Response response = get("/sock");
    QCOMPARE(response.status, 426);
    QVERIFY(response.headerHasToken("Upgrade", "websocket"));
    QVERIFY(response.body.startsWith("426 Upgrade Required\n"));
}

void tst_Server::upgradeToHttpRouteIsNotFound()
{
    m_server->map(QStringLiteral("/plain"), [](HttpConnect &c) {
        ++g_handlerRuns;
        c.response().write("plain");
    });
    start();
    const Response response = send(upgradeHead("/plain"));
    QCOMPARE(response.status, 404);
    QVERIFY2(response.body.startsWith("404 Not Found\n"), response.body.constData());
    QVERIFY(!response.headerHasToken("Connection", "upgrade"));
    QCOMPARE(send(upgradeHead("/unmapped")).status, 404);
    QCOMPARE(g_handlerRuns.load(), 0);
    QCOMPARE(get("/plain").body, "plain");
}

void tst_Server::handlerThrows()
{
    m_server->map(QStringLiteral("/boom"), [](HttpConnect &c) {
        c.response().setHeader("X-Before", "1");
        c.response().write("partial");
        throw std::runtime_error("secret internals");
    });
    m_server->map(QStringLiteral("/boom-unknown"), [](HttpConnect &) { throw 42; });
    m_server->map(QStringLiteral("/ok"), [](HttpConnect &c) { c.response().write("ok"); });
    start();

    Client client;
    QVERIFY(client.connectTo(m_port));
    const Response response = client.get("/boom");
    QVERIFY2(response.status == 500, TRANSCRIPT(client));
    QCOMPARE(response.body, "500 Internal Server Error\n");
    QVERIFY(!response.hasHeader("X-Before"));
    QCOMPARE(response.header("Content-Type"), "text/plain; charset=utf-8");
    // The same connection, and a new one, are still served.
    QCOMPARE(client.get("/ok").body, "ok");
    QCOMPARE(client.get("/boom-unknown").body, "500 Internal Server Error\n");
    QCOMPARE(get("/ok").body, "ok");
}

void tst_Server::handlerThrowsHttpStatus()
{
    m_server->map(QStringLiteral("/teapot"), [](HttpConnect &) {
        throw sluice::HttpStatus(418, QStringLiteral("short and stout"));
    });
    m_server->map(QStringLiteral("/gone"), [](HttpConnect &) { throw sluice::HttpStatus(410); });
    m_server->map(QStringLiteral("/error-call"),
                  [](HttpConnect &c) { c.error(409, QStringLiteral("conflict détail")); });
    start();
    const Response response = get("/teapot");
    QCOMPARE(response.status, 418);
    QCOMPARE(response.body, "418 I'm a teapot\nshort and stout\n");
    QCOMPARE(get("/gone").body, "410 Gone\n");
    const Response conflict = get("/error-call");
    QCOMPARE(conflict.status, 409);
    QCOMPARE(conflict.body, QStringLiteral("409 Conflict\nconflict détail\n").toUtf8());
}

void tst_Server::pathParameters_data()
{
    QTest::addColumn<QString>("route");
    QTest::addColumn<QByteArray>("target");
    QTest::addColumn<QByteArray>("expected");
    QTest::newRow("named groups") << QStringLiteral("/user/(?<name>[^/]+)/(?<id>\\d+)")
                                  << QByteArray("/user/alice/42") << QByteArray("name=alice id=42");
    QTest::newRow("old groups") << QStringLiteral("/user/(name:[^/]+)/(id:\\d+)")
                                << QByteArray("/user/bob/7") << QByteArray("name=bob id=7");
    QTest::newRow("mixed") << QStringLiteral("/user/(name:[^/]+)/(?<id>\\d+)")
                           << QByteArray("/user/carol/1") << QByteArray("name=carol id=1");
    QTest::newRow("decoded") << QStringLiteral("/user/(?<name>[^/]+)/(?<id>\\d+)")
                             << QByteArray("/user/a%20b%C3%A9/5")
                             << QStringLiteral("name=a bé id=5").toUtf8();
    QTest::newRow("query ignored") << QStringLiteral("/user/(?<name>[^/]+)/(?<id>\\d+)")
                                   << QByteArray("/user/dan/3?x=/y") << QByteArray("name=dan id=3");
}

void tst_Server::pathParameters()
{
    QFETCH(QString, route);
    QFETCH(QByteArray, target);
    QFETCH(QByteArray, expected);
    QVERIFY(m_server->map(route, [](HttpConnect &c) {
        c.response().write(
                QStringLiteral("name=%1 id=%2")
                        .arg(c.param(QStringLiteral("name")), c.param(QStringLiteral("id"))));
    }));
    start();
    const Response response = get(target);
    QCOMPARE(response.status, 200);
    QCOMPARE(response.body, expected);
    // Anchored on the whole path.
    QCOMPARE(get(target.left(target.indexOf('?')) + "/more").status, 404);
    QCOMPARE(get("/x" + target).status, 404);
}

void tst_Server::methodPrefixes_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QByteArray>("expected");
    QTest::newRow("GET") << QByteArray("GET") << QByteArray("get");
    QTest::newRow("POST") << QByteArray("POST") << QByteArray("post");
    QTest::newRow("PUT") << QByteArray("PUT") << QByteArray("any PUT");
    QTest::newRow("OPTIONS") << QByteArray("OPTIONS") << QByteArray("any OPTIONS");
}

void tst_Server::methodPrefixes()
{
    QFETCH(QByteArray, method);
    QFETCH(QByteArray, expected);
    m_server->map(QStringLiteral("get:/r"), [](HttpConnect &c) { c.response().write("get"); });
    m_server->map(QStringLiteral("post:/r"), [](HttpConnect &c) { c.response().write("post"); });
    m_server->map(QStringLiteral("/r"),
                  [](HttpConnect &c) { c.response().write("any " + c.request().method()); });
    start();
    const QByteArray body = method == "POST" ? QByteArray("x") : QByteArray();
    const Response response = send(method + " /r HTTP/1.1\r\nHost: a\r\nContent-Length: "
                                   + QByteArray::number(body.size()) + "\r\n\r\n" + body);
    QCOMPARE(response.status, 200);
    QCOMPARE(response.body, expected);
}

void tst_Server::forwardMapping()
{
    QVERIFY(m_server->map(QStringLiteral("/old/(?<rest>.*)"), "/new/(rest)"));
    QVERIFY(m_server->map(QStringLiteral("/new/(?<tail>.*)"), [](HttpConnect &c) {
        c.response().write(QStringLiteral("path=%1 tail=%2 route=%3 q=%4")
                                   .arg(c.request().path(), c.param(QStringLiteral("tail")),
                                        c.route(), c.request().queryItem(QStringLiteral("q"))));
    }));
    start();
    const Response response = get("/old/a/b?q=1");
    QCOMPARE(response.status, 200);
    QVERIFY(!response.hasHeader("Location"));
    QCOMPARE(response.body, "path=/new/a/b tail=a/b route=/new/(?<tail>.*) q=1");
}

void tst_Server::redirectMapping()
{
    QVERIFY(m_server->map(QStringLiteral("/away"), "http://example.com/there"));
    QVERIFY(m_server->map(QStringLiteral("/go/(?<x>\\w+)"), "http://127.0.0.1:1/to/(x)"));
    start();
    const Response response = get("/away");
    QCOMPARE(response.status, 302);
    QCOMPARE(response.header("Location"), "http://example.com/there");
    const Response substituted = get("/go/abc");
    QCOMPARE(substituted.status, 302);
    QCOMPARE(substituted.header("Location"), "http://127.0.0.1:1/to/abc");
}

void tst_Server::connectRedirect()
{
    m_server->map(QStringLiteral("/r302"), [](HttpConnect &c) {
        c.response().write("discarded");
        c.redirect(QStringLiteral("/target?a=1"));
    });
    m_server->map(QStringLiteral("/r301"), [](HttpConnect &c) {
        c.redirect(QStringLiteral("http://127.0.0.1:1/moved"), 301);
    });
    start();
    const Response response = get("/r302");
    QCOMPARE(response.status, 302);
    QCOMPARE(response.header("Location"), "/target?a=1");
    QVERIFY(!response.body.contains("discarded"));
    const Response moved = get("/r301");
    QCOMPARE(moved.status, 301);
    QCOMPARE(moved.header("Location"), "http://127.0.0.1:1/moved");
}

void tst_Server::connectForward()
{
    m_server->map(QStringLiteral("/from"),
                  [](HttpConnect &c) { c.forward(QStringLiteral("/to/xyz")); });
    m_server->map(QStringLiteral("/to/(?<v>\\w+)"), [](HttpConnect &c) {
        c.response().write(
                QStringLiteral("to %1 %2").arg(c.param(QStringLiteral("v")), c.request().path()));
    });
    m_server->map(QStringLiteral("/loop"),
                  [](HttpConnect &c) { c.forward(QStringLiteral("/loop")); });
    start();
    const Response response = get("/from");
    QCOMPARE(response.status, 200);
    QCOMPARE(response.body, "to xyz /to/xyz");
    // A forward to nowhere is a 404; a forwarding loop ends in an error, not a hang.
    m_server->map(QStringLiteral("/dangling"),
                  [](HttpConnect &c) { c.forward(QStringLiteral("/nothing")); });
    QCOMPARE(get("/dangling").status, 404);
    const Response loop = get("/loop");
    QVERIFY2(loop.status >= 500, qPrintable(loop.toString()));
}

void tst_Server::connectInclude()
{
    m_server->map(QStringLiteral("/page"), [](HttpConnect &c) {
        c.response().setHeader("X-Page", "1");
        c.response().write("head;");
        c.include(QStringLiteral("/part/one"));
        c.response().write(";tail");
    });
    m_server->map(QStringLiteral("/part/(?<n>\\w+)"), [](HttpConnect &c) {
        // An included handler adds body, nothing else.
        c.response().setStatus(404);
        c.response().setHeader("X-Part", "1");
        c.response().write("part " + c.param(QStringLiteral("n")).toUtf8());
        c.response().end();
    });
    start();
    const Response response = get("/page");
    QCOMPARE(response.status, 200);
    QCOMPARE(response.body, "head;part one;tail");
    QCOMPARE(response.header("X-Page"), "1");
    QVERIFY(!response.hasHeader("X-Part"));
}

void tst_Server::errorMappedToUri()
{
    m_server->mapError(404, QStringLiteral("/errors/404"));
    m_server->map(QStringLiteral("/errors/404"), [](HttpConnect &c) {
        c.response().write(QStringLiteral("custom %1 [%2] for %3")
                                   .arg(c.errorStatus())
                                   .arg(c.errorDetail(), c.request().path()));
    });
    m_server->map(QStringLiteral("/fail"),
                  [](HttpConnect &c) { c.error(404, QStringLiteral("gone fishing")); });
    start();
    const Response missing = get("/missing");
    QCOMPARE(missing.status, 404);
    QVERIFY2(missing.body.startsWith("custom 404 [] for "), missing.body.constData());
    const Response failed = get("/fail");
    QCOMPARE(failed.status, 404);
    QVERIFY2(failed.body.startsWith("custom 404 [gone fishing]"), failed.body.constData());
    // Other errors keep the plain page.
    m_server->map(QStringLiteral("/teapot"), [](HttpConnect &) { throw sluice::HttpStatus(418); });
    QCOMPARE(get("/teapot").body, "418 I'm a teapot\n");
}

void tst_Server::errorMappedToHandler()
{
    m_server->mapError(418, [](HttpConnect &c) {
        c.response().setHeader("X-Error-Page", "yes");
        c.response().write(
                QStringLiteral("teapot page: %1 %2").arg(c.errorStatus()).arg(c.errorDetail()));
    });
    m_server->mapError(500, [](HttpConnect &c) { c.response().write("sorry"); });
    m_server->map(QStringLiteral("/teapot"), [](HttpConnect &) {
        throw sluice::HttpStatus(418, QStringLiteral("short and stout"));
    });
    m_server->map(QStringLiteral("/boom"), [](HttpConnect &) { throw std::runtime_error("x"); });
    start();
    const Response response = get("/teapot");
    QCOMPARE(response.status, 418);
    QCOMPARE(response.header("X-Error-Page"), "yes");
    QCOMPARE(response.body, "teapot page: 418 short and stout");
    const Response boom = get("/boom");
    QCOMPARE(boom.status, 500);
    QCOMPARE(boom.body, "sorry");
}

void tst_Server::filterContinues()
{
    m_server->filter(QStringLiteral("/f/.*"), [](HttpConnect &c, Chain next) {
        c.response().setHeader("X-Filtered", "1");
        next();
    });
    m_server->map(QStringLiteral("/f/(?<x>\\w+)"), [](HttpConnect &c) {
        ++g_handlerRuns;
        c.response().write("handled " + c.param(QStringLiteral("x")).toUtf8());
    });
    m_server->map(QStringLiteral("/g"), [](HttpConnect &c) { c.response().write("g"); });
    start();
    const Response response = get("/f/abc");
    QCOMPARE(response.status, 200);
    QCOMPARE(response.header("X-Filtered"), "1");
    QCOMPARE(response.body, "handled abc");
    QCOMPARE(g_handlerRuns.load(), 1);
    const Response other = get("/g");
    QVERIFY(!other.hasHeader("X-Filtered"));
}

void tst_Server::filterStops()
{
    m_server->filter(QStringLiteral("/admin/.*"), [](HttpConnect &c, Chain) {
        c.response().setStatus(403);
        c.response().write("no");
    });
    m_server->map(QStringLiteral("/admin/(?<x>.*)"), [](HttpConnect &c) {
        ++g_handlerRuns;
        c.response().write("secret");
    });
    start();
    Client client;
    QVERIFY(client.connectTo(m_port));
    const Response response = client.get("/admin/panel");
    QVERIFY2(response.status == 403, TRANSCRIPT(client));
    QCOMPARE(response.body, "no");
    QCOMPARE(g_handlerRuns.load(), 0);
    // The connection goes on after a stopped request.
    QCOMPARE(client.get("/admin/again").status, 403);
}

void tst_Server::filterContinuesLater()
{
    m_server->filter(QStringLiteral("/later"), [](HttpConnect &c, Chain next) {
        QTimer::singleShot(150, &c, [next] { next(); });
    });
    m_server->map(QStringLiteral("/later"), [](HttpConnect &c) {
        ++g_handlerRuns;
        c.response().write("finally");
    });
    start();
    QElapsedTimer timer;
    timer.start();
    Client client;
    QVERIFY(client.connectTo(m_port));
    client.send("GET /later HTTP/1.1\r\nHost: a\r\n\r\n");
    // Returning from the filter ends nothing while the chain is held.
    QVERIFY2(client.staysQuiet(80), TRANSCRIPT(client));
    QCOMPARE(g_handlerRuns.load(), 0);
    Response response;
    QVERIFY2(client.read(&response), TRANSCRIPT(client));
    QCOMPARE(response.status, 200);
    QCOMPARE(response.body, "finally");
    QVERIFY(timer.elapsed() >= 140);
    QCOMPARE(g_handlerRuns.load(), 1);
}

void tst_Server::filterThrows()
{
    m_server->filter(QStringLiteral("/t"), [](HttpConnect &, Chain) {
        throw sluice::HttpStatus(401, QStringLiteral("who are you"));
    });
    m_server->map(QStringLiteral("/t"), [](HttpConnect &c) {
        ++g_handlerRuns;
        c.response().write("t");
    });
    start();
    Client client;
    QVERIFY(client.connectTo(m_port));
    const Response response = client.get("/t");
    QVERIFY2(response.status == 401, TRANSCRIPT(client));
    QCOMPARE(response.body, "401 Unauthorized\nwho are you\n");
    QCOMPARE(g_handlerRuns.load(), 0);
}

void tst_Server::filterOrder()
{
    auto mark = [](const char *letter) {
        return [letter](HttpConnect &c, Chain next) {
            c.dataset()[QStringLiteral("trail")]
                    = c.dataset().value(QStringLiteral("trail")).toString() + QLatin1String(letter);
            next();
        };
    };
    m_server->filter(QStringLiteral("/o.*"), mark("A"));
    m_server->filter(QStringLiteral("/or.*"), mark("B"));
    m_server->filter(QStringLiteral("/other"), mark("X"));
    m_server->filter(QStringLiteral("/.*"), mark("C"), /*preceding=*/true);
    m_server->map(QStringLiteral("/order"), [](HttpConnect &c) {
        c.response().write(c.dataset().value(QStringLiteral("trail")).toString());
    });
    start();
    QCOMPARE(get("/order").body, "CAB");
}

void tst_Server::filterDataset()
{
    m_server->filter(QStringLiteral("/me"), [](HttpConnect &c, Chain next) {
        c.dataset().insert(QStringLiteral("user"), QStringLiteral("alice"));
        c.dataset().insert(QStringLiteral("level"), 3);
        next();
    });
    m_server->map(QStringLiteral("/me"), [](HttpConnect &c) {
        c.response().write(QStringLiteral("%1:%2").arg(
                c.dataset().value(QStringLiteral("user")).toString(),
                QString::number(c.dataset().value(QStringLiteral("level")).toInt())));
    });
    start();
    QCOMPARE(get("/me").body, "alice:3");
}

void tst_Server::mapAtRunTime()
{
    start();
    Client client;
    QVERIFY(client.connectTo(m_port));
    QCOMPARE(client.get("/dyn").status, 404);
    QVERIFY(m_server->map(QStringLiteral("/dyn"),
                          [](HttpConnect &c) { c.response().write("one"); }));
    QCOMPARE(client.get("/dyn").body, "one");
    // A route mapped in front takes over.
    sluice::MapOptions first;
    first.preceding = true;
    QVERIFY(m_server->map(
            QStringLiteral("/d.n"), [](HttpConnect &c) { c.response().write("two"); }, first));
    QCOMPARE(client.get("/dyn").body, "two");
    QVERIFY(m_server->unmap(QStringLiteral("/d.n")));
    QCOMPARE(client.get("/dyn").body, "one");
    QVERIFY(m_server->unmap(QStringLiteral("/dyn")));
    QCOMPARE(client.get("/dyn").status, 404);
    QVERIFY(!m_server->unmap(QStringLiteral("/dyn")));
}

void tst_Server::listenOnTwoAddresses()
{
    m_server->map(QStringLiteral("/where"),
                  [](HttpConnect &c) { c.response().write(c.request().peerAddress().toString()); });
    QVERIFY(m_server->listen(QHostAddress::LocalHost, 0));
    {
        QTcpServer probe;
        if (!probe.listen(QHostAddress::LocalHostIPv6, 0))
            QSKIP("::1 is not available here");
    }
    QVERIFY2(m_server->listen(QHostAddress::LocalHostIPv6, 0), qPrintable(m_server->errorString()));
    const QList<QUrl> urls = m_server->urls();
    QCOMPARE(urls.size(), 2);
    int seen = 0;
    for (const QUrl &url : urls) {
        const QHostAddress address(url.host());
        QVERIFY2(!address.isNull(), qPrintable(url.toString()));
        Client client;
        QVERIFY2(client.connectTo(quint16(url.port()), address), qPrintable(url.toString()));
        const Response response = client.get("/where");
        QCOMPARE(response.status, 200);
        QVERIFY(QHostAddress(QString::fromLatin1(response.body)).isEqual(address));
        ++seen;
    }
    QCOMPARE(seen, 2);
}

void tst_Server::portZero()
{
    QVERIFY(!m_server->isListening());
    start();
    QVERIFY(m_server->isListening());
    QVERIFY(m_server->serverPort() != 0);
    QCOMPARE(m_server->urls().size(), 1);
    QCOMPARE(m_server->urls().first().port(), int(m_server->serverPort()));
    QCOMPARE(get("/x").status, 404);
}

void tst_Server::closeStopsListening()
{
    m_server->map(QStringLiteral("/x"), [](HttpConnect &c) { c.response().write("x"); });
    start();
    Client open;
    QVERIFY(open.connectTo(m_port));
    QCOMPARE(open.get("/x").body, "x");

    m_server->close();
    QVERIFY(!m_server->isListening());
    QVERIFY2(open.waitForClosed(), TRANSCRIPT(open));
    QTRY_COMPARE(m_server->connectionCount(), 0);
    Client late;
    QVERIFY(!late.connectTo(m_port));
}

void tst_Server::connectionCount()
{
    m_server->map(QStringLiteral("/x"), [](HttpConnect &c) { c.response().write("x"); });
    QSignalSpy opened(m_server.get(), &sluice::Server::connectionOpened);
    QSignalSpy closed(m_server.get(), &sluice::Server::connectionClosed);
    start();
    QCOMPARE(m_server->connectionCount(), 0);
    std::vector<std::unique_ptr<Client>> clients;
    for (int i = 0; i < 3; ++i) {
        clients.push_back(std::make_unique<Client>());
        QVERIFY(clients.back()->connectTo(m_port));
        QCOMPARE(clients.back()->get("/x").body, "x");
    }
    QTRY_COMPARE(m_server->connectionCount(), 3);
    QTRY_COMPARE(opened.size(), 3);
    clients.front()->socket().disconnectFromHost();
    QTRY_COMPARE(m_server->connectionCount(), 2);
    QTRY_COMPARE(closed.size(), 1);
    QCOMPARE(closed.first().first().value<quint64>(), opened.first().first().value<quint64>());
    clients.clear();
    QTRY_COMPARE(m_server->connectionCount(), 0);
    QTRY_COMPARE(closed.size(), 3);
}

void tst_Server::portInUse()
{
    QTcpServer squatter;
    QVERIFY(squatter.listen(QHostAddress::LocalHost, 0));
    const quint16 port = squatter.serverPort();
    QVERIFY(!m_server->listen(QHostAddress::LocalHost, port));
    const QString error = m_server->errorString();
    QVERIFY2(error.contains(QLatin1String("127.0.0.1")), qPrintable(error));
    QVERIFY2(error.contains(QString::number(port)), qPrintable(error));
    QVERIFY(!m_server->isListening());
}

void tst_Server::routeFiltersRunAfterServerFilters()
{
    QStringList order;
    m_server->filter(QStringLiteral("/.*"), [&order](HttpConnect &, Chain chain) {
        order.append(QStringLiteral("server"));
        chain();
    });
    sluice::MapOptions options;
    options.filters.append([&order](HttpConnect &, Chain chain) {
        order.append(QStringLiteral("route"));
        chain();
    });
    options.filters.append([&order](HttpConnect &c, Chain chain) {
        order.append(QStringLiteral("route2"));
        if (c.request().url().query() == QLatin1String("stop")) {
            c.error(403, QStringLiteral("stopped by the route"));
            return;
        }
        chain();
    });
    m_server->map(
            QStringLiteral("/guarded"),
            [&order](HttpConnect &c) {
                order.append(QStringLiteral("handler"));
                c.response().write("ok");
            },
            options);
    m_server->map(QStringLiteral("/open"), [&order](HttpConnect &c) {
        order.append(QStringLiteral("handler"));
        c.response().write("open");
    });
    start();

    Response response = get("/guarded");
    QCOMPARE(response.status, 200);
    QCOMPARE(response.body, "ok");
    QCOMPARE(order, (QStringList {QStringLiteral("server"), QStringLiteral("route"),
                                  QStringLiteral("route2"), QStringLiteral("handler")}));

    order.clear();
    response = get("/guarded?stop");
    QCOMPARE(response.status, 403);
    QVERIFY(response.body.contains("stopped by the route"));
    QCOMPARE(order, (QStringList {QStringLiteral("server"), QStringLiteral("route"),
                                  QStringLiteral("route2")}));

    // Another route does not run them.
    order.clear();
    QCOMPARE(get("/open").body, "open");
    QCOMPARE(order, (QStringList {QStringLiteral("server"), QStringLiteral("handler")}));
}

void tst_Server::routeFilterAnswersUpgrade()
{
    int handlerRuns = 0;
    bool busy = true;
    sluice::MapOptions options;
    options.filters.append([&busy](HttpConnect &c, Chain chain) {
        if (busy) {
            c.error(503, QStringLiteral("busy"), {{"Retry-After", "1"}});
            return;
        }
        chain();
    });
    m_server->map(
            QStringLiteral("ws:/guarded"),
            [&handlerRuns](sluice::WebSocket *socket) {
                ++handlerRuns;
                socket->sendText(QStringLiteral("welcome"));
            },
            options);
    start();

    const Response refused = send(upgradeHead("/guarded"));
    QCOMPARE(refused.status, 503);
    QCOMPARE(refused.header("Retry-After"), "1");
    QVERIFY(refused.body.contains("busy"));
    QCOMPARE(handlerRuns, 0);

    busy = false;
    wstestclient::Client client;
    QVERIFY2(client.open(m_port, QStringLiteral("/guarded")), qPrintable(client.errorString()));
    QVERIFY(client.waitForCount(1));
    QCOMPARE(client.received().first().text, QStringLiteral("welcome"));
    QCOMPARE(handlerRuns, 1);
}

void tst_Server::replaceSwapsTheWholeMapping()
{
    m_server->map(QStringLiteral("/old"), [](HttpConnect &c) { c.response().write("old"); });
    start();
    Client keepAlive;
    QVERIFY(keepAlive.connectTo(m_port));
    QCOMPARE(keepAlive.get("/old").body, "old");

    QSignalSpy changed(m_server->router(), &sluice::Router::routesChanged);
    sluice::Router fresh;
    fresh.map(QStringLiteral("/new"), [](HttpConnect &c) { c.response().write("new"); });
    fresh.filter(QStringLiteral("/new"), [](HttpConnect &c, Chain chain) {
        c.response().setHeader("X-Filtered", "yes");
        chain();
    });
    fresh.mapError(404, [](HttpConnect &c) { c.response().write("custom 404"); });
    m_server->router()->replace(fresh);
    QCOMPARE(changed.size(), 1);

    // The same keep-alive connection sees the new mapping, and only it.
    const Response added = keepAlive.get("/new");
    QCOMPARE(added.status, 200);
    QCOMPARE(added.body, "new");
    QCOMPARE(added.header("X-Filtered"), "yes");
    const Response gone = keepAlive.get("/old");
    QCOMPARE(gone.status, 404);
    QCOMPARE(gone.body, "custom 404");
    QCOMPARE(m_server->router()->routes().size(), 1);
}

void tst_Server::shutdownWithNothingOpen()
{
    start();
    QSignalSpy finished(m_server.get(), &sluice::Server::shutdownFinished);
    m_server->shutdown(5000);
    QVERIFY(m_server->isShuttingDown());
    QVERIFY(!m_server->isListening());
    QVERIFY(finished.wait(2000));
    QCOMPARE(finished.size(), 1);
}

void tst_Server::shutdownFinishesResponseInFlight()
{
    // A deferred response that completes 300 ms after the shutdown began.
    m_server->map(QStringLiteral("/slow"), [this](HttpConnect &c) {
        c.defer();
        QTimer::singleShot(300, &c, [&c] { c.response().end("finally"); });
        QMetaObject::invokeMethod(
                m_server.get(), [this] { m_server->shutdown(5000); }, Qt::QueuedConnection);
    });
    start();
    QSignalSpy finished(m_server.get(), &sluice::Server::shutdownFinished);
    Client client;
    QVERIFY(client.connectTo(m_port));
    client.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    Response response;
    QVERIFY2(client.read(&response), TRANSCRIPT(client));
    QCOMPARE(response.status, 200);
    QCOMPARE(response.body, "finally");
    // The connection does not stay for another request.
    QVERIFY(response.headerHasToken("Connection", "close"));
    QVERIFY2(client.waitForClosed(), TRANSCRIPT(client));
    QVERIFY(finished.wait(3000) || finished.size() == 1);
    QCOMPARE(m_server->connectionCount(), 0);
}

void tst_Server::shutdownClosesWebSocketsWithGoingAway()
{
    m_server->map(QStringLiteral("ws:/stay"), [](sluice::WebSocket *) {});
    start();
    wstestclient::Client first;
    wstestclient::Client second;
    QVERIFY(first.open(m_port, QStringLiteral("/stay")));
    QVERIFY(second.open(m_port, QStringLiteral("/stay")));
    QTRY_COMPARE(m_server->connectionCount(), 2);

    QSignalSpy finished(m_server.get(), &sluice::Server::shutdownFinished);
    m_server->shutdown(5000);
    QTRY_COMPARE_WITH_TIMEOUT(first.socket().state(), QAbstractSocket::UnconnectedState, 5000);
    QTRY_COMPARE_WITH_TIMEOUT(second.socket().state(), QAbstractSocket::UnconnectedState, 5000);
    QCOMPARE(first.socket().closeCode(), QWebSocketProtocol::CloseCodeGoingAway);
    QCOMPARE(second.socket().closeCode(), QWebSocketProtocol::CloseCodeGoingAway);
    QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 1, 5000);
    QCOMPARE(m_server->connectionCount(), 0);
}

void tst_Server::shutdownCutsWhatOutlivesGrace()
{
    // A response that would never end.
    m_server->map(QStringLiteral("/forever"), [](HttpConnect &c) { c.defer(); });
    start();
    Client client;
    QVERIFY(client.connectTo(m_port));
    client.send("GET /forever HTTP/1.1\r\nHost: x\r\n\r\n");
    QTRY_COMPARE(m_server->connectionCount(), 1);
    QTest::qWait(50);

    QSignalSpy finished(m_server.get(), &sluice::Server::shutdownFinished);
    QElapsedTimer timer;
    timer.start();
    m_server->shutdown(200);
    QVERIFY(finished.wait(5000));
    QVERIFY2(timer.elapsed() >= 150, QByteArray::number(timer.elapsed()).constData());
    QVERIFY2(client.waitForClosed(), TRANSCRIPT(client));
    QCOMPARE(m_server->connectionCount(), 0);
}

void tst_Server::actOnConnectionsById()
{
    QList<quint64> ids;
    m_server->map(QStringLiteral("ws:/stay"),
                  [&ids](sluice::WebSocket *socket) { ids.append(socket->id()); });
    m_server->map(QStringLiteral("/x"), [](HttpConnect &c) { c.response().write("x"); });
    QList<sluice::MonitorEvent> events;
    connect(m_server->monitor(), &sluice::Monitor::eventsPosted, this,
            [&events](const QList<sluice::MonitorEvent> &batch) { events += batch; });
    start();
    wstestclient::Client client;
    QVERIFY(client.open(m_port, QStringLiteral("/stay")));
    QTRY_COMPARE(ids.size(), 1);
    const quint64 id = ids.first();

    // From another thread, as the window does.
    std::thread other([this, id] {
        m_server->sendText(id, QStringLiteral("from the monitor"));
        m_server->sendBinary(id, QByteArray("\x01\x02", 2));
        m_server->ping(id, "are you there");
        m_server->sendText(id + 1000, QStringLiteral("nobody"));
    });
    other.join();
    QVERIFY(client.waitForCount(2));
    QCOMPARE(client.received().at(0).text, QStringLiteral("from the monitor"));
    QCOMPARE(client.received().at(1).binary, QByteArray("\x01\x02", 2));
    // Qt's client answers the ping; the pong comes back as an event.
    QTRY_VERIFY(std::any_of(events.cbegin(), events.cend(), [](const sluice::MonitorEvent &e) {
        return e.opcode == sluice::MonitorEvent::Opcode::Pong
               && e.direction == sluice::MonitorEvent::Direction::Incoming
               && e.payload == "are you there";
    }));

    m_server->closeConnection(id, 4000, QStringLiteral("closed from the monitor"));
    QTRY_COMPARE_WITH_TIMEOUT(client.socket().state(), QAbstractSocket::UnconnectedState, 5000);
    QCOMPARE(int(client.socket().closeCode()), 4000);
    QCOMPARE(client.socket().closeReason(), QStringLiteral("closed from the monitor"));

    // An idle keep-alive HTTP connection closes too.
    Client http;
    QVERIFY(http.connectTo(m_port));
    QCOMPARE(http.get("/x").body, "x");
    quint64 httpId = 0;
    QTRY_VERIFY(
            std::any_of(events.cbegin(), events.cend(), [&httpId](const sluice::MonitorEvent &e) {
                if (e.type != sluice::MonitorEvent::Type::HttpExchange)
                    return false;
                httpId = e.connectionId;
                return true;
            }));
    m_server->closeConnection(httpId);
    QVERIFY2(http.waitForClosed(), TRANSCRIPT(http));
    QTRY_COMPARE(m_server->connectionCount(), 0);
}

QTEST_GUILESS_MAIN(tst_Server)
#include "tst_server.moc"
