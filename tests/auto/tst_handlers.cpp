#include "wstestclient.h"

#include <sluice/handlers.h>
#include <sluice/server.h>

#include <QtCore/QMimeDatabase>
#include <QtCore/QRandomGenerator>
#include <QtTest/QtTest>
#include <QtWebSockets/QWebSocket>

#include <memory>

namespace {

constexpr int kTimeout = 10000;

using wstestclient::Client;
using wstestclient::Message;

QByteArray randomBytes(qsizetype size)
{
    QByteArray bytes(size, Qt::Uninitialized);
    QRandomGenerator::global()->fillRange(reinterpret_cast<quint32 *>(bytes.data()),
                                          size / qsizetype(sizeof(quint32)));
    for (qsizetype i = size - size % qsizetype(sizeof(quint32)); i < size; ++i)
        bytes[i] = char(QRandomGenerator::global()->bounded(256));
    return bytes;
}

// What Qt's database answers for a file named after the extension; an
// empty list there is the unknown case.
QString databaseType(const QString &extension)
{
    const QList<QMimeType> types
            = QMimeDatabase().mimeTypesForFileName(QStringLiteral("x.") + extension);
    return types.isEmpty() ? QStringLiteral("application/octet-stream") : types.first().name();
}

} // namespace

class tst_Handlers : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();

    void echoText_data();
    void echoText();
    void echoBinary_data();
    void echoBinary();
    void echoEmptyKeepsItsKind();
    void echoKindsInterleaved();
    void echoManyInOrder();
    void echoClientsDoNotCrossTalk();

    void contentType_data();
    void contentType();
    void contentTypeSeveralQueries();
    void contentTypeDatabaseIsNotEmpty();

private:
    std::unique_ptr<sluice::Server> m_server;
    quint16 m_port = 0;
};

void tst_Handlers::initTestCase()
{
    m_server = std::make_unique<sluice::Server>();
    QVERIFY(m_server->map(QStringLiteral("ws:/echo"), sluice::handlers::echo()));
    QVERIFY(m_server->map(QStringLiteral("ws:/contentType"), sluice::handlers::contentType()));
    QVERIFY2(m_server->listen(QHostAddress::LocalHost, 0), qPrintable(m_server->errorString()));
    m_port = m_server->serverPort();
    QVERIFY(m_port != 0);
}

void tst_Handlers::cleanupTestCase()
{
    if (m_server)
        m_server->close();
    m_server.reset();
}

void tst_Handlers::echoText_data()
{
    QTest::addColumn<QString>("message");

    QTest::newRow("ascii") << QStringLiteral("hello");
    QTest::newRow("non-ascii") << QString::fromUtf8(
            "h\xc3\xa9llo w\xc3\xb6rld \xe2\x98\x83 \xe6\xbc\xa2\xe5\xad\x97");
    // Outside the BMP: a surrogate pair in QString, four bytes on the wire.
    QTest::newRow("emoji") << QString::fromUtf8("\xf0\x9f\x98\x80 \xf0\x9f\x8e\x89");
    QTest::newRow("spaces and newlines") << QStringLiteral("  a\r\n\tb  \n");
    QTest::newRow("past 16-bit length") << QString(70000, QLatin1Char('x'));
}

void tst_Handlers::echoText()
{
    QFETCH(QString, message);

    Client client;
    QVERIFY2(client.open(m_port, QStringLiteral("/echo")), qPrintable(client.errorString()));
    QCOMPARE(client.socket().sendTextMessage(message), message.toUtf8().size());
    QVERIFY(client.waitForCount(1));
    QTest::qWait(50); // nothing more than the one echo
    QCOMPARE(client.received().size(), 1);
    QVERIFY(client.received().first().isText);
    QCOMPARE(client.received().first().text, message);
}

void tst_Handlers::echoBinary_data()
{
    QTest::addColumn<QByteArray>("message");

    QByteArray everyByte;
    for (int i = 0; i < 256; ++i)
        everyByte.append(char(i));
    QTest::newRow("every byte value") << everyByte;
    QTest::newRow("nul and 0xff") << QByteArray("\x00\x01\x02\xff", 4);
    // Invalid UTF-8: a binary message must not be decoded on the way.
    QTest::newRow("invalid utf-8") << QByteArray("\xc3\x28\xa0\xa1\xff\xfe", 6);
    // Larger than QWebSocket's default outgoing frame, so it travels in
    // several frames each way.
    QTest::newRow("1 MiB random") << randomBytes(1024 * 1024);
}

void tst_Handlers::echoBinary()
{
    QFETCH(QByteArray, message);

    Client client;
    QVERIFY2(client.open(m_port, QStringLiteral("/echo")), qPrintable(client.errorString()));
    QCOMPARE(client.socket().sendBinaryMessage(message), message.size());
    QVERIFY(client.waitForCount(1, 30000));
    QTest::qWait(50);
    QCOMPARE(client.received().size(), 1);
    QVERIFY(!client.received().first().isText);
    QCOMPARE(client.received().first().binary.size(), message.size());
    QVERIFY(client.received().first().binary == message);
}

void tst_Handlers::echoEmptyKeepsItsKind()
{
    Client client;
    QVERIFY2(client.open(m_port, QStringLiteral("/echo")), qPrintable(client.errorString()));
    client.socket().sendTextMessage(QString());
    client.socket().sendBinaryMessage(QByteArray());
    client.socket().sendTextMessage(QString());
    QVERIFY(client.waitForCount(3));
    QTest::qWait(50);
    const QList<Message> received = client.received();
    QCOMPARE(received.size(), 3);
    QVERIFY(received.at(0).isText);
    QVERIFY(received.at(0).text.isEmpty());
    QVERIFY(!received.at(1).isText);
    QVERIFY(received.at(1).binary.isEmpty());
    QVERIFY(received.at(2).isText);
    QVERIFY(received.at(2).text.isEmpty());
}

void tst_Handlers::echoKindsInterleaved()
{
    Client client;
    QVERIFY2(client.open(m_port, QStringLiteral("/echo")), qPrintable(client.errorString()));
    // The same content both ways: only the kind tells them apart.
    const QString word = QStringLiteral("same");
    client.socket().sendTextMessage(word);
    client.socket().sendBinaryMessage(word.toUtf8());
    client.socket().sendBinaryMessage(word.toUtf8());
    client.socket().sendTextMessage(word);
    QVERIFY(client.waitForCount(4));
    const QList<Message> received = client.received();
    QCOMPARE(received.size(), 4);
    const bool expectedText[] = {true, false, false, true};
    for (int i = 0; i < 4; ++i) {
        QVERIFY2(received.at(i).isText == expectedText[i], qPrintable(QString::number(i)));
        if (received.at(i).isText)
            QCOMPARE(received.at(i).text, word);
        else
            QCOMPARE(received.at(i).binary, word.toUtf8());
    }
}

void tst_Handlers::echoManyInOrder()
{
    Client client;
    QVERIFY2(client.open(m_port, QStringLiteral("/echo")), qPrintable(client.errorString()));
    constexpr int count = 2000;
    for (int i = 0; i < count; ++i) {
        if (i % 3 == 0)
            client.socket().sendBinaryMessage(QByteArray::number(i));
        else
            client.socket().sendTextMessage(QString::number(i));
    }
    QVERIFY2(
            client.waitForCount(count, 30000),
            qPrintable(
                    QStringLiteral("%1 of %2 came back").arg(client.received().size()).arg(count)));
    QTest::qWait(50);
    const QList<Message> received = client.received();
    QCOMPARE(received.size(), count);
    for (int i = 0; i < count; ++i) {
        const Message &message = received.at(i);
        const bool wasText = i % 3 != 0;
        QVERIFY2(message.isText == wasText, qPrintable(QStringLiteral("kind of %1").arg(i)));
        const QString value = message.isText ? message.text : QString::fromLatin1(message.binary);
        QCOMPARE(value, QString::number(i));
    }
}

void tst_Handlers::echoClientsDoNotCrossTalk()
{
    // Each echo is per socket: two clients at once never see each other.
    Client first;
    Client second;
    QVERIFY2(first.open(m_port, QStringLiteral("/echo")), qPrintable(first.errorString()));
    QVERIFY2(second.open(m_port, QStringLiteral("/echo")), qPrintable(second.errorString()));
    for (int i = 0; i < 50; ++i) {
        first.socket().sendTextMessage(QStringLiteral("first %1").arg(i));
        second.socket().sendTextMessage(QStringLiteral("second %1").arg(i));
    }
    QVERIFY(first.waitForCount(50));
    QVERIFY(second.waitForCount(50));
    QTest::qWait(100);
    QCOMPARE(first.received().size(), 50);
    QCOMPARE(second.received().size(), 50);
    for (int i = 0; i < 50; ++i) {
        QCOMPARE(first.received().at(i).text, QStringLiteral("first %1").arg(i));
        QCOMPARE(second.received().at(i).text, QStringLiteral("second %1").arg(i));
    }
}

void tst_Handlers::contentType_data()
{
    QTest::addColumn<QString>("extension");
    QTest::addColumn<QString>("expected");

    QTest::newRow("js") << "js" << databaseType(QStringLiteral("js"));
    QTest::newRow("html") << "html" << databaseType(QStringLiteral("html"));
    QTest::newRow("css") << "css" << databaseType(QStringLiteral("css"));
    QTest::newRow("png") << "png" << databaseType(QStringLiteral("png"));
    QTest::newRow("json") << "json" << databaseType(QStringLiteral("json"));
    QTest::newRow("leading dot") << ".png" << databaseType(QStringLiteral(".png"));
    QTest::newRow("upper case") << "PNG" << databaseType(QStringLiteral("PNG"));
    QTest::newRow("unknown") << "zzz" << databaseType(QStringLiteral("zzz"));
}

void tst_Handlers::contentType()
{
    QFETCH(QString, extension);
    QFETCH(QString, expected);

    Client client;
    QVERIFY2(client.open(m_port, QStringLiteral("/contentType")), qPrintable(client.errorString()));
    client.socket().sendTextMessage(extension);
    QVERIFY(client.waitForCount(1));
    QTest::qWait(50);
    QCOMPARE(client.received().size(), 1);
    QVERIFY(client.received().first().isText);
    QCOMPARE(client.received().first().text, expected);
}

void tst_Handlers::contentTypeSeveralQueries()
{
    const QStringList extensions
            = {QStringLiteral("js"),  QStringLiteral("html"), QStringLiteral("css"),
               QStringLiteral("png"), QStringLiteral("json"), QStringLiteral(".png"),
               QStringLiteral("PNG"), QStringLiteral("zzz")};
    Client client;
    QVERIFY2(client.open(m_port, QStringLiteral("/contentType")), qPrintable(client.errorString()));
    // One at a time, each answered before the next is asked.
    for (int i = 0; i < extensions.size(); ++i) {
        client.socket().sendTextMessage(extensions.at(i));
        QVERIFY2(client.waitForCount(i + 1), qPrintable(extensions.at(i)));
        QVERIFY(client.received().at(i).isText);
        QCOMPARE(client.received().at(i).text, databaseType(extensions.at(i)));
    }
    // Then all at once: the answers keep the order of the questions.
    for (const QString &extension : extensions)
        client.socket().sendTextMessage(extension);
    QVERIFY(client.waitForCount(2 * extensions.size()));
    QTest::qWait(50);
    QCOMPARE(client.received().size(), 2 * extensions.size());
    for (int i = 0; i < extensions.size(); ++i) {
        const Message &answer = client.received().at(extensions.size() + i);
        QVERIFY(answer.isText);
        QCOMPARE(answer.text, databaseType(extensions.at(i)));
    }
    QCOMPARE(client.socket().state(), QAbstractSocket::ConnectedState);
}

void tst_Handlers::contentTypeDatabaseIsNotEmpty()
{
    // The comparisons above ask the same database the server does; these
    // pin them to real answers, so an empty database or a handler that says
    // the fallback to everything cannot pass unnoticed.
    QCOMPARE(databaseType(QStringLiteral("png")), QStringLiteral("image/png"));
    QCOMPARE(databaseType(QStringLiteral(".png")), QStringLiteral("image/png"));
    QCOMPARE(databaseType(QStringLiteral("PNG")), QStringLiteral("image/png"));
    QCOMPARE(databaseType(QStringLiteral("html")), QStringLiteral("text/html"));
    QCOMPARE(databaseType(QStringLiteral("css")), QStringLiteral("text/css"));
    QCOMPARE(databaseType(QStringLiteral("json")), QStringLiteral("application/json"));
    QVERIFY(databaseType(QStringLiteral("js")).contains(QLatin1String("javascript")));
    QVERIFY(QMimeDatabase().mimeTypesForFileName(QStringLiteral("x.zzz")).isEmpty());
}

QTEST_MAIN(tst_Handlers)
#include "tst_handlers.moc"
