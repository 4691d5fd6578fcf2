// The HTTP limits and timeouts of sluice::Limits, seen from the outside:
// raw sockets that send too much, too slowly or never read, and curl. The
// server runs in this thread; every wait spins the event loop and has a
// deadline. Timeouts are short (hundreds of milliseconds) and checked with
// generous bounds on both sides: a timeout that fires far too early is as
// wrong as one that never fires.

#include "testclient.h"

#include <sluice/httpconnect.h>
#include <sluice/limits.h>
#include <sluice/server.h>

#include <QtCore/QCryptographicHash>
#include <QtCore/QElapsedTimer>
#include <QtCore/QFile>
#include <QtCore/QProcess>
#include <QtCore/QStandardPaths>
#include <QtCore/QTemporaryDir>
#include <QtCore/QTimer>
#include <QtNetwork/QTcpSocket>
#include <QtTest/QtTest>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

using testclient::Client;
using testclient::Response;

namespace {

std::atomic<int> g_echoRuns {0};
std::atomic<int> g_floodWrites {0};

constexpr qint64 MiB = 1024 * 1024;
constexpr qint64 BigFileBytes = 64 * MiB;

// VmRSS of this process (the server runs in it) in KiB; -1 when unknown.
qint64 rssKiB()
{
    QFile status(QStringLiteral("/proc/self/status"));
    if (!status.open(QIODevice::ReadOnly))
        return -1;
    const QList<QByteArray> lines = status.readAll().split('\n');
    for (const QByteArray &line : lines) {
        if (line.startsWith("VmRSS:"))
            return line.mid(6).trimmed().split(' ').first().toLongLong();
    }
    return -1;
}

// Samples VmRSS on a thread of its own, so the peak is seen even while the
// server's thread is busy in a handler that never returns to the event loop.
class RssSampler
{
public:
    RssSampler()
        : m_baseline(rssKiB())
        , m_peak(m_baseline)
    {
        m_thread = std::thread([this] {
            while (!m_stop) {
                const qint64 now = rssKiB();
                if (now > m_peak)
                    m_peak = now;
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
            }
        });
    }
    ~RssSampler() { stop(); }
    void stop()
    {
        m_stop = true;
        if (m_thread.joinable())
            m_thread.join();
    }
    qint64 baseline() const { return m_baseline; }
    qint64 growthKiB() const { return m_peak - m_baseline; }

private:
    const qint64 m_baseline;
    std::atomic<qint64> m_peak;
    std::atomic<bool> m_stop {false};
    std::thread m_thread;
};

// Bytes whose position can be recognised, so a lost or repeated piece of a
// download changes its digest.
QByteArray pattern(qint64 offset, qsizetype size)
{
    QByteArray bytes(size, Qt::Uninitialized);
    for (qsizetype i = 0; i < size; ++i) {
        const qint64 at = offset + i;
        bytes[i] = char((at * 131 + at / 4093) & 0xff);
    }
    return bytes;
}

// A client that reads only when told to: its Qt read buffer is small, so
// while it does not read, Qt stops taking bytes from the kernel and the
// server's writes stall. Everything after the response head is hashed.
class LazyReader
{
public:
    bool connectTo(quint16 port)
    {
        m_socket.setReadBufferSize(16 * 1024);
        m_socket.connectToHost(QHostAddress::LocalHost, port);
        if (!QTest::qWaitFor([this] { return m_socket.state() == QAbstractSocket::ConnectedState; },
                             5000))
            return false;
        QObject::connect(&m_socket, &QTcpSocket::disconnected, &m_socket,
                         [this] { m_closed = true; });
        QObject::connect(&m_socket, &QAbstractSocket::errorOccurred, &m_socket,
                         [this](QAbstractSocket::SocketError) {
                             if (m_socket.state() == QAbstractSocket::UnconnectedState)
                                 m_closed = true;
                         });
        return true;
    }
    void send(const QByteArray &bytes)
    {
        m_socket.write(bytes);
        m_socket.flush();
    }
    void startReading()
    {
        // From now on at full speed: everything the kernel has, each time.
        m_socket.setReadBufferSize(0);
        QObject::connect(&m_socket, &QTcpSocket::readyRead, &m_socket, [this] { drain(); });
        drain();
    }
    bool waitForBody(qint64 bytes, int timeoutMs)
    {
        return QTest::qWaitFor([&] { return m_bodyBytes >= bytes || m_closed; }, timeoutMs)
               && m_bodyBytes >= bytes;
    }
    bool waitForClosed(int timeoutMs)
    {
        return QTest::qWaitFor([this] { return m_closed; }, timeoutMs);
    }
    QByteArray head() const { return m_head; }
    qint64 bodyBytes() const { return m_bodyBytes; }
    QByteArray digest() const { return m_hash.result(); }
    bool isClosed() const { return m_closed; }
    QTcpSocket &socket() { return m_socket; }

private:
    void drain()
    {
        while (m_socket.bytesAvailable() > 0) {
            QByteArray bytes = m_socket.read(256 * 1024);
            if (m_headDone) {
                m_hash.addData(bytes);
                m_bodyBytes += bytes.size();
                continue;
            }
            m_head += bytes;
            const qsizetype end = m_head.indexOf("\r\n\r\n");
            if (end < 0)
                continue;
            const QByteArray body = m_head.mid(end + 4);
            m_head.truncate(end + 4);
            m_headDone = true;
            m_hash.addData(body);
            m_bodyBytes += body.size();
        }
    }

    QTcpSocket m_socket;
    QByteArray m_head;
    bool m_headDone = false;
    qint64 m_bodyBytes = 0;
    QCryptographicHash m_hash {QCryptographicHash::Sha256};
    bool m_closed = false;
};

struct CurlResult
{
    int exitCode = -1;
    int status = 0;
    QByteArray head;
    QByteArray body;
    QByteArray error;
    QString describe() const
    {
        return QStringLiteral("curl exit %1, status %2, stderr %3, head %4")
                .arg(exitCode)
                .arg(status)
                .arg(QString::fromLatin1(error.left(300)), QString::fromLatin1(head.left(500)));
    }
};

} // namespace

class tst_Limits : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void init();
    void cleanup();

    void uriTooLong();
    void uriTooLongBeforeLineEnds();
    void uriTooLongCurl();
    void headTooLarge();
    void headTooLargeCurl();
    void tooManyHeaders();
    void tooManyHeadersCurl();
    void contentLengthTooLarge();
    void contentLengthTooLargeCurl();
    void chunkedBodyTooLarge();
    void chunkedBodyTooLargeCurl();
    void maxConnections();
    void maxConnectionsPerAddress();
    void headTimeoutSlowloris();
    void headTimeoutSilentConnection();
    void bodyTimeoutStalledBody();
    void bodyTimeoutSlowSteadyBody();
    void keepAliveTimeout();
    void keepAliveTimeoutResetByRequest();
    void staticDownloadIsNotBuffered();
    void staticDownloadCutWhenNeverRead();
    void floodingHandlerIsCut();
    void floodingHandlerMemoryBounded();

private:
    void start(const sluice::Limits &limits);
    CurlResult curl(const QStringList &args);
    Response exchange(Client &client, const QByteArray &request);
    bool waitForConnectionCount(int count, int timeoutMs = 5000);

    std::unique_ptr<sluice::Server> m_server;
    quint16 m_port = 0;
    QString m_curl;
    QTemporaryDir m_home;
    QByteArray m_bigDigest;
};

void tst_Limits::initTestCase()
{
    m_curl = QStandardPaths::findExecutable(QStringLiteral("curl"));
    QVERIFY2(!m_curl.isEmpty(), "curl is needed (apt install curl)");
    QVERIFY(m_home.isValid());
    QFile big(m_home.filePath(QStringLiteral("big.bin")));
    QVERIFY(big.open(QIODevice::WriteOnly));
    QCryptographicHash hash(QCryptographicHash::Sha256);
    for (qint64 offset = 0; offset < BigFileBytes; offset += MiB) {
        const QByteArray block = pattern(offset, MiB);
        hash.addData(block);
        QCOMPARE(big.write(block), MiB);
    }
    big.close();
    m_bigDigest = hash.result();
    QFile small(m_home.filePath(QStringLiteral("small.txt")));
    QVERIFY(small.open(QIODevice::WriteOnly));
    small.write("small file\n");
}

void tst_Limits::init()
{
    g_echoRuns = 0;
    g_floodWrites = 0;
}

void tst_Limits::cleanup()
{
    m_server.reset();
    m_port = 0;
}

void tst_Limits::start(const sluice::Limits &limits)
{
    using sluice::HttpConnect;
    m_server = std::make_unique<sluice::Server>();
    m_server->setLimits(limits);
    m_server->map(QStringLiteral("/hello"), [](HttpConnect &c) { c.response().write("hello"); });
    m_server->map(QStringLiteral("/u/.*"), [](HttpConnect &c) { c.response().write("uri ok"); });
    m_server->map(QStringLiteral("/echo"), [](HttpConnect &c) {
        ++g_echoRuns;
        c.response().write(c.request().body());
    });
    // A handler that ignores drained(): 100 MiB in one go, as fast as it can.
    m_server->map(QStringLiteral("/flood"), [](HttpConnect &c) {
        // A fresh block each time: Qt shares a QByteArray written twice
        // instead of copying it, which would hide what buffering costs.
        for (int i = 0; i < 1600; ++i) {
            c.response().write(QByteArray(64 * 1024, char('a' + i % 26)));
            ++g_floodWrites;
        }
    });
    QVERIFY(m_server->setHome(m_home.path()));
    QVERIFY2(m_server->listen(QHostAddress::LocalHost, 0), qPrintable(m_server->errorString()));
    m_port = m_server->serverPort();
}

CurlResult tst_Limits::curl(const QStringList &args)
{
    // The server runs in this thread: curl must be waited for with the event
    // loop running.
    CurlResult result;
    QProcess process;
    process.start(m_curl, QStringList {QStringLiteral("-sS"), QStringLiteral("--http1.1"),
                                       QStringLiteral("--noproxy"), QStringLiteral("*"),
                                       QStringLiteral("--max-time"), QStringLiteral("15"),
                                       QStringLiteral("-i")}
                                  + args);
    if (!QTest::qWaitFor([&] { return process.state() == QProcess::NotRunning; }, 20000)) {
        process.kill();
        process.waitForFinished(2000);
        result.error = "curl did not finish";
        return result;
    }
    result.exitCode = process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1;
    result.error = process.readAllStandardError();
    const QByteArray out = process.readAllStandardOutput();
    // -i prints every head (a 100 Continue too): the last one is the answer.
    qsizetype start = 0;
    for (;;) {
        const qsizetype end = out.indexOf("\r\n\r\n", start);
        if (end < 0)
            break;
        result.head = out.mid(start, end + 4 - start);
        result.body = out.mid(end + 4);
        start = end + 4;
        if (!result.body.startsWith("HTTP/1."))
            break;
    }
    const QList<QByteArray> statusLine = result.head.left(result.head.indexOf("\r\n")).split(' ');
    if (statusLine.size() >= 2)
        result.status = statusLine.at(1).toInt();
    return result;
}

Response tst_Limits::exchange(Client &client, const QByteArray &request)
{
    client.send(request);
    Response response;
    if (!client.read(&response)) {
        qWarning("%s\n%s", qPrintable(client.errorString()), TRANSCRIPT(client));
        response.status = -1;
    }
    return response;
}

bool tst_Limits::waitForConnectionCount(int count, int timeoutMs)
{
    return QTest::qWaitFor([&] { return m_server->connectionCount() == count; }, timeoutMs);
}

// An error answered by the connection itself: a short text body, and the
// connection closes after it.
#define VERIFY_REFUSAL(client, response, code) \
    do { \
        QVERIFY2((response).status == (code), TRANSCRIPT(client)); \
        QVERIFY2((response).body.startsWith(QByteArray::number(code) + ' '), TRANSCRIPT(client)); \
        QVERIFY2((response).body.size() < 512, TRANSCRIPT(client)); \
        QVERIFY2((response).header("Content-Type").startsWith("text/plain"), TRANSCRIPT(client)); \
        QVERIFY2((response).headerHasToken("Connection", "close"), TRANSCRIPT(client)); \
        QVERIFY2((client).waitForClosed(3000), TRANSCRIPT(client)); \
    } while (false)

void tst_Limits::uriTooLong()
{
    sluice::Limits limits;
    limits.maxUriBytes = 256;
    start(limits);

    // Exactly at the limit is served.
    const QByteArray atLimit = "/u/" + QByteArray(256 - 3, 'a');
    Client ok;
    QVERIFY(ok.connectTo(m_port));
    const Response served = ok.get(atLimit);
    QVERIFY2(served.status == 200, TRANSCRIPT(ok));
    QCOMPARE(served.body, QByteArray("uri ok"));

    Client client;
    QVERIFY(client.connectTo(m_port));
    const Response response = client.get(atLimit + 'a');
    VERIFY_REFUSAL(client, response, 414);
    // Nothing follows the refusal.
    QVERIFY2(client.pending().isEmpty(), TRANSCRIPT(client));
    QVERIFY(waitForConnectionCount(1));
}

void tst_Limits::uriTooLongBeforeLineEnds()
{
    // A request line that never ends must not be buffered until it does.
    sluice::Limits limits;
    limits.maxUriBytes = 256;
    limits.maxHeadBytes = 64 * 1024;
    start(limits);
    Client client;
    QVERIFY(client.connectTo(m_port));
    client.send("GET /u/" + QByteArray(4000, 'b'));
    Response response;
    QVERIFY2(client.read(&response, false, 3000), TRANSCRIPT(client));
    VERIFY_REFUSAL(client, response, 414);
}

void tst_Limits::uriTooLongCurl()
{
    sluice::Limits limits;
    limits.maxUriBytes = 1024;
    start(limits);
    const QString base = QStringLiteral("http://127.0.0.1:%1").arg(m_port);
    CurlResult ok = curl({base + QStringLiteral("/u/") + QString(1021, QLatin1Char('c'))});
    QVERIFY2(ok.exitCode == 0 && ok.status == 200, qPrintable(ok.describe()));
    CurlResult refused = curl({base + QStringLiteral("/u/") + QString(1022, QLatin1Char('c'))});
    QVERIFY2(refused.exitCode == 0 && refused.status == 414, qPrintable(refused.describe()));
    QVERIFY2(refused.body.startsWith("414 URI Too Long"), qPrintable(refused.describe()));
    QVERIFY2(refused.head.contains("\r\nConnection: close\r\n"), qPrintable(refused.describe()));
}

void tst_Limits::headTooLarge()
{
    sluice::Limits limits;
    limits.maxHeadBytes = 2048;
    start(limits);

    const QByteArray request = "GET /hello HTTP/1.1\r\nHost: a\r\nX-Pad: ";
    const QByteArray end = "\r\n\r\n";
    Client ok;
    QVERIFY(ok.connectTo(m_port));
    const Response served = exchange(ok, request + QByteArray(1500, 'p') + end);
    QVERIFY2(served.status == 200, TRANSCRIPT(ok));

    Client client;
    QVERIFY(client.connectTo(m_port));
    const Response response = exchange(client, request + QByteArray(3000, 'p') + end);
    VERIFY_REFUSAL(client, response, 431);

    // A head that keeps coming without an end is refused once past the limit.
    Client endless;
    QVERIFY(endless.connectTo(m_port));
    endless.send(request + QByteArray(5000, 'q'));
    Response refused;
    QVERIFY2(endless.read(&refused, false, 3000), TRANSCRIPT(endless));
    VERIFY_REFUSAL(endless, refused, 431);
}

void tst_Limits::headTooLargeCurl()
{
    sluice::Limits limits;
    limits.maxHeadBytes = 4096;
    start(limits);
    const QString url = QStringLiteral("http://127.0.0.1:%1/hello").arg(m_port);
    CurlResult ok
            = curl({QStringLiteral("-H"), QStringLiteral("X-Pad: ") + QString(3000, 'p'), url});
    QVERIFY2(ok.exitCode == 0 && ok.status == 200, qPrintable(ok.describe()));
    CurlResult refused
            = curl({QStringLiteral("-H"), QStringLiteral("X-Pad: ") + QString(5000, 'p'), url});
    QVERIFY2(refused.exitCode == 0 && refused.status == 431, qPrintable(refused.describe()));
    QVERIFY2(refused.head.contains("\r\nConnection: close\r\n"), qPrintable(refused.describe()));
}

void tst_Limits::tooManyHeaders()
{
    sluice::Limits limits;
    limits.maxHeaderCount = 10;
    start(limits);
    auto request = [](int fields) {
        QByteArray head = "GET /hello HTTP/1.1\r\nHost: a\r\n";
        for (int i = 1; i < fields; ++i)
            head += "X-H" + QByteArray::number(i) + ": v\r\n";
        return head + "\r\n";
    };
    Client ok;
    QVERIFY(ok.connectTo(m_port));
    const Response served = exchange(ok, request(10));
    QVERIFY2(served.status == 200, TRANSCRIPT(ok));

    Client client;
    QVERIFY(client.connectTo(m_port));
    const Response response = exchange(client, request(11));
    VERIFY_REFUSAL(client, response, 431);

    // Many tiny fields, far fewer bytes than maxHeadBytes.
    Client many;
    QVERIFY(many.connectTo(m_port));
    const Response refused = exchange(many, request(1000));
    VERIFY_REFUSAL(many, refused, 431);
}

void tst_Limits::tooManyHeadersCurl()
{
    sluice::Limits limits;
    limits.maxHeaderCount = 20;
    start(limits);
    const QString url = QStringLiteral("http://127.0.0.1:%1/hello").arg(m_port);
    // curl sends Host, User-Agent and Accept itself.
    auto args = [&](int extra) {
        QStringList list;
        for (int i = 0; i < extra; ++i)
            list << QStringLiteral("-H") << QStringLiteral("X-H%1: v").arg(i);
        return list << url;
    };
    CurlResult ok = curl(args(17));
    QVERIFY2(ok.exitCode == 0 && ok.status == 200, qPrintable(ok.describe()));
    CurlResult refused = curl(args(18));
    QVERIFY2(refused.exitCode == 0 && refused.status == 431, qPrintable(refused.describe()));
    QVERIFY2(refused.head.contains("\r\nConnection: close\r\n"), qPrintable(refused.describe()));
}

void tst_Limits::contentLengthTooLarge()
{
    sluice::Limits limits;
    limits.maxBodyBytes = 1000;
    start(limits);

    Client ok;
    QVERIFY(ok.connectTo(m_port));
    const QByteArray body(1000, 'b');
    const Response served
            = exchange(ok, "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n" + body);
    QVERIFY2(served.status == 200 && served.body == body, TRANSCRIPT(ok));
    QCOMPARE(g_echoRuns.load(), 1);

    // Only the head is sent: the answer must not wait for a body it refuses.
    Client client;
    QVERIFY(client.connectTo(m_port));
    client.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1001\r\n\r\n");
    Response response;
    QVERIFY2(client.read(&response, false, 2000), TRANSCRIPT(client));
    VERIFY_REFUSAL(client, response, 413);

    // With Expect: 100-continue, no 100 goes out before the refusal.
    Client expect;
    QVERIFY(expect.connectTo(m_port));
    expect.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 50000000\r\n"
                "Expect: 100-continue\r\n\r\n");
    Response refused;
    QVERIFY2(expect.read(&refused, false, 2000), TRANSCRIPT(expect));
    VERIFY_REFUSAL(expect, refused, 413);
    QVERIFY2(!expect.received().contains("100 Continue"), TRANSCRIPT(expect));
    QCOMPARE(g_echoRuns.load(), 1);
}

void tst_Limits::contentLengthTooLargeCurl()
{
    sluice::Limits limits;
    limits.maxBodyBytes = 64 * 1024;
    start(limits);
    QTemporaryDir dir;
    QFile upload(dir.filePath(QStringLiteral("upload")));
    QVERIFY(upload.open(QIODevice::WriteOnly));
    upload.write(pattern(0, 200 * 1024));
    upload.close();
    const QString url = QStringLiteral("http://127.0.0.1:%1/echo").arg(m_port);
    CurlResult refused
            = curl({QStringLiteral("--data-binary"), QLatin1Char('@') + upload.fileName(), url});
    QVERIFY2(refused.status == 413, qPrintable(refused.describe()));
    QVERIFY2(refused.body.startsWith("413 "), qPrintable(refused.describe()));
    QCOMPARE(g_echoRuns.load(), 0);
    CurlResult ok = curl({QStringLiteral("--data-binary"), QStringLiteral("small"), url});
    QVERIFY2(ok.exitCode == 0 && ok.status == 200 && ok.body == "small", qPrintable(ok.describe()));
}

void tst_Limits::chunkedBodyTooLarge()
{
    sluice::Limits limits;
    limits.maxBodyBytes = 1000;
    start(limits);
    auto chunk = [](qsizetype size, char fill) {
        return QByteArray::number(size, 16) + "\r\n" + QByteArray(size, fill) + "\r\n";
    };
    const QByteArray head = "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";

    Client ok;
    QVERIFY(ok.connectTo(m_port));
    const Response served = exchange(ok, head + chunk(400, 'a') + chunk(400, 'b') + chunk(200, 'c')
                                                 + "0\r\n\r\n");
    QVERIFY2(served.status == 200, TRANSCRIPT(ok));
    QCOMPARE(served.body.size(), 1000);

    // The body grows past the limit chunk by chunk and never ends.
    Client client;
    QVERIFY(client.connectTo(m_port));
    client.send(head);
    for (int i = 0; i < 4 && !client.isClosed() && client.pending().isEmpty(); ++i) {
        client.send(chunk(300, char('k' + i)));
        QTest::qWait(30);
    }
    Response response;
    QVERIFY2(client.read(&response, false, 2000), TRANSCRIPT(client));
    VERIFY_REFUSAL(client, response, 413);
    QCOMPARE(g_echoRuns.load(), 1);
}

void tst_Limits::chunkedBodyTooLargeCurl()
{
    sluice::Limits limits;
    limits.maxBodyBytes = 64 * 1024;
    start(limits);
    QTemporaryDir dir;
    QFile upload(dir.filePath(QStringLiteral("upload")));
    QVERIFY(upload.open(QIODevice::WriteOnly));
    upload.write(pattern(0, 200 * 1024));
    upload.close();
    const QString url = QStringLiteral("http://127.0.0.1:%1/echo").arg(m_port);
    CurlResult refused
            = curl({QStringLiteral("-H"), QStringLiteral("Transfer-Encoding: chunked"),
                    QStringLiteral("--data-binary"), QLatin1Char('@') + upload.fileName(), url});
    QVERIFY2(refused.status == 413, qPrintable(refused.describe()));
    QCOMPARE(g_echoRuns.load(), 0);
}

void tst_Limits::maxConnections()
{
    sluice::Limits limits;
    limits.maxConnections = 3;
    start(limits);
    // Three idle keep-alive connections, each with a request behind it.
    std::vector<std::unique_ptr<Client>> idle;
    for (int i = 0; i < 3; ++i) {
        idle.push_back(std::make_unique<Client>());
        QVERIFY(idle.back()->connectTo(m_port));
        const Response response = idle.back()->get("/hello");
        QVERIFY2(response.status == 200, TRANSCRIPT(*idle.back()));
    }
    QCOMPARE(m_server->connectionCount(), 3);

    Client fourth;
    QVERIFY(fourth.connectTo(m_port));
    fourth.send("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n");
    Response response;
    QVERIFY2(fourth.read(&response, false, 3000), TRANSCRIPT(fourth));
    VERIFY_REFUSAL(fourth, response, 503);

    const QString url = QStringLiteral("http://127.0.0.1:%1/hello").arg(m_port);
    CurlResult refused = curl({url});
    QVERIFY2(refused.status == 503, qPrintable(refused.describe()));
    QVERIFY(waitForConnectionCount(3));

    // The held connections are still served.
    const Response again = idle.front()->get("/hello");
    QVERIFY2(again.status == 200, TRANSCRIPT(*idle.front()));

    // One goes: there is room again.
    idle.front()->abort();
    QVERIFY(waitForConnectionCount(2));
    CurlResult served = curl({url});
    QVERIFY2(served.exitCode == 0 && served.status == 200 && served.body == "hello",
             qPrintable(served.describe()));
}

void tst_Limits::maxConnectionsPerAddress()
{
    sluice::Limits limits;
    limits.maxConnectionsPerAddress = 2;
    start(limits);
    const QHostAddress other(QStringLiteral("127.0.0.2"));
    std::vector<std::unique_ptr<Client>> held;
    for (int i = 0; i < 2; ++i) {
        held.push_back(std::make_unique<Client>());
        QVERIFY(held.back()->socket().bind(other, 0));
        QVERIFY(held.back()->connectTo(m_port));
        QCOMPARE(held.back()->socket().localAddress(), other);
        const Response response = held.back()->get("/hello");
        QVERIFY2(response.status == 200, TRANSCRIPT(*held.back()));
    }

    Client third;
    QVERIFY(third.socket().bind(other, 0));
    QVERIFY(third.connectTo(m_port));
    third.send("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n");
    Response response;
    QVERIFY2(third.read(&response, false, 3000), TRANSCRIPT(third));
    VERIFY_REFUSAL(third, response, 503);

    const QString url = QStringLiteral("http://127.0.0.1:%1/hello").arg(m_port);
    CurlResult refused = curl({QStringLiteral("--interface"), QStringLiteral("127.0.0.2"), url});
    QVERIFY2(refused.status == 503, qPrintable(refused.describe()));

    // Another address is not held back by 127.0.0.2: a held connection and
    // curl, up to its own cap of two.
    Client local;
    QVERIFY(local.connectTo(m_port));
    QVERIFY2(local.get("/hello").status == 200, TRANSCRIPT(local));
    CurlResult served = curl({url});
    QVERIFY2(served.exitCode == 0 && served.status == 200, qPrintable(served.describe()));

    held.front()->abort();
    QVERIFY(waitForConnectionCount(2));
    CurlResult again = curl({QStringLiteral("--interface"), QStringLiteral("127.0.0.2"), url});
    QVERIFY2(again.exitCode == 0 && again.status == 200, qPrintable(again.describe()));
}

void tst_Limits::headTimeoutSlowloris()
{
    sluice::Limits limits;
    limits.headTimeoutMs = 600;
    limits.keepAliveTimeoutMs = 10000;
    start(limits);
    Client client;
    QVERIFY(client.connectTo(m_port));
    // A byte every 40 ms: always something new, never the end of the head.
    const QByteArray head
            = "GET /hello HTTP/1.1\r\nHost: a\r\nX-Slow: " + QByteArray(1000, 's') + "\r\n\r\n";
    qsizetype sent = 0;
    QTimer dribble;
    QObject::connect(&dribble, &QTimer::timeout, &client.socket(), [&] {
        if (!client.isClosed() && sent < head.size())
            client.send(head.mid(sent++, 1));
    });
    QElapsedTimer elapsed;
    elapsed.start();
    client.send(head.mid(sent++, 1));
    dribble.start(40);
    QVERIFY2(client.waitForClosed(5000), TRANSCRIPT(client));
    const qint64 ms = elapsed.elapsed();
    dribble.stop();
    QVERIFY2(ms >= 500 && ms <= 1800, qPrintable(QStringLiteral("closed after %1 ms").arg(ms)));
    QVERIFY2(sent > 10, "the client kept sending until the end");
    Response response;
    QVERIFY2(client.read(&response, false, 100), TRANSCRIPT(client));
    QCOMPARE(response.status, 408);
    QVERIFY2(response.headerHasToken("Connection", "close"), TRANSCRIPT(client));
    QVERIFY(waitForConnectionCount(0));
}

void tst_Limits::headTimeoutSilentConnection()
{
    sluice::Limits limits;
    limits.headTimeoutMs = 600;
    limits.keepAliveTimeoutMs = 10000;
    start(limits);
    Client client;
    QElapsedTimer elapsed;
    elapsed.start();
    QVERIFY(client.connectTo(m_port));
    QVERIFY2(client.waitForClosed(5000), TRANSCRIPT(client));
    const qint64 ms = elapsed.elapsed();
    QVERIFY2(ms >= 500 && ms <= 1800, qPrintable(QStringLiteral("closed after %1 ms").arg(ms)));
    // Whether a 408 is said to a client that said nothing is the server's
    // choice; if anything came, it is that.
    if (!client.received().isEmpty()) {
        Response response;
        QVERIFY2(client.read(&response, false, 100), TRANSCRIPT(client));
        QCOMPARE(response.status, 408);
    }
    QVERIFY(waitForConnectionCount(0));
}

void tst_Limits::bodyTimeoutStalledBody()
{
    sluice::Limits limits;
    limits.bodyTimeoutMs = 600;
    limits.headTimeoutMs = 10000;
    start(limits);
    Client client;
    QVERIFY(client.connectTo(m_port));
    client.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n");
    client.send(QByteArray(10, 'x'));
    QElapsedTimer elapsed;
    elapsed.start();
    QVERIFY2(client.waitForClosed(5000), TRANSCRIPT(client));
    const qint64 ms = elapsed.elapsed();
    QVERIFY2(ms >= 500 && ms <= 1800, qPrintable(QStringLiteral("closed after %1 ms").arg(ms)));
    Response response;
    QVERIFY2(client.read(&response, false, 100), TRANSCRIPT(client));
    QCOMPARE(response.status, 408);
    QVERIFY2(response.headerHasToken("Connection", "close"), TRANSCRIPT(client));
    QCOMPARE(g_echoRuns.load(), 0);
    QVERIFY(waitForConnectionCount(0));
}

void tst_Limits::bodyTimeoutSlowSteadyBody()
{
    sluice::Limits limits;
    limits.bodyTimeoutMs = 600;
    limits.headTimeoutMs = 10000;
    start(limits);
    Client client;
    QVERIFY(client.connectTo(m_port));
    // 12 bytes, one every 200 ms: 2.4 s in all, four times the timeout, but
    // never a pause as long as it.
    const QByteArray body = "slow-but-ok!";
    client.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n");
    QElapsedTimer elapsed;
    elapsed.start();
    client.sendSlowly(body, 1, 200);
    Response response;
    QVERIFY2(client.read(&response, false, 3000), TRANSCRIPT(client));
    QVERIFY2(elapsed.elapsed() >= 2000, "the body took its time");
    QCOMPARE(response.status, 200);
    QCOMPARE(response.body, body);
}

void tst_Limits::keepAliveTimeout()
{
    sluice::Limits limits;
    limits.keepAliveTimeoutMs = 700;
    limits.headTimeoutMs = 10000;
    start(limits);
    Client client;
    QVERIFY(client.connectTo(m_port));
    const Response response = client.get("/hello");
    QVERIFY2(response.status == 200, TRANSCRIPT(client));
    QVERIFY(!response.headerHasToken("Connection", "close"));
    QElapsedTimer elapsed;
    elapsed.start();
    QVERIFY2(client.waitForClosed(5000), TRANSCRIPT(client));
    const qint64 ms = elapsed.elapsed();
    QVERIFY2(ms >= 600 && ms <= 2000, qPrintable(QStringLiteral("closed after %1 ms").arg(ms)));
    // An idle close between requests says nothing: a plain EOF.
    QVERIFY2(client.pending().isEmpty(), TRANSCRIPT(client));
    QVERIFY(waitForConnectionCount(0));
}

void tst_Limits::keepAliveTimeoutResetByRequest()
{
    sluice::Limits limits;
    limits.keepAliveTimeoutMs = 700;
    limits.headTimeoutMs = 10000;
    start(limits);
    Client client;
    QVERIFY(client.connectTo(m_port));
    QVERIFY2(client.get("/hello").status == 200, TRANSCRIPT(client));
    QElapsedTimer sinceFirst;
    sinceFirst.start();
    QVERIFY2(client.staysQuiet(450), TRANSCRIPT(client));
    QVERIFY2(client.get("/hello").status == 200, TRANSCRIPT(client));
    QElapsedTimer sinceSecond;
    sinceSecond.start();
    QVERIFY2(client.waitForClosed(5000), TRANSCRIPT(client));
    const qint64 first = sinceFirst.elapsed();
    const qint64 second = sinceSecond.elapsed();
    QVERIFY2(first >= 1050 && second >= 600 && second <= 2000,
             qPrintable(QStringLiteral("closed %1 ms after the first response, %2 ms after the "
                                       "second")
                                .arg(first)
                                .arg(second)));
}

void tst_Limits::staticDownloadIsNotBuffered()
{
    sluice::Limits limits;
    limits.sendTimeoutMs = 3000;
    limits.maxPendingWriteBytes = 1 * MiB;
    start(limits);
    RssSampler rss;
    QVERIFY(rss.baseline() > 0);

    LazyReader reader;
    QVERIFY(reader.connectTo(m_port));
    reader.send("GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n");
    // The client reads nothing for a while; the server must wait, not buffer.
    QTest::qWait(600);
    QVERIFY2(!reader.isClosed(), "cut well before sendTimeoutMs");
    QCOMPARE(m_server->connectionCount(), 1);

    // Meanwhile others are served.
    CurlResult other = curl({QStringLiteral("http://127.0.0.1:%1/small.txt").arg(m_port)});
    QVERIFY2(other.exitCode == 0 && other.status == 200 && other.body == "small file\n",
             qPrintable(other.describe()));
    const qint64 stalledGrowth = rss.growthKiB();

    // Now it reads: all 64 MiB, intact.
    reader.startReading();
    QVERIFY2(reader.waitForBody(BigFileBytes, 30000),
             qPrintable(QStringLiteral("%1 of %2 bytes; closed %3; head %4")
                                .arg(reader.bodyBytes())
                                .arg(BigFileBytes)
                                .arg(reader.isClosed())
                                .arg(QString::fromLatin1(reader.head()))));
    rss.stop();
    QVERIFY2(reader.head().startsWith("HTTP/1.1 200 "), reader.head().constData());
    QVERIFY2(reader.head().contains("Content-Length: " + QByteArray::number(BigFileBytes)),
             reader.head().constData());
    QCOMPARE(reader.bodyBytes(), BigFileBytes);
    QCOMPARE(reader.digest().toHex(), m_bigDigest.toHex());
    qInfo("RSS baseline %lld KiB; grew %lld KiB while stalled, %lld KiB at the peak",
          rss.baseline(), stalledGrowth, rss.growthKiB());
    // 64 MiB held anywhere in the process would show; the pending-write cap
    // is 1 MiB and the client's buffers are small.
    QVERIFY2(stalledGrowth < 24 * 1024,
             qPrintable(QStringLiteral("RSS grew %1 KiB while stalled").arg(stalledGrowth)));
    QVERIFY2(rss.growthKiB() < 24 * 1024,
             qPrintable(QStringLiteral("RSS grew %1 KiB").arg(rss.growthKiB())));
}

void tst_Limits::staticDownloadCutWhenNeverRead()
{
    sluice::Limits limits;
    limits.sendTimeoutMs = 1000;
    limits.maxPendingWriteBytes = 1 * MiB;
    start(limits);
    qint64 closedAfter = -1;
    QElapsedTimer elapsed;
    QObject::connect(m_server.get(), &sluice::Server::connectionClosed, m_server.get(),
                     [&](quint64) {
                         if (closedAfter < 0)
                             closedAfter = elapsed.elapsed();
                     });
    LazyReader reader;
    QVERIFY(reader.connectTo(m_port));
    elapsed.start();
    reader.send("GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n");
    QVERIFY2(QTest::qWaitFor([&] { return closedAfter >= 0; }, 6000),
             "the server never cut the stalled download");
    QVERIFY2(closedAfter >= 800 && closedAfter <= 2800,
             qPrintable(QStringLiteral("cut after %1 ms").arg(closedAfter)));
    QCOMPARE(m_server->connectionCount(), 0);

    // What the client finds when it finally reads: a cut download.
    reader.startReading();
    QVERIFY(reader.waitForClosed(5000));
    QVERIFY2(reader.bodyBytes() < BigFileBytes,
             qPrintable(QStringLiteral("got %1 bytes").arg(reader.bodyBytes())));

    CurlResult fresh = curl({QStringLiteral("http://127.0.0.1:%1/hello").arg(m_port)});
    QVERIFY2(fresh.exitCode == 0 && fresh.status == 200, qPrintable(fresh.describe()));
}

void tst_Limits::floodingHandlerIsCut()
{
    sluice::Limits limits;
    limits.maxPendingWriteBytes = 1 * MiB;
    limits.sendTimeoutMs = 20000;
    start(limits);
    LazyReader reader;
    QVERIFY(reader.connectTo(m_port));
    reader.send("GET /flood HTTP/1.1\r\nHost: a\r\n\r\n");
    // Cut for passing the cap, not for the (long) send timeout.
    QVERIFY2(waitForConnectionCount(0, 8000), "the flooding response was not cut");
    QCOMPARE(g_floodWrites.load(), 1600);
    reader.startReading();
    QVERIFY(reader.waitForClosed(5000));
    QVERIFY2(reader.bodyBytes() < 100 * MiB,
             qPrintable(QStringLiteral("got %1 bytes").arg(reader.bodyBytes())));

    Client client;
    QVERIFY(client.connectTo(m_port));
    QVERIFY2(client.get("/hello").status == 200, TRANSCRIPT(client));
    CurlResult fresh = curl({QStringLiteral("http://127.0.0.1:%1/hello").arg(m_port)});
    QVERIFY2(fresh.exitCode == 0 && fresh.status == 200, qPrintable(fresh.describe()));
}

void tst_Limits::floodingHandlerMemoryBounded()
{
    // What the cap is for: 100 MiB written by a handler that ignores
    // drained() must not be held in memory for a client that reads nothing.
    sluice::Limits limits;
    limits.maxPendingWriteBytes = 1 * MiB;
    limits.sendTimeoutMs = 20000;
    start(limits);
    RssSampler rss;
    QVERIFY(rss.baseline() > 0);
    LazyReader reader;
    QVERIFY(reader.connectTo(m_port));
    reader.send("GET /flood HTTP/1.1\r\nHost: a\r\n\r\n");
    // The handler runs in one go; whatever it left in memory is there now.
    QVERIFY(QTest::qWaitFor([] { return g_floodWrites.load() == 1600; }, 8000));
    QTest::qWait(100);
    rss.stop();
    qInfo("RSS baseline %lld KiB, peak growth %lld KiB", rss.baseline(), rss.growthKiB());
    QVERIFY2(rss.growthKiB() < 32 * 1024,
             qPrintable(QStringLiteral("RSS grew %1 KiB while a handler wrote 100 MiB")
                                .arg(rss.growthKiB())));
}

QTEST_GUILESS_MAIN(tst_Limits)
#include "tst_limits.moc"
