// TLS listeners: sluice::TlsConfiguration (PEM files, checked) and
// Server::listenSecure(), against clients we did not write: curl, openssl
// and Debian's python3-websockets. Certificates are made at test time with
// openssl, in a temporary folder.

#include <sluice/handlers.h>
#include <sluice/httpconnect.h>
#include <sluice/httprequest.h>
#include <sluice/httpresponse.h>
#include <sluice/server.h>
#include <sluice/serverthread.h>
#include <sluice/tlsconfiguration.h>

#include <QtCore/QElapsedTimer>
#include <QtCore/QEventLoop>
#include <QtCore/QFile>
#include <QtCore/QMutex>
#include <QtCore/QProcess>
#include <QtCore/QStandardPaths>
#include <QtCore/QTemporaryDir>
#include <QtCore/QTimer>
#include <QtNetwork/QSslSocket>
#include <QtNetwork/QTcpSocket>
#include <QtTest/QtTest>

#include <memory>

using namespace sluice;

namespace {

const QString kPython = QStringLiteral("/usr/bin/python3");
// Set in the child that noBackendIsAnError() starts: Qt finds no plugins.
const char *const kNoBackend = "SLUICE_TST_TLS_NO_BACKEND";

// The lines the server logs, from any thread.
QMutex logMutex;
QStringList logLines;
QtMessageHandler previousHandler = nullptr;

void captureLog(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    if (context.category && qstrcmp(context.category, "sluice.server") == 0) {
        QMutexLocker locker(&logMutex);
        logLines.append(message);
    }
    if (previousHandler)
        previousHandler(type, context, message);
}

QString logMatching(const QString &text)
{
    QMutexLocker locker(&logMutex);
    for (const QString &line : std::as_const(logLines)) {
        if (line.contains(text))
            return line;
    }
    return QString();
}

struct Run
{
    int exitCode = -1;
    QByteArray out;
    QByteArray err;
};

// Runs a program to its end while this thread's event loop turns, so that a
// server on this thread answers it. Killed after timeoutMs.
Run run(const QString &program, const QStringList &arguments, const QByteArray &input = {},
        int timeoutMs = 20000)
{
    QProcess process;
    process.start(program, arguments);
    Run result;
    if (!process.waitForStarted(5000))
        return result;
    process.write(input);
    process.closeWriteChannel();
    QEventLoop loop;
    QObject::connect(&process, &QProcess::finished, &loop, &QEventLoop::quit);
    QTimer::singleShot(timeoutMs, &loop, &QEventLoop::quit);
    if (process.state() != QProcess::NotRunning)
        loop.exec();
    if (process.state() != QProcess::NotRunning) {
        process.kill();
        process.waitForFinished(5000);
        result.err = "timed out";
        return result;
    }
    result.exitCode = process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -2;
    result.out = process.readAllStandardOutput();
    result.err = process.readAllStandardError();
    return result;
}

// curl -sS with the given arguments; "-w" output follows the body.
Run curl(const QStringList &arguments)
{
    return run(
            QStringLiteral("curl"),
            QStringList {QStringLiteral("-sS"), QStringLiteral("--max-time"), QStringLiteral("10")}
                    + arguments);
}

// Debian's python3-websockets: opens the URL (with the CA file for wss),
// sends each argument as text and one binary message, prints every echo.
const char *const kEchoClient = R"(
import asyncio, ssl, sys
import websockets

async def main(url, cafile, messages):
    context = None
    if url.startswith('wss:'):
        context = ssl.create_default_context(cafile=cafile)
    async with websockets.connect(url, ssl=context, open_timeout=10, ping_interval=None) as ws:
        for message in messages:
            await ws.send(message)
            print('text', await asyncio.wait_for(ws.recv(), 10), flush=True)
        await ws.send(bytes([0, 255, 16]))
        print('binary', (await asyncio.wait_for(ws.recv(), 10)).hex(), flush=True)

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
)";

QUrl urlWithScheme(QUrl url, const QString &scheme, const QString &path)
{
    url.setScheme(scheme);
    url.setPath(path);
    return url;
}

// Waits, turning the event loop, until socket is disconnected; ms it took,
// or -1 after timeoutMs.
qint64 waitForDisconnect(QTcpSocket *socket, int timeoutMs)
{
    QElapsedTimer clock;
    clock.start();
    while (socket->state() != QAbstractSocket::UnconnectedState) {
        if (clock.elapsed() > timeoutMs)
            return -1;
        QTest::qWait(10);
    }
    return clock.elapsed();
}

} // namespace

class tst_Tls : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void init();

    void loadsPemFiles_data();
    void loadsPemFiles();
    void refusesBadFiles_data();
    void refusesBadFiles();
    void listenSecureNeedsCertificateAndKey();

    void httpsAndHttpAnswerAlike();
    void wssEchoesOnTheTlsPort();
    void plainHttpOnTheTlsPortFailsCleanly();
    void tlsOnThePlainPortFailsCleanly();
    void brokenHandshakeIsLoggedAndFreed();
    void silentClientIsCutAfterHandshakeTimeout();
    void handshakeTimeoutZeroWaits();
    void idleHandshakesDoNotStopAccepting();
    void serverThreadRestartsWithTls();
    void noBackendIsAnError();

private:
    QString path(const QString &name) const { return m_dir->filePath(name); }
    bool openssl(const QStringList &arguments);
    // A Server on this thread serving /hello/<name>, POST /echo and ws:/echo,
    // plain on m_plainUrl and TLS on m_tlsUrl.
    void startServer(const Limits &limits = Limits());

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<Server> m_server;
    QUrl m_plainUrl;
    QUrl m_tlsUrl;
};

bool tst_Tls::openssl(const QStringList &arguments)
{
    const Run result = run(QStringLiteral("openssl"), arguments);
    if (result.exitCode != 0)
        qWarning("openssl %s: %s", qPrintable(arguments.join(u' ')), result.err.constData());
    return result.exitCode == 0;
}

void tst_Tls::initTestCase()
{
    if (qEnvironmentVariableIsSet(kNoBackend))
        return;
    if (QStandardPaths::findExecutable(QStringLiteral("openssl")).isEmpty())
        QSKIP("openssl is not installed");
    QVERIFY2(QSslSocket::supportsSsl(), "Qt has no TLS backend");
    previousHandler = qInstallMessageHandler(captureLog);
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());

    const auto selfSigned = [this](const QStringList &keyOptions, const QString &key,
                                   const QString &cert) {
        return openssl(QStringList {QStringLiteral("req"), QStringLiteral("-x509")} + keyOptions
                       + QStringList {QStringLiteral("-nodes"), QStringLiteral("-subj"),
                                      QStringLiteral("/CN=localhost"), QStringLiteral("-addext"),
                                      QStringLiteral("subjectAltName=IP:127.0.0.1,DNS:localhost"),
                                      QStringLiteral("-days"), QStringLiteral("1"),
                                      QStringLiteral("-keyout"), path(key), QStringLiteral("-out"),
                                      path(cert)});
    };
    QVERIFY(selfSigned({QStringLiteral("-newkey"), QStringLiteral("rsa:2048")},
                       QStringLiteral("key.pem"), QStringLiteral("cert.pem")));
    QVERIFY(selfSigned({QStringLiteral("-newkey"), QStringLiteral("ec"), QStringLiteral("-pkeyopt"),
                        QStringLiteral("ec_paramgen_curve:P-256")},
                       QStringLiteral("eckey.pem"), QStringLiteral("eccert.pem")));
    QVERIFY(openssl({QStringLiteral("genpkey"), QStringLiteral("-algorithm"), QStringLiteral("RSA"),
                     QStringLiteral("-pkeyopt"), QStringLiteral("rsa_keygen_bits:2048"),
                     QStringLiteral("-out"), path(QStringLiteral("otherkey.pem"))}));
    QVERIFY(openssl({QStringLiteral("genpkey"), QStringLiteral("-algorithm"), QStringLiteral("EC"),
                     QStringLiteral("-pkeyopt"), QStringLiteral("ec_paramgen_curve:P-256"),
                     QStringLiteral("-out"), path(QStringLiteral("otheréckey.pem"))}));
    QVERIFY(openssl({QStringLiteral("pkey"), QStringLiteral("-in"), path(QStringLiteral("key.pem")),
                     QStringLiteral("-aes256"), QStringLiteral("-passout"),
                     QStringLiteral("pass:secret"), QStringLiteral("-out"),
                     path(QStringLiteral("encrypted.pem"))}));
    QVERIFY(openssl({QStringLiteral("rsa"), QStringLiteral("-in"), path(QStringLiteral("key.pem")),
                     QStringLiteral("-traditional"), QStringLiteral("-out"),
                     path(QStringLiteral("pkcs1key.pem"))}));

    const auto read = [this](const QString &name) {
        QFile file(path(name));
        return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
    };
    const auto write = [this](const QString &name, const QByteArray &data) {
        QFile file(path(name));
        return file.open(QIODevice::WriteOnly) && file.write(data) == data.size();
    };
    // The server's certificate, then one more as if it were an intermediate.
    QVERIFY(write(QStringLiteral("chain.pem"),
                  read(QStringLiteral("cert.pem")) + read(QStringLiteral("eccert.pem"))));
    QVERIFY(write(QStringLiteral("combined.pem"),
                  read(QStringLiteral("cert.pem")) + read(QStringLiteral("key.pem"))));
    QVERIFY(write(QStringLiteral("notpem.pem"), "just some text\n"));
    QVERIFY(write(QStringLiteral("empty.pem"), QByteArray()));
    QVERIFY(QDir(m_dir->path()).mkdir(QStringLiteral("folder.pem")));
}

void tst_Tls::cleanupTestCase()
{
    m_server.reset();
    qInstallMessageHandler(previousHandler);
}

void tst_Tls::init()
{
    m_server.reset();
    QMutexLocker locker(&logMutex);
    logLines.clear();
}

void tst_Tls::startServer(const Limits &limits)
{
    m_server = std::make_unique<Server>();
    m_server->setLimits(limits);
    m_server->map(QStringLiteral("get:/hello/(?<name>[^/]+)"), [](HttpConnect &connect) {
        connect.response().setContentType("text/plain; charset=utf-8");
        connect.response().write("Hello " + connect.param(QStringLiteral("name")).toUtf8() + "\n");
    });
    m_server->map(QStringLiteral("post:/echo"), [](HttpConnect &connect) {
        connect.response().setContentType("application/octet-stream");
        connect.response().write(connect.request().body());
    });
    m_server->map(QStringLiteral("ws:/echo"), handlers::echo());

    TlsConfiguration tls;
    QVERIFY2(tls.load(path(QStringLiteral("cert.pem")), path(QStringLiteral("key.pem"))),
             qPrintable(tls.errorString()));
    QVERIFY2(m_server->listen(QHostAddress::LocalHost, 0), qPrintable(m_server->errorString()));
    QVERIFY2(m_server->listenSecure(QHostAddress::LocalHost, 0, tls.sslConfiguration()),
             qPrintable(m_server->errorString()));
    const QList<QUrl> urls = m_server->urls();
    QCOMPARE(urls.size(), 2);
    m_plainUrl = urls.at(0);
    m_tlsUrl = urls.at(1);
    QCOMPARE(m_plainUrl.scheme(), QStringLiteral("http"));
    QCOMPARE(m_tlsUrl.scheme(), QStringLiteral("https"));
    QCOMPARE(m_tlsUrl.host(), QStringLiteral("127.0.0.1"));
    QVERIFY(m_tlsUrl.port() > 0 && m_tlsUrl.port() != m_plainUrl.port());
    QVERIFY(!logMatching(QStringLiteral("port %1 (TLS)").arg(m_tlsUrl.port())).isEmpty());
}

void tst_Tls::loadsPemFiles_data()
{
    QTest::addColumn<QString>("certificate");
    QTest::addColumn<QString>("key");
    QTest::addColumn<QByteArray>("passPhrase");
    QTest::addColumn<int>("chainLength");
    QTest::addColumn<QSsl::KeyAlgorithm>("algorithm");

    QTest::newRow("RSA, PKCS#8") << "cert.pem"
                                 << "key.pem" << QByteArray() << 1 << QSsl::Rsa;
    QTest::newRow("RSA, PKCS#1") << "cert.pem"
                                 << "pkcs1key.pem" << QByteArray() << 1 << QSsl::Rsa;
    QTest::newRow("EC P-256") << "eccert.pem"
                              << "eckey.pem" << QByteArray() << 1 << QSsl::Ec;
    QTest::newRow("chain") << "chain.pem"
                           << "key.pem" << QByteArray() << 2 << QSsl::Rsa;
    QTest::newRow("one file") << "combined.pem"
                              << "combined.pem" << QByteArray() << 1 << QSsl::Rsa;
    QTest::newRow("encrypted") << "cert.pem"
                               << "encrypted.pem" << QByteArray("secret") << 1 << QSsl::Rsa;
}

void tst_Tls::loadsPemFiles()
{
    QFETCH(QString, certificate);
    QFETCH(QString, key);
    QFETCH(QByteArray, passPhrase);
    QFETCH(int, chainLength);
    QFETCH(QSsl::KeyAlgorithm, algorithm);

    TlsConfiguration tls;
    QVERIFY(tls.isNull());
    QVERIFY(tls.sslConfiguration().isNull());
    QVERIFY2(tls.load(path(certificate), path(key), passPhrase), qPrintable(tls.errorString()));
    QVERIFY(!tls.isNull());
    QCOMPARE(tls.error(), TlsConfiguration::Error::NoError);
    QCOMPARE(tls.certificateFile(), path(certificate));
    QCOMPARE(tls.keyFile(), path(key));
    QCOMPARE(tls.certificateChain().size(), chainLength);
    QCOMPARE(tls.privateKey().algorithm(), algorithm);
    const QSslConfiguration configuration = tls.sslConfiguration();
    QCOMPARE(configuration.localCertificate(), tls.certificateChain().first());
    QCOMPARE(configuration.localCertificateChain().size(), chainLength);
    QCOMPARE(configuration.privateKey(), tls.privateKey());
    QCOMPARE(configuration.protocol(), QSsl::TlsV1_2OrLater);
    QCOMPARE(configuration.peerVerifyMode(), QSslSocket::VerifyNone);
    QCOMPARE(configuration.allowedNextProtocols(),
             QList<QByteArray> {QSslConfiguration::NextProtocolHttp1_1});
}

void tst_Tls::refusesBadFiles_data()
{
    QTest::addColumn<QString>("certificate");
    QTest::addColumn<QString>("key");
    QTest::addColumn<QByteArray>("passPhrase");
    QTest::addColumn<TlsConfiguration::Error>("error");
    // %1: the certificate's path, %2: the key's
    QTest::addColumn<QString>("message");

    using E = TlsConfiguration::Error;
    QTest::newRow("no certificate file") << "missing.pem"
                                         << "key.pem" << QByteArray() << E::CertificateError
                                         << "%1: cannot read: No such file or directory";
    QTest::newRow("certificate is a folder") << "folder.pem"
                                             << "key.pem" << QByteArray() << E::CertificateError
                                             << "%1: is a directory, not a PEM file";
    QTest::newRow("certificate not PEM")
            << "notpem.pem"
            << "key.pem" << QByteArray() << E::CertificateError
            << "%1: no PEM certificate in it (\"-----BEGIN CERTIFICATE-----\")";
    QTest::newRow("certificate empty")
            << "empty.pem"
            << "key.pem" << QByteArray() << E::CertificateError
            << "%1: no PEM certificate in it (\"-----BEGIN CERTIFICATE-----\")";
    QTest::newRow("key given as certificate")
            << "key.pem"
            << "key.pem" << QByteArray() << E::CertificateError
            << "%1: no PEM certificate in it (\"-----BEGIN CERTIFICATE-----\")";
    QTest::newRow("no key file") << "cert.pem"
                                 << "missing.pem" << QByteArray() << E::KeyError
                                 << "%2: cannot read: No such file or directory";
    QTest::newRow("key not PEM")
            << "cert.pem"
            << "notpem.pem" << QByteArray() << E::KeyError
            << "%2: no PEM private key in it (RSA, EC or DSA: \"-----BEGIN PRIVATE KEY-----\")";
    QTest::newRow("certificate given as key")
            << "cert.pem"
            << "cert.pem" << QByteArray() << E::KeyError
            << "%2: no PEM private key in it (RSA, EC or DSA: \"-----BEGIN PRIVATE KEY-----\")";
    QTest::newRow("encrypted key, no pass phrase")
            << "cert.pem"
            << "encrypted.pem" << QByteArray() << E::KeyError
            << "%2: the private key is encrypted (decrypt it: openssl pkey -in %2 -out plain.pem)";
    QTest::newRow("encrypted key, wrong pass phrase")
            << "cert.pem"
            << "encrypted.pem" << QByteArray("wrong") << E::KeyError
            << "%2: cannot decrypt the private key: wrong pass phrase?";
    QTest::newRow("another RSA key")
            << "cert.pem"
            << "otherkey.pem" << QByteArray() << E::MismatchError
            << "%2: the private key (RSA) does not belong to the certificate in %1 (RSA, "
               "localhost)";
    QTest::newRow("another EC key")
            << "eccert.pem"
            << "otheréckey.pem" << QByteArray() << E::MismatchError
            << "%2: the private key (EC) does not belong to the certificate in %1 (EC, localhost)";
    QTest::newRow("EC key, RSA certificate")
            << "cert.pem"
            << "eckey.pem" << QByteArray() << E::MismatchError
            << "%2: the private key (EC) does not belong to the certificate in %1 (RSA, "
               "localhost)";
}

void tst_Tls::refusesBadFiles()
{
    QFETCH(QString, certificate);
    QFETCH(QString, key);
    QFETCH(QByteArray, passPhrase);
    QFETCH(TlsConfiguration::Error, error);
    QFETCH(QString, message);

    TlsConfiguration tls;
    QVERIFY(!tls.load(path(certificate), path(key), passPhrase));
    QCOMPARE(tls.error(), error);
    message.replace(QLatin1String("%1"), path(certificate)).replace(QLatin1String("%2"), path(key));
    QCOMPARE(tls.errorString(), message);
    QVERIFY(tls.isNull());

    // A failed load keeps what a good one loaded.
    QVERIFY(tls.load(path(QStringLiteral("cert.pem")), path(QStringLiteral("key.pem"))));
    QVERIFY(!tls.load(path(certificate), path(key), passPhrase));
    QVERIFY(!tls.isNull());
    QCOMPARE(tls.keyFile(), path(QStringLiteral("key.pem")));
}

void tst_Tls::listenSecureNeedsCertificateAndKey()
{
    TlsConfiguration tls;
    QVERIFY(tls.load(path(QStringLiteral("cert.pem")), path(QStringLiteral("key.pem"))));
    Server server;

    QSslConfiguration noKey = tls.sslConfiguration();
    noKey.setPrivateKey(QSslKey());
    QVERIFY(!server.listenSecure(QHostAddress::LocalHost, 0, noKey));
    QCOMPARE(server.errorString(),
             QStringLiteral("cannot listen on 127.0.0.1 port 0 with TLS: no private key in the TLS "
                            "configuration"));
    QVERIFY(!server.listenSecure(QHostAddress::LocalHost, 0, QSslConfiguration()));
    QCOMPARE(server.errorString(),
             QStringLiteral("cannot listen on 127.0.0.1 port 0 with TLS: no certificate in the TLS "
                            "configuration"));
    QVERIFY(!server.isListening());

    // A port in use is reported as for plain listeners.
    QVERIFY(server.listen(QHostAddress::LocalHost, 0));
    const quint16 taken = server.serverPort();
    QVERIFY(!server.listenSecure(QHostAddress::LocalHost, taken, tls.sslConfiguration()));
    QVERIFY2(server.errorString().startsWith(
                     QStringLiteral("cannot listen on 127.0.0.1 port %1: ").arg(taken)),
             qPrintable(server.errorString()));
    QCOMPARE(server.urls().size(), 1);
}

void tst_Tls::httpsAndHttpAnswerAlike()
{
    startServer();
    const QString cafile = path(QStringLiteral("cert.pem"));
    struct Exchange
    {
        QString path;
        QStringList extra;
    };
    const QList<Exchange> exchanges {
            {QStringLiteral("/hello/world"), {}},
            {QStringLiteral("/hello/w%C3%B6rld"), {QStringLiteral("-I")}},
            {QStringLiteral("/echo"),
             {QStringLiteral("--data-binary"), QStringLiteral("ping 123")}},
            {QStringLiteral("/nothing/here"), {}},
            {QStringLiteral("/echo"), {}}, // GET on a post: route: 405
    };
    for (const Exchange &exchange : exchanges) {
        const QStringList common = QStringList {QStringLiteral("-i"), QStringLiteral("-w"),
                                                QStringLiteral("\n%{http_code} %{scheme}")}
                                   + exchange.extra;
        const Run plain
                = curl(common
                       + QStringList {urlWithScheme(m_plainUrl, QStringLiteral("http"), QString())
                                              .toString(QUrl::RemovePath)
                                      + exchange.path});
        const Run secure
                = curl(common
                       + QStringList {QStringLiteral("--cacert"), cafile,
                                      m_tlsUrl.toString(QUrl::RemovePath) + exchange.path});
        QVERIFY2(plain.exitCode == 0, plain.err.constData());
        QVERIFY2(secure.exitCode == 0, secure.err.constData());
        QVERIFY2(plain.out.endsWith(" HTTP"), plain.out.constData());
        QVERIFY2(secure.out.endsWith(" HTTPS"), secure.out.constData());
        // Same status, headers (but Date) and body on both.
        const auto normalized = [](QByteArray out) {
            out.chop(out.size() - out.lastIndexOf(' '));
            QList<QByteArray> lines = out.split('\n');
            lines.removeIf([](const QByteArray &line) { return line.startsWith("Date:"); });
            return lines;
        };
        QCOMPARE(normalized(secure.out), normalized(plain.out));
    }
    const Run hello = curl({QStringLiteral("--cacert"), cafile,
                            m_tlsUrl.toString(QUrl::RemovePath) + QStringLiteral("/hello/tls")});
    QCOMPARE(hello.out, QByteArray("Hello tls\n"));
    const Run post = curl({QStringLiteral("--cacert"), cafile, QStringLiteral("--data-binary"),
                           QStringLiteral("@") + cafile,
                           m_tlsUrl.toString(QUrl::RemovePath) + QStringLiteral("/echo")});
    QFile certificate(cafile);
    QVERIFY(certificate.open(QIODevice::ReadOnly));
    QCOMPARE(post.out, certificate.readAll());

    // Really our certificate: without the CA file curl does not trust it.
    const Run untrusted = curl({m_tlsUrl.toString(QUrl::RemovePath) + QStringLiteral("/hello/x")});
    QCOMPARE(untrusted.exitCode, 60);
    // ...and the server logs the client's alert and goes on.
    QTRY_VERIFY(!logMatching(QStringLiteral("TLS handshake failed")).isEmpty());
    QCOMPARE(curl({QStringLiteral("--cacert"), cafile,
                   m_tlsUrl.toString(QUrl::RemovePath) + QStringLiteral("/hello/again")})
                     .out,
             QByteArray("Hello again\n"));
    QTRY_COMPARE(m_server->connectionCount(), 0);
}

void tst_Tls::wssEchoesOnTheTlsPort()
{
    if (!QFileInfo::exists(kPython))
        QSKIP("/usr/bin/python3 is not installed");
    startServer();
    const QString cafile = path(QStringLiteral("cert.pem"));
    const QByteArray expected = "text hello\ntext h\xc3\xa9llo w\xc3\xb6rld\nbinary 00ff10\n";
    for (const QUrl &url :
         {urlWithScheme(m_tlsUrl, QStringLiteral("wss"), QStringLiteral("/echo")),
          urlWithScheme(m_plainUrl, QStringLiteral("ws"), QStringLiteral("/echo"))}) {
        const Run client = run(kPython, {QStringLiteral("-c"), QString::fromLatin1(kEchoClient),
                                         url.toString(), cafile, QStringLiteral("hello"),
                                         QStringLiteral("héllo wörld")});
        QVERIFY2(client.exitCode == 0, client.err.constData());
        QCOMPARE(client.out, expected);
    }
    // The wss client checks the certificate too: with another CA it fails.
    const Run untrusted = run(
            kPython,
            {QStringLiteral("-c"), QString::fromLatin1(kEchoClient),
             urlWithScheme(m_tlsUrl, QStringLiteral("wss"), QStringLiteral("/echo")).toString(),
             path(QStringLiteral("eccert.pem")), QStringLiteral("hello")});
    QVERIFY(untrusted.exitCode != 0);
    QVERIFY2(untrusted.err.contains("CERTIFICATE_VERIFY_FAILED"), untrusted.err.constData());
    QTRY_COMPARE(m_server->connectionCount(), 0);
}

void tst_Tls::plainHttpOnTheTlsPortFailsCleanly()
{
    startServer();
    const QString plainOnTls = QStringLiteral("http://127.0.0.1:%1/hello/x").arg(m_tlsUrl.port());
    const Run plain = curl({plainOnTls});
    QCOMPARE(plain.exitCode, 52); // empty reply: closed without a byte
    QTRY_VERIFY(!logMatching(QStringLiteral("not a TLS handshake")).isEmpty());
    const QString line = logMatching(QStringLiteral("not a TLS handshake"));
    QVERIFY2(line.startsWith(QStringLiteral("TLS client 127.0.0.1 port ")), qPrintable(line));
    QVERIFY2(line.contains(QStringLiteral(" on port %1: ").arg(m_tlsUrl.port())), qPrintable(line));

    const Run secure = curl({QStringLiteral("--cacert"), path(QStringLiteral("cert.pem")),
                             m_tlsUrl.toString(QUrl::RemovePath) + QStringLiteral("/hello/x")});
    QCOMPARE(secure.out, QByteArray("Hello x\n"));
    QTRY_COMPARE(m_server->connectionCount(), 0);
}

void tst_Tls::tlsOnThePlainPortFailsCleanly()
{
    startServer();
    // openssl s_client sends a ClientHello to the plain port; the HTTP side
    // sees a request that is not HTTP, answers 400 and closes.
    const Run client = run(QStringLiteral("openssl"),
                           {QStringLiteral("s_client"), QStringLiteral("-connect"),
                            QStringLiteral("127.0.0.1:%1").arg(m_plainUrl.port()),
                            QStringLiteral("-servername"), QStringLiteral("localhost")});
    QVERIFY(client.exitCode != 0);
    QVERIFY2(client.err.contains("wrong version number") || client.err.contains("packet length"),
             client.err.constData());
    // curl with https:// on the plain port: the same.
    const Run curlTls
            = curl({QStringLiteral("--cacert"), path(QStringLiteral("cert.pem")),
                    QStringLiteral("https://127.0.0.1:%1/hello/x").arg(m_plainUrl.port())});
    QCOMPARE(curlTls.exitCode, 35); // TLS connect error

    const Run plain = curl({m_plainUrl.toString(QUrl::RemovePath) + QStringLiteral("/hello/y")});
    QCOMPARE(plain.out, QByteArray("Hello y\n"));
    QTRY_COMPARE(m_server->connectionCount(), 0);
}

void tst_Tls::brokenHandshakeIsLoggedAndFreed()
{
    startServer();
    // A TLS record header, then a ClientHello that is not one.
    QTcpSocket socket;
    socket.connectToHost(QHostAddress::LocalHost, quint16(m_tlsUrl.port()));
    QVERIFY(socket.waitForConnected(5000));
    socket.write(QByteArray::fromHex("160301002f") + QByteArray(47, 'x'));
    QVERIFY(waitForDisconnect(&socket, 5000) >= 0);
    QTRY_VERIFY(!logMatching(QStringLiteral("TLS handshake failed")).isEmpty());

    // A client that connects and closes at once.
    QTcpSocket quitter;
    quitter.connectToHost(QHostAddress::LocalHost, quint16(m_tlsUrl.port()));
    QVERIFY(quitter.waitForConnected(5000));
    QTest::qWait(50);
    quitter.close();
    QTRY_VERIFY(!logMatching(QStringLiteral("closed by the client during the TLS handshake"))
                         .isEmpty());

    // The socket QSslServer made for each is gone (no child left behind) and
    // the server goes on.
    const Run secure = curl({QStringLiteral("--cacert"), path(QStringLiteral("cert.pem")),
                             m_tlsUrl.toString(QUrl::RemovePath) + QStringLiteral("/hello/z")});
    QCOMPARE(secure.out, QByteArray("Hello z\n"));
    QTRY_COMPARE(m_server->connectionCount(), 0);
}

void tst_Tls::silentClientIsCutAfterHandshakeTimeout()
{
    Limits limits;
    limits.handshakeTimeoutMs = 300;
    startServer(limits);

    QTcpSocket silent;
    silent.connectToHost(QHostAddress::LocalHost, quint16(m_tlsUrl.port()));
    QVERIFY(silent.waitForConnected(5000));
    const qint64 silentMs = waitForDisconnect(&silent, 5000);
    QVERIFY2(silentMs >= 250 && silentMs < 3000, qPrintable(QString::number(silentMs)));
    QTRY_VERIFY(!logMatching(QStringLiteral("no TLS handshake within 300 ms")).isEmpty());

    // One that starts a ClientHello and stalls in the middle of it.
    QTcpSocket stalled;
    stalled.connectToHost(QHostAddress::LocalHost, quint16(m_tlsUrl.port()));
    QVERIFY(stalled.waitForConnected(5000));
    stalled.write(QByteArray::fromHex("16030100c8010000c40303"));
    const qint64 stalledMs = waitForDisconnect(&stalled, 5000);
    QVERIFY2(stalledMs >= 250 && stalledMs < 3000, qPrintable(QString::number(stalledMs)));

    const Run secure = curl({QStringLiteral("--cacert"), path(QStringLiteral("cert.pem")),
                             m_tlsUrl.toString(QUrl::RemovePath) + QStringLiteral("/hello/t")});
    QCOMPARE(secure.out, QByteArray("Hello t\n"));
}

void tst_Tls::handshakeTimeoutZeroWaits()
{
    Limits limits;
    limits.handshakeTimeoutMs = 300;
    startServer(limits);
    // 0 turns it off, for listeners that already exist too.
    limits.handshakeTimeoutMs = 0;
    m_server->setLimits(limits);

    QTcpSocket silent;
    silent.connectToHost(QHostAddress::LocalHost, quint16(m_tlsUrl.port()));
    QVERIFY(silent.waitForConnected(5000));
    QCOMPARE(waitForDisconnect(&silent, 1500), -1);
    QVERIFY(logMatching(QStringLiteral("no TLS handshake")).isEmpty());

    // A server going away with a handshake in progress frees its socket.
    m_server.reset();
    QVERIFY(waitForDisconnect(&silent, 5000) >= 0);
}

void tst_Tls::idleHandshakesDoNotStopAccepting()
{
    Limits limits;
    limits.handshakeTimeoutMs = 60000;
    startServer(limits);
    // More clients stuck before their handshake than QTcpServer's default of
    // 30 pending connections, which QSslServer counts them against.
    std::vector<std::unique_ptr<QTcpSocket>> idle;
    for (int i = 0; i < 40; ++i) {
        idle.push_back(std::make_unique<QTcpSocket>());
        idle.back()->connectToHost(QHostAddress::LocalHost, quint16(m_tlsUrl.port()));
    }
    for (const auto &socket : idle)
        QVERIFY(socket->state() == QAbstractSocket::ConnectedState
                || socket->waitForConnected(5000));
    QTest::qWait(100);
    const Run secure = curl({QStringLiteral("--max-time"), QStringLiteral("5"),
                             QStringLiteral("--cacert"), path(QStringLiteral("cert.pem")),
                             m_tlsUrl.toString(QUrl::RemovePath) + QStringLiteral("/hello/busy")});
    QVERIFY2(secure.exitCode == 0, secure.err.constData());
    QCOMPARE(secure.out, QByteArray("Hello busy\n"));
    for (const auto &socket : idle)
        QCOMPARE(socket->state(), QAbstractSocket::ConnectedState);
}

void tst_Tls::serverThreadRestartsWithTls()
{
    TlsConfiguration tls;
    QVERIFY(tls.load(path(QStringLiteral("eccert.pem")), path(QStringLiteral("eckey.pem"))));
    ServerThread serverThread;
    serverThread.server()->map(
            QStringLiteral("get:/hello/(?<name>[^/]+)"), [](HttpConnect &connect) {
                connect.response().write("Hello " + connect.param(QStringLiteral("name")).toUtf8());
            });
    QVERIFY(serverThread.listen(QHostAddress::LocalHost, 0));
    QVERIFY2(serverThread.listenSecure(QHostAddress::LocalHost, 0, tls.sslConfiguration()),
             qPrintable(serverThread.errorString()));
    const QList<QUrl> urls = serverThread.urls();
    QCOMPARE(urls.size(), 2);
    QCOMPARE(urls.at(1).scheme(), QStringLiteral("https"));

    const QString url = urls.at(1).toString(QUrl::RemovePath) + QStringLiteral("/hello/ec");
    const QStringList arguments {QStringLiteral("--cacert"), path(QStringLiteral("eccert.pem")),
                                 url};
    QCOMPARE(curl(arguments).out, QByteArray("Hello ec"));
    serverThread.stop();
    QVERIFY(serverThread.urls().isEmpty());
    QCOMPARE(curl(arguments).exitCode, 7); // could not connect
    QVERIFY2(serverThread.start(), qPrintable(serverThread.errorString()));
    QCOMPARE(serverThread.urls(), urls);
    QCOMPARE(curl(arguments).out, QByteArray("Hello ec"));
}

void tst_Tls::noBackendIsAnError()
{
    if (!qEnvironmentVariableIsSet(kNoBackend)) {
        // This test again, in a process where Qt finds no TLS plugin.
        QProcess child;
        QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
        environment.insert(QString::fromLatin1(kNoBackend), QStringLiteral("1"));
        child.setProcessEnvironment(environment);
        child.start(QCoreApplication::applicationFilePath(),
                    {QStringLiteral("noBackendIsAnError")});
        QVERIFY(child.waitForFinished(30000));
        const QByteArray output = child.readAllStandardOutput();
        QVERIFY2(child.exitStatus() == QProcess::NormalExit && child.exitCode() == 0,
                 output.constData());
        QVERIFY2(output.contains("PASS   : tst_Tls::noBackendIsAnError()"), output.constData());
        return;
    }
    QVERIFY(!QSslSocket::supportsSsl());
    const QString why = QStringLiteral("TLS is not available: Qt's TLS backend \"none\" cannot "
                                       "serve TLS (Qt's OpenSSL backend plugin and libssl3 are "
                                       "needed)");
    TlsConfiguration tls;
    QVERIFY(!tls.load(QStringLiteral("cert.pem"), QStringLiteral("key.pem")));
    QCOMPARE(tls.error(), TlsConfiguration::Error::UnavailableError);
    QCOMPARE(tls.errorString(), why);
    QString error;
    QVERIFY(!TlsConfiguration::isAvailable(&error));
    QCOMPARE(error, why);

    Server server;
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("TLS is not available")));
    QVERIFY(!server.listenSecure(QHostAddress::LocalHost, 0, QSslConfiguration()));
    QCOMPARE(server.errorString(),
             QStringLiteral("cannot listen on 127.0.0.1 port 0 with TLS: ") + why);
    QVERIFY(!server.isListening());
}

int main(int argc, char *argv[])
{
    if (qEnvironmentVariableIsSet(kNoBackend))
        QCoreApplication::setLibraryPaths({});
    QCoreApplication app(argc, argv);
    if (qEnvironmentVariableIsSet(kNoBackend))
        QCoreApplication::setLibraryPaths({});
    tst_Tls test;
    QTEST_SET_MAIN_SOURCE_PATH
    return QTest::qExec(&test, argc, argv);
}
#include "tst_tls.moc"
