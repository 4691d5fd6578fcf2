#include <sluice/contenttype.h>

#include <QtCore/QMimeDatabase>
#include <QtTest/QtTest>

// The answers must be whatever Qt's MIME database says on this machine, so
// every expectation is asked of QMimeDatabase rather than written down.
static QString databaseType(const QString &fileName)
{
    return QMimeDatabase().mimeTypeForFile(fileName, QMimeDatabase::MatchExtension).name();
}

class tst_ContentType : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void contentType_data();
    void contentType();
    void knownTypesAreNotTheFallback();
    void unknownAndEmpty();
    void header_data();
    void header();
    void headerCharsetOnlyOnText();
};

void tst_ContentType::contentType_data()
{
    QTest::addColumn<QString>("extension");
    QTest::addColumn<QString>("fileName");

    QTest::newRow("js") << "js"
                        << "a.js";
    QTest::newRow("html") << "html"
                          << "a.html";
    QTest::newRow("css") << "css"
                         << "a.css";
    QTest::newRow("png") << "png"
                         << "a.png";
    QTest::newRow("json") << "json"
                          << "a.json";
    QTest::newRow("dot png") << ".png"
                             << "a.png";
    QTest::newRow("upper PNG") << "PNG"
                               << "a.png";
}

void tst_ContentType::contentType()
{
    QFETCH(QString, extension);
    QFETCH(QString, fileName);

    const QString expected = databaseType(fileName);
    QVERIFY(!expected.isEmpty());
    QCOMPARE(sluice::contentType(extension), expected);
    // Like Dart's ContentType.value: a bare type, no parameters.
    QVERIFY(!sluice::contentType(extension).contains(QLatin1Char(';')));
}

void tst_ContentType::knownTypesAreNotTheFallback()
{
    // Guards against an implementation that answers the fallback for
    // everything and a database that knows nothing: both would agree above.
    QCOMPARE(sluice::contentType(QStringLiteral("png")), QStringLiteral("image/png"));
    QCOMPARE(sluice::contentType(QStringLiteral("html")), QStringLiteral("text/html"));
    QCOMPARE(sluice::contentType(QStringLiteral("css")), QStringLiteral("text/css"));
    QVERIFY(sluice::contentType(QStringLiteral("js")).contains(QLatin1String("javascript")));
}

void tst_ContentType::unknownAndEmpty()
{
    const QString fallback = QStringLiteral("application/octet-stream");
    QCOMPARE(databaseType(QStringLiteral("a.zzzunknown")), fallback);
    QCOMPARE(sluice::contentType(QStringLiteral("zzzunknown")), fallback);
    QCOMPARE(sluice::contentType(QString()), fallback);
    QCOMPARE(sluice::contentType(QStringLiteral("")), fallback);
    QCOMPARE(sluice::contentType(QStringLiteral(".")), fallback);
}

void tst_ContentType::header_data()
{
    QTest::addColumn<QString>("fileName");

    QTest::newRow("html") << "a.html";
    QTest::newRow("css") << "a.css";
    QTest::newRow("png") << "a.png";
    QTest::newRow("json") << "a.json";
    QTest::newRow("js in a folder") << "site/app.js";
    QTest::newRow("unknown") << "a.zzzunknown";
}

void tst_ContentType::header()
{
    QFETCH(QString, fileName);

    // The header's type is the same type the seed's handler answers.
    const QByteArray header = sluice::contentTypeHeader(fileName);
    const QByteArray type = header.split(';').first().trimmed();
    QCOMPARE(QString::fromLatin1(type), databaseType(fileName));
    QCOMPARE(QString::fromLatin1(type), sluice::contentType(QFileInfo(fileName).suffix()));
}

void tst_ContentType::headerCharsetOnlyOnText()
{
    QCOMPARE(sluice::contentTypeHeader(QStringLiteral("a.html")),
             QByteArray("text/html; charset=utf-8"));
    QCOMPARE(sluice::contentTypeHeader(QStringLiteral("a.css")),
             QByteArray("text/css; charset=utf-8"));
    QCOMPARE(sluice::contentTypeHeader(QStringLiteral("a.png")), QByteArray("image/png"));
    QVERIFY(!sluice::contentTypeHeader(QStringLiteral("a.png")).contains("charset"));
    QVERIFY(!sluice::contentTypeHeader(QStringLiteral("a.zzzunknown")).contains("charset"));
}

QTEST_GUILESS_MAIN(tst_ContentType)
#include "tst_contenttype.moc"
