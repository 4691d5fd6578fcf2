#include "testclient.h"

#include <sluice/filters.h>
#include <sluice/httpconnect.h>
#include <sluice/passwordfile.h>
#include <sluice/server.h>
#include <sluice/websocket.h>

#include <QtCore/QFile>
#include <QtCore/QFileInfo>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QProcess>
#include <QtCore/QTemporaryDir>
#include <QtTest/QtTest>

#include <memory>

namespace {

constexpr int kProcessTimeout = 30000;
const QString kPython = QStringLiteral("/usr/bin/python3");

const QByteArray kAppOrigin = "https://app.example.com";
const QByteArray kDevOrigin = "http://localhost:3000";
const QByteArray kEvilOrigin = "https://evil.example";
const QString kRealm = QStringLiteral("Sluice \"test\" realm\\x");

struct ProcessResult
{
    bool finished = false;
    int exitCode = -1;
    QByteArray out;
    QByteArray err;
    QString describe() const
    {
        return QStringLiteral("finished=%1 exit=%2\n--- stdout:\n%3\n--- stderr:\n%4")
                .arg(finished)
                .arg(exitCode)
                .arg(QString::fromUtf8(out.left(3000)), QString::fromUtf8(err.left(3000)));
    }
};

// The server lives in this thread: the wait spins the event loop rather than
// blocking in waitForFinished(), and is bounded.
ProcessResult runProcess(const QString &program, const QStringList &arguments)
{
    QProcess process;
    process.start(program, arguments);
    ProcessResult result;
    result.finished = QTest::qWaitFor([&] { return process.state() == QProcess::NotRunning; },
                                      kProcessTimeout);
    if (!result.finished) {
        process.kill();
        process.waitForFinished(5000);
    }
    result.exitCode = process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1;
    result.out = process.readAllStandardOutput();
    result.err = process.readAllStandardError();
    if (process.error() == QProcess::FailedToStart)
        result.err += process.errorString().toUtf8();
    return result;
}

struct CurlResponse
{
    int status = 0;
    QList<QPair<QByteArray, QByteArray>> headers;
    QByteArray body;
    QString raw;

    QByteArray header(QByteArrayView name) const
    {
        for (const auto &header : headers) {
            if (header.first.compare(name, Qt::CaseInsensitive) == 0)
                return header.second;
        }
        return {};
    }
    bool hasHeader(QByteArrayView name) const
    {
        for (const auto &header : headers) {
            if (header.first.compare(name, Qt::CaseInsensitive) == 0)
                return true;
        }
        return false;
    }
    bool headerHasToken(QByteArrayView name, QByteArrayView token) const
    {
        for (const auto &header : headers) {
            if (header.first.compare(name, Qt::CaseInsensitive) != 0)
                continue;
            for (const QByteArray &item : header.second.split(',')) {
                if (item.trimmed().compare(token, Qt::CaseInsensitive) == 0)
                    return true;
            }
        }
        return false;
    }
    bool hasCorsHeaders() const
    {
        for (const auto &header : headers) {
            if (header.first.toLower().startsWith("access-control-"))
                return true;
        }
        return false;
    }
};

// A WebSocket handshake as Debian's python3-websockets does it: the client
// opens, sends one message and prints the echo, or prints the status of the
// HTTP answer that refused the upgrade.
const char *const kWebSocketClient = R"(
import asyncio, json, sys
import websockets, websockets.exceptions

async def main(url, origin, message):
    options = dict(open_timeout=10, close_timeout=5, ping_interval=None)
    if origin != '-':
        options['origin'] = origin
    try:
        async with websockets.connect(url, **options) as ws:
            await ws.send(message)
            reply = await asyncio.wait_for(ws.recv(), 10)
            return {'opened': True, 'reply': reply}
    except websockets.exceptions.InvalidStatusCode as e:
        return {'opened': False, 'status': e.status_code,
                'authenticate': e.headers.get('WWW-Authenticate', '')}

print(json.dumps(asyncio.run(main(*sys.argv[1:4]))))
)";

} // namespace

class tst_Filters : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();

    void basicAuthAcceptsValidCredentials_data();
    void basicAuthAcceptsValidCredentials();
    void basicAuthRefuses_data();
    void basicAuthRefuses();
    void basicAuthGuardsWebSocketUpgrades();

    void corsPreflightAllowed_data();
    void corsPreflightAllowed();
    void corsPreflightRefused_data();
    void corsPreflightRefused();
    void corsSimpleRequest_data();
    void corsSimpleRequest();
    void corsWithoutOriginIsUntouched();
    void corsOptionsWithoutRequestMethodReachesTheHandler();
    void corsHeadersOnHandlerErrors();

    void allowOriginsWithPythonWebSockets_data();
    void allowOriginsWithPythonWebSockets();
    void allowOriginsRefusalIsAnHttpAnswer();
    void allowOriginsSelfComparesHostAndPort_data();
    void allowOriginsSelfComparesHostAndPort();
    void allowOriginsLetsPlainHttpThrough();

private:
    QString url(const QString &path) const
    {
        return QStringLiteral("http://127.0.0.1:%1%2").arg(m_port).arg(path);
    }
    CurlResponse curl(const QStringList &arguments, const QString &path);
    QJsonObject webSocket(const QString &path, const QByteArray &origin,
                          const QString &userInfo = QString());
    testclient::Response upgrade(const QByteArray &path, const QByteArray &host,
                                 const QByteArray &origin);

    QTemporaryDir m_dir;
    std::unique_ptr<sluice::Server> m_server;
    quint16 m_port = 0;
};

void tst_Filters::initTestCase()
{
    QVERIFY(m_dir.isValid());

    // The password file, hashed by a tool we did not write.
    QByteArray users;
    const QList<QPair<QString, QString>> credentials {
            {QStringLiteral("alice"), QStringLiteral("wonder land")},
            {QStringLiteral("j\u00f6rg"), QStringLiteral("p\u00e4ss:w\u00f6rd")},
            // python3-websockets 10.4 sends URI user info without decoding %XX.
            {QStringLiteral("bob"), QStringLiteral("builder")}};
    for (const auto &[user, password] : credentials) {
        const ProcessResult hash
                = runProcess(QStringLiteral("openssl"),
                             {QStringLiteral("passwd"), QStringLiteral("-6"), password});
        QVERIFY2(hash.exitCode == 0, qPrintable(hash.describe()));
        users += user.toUtf8() + ':' + hash.out.trimmed() + '\n';
    }
    const QString passwordFile = m_dir.filePath(QStringLiteral("users.htpasswd"));
    QFile file(passwordFile);
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write(users);
    file.close();
    sluice::PasswordFile passwords;
    QVERIFY2(passwords.load(passwordFile), qPrintable(passwords.errorString()));

    m_server = std::make_unique<sluice::Server>();
    const auto echo = [](sluice::WebSocket *socket) {
        QObject::connect(socket, &sluice::WebSocket::textReceived, socket,
                         [socket](const QString &message) {
                             socket->sendText(QStringLiteral("echo:") + message);
                         });
    };

    // Basic auth, over HTTP and in front of a WebSocket.
    QVERIFY(m_server->filter(QStringLiteral("/private/.*"),
                             sluice::filters::basicAuth(passwords, kRealm)));
    QVERIFY(m_server->map(QStringLiteral("get:/private/whoami"),
                          sluice::HttpHandler([](sluice::HttpConnect &connect) {
                              connect.response().setContentType("text/plain; charset=utf-8");
                              connect.response().write(
                                      QStringLiteral("hello ")
                                      + connect.dataset().value(QStringLiteral("user")).toString());
                          })));
    // The user the filter found travels with the upgrade into the socket's dataset.
    QVERIFY(m_server->map(
            QStringLiteral("ws:/private/ws"),
            sluice::WebSocketHandler([](sluice::WebSocket *socket) {
                QObject::connect(
                        socket, &sluice::WebSocket::textReceived, socket,
                        [socket](const QString &message) {
                            socket->sendText(
                                    socket->dataset().value(QStringLiteral("user")).toString()
                                    + u':' + message);
                        });
            })));

    // CORS, one policy per prefix.
    const auto corsHandler = sluice::HttpHandler([](sluice::HttpConnect &connect) {
        if (connect.request().path().endsWith(u"/missing")) {
            connect.error(404);
            return;
        }
        connect.response().setHeader("X-Request-Id", "42");
        connect.response().setContentType("text/plain");
        connect.response().write("data for " + connect.request().method());
    });
    sluice::CorsPolicy policy;
    policy.origins = {QString::fromLatin1(kAppOrigin), QStringLiteral("HTTP://LocalHost:3000/")};
    policy.methods = {"GET", "POST", "PUT"};
    policy.headers = {"X-Token", "Content-Type"};
    policy.exposedHeaders = {"X-Request-Id", "X-Other"};
    policy.maxAgeSeconds = 120;
    QVERIFY(m_server->filter(QStringLiteral("/cors/.*"), sluice::filters::cors(policy)));
    sluice::CorsPolicy withCredentials;
    withCredentials.origins = {QString::fromLatin1(kAppOrigin)};
    withCredentials.credentials = true;
    QVERIFY(m_server->filter(QStringLiteral("/corscred/.*"),
                             sluice::filters::cors(withCredentials)));
    sluice::CorsPolicy any;
    any.origins = {QStringLiteral("*")};
    QVERIFY(m_server->filter(QStringLiteral("/corsany/.*"), sluice::filters::cors(any)));
    sluice::CorsPolicy anyWithCredentials = any;
    anyWithCredentials.credentials = true;
    QVERIFY(m_server->filter(QStringLiteral("/corsanycred/.*"),
                             sluice::filters::cors(anyWithCredentials)));
    QVERIFY(m_server->map(QStringLiteral("/cors(cred|any|anycred)?/.*"), corsHandler));

    // WebSocket origins: a list, and "self".
    QVERIFY(m_server->filter(QStringLiteral("/ws/.*"),
                             sluice::filters::allowOrigins({QString::fromLatin1(kAppOrigin),
                                                            QString::fromLatin1(kDevOrigin)})));
    QVERIFY(m_server->map(QStringLiteral("ws:/ws/echo"), sluice::WebSocketHandler(echo)));
    QVERIFY(m_server->map(QStringLiteral("get:/ws/echo"),
                          sluice::HttpHandler([](sluice::HttpConnect &connect) {
                              connect.response().write("plain http");
                          })));
    QVERIFY(m_server->filter(QStringLiteral("/self/.*"),
                             sluice::filters::allowOrigins({QStringLiteral("self")})));
    QVERIFY(m_server->map(QStringLiteral("ws:/self/echo"), sluice::WebSocketHandler(echo)));

    QVERIFY2(m_server->listen(QHostAddress::LocalHost, 0), qPrintable(m_server->errorString()));
    m_port = m_server->serverPort();
    QVERIFY(m_port != 0);
}

void tst_Filters::cleanupTestCase()
{
    if (m_server)
        m_server->close();
}

CurlResponse tst_Filters::curl(const QStringList &arguments, const QString &path)
{
    CurlResponse response;
    const ProcessResult result = runProcess(
            QStringLiteral("curl"), QStringList {QStringLiteral("-sS"), QStringLiteral("-i"),
                                                 QStringLiteral("--max-time"), QStringLiteral("20")}
                                            + arguments + QStringList {url(path)});
    response.raw = result.describe();
    if (result.exitCode != 0) {
        response.status = -1;
        return response;
    }
    const qsizetype headEnd = result.out.indexOf("\r\n\r\n");
    if (headEnd < 0) {
        response.status = -2;
        return response;
    }
    const QList<QByteArray> lines = result.out.left(headEnd).split('\n');
    const QList<QByteArray> statusLine = lines.first().trimmed().split(' ');
    response.status = statusLine.value(1).toInt();
    for (qsizetype i = 1; i < lines.size(); ++i) {
        const QByteArray line = lines.at(i).trimmed();
        const qsizetype colon = line.indexOf(':');
        if (colon > 0)
            response.headers.append({line.left(colon), line.mid(colon + 1).trimmed()});
    }
    response.body = result.out.mid(headEnd + 4);
    return response;
}

QJsonObject tst_Filters::webSocket(const QString &path, const QByteArray &origin,
                                   const QString &userInfo)
{
    const QString target = QStringLiteral("ws://")
                           + (userInfo.isEmpty() ? QString() : userInfo + u'@')
                           + QStringLiteral("127.0.0.1:%1%2").arg(m_port).arg(path);
    const ProcessResult result = runProcess(
            kPython, {QStringLiteral("-c"), QString::fromLatin1(kWebSocketClient), target,
                      origin.isNull() ? QStringLiteral("-") : QString::fromLatin1(origin),
                      QStringLiteral("ping")});
    const QJsonObject answer = QJsonDocument::fromJson(result.out).object();
    if (result.exitCode != 0 || answer.isEmpty()) {
        qWarning("%s", qPrintable(result.describe()));
        return {};
    }
    return answer;
}

testclient::Response tst_Filters::upgrade(const QByteArray &path, const QByteArray &host,
                                          const QByteArray &origin)
{
    testclient::Client client;
    testclient::Response response;
    if (!client.connectTo(m_port)) {
        response.status = -1;
        return response;
    }
    client.send("GET " + path + " HTTP/1.1\r\nHost: " + host
                + "\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                + (origin.isNull() ? QByteArray() : "Origin: " + origin + "\r\n") + "\r\n");
    // A 101 has no body: the head alone answers the question.
    const bool headArrived = QTest::qWaitFor(
            [&] { return client.pending().contains("\r\n\r\n") || client.isClosed(); }, 10000);
    if (headArrived && client.pending().startsWith("HTTP/1.1 101 ")) {
        response.status = 101;
        response.raw = client.pending();
        return response;
    }
    if (!client.read(&response)) {
        response.status = -3;
        response.raw = client.transcript();
    }
    return response;
}

// --- basic auth -----------------------------------------------------------

void tst_Filters::basicAuthAcceptsValidCredentials_data()
{
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<QString>("user");

    QTest::newRow("curl -u") << QStringList {QStringLiteral("-u"),
                                             QStringLiteral("alice:wonder land")}
                             << QStringLiteral("alice");
    // UTF-8 user, and a password with a colon: only the first one separates.
    QTest::newRow("utf-8 and a colon in the password")
            << QStringList {QStringLiteral("-u"), QStringLiteral("j\u00f6rg:p\u00e4ss:w\u00f6rd")}
            << QStringLiteral("j\u00f6rg");
    QTest::newRow("scheme in other case")
            << QStringList {QStringLiteral("-H"),
                            QStringLiteral("Authorization: bAsIc ")
                                    + QString::fromLatin1(
                                            QByteArray("alice:wonder land").toBase64())}
            << QStringLiteral("alice");
}

void tst_Filters::basicAuthAcceptsValidCredentials()
{
    QFETCH(QStringList, arguments);
    QFETCH(QString, user);
    // Twice: the second answer comes from the verified-credentials cache.
    for (int i = 0; i < 2; ++i) {
        const CurlResponse r = curl(arguments, QStringLiteral("/private/whoami"));
        QVERIFY2(r.status == 200, qPrintable(r.raw));
        QCOMPARE(QString::fromUtf8(r.body), QStringLiteral("hello ") + user);
        QVERIFY(!r.hasHeader("WWW-Authenticate"));
    }
}

void tst_Filters::basicAuthRefuses_data()
{
    QTest::addColumn<QStringList>("arguments");

    const auto authorization = [](const QByteArray &value) {
        return QStringList {QStringLiteral("-H"),
                            QStringLiteral("Authorization: ") + QString::fromLatin1(value)};
    };
    QTest::newRow("no credentials") << QStringList();
    QTest::newRow("wrong password")
            << QStringList {QStringLiteral("-u"), QStringLiteral("alice:wonderland")};
    QTest::newRow("unknown user") << QStringList {QStringLiteral("-u"),
                                                  QStringLiteral("mallory:wonder land")};
    QTest::newRow("user name in other case")
            << QStringList {QStringLiteral("-u"), QStringLiteral("Alice:wonder land")};
    QTest::newRow("malformed base64") << authorization("Basic !!not*base64!!");
    QTest::newRow("no colon") << authorization("Basic " + QByteArray("alice").toBase64());
    QTest::newRow("empty user") << authorization("Basic " + QByteArray(":wonder land").toBase64());
    QTest::newRow("invalid utf-8")
            << authorization("Basic " + QByteArray("j\xf6rg:p\xe4ss:w\xf6rd").toBase64());
    QTest::newRow("other scheme") << authorization("Bearer "
                                                   + QByteArray("alice:wonder land").toBase64());
    QTest::newRow("scheme only") << authorization("Basic");
}

void tst_Filters::basicAuthRefuses()
{
    QFETCH(QStringList, arguments);
    const CurlResponse r = curl(arguments, QStringLiteral("/private/whoami"));
    QVERIFY2(r.status == 401, qPrintable(r.raw));
    QCOMPARE(r.header("WWW-Authenticate"),
             QByteArray("Basic realm=\"Sluice \\\"test\\\" realm\\\\x\", charset=\"UTF-8\""));
    QCOMPARE(r.body, QByteArray("401 Unauthorized\n"));
}

void tst_Filters::basicAuthGuardsWebSocketUpgrades()
{
    QJsonObject answer = webSocket(QStringLiteral("/private/ws"), QByteArray());
    QVERIFY(!answer.isEmpty());
    QCOMPARE(answer.value(QStringLiteral("opened")).toBool(true), false);
    QCOMPARE(answer.value(QStringLiteral("status")).toInt(), 401);
    QVERIFY(answer.value(QStringLiteral("authenticate")).toString().startsWith(u"Basic realm="));

    answer = webSocket(QStringLiteral("/private/ws"), QByteArray(), QStringLiteral("bob:wrong"));
    QCOMPARE(answer.value(QStringLiteral("status")).toInt(), 401);

    answer = webSocket(QStringLiteral("/private/ws"), QByteArray(), QStringLiteral("bob:builder"));
    QVERIFY2(answer.value(QStringLiteral("opened")).toBool(),
             QJsonDocument(answer).toJson().constData());
    QCOMPARE(answer.value(QStringLiteral("reply")).toString(), QStringLiteral("bob:ping"));
}

// --- CORS -------------------------------------------------------------------

void tst_Filters::corsPreflightAllowed_data()
{
    QTest::addColumn<QString>("path");
    QTest::addColumn<QByteArray>("origin");
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QByteArray>("requestHeaders");
    QTest::addColumn<QByteArray>("allowOrigin");
    QTest::addColumn<QByteArray>("allowMethods");
    QTest::addColumn<bool>("allowCredentials");

    QTest::newRow("listed origin, PUT, asked headers")
            << QStringLiteral("/cors/data") << kAppOrigin << QByteArray("PUT")
            << QByteArray("x-token, content-type, accept") << kAppOrigin
            << QByteArray("GET, POST, PUT") << false;
    // Listed as "HTTP://LocalHost:3000/": origins compare in their normal form.
    QTest::newRow("normalised origin")
            << QStringLiteral("/cors/data") << kDevOrigin << QByteArray("POST") << QByteArray()
            << kDevOrigin << QByteArray("GET, POST, PUT") << false;
    QTest::newRow("default port spelt out")
            << QStringLiteral("/cors/data") << QByteArray("https://APP.example.com:443")
            << QByteArray("GET") << QByteArray("X-TOKEN")
            << QByteArray("https://APP.example.com:443") << QByteArray("GET, POST, PUT") << false;
    QTest::newRow("credentials") << QStringLiteral("/corscred/x") << kAppOrigin
                                 << QByteArray("POST") << QByteArray() << kAppOrigin
                                 << QByteArray("GET, HEAD, POST") << true;
    QTest::newRow("any origin") << QStringLiteral("/corsany/x") << kEvilOrigin << QByteArray("GET")
                                << QByteArray() << QByteArray("*") << QByteArray("GET, HEAD, POST")
                                << false;
    QTest::newRow("any origin with credentials names it")
            << QStringLiteral("/corsanycred/x") << kEvilOrigin << QByteArray("GET") << QByteArray()
            << kEvilOrigin << QByteArray("GET, HEAD, POST") << true;
}

// curl's arguments for a CORS preflight.
static QStringList preflightArguments(const QByteArray &origin, const QByteArray &method,
                                      const QByteArray &requestHeaders)
{
    QStringList arguments {QStringLiteral("-X"),
                           QStringLiteral("OPTIONS"),
                           QStringLiteral("-H"),
                           QStringLiteral("Origin: ") + QString::fromLatin1(origin),
                           QStringLiteral("-H"),
                           QStringLiteral("Access-Control-Request-Method: ")
                                   + QString::fromLatin1(method)};
    if (!requestHeaders.isEmpty()) {
        arguments << QStringLiteral("-H")
                  << QStringLiteral("Access-Control-Request-Headers: ")
                             + QString::fromLatin1(requestHeaders);
    }
    return arguments;
}

void tst_Filters::corsPreflightAllowed()
{
    QFETCH(QString, path);
    QFETCH(QByteArray, origin);
    QFETCH(QByteArray, method);
    QFETCH(QByteArray, requestHeaders);
    QFETCH(QByteArray, allowOrigin);
    QFETCH(QByteArray, allowMethods);
    QFETCH(bool, allowCredentials);

    const CurlResponse r = curl(preflightArguments(origin, method, requestHeaders), path);
    QVERIFY2(r.status == 204, qPrintable(r.raw));
    QCOMPARE(r.header("Access-Control-Allow-Origin"), allowOrigin);
    QCOMPARE(r.header("Access-Control-Allow-Methods"), allowMethods);
    QCOMPARE(r.header("Access-Control-Allow-Headers"), requestHeaders);
    QCOMPARE(r.hasHeader("Access-Control-Allow-Headers"), !requestHeaders.isEmpty());
    QCOMPARE(r.header("Access-Control-Max-Age"),
             path.startsWith(u"/cors/") ? QByteArray("120") : QByteArray("600"));
    QCOMPARE(r.header("Access-Control-Allow-Credentials"),
             allowCredentials ? QByteArray("true") : QByteArray());
    QVERIFY2(r.headerHasToken("Vary", "Origin"), qPrintable(r.raw));
    // The filter answered: the handler would have written a body.
    QCOMPARE(r.body, QByteArray());
    QVERIFY(!r.hasHeader("X-Request-Id"));
}

void tst_Filters::corsPreflightRefused_data()
{
    QTest::addColumn<QString>("path");
    QTest::addColumn<QByteArray>("origin");
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QByteArray>("requestHeaders");
    QTest::addColumn<QByteArray>("body");

    QTest::newRow("origin") << QStringLiteral("/cors/data") << kEvilOrigin << QByteArray("GET")
                            << QByteArray()
                            << "403 Forbidden\norigin " + kEvilOrigin + " is not allowed\n";
    QTest::newRow("other scheme") << QStringLiteral("/cors/data")
                                  << QByteArray("http://app.example.com") << QByteArray("GET")
                                  << QByteArray()
                                  << QByteArray("403 Forbidden\norigin http://app.example.com is "
                                                "not allowed\n");
    QTest::newRow("other port") << QStringLiteral("/cors/data")
                                << QByteArray("https://app.example.com:8443") << QByteArray("GET")
                                << QByteArray()
                                << QByteArray("403 Forbidden\norigin https://app.example.com:8443 "
                                              "is not allowed\n");
    QTest::newRow("null origin") << QStringLiteral("/cors/data") << QByteArray("null")
                                 << QByteArray("GET") << QByteArray()
                                 << QByteArray("403 Forbidden\norigin null is not allowed\n");
    QTest::newRow("method") << QStringLiteral("/cors/data") << kAppOrigin << QByteArray("DELETE")
                            << QByteArray()
                            << QByteArray("403 Forbidden\nmethod DELETE is not allowed\n");
    // Methods are case-sensitive.
    QTest::newRow("method case") << QStringLiteral("/cors/data") << kAppOrigin << QByteArray("put")
                                 << QByteArray()
                                 << QByteArray("403 Forbidden\nmethod put is not allowed\n");
    QTest::newRow("header") << QStringLiteral("/cors/data") << kAppOrigin << QByteArray("POST")
                            << QByteArray("x-token, x-secret")
                            << QByteArray("403 Forbidden\nheader x-secret is not allowed\n");
    QTest::newRow("header on a policy without headers")
            << QStringLiteral("/corscred/x") << kAppOrigin << QByteArray("POST")
            << QByteArray("content-type")
            << QByteArray("403 Forbidden\nheader content-type is not allowed\n");
}

void tst_Filters::corsPreflightRefused()
{
    QFETCH(QString, path);
    QFETCH(QByteArray, origin);
    QFETCH(QByteArray, method);
    QFETCH(QByteArray, requestHeaders);
    QFETCH(QByteArray, body);

    const CurlResponse r = curl(preflightArguments(origin, method, requestHeaders), path);
    QVERIFY2(r.status == 403, qPrintable(r.raw));
    QCOMPARE(r.body, body);
    QVERIFY2(!r.hasCorsHeaders(), qPrintable(r.raw));
}

void tst_Filters::corsSimpleRequest_data()
{
    QTest::addColumn<QString>("path");
    QTest::addColumn<QByteArray>("origin");
    QTest::addColumn<QByteArray>("allowOrigin"); // empty: none expected
    QTest::addColumn<bool>("allowCredentials");
    QTest::addColumn<QByteArray>("exposed");

    QTest::newRow("listed origin") << QStringLiteral("/cors/data") << kAppOrigin << kAppOrigin
                                   << false << QByteArray("X-Request-Id, X-Other");
    QTest::newRow("second listed origin")
            << QStringLiteral("/cors/data") << kDevOrigin << kDevOrigin << false
            << QByteArray("X-Request-Id, X-Other");
    QTest::newRow("disallowed origin")
            << QStringLiteral("/cors/data") << kEvilOrigin << QByteArray() << false << QByteArray();
    QTest::newRow("credentials") << QStringLiteral("/corscred/x") << kAppOrigin << kAppOrigin
                                 << true << QByteArray();
    QTest::newRow("credentials, disallowed origin")
            << QStringLiteral("/corscred/x") << kDevOrigin << QByteArray() << false << QByteArray();
    QTest::newRow("any origin") << QStringLiteral("/corsany/x") << kEvilOrigin << QByteArray("*")
                                << false << QByteArray();
    QTest::newRow("any origin with credentials") << QStringLiteral("/corsanycred/x") << kEvilOrigin
                                                 << kEvilOrigin << true << QByteArray();
}

void tst_Filters::corsSimpleRequest()
{
    QFETCH(QString, path);
    QFETCH(QByteArray, origin);
    QFETCH(QByteArray, allowOrigin);
    QFETCH(bool, allowCredentials);
    QFETCH(QByteArray, exposed);

    for (const QString &method : {QStringLiteral("GET"), QStringLiteral("POST")}) {
        const CurlResponse r = curl({QStringLiteral("-X"), method, QStringLiteral("-H"),
                                     QStringLiteral("Origin: ") + QString::fromLatin1(origin)},
                                    path);
        QVERIFY2(r.status == 200, qPrintable(r.raw));
        // The handler ran and its own headers and body are intact.
        QCOMPARE(r.body, "data for " + method.toLatin1());
        QCOMPARE(r.header("X-Request-Id"), QByteArray("42"));
        QCOMPARE(r.header("Content-Type"), QByteArray("text/plain"));
        if (allowOrigin.isEmpty()) {
            QVERIFY2(!r.hasCorsHeaders(), qPrintable(r.raw));
            continue;
        }
        QCOMPARE(r.header("Access-Control-Allow-Origin"), allowOrigin);
        QVERIFY2(r.headerHasToken("Vary", "Origin"), qPrintable(r.raw));
        QCOMPARE(r.header("Access-Control-Allow-Credentials"),
                 allowCredentials ? QByteArray("true") : QByteArray());
        QCOMPARE(r.header("Access-Control-Expose-Headers"), exposed);
        QVERIFY(!r.hasHeader("Access-Control-Allow-Methods"));
    }
}

void tst_Filters::corsWithoutOriginIsUntouched()
{
    for (const QString &path : {QStringLiteral("/cors/data"), QStringLiteral("/corsany/x")}) {
        const CurlResponse r = curl({}, path);
        QVERIFY2(r.status == 200, qPrintable(r.raw));
        QCOMPARE(r.body, QByteArray("data for GET"));
        QVERIFY2(!r.hasCorsHeaders(), qPrintable(r.raw));
        QVERIFY(!r.hasHeader("Vary"));
    }
    // An OPTIONS that looks like a preflight but has no Origin is not one.
    const CurlResponse r
            = curl({QStringLiteral("-X"), QStringLiteral("OPTIONS"), QStringLiteral("-H"),
                    QStringLiteral("Access-Control-Request-Method: PUT")},
                   QStringLiteral("/cors/data"));
    QVERIFY2(r.status == 200, qPrintable(r.raw));
    QCOMPARE(r.body, QByteArray("data for OPTIONS"));
    QVERIFY(!r.hasCorsHeaders());
}

void tst_Filters::corsOptionsWithoutRequestMethodReachesTheHandler()
{
    const CurlResponse r
            = curl({QStringLiteral("-X"), QStringLiteral("OPTIONS"), QStringLiteral("-H"),
                    QStringLiteral("Origin: ") + QString::fromLatin1(kAppOrigin)},
                   QStringLiteral("/cors/data"));
    QVERIFY2(r.status == 200, qPrintable(r.raw));
    QCOMPARE(r.body, QByteArray("data for OPTIONS"));
    QCOMPARE(r.header("Access-Control-Allow-Origin"), kAppOrigin);
    QVERIFY(!r.hasHeader("Access-Control-Allow-Methods"));
}

void tst_Filters::corsHeadersOnHandlerErrors()
{
    // A handler's connect.error() goes through the dispatcher, which resets
    // the response: the CORS headers the filter set are gone with it, so a
    // page cannot read the error. Pinned here so that a change is noticed.
    const CurlResponse r = curl(
            {QStringLiteral("-H"), QStringLiteral("Origin: ") + QString::fromLatin1(kAppOrigin)},
            QStringLiteral("/cors/missing"));
    QVERIFY2(r.status == 404, qPrintable(r.raw));
    QCOMPARE(r.body, QByteArray("404 Not Found\n"));
    QCOMPARE(r.header("Access-Control-Allow-Origin"), kAppOrigin);
}

// --- allowOrigins -------------------------------------------------------------

void tst_Filters::allowOriginsWithPythonWebSockets_data()
{
    QTest::addColumn<QString>("path");
    QTest::addColumn<QByteArray>("origin"); // null: none sent
    QTest::addColumn<bool>("opens");

    QTest::newRow("listed origin") << QStringLiteral("/ws/echo") << kAppOrigin << true;
    QTest::newRow("second listed origin") << QStringLiteral("/ws/echo") << kDevOrigin << true;
    QTest::newRow("normalised origin")
            << QStringLiteral("/ws/echo") << QByteArray("HTTPS://App.Example.COM:443") << true;
    QTest::newRow("no origin (not a browser)")
            << QStringLiteral("/ws/echo") << QByteArray() << true;
    QTest::newRow("other origin") << QStringLiteral("/ws/echo") << kEvilOrigin << false;
    QTest::newRow("other port") << QStringLiteral("/ws/echo") << QByteArray("http://localhost:3001")
                                << false;
    QTest::newRow("other scheme") << QStringLiteral("/ws/echo")
                                  << QByteArray("http://app.example.com") << false;
    QTest::newRow("null origin") << QStringLiteral("/ws/echo") << QByteArray("null") << false;
    // python3-websockets sends Host: 127.0.0.1:<port>; the origin is filled
    // in by the test function for the "self" rows.
    QTest::newRow("self: same host and port")
            << QStringLiteral("/self/echo") << QByteArray("http://127.0.0.1:%port") << true;
    QTest::newRow("self: https, same host and port")
            << QStringLiteral("/self/echo") << QByteArray("https://127.0.0.1:%port") << true;
    QTest::newRow("self: other port")
            << QStringLiteral("/self/echo") << QByteArray("http://127.0.0.1:1") << false;
    QTest::newRow("self: other host")
            << QStringLiteral("/self/echo") << QByteArray("http://localhost:%port") << false;
    QTest::newRow("self: no origin") << QStringLiteral("/self/echo") << QByteArray() << true;
}

void tst_Filters::allowOriginsWithPythonWebSockets()
{
    QFETCH(QString, path);
    QFETCH(QByteArray, origin);
    QFETCH(bool, opens);
    if (!QFileInfo(kPython).isExecutable())
        QSKIP("/usr/bin/python3 is not installed");
    origin.replace("%port", QByteArray::number(m_port));

    const QJsonObject answer = webSocket(path, origin);
    QVERIFY(!answer.isEmpty());
    const QByteArray json = QJsonDocument(answer).toJson(QJsonDocument::Compact);
    QVERIFY2(answer.value(QStringLiteral("opened")).toBool() == opens, json.constData());
    if (opens) {
        QCOMPARE(answer.value(QStringLiteral("reply")).toString(), QStringLiteral("echo:ping"));
    } else {
        QCOMPARE(answer.value(QStringLiteral("status")).toInt(), 403);
    }
}

void tst_Filters::allowOriginsRefusalIsAnHttpAnswer()
{
    const testclient::Response refused = upgrade("/ws/echo", "127.0.0.1", kEvilOrigin);
    QVERIFY2(refused.status == 403, qPrintable(refused.toString()));
    QCOMPARE(refused.body, "403 Forbidden\norigin " + kEvilOrigin + " is not allowed\n");
    QVERIFY(!refused.hasHeader("Sec-WebSocket-Accept"));
    QVERIFY(!refused.headerHasToken("Connection", "upgrade"));

    // The same request from a listed origin is upgraded.
    const testclient::Response accepted = upgrade("/ws/echo", "127.0.0.1", kAppOrigin);
    QVERIFY2(accepted.status == 101, accepted.raw.constData());
    QVERIFY(accepted.raw.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
}

void tst_Filters::allowOriginsSelfComparesHostAndPort_data()
{
    QTest::addColumn<QByteArray>("host");
    QTest::addColumn<QByteArray>("origin");
    QTest::addColumn<int>("status");

    // Host has no scheme: without a port it stands for the origin's default.
    QTest::newRow("https, default port")
            << QByteArray("example.com") << QByteArray("https://example.com") << 101;
    QTest::newRow("http, default port")
            << QByteArray("example.com") << QByteArray("http://example.com") << 101;
    QTest::newRow("port spelt out in Host")
            << QByteArray("example.com:443") << QByteArray("https://example.com") << 101;
    QTest::newRow("port spelt out in Origin")
            << QByteArray("example.com") << QByteArray("https://example.com:443") << 101;
    QTest::newRow("case") << QByteArray("Example.COM:8080") << QByteArray("HTTP://example.com:8080")
                          << 101;
    QTest::newRow("IPv6") << QByteArray("[::1]:8080") << QByteArray("http://[::1]:8080") << 101;
    QTest::newRow("other host") << QByteArray("example.com") << QByteArray("https://example.org")
                                << 403;
    QTest::newRow("subdomain") << QByteArray("example.com")
                               << QByteArray("https://evil.example.com") << 403;
    QTest::newRow("port differs") << QByteArray("example.com:8080")
                                  << QByteArray("http://example.com") << 403;
    QTest::newRow("Host has no port, origin has another")
            << QByteArray("example.com") << QByteArray("https://example.com:8443") << 403;
    QTest::newRow("origin with a path")
            << QByteArray("example.com") << QByteArray("https://example.com/page") << 403;
    QTest::newRow("Host with user info")
            << QByteArray("evil@example.com") << QByteArray("https://example.com") << 403;
}

void tst_Filters::allowOriginsSelfComparesHostAndPort()
{
    QFETCH(QByteArray, host);
    QFETCH(QByteArray, origin);
    QFETCH(int, status);
    const testclient::Response r = upgrade("/self/echo", host, origin);
    QVERIFY2(r.status == status, r.raw.constData());
}

void tst_Filters::allowOriginsLetsPlainHttpThrough()
{
    // Not an upgrade: the origin check is not for plain requests.
    const CurlResponse r = curl(
            {QStringLiteral("-H"), QStringLiteral("Origin: ") + QString::fromLatin1(kEvilOrigin)},
            QStringLiteral("/ws/echo"));
    QVERIFY2(r.status == 200, qPrintable(r.raw));
    QCOMPARE(r.body, QByteArray("plain http"));

    // And with the raw client, no curl in between.
    testclient::Client client;
    QVERIFY(client.connectTo(m_port));
    const testclient::Response raw = client.get("/ws/echo", "Origin: " + kEvilOrigin + "\r\n");
    QVERIFY2(raw.status == 200, TRANSCRIPT(client));
    QCOMPARE(raw.body, QByteArray("plain http"));
}

QTEST_GUILESS_MAIN(tst_Filters)
#include "tst_filters.moc"
