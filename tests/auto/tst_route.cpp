#include <sluice/route.h>

#include <QtTest/QtTest>

using sluice::Route;

namespace sluice {
// Found by QCOMPARE through argument-dependent lookup, for readable failures.
char *toString(Route::Kind kind)
{
    return QTest::toString(Route::kindName(kind));
}
} // namespace sluice

using Params = QHash<QString, QString>;

class tst_Route : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void defaultIsInvalid();
    void parseKey_data();
    void parseKey();
    void invalidKey_data();
    void invalidKey();
    void namedGroups_data();
    void namedGroups();
    void badRegex_data();
    void badRegex();
    void matchPath_data();
    void matchPath();
    void optionalGroupOmitted();
    void matchPathFailureKeepsParams();
    void targetKind_data();
    void targetKind();
    void handlers();
    void withCopiesLeaveOriginal();
    void expandTarget_data();
    void expandTarget();
    void kindNames();
};

void tst_Route::defaultIsInvalid()
{
    const Route route;
    QVERIFY(!route.isValid());
    QVERIFY(route.uri().isEmpty());
    QVERIFY(!route.matchPath(QStringLiteral("/")));
    QVERIFY(!route.httpHandler());
    QVERIFY(!route.webSocketHandler());
}

void tst_Route::parseKey_data()
{
    QTest::addColumn<QString>("key");
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<bool>("webSocket");
    QTest::addColumn<QString>("pattern");

    QTest::newRow("plain") << "/x" << QByteArray() << false << "/x";
    QTest::newRow("root") << "/" << QByteArray() << false << "/";
    QTest::newRow("get") << "get:/x" << QByteArray("GET") << false << "/x";
    QTest::newRow("GET") << "GET:/x" << QByteArray("GET") << false << "/x";
    QTest::newRow("Post") << "Post:/a/b" << QByteArray("POST") << false << "/a/b";
    QTest::newRow("custom method") << "purge:/cache" << QByteArray("PURGE") << false << "/cache";
    QTest::newRow("ws") << "ws:/chat" << QByteArray() << true << "/chat";
    QTest::newRow("WS") << "WS:/chat" << QByteArray() << true << "/chat";
    QTest::newRow("colon in path") << "/a:b" << QByteArray() << false << "/a:b";
    QTest::newRow("regex") << "get:/files/.*\\.txt" << QByteArray("GET") << false
                           << "/files/.*\\.txt";
}

void tst_Route::parseKey()
{
    QFETCH(QString, key);
    QFETCH(QByteArray, method);
    QFETCH(bool, webSocket);
    QFETCH(QString, pattern);

    const Route route(key);
    QVERIFY2(route.isValid(), qPrintable(route.errorString()));
    QVERIFY(route.errorString().isEmpty());
    QCOMPARE(route.uri(), key);
    QCOMPARE(route.method(), method);
    QCOMPARE(route.isWebSocket(), webSocket);
    QCOMPARE(route.pattern(), pattern);
    QCOMPARE(route.kind(), webSocket ? Route::Kind::WebSocket : Route::Kind::Http);
}

void tst_Route::invalidKey_data()
{
    QTest::addColumn<QString>("key");

    QTest::newRow("empty") << "";
    QTest::newRow("no slash") << "x";
    QTest::newRow("relative regex") << ".*\\.html";
    QTest::newRow("method only") << "get:";
    QTest::newRow("method, no slash") << "get:x";
    QTest::newRow("ws, no slash") << "ws:chat";
    QTest::newRow("digit in method") << "g3t:/x";
    QTest::newRow("empty method") << ":/x";
    QTest::newRow("two prefixes") << "ws:get:/x";
    QTest::newRow("space before slash") << " /x";
}

void tst_Route::invalidKey()
{
    QFETCH(QString, key);

    const Route route(key);
    QVERIFY(!route.isValid());
    QCOMPARE(route.uri(), key);
    QVERIFY(route.errorString().contains(QLatin1Char('"') + key + QLatin1Char('"')));
    QVERIFY2(route.errorString().contains(QLatin1String("\"/path\"")),
             qPrintable(route.errorString()));
    QVERIFY(!route.matchPath(key.mid(key.indexOf(QLatin1Char('/')))));
}

void tst_Route::namedGroups_data()
{
    QTest::addColumn<QString>("key");
    QTest::addColumn<QString>("pattern");
    QTest::addColumn<QStringList>("names");

    QTest::newRow("new form") << "/u/(?<name>[^/]+)"
                              << "/u/(?<name>[^/]+)" << QStringList {"name"};
    QTest::newRow("old form") << "/u/(name:[^/]+)"
                              << "/u/(?<name>[^/]+)" << QStringList {"name"};
    QTest::newRow("old form after prefix") << "get:/u/(id:\\d+)"
                                           << "/u/(?<id>\\d+)" << QStringList {"id"};
    QTest::newRow("both forms") << "/(?<a>x)/(b:y)"
                                << "/(?<a>x)/(?<b>y)" << QStringList {"a", "b"};
    QTest::newRow("nested old forms")
            << "/(outer:a(inner:b)c)"
            << "/(?<outer>a(?<inner>b)c)" << QStringList {"outer", "inner"};
    QTest::newRow("name with digits and underscore") << "/(_a1_b:x)"
                                                     << "/(?<_a1_b>x)" << QStringList {"_a1_b"};
    QTest::newRow("non-capturing untouched") << "/(?:a:b)"
                                             << "/(?:a:b)" << QStringList();
    QTest::newRow("lookahead untouched") << "/x(?=a:b)"
                                         << "/x(?=a:b)" << QStringList();
    QTest::newRow("inline option untouched") << "/(?i:abc)"
                                             << "/(?i:abc)" << QStringList();
    QTest::newRow("escaped paren") << "/\\(a:b\\)"
                                   << "/\\(a:b\\)" << QStringList();
    QTest::newRow("escaped backslash then group") << "/\\\\(a:b)"
                                                  << "/\\\\(?<a>b)" << QStringList {"a"};
    QTest::newRow("in class") << "/[(a:b)]"
                              << "/[(a:b)]" << QStringList();
    QTest::newRow("bracket first in class") << "/[]a(b:c)]"
                                            << "/[]a(b:c)]" << QStringList();
    QTest::newRow("bracket first in negated class") << "/[^](b:c)]x"
                                                    << "/[^](b:c)]x" << QStringList();
    QTest::newRow("escaped bracket in class") << "/[\\](a:b)]"
                                              << "/[\\](a:b)]" << QStringList();
    QTest::newRow("group after class with escaped bracket") << "/[\\]](a:b)"
                                                            << "/[\\]](?<a>b)" << QStringList {"a"};
    QTest::newRow("posix class") << "/[[:alpha:](a:b)]"
                                 << "/[[:alpha:](a:b)]" << QStringList();
    QTest::newRow("group after posix class") << "/[[:digit:]]+(n:x)"
                                             << "/[[:digit:]]+(?<n>x)" << QStringList {"n"};
    QTest::newRow("quoted") << "/\\Q(a:b)\\E(c:d)"
                            << "/\\Q(a:b)\\E(?<c>d)" << QStringList {"c"};
    QTest::newRow("quoted to end") << "/\\Q(a:b)"
                                   << "/\\Q(a:b)" << QStringList();
    QTest::newRow("digit first is no name") << "/(1a:x)"
                                            << "/(1a:x)" << QStringList();
    QTest::newRow("no colon is a plain group") << "/(abc)"
                                               << "/(abc)" << QStringList();
    QTest::newRow("unnamed groups not listed") << "/(a)/(?<b>c)/(d)"
                                               << "/(a)/(?<b>c)/(d)" << QStringList {"b"};
}

void tst_Route::namedGroups()
{
    QFETCH(QString, key);
    QFETCH(QString, pattern);
    QFETCH(QStringList, names);

    const Route route(key);
    QCOMPARE(route.pattern(), pattern);
    // "quoted to end" cannot be anchored (\Q swallows the anchoring); all
    // others must compile.
    if (QByteArray(QTest::currentDataTag()) == "quoted to end") {
        QVERIFY(!route.isValid());
        QVERIFY(route.errorString().contains(QLatin1String("anchored")));
        return;
    }
    QVERIFY2(route.isValid(), qPrintable(route.errorString()));
    QCOMPARE(route.parameterNames(), names);
}

void tst_Route::badRegex_data()
{
    QTest::addColumn<QString>("key");
    QTest::addColumn<QString>("message");
    QTest::addColumn<int>("offset");

    // Offsets are where PCRE2 reports the error, counted in the key as written.
    QTest::newRow("missing paren after method") << "get:/a(b"
                                                << "missing closing parenthesis" << 8;
    QTest::newRow("missing paren, no prefix") << "/a(b"
                                              << "missing closing parenthesis" << 4;
    QTest::newRow("unmatched paren") << "/a)"
                                     << "unmatched closing parenthesis" << 2;
    QTest::newRow("unmatched paren after ws") << "ws:/a)"
                                              << "unmatched closing parenthesis" << 5;
    QTest::newRow("open class") << "post:/x["
                                << "missing terminating ] for character class" << 8;
    QTest::newRow("trailing backslash") << "/a\\"
                                        << "\\ at end of pattern" << 3;
    // The rewrite adds two characters per old-form group before the error.
    QTest::newRow("after old-form groups") << "get:/(a:x)/(b:y)/c{2,1}"
                                           << "numbers out of order in {} quantifier" << 22;
    QTest::newRow("inside old-form group") << "/(a:x{2,1})"
                                           << "numbers out of order in {} quantifier" << 9;
}

void tst_Route::badRegex()
{
    QFETCH(QString, key);
    QFETCH(QString, message);
    QFETCH(int, offset);

    const Route route(key);
    QVERIFY(!route.isValid());
    QCOMPARE(route.errorString(), QStringLiteral("bad regex in \"%1\": %2 at offset %3")
                                          .arg(key, message, QString::number(offset)));
}

void tst_Route::matchPath_data()
{
    QTest::addColumn<QString>("key");
    QTest::addColumn<QString>("path");
    QTest::addColumn<bool>("matches");
    QTest::addColumn<Params>("params");

    QTest::newRow("exact") << "/x"
                           << "/x" << true << Params();
    QTest::newRow("anchored at end") << "/x"
                                     << "/xy" << false << Params();
    QTest::newRow("anchored at start") << "/x"
                                       << "/a/x" << false << Params();
    QTest::newRow("alternation anchored") << "/a|/b"
                                          << "/a/b" << false << Params();
    QTest::newRow("alternation second") << "/a|/b"
                                        << "/b" << true << Params();
    QTest::newRow("new-form param") << "get:/user/(?<name>[^/]+)"
                                    << "/user/ann" << true << Params {{"name", "ann"}};
    QTest::newRow("old-form param")
            << "/user/(name:[^/]+)/(id:\\d+)"
            << "/user/bob/42" << true << Params {{"name", "bob"}, {"id", "42"}};
    QTest::newRow("old-form param mismatch") << "/user/(id:\\d+)"
                                             << "/user/x" << false << Params();
    QTest::newRow("ws param") << "ws:/chat/(?<room>\\w+)"
                              << "/chat/lobby" << true << Params {{"room", "lobby"}};
    QTest::newRow("rest") << "/old/(?<rest>.*)"
                          << "/old/a/b/c" << true << Params {{"rest", "a/b/c"}};
    QTest::newRow("empty group value") << "/old/(?<rest>.*)"
                                       << "/old/" << true << Params {{"rest", ""}};
    QTest::newRow("unicode path") << "/(?<w>.+)" << QString::fromUtf8("/caf\xc3\xa9") << true
                                  << Params {{"w", QString::fromUtf8("caf\xc3\xa9")}};
}

void tst_Route::matchPath()
{
    QFETCH(QString, key);
    QFETCH(QString, path);
    QFETCH(bool, matches);
    QFETCH(Params, params);

    const Route route(key);
    QVERIFY2(route.isValid(), qPrintable(route.errorString()));
    Params found;
    QCOMPARE(route.matchPath(path, &found), matches);
    QCOMPARE(found, params);
    QCOMPARE(route.matchPath(path), matches);
}

void tst_Route::optionalGroupOmitted()
{
    const Route route(QStringLiteral("/a(?<opt>/b)?(?<tail>/c)?"));
    Params params;
    QVERIFY(route.matchPath(QStringLiteral("/a/c"), &params));
    QVERIFY(!params.contains(QStringLiteral("opt")));
    QCOMPARE(params.value(QStringLiteral("tail")), QStringLiteral("/c"));
    QVERIFY(route.matchPath(QStringLiteral("/a/b"), &params));
    QCOMPARE(params, (Params {{"opt", "/b"}}));
}

void tst_Route::matchPathFailureKeepsParams()
{
    const Route route(QStringLiteral("/(?<n>\\d+)"));
    Params params {{"n", "7"}};
    QVERIFY(!route.matchPath(QStringLiteral("/x"), &params));
    QCOMPARE(params, (Params {{"n", "7"}}));
    QVERIFY(route.matchPath(QStringLiteral("/8"), &params));
    QCOMPARE(params, (Params {{"n", "8"}}));
}

void tst_Route::targetKind_data()
{
    QTest::addColumn<QString>("target");
    QTest::addColumn<Route::Kind>("kind");

    QTest::newRow("path") << "/new" << Route::Kind::Forward;
    QTest::newRow("path with group") << "/new/(rest)" << Route::Kind::Forward;
    QTest::newRow("http") << "http://example.com/x" << Route::Kind::Redirect;
    QTest::newRow("https") << "https://example.com/" << Route::Kind::Redirect;
    QTest::newRow("HTTPS upper") << "HTTPS://example.com/" << Route::Kind::Redirect;
    QTest::newRow("scheme with + . -") << "git+ssh.x-y://host/x" << Route::Kind::Redirect;
    QTest::newRow("no slashes") << "mailto:someone" << Route::Kind::Forward;
    QTest::newRow("scheme later") << "/go?to=http://example.com" << Route::Kind::Forward;
    QTest::newRow("digit first") << "1http://example.com" << Route::Kind::Forward;
    QTest::newRow("empty scheme") << "://example.com" << Route::Kind::Forward;
    QTest::newRow("bad scheme char") << "ht_tp://example.com" << Route::Kind::Forward;
}

void tst_Route::targetKind()
{
    QFETCH(QString, target);
    QFETCH(Route::Kind, kind);

    const Route route = Route(QStringLiteral("/from")).withTarget(target);
    QVERIFY(route.isValid());
    QCOMPARE(route.kind(), kind);
    QCOMPARE(route.target(), target);
    QCOMPARE(route.handlerName(), target);
    QVERIFY(!route.httpHandler());
    QVERIFY(!route.webSocketHandler());
}

void tst_Route::handlers()
{
    int httpCalls = 0;
    int wsCalls = 0;
    const Route base(QStringLiteral("/h"));

    const Route lambda = base.withHttpHandler([&](sluice::HttpConnect &) { ++httpCalls; }, {});
    QCOMPARE(lambda.kind(), Route::Kind::Http);
    QCOMPARE(lambda.handlerName(), QStringLiteral("lambda"));
    QVERIFY(lambda.httpHandler());
    QVERIFY(!lambda.webSocketHandler());

    const Route named = base.withHttpHandler([](sluice::HttpConnect &) {}, QStringLiteral("hello"));
    QCOMPARE(named.handlerName(), QStringLiteral("hello"));

    const Route ws(QStringLiteral("ws:/w"));
    const Route socket = ws.withWebSocketHandler(
            [&](sluice::WebSocket *s) { wsCalls += s ? 10 : 1; },
            {QStringLiteral("chat"), QStringLiteral("v2")}, QStringLiteral("chat rooms"));
    QCOMPARE(socket.kind(), Route::Kind::WebSocket);
    QCOMPARE(socket.handlerName(), QStringLiteral("chat rooms"));
    QCOMPARE(socket.subprotocols(), (QStringList {"chat", "v2"}));
    QVERIFY(!socket.httpHandler());
    QVERIFY(socket.webSocketHandler());
    socket.webSocketHandler()(nullptr);
    QCOMPARE(wsCalls, 1);
    QCOMPARE(httpCalls, 0);

    const Route unnamed = ws.withWebSocketHandler([](sluice::WebSocket *) {}, {}, {});
    QCOMPARE(unnamed.handlerName(), QStringLiteral("lambda"));
    QVERIFY(unnamed.subprotocols().isEmpty());

    // A forward replaces the handler, a handler replaces the forward.
    const Route forward = lambda.withTarget(QStringLiteral("/elsewhere"));
    QCOMPARE(forward.kind(), Route::Kind::Forward);
    QVERIFY(!forward.httpHandler());
    const Route back = forward.withHttpHandler([](sluice::HttpConnect &) {}, {});
    QCOMPARE(back.kind(), Route::Kind::Http);
    QVERIFY(back.target().isEmpty());
}

void tst_Route::withCopiesLeaveOriginal()
{
    const Route parsed(QStringLiteral("get:/p/(?<id>\\d+)"));
    const Route forward = parsed.withTarget(QStringLiteral("/q/(id)"));

    QCOMPARE(parsed.kind(), Route::Kind::Http);
    QVERIFY(parsed.target().isEmpty());
    QVERIFY(parsed.handlerName().isEmpty());

    // The copy keeps everything parsed from the key.
    QCOMPARE(forward.uri(), parsed.uri());
    QCOMPARE(forward.method(), QByteArray("GET"));
    QCOMPARE(forward.pattern(), parsed.pattern());
    QCOMPARE(forward.parameterNames(), QStringList {QStringLiteral("id")});
    Params params;
    QVERIFY(forward.matchPath(QStringLiteral("/p/12"), &params));
    QCOMPARE(forward.expandTarget(params), QStringLiteral("/q/12"));
}

void tst_Route::expandTarget_data()
{
    QTest::addColumn<QString>("target");
    QTest::addColumn<Params>("params");
    QTest::addColumn<QString>("expanded");

    QTest::newRow("none") << "/new" << Params {{"a", "1"}} << "/new";
    QTest::newRow("one") << "/new/(rest)" << Params {{"rest", "a/b"}} << "/new/a/b";
    QTest::newRow("twice") << "/(a)-(a)" << Params {{"a", "x"}} << "/x-x";
    QTest::newRow("two names") << "/(a)/(b)?q" << Params {{"a", "1"}, {"b", "2"}} << "/1/2?q";
    QTest::newRow("unknown left") << "/(a)/(zz)" << Params {{"a", "1"}} << "/1/(zz)";
    QTest::newRow("empty value") << "/x(rest)" << Params {{"rest", ""}} << "/x";
    QTest::newRow("value not expanded again")
            << "/(a)(b)" << Params {{"a", "(b)"}, {"b", "B"}} << "/(b)B";
    QTest::newRow("not a name") << "/(a b)/(1x)/()" << Params {{"a b", "1"}, {"1x", "2"}}
                                << "/(a b)/(1x)/()";
    QTest::newRow("unclosed") << "/(a" << Params {{"a", "1"}} << "/(a";
    QTest::newRow("redirect") << "https://example.com/(p)" << Params {{"p", "x"}}
                              << "https://example.com/x";
}

void tst_Route::expandTarget()
{
    QFETCH(QString, target);
    QFETCH(Params, params);
    QFETCH(QString, expanded);

    const Route route = Route(QStringLiteral("/any")).withTarget(target);
    QCOMPARE(route.expandTarget(params), expanded);
}

void tst_Route::kindNames()
{
    QCOMPARE(Route::kindName(Route::Kind::Http), QStringLiteral("HTTP"));
    QCOMPARE(Route::kindName(Route::Kind::WebSocket), QStringLiteral("WebSocket"));
    QCOMPARE(Route::kindName(Route::Kind::Forward), QStringLiteral("forward"));
    QCOMPARE(Route::kindName(Route::Kind::Redirect), QStringLiteral("redirect"));
}

QTEST_GUILESS_MAIN(tst_Route)
#include "tst_route.moc"
