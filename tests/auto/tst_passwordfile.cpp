#include <sluice/passwordfile.h>

#include <QtCore/QElapsedTimer>
#include <QtCore/QFile>
#include <QtCore/QFileInfo>
#include <QtCore/QProcess>
#include <QtCore/QStandardPaths>
#include <QtCore/QTemporaryDir>
#include <QtTest/QtTest>

#include <atomic>
#include <thread>
#include <vector>

namespace {

constexpr int kProcessTimeout = 60000;
const QString kPython = QStringLiteral("/usr/bin/python3");
const QString kHtpasswd = QStringLiteral("/usr/bin/htpasswd");

// Runs a third-party tool and returns the first line it printed; the error
// says what went wrong otherwise.
QByteArray run(const QString &program, const QStringList &arguments, QString *error)
{
    QProcess process;
    process.start(program, arguments);
    if (!process.waitForFinished(kProcessTimeout)) {
        *error = program + QStringLiteral(": ") + process.errorString();
        process.kill();
        process.waitForFinished();
        return {};
    }
    if (process.exitStatus() != QProcess::NormalExit || process.exitCode() != 0) {
        *error = program + QStringLiteral(" failed: ")
                 + QString::fromLocal8Bit(process.readAllStandardError());
        return {};
    }
    const QByteArray output = process.readAllStandardOutput();
    return output.left(output.indexOf('\n')).trimmed();
}

// Python's crypt module is a different caller of libcrypt than ours; 3.11
// has no yescrypt method, so the setting comes from crypt_gensalt itself.
const char *const kPythonYescrypt = "import crypt, ctypes, sys\n"
                                    "lib = ctypes.CDLL('libcrypt.so.1')\n"
                                    "lib.crypt_gensalt.restype = ctypes.c_char_p\n"
                                    "setting = lib.crypt_gensalt(b'$y$', 0, None, 0).decode()\n"
                                    "print(crypt.crypt(sys.argv[1], setting))\n";

} // namespace

class tst_PasswordFile : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();

    void verifiesThirdPartyHashes_data();
    void verifiesThirdPartyHashes();
    void cachedCredentialsStillRejectWrongPasswords();
    void cacheSkipsTheSlowHash();
    void commentsBlankLinesAndCrLf();
    void refusesBadFiles_data();
    void refusesBadFiles();
    void refusesMissingFile();
    void copiesShareUsers();
    void failedLoadKeepsPreviousUsers();
    void reloadForgetsOldPasswords();
    void concurrentVerification();

private:
    QString writeFile(const QString &name, const QByteArray &content);
    QByteArray opensslHash(const QString &method, const QString &password);

    QTemporaryDir m_dir;
    int m_fileCount = 0;
};

QString tst_PasswordFile::writeFile(const QString &name, const QByteArray &content)
{
    const QString path = m_dir.filePath(QStringLiteral("%1-%2").arg(++m_fileCount).arg(name));
    QFile file(path);
    if (!file.open(QIODevice::WriteOnly) || file.write(content) != content.size())
        return QString();
    return path;
}

QByteArray tst_PasswordFile::opensslHash(const QString &method, const QString &password)
{
    QString error;
    const QByteArray hash
            = run(QStringLiteral("openssl"), {QStringLiteral("passwd"), method, password}, &error);
    if (hash.isEmpty())
        qWarning("%s", qPrintable(error));
    return hash;
}

void tst_PasswordFile::initTestCase()
{
    QVERIFY(m_dir.isValid());
    QVERIFY2(!QStandardPaths::findExecutable(QStringLiteral("openssl")).isEmpty(),
             "openssl is needed to make the hashes");
}

void tst_PasswordFile::verifiesThirdPartyHashes_data()
{
    QTest::addColumn<QString>("program");
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<QString>("password");
    QTest::addColumn<QByteArray>("prefix");

    const QString password = QStringLiteral("correct horse \u2713");
    QTest::newRow("sha512crypt: openssl passwd -6")
            << QStringLiteral("openssl")
            << QStringList {QStringLiteral("passwd"), QStringLiteral("-6"), QStringLiteral("-salt"),
                            QStringLiteral("Zq8xT1pW"), password}
            << password << QByteArray("$6$Zq8xT1pW$");
    QTest::newRow("sha256crypt: openssl passwd -5")
            << QStringLiteral("openssl")
            << QStringList {QStringLiteral("passwd"), QStringLiteral("-5"), password} << password
            << QByteArray("$5$");
    QTest::newRow("bcrypt: htpasswd -B")
            << kHtpasswd
            << QStringList {QStringLiteral("-nbB"), QStringLiteral("alice"), QStringLiteral("pw")}
            << QStringLiteral("pw") << QByteArray("$2y$");
    QTest::newRow("bcrypt: python crypt")
            << kPython
            << QStringList {QStringLiteral("-c"),
                            QStringLiteral("import crypt, sys; print(crypt.crypt(sys.argv[1], "
                                           "crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))"),
                            password}
            << password << QByteArray("$2b$04$");
    QTest::newRow("yescrypt: python crypt")
            << kPython
            << QStringList {QStringLiteral("-c"), QString::fromLatin1(kPythonYescrypt), password}
            << password << QByteArray("$y$");
}

void tst_PasswordFile::verifiesThirdPartyHashes()
{
    QFETCH(QString, program);
    QFETCH(QStringList, arguments);
    QFETCH(QString, password);
    QFETCH(QByteArray, prefix);
    if (program.startsWith(u'/') && !QFileInfo(program).isExecutable())
        QSKIP(qPrintable(program + QStringLiteral(" is not installed")));

    QString error;
    QByteArray hash = run(program, arguments, &error);
    QVERIFY2(!hash.isEmpty(), qPrintable(error));
    // htpasswd -n prints "user:hash".
    if (program == kHtpasswd)
        hash = hash.mid(hash.indexOf(':') + 1);
    QVERIFY2(hash.startsWith(prefix), hash.constData());

    const QString fileName
            = writeFile(QStringLiteral("users"),
                        "# made by a third-party tool\nalice:" + hash + "\nbob:"
                                + opensslHash(QStringLiteral("-6"), QStringLiteral("bobs")) + '\n');
    sluice::PasswordFile passwords;
    QVERIFY2(passwords.load(fileName), qPrintable(passwords.errorString()));
    QCOMPARE(passwords.errorString(), QString());
    QCOMPARE(passwords.fileName(), fileName);
    QCOMPARE(passwords.users(), (QStringList {QStringLiteral("alice"), QStringLiteral("bob")}));
    QVERIFY(!passwords.isEmpty());

    QVERIFY(passwords.verify(QStringLiteral("alice"), password));
    QVERIFY(!passwords.verify(QStringLiteral("alice"), password + u'x'));
    QVERIFY(!passwords.verify(QStringLiteral("alice"), password.chopped(1)));
    QVERIFY(!passwords.verify(QStringLiteral("alice"), QString()));
    QVERIFY(!passwords.verify(QStringLiteral("Alice"), password));
    QVERIFY(!passwords.verify(QStringLiteral("mallory"), password));
    // Another user's password is no good either.
    QVERIFY(!passwords.verify(QStringLiteral("alice"), QStringLiteral("bobs")));
    QVERIFY(passwords.verify(QStringLiteral("bob"), QStringLiteral("bobs")));
    // crypt() stops at NUL: "pw\0anything" must not pass for "pw".
    QVERIFY(!passwords.verify(QStringLiteral("alice"), password + QChar(0) + QStringLiteral("x")));
    // Again, now from the cache.
    QVERIFY(passwords.verify(QStringLiteral("alice"), password));
}

void tst_PasswordFile::cachedCredentialsStillRejectWrongPasswords()
{
    const QString fileName = writeFile(
            QStringLiteral("users"),
            "alice:" + opensslHash(QStringLiteral("-6"), QStringLiteral("secret")) + '\n');
    sluice::PasswordFile passwords;
    QVERIFY2(passwords.load(fileName), qPrintable(passwords.errorString()));
    for (int i = 0; i < 3; ++i) {
        QVERIFY(passwords.verify(QStringLiteral("alice"), QStringLiteral("secret")));
        QVERIFY(!passwords.verify(QStringLiteral("alice"), QStringLiteral("Secret")));
        QVERIFY(!passwords.verify(QStringLiteral("alice"), QStringLiteral("secret ")));
        QVERIFY(!passwords.verify(QStringLiteral("alice"), QString()));
        // The cache key separates user from password: "alic"+"esecret" is not it.
        QVERIFY(!passwords.verify(QStringLiteral("alic"), QStringLiteral("esecret")));
        QVERIFY(!passwords.verify(QStringLiteral("mallory"), QStringLiteral("secret")));
    }
}

void tst_PasswordFile::cacheSkipsTheSlowHash()
{
    // bcrypt at cost 12 takes a good fraction of a second: that is the point
    // of it, and the reason for the cache.
    QString error;
    const QByteArray hash
            = run(kPython,
                  {QStringLiteral("-c"),
                   QStringLiteral("import crypt; print(crypt.crypt('slow', "
                                  "crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=4096)))")},
                  &error);
    QVERIFY2(hash.startsWith("$2b$12$"), qPrintable(error));
    const QString fileName = writeFile(QStringLiteral("slow"), "carol:" + hash + '\n');
    sluice::PasswordFile passwords;
    QVERIFY2(passwords.load(fileName), qPrintable(passwords.errorString()));

    QElapsedTimer timer;
    timer.start();
    QVERIFY(passwords.verify(QStringLiteral("carol"), QStringLiteral("slow")));
    const qint64 firstNs = timer.nsecsElapsed();
    timer.restart();
    for (int i = 0; i < 20; ++i)
        QVERIFY(passwords.verify(QStringLiteral("carol"), QStringLiteral("slow")));
    const qint64 cachedNs = timer.nsecsElapsed();
    QVERIFY2(cachedNs < firstNs / 2,
             qPrintable(QStringLiteral("first %1 ns, 20 cached %2 ns").arg(firstNs).arg(cachedNs)));

    // A wrong password pays the full price every time.
    timer.restart();
    QVERIFY(!passwords.verify(QStringLiteral("carol"), QStringLiteral("wrong")));
    QVERIFY(!passwords.verify(QStringLiteral("carol"), QStringLiteral("wrong")));
    const qint64 wrongNs = timer.nsecsElapsed();
    QVERIFY2(wrongNs > cachedNs,
             qPrintable(
                     QStringLiteral("2 wrong %1 ns, 20 cached %2 ns").arg(wrongNs).arg(cachedNs)));
}

void tst_PasswordFile::commentsBlankLinesAndCrLf()
{
    const QByteArray alice = opensslHash(QStringLiteral("-6"), QStringLiteral("a pw"));
    const QByteArray bob = opensslHash(QStringLiteral("-5"), QStringLiteral("b pw"));
    const QString fileName = writeFile(QStringLiteral("crlf"),
                                       "# users\r\n\r\nalice:" + alice
                                               + "\r\n   \r\n  # indented comment\r\n"
                                                 "bob:"
                                               + bob + "\r\nj\xc3\xb6rg:" + alice + "\r\n");
    sluice::PasswordFile passwords;
    QVERIFY2(passwords.load(fileName), qPrintable(passwords.errorString()));
    QCOMPARE(passwords.users(), (QStringList {QStringLiteral("alice"), QStringLiteral("bob"),
                                              QStringLiteral("j\u00f6rg")}));
    QVERIFY(passwords.verify(QStringLiteral("alice"), QStringLiteral("a pw")));
    QVERIFY(passwords.verify(QStringLiteral("bob"), QStringLiteral("b pw")));
    QVERIFY(passwords.verify(QStringLiteral("j\u00f6rg"), QStringLiteral("a pw")));
    QVERIFY(!passwords.verify(QStringLiteral("bob"), QStringLiteral("a pw")));
}

void tst_PasswordFile::refusesBadFiles_data()
{
    QTest::addColumn<QByteArray>("content");
    QTest::addColumn<QString>("expected"); // after "<file>"

    const QByteArray good = opensslHash(QStringLiteral("-6"), QStringLiteral("pw"));
    const QString unsupported = QStringLiteral(
            "unsupported password hash (use bcrypt: htpasswd -B, yescrypt: mkpasswd, or SHA-512: "
            "openssl passwd -6)");

    QTest::newRow("apr1 (htpasswd -m)")
            << "alice:" + good + "\n# ok so far\nbob:"
                       + opensslHash(QStringLiteral("-apr1"), QStringLiteral("pw")) + '\n'
            << QStringLiteral(":3: user \"bob\": ") + unsupported;
    QTest::newRow("md5crypt (openssl passwd -1)")
            << "bob:" + opensslHash(QStringLiteral("-1"), QStringLiteral("pw")) + '\n'
            << QStringLiteral(":1: user \"bob\": ") + unsupported;
    QTest::newRow("{SHA} (htpasswd -s)") << QByteArray("alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n")
                                         << QStringLiteral(":1: user \"alice\": ") + unsupported;
    QTest::newRow("plain text") << "alice:" + good + "\ncarol:hunter2\n"
                                << QStringLiteral(":2: user \"carol\": ") + unsupported;
    QTest::newRow("DES crypt") << QByteArray("dave:abJnggxhB/yWI\n")
                               << QStringLiteral(":1: user \"dave\": ") + unsupported;
    QTest::newRow("empty hash") << QByteArray("erin:\n")
                                << QStringLiteral(":1: user \"erin\": ") + unsupported;
    QTest::newRow("locked account")
            << QByteArray("erin:!\n") << QStringLiteral(":1: user \"erin\": ") + unsupported;
    QTest::newRow("missing colon") << "alice:" + good + "\r\n\r\nbob " + good + "\r\n"
                                   << QStringLiteral(":3: expected \"user:hash\", found no ':'");
    QTest::newRow("empty user") << ":" + good + '\n' << QStringLiteral(":1: empty user name");
    QTest::newRow("duplicate user")
            << "alice:" + good + "\nbob:" + good + "\nalice:" + good + '\n'
            << QStringLiteral(":3: user \"alice\" appears twice (first on line 1)");
    QTest::newRow("empty file") << QByteArray() << QStringLiteral(": no users");
    QTest::newRow("only comments")
            << QByteArray("# nobody yet\n\n") << QStringLiteral(": no users");
}

void tst_PasswordFile::refusesBadFiles()
{
    QFETCH(QByteArray, content);
    QFETCH(QString, expected);
    const QString fileName = writeFile(QStringLiteral("users.htpasswd"), content);
    QVERIFY(!fileName.isEmpty());
    sluice::PasswordFile passwords;
    QVERIFY(!passwords.load(fileName));
    QCOMPARE(passwords.errorString(), fileName + expected);
    QVERIFY(passwords.isEmpty());
    QCOMPARE(passwords.users(), QStringList());
    QCOMPARE(passwords.fileName(), QString());
}

void tst_PasswordFile::refusesMissingFile()
{
    const QString fileName = m_dir.filePath(QStringLiteral("no-such.htpasswd"));
    sluice::PasswordFile passwords;
    QVERIFY(!passwords.load(fileName));
    QVERIFY2(passwords.errorString().startsWith(fileName + QStringLiteral(": cannot read: ")),
             qPrintable(passwords.errorString()));
    QVERIFY(passwords.errorString().size() > fileName.size() + 15);

    // A directory is not a password file either.
    QVERIFY(!passwords.load(m_dir.path()));
    QVERIFY2(passwords.errorString().startsWith(m_dir.path() + QStringLiteral(": cannot read: ")),
             qPrintable(passwords.errorString()));
}

void tst_PasswordFile::copiesShareUsers()
{
    const QString fileName
            = writeFile(QStringLiteral("users"),
                        "alice:" + opensslHash(QStringLiteral("-6"), QStringLiteral("pw")) + '\n');
    sluice::PasswordFile original;
    const sluice::PasswordFile copiedBefore(original);
    QVERIFY(copiedBefore.isEmpty());
    QVERIFY2(original.load(fileName), qPrintable(original.errorString()));

    // A copy taken before the load (a filter holds one) sees it.
    QCOMPARE(copiedBefore.users(), QStringList {QStringLiteral("alice")});
    QCOMPARE(copiedBefore.fileName(), fileName);
    QVERIFY(copiedBefore.verify(QStringLiteral("alice"), QStringLiteral("pw")));

    sluice::PasswordFile assigned;
    assigned = original;
    QVERIFY(assigned.verify(QStringLiteral("alice"), QStringLiteral("pw")));
    QVERIFY(!assigned.verify(QStringLiteral("alice"), QStringLiteral("wrong")));

    // A load through a copy reaches the original.
    const QString other
            = writeFile(QStringLiteral("other"),
                        "zoe:" + opensslHash(QStringLiteral("-6"), QStringLiteral("zpw")) + '\n');
    QVERIFY(assigned.load(other));
    QCOMPARE(original.users(), QStringList {QStringLiteral("zoe")});
    QVERIFY(original.verify(QStringLiteral("zoe"), QStringLiteral("zpw")));
    QVERIFY(!original.verify(QStringLiteral("alice"), QStringLiteral("pw")));

    // Independent objects do not share.
    sluice::PasswordFile separate;
    QVERIFY(separate.isEmpty());
    QVERIFY(!separate.verify(QStringLiteral("zoe"), QStringLiteral("zpw")));
}

void tst_PasswordFile::failedLoadKeepsPreviousUsers()
{
    const QString good
            = writeFile(QStringLiteral("good"),
                        "alice:" + opensslHash(QStringLiteral("-6"), QStringLiteral("pw")) + '\n');
    const QString bad = writeFile(
            QStringLiteral("bad"),
            "mallory:" + opensslHash(QStringLiteral("-6"), QStringLiteral("m")) + "\nbob:plain\n");
    sluice::PasswordFile passwords;
    QVERIFY(passwords.load(good));
    const sluice::PasswordFile copy(passwords);

    QVERIFY(!passwords.load(bad));
    QVERIFY(passwords.errorString().startsWith(bad + QStringLiteral(":2: user \"bob\"")));
    QCOMPARE(passwords.users(), QStringList {QStringLiteral("alice")});
    QCOMPARE(passwords.fileName(), good);
    QVERIFY(passwords.verify(QStringLiteral("alice"), QStringLiteral("pw")));
    QVERIFY(!passwords.verify(QStringLiteral("mallory"), QStringLiteral("m")));
    QCOMPARE(copy.users(), QStringList {QStringLiteral("alice")});

    QVERIFY(!passwords.load(m_dir.filePath(QStringLiteral("gone"))));
    QCOMPARE(passwords.users(), QStringList {QStringLiteral("alice")});

    // A later success clears the error.
    QVERIFY(passwords.load(good));
    QCOMPARE(passwords.errorString(), QString());
}

void tst_PasswordFile::reloadForgetsOldPasswords()
{
    const QString first
            = writeFile(QStringLiteral("v1"),
                        "alice:" + opensslHash(QStringLiteral("-6"), QStringLiteral("old")) + '\n');
    const QString second
            = writeFile(QStringLiteral("v2"),
                        "alice:" + opensslHash(QStringLiteral("-6"), QStringLiteral("new")) + '\n');
    sluice::PasswordFile passwords;
    QVERIFY(passwords.load(first));
    QVERIFY(passwords.verify(QStringLiteral("alice"), QStringLiteral("old")));
    QVERIFY(passwords.verify(QStringLiteral("alice"), QStringLiteral("old"))); // cached now
    QVERIFY(passwords.load(second));
    QVERIFY(!passwords.verify(QStringLiteral("alice"), QStringLiteral("old")));
    QVERIFY(passwords.verify(QStringLiteral("alice"), QStringLiteral("new")));
}

void tst_PasswordFile::concurrentVerification()
{
    QByteArray content;
    QStringList users;
    for (int i = 0; i < 4; ++i) {
        const QString user = QStringLiteral("user%1").arg(i);
        users.append(user);
        content += user.toUtf8() + ':'
                   + opensslHash(QStringLiteral("-6"), QStringLiteral("pw%1").arg(i)) + '\n';
    }
    const QString fileName = writeFile(QStringLiteral("many"), content);
    sluice::PasswordFile passwords;
    QVERIFY2(passwords.load(fileName), qPrintable(passwords.errorString()));

    std::atomic<int> wrongAnswers {0};
    std::atomic<int> rightAnswers {0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&, t, copy = passwords] {
            for (int round = 0; round < 30; ++round) {
                const int i = (t + round) % 4;
                const QString user = QStringLiteral("user%1").arg(i);
                const bool good = copy.verify(user, QStringLiteral("pw%1").arg(i));
                const bool bad = copy.verify(user, QStringLiteral("pw%1").arg((i + 1) % 4));
                (good && !bad ? rightAnswers : wrongAnswers)++;
            }
        });
    }
    // Reloads meanwhile are atomic for the readers: the file does not change.
    for (int i = 0; i < 10; ++i)
        QVERIFY(passwords.load(fileName));
    for (std::thread &thread : threads)
        thread.join();
    QCOMPARE(wrongAnswers.load(), 0);
    QCOMPARE(rightAnswers.load(), 8 * 30);
}

QTEST_GUILESS_MAIN(tst_PasswordFile)
#include "tst_passwordfile.moc"
