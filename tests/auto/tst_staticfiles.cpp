#include "testclient.h"

#include <sluice/server.h>
#include <sluice/staticfiles.h>

#include <QtCore/QDir>
#include <QtCore/QElapsedTimer>
#include <QtCore/QFile>
#include <QtCore/QLibraryInfo>
#include <QtCore/QMimeDatabase>
#include <QtCore/QProcess>
#include <QtCore/QRegularExpression>
#include <QtCore/QResource>
#include <QtCore/QTemporaryDir>
#include <QtTest/QtTest>

#include <memory>

using testclient::Client;
using testclient::Response;

namespace {

// Never served: it lies next to home, not in it.
const QByteArray SecretText = "TOP-SECRET-5f0e7c1d outside home\n";
const QByteArray FileTxtText = "the file named file.txt\n";

// Whole seconds, so that Last-Modified carries the file time exactly.
const QDateTime FileTime(QDate(2021, 3, 4), QTime(5, 6, 7), Qt::UTC);
const QByteArray FileTimeHttp = "Thu, 04 Mar 2021 05:06:07 GMT";

constexpr qint64 LargeSize = 3 * 1024 * 1024 + 123;

// Bytes that differ from their neighbours at every offset, so a slice taken
// from the wrong place cannot compare equal.
QByteArray patterned(qint64 size, quint32 seed = 0)
{
    QByteArray data(size, Qt::Uninitialized);
    for (qint64 i = 0; i < size; ++i)
        data[i] = char(((quint32(i) + seed) * 2654435761u) >> 24);
    return data;
}

QByteArray httpDate(const QDateTime &time)
{
    return QLocale::c()
            .toString(time.toUTC(), QStringLiteral("ddd, dd MMM yyyy hh:mm:ss 'GMT'"))
            .toLatin1();
}

bool writeFile(const QString &path, const QByteArray &data, const QDateTime &time = FileTime)
{
    QFile file(path);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate) || file.write(data) != data.size())
        return false;
    file.flush();
    return file.setFileTime(time, QFileDevice::FileModificationTime);
}

QString mimeName(const QString &fileName)
{
    return QMimeDatabase().mimeTypeForFile(fileName, QMimeDatabase::MatchExtension).name();
}

QByteArray describe(const Response &r)
{
    return "status " + QByteArray::number(r.status) + "\n" + r.raw.left(1500);
}

struct BodyPart
{
    QList<QPair<QByteArray, QByteArray>> headers;
    QByteArray body;

    QByteArray header(QByteArrayView name) const
    {
        for (const auto &header : headers) {
            if (header.first.compare(name, Qt::CaseInsensitive) == 0)
                return header.second;
        }
        return QByteArray();
    }
};

QByteArray boundaryOf(const QByteArray &contentType)
{
    const qsizetype at = contentType.indexOf("boundary=");
    if (at < 0)
        return QByteArray();
    QByteArray boundary = contentType.mid(at + 9);
    const qsizetype semicolon = boundary.indexOf(';');
    if (semicolon >= 0)
        boundary.truncate(semicolon);
    boundary = boundary.trimmed();
    if (boundary.size() >= 2 && boundary.startsWith('"') && boundary.endsWith('"'))
        boundary = boundary.mid(1, boundary.size() - 2);
    return boundary;
}

// multipart/byteranges as RFC 2046 section 5.1.1 frames it: an optional
// preamble, "--boundary" lines each followed by headers, an empty line and
// the data, and "--boundary--" at the end.
bool parseMultipart(const QByteArray &body, const QByteArray &boundary, QList<BodyPart> *parts,
                    QString *error)
{
    if (boundary.isEmpty()) {
        *error = QStringLiteral("no boundary");
        return false;
    }
    // The first delimiter may open the body without the CRLF the others have.
    const QByteArray data = "\r\n" + body;
    const QByteArray delimiter = "\r\n--" + boundary;
    qsizetype pos = data.indexOf(delimiter);
    if (pos < 0) {
        *error = QStringLiteral("no delimiter");
        return false;
    }
    for (;;) {
        pos += delimiter.size();
        if (data.mid(pos, 2) == "--") {
            const QByteArray epilogue = data.mid(pos + 2);
            if (!epilogue.isEmpty() && !epilogue.startsWith("\r\n")) {
                *error = QStringLiteral("junk after the close delimiter");
                return false;
            }
            return true;
        }
        if (data.mid(pos, 2) != "\r\n") {
            *error = QStringLiteral("delimiter not followed by CRLF at %1").arg(pos);
            return false;
        }
        pos += 2;
        BodyPart part;
        for (;;) {
            const qsizetype lineEnd = data.indexOf("\r\n", pos);
            if (lineEnd < 0) {
                *error = QStringLiteral("part headers not terminated");
                return false;
            }
            const QByteArray line = data.mid(pos, lineEnd - pos);
            pos = lineEnd + 2;
            if (line.isEmpty())
                break;
            const qsizetype colon = line.indexOf(':');
            if (colon <= 0) {
                *error = QStringLiteral("bad part header: ") + QString::fromLatin1(line);
                return false;
            }
            part.headers.append({line.left(colon).trimmed(), line.mid(colon + 1).trimmed()});
        }
        const qsizetype next = data.indexOf(delimiter, pos);
        if (next < 0) {
            *error = QStringLiteral("part not closed by a delimiter");
            return false;
        }
        part.body = data.mid(pos, next - pos);
        parts->append(part);
        pos = next;
    }
}

} // namespace

class tst_StaticFiles : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();

    void contentTypes_data();
    void contentTypes();
    void rootIndex();
    void subdirectoryIndex();
    void directoryRedirect_data();
    void directoryRedirect();
    void directoryWithoutIndexForbidden();
    void directoryListing();
    void validatorHeaders();
    void cacheControlSetting();
    void ifNoneMatch_data();
    void ifNoneMatch();
    void ifModifiedSince_data();
    void ifModifiedSince();
    void ifMatch_data();
    void ifMatch();
    void ifUnmodifiedSince_data();
    void ifUnmodifiedSince();
    void singleRange_data();
    void singleRange();
    void multipleRanges();
    void multipleRangesOfLargeFile();
    void rangeLimit();
    void ifRange_data();
    void ifRange();
    void unsatisfiableRange_data();
    void unsatisfiableRange();
    void malformedRange_data();
    void malformedRange();
    void head();
    void headOfLargeFile();
    void otherMethodsNotAllowed_data();
    void otherMethodsNotAllowed();
    void notFound();
    void pathSafety_data();
    void pathSafety();
    void symlinks();
    void followSymlinks();
    void encodedNames_data();
    void encodedNames();
    void largeFile();
    void largeFileRange_data();
    void largeFileRange();
    void largeFileHttp10();
    void keepAliveAfterStreaming();
    void pipelinedAfterStreaming();
    void changedFileServedFresh();
    void memoryCacheBound();
    void memoryCacheOff();
    void slowReader();
    void clientDisconnectsMidDownload();
    void compiledInResources();

private:
    QString home(const QString &relative = QString()) const
    {
        return relative.isEmpty() ? m_home : m_home + u'/' + relative;
    }
    quint16 port() const { return m_server->serverPort(); }
    std::unique_ptr<sluice::Server> serve(const sluice::StaticFiles &files);
    Response fetch(const QByteArray &target, const QByteArray &headers = QByteArray(),
                   const QByteArray &method = "GET", quint16 onPort = 0);
    QByteArray etagOf(const QByteArray &target);

    QTemporaryDir m_root;
    QString m_home;
    QHash<QString, QByteArray> m_content; // by path under home
    sluice::StaticFiles m_files {QString()};
    std::unique_ptr<sluice::Server> m_server;
};

std::unique_ptr<sluice::Server> tst_StaticFiles::serve(const sluice::StaticFiles &files)
{
    auto server = std::make_unique<sluice::Server>();
    if (!server->setHome(files)) {
        qWarning() << "setHome:" << server->errorString();
        return nullptr;
    }
    if (!server->listen(QHostAddress::LocalHost, 0)) {
        qWarning() << "listen:" << server->errorString();
        return nullptr;
    }
    return server;
}

// One request on a connection of its own; status -1 when no complete
// response came (the exchange is then in raw).
Response tst_StaticFiles::fetch(const QByteArray &target, const QByteArray &headers,
                                const QByteArray &method, quint16 onPort)
{
    Client client;
    Response response;
    if (!client.connectTo(onPort ? onPort : port())) {
        response.status = -2;
        response.raw = client.errorString().toLatin1();
        return response;
    }
    client.send(method + ' ' + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers + "\r\n");
    if (!client.read(&response, method == "HEAD", 20000)) {
        response = Response();
        response.status = -1;
        response.raw = client.errorString().toLatin1() + '\n' + client.transcript();
    }
    return response;
}

QByteArray tst_StaticFiles::etagOf(const QByteArray &target)
{
    return fetch(target).header("ETag");
}

void tst_StaticFiles::initTestCase()
{
    QVERIFY(m_root.isValid());
    const QString root = m_root.path();
    m_home = root + QStringLiteral("/home");
    QDir dir(root);
    for (const char *sub : {"home", "home/sub", "home/empty", "home/listed", "home/listed/nested",
                            "home/my dir", "home/.git", "home/cache", "outside"}) {
        QVERIFY(dir.mkpath(QString::fromLatin1(sub)));
    }
    QVERIFY(writeFile(root + QStringLiteral("/secret.txt"), SecretText));
    QVERIFY(writeFile(root + QStringLiteral("/outside/secret2.txt"), SecretText));

    const QList<QPair<QString, QByteArray>> files = {
            {QStringLiteral("index.html"), "<!DOCTYPE html><title>root</title>root index\n"},
            {QStringLiteral("style.css"), "body { color: #123; }\n"},
            {QStringLiteral("app.js"), "console.log('app');\n"},
            {QStringLiteral("data.json"), "{\"a\": [1, 2, 3]}\n"},
            {QStringLiteral("notes.txt"), "Some notes for the static file tests.\n"},
            {QStringLiteral("image.png"), QByteArray("\x89PNG\r\n\x1a\n", 8) + patterned(200, 7)},
            {QStringLiteral("digits.txt"), patterned(100, 3).toHex().left(100)},
            {QStringLiteral("file.txt"), FileTxtText},
            {QStringLiteral("with space.txt"), "a name with a space\n"},
            {QString::fromUtf8("\xc3\xbc"
                               "ber \xe6\x97\xa5\xe6\x9c\xac.txt"),
             "utf-8 name\n"},
            {QStringLiteral(".hidden"), "a dot file\n"},
            {QStringLiteral(".git/config"), "[core]\n\tbare = false\n"},
            {QStringLiteral("sub/index.html"), "<p>sub index</p>\n"},
            {QStringLiteral("sub/page.txt"), "a page in sub\n"},
            {QStringLiteral("my dir/index.html"), "<p>my dir</p>\n"},
            {QStringLiteral("empty/plain.txt"), "in a folder without index\n"},
            {QStringLiteral("listed/plain.txt"), "listed plain\n"},
            {QStringLiteral("listed/a<b>&\"q\".txt"), "the oddly named file\n"},
            {QStringLiteral("listed/.dotfile"), "not to be listed\n"},
            {QStringLiteral("listed/nested/deep.txt"), "deep\n"},
            {QStringLiteral("large.bin"), patterned(LargeSize, 11)},
            {QStringLiteral("cache/c1.txt"), patterned(40 * 1024, 1).toHex().left(40 * 1024)},
            {QStringLiteral("cache/c2.txt"), patterned(40 * 1024, 2).toHex().left(40 * 1024)},
            {QStringLiteral("cache/c3.txt"), patterned(40 * 1024, 3).toHex().left(40 * 1024)},
            {QStringLiteral("cache/c4.txt"), patterned(40 * 1024, 4).toHex().left(40 * 1024)},
            {QStringLiteral("cache/c5.txt"), patterned(40 * 1024, 5).toHex().left(40 * 1024)},
            {QStringLiteral("cache/big80.txt"), patterned(80 * 1024, 6).toHex().left(80 * 1024)},
    };
    for (const auto &file : files) {
        QVERIFY2(writeFile(home(file.first), file.second), qPrintable(file.first));
        m_content.insert(file.first, file.second);
    }
    QCOMPARE(m_content.value(QStringLiteral("digits.txt")).size(), 100);

    // Links: one out of home to a file, one to a folder, one within home.
    QVERIFY(QFile::link(QStringLiteral("../secret.txt"), home(QStringLiteral("out.txt"))));
    QVERIFY(QFile::link(QStringLiteral("../outside"), home(QStringLiteral("outdir"))));
    QVERIFY(QFile::link(QStringLiteral("notes.txt"), home(QStringLiteral("in.txt"))));
    QVERIFY(QFile::link(root + QStringLiteral("/secret.txt"), home(QStringLiteral("abs.txt"))));

    m_files = sluice::StaticFiles(m_home);
    QVERIFY(m_files.isValid());
    QCOMPARE(m_files.home(), m_home);
    QVERIFY(!m_files.directoryListing());
    QVERIFY(!m_files.followSymlinks());
    QCOMPARE(m_files.cacheControl(), QByteArray("no-cache"));
    m_server = serve(m_files);
    QVERIFY(m_server);
}

void tst_StaticFiles::cleanupTestCase()
{
    m_server.reset();
}

void tst_StaticFiles::contentTypes_data()
{
    QTest::addColumn<QString>("file");
    QTest::addColumn<bool>("text");
    QTest::newRow("html") << QStringLiteral("index.html") << true;
    QTest::newRow("css") << QStringLiteral("style.css") << true;
    QTest::newRow("js") << QStringLiteral("app.js") << true;
    QTest::newRow("json") << QStringLiteral("data.json") << true;
    QTest::newRow("txt") << QStringLiteral("notes.txt") << true;
    QTest::newRow("png") << QStringLiteral("image.png") << false;
}

void tst_StaticFiles::contentTypes()
{
    QFETCH(QString, file);
    QFETCH(bool, text);
    const Response r = fetch('/' + file.toUtf8());
    QVERIFY2(r.status == 200, describe(r));
    QCOMPARE(r.body, m_content.value(file));
    QCOMPARE(r.header("Content-Length"), QByteArray::number(m_content.value(file).size()));
    const QByteArray expected
            = mimeName(file).toLatin1() + (text ? QByteArray("; charset=utf-8") : QByteArray());
    QCOMPARE(r.header("Content-Type"), expected);
    if (!text)
        QCOMPARE(r.header("Content-Type"), QByteArray("image/png"));
}

void tst_StaticFiles::rootIndex()
{
    const Response r = fetch("/");
    QVERIFY2(r.status == 200, describe(r));
    QCOMPARE(r.body, m_content.value(QStringLiteral("index.html")));
    QCOMPARE(r.header("Content-Type"), QByteArray("text/html; charset=utf-8"));
    QVERIFY(r.hasHeader("ETag"));
}

void tst_StaticFiles::subdirectoryIndex()
{
    Response r = fetch("/sub/");
    QVERIFY2(r.status == 200, describe(r));
    QCOMPARE(r.body, m_content.value(QStringLiteral("sub/index.html")));
    QCOMPARE(r.header("Content-Type"), QByteArray("text/html; charset=utf-8"));
    r = fetch("/my%20dir/");
    QVERIFY2(r.status == 200, describe(r));
    QCOMPARE(r.body, m_content.value(QStringLiteral("my dir/index.html")));
    r = fetch("/sub/page.txt");
    QCOMPARE(r.body, m_content.value(QStringLiteral("sub/page.txt")));
}

void tst_StaticFiles::directoryRedirect_data()
{
    QTest::addColumn<QByteArray>("target");
    QTest::addColumn<QByteArray>("location");
    QTest::newRow("plain") << QByteArray("/sub") << QByteArray("/sub/");
    QTest::newRow("query") << QByteArray("/sub?x=1&y=a%20b") << QByteArray("/sub/?x=1&y=a%20b");
    QTest::newRow("encoded name") << QByteArray("/my%20dir") << QByteArray("/my%20dir/");
    QTest::newRow("encoded name, query")
            << QByteArray("/my%20dir?q=%C3%BC") << QByteArray("/my%20dir/?q=%C3%BC");
    QTest::newRow("without index") << QByteArray("/empty") << QByteArray("/empty/");
    QTest::newRow("nested") << QByteArray("/listed/nested?z") << QByteArray("/listed/nested/?z");
}

void tst_StaticFiles::directoryRedirect()
{
    QFETCH(QByteArray, target);
    QFETCH(QByteArray, location);
    const Response r = fetch(target);
    QVERIFY2(r.status == 301, describe(r));
    QCOMPARE(r.header("Location"), location);
}

void tst_StaticFiles::directoryWithoutIndexForbidden()
{
    for (const QByteArray &target : {QByteArray("/empty/"), QByteArray("/listed/")}) {
        const Response r = fetch(target);
        QVERIFY2(r.status == 403, describe(r));
        QVERIFY2(!r.body.contains("plain.txt"), r.body);
        QVERIFY2(r.body.startsWith("403 Forbidden\n"), r.body);
    }
}

void tst_StaticFiles::directoryListing()
{
    sluice::StaticFiles files(m_home);
    files.setDirectoryListing(true);
    QVERIFY(files.directoryListing());
    const auto server = serve(files);
    QVERIFY(server);

    const Response r = fetch("/listed/", {}, "GET", server->serverPort());
    QVERIFY2(r.status == 200, describe(r));
    QCOMPARE(r.header("Content-Type"), QByteArray("text/html; charset=utf-8"));
    QVERIFY2(r.body.contains("plain.txt"), r.body);
    QVERIFY2(r.body.contains("nested"), r.body);
    // The odd name appears escaped, never as markup.
    QVERIFY2(r.body.contains("a&lt;b&gt;&amp;&quot;q&quot;.txt"), r.body);
    QVERIFY2(!r.body.contains("a<b>"), r.body);
    // A file that is never served is not named either.
    QVERIFY2(!r.body.contains(".dotfile"), r.body);

    // Every link in the page leads somewhere that answers.
    QStringList hrefs;
    QRegularExpression hrefPattern(QStringLiteral("href=\"([^\"]*)\""));
    for (auto it = hrefPattern.globalMatch(QString::fromUtf8(r.body)); it.hasNext();)
        hrefs.append(it.next().captured(1));
    QVERIFY2(hrefs.size() >= 3, r.body);
    bool oddFound = false;
    for (const QString &href : std::as_const(hrefs)) {
        if (href == QLatin1String("../"))
            continue;
        QVERIFY2(!href.contains(u'<') && !href.contains(u'&') && !href.contains(u' '),
                 qPrintable(href));
        const Response linked = fetch("/listed/" + href.toUtf8(), {}, "GET", server->serverPort());
        QVERIFY2(linked.status == 200,
                 qPrintable(href + u'\n' + QString::fromLatin1(describe(linked))));
        if (linked.body == m_content.value(QStringLiteral("listed/a<b>&\"q\".txt")))
            oddFound = true;
    }
    QVERIFY2(oddFound, qPrintable(hrefs.join(u' ')));

    // Listing does not lift the other refusals.
    QCOMPARE(fetch("/listed/.dotfile", {}, "GET", server->serverPort()).status, 404);
    QCOMPARE(fetch("/outdir/", {}, "GET", server->serverPort()).status, 403);
}

void tst_StaticFiles::validatorHeaders()
{
    const Response r = fetch("/notes.txt");
    QVERIFY2(r.status == 200, describe(r));
    const QByteArray etag = r.header("ETag");
    QVERIFY2(etag.size() > 2 && etag.startsWith('"') && etag.endsWith('"') && etag.count('"') == 2,
             etag);
    QCOMPARE(r.header("Last-Modified"), FileTimeHttp);
    QCOMPARE(r.header("Cache-Control"), QByteArray("no-cache"));
    QCOMPARE(r.header("Accept-Ranges"), QByteArray("bytes"));
    QCOMPARE(r.header("Server"), QByteArray("Sluice/0.1.0"));
    QVERIFY(r.header("Date").endsWith(" GMT"));
    // Stable across requests, different between files.
    QCOMPARE(etagOf("/notes.txt"), etag);
    QVERIFY(etagOf("/style.css") != etag);
    QVERIFY(!etagOf("/large.bin").isEmpty());
}

void tst_StaticFiles::cacheControlSetting()
{
    sluice::StaticFiles files(m_home);
    files.setCacheControl("public, max-age=60");
    QCOMPARE(files.cacheControl(), QByteArray("public, max-age=60"));
    const auto server = serve(files);
    QVERIFY(server);
    const Response r = fetch("/notes.txt", {}, "GET", server->serverPort());
    QVERIFY2(r.status == 200, describe(r));
    QCOMPARE(r.header("Cache-Control"), QByteArray("public, max-age=60"));
    QCOMPARE(r.headerValues("Cache-Control").size(), 1);
}

void tst_StaticFiles::ifNoneMatch_data()
{
    QTest::addColumn<QByteArray>("value"); // "ETAG" stands for the current ETag
    QTest::addColumn<int>("status");
    QTest::newRow("exact") << QByteArray("ETAG") << 304;
    QTest::newRow("list") << QByteArray("\"nope\", ETAG, \"other\"") << 304;
    QTest::newRow("list without spaces") << QByteArray("\"nope\",ETAG") << 304;
    QTest::newRow("weak") << QByteArray("W/ETAG") << 304;
    QTest::newRow("star") << QByteArray("*") << 304;
    QTest::newRow("other") << QByteArray("\"nope\"") << 200;
    QTest::newRow("other list") << QByteArray("\"nope\", W/\"nope2\"") << 200;
}

void tst_StaticFiles::ifNoneMatch()
{
    QFETCH(QByteArray, value);
    QFETCH(int, status);
    const QByteArray etag = etagOf("/notes.txt");
    QVERIFY(!etag.isEmpty());
    value.replace("ETAG", etag);

    Client client;
    QVERIFY(client.connectTo(port()));
    Response r = client.get("/notes.txt", "If-None-Match: " + value + "\r\n");
    QVERIFY2(r.status == status, TRANSCRIPT(client));
    const QByteArray content = m_content.value(QStringLiteral("notes.txt"));
    if (status == 304) {
        QVERIFY(r.body.isEmpty());
        QCOMPARE(r.header("ETag"), etag);
        // RFC 9110 8.6: a 304 carries no Content-Length, or the 200's one.
        if (r.hasHeader("Content-Length"))
            QCOMPARE(r.header("Content-Length"), QByteArray::number(content.size()));
    } else {
        QCOMPARE(r.body, content);
    }
    // The same connection goes on: nothing stray followed the 304.
    r = client.get("/digits.txt");
    QVERIFY2(r.status == 200, TRANSCRIPT(client));
    QCOMPARE(r.body, m_content.value(QStringLiteral("digits.txt")));
    QVERIFY(client.staysQuiet(100));
    QVERIFY2(client.pending().isEmpty(), client.pending());
}

void tst_StaticFiles::ifModifiedSince_data()
{
    QTest::addColumn<QByteArray>("headers");
    QTest::addColumn<int>("status");
    QTest::newRow("equal") << "If-Modified-Since: " + FileTimeHttp + "\r\n" << 304;
    QTest::newRow("later") << "If-Modified-Since: " + httpDate(FileTime.addDays(1)) + "\r\n" << 304;
    QTest::newRow("earlier") << "If-Modified-Since: " + httpDate(FileTime.addSecs(-1)) + "\r\n"
                             << 200;
    QTest::newRow("much earlier") << "If-Modified-Since: " + httpDate(FileTime.addYears(-10))
                                             + "\r\n"
                                  << 200;
    QTest::newRow("garbage") << QByteArray("If-Modified-Since: yesterday-ish\r\n") << 200;
    QTest::newRow("empty") << QByteArray("If-Modified-Since: \r\n") << 200;
    // RFC 9110 13.2.2: If-None-Match, when present, decides alone.
    QTest::newRow("if-none-match mismatch wins")
            << "If-None-Match: \"nope\"\r\nIf-Modified-Since: " + FileTimeHttp + "\r\n"
            << 200;
}

void tst_StaticFiles::ifModifiedSince()
{
    QFETCH(QByteArray, headers);
    QFETCH(int, status);
    Client client;
    QVERIFY(client.connectTo(port()));
    Response r = client.get("/notes.txt", headers);
    QVERIFY2(r.status == status, TRANSCRIPT(client));
    if (status == 304)
        QVERIFY(r.body.isEmpty());
    else
        QCOMPARE(r.body, m_content.value(QStringLiteral("notes.txt")));
    r = client.get("/style.css");
    QVERIFY2(r.status == 200, TRANSCRIPT(client));
    QCOMPARE(r.body, m_content.value(QStringLiteral("style.css")));
}

void tst_StaticFiles::ifMatch_data()
{
    QTest::addColumn<QByteArray>("value");
    QTest::addColumn<int>("status");
    QTest::newRow("match") << QByteArray("ETAG") << 200;
    QTest::newRow("in list") << QByteArray("\"nope\", ETAG") << 200;
    QTest::newRow("star") << QByteArray("*") << 200;
    QTest::newRow("mismatch") << QByteArray("\"nope\"") << 412;
    // If-Match compares strongly (RFC 9110 13.1.1): a weak tag never matches.
    QTest::newRow("weak") << QByteArray("W/ETAG") << 412;
}

void tst_StaticFiles::ifMatch()
{
    QFETCH(QByteArray, value);
    QFETCH(int, status);
    const QByteArray etag = etagOf("/notes.txt");
    value.replace("ETAG", etag);
    const Response r = fetch("/notes.txt", "If-Match: " + value + "\r\n");
    QVERIFY2(r.status == status, describe(r));
    if (status == 412) {
        QVERIFY2(r.body.startsWith("412 Precondition Failed\n"), r.body);
        QVERIFY(!r.body.contains(m_content.value(QStringLiteral("notes.txt"))));
    } else {
        QCOMPARE(r.body, m_content.value(QStringLiteral("notes.txt")));
    }
}

void tst_StaticFiles::ifUnmodifiedSince_data()
{
    QTest::addColumn<QByteArray>("date");
    QTest::addColumn<int>("status");
    QTest::newRow("before") << httpDate(FileTime.addSecs(-1)) << 412;
    QTest::newRow("long before") << httpDate(FileTime.addYears(-3)) << 412;
    QTest::newRow("equal") << FileTimeHttp << 200;
    QTest::newRow("after") << httpDate(FileTime.addDays(2)) << 200;
    QTest::newRow("garbage") << QByteArray("not a date") << 200;
}

void tst_StaticFiles::ifUnmodifiedSince()
{
    QFETCH(QByteArray, date);
    QFETCH(int, status);
    const Response r = fetch("/notes.txt", "If-Unmodified-Since: " + date + "\r\n");
    QVERIFY2(r.status == status, describe(r));
    if (status == 200)
        QCOMPARE(r.body, m_content.value(QStringLiteral("notes.txt")));
    else
        QVERIFY(!r.body.contains(m_content.value(QStringLiteral("notes.txt"))));
}

void tst_StaticFiles::singleRange_data()
{
    QTest::addColumn<QByteArray>("range");
    QTest::addColumn<int>("first");
    QTest::addColumn<int>("last");
    QTest::newRow("0-9") << QByteArray("bytes=0-9") << 0 << 9;
    QTest::newRow("5-") << QByteArray("bytes=5-") << 5 << 99;
    QTest::newRow("-4") << QByteArray("bytes=-4") << 96 << 99;
    QTest::newRow("one byte") << QByteArray("bytes=42-42") << 42 << 42;
    QTest::newRow("last byte") << QByteArray("bytes=99-") << 99 << 99;
    QTest::newRow("past the end") << QByteArray("bytes=90-1000") << 90 << 99;
    QTest::newRow("suffix longer than file") << QByteArray("bytes=-1000") << 0 << 99;
    QTest::newRow("spaces") << QByteArray("bytes= 10-19") << 10 << 19;
}

void tst_StaticFiles::singleRange()
{
    QFETCH(QByteArray, range);
    QFETCH(int, first);
    QFETCH(int, last);
    const QByteArray content = m_content.value(QStringLiteral("digits.txt"));
    const Response r = fetch("/digits.txt", "Range: " + range + "\r\n");
    QVERIFY2(r.status == 206, describe(r));
    QCOMPARE(r.body, content.mid(first, last - first + 1));
    QCOMPARE(r.header("Content-Range"),
             "bytes " + QByteArray::number(first) + '-' + QByteArray::number(last) + "/100");
    QCOMPARE(r.header("Content-Length"), QByteArray::number(last - first + 1));
    QCOMPARE(r.header("Content-Type"), QByteArray("text/plain; charset=utf-8"));
    QVERIFY(r.hasHeader("ETag"));
}

void tst_StaticFiles::multipleRanges()
{
    const QByteArray content = m_content.value(QStringLiteral("digits.txt"));
    const Response r = fetch("/digits.txt", "Range: bytes=0-1,5-6,-3\r\n");
    QVERIFY2(r.status == 206, describe(r));
    const QByteArray contentType = r.header("Content-Type");
    QVERIFY2(contentType.startsWith("multipart/byteranges"), contentType);
    QVERIFY(!r.hasHeader("Content-Range"));
    QCOMPARE(r.header("Content-Length"), QByteArray::number(r.body.size()));
    QList<BodyPart> parts;
    QString error;
    QVERIFY2(parseMultipart(r.body, boundaryOf(contentType), &parts, &error),
             qPrintable(error + u'\n' + QString::fromLatin1(r.body)));
    QCOMPARE(parts.size(), 3);
    const struct
    {
        int first;
        int last;
    } expected[] = {{0, 1}, {5, 6}, {97, 99}};
    for (int i = 0; i < 3; ++i) {
        QCOMPARE(parts.at(i).body,
                 content.mid(expected[i].first, expected[i].last - expected[i].first + 1));
        QCOMPARE(parts.at(i).header("Content-Range"),
                 "bytes " + QByteArray::number(expected[i].first) + '-'
                         + QByteArray::number(expected[i].last) + "/100");
        QCOMPARE(parts.at(i).header("Content-Type"), QByteArray("text/plain; charset=utf-8"));
    }
}

void tst_StaticFiles::multipleRangesOfLargeFile()
{
    // Streamed from disk rather than the memory cache.
    const QByteArray content = m_content.value(QStringLiteral("large.bin"));
    const Response r = fetch("/large.bin", "Range: bytes=0-99,1000000-1299999,-70000\r\n");
    QVERIFY2(r.status == 206, describe(r));
    QList<BodyPart> parts;
    QString error;
    QVERIFY2(parseMultipart(r.body, boundaryOf(r.header("Content-Type")), &parts, &error),
             qPrintable(error));
    QCOMPARE(r.header("Content-Length"), QByteArray::number(r.body.size()));
    QCOMPARE(parts.size(), 3);
    QCOMPARE(parts.at(0).body, content.mid(0, 100));
    QCOMPARE(parts.at(1).body, content.mid(1000000, 300000));
    QCOMPARE(parts.at(2).body, content.right(70000));
    const QByteArray size = QByteArray::number(LargeSize);
    QCOMPARE(parts.at(0).header("Content-Range"), "bytes 0-99/" + size);
    QCOMPARE(parts.at(1).header("Content-Range"), "bytes 1000000-1299999/" + size);
    QCOMPARE(parts.at(2).header("Content-Range"), "bytes " + QByteArray::number(LargeSize - 70000)
                                                          + '-' + QByteArray::number(LargeSize - 1)
                                                          + '/' + size);
    QCOMPARE(parts.at(2).header("Content-Type"), QByteArray("application/octet-stream"));
}

void tst_StaticFiles::rangeLimit()
{
    // 16 ranges are served; a 17th makes the whole header ignored.
    QByteArray sixteen = "bytes=";
    for (int i = 0; i < 16; ++i)
        sixteen += (i ? "," : "") + QByteArray::number(i * 6) + '-' + QByteArray::number(i * 6 + 1);
    Response r = fetch("/digits.txt", "Range: " + sixteen + "\r\n");
    QVERIFY2(r.status == 206, describe(r));
    QList<BodyPart> parts;
    QString error;
    QVERIFY2(parseMultipart(r.body, boundaryOf(r.header("Content-Type")), &parts, &error),
             qPrintable(error));
    QCOMPARE(parts.size(), 16);
    QCOMPARE(parts.at(15).body, m_content.value(QStringLiteral("digits.txt")).mid(90, 2));

    r = fetch("/digits.txt", "Range: " + sixteen + ",97-98\r\n");
    QVERIFY2(r.status == 200, describe(r));
    QCOMPARE(r.body, m_content.value(QStringLiteral("digits.txt")));
    QVERIFY(!r.hasHeader("Content-Range"));
}

void tst_StaticFiles::ifRange_data()
{
    QTest::addColumn<QByteArray>("value"); // "ETAG": the current ETag
    QTest::addColumn<int>("status");
    QTest::newRow("current etag") << QByteArray("ETAG") << 206;
    QTest::newRow("old etag") << QByteArray("\"1-2\"") << 200;
    QTest::newRow("weak etag") << QByteArray("W/ETAG") << 200;
    QTest::newRow("date equal") << FileTimeHttp << 206;
    QTest::newRow("date earlier") << httpDate(FileTime.addSecs(-60)) << 200;
    QTest::newRow("date later") << httpDate(FileTime.addSecs(60)) << 200;
    QTest::newRow("garbage") << QByteArray("whenever") << 200;
}

void tst_StaticFiles::ifRange()
{
    QFETCH(QByteArray, value);
    QFETCH(int, status);
    value.replace("ETAG", etagOf("/digits.txt"));
    const QByteArray content = m_content.value(QStringLiteral("digits.txt"));
    const Response r = fetch("/digits.txt", "Range: bytes=10-19\r\nIf-Range: " + value + "\r\n");
    QVERIFY2(r.status == status, describe(r));
    if (status == 206) {
        QCOMPARE(r.body, content.mid(10, 10));
        QCOMPARE(r.header("Content-Range"), QByteArray("bytes 10-19/100"));
    } else {
        QCOMPARE(r.body, content);
        QVERIFY(!r.hasHeader("Content-Range"));
    }
}

void tst_StaticFiles::unsatisfiableRange_data()
{
    QTest::addColumn<QByteArray>("range");
    QTest::newRow("far past the end") << QByteArray("bytes=1000000-");
    QTest::newRow("just past the end") << QByteArray("bytes=100-");
    QTest::newRow("closed, past the end") << QByteArray("bytes=200-300");
    QTest::newRow("all past the end") << QByteArray("bytes=100-101,500-");
}

void tst_StaticFiles::unsatisfiableRange()
{
    QFETCH(QByteArray, range);
    Client client;
    QVERIFY(client.connectTo(port()));
    Response r = client.get("/digits.txt", "Range: " + range + "\r\n");
    QVERIFY2(r.status == 416, TRANSCRIPT(client));
    QCOMPARE(r.header("Content-Range"), QByteArray("bytes */100"));
    QVERIFY(!r.body.contains(m_content.value(QStringLiteral("digits.txt"))));
    r = client.get("/digits.txt");
    QVERIFY2(r.status == 200, TRANSCRIPT(client));
}

void tst_StaticFiles::malformedRange_data()
{
    QTest::addColumn<QByteArray>("range");
    QTest::newRow("letters") << QByteArray("bytes=abc");
    QTest::newRow("reversed") << QByteArray("bytes=5-2");
    QTest::newRow("other unit") << QByteArray("items=0-1");
    QTest::newRow("no specs") << QByteArray("bytes=");
    QTest::newRow("no dash") << QByteArray("bytes=5");
    QTest::newRow("one bad of two") << QByteArray("bytes=0-1,x-y");
    QTest::newRow("negative") << QByteArray("bytes=-5-9");
    QTest::newRow("no equals") << QByteArray("bytes 0-9");
}

void tst_StaticFiles::malformedRange()
{
    QFETCH(QByteArray, range);
    const Response r = fetch("/digits.txt", "Range: " + range + "\r\n");
    QVERIFY2(r.status == 200, describe(r));
    QCOMPARE(r.body, m_content.value(QStringLiteral("digits.txt")));
    QVERIFY(!r.hasHeader("Content-Range"));
}

void tst_StaticFiles::head()
{
    Client client;
    QVERIFY(client.connectTo(port()));
    client.send("HEAD /notes.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    Response r;
    QVERIFY2(client.read(&r, true), TRANSCRIPT(client));
    QCOMPARE(r.status, 200);
    QCOMPARE(r.header("Content-Length"),
             QByteArray::number(m_content.value(QStringLiteral("notes.txt")).size()));
    QCOMPARE(r.header("Content-Type"), QByteArray("text/plain; charset=utf-8"));
    QCOMPARE(r.header("Last-Modified"), FileTimeHttp);
    QCOMPARE(r.header("ETag"), etagOf("/notes.txt"));
    QCOMPARE(r.header("Accept-Ranges"), QByteArray("bytes"));
    QVERIFY2(client.staysQuiet(150), TRANSCRIPT(client));
    QVERIFY2(client.pending().isEmpty(), TRANSCRIPT(client));

    // Range is for GET: HEAD answers for the whole file.
    client.send("HEAD /digits.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nRange: bytes=0-9\r\n\r\n");
    QVERIFY2(client.read(&r, true), TRANSCRIPT(client));
    QCOMPARE(r.status, 200);
    QCOMPARE(r.header("Content-Length"), QByteArray("100"));

    // A conditional HEAD is answered like the GET.
    client.send("HEAD /notes.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nIf-None-Match: *\r\n\r\n");
    QVERIFY2(client.read(&r, true), TRANSCRIPT(client));
    QCOMPARE(r.status, 304);

    r = client.get("/notes.txt");
    QVERIFY2(r.status == 200, TRANSCRIPT(client));
    QCOMPARE(r.body, m_content.value(QStringLiteral("notes.txt")));
}

void tst_StaticFiles::headOfLargeFile()
{
    Client client;
    QVERIFY(client.connectTo(port()));
    client.send("HEAD /large.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    Response r;
    QVERIFY2(client.read(&r, true), TRANSCRIPT(client));
    QCOMPARE(r.status, 200);
    QCOMPARE(r.header("Content-Length"), QByteArray::number(LargeSize));
    QVERIFY(!r.headerHasToken("Transfer-Encoding", "chunked"));
    QVERIFY2(client.staysQuiet(300), TRANSCRIPT(client));
    QVERIFY(client.pending().isEmpty());
    r = client.get("/digits.txt");
    QVERIFY2(r.status == 200, TRANSCRIPT(client));
    QCOMPARE(r.body, m_content.value(QStringLiteral("digits.txt")));
}

void tst_StaticFiles::otherMethodsNotAllowed_data()
{
    QTest::addColumn<QByteArray>("request");
    QTest::newRow("POST") << QByteArray("POST /notes.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                        "Content-Length: 3\r\n\r\nabc");
    QTest::newRow("PUT") << QByteArray("PUT /new.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                       "Content-Length: 3\r\n\r\nabc");
    QTest::newRow("DELETE") << QByteArray("DELETE /notes.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    QTest::newRow("POST to a folder")
            << QByteArray("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n");
}

void tst_StaticFiles::otherMethodsNotAllowed()
{
    QFETCH(QByteArray, request);
    Client client;
    QVERIFY(client.connectTo(port()));
    client.send(request);
    Response r;
    QVERIFY2(client.read(&r), TRANSCRIPT(client));
    QCOMPARE(r.status, 405);
    QCOMPARE(r.headerList("Allow"), QList<QByteArray>({"GET", "HEAD"}));
    QVERIFY2(r.body.startsWith("405 Method Not Allowed\n"), r.body);
    QVERIFY(!QFile::exists(home(QStringLiteral("new.txt"))));
    QVERIFY(QFile::exists(home(QStringLiteral("notes.txt"))));
}

void tst_StaticFiles::notFound()
{
    for (const QByteArray &target :
         {QByteArray("/missing.txt"), QByteArray("/sub/missing/"), QByteArray("/nope/x.txt")}) {
        const Response r = fetch(target);
        QVERIFY2(r.status == 404, describe(r));
        QVERIFY2(r.body.startsWith("404 Not Found\n"), r.body);
    }
}

void tst_StaticFiles::pathSafety_data()
{
    QTest::addColumn<QByteArray>("target");
    QTest::addColumn<int>("status");
    QTest::newRow("dot-dot") << QByteArray("/../secret.txt") << 403;
    QTest::newRow("dot-dot after a segment") << QByteArray("/a/../../secret.txt") << 403;
    QTest::newRow("dot-dot after a real folder") << QByteArray("/sub/../../secret.txt") << 403;
    QTest::newRow("dot-dot into outside") << QByteArray("/../outside/secret2.txt") << 403;
    QTest::newRow("encoded dot-dot") << QByteArray("/%2e%2e/secret.txt") << 403;
    QTest::newRow("half encoded dot-dot") << QByteArray("/.%2e/secret.txt") << 403;
    QTest::newRow("absolute form") << QByteArray("http://127.0.0.1/../secret.txt") << 403;
    QTest::newRow("encoded dot-dot and slash") << QByteArray("/%2E%2E%2Fsecret.txt") << 400;
    QTest::newRow("dot-dot, encoded slash") << QByteArray("/..%2fsecret.txt") << 400;
    QTest::newRow("encoded slashes") << QByteArray("/sub%2f..%2f..%2fsecret.txt") << 400;
    QTest::newRow("encoded slash in a name") << QByteArray("/sub%2Fpage.txt") << 400;
    QTest::newRow("backslash") << QByteArray("/..\\secret.txt") << 400;
    QTest::newRow("encoded backslash") << QByteArray("/%5c..%5csecret.txt") << 400;
    QTest::newRow("dot-dot, encoded backslash") << QByteArray("/..%5Csecret.txt") << 400;
    QTest::newRow("NUL") << QByteArray("/file%00.txt") << 400;
    QTest::newRow("NUL after the name") << QByteArray("/file.txt%00") << 400;
    QTest::newRow("dot file") << QByteArray("/.hidden") << 404;
    QTest::newRow("dot folder") << QByteArray("/.git/config") << 404;
    QTest::newRow("encoded dot folder") << QByteArray("/%2egit/config") << 404;
    QTest::newRow("dot folder itself") << QByteArray("/.git/") << 404;
    QTest::newRow("link out of home") << QByteArray("/out.txt") << 403;
    QTest::newRow("absolute link out of home") << QByteArray("/abs.txt") << 403;
    QTest::newRow("through a folder link") << QByteArray("/outdir/secret2.txt") << 403;
}

void tst_StaticFiles::pathSafety()
{
    QFETCH(QByteArray, target);
    QFETCH(int, status);
    Client client;
    QVERIFY(client.connectTo(port()));
    client.send("GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    Response r;
    QVERIFY2(client.read(&r, false, 10000), TRANSCRIPT(client));
    // Whatever else arrives (nothing should) is searched too.
    QTest::qWait(20);
    const QByteArray everything = client.received();
    QVERIFY2(!everything.contains("TOP-SECRET"), everything);
    QVERIFY2(!everything.contains(FileTxtText), everything);
    QVERIFY2(!everything.contains("bare = false"), everything);
    QVERIFY2(r.status == status, TRANSCRIPT(client));
}

void tst_StaticFiles::symlinks()
{
    // A link within home is served like its target.
    Response r = fetch("/in.txt");
    QVERIFY2(r.status == 200, describe(r));
    QCOMPARE(r.body, m_content.value(QStringLiteral("notes.txt")));
    QCOMPARE(r.header("Content-Type"), QByteArray("text/plain; charset=utf-8"));

    for (const QByteArray &target :
         {QByteArray("/out.txt"), QByteArray("/abs.txt"), QByteArray("/outdir/secret2.txt"),
          QByteArray("/outdir/"), QByteArray("/outdir")}) {
        r = fetch(target);
        QVERIFY2(r.status == 403, target + '\n' + describe(r));
        QVERIFY2(!r.raw.contains("TOP-SECRET"), r.raw);
    }
}

void tst_StaticFiles::followSymlinks()
{
    sluice::StaticFiles files(m_home);
    files.setFollowSymlinks(true);
    QVERIFY(files.followSymlinks());
    const auto server = serve(files);
    QVERIFY(server);
    const quint16 linkPort = server->serverPort();
    for (const QByteArray &target :
         {QByteArray("/out.txt"), QByteArray("/abs.txt"), QByteArray("/outdir/secret2.txt")}) {
        const Response r = fetch(target, {}, "GET", linkPort);
        QVERIFY2(r.status == 200, target + '\n' + describe(r));
        QCOMPARE(r.body, SecretText);
    }
    QCOMPARE(fetch("/in.txt", {}, "GET", linkPort).body,
             m_content.value(QStringLiteral("notes.txt")));
    // Following links does not make ".." acceptable.
    QCOMPARE(fetch("/../secret.txt", {}, "GET", linkPort).status, 403);
    QCOMPARE(fetch("/outdir/../../secret.txt", {}, "GET", linkPort).status, 403);
    // The default server is unaffected by this one's setting.
    QCOMPARE(fetch("/out.txt").status, 403);
}

void tst_StaticFiles::encodedNames_data()
{
    QTest::addColumn<QByteArray>("target");
    QTest::addColumn<QString>("file");
    QTest::newRow("space") << QByteArray("/with%20space.txt") << QStringLiteral("with space.txt");
    const QString utf8Name = QString::fromUtf8("\xc3\xbc"
                                               "ber \xe6\x97\xa5\xe6\x9c\xac.txt");
    QTest::newRow("utf-8") << utf8Name.toUtf8().toPercentEncoding() << utf8Name;
    QTest::newRow("utf-8, lower-case hex")
            << utf8Name.toUtf8().toPercentEncoding().toLower() << utf8Name;
    QTest::newRow("encoded plain letters")
            << QByteArray("/%6eotes.txt") << QStringLiteral("notes.txt");
    QTest::newRow("encoded folder")
            << QByteArray("/my%20dir/index.html") << QStringLiteral("my dir/index.html");
}

void tst_StaticFiles::encodedNames()
{
    QFETCH(QByteArray, target);
    QFETCH(QString, file);
    if (!target.startsWith('/'))
        target.prepend('/');
    const Response r = fetch(target);
    QVERIFY2(r.status == 200, describe(r));
    QCOMPARE(r.body, m_content.value(file));
}

void tst_StaticFiles::largeFile()
{
    const qint64 cachedBefore = m_files.memoryCacheBytes();
    Client client;
    QVERIFY(client.connectTo(port()));
    client.send("GET /large.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    Response r;
    QVERIFY2(client.read(&r, false, 30000), qPrintable(client.errorString()));
    QCOMPARE(r.status, 200);
    QCOMPARE(r.header("Content-Length"), QByteArray::number(LargeSize));
    QCOMPARE(r.header("Content-Type"), QByteArray("application/octet-stream"));
    QCOMPARE(r.body.size(), LargeSize);
    QVERIFY(r.body == m_content.value(QStringLiteral("large.bin")));
    // Too big for the memory cache.
    QCOMPARE(m_files.memoryCacheBytes(), cachedBefore);
    QVERIFY(m_files.memoryCacheBytes() <= 16 * 1024 * 1024);
}

void tst_StaticFiles::largeFileRange_data()
{
    QTest::addColumn<QByteArray>("range");
    QTest::addColumn<qint64>("first");
    QTest::addColumn<qint64>("last");
    QTest::newRow("middle") << QByteArray("bytes=1000000-1000099") << qint64(1000000)
                            << qint64(1000099);
    QTest::newRow("across chunks")
            << QByteArray("bytes=65530-200000") << qint64(65530) << qint64(200000);
    QTest::newRow("tail") << QByteArray("bytes=-10") << LargeSize - 10 << LargeSize - 1;
    QTest::newRow("from offset to end")
            << QByteArray("bytes=3000000-") << qint64(3000000) << LargeSize - 1;
}

void tst_StaticFiles::largeFileRange()
{
    QFETCH(QByteArray, range);
    QFETCH(qint64, first);
    QFETCH(qint64, last);
    const Response r = fetch("/large.bin", "Range: " + range + "\r\n");
    QVERIFY2(r.status == 206, describe(r));
    QCOMPARE(r.header("Content-Range"), "bytes " + QByteArray::number(first) + '-'
                                                + QByteArray::number(last) + '/'
                                                + QByteArray::number(LargeSize));
    QCOMPARE(r.body.size(), last - first + 1);
    QVERIFY(r.body == m_content.value(QStringLiteral("large.bin")).mid(first, last - first + 1));
}

void tst_StaticFiles::largeFileHttp10()
{
    Client client;
    QVERIFY(client.connectTo(port()));
    client.send("GET /large.bin HTTP/1.0\r\n\r\n");
    Response r;
    QVERIFY2(client.read(&r, false, 30000), qPrintable(client.errorString()));
    QCOMPARE(r.status, 200);
    QVERIFY(!r.headerHasToken("Transfer-Encoding", "chunked"));
    QVERIFY(r.body == m_content.value(QStringLiteral("large.bin")));
    QVERIFY(client.waitForClosed());
}

void tst_StaticFiles::keepAliveAfterStreaming()
{
    Client client;
    QVERIFY(client.connectTo(port()));
    for (int i = 0; i < 2; ++i) {
        Response r = client.get("/large.bin");
        QVERIFY2(r.status == 200, qPrintable(client.errorString()));
        QVERIFY(r.body == m_content.value(QStringLiteral("large.bin")));
        r = client.get("/notes.txt");
        QVERIFY2(r.status == 200, qPrintable(client.errorString()));
        QCOMPARE(r.body, m_content.value(QStringLiteral("notes.txt")));
    }
    QVERIFY(!client.isClosed());
}

void tst_StaticFiles::pipelinedAfterStreaming()
{
    Client client;
    QVERIFY(client.connectTo(port()));
    client.send("GET /large.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                "GET /large.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nRange: bytes=-5\r\n\r\n"
                "GET /notes.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    Response r;
    QVERIFY2(client.read(&r, false, 30000), qPrintable(client.errorString()));
    QCOMPARE(r.status, 200);
    QVERIFY(r.body == m_content.value(QStringLiteral("large.bin")));
    QVERIFY2(client.read(&r), qPrintable(client.errorString()));
    QCOMPARE(r.status, 206);
    QCOMPARE(r.body, m_content.value(QStringLiteral("large.bin")).right(5));
    QVERIFY2(client.read(&r), qPrintable(client.errorString()));
    QCOMPARE(r.status, 200);
    QCOMPARE(r.body, m_content.value(QStringLiteral("notes.txt")));
}

void tst_StaticFiles::changedFileServedFresh()
{
    const QString path = home(QStringLiteral("mutable.txt"));
    QVERIFY(writeFile(path, "version one\n", FileTime));
    Response r = fetch("/mutable.txt");
    QCOMPARE(r.body, QByteArray("version one\n"));
    r = fetch("/mutable.txt"); // now from the cache
    QCOMPARE(r.body, QByteArray("version one\n"));
    const QByteArray etag1 = r.header("ETag");

    // New size and time.
    QVERIFY(writeFile(path, "version two, longer\n", FileTime.addSecs(10)));
    r = fetch("/mutable.txt");
    QCOMPARE(r.body, QByteArray("version two, longer\n"));
    QCOMPARE(r.header("Last-Modified"), httpDate(FileTime.addSecs(10)));
    const QByteArray etag2 = r.header("ETag");
    QVERIFY(etag2 != etag1);

    // Same size, new time.
    QVERIFY(writeFile(path, "version TWO, longer\n", FileTime.addSecs(20)));
    r = fetch("/mutable.txt", "If-None-Match: " + etag2 + "\r\n");
    QVERIFY2(r.status == 200, describe(r));
    QCOMPARE(r.body, QByteArray("version TWO, longer\n"));
    QVERIFY(r.header("ETag") != etag2);

    // Grown past the cache limit: streamed from disk.
    const QByteArray big = patterned(300 * 1024, 99);
    QVERIFY(writeFile(path, big, FileTime.addSecs(30)));
    r = fetch("/mutable.txt");
    QVERIFY(r.body == big);
    // And small again.
    QVERIFY(writeFile(path, "small again\n", FileTime.addSecs(40)));
    QCOMPARE(fetch("/mutable.txt").body, QByteArray("small again\n"));

    // Removed.
    QVERIFY(QFile::remove(path));
    QCOMPARE(fetch("/mutable.txt").status, 404);
}

void tst_StaticFiles::memoryCacheBound()
{
    sluice::StaticFiles files(m_home);
    constexpr qint64 MaxFile = 64 * 1024;
    constexpr qint64 MaxTotal = 100 * 1024;
    files.setMemoryCache(MaxFile, MaxTotal);
    const auto server = serve(files);
    QVERIFY(server);
    const quint16 cachePort = server->serverPort();
    QCOMPARE(files.memoryCacheBytes(), 0);

    // The copy the server holds shares the cache with this one.
    QCOMPARE(fetch("/cache/c1.txt", {}, "GET", cachePort).body,
             m_content.value(QStringLiteral("cache/c1.txt")));
    QVERIFY2(files.memoryCacheBytes() >= 40 * 1024 && files.memoryCacheBytes() <= MaxTotal,
             QByteArray::number(files.memoryCacheBytes()));

    for (int round = 0; round < 2; ++round) {
        for (int i = 1; i <= 5; ++i) {
            const QString file = QStringLiteral("cache/c%1.txt").arg(i);
            const Response r = fetch('/' + file.toUtf8(), {}, "GET", cachePort);
            QVERIFY2(r.status == 200, describe(r));
            QCOMPARE(r.body, m_content.value(file));
            QVERIFY2(files.memoryCacheBytes() <= MaxTotal,
                     QByteArray::number(files.memoryCacheBytes()));
            QVERIFY(files.memoryCacheBytes() >= 40 * 1024);
        }
    }
    // Above the per-file limit: served, not kept.
    const qint64 before = files.memoryCacheBytes();
    const Response r = fetch("/cache/big80.txt", {}, "GET", cachePort);
    QVERIFY(r.body == m_content.value(QStringLiteral("cache/big80.txt")));
    QCOMPARE(files.memoryCacheBytes(), before);
}

void tst_StaticFiles::memoryCacheOff()
{
    sluice::StaticFiles files(m_home);
    files.setMemoryCache(0, 0);
    const auto server = serve(files);
    QVERIFY(server);
    for (const QString &file : {QStringLiteral("notes.txt"), QStringLiteral("cache/c1.txt"),
                                QStringLiteral("digits.txt")}) {
        const Response r = fetch('/' + file.toUtf8(), {}, "GET", server->serverPort());
        QVERIFY2(r.status == 200, describe(r));
        QCOMPARE(r.body, m_content.value(file));
    }
    const Response r
            = fetch("/digits.txt", "Range: bytes=1-2,4-5\r\n", "GET", server->serverPort());
    QVERIFY2(r.status == 206, describe(r));
    QCOMPARE(files.memoryCacheBytes(), 0);
}

void tst_StaticFiles::slowReader()
{
    QTcpSocket socket;
    // The socket takes at most 64 KiB from the kernel until it is read, and
    // the small receive window makes the server wait on the client.
    socket.setReadBufferSize(64 * 1024);
    socket.connectToHost(QHostAddress::LocalHost, port());
    QTRY_VERIFY_WITH_TIMEOUT(socket.state() == QAbstractSocket::ConnectedState, 5000);
    socket.setSocketOption(QAbstractSocket::ReceiveBufferSizeSocketOption, 16 * 1024);
    socket.write("GET /large.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");

    QByteArray received;
    qsizetype bodyStart = -1;
    qint64 length = -1;
    QElapsedTimer timer;
    timer.start();
    while (timer.elapsed() < 90000) {
        QTest::qWait(4);
        received += socket.read(64 * 1024);
        if (bodyStart < 0) {
            const qsizetype headEnd = received.indexOf("\r\n\r\n");
            if (headEnd >= 0) {
                bodyStart = headEnd + 4;
                const QRegularExpression lengthPattern(
                        QStringLiteral("\r\nContent-Length: *(\\d+)\r\n"),
                        QRegularExpression::CaseInsensitiveOption);
                const auto match
                        = lengthPattern.match(QString::fromLatin1(received.left(headEnd + 2)));
                QVERIFY2(match.hasMatch(), received.left(headEnd));
                length = match.captured(1).toLongLong();
            }
        }
        if (bodyStart >= 0 && received.size() >= bodyStart + length)
            break;
        if (socket.state() != QAbstractSocket::ConnectedState && socket.bytesAvailable() == 0)
            break;
    }
    QVERIFY2(received.startsWith("HTTP/1.1 200 "), received.left(300));
    QCOMPARE(length, LargeSize);
    QCOMPARE(received.size() - bodyStart, LargeSize);
    QVERIFY(received.mid(bodyStart) == m_content.value(QStringLiteral("large.bin")));
    QCOMPARE(socket.state(), QAbstractSocket::ConnectedState);
}

void tst_StaticFiles::clientDisconnectsMidDownload()
{
    QTRY_COMPARE_WITH_TIMEOUT(m_server->connectionCount(), 0, 10000);
    for (int i = 0; i < 3; ++i) {
        Client client;
        QVERIFY(client.connectTo(port()));
        client.send("GET /large.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        if (i == 1)
            QVERIFY(client.waitForBytes(300 * 1024, 10000));
        else if (i == 2)
            QVERIFY(client.waitForBytes(1, 10000));
        // i == 0: gone before the first byte.
        client.abort();
    }
    // A multipart download cut short as well.
    {
        Client client;
        QVERIFY(client.connectTo(port()));
        client.send("GET /large.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    "Range: bytes=0-1000000,2000000-3000000\r\n\r\n");
        QVERIFY(client.waitForBytes(100 * 1024, 10000));
        client.abort();
    }
    QTRY_COMPARE_WITH_TIMEOUT(m_server->connectionCount(), 0, 10000);

    // The server goes on serving.
    QCOMPARE(fetch("/notes.txt").body, m_content.value(QStringLiteral("notes.txt")));
    const Response r = fetch("/large.bin");
    QVERIFY2(r.status == 200, describe(r));
    QVERIFY(r.body == m_content.value(QStringLiteral("large.bin")));
}

void tst_StaticFiles::compiledInResources()
{
    // CMake cannot be changed here, so the resources are compiled at run time
    // with Qt's rcc and registered from the .rcc file.
    const QString rcc
            = QLibraryInfo::path(QLibraryInfo::LibraryExecutablesPath) + QStringLiteral("/rcc");
    if (!QFileInfo(rcc).isExecutable())
        QSKIP("rcc is not installed");
    const QString dir = m_root.path() + QStringLiteral("/rccsrc");
    QVERIFY(QDir().mkpath(dir + QStringLiteral("/sub")));
    const QByteArray big = patterned(300 * 1024, 42);
    QVERIFY(writeFile(dir + QStringLiteral("/index.html"), "<p>compiled in</p>\n"));
    QVERIFY(writeFile(dir + QStringLiteral("/style.css"), "p { margin: 0; }\n"));
    QVERIFY(writeFile(dir + QStringLiteral("/big.bin"), big));
    QVERIFY(writeFile(dir + QStringLiteral("/sub/page.txt"), "resource page\n"));
    QVERIFY(writeFile(dir + QStringLiteral("/site.qrc"),
                      "<RCC><qresource prefix=\"/tstsite\">"
                      "<file>index.html</file><file>style.css</file><file>big.bin</file>"
                      "<file>sub/page.txt</file></qresource></RCC>\n"));
    QProcess process;
    process.setWorkingDirectory(dir);
    process.start(rcc,
                  {QStringLiteral("-binary"), QStringLiteral("--no-compress"), QStringLiteral("-o"),
                   QStringLiteral("site.rcc"), QStringLiteral("site.qrc")});
    QVERIFY(process.waitForFinished(60000));
    QVERIFY2(process.exitCode() == 0, process.readAllStandardError());
    QVERIFY(QResource::registerResource(dir + QStringLiteral("/site.rcc")));

    sluice::StaticFiles files(QStringLiteral(":/tstsite"));
    QVERIFY(files.isValid());
    QVERIFY(!sluice::StaticFiles(QStringLiteral(":/no-such-site")).isValid());
    const auto server = serve(files);
    QVERIFY(server);
    const quint16 resourcePort = server->serverPort();

    Response r = fetch("/", {}, "GET", resourcePort);
    QVERIFY2(r.status == 200, describe(r));
    QCOMPARE(r.body, QByteArray("<p>compiled in</p>\n"));
    QCOMPARE(r.header("Content-Type"), QByteArray("text/html; charset=utf-8"));
    r = fetch("/style.css", {}, "GET", resourcePort);
    QCOMPARE(r.body, QByteArray("p { margin: 0; }\n"));
    QCOMPARE(r.header("Content-Type"), QByteArray("text/css; charset=utf-8"));
    const QByteArray etag = r.header("ETag");
    QVERIFY(!etag.isEmpty());
    QCOMPARE(fetch("/style.css", "If-None-Match: " + etag + "\r\n", "GET", resourcePort).status,
             304);
    r = fetch("/sub/page.txt", {}, "GET", resourcePort);
    QCOMPARE(r.body, QByteArray("resource page\n"));
    QCOMPARE(fetch("/sub", {}, "GET", resourcePort).header("Location"), QByteArray("/sub/"));
    QCOMPARE(fetch("/sub/", {}, "GET", resourcePort).status, 403);
    r = fetch("/big.bin", {}, "GET", resourcePort);
    QVERIFY2(r.status == 200, describe(r));
    QVERIFY(r.body == big);
    r = fetch("/big.bin", "Range: bytes=100000-100009\r\n", "GET", resourcePort);
    QVERIFY2(r.status == 206, describe(r));
    QCOMPARE(r.body, big.mid(100000, 10));
    QCOMPARE(fetch("/../tstsite/index.html", {}, "GET", resourcePort).status, 403);
    QCOMPARE(fetch("/missing.txt", {}, "GET", resourcePort).status, 404);

    server->close();
    QVERIFY(QResource::unregisterResource(dir + QStringLiteral("/site.rcc")));
}

QTEST_GUILESS_MAIN(tst_StaticFiles)
#include "tst_staticfiles.moc"
