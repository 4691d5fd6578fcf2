// The app's JSON config through Config's API: a complete file maps onto a
// Server, and every kind of mistake is refused with its exact message.

#include "config.h"

#include <sluice/broadcastrooms.h>
#include <sluice/chain.h>
#include <sluice/route.h>
#include <sluice/router.h>
#include <sluice/server.h>

#include <QtCore/QDir>
#include <QtCore/QFile>
#include <QtCore/QJsonDocument>
#include <QtCore/QProcess>
#include <QtCore/QStandardPaths>
#include <QtCore/QTemporaryDir>
#include <QtTest/QTest>

class tst_Config : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void completeConfigApplies();
    void defaultsWhenKeysAreMissing();
    void errors_data();
    void errors();
    void syntaxErrorNamesLineAndColumn();
    void missingFile();
    void tlsListen();
    void tlsErrors_data();
    void tlsErrors();

private:
    QString write(const QString &name, const QByteArray &json);

    std::unique_ptr<QTemporaryDir> m_dir;
};

QString tst_Config::write(const QString &name, const QByteArray &json)
{
    const QString path = m_dir->filePath(name);
    QFile file(path);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate) || file.write(json) != json.size())
        qFatal("cannot write %s", qPrintable(path));
    return path;
}

void tst_Config::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    QVERIFY(QDir(m_dir->path()).mkpath(QStringLiteral("www")));
    // An htpasswd file whose second user has an MD5 (apr1) hash, which is refused.
    write(QStringLiteral("bad.htpasswd"),
          "alice:$6$saltsalt$pauPrmdmG4BTE9h2HPmywiw152IFch6BJCEsaY6D.PLTfpV8"
          "sqvXwWdyfsgVgozkYH9B80bAip/08R2BPH2xk/\nbob:$apr1$salt$Xxh2vK4A1mH1d0e6nq1pO/\n");
}

void tst_Config::completeConfigApplies()
{
    const QString path = write(QStringLiteral("site.json"), R"J({
        "listen": [{"address": "127.0.0.1", "port": 8080}, {"address": "::1", "port": 0}],
        "root": "www",
        "routes": [
            {"uri": "ws:/contentType", "handler": "contentType"},
            {"uri": "ws:/echo", "handler": "echo"},
            {"uri": "ws:/chat/(?<room>\\w+)", "handler": "broadcast"},
            {"uri": "ws:/tail", "exec": ["tail", "-f", "app.log"], "maxProcesses": 4},
            {"uri": "ws:/script", "exec": ["bin/run.sh"]},
            {"uri": "/old/(?<p>.*)", "forward": "/new/(p)"},
            {"uri": "/away", "redirect": "https://example.com/"},
            {"uri": "ws:/x", "handler": "echo", "subprotocols": ["v1", "v2"]},
            {"uri": "ws:/z", "handler": "echo", "compression": true},
            {"uri": "ws:/zz", "handler": "echo",
             "compression": {"threshold": 10, "level": 1, "serverContextTakeover": true,
                             "clientContextTakeover": true, "serverMaxWindowBits": 9,
                             "clientMaxWindowBits": 10, "memLevel": 4}}
        ],
        "workers": 3,
        "webSocketEngine": "qt",
        "errors": {"404": "/404.html", "500": "/oops"},
        "limits": {"maxHeadBytes": 1000, "maxBodyBytes": 2000, "responseBufferBytes": 3000,
                   "maxWebSocketMessageBytes": 4000, "monitorPayloadBytes": 0,
                   "maxUriBytes": 500, "maxHeaderCount": 7, "maxWebSocketFrameBytes": 3500,
                   "maxConnections": 40, "maxConnectionsPerAddress": 4,
                   "maxPendingWriteBytes": 123456, "headTimeoutMs": 1100, "bodyTimeoutMs": 1200,
                   "keepAliveTimeoutMs": 0, "sendTimeoutMs": 1400, "handshakeTimeoutMs": 1500,
                   "webSocketPingIntervalMs": 1600, "webSocketPongTimeoutMs": 1700,
                   "webSocketCloseTimeoutMs": 1800}
    })J");
    Config config;
    QVERIFY2(config.load(path), qPrintable(config.errorString()));

    QCOMPARE(config.listen().size(), 2);
    QCOMPARE(config.workers(), 3);
    QVERIFY(config.describe().contains(QStringLiteral("workers: 3\n")));
    QCOMPARE(config.listen().at(0).address, QHostAddress(QStringLiteral("127.0.0.1")));
    QCOMPARE(config.listen().at(0).port, quint16(8080));
    QCOMPARE(config.listen().at(1).address, QHostAddress(QStringLiteral("::1")));
    QCOMPARE(config.listen().at(1).port, quint16(0));
    QCOMPARE(config.root(), QDir(m_dir->path()).absoluteFilePath(QStringLiteral("www")));
    QCOMPARE(config.routes().at(3).exec, QStringList({"tail", "-f", "app.log"}));
    QCOMPARE(config.routes().at(4).exec.first(),
             QDir(m_dir->path()).absoluteFilePath(QStringLiteral("bin/run.sh")));

    sluice::Server server;
    sluice::BroadcastRooms rooms;
    QString error;
    QVERIFY2(config.apply(server, &rooms, &error), qPrintable(error));

    const QList<sluice::Route> routes = server.router()->routes();
    using Kind = sluice::Route::Kind;
    const QList<std::tuple<Kind, QString, QString>> expected = {
            {Kind::WebSocket, QStringLiteral("ws:/contentType"), QStringLiteral("contentType")},
            {Kind::WebSocket, QStringLiteral("ws:/echo"), QStringLiteral("echo")},
            {Kind::WebSocket, QStringLiteral("ws:/chat/(?<room>\\w+)"),
             QStringLiteral("broadcast")},
            {Kind::WebSocket, QStringLiteral("ws:/tail"), QStringLiteral("exec")},
            {Kind::WebSocket, QStringLiteral("ws:/script"), QStringLiteral("exec")},
            {Kind::Forward, QStringLiteral("/old/(?<p>.*)"), QString()},
            {Kind::Redirect, QStringLiteral("/away"), QString()},
            {Kind::WebSocket, QStringLiteral("ws:/x"), QStringLiteral("echo")},
            {Kind::WebSocket, QStringLiteral("ws:/z"), QStringLiteral("echo")},
            {Kind::WebSocket, QStringLiteral("ws:/zz"), QStringLiteral("echo")},
    };
    QCOMPARE(routes.size(), expected.size());
    for (qsizetype i = 0; i < routes.size(); ++i) {
        QCOMPARE(routes.at(i).kind(), std::get<0>(expected.at(i)));
        QCOMPARE(routes.at(i).uri(), std::get<1>(expected.at(i)));
        if (!std::get<2>(expected.at(i)).isEmpty())
            QCOMPARE(routes.at(i).handlerName(), std::get<2>(expected.at(i)));
    }
    QCOMPARE(routes.at(5).target(), QStringLiteral("/new/(p)"));
    QCOMPARE(routes.at(6).target(), QStringLiteral("https://example.com/"));
    QCOMPARE(routes.at(7).subprotocols(), QStringList({"v1", "v2"}));
    QVERIFY(!routes.at(7).compression().enabled);
    const sluice::WebSocketCompression plain = routes.at(8).compression();
    QVERIFY(plain.enabled);
    QCOMPARE(plain.thresholdBytes, sluice::WebSocketCompression().thresholdBytes);
    QVERIFY(!plain.serverContextTakeover);
    const sluice::WebSocketCompression tuned = routes.at(9).compression();
    QVERIFY(tuned.enabled);
    QCOMPARE(tuned.thresholdBytes, 10);
    QCOMPARE(tuned.level, 1);
    QVERIFY(tuned.serverContextTakeover);
    QVERIFY(tuned.clientContextTakeover);
    QCOMPARE(tuned.serverMaxWindowBits, 9);
    QCOMPARE(tuned.clientMaxWindowBits, 10);
    QCOMPARE(tuned.memLevel, 4);
    QCOMPARE(server.webSocketEngine(), sluice::Server::WebSocketEngine::Qt);
    QVERIFY(config.describe().contains(QStringLiteral("webSocketEngine: qt\n")));
    QVERIFY(config.describe().contains(
            QStringLiteral("route: WebSocket ws:/z echo compression (threshold 64 B, level 6)\n")));

    QCOMPARE(server.router()->errorStatuses().size(), 2);
    QCOMPARE(server.router()->errorUri(404), QStringLiteral("/404.html"));
    QCOMPARE(server.router()->errorUri(500), QStringLiteral("/oops"));

    QCOMPARE(server.limits().maxHeadBytes, 1000);
    QCOMPARE(server.limits().maxBodyBytes, 2000);
    QCOMPARE(server.limits().responseBufferBytes, 3000);
    QCOMPARE(server.limits().maxWebSocketMessageBytes, 4000);
    QCOMPARE(server.limits().monitorPayloadBytes, 0);
    const sluice::Limits limits = server.limits();
    QCOMPARE(limits.maxUriBytes, 500);
    QCOMPARE(limits.maxHeaderCount, 7);
    QCOMPARE(limits.maxWebSocketFrameBytes, 3500);
    QCOMPARE(limits.maxConnections, 40);
    QCOMPARE(limits.maxConnectionsPerAddress, 4);
    QCOMPARE(limits.maxPendingWriteBytes, 123456);
    QCOMPARE(limits.headTimeoutMs, 1100);
    QCOMPARE(limits.bodyTimeoutMs, 1200);
    QCOMPARE(limits.keepAliveTimeoutMs, 0);
    QCOMPARE(limits.sendTimeoutMs, 1400);
    QCOMPARE(limits.handshakeTimeoutMs, 1500);
    QCOMPARE(limits.webSocketPingIntervalMs, 1600);
    QCOMPARE(limits.webSocketPongTimeoutMs, 1700);
    QCOMPARE(limits.webSocketCloseTimeoutMs, 1800);

    const QString described = config.describe();
    QVERIFY2(described.contains(QStringLiteral("route: WebSocket ws:/tail exec tail -f app.log "
                                               "(at most 4 processes)\n")),
             qPrintable(described));
    QVERIFY2(described.contains(QStringLiteral("route: forward /old/(?<p>.*) /new/(p)\n"
                                               "route: redirect /away https://example.com/\n")),
             qPrintable(described));
    QVERIFY2(described.contains(QStringLiteral("listen: [::1]:0\n")), qPrintable(described));
    QVERIFY2(described.contains(
                     QStringLiteral("maxUriBytes 500, maxHeadBytes 1000, maxHeaderCount 7,")),
             qPrintable(described));
    QVERIFY2(described.contains(QStringLiteral("keepAliveTimeoutMs 0, sendTimeoutMs 1400")),
             qPrintable(described));
}

void tst_Config::defaultsWhenKeysAreMissing()
{
    Config config;
    QVERIFY2(config.load(write(QStringLiteral("empty.json"), "{}")),
             qPrintable(config.errorString()));
    QVERIFY(config.listen().isEmpty());
    QVERIFY(config.root().isEmpty());
    QVERIFY(config.routes().isEmpty());
    QCOMPARE(config.limits().maxBodyBytes, sluice::Limits().maxBodyBytes);

    const QString path = write(QStringLiteral("listen.json"), R"({"listen": [{}]})");
    QVERIFY2(config.load(path), qPrintable(config.errorString()));
    QCOMPARE(config.listen().size(), 1);
    QCOMPARE(config.listen().first().address, QHostAddress(QHostAddress::Any));
    QCOMPARE(config.listen().first().port, quint16(8080));
}

void tst_Config::errors_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<QString>("message"); // after "<file>: "

    QTest::newRow("not an object") << QByteArray("[]") << QStringLiteral("must be a JSON object");
    QTest::newRow("unknown top key")
            << QByteArray(R"({"colour": 1})") << QStringLiteral("colour: unknown key");
    QTest::newRow("unknown route key")
            << QByteArray(R"({"routes": [{"uri": "ws:/a", "handler": "echo", "colour": 1}]})")
            << QStringLiteral("routes[0].colour: unknown key");
    QTest::newRow("unknown limit") << QByteArray(R"({"limits": {"maxBytes": 1}})")
                                   << QStringLiteral("limits.maxBytes: unknown key");
    QTest::newRow("workers negative")
            << QByteArray(R"({"workers": -1})")
            << QStringLiteral("workers: must be an integer from 0 to 256");
    QTest::newRow("workers too many")
            << QByteArray(R"({"workers": 1000})")
            << QStringLiteral("workers: must be an integer from 0 to 256");
    QTest::newRow("workers string") << QByteArray(R"({"workers": "4"})")
                                    << QStringLiteral("workers: must be an integer from 0 to 256");
    QTest::newRow("engine unknown")
            << QByteArray(R"({"webSocketEngine": "fast"})")
            << QStringLiteral("webSocketEngine: must be \"sluice\" or \"qt\"");
    QTest::newRow("compression on http")
            << QByteArray(R"({"routes": [{"uri": "/a", "forward": "/b", "compression": true}]})")
            << QStringLiteral("routes[0].compression: only for ws: routes");
    QTest::newRow("compression string")
            << QByteArray(
                       R"({"routes": [{"uri": "ws:/a", "handler": "echo", "compression": "on"}]})")
            << QStringLiteral("routes[0].compression: must be true, false or an object");
    QTest::newRow("compression unknown key")
            << QByteArray(R"({"routes": [{"uri": "ws:/a", "handler": "echo",
                                           "compression": {"window": 9}}]})")
            << QStringLiteral("routes[0].compression.window: unknown key");
    QTest::newRow("compression level")
            << QByteArray(R"({"routes": [{"uri": "ws:/a", "handler": "echo",
                                           "compression": {"level": 10}}]})")
            << QStringLiteral("routes[0].compression.level: must be an integer from 1 to 9");
    QTest::newRow("compression window")
            << QByteArray(R"({"routes": [{"uri": "ws:/a", "handler": "echo",
                                           "compression": {"serverMaxWindowBits": 7}}]})")
            << QStringLiteral("routes[0].compression.serverMaxWindowBits: must be an integer from "
                              "8 to 15");
    QTest::newRow("compression takeover")
            << QByteArray(R"({"routes": [{"uri": "ws:/a", "handler": "echo",
                                           "compression": {"serverContextTakeover": 1}}]})")
            << QStringLiteral("routes[0].compression.serverContextTakeover: must be true or false");
    QTest::newRow("unknown listen key") << QByteArray(R"({"listen": [{"host": "x"}]})")
                                        << QStringLiteral("listen[0].host: unknown key");
    QTest::newRow("port too big") << QByteArray(R"({"listen": [{"port": 65536}]})")
                                  << QStringLiteral(
                                             "listen[0].port: must be an integer from 0 to 65535");
    QTest::newRow("port not integer")
            << QByteArray(R"({"listen": [{"port": 80.5}]})")
            << QStringLiteral("listen[0].port: must be an integer from 0 to 65535");
    QTest::newRow("port string") << QByteArray(R"({"listen": [{"port": "80"}]})")
                                 << QStringLiteral(
                                            "listen[0].port: must be an integer from 0 to 65535");
    QTest::newRow("bad address")
            << QByteArray(R"({"listen": [{"address": "localhost"}]})")
            << QStringLiteral("listen[0].address: not an IPv4 or IPv6 address: \"localhost\"");
    QTest::newRow("address type") << QByteArray(R"({"listen": [{"address": 127}]})")
                                  << QStringLiteral("listen[0].address: must be a string");
    QTest::newRow("listen empty") << QByteArray(R"({"listen": []})")
                                  << QStringLiteral("listen: must be a non-empty array");
    QTest::newRow("root type") << QByteArray(R"({"root": 1})")
                               << QStringLiteral("root: must be a string");
    QTest::newRow("root missing") << QByteArray(R"({"root": "nowhere"})")
                                  << QStringLiteral(
                                             "root: not a readable directory: %DIR%/nowhere");
    QTest::newRow("routes type") << QByteArray(R"({"routes": {}})")
                                 << QStringLiteral("routes: must be an array");
    QTest::newRow("route not object") << QByteArray(R"({"routes": ["ws:/a"]})")
                                      << QStringLiteral("routes[0]: must be an object");
    QTest::newRow("uri missing") << QByteArray(R"({"routes": [{"handler": "echo"}]})")
                                 << QStringLiteral("routes[0].uri: missing");
    QTest::newRow("uri type") << QByteArray(R"({"routes": [{"uri": 5, "handler": "echo"}]})")
                              << QStringLiteral("routes[0].uri: must be a string");
    QTest::newRow("bad regex")
            << QByteArray(R"({"routes": [{"uri": "ws:/a", "handler": "echo"},
                                         {"uri": "/b", "forward": "/c"},
                                         {"uri": "/d", "forward": "/e"},
                                         {"uri": "/x/(?<a>[a-z]+", "forward": "/c"}]})")
            << QStringLiteral("routes[3].uri: ")
                       + sluice::Route(QStringLiteral("/x/(?<a>[a-z]+")).errorString();
    QTest::newRow("unknown handler")
            << QByteArray(R"({"routes": [{"uri": "ws:/a", "handler": "echo"},
                                         {"uri": "ws:/b", "handler": "ecko"}]})")
            << QStringLiteral("routes[1].handler: unknown handler \"ecko\" (known: contentType, "
                              "echo, broadcast, hello)");
    QTest::newRow("handler type") << QByteArray(
            R"({"routes": [{"uri": "ws:/a", "handler": ["echo"]}]})")
                                  << QStringLiteral("routes[0].handler: must be a string");
    QTest::newRow("no kind")
            << QByteArray(R"({"routes": [{"uri": "ws:/a"}]})")
            << QStringLiteral("routes[0]: needs exactly one of handler, exec, forward, redirect "
                              "(has none)");
    QTest::newRow("two kinds")
            << QByteArray(R"({"routes": [{"uri": "ws:/a", "handler": "echo", "exec": ["cat"]}]})")
            << QStringLiteral("routes[0]: needs exactly one of handler, exec, forward, redirect "
                              "(has handler, exec)");
    QTest::newRow("handler on http route")
            << QByteArray(R"({"routes": [{"uri": "/a", "handler": "echo"}]})")
            << QStringLiteral("routes[0].handler: \"echo\" is a WebSocket handler: the uri needs "
                              "\"ws:\"");
    QTest::newRow("http handler on ws route")
            << QByteArray(R"({"routes": [{"uri": "ws:/a", "handler": "hello"}]})")
            << QStringLiteral("routes[0].handler: \"hello\" is an HTTP handler: the uri cannot "
                              "be \"ws:\"");
    QTest::newRow("origins on http route")
            << QByteArray(R"({"routes": [{"uri": "/a", "handler": "hello", "origins": ["self"]}]})")
            << QStringLiteral("routes[0].origins: only for ws: routes");
    QTest::newRow("route origin without scheme")
            << QByteArray(
                       R"({"routes": [{"uri": "ws:/a", "handler": "echo", "origins": ["a.com"]}]})")
            << QStringLiteral("routes[0].origins[0]: not an origin (\"https://host[:port]\" or "
                              "\"self\"): \"a.com\"");
    QTest::newRow("route origin with path")
            << QByteArray(R"({"routes": [{"uri": "ws:/a", "handler": "echo",
                                          "origins": ["self", "https://a.com/app"]}]})")
            << QStringLiteral("routes[0].origins[1]: not an origin (\"https://host[:port]\" or "
                              "\"self\"): \"https://a.com/app\"");
    QTest::newRow("route origins empty")
            << QByteArray(R"({"routes": [{"uri": "ws:/a", "handler": "echo", "origins": []}]})")
            << QStringLiteral("routes[0].origins: must list at least one origin");
    QTest::newRow("filters type") << QByteArray(R"({"filters": {}})")
                                  << QStringLiteral("filters: must be an array");
    QTest::newRow("filter uri missing") << QByteArray(R"({"filters": [{"origins": ["self"]}]})")
                                        << QStringLiteral("filters[0].uri: missing");
    QTest::newRow("filter bad regex")
            << QByteArray(R"({"filters": [{"uri": "/a(", "origins": ["self"]}]})")
            << QStringLiteral("filters[0].uri: ") + [] {
                   sluice::Router router;
                   router.filter(QStringLiteral("/a("),
                                 [](sluice::HttpConnect &, sluice::Chain) {});
                   return router.errorString();
               }();
    QTest::newRow("filter no kind") << QByteArray(R"({"filters": [{"uri": "/.*"}]})")
                                    << QStringLiteral("filters[0]: needs exactly one of origins, "
                                                      "basicAuth, cors (has none)");
    QTest::newRow("filter two kinds")
            << QByteArray(R"({"filters": [{"uri": "/.*", "origins": ["self"], "cors": {}}]})")
            << QStringLiteral("filters[0]: needs exactly one of origins, basicAuth, cors (has "
                              "origins, cors)");
    QTest::newRow("filter unknown key")
            << QByteArray(R"({"filters": [{"uri": "/.*", "origin": ["self"]}]})")
            << QStringLiteral("filters[0].origin: unknown key");
    QTest::newRow("basicAuth without file")
            << QByteArray(R"({"filters": [{"uri": "/.*", "basicAuth": {"realm": "x"}}]})")
            << QStringLiteral("filters[0].basicAuth.passwordFile: missing");
    QTest::newRow("basicAuth unknown key")
            << QByteArray(R"({"filters": [{"uri": "/.*", "basicAuth": {"users": "x"}}]})")
            << QStringLiteral("filters[0].basicAuth.users: unknown key");
    QTest::newRow("basicAuth bad file") << QByteArray(
            R"({"filters": [{"uri": "/.*", "basicAuth": {"passwordFile": "bad.htpasswd"}}]})")
                                        << QStringLiteral("filters[0].basicAuth.passwordFile: "
                                                          "%DIR%/bad.htpasswd:2: user "
                                                          "\"bob\": unsupported password hash (use "
                                                          "bcrypt: htpasswd -B, "
                                                          "yescrypt: mkpasswd, or SHA-512: openssl "
                                                          "passwd -6)");
    QTest::newRow("cors without origins")
            << QByteArray(R"({"filters": [{"uri": "/.*", "cors": {"methods": ["GET"]}}]})")
            << QStringLiteral("filters[0].cors.origins: missing");
    QTest::newRow("cors method not a token") << QByteArray(
            R"({"filters": [{"uri": "/.*", "cors": {"origins": ["*"], "methods": ["GET", "BAD METHOD"]}}]})")
                                             << QStringLiteral("filters[0].cors.methods[1]: not a "
                                                               "token: \"BAD METHOD\"");
    QTest::newRow("cors credentials with any origin") << QByteArray(
            R"({"filters": [{"uri": "/.*", "cors": {"origins": ["*"], "credentials": true}}]})")
                                                      << QStringLiteral(
                                                                 "filters[0].cors.credentials: "
                                                                 "cannot be true with the origin "
                                                                 "\"*\" "
                                                                 "(browsers refuse it): list the "
                                                                 "origins");
    QTest::newRow("cors credentials type") << QByteArray(
            R"({"filters": [{"uri": "/.*", "cors": {"origins": ["https://a.com"], "credentials": "yes"}}]})")
                                           << QStringLiteral("filters[0].cors.credentials: must be "
                                                             "true or false");
    QTest::newRow("cors maxAge") << QByteArray(
            R"({"filters": [{"uri": "/.*", "cors": {"origins": ["https://a.com"], "maxAge": 100000}}]})")
                                 << QStringLiteral("filters[0].cors.maxAge: must be an integer "
                                                   "from 0 to 86400");
    QTest::newRow("cors self is not an origin")
            << QByteArray(R"({"filters": [{"uri": "/.*", "cors": {"origins": ["self"]}}]})")
            << QStringLiteral("filters[0].cors.origins[0]: not an origin (\"https://host[:port]\" "
                              "or \"*\"): \"self\"");
    QTest::newRow("forward on ws route")
            << QByteArray(R"({"routes": [{"uri": "ws:/a", "forward": "/b"}]})")
            << QStringLiteral("routes[0].uri: \"ws:/a\" is a ws: route: it cannot forward or "
                              "redirect to \"/b\"");
    QTest::newRow("exec empty") << QByteArray(R"({"routes": [{"uri": "ws:/a", "exec": []}]})")
                                << QStringLiteral("routes[0].exec: must name a program");
    QTest::newRow("exec not strings")
            << QByteArray(R"({"routes": [{"uri": "ws:/a", "exec": ["cat", 1]}]})")
            << QStringLiteral("routes[0].exec[1]: must be a non-empty string");
    QTest::newRow("exec string") << QByteArray(R"({"routes": [{"uri": "ws:/a", "exec": "cat"}]})")
                                 << QStringLiteral("routes[0].exec: must be an array of strings");
    QTest::newRow("maxProcesses zero")
            << QByteArray(R"({"routes": [{"uri": "ws:/a", "exec": ["cat"], "maxProcesses": 0}]})")
            << QStringLiteral("routes[0].maxProcesses: must be an integer from 1 to 100000");
    QTest::newRow("maxProcesses without exec")
            << QByteArray(R"({"routes": [{"uri": "ws:/a", "handler": "echo", "maxProcesses": 2}]})")
            << QStringLiteral("routes[0].maxProcesses: only for exec routes");
    QTest::newRow("subprotocols on http")
            << QByteArray(R"({"routes": [{"uri": "/a", "forward": "/b", "subprotocols": ["v1"]}]})")
            << QStringLiteral("routes[0].subprotocols: only for ws: routes");
    QTest::newRow("forward to URL")
            << QByteArray(R"({"routes": [{"uri": "/a", "forward": "https://example.com/"}]})")
            << QStringLiteral("routes[0].forward: \"https://example.com/\" is a URL: use "
                              "\"redirect\"");
    QTest::newRow("redirect to path")
            << QByteArray(R"({"routes": [{"uri": "/a", "redirect": "/b"}]})")
            << QStringLiteral("routes[0].redirect: \"/b\" has no scheme: a redirect needs an "
                              "absolute URL such as \"https://example.com/\" (use \"forward\" "
                              "for a path on this server)");
    QTest::newRow("error status") << QByteArray(R"({"errors": {"200": "/x"}})")
                                  << QStringLiteral(
                                             "errors.200: not an HTTP error status (400 to 599)");
    QTest::newRow("error page type") << QByteArray(R"({"errors": {"404": 1}})")
                                     << QStringLiteral("errors.404: must be a string");
    QTest::newRow("error page path")
            << QByteArray(R"({"errors": {"404": "x.html"}})")
            << QStringLiteral("errors.404: must be a path starting with \"/\"");
    QTest::newRow("limit zero")
            << QByteArray(R"({"limits": {"maxBodyBytes": 0}})")
            << QStringLiteral("limits.maxBodyBytes: must be an integer from 1 to 1099511627776");
    QTest::newRow("count limit zero")
            << QByteArray(R"({"limits": {"maxConnections": 0}})")
            << QStringLiteral("limits.maxConnections: must be an integer from 1 to 2147483647");
    QTest::newRow("timeout negative")
            << QByteArray(R"({"limits": {"headTimeoutMs": -5}})")
            << QStringLiteral("limits.headTimeoutMs: must be an integer from 0 to 2147483647");
    QTest::newRow("timeout not a number")
            << QByteArray(R"({"limits": {"sendTimeoutMs": "60s"}})")
            << QStringLiteral("limits.sendTimeoutMs: must be an integer from 0 to 2147483647");
    QTest::newRow("limit negative monitor")
            << QByteArray(R"({"limits": {"monitorPayloadBytes": -1}})")
            << QStringLiteral(
                       "limits.monitorPayloadBytes: must be an integer from 0 to 2147483647");
}

void tst_Config::errors()
{
    QFETCH(QByteArray, json);
    QFETCH(QString, message);
    const QString path = write(QStringLiteral("site.json"), json);
    message.replace(QStringLiteral("%DIR%"), QDir(m_dir->path()).absolutePath());
    Config config;
    QVERIFY(!config.load(path));
    QCOMPARE(config.errorString(), path + QStringLiteral(": ") + message);
}

void tst_Config::syntaxErrorNamesLineAndColumn()
{
    // The comma is missing before the second key's opening quote (line 3,
    // column 5); QJsonDocument reports the offset just after that quote.
    const QByteArray json = "{\n    \"root\": \"www\"\n    \"routes\": []\n}\n";
    const QString path = write(QStringLiteral("broken.json"), json);
    QJsonParseError expected;
    QJsonDocument::fromJson(json, &expected);
    QVERIFY(expected.error != QJsonParseError::NoError);

    Config config;
    QVERIFY(!config.load(path));
    QCOMPARE(config.errorString(), path + QStringLiteral(":3:6: ") + expected.errorString());
}

void tst_Config::missingFile()
{
    Config config;
    const QString path = m_dir->filePath(QStringLiteral("absent.json"));
    QVERIFY(!config.load(path));
    QVERIFY2(config.errorString().startsWith(path + QStringLiteral(": cannot read: ")),
             qPrintable(config.errorString()));
}

namespace {

// A throwaway EC certificate and key in dir/tls (cert.pem, key.pem) and
// another key (other.pem), made with openssl.
bool makeTlsFiles(const QString &dir)
{
    if (!QDir(dir).mkpath(QStringLiteral("tls")))
        return false;
    const QString tls = dir + QStringLiteral("/tls/");
    const QList<QStringList> commands {
            {QStringLiteral("req"), QStringLiteral("-x509"), QStringLiteral("-newkey"),
             QStringLiteral("ec"), QStringLiteral("-pkeyopt"),
             QStringLiteral("ec_paramgen_curve:P-256"), QStringLiteral("-nodes"),
             QStringLiteral("-subj"), QStringLiteral("/CN=localhost"), QStringLiteral("-days"),
             QStringLiteral("1"), QStringLiteral("-keyout"), tls + QStringLiteral("key.pem"),
             QStringLiteral("-out"), tls + QStringLiteral("cert.pem")},
            {QStringLiteral("genpkey"), QStringLiteral("-algorithm"), QStringLiteral("EC"),
             QStringLiteral("-pkeyopt"), QStringLiteral("ec_paramgen_curve:P-256"),
             QStringLiteral("-out"), tls + QStringLiteral("other.pem")},
    };
    for (const QStringList &arguments : commands) {
        QProcess openssl;
        openssl.start(QStringLiteral("openssl"), arguments);
        if (!openssl.waitForFinished(30000) || openssl.exitStatus() != QProcess::NormalExit
            || openssl.exitCode() != 0) {
            qWarning("openssl failed: %s", openssl.readAllStandardError().constData());
            return false;
        }
    }
    return true;
}

} // namespace

void tst_Config::tlsListen()
{
    if (QStandardPaths::findExecutable(QStringLiteral("openssl")).isEmpty())
        QSKIP("openssl is not installed");
    QVERIFY(makeTlsFiles(m_dir->path()));
    // Relative to the config file's folder, not to the working directory.
    const QString path = write(QStringLiteral("tls.json"), R"J({
        "listen": [
            {"address": "127.0.0.1", "port": 8080},
            {"address": "127.0.0.1", "port": 8443,
             "tls": {"certificate": "tls/cert.pem", "key": "./tls/../tls/key.pem"}}
        ]
    })J");
    Config config;
    QVERIFY2(config.load(path), qPrintable(config.errorString()));
    const QList<Config::Listen> listen = config.listen();
    QCOMPARE(listen.size(), 2);
    QVERIFY(!listen.at(0).isSecure());
    QVERIFY(listen.at(0).tls.sslConfiguration().isNull());
    QVERIFY(listen.at(1).isSecure());
    QCOMPARE(listen.at(1).port, quint16(8443));
    const QString dir = QDir(m_dir->path()).absolutePath();
    QCOMPARE(listen.at(1).tls.certificateFile(), dir + QStringLiteral("/tls/cert.pem"));
    QCOMPARE(listen.at(1).tls.keyFile(), dir + QStringLiteral("/tls/key.pem"));
    const QSslConfiguration ssl = listen.at(1).tls.sslConfiguration();
    QCOMPARE(ssl.localCertificate().subjectInfo(QSslCertificate::CommonName),
             QStringList {QStringLiteral("localhost")});
    QCOMPARE(ssl.privateKey().algorithm(), QSsl::Ec);
    QVERIFY2(config.describe().contains(
                     QStringLiteral("listen: 127.0.0.1:8080\nlisten: 127.0.0.1:8443 tls "
                                    "certificate %1/tls/cert.pem key %1/tls/key.pem\n")
                             .arg(dir)),
             qPrintable(config.describe()));
}

void tst_Config::tlsErrors_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<QString>("message");
    const auto tls = [](const char *certificate, const char *key) {
        return QByteArray(R"({"listen": [{"tls": {"certificate": ")") + certificate
               + R"(", "key": ")" + key + R"("}}]})";
    };

    QTest::newRow("tls not an object")
            << QByteArray(R"({"listen": [{"tls": "tls/cert.pem"}]})")
            << QStringLiteral("listen[0].tls: must be an object with \"certificate\" and \"key\"");
    QTest::newRow("tls unknown key")
            << QByteArray(R"({"listen": [{"tls": {"cert": "tls/cert.pem", "key": "k.pem"}}]})")
            << QStringLiteral("listen[0].tls.cert: unknown key");
    QTest::newRow("tls without certificate")
            << QByteArray(R"({"listen": [{"tls": {"key": "tls/key.pem"}}]})")
            << QStringLiteral("listen[0].tls.certificate: missing (a PEM file)");
    QTest::newRow("tls without key")
            << QByteArray(R"({"listen": [{"port": 1}, {"tls": {"certificate": "c.pem"}}]})")
            << QStringLiteral("listen[1].tls.key: missing (a PEM file)");
    QTest::newRow("tls certificate not a string")
            << QByteArray(R"({"listen": [{"tls": {"certificate": 1, "key": "tls/key.pem"}}]})")
            << QStringLiteral("listen[0].tls.certificate: must be a string");
    QTest::newRow("tls key empty")
            << tls("tls/cert.pem", "") << QStringLiteral("listen[0].tls.key: must name a PEM file");
    QTest::newRow("tls certificate missing")
            << tls("nope.pem", "tls/key.pem")
            << QStringLiteral("listen[0].tls.certificate: %DIR%/nope.pem: cannot read: No such "
                              "file or directory");
    QTest::newRow("tls certificate is the key")
            << tls("tls/key.pem", "tls/key.pem")
            << QStringLiteral("listen[0].tls.certificate: %DIR%/tls/key.pem: no PEM certificate in "
                              "it (\"-----BEGIN CERTIFICATE-----\")");
    QTest::newRow("tls key is a folder")
            << tls("tls/cert.pem", "www")
            << QStringLiteral("listen[0].tls.key: %DIR%/www: is a directory, not a PEM file");
    QTest::newRow("tls key is the certificate")
            << tls("tls/cert.pem", "tls/cert.pem")
            << QStringLiteral("listen[0].tls.key: %DIR%/tls/cert.pem: no PEM private key in it "
                              "(RSA, EC or DSA: \"-----BEGIN PRIVATE KEY-----\")");
    QTest::newRow("tls key of another certificate")
            << tls("tls/cert.pem", "tls/other.pem")
            << QStringLiteral(
                       "listen[0].tls.key: %DIR%/tls/other.pem: the private key (EC) does not "
                       "belong to the certificate in %DIR%/tls/cert.pem (EC, localhost)");
}

void tst_Config::tlsErrors()
{
    if (QStandardPaths::findExecutable(QStringLiteral("openssl")).isEmpty())
        QSKIP("openssl is not installed");
    QVERIFY(makeTlsFiles(m_dir->path()));
    QFETCH(QByteArray, json);
    QFETCH(QString, message);
    const QString path = write(QStringLiteral("site.json"), json);
    message.replace(QStringLiteral("%DIR%"), QDir(m_dir->path()).absolutePath());
    Config config;
    QVERIFY(!config.load(path));
    QCOMPARE(config.errorString(), path + QStringLiteral(": ") + message);
}

QTEST_GUILESS_MAIN(tst_Config)
#include "tst_config.moc"
