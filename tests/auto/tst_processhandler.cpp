#include "wstestclient.h"

#include <sluice/processhandler.h>
#include <sluice/server.h>

#include <QtCore/QFile>
#include <QtCore/QTemporaryDir>
#include <QtNetwork/QNetworkRequest>
#include <QtTest/QtTest>
#include <QtWebSockets/QWebSocket>

#include <memory>

namespace {

constexpr int kTimeout = 10000;

using wstestclient::Client;

bool waitForClose(Client &client, int timeoutMs = kTimeout)
{
    return QTest::qWaitFor(
                   [&] { return client.socket().state() == QAbstractSocket::UnconnectedState; },
                   timeoutMs)
           && client.socket().state() == QAbstractSocket::UnconnectedState;
}

QStringList texts(const Client &client)
{
    QStringList result;
    for (const auto &message : client.received()) {
        if (message.isText)
            result.append(message.text);
    }
    return result;
}

bool processExists(qint64 pid)
{
    // A zombie still has /proc/<pid>; only a reaped process is gone.
    return QFile::exists(QStringLiteral("/proc/%1").arg(pid));
}

} // namespace

// A handshake on a raw socket, so that the answer is seen as it is on the wire.
static bool sendUpgrade(QTcpSocket &raw, quint16 port, const QByteArray &path)
{
    raw.connectToHost(QHostAddress::LocalHost, port);
    if (!raw.waitForConnected(kTimeout))
        return false;
    raw.write("GET " + path
              + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n");
    return true;
}

class tst_ProcessHandler : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();

    void catEchoesLines();
    void exitStatusClosesWith1011();
    void exitZeroClosesWith1000();
    void crashClosesWith1011();
    void environmentCarriesTheRequest();
    void clientCloseTerminatesTheProgram();
    void programIgnoringTermIsKilled();
    void missingProgramClosesWith1011();
    void maxProcessesRefusesWith1013();
    void admissionAnswers503BeforeTheUpgrade();
    void splitWritesAreReassembled();
    void stderrGoesToTheLog();
    void longLineWithoutNewlineIsBounded();

private:
    QString script(const QString &name, const QByteArray &body);

    std::unique_ptr<sluice::Server> m_server;
    QTemporaryDir m_dir;
    quint16 m_port = 0;
    std::unique_ptr<sluice::ProcessHandler> m_limited;
    std::unique_ptr<sluice::ProcessHandler> m_admitted;
};

QString tst_ProcessHandler::script(const QString &name, const QByteArray &body)
{
    const QString path = m_dir.filePath(name);
    QFile file(path);
    if (!file.open(QIODevice::WriteOnly))
        return QString();
    file.write(body);
    return path;
}

void tst_ProcessHandler::initTestCase()
{
    QVERIFY(m_dir.isValid());
    m_server = std::make_unique<sluice::Server>();
    const auto sh = [this](const QString &name, const QByteArray &body) {
        return sluice::ProcessHandler({QStringLiteral("/bin/sh"), script(name, body)});
    };
    QVERIFY(m_server->map(QStringLiteral("ws:/cat"),
                          sluice::ProcessHandler({QStringLiteral("/bin/cat")})));
    QVERIFY(m_server->map(QStringLiteral("ws:/exit3"),
                          sh(QStringLiteral("exit3.sh"), "read x; echo got:$x; exit 3\n")));
    QVERIFY(m_server->map(QStringLiteral("ws:/exit0"),
                          sh(QStringLiteral("exit0.sh"), "echo bye; printf tail; exit 0\n")));
    QVERIFY(m_server->map(QStringLiteral("ws:/crash"),
                          sh(QStringLiteral("crash.sh"), "echo dying; kill -KILL $$\n")));
    sluice::ProcessHandler env
            = sh(QStringLiteral("env.sh"),
                 "echo \"$SLUICE_PARAM_ROOM|$SLUICE_QUERY|$HTTP_X_TEST|$SLUICE_PATH|"
                 "$SLUICE_REMOTE_ADDR|$EXTRA_VAR|$PWD|$HTTP_HOST\"\n"
                 "[ -n \"$SLUICE_REMOTE_PORT\" ] && [ -n \"$PATH\" ] && echo ok\n");
    QProcessEnvironment extra;
    extra.insert(QStringLiteral("EXTRA_VAR"), QStringLiteral("extra"));
    env.setEnvironment(extra);
    env.setWorkingDirectory(m_dir.path());
    QVERIFY(m_server->map(QStringLiteral("ws:/env/(?<room>\\w+)"), env));
    QVERIFY(m_server->map(QStringLiteral("ws:/sleep"),
                          sh(QStringLiteral("sleep.sh"), "echo $$\nexec sleep 1000\n")));
    QVERIFY(m_server->map(QStringLiteral("ws:/stubborn"),
                          sh(QStringLiteral("stubborn.sh"),
                             "trap '' TERM\necho $$\nwhile :; do sleep 0.2; done\n")));
    QVERIFY(m_server->map(
            QStringLiteral("ws:/missing"),
            sluice::ProcessHandler({m_dir.filePath(QStringLiteral("no-such-program"))})));
    m_limited = std::make_unique<sluice::ProcessHandler>(QStringList {QStringLiteral("/bin/cat")});
    m_limited->setMaxProcesses(1);
    QVERIFY(m_server->map(QStringLiteral("ws:/limited"), *m_limited));
    m_admitted = std::make_unique<sluice::ProcessHandler>(QStringList {QStringLiteral("/bin/cat")});
    m_admitted->setMaxProcesses(1);
    sluice::MapOptions admittedOptions;
    admittedOptions.filters.append(m_admitted->admission());
    QVERIFY(m_server->map(QStringLiteral("ws:/admitted"), *m_admitted, admittedOptions));
    QVERIFY(m_server->map(
            QStringLiteral("ws:/split"),
            sh(QStringLiteral("split.sh"),
               "printf hel; sleep 0.3; printf 'lo\\nwor'; sleep 0.3; printf 'ld\\n'; read x\n")));
    QVERIFY(m_server->map(QStringLiteral("ws:/stderr"),
                          sh(QStringLiteral("stderr.sh"), "echo oops >&2; echo out\n")));
    QVERIFY(m_server->map(QStringLiteral("ws:/long"),
                          sh(QStringLiteral("long.sh"),
                             "head -c 1100000 /dev/zero | tr '\\0' a; echo; echo end\n")));
    QVERIFY2(m_server->listen(QHostAddress::LocalHost, 0), qPrintable(m_server->errorString()));
    m_port = m_server->serverPort();
    QVERIFY(m_port != 0);
}

void tst_ProcessHandler::cleanupTestCase()
{
    if (m_server)
        m_server->close();
}

void tst_ProcessHandler::catEchoesLines()
{
    Client client;
    QVERIFY2(client.open(m_port, QStringLiteral("/cat")), qPrintable(client.errorString()));
    const QStringList lines {QStringLiteral("hello"),
                             QStringLiteral("h\u00e9llo w\u00f6rld \u2603"),
                             QStringLiteral("third")};
    for (const QString &line : lines)
        client.socket().sendTextMessage(line);
    QVERIFY(client.waitForCount(lines.size()));
    QCOMPARE(texts(client), lines);
    QVERIFY(client.socket().state() == QAbstractSocket::ConnectedState);
    client.socket().close();
    QVERIFY(waitForClose(client));
}

void tst_ProcessHandler::exitStatusClosesWith1011()
{
    Client client;
    QVERIFY2(client.open(m_port, QStringLiteral("/exit3")), qPrintable(client.errorString()));
    client.socket().sendTextMessage(QStringLiteral("hi there"));
    QVERIFY(waitForClose(client));
    QCOMPARE(texts(client), QStringList {QStringLiteral("got:hi there")});
    QCOMPARE(int(client.socket().closeCode()), 1011);
    QCOMPARE(client.socket().closeReason(), QStringLiteral("exit status 3"));
}

void tst_ProcessHandler::exitZeroClosesWith1000()
{
    Client client;
    QVERIFY2(client.open(m_port, QStringLiteral("/exit0")), qPrintable(client.errorString()));
    QVERIFY(waitForClose(client));
    // The last line has no newline: it still arrives when the program ends.
    QCOMPARE(texts(client), (QStringList {QStringLiteral("bye"), QStringLiteral("tail")}));
    QCOMPARE(int(client.socket().closeCode()), 1000);
}

void tst_ProcessHandler::crashClosesWith1011()
{
    Client client;
    QVERIFY2(client.open(m_port, QStringLiteral("/crash")), qPrintable(client.errorString()));
    QVERIFY(waitForClose(client));
    QCOMPARE(texts(client), QStringList {QStringLiteral("dying")});
    QCOMPARE(int(client.socket().closeCode()), 1011);
    QCOMPARE(client.socket().closeReason(), QStringLiteral("crashed"));
}

void tst_ProcessHandler::environmentCarriesTheRequest()
{
    Client client;
    QNetworkRequest request(
            QUrl(QStringLiteral("ws://127.0.0.1:%1/env/kitchen?a=1&b=x%20y").arg(m_port)));
    request.setRawHeader("X-Test", "header value");
    client.socket().open(request);
    QVERIFY(waitForClose(client));
    const QStringList expected {
            QStringLiteral("kitchen|a=1&b=x%20y|header value|/env/kitchen|127.0.0.1|extra|%1|"
                           "127.0.0.1:%2")
                    .arg(m_dir.path())
                    .arg(m_port),
            QStringLiteral("ok")};
    QCOMPARE(texts(client), expected);
    QCOMPARE(int(client.socket().closeCode()), 1000);
}

void tst_ProcessHandler::clientCloseTerminatesTheProgram()
{
    Client client;
    QVERIFY2(client.open(m_port, QStringLiteral("/sleep")), qPrintable(client.errorString()));
    QVERIFY(client.waitForCount(1));
    bool ok = false;
    const qint64 pid = client.received().first().text.toLongLong(&ok);
    QVERIFY(ok && pid > 0);
    QVERIFY(processExists(pid));
    client.socket().close();
    QVERIFY(waitForClose(client));
    // Terminated at once: well within the 2 s before the kill.
    QTRY_VERIFY_WITH_TIMEOUT(!processExists(pid), 1500);
}

void tst_ProcessHandler::programIgnoringTermIsKilled()
{
    Client client;
    QVERIFY2(client.open(m_port, QStringLiteral("/stubborn")), qPrintable(client.errorString()));
    QVERIFY(client.waitForCount(1));
    bool ok = false;
    const qint64 pid = client.received().first().text.toLongLong(&ok);
    QVERIFY(ok && pid > 0);
    client.socket().close();
    QVERIFY(waitForClose(client));
    QTest::qWait(1000);
    QVERIFY2(processExists(pid), "a program that ignores SIGTERM gets its grace period");
    QTRY_VERIFY_WITH_TIMEOUT(!processExists(pid), 5000);
}

void tst_ProcessHandler::missingProgramClosesWith1011()
{
    Client client;
    // The start may fail before or after the client sees the handshake end,
    // so whether it was connected is recorded, not polled.
    bool connected = false;
    QObject::connect(&client.socket(), &QWebSocket::connected, &client.socket(),
                     [&connected] { connected = true; });
    client.socket().open(QUrl(QStringLiteral("ws://127.0.0.1:%1/missing").arg(m_port)));
    QVERIFY(QTest::qWaitFor([&] { return connected; }, kTimeout));
    QVERIFY(waitForClose(client));
    QCOMPARE(int(client.socket().closeCode()), 1011);
    QVERIFY(!client.socket().closeReason().isEmpty());
    QVERIFY(client.received().isEmpty());
}

void tst_ProcessHandler::maxProcessesRefusesWith1013()
{
    QCOMPARE(m_limited->runningProcesses(), 0);
    Client first;
    QVERIFY2(first.open(m_port, QStringLiteral("/limited")), qPrintable(first.errorString()));
    // The copy the server holds counts into the same number.
    QTRY_COMPARE_WITH_TIMEOUT(m_limited->runningProcesses(), 1, kTimeout);

    // The close code is checked on the wire: Qt's client refuses codes
    // 1012-2999 as invalid and reports 1002 instead.
    QTcpSocket raw;
    QVERIFY(sendUpgrade(raw, m_port, "/limited"));
    QByteArray data;
    QVERIFY(QTest::qWaitFor(
            [&] {
                data += raw.readAll();
                const qsizetype head = data.indexOf("\r\n\r\n");
                return head >= 0 && data.size() >= head + 4 + 4;
            },
            kTimeout));
    QVERIFY2(data.startsWith("HTTP/1.1 101"), data.constData());
    const QByteArray frame = data.mid(data.indexOf("\r\n\r\n") + 4);
    QCOMPARE(uchar(frame.at(0)), uchar(0x88)); // FIN + close
    QVERIFY(uchar(frame.at(1)) >= 2);
    const int code = (uchar(frame.at(2)) << 8) | uchar(frame.at(3));
    QCOMPARE(code, 1013);

    // The first client is unaffected, and its slot is free again once it goes.
    first.socket().sendTextMessage(QStringLiteral("still here"));
    QVERIFY(first.waitForCount(1));
    QCOMPARE(texts(first), QStringList {QStringLiteral("still here")});
    first.socket().close();
    QVERIFY(waitForClose(first));
    QTRY_COMPARE_WITH_TIMEOUT(m_limited->runningProcesses(), 0, kTimeout);

    Client third;
    QVERIFY2(third.open(m_port, QStringLiteral("/limited")), qPrintable(third.errorString()));
    third.socket().sendTextMessage(QStringLiteral("my turn"));
    QVERIFY(third.waitForCount(1));
    QCOMPARE(texts(third), QStringList {QStringLiteral("my turn")});
    third.socket().close();
    QVERIFY(waitForClose(third));
}

void tst_ProcessHandler::admissionAnswers503BeforeTheUpgrade()
{
    Client first;
    QVERIFY2(first.open(m_port, QStringLiteral("/admitted")), qPrintable(first.errorString()));
    QTRY_COMPARE_WITH_TIMEOUT(m_admitted->runningProcesses(), 1, kTimeout);

    QTcpSocket raw;
    QVERIFY(sendUpgrade(raw, m_port, "/admitted"));
    QByteArray data;
    QVERIFY(QTest::qWaitFor(
            [&] {
                data += raw.readAll();
                return raw.state() == QAbstractSocket::UnconnectedState
                       || data.contains("processes of this route are running\n");
            },
            kTimeout));
    QVERIFY2(data.startsWith("HTTP/1.1 503 Service Unavailable\r\n"), data.constData());
    QVERIFY2(data.contains("\r\nRetry-After: 1\r\n"), data.constData());
    QVERIFY2(data.contains("all 1 processes of this route are running"), data.constData());
    QCOMPARE(m_admitted->runningProcesses(), 1);

    first.socket().close();
    QVERIFY(waitForClose(first));
    QTRY_COMPARE_WITH_TIMEOUT(m_admitted->runningProcesses(), 0, kTimeout);
    Client second;
    QVERIFY2(second.open(m_port, QStringLiteral("/admitted")), qPrintable(second.errorString()));
    second.socket().sendTextMessage(QStringLiteral("admitted now"));
    QVERIFY(second.waitForCount(1));
    QCOMPARE(texts(second), QStringList {QStringLiteral("admitted now")});
    second.socket().close();
    QVERIFY(waitForClose(second));
}

void tst_ProcessHandler::splitWritesAreReassembled()
{
    Client client;
    QVERIFY2(client.open(m_port, QStringLiteral("/split")), qPrintable(client.errorString()));
    QVERIFY(client.waitForCount(2));
    QTest::qWait(300);
    QCOMPARE(texts(client), (QStringList {QStringLiteral("hello"), QStringLiteral("world")}));
    client.socket().sendTextMessage(QStringLiteral("done"));
    QVERIFY(waitForClose(client));
    QCOMPARE(int(client.socket().closeCode()), 1000);
    QCOMPARE(client.received().size(), 2);
}

void tst_ProcessHandler::stderrGoesToTheLog()
{
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("stderr: oops$")));
    Client client;
    QVERIFY2(client.open(m_port, QStringLiteral("/stderr")), qPrintable(client.errorString()));
    QVERIFY(waitForClose(client));
    QCOMPARE(texts(client), QStringList {QStringLiteral("out")});
    QCOMPARE(int(client.socket().closeCode()), 1000);
}

void tst_ProcessHandler::longLineWithoutNewlineIsBounded()
{
    Client client;
    client.socket().setMaxAllowedIncomingMessageSize(8 * 1024 * 1024);
    QVERIFY2(client.open(m_port, QStringLiteral("/long")), qPrintable(client.errorString()));
    QVERIFY(waitForClose(client, 30000));
    const QStringList got = texts(client);
    QVERIFY2(got.size() >= 3, qPrintable(QString::number(got.size())));
    QCOMPARE(got.last(), QStringLiteral("end"));
    qsizetype total = 0;
    for (qsizetype i = 0; i + 1 < got.size(); ++i) {
        QVERIFY(got.at(i).size() <= 1024 * 1024);
        QVERIFY(got.at(i).count(u'a') == got.at(i).size());
        total += got.at(i).size();
    }
    QCOMPARE(total, qsizetype(1100000));
}

QTEST_MAIN(tst_ProcessHandler)
#include "tst_processhandler.moc"
