#include <sluice/chain.h>
#include <sluice/router.h>

#include <QtCore/QDeadlineTimer>
#include <QtCore/QThread>
#include <QtTest/QSignalSpy>
#include <QtTest/QtTest>

#include <atomic>
#include <memory>

using sluice::HttpConnect;
using sluice::MapOptions;
using sluice::Route;
using sluice::RouteMatch;
using sluice::Router;

using Params = QHash<QString, QString>;
using Methods = QList<QByteArray>;

namespace sluice {
// Found by QCOMPARE through argument-dependent lookup, for readable failures.
char *toString(Route::Kind kind)
{
    return QTest::toString(Route::kindName(kind));
}

char *toString(RouteMatch::Outcome outcome)
{
    static const char *const names[] = {"Found", "NotFound", "MethodNotAllowed", "UpgradeRequired"};
    return qstrdup(names[outcome]);
}
} // namespace sluice

namespace {

// A filter that says which one it is without being called (calling one
// needs a live connection).
struct TaggedFilter
{
    int id;
    void operator()(HttpConnect &, sluice::Chain) const { }
};

QList<int> filterIds(const QList<sluice::Filter> &filters)
{
    QList<int> ids;
    for (const sluice::Filter &filter : filters)
        ids.append(filter.target<TaggedFilter>() ? filter.target<TaggedFilter>()->id : -1);
    return ids;
}

sluice::HttpHandler httpHandler()
{
    return [](HttpConnect &) {
    };
}

MapOptions named(const QString &name, bool preceding = false)
{
    MapOptions options;
    options.handlerName = name;
    options.preceding = preceding;
    return options;
}

QStringList uris(const QList<Route> &routes)
{
    QStringList list;
    for (const Route &route : routes)
        list.append(route.uri());
    return list;
}

class Receiver : public QObject
{
    Q_OBJECT
public:
    explicit Receiver(std::shared_ptr<int> calls)
        : m_calls(std::move(calls))
    { }
    void onSocket(sluice::WebSocket *) { ++*m_calls; }
    void onRequest(HttpConnect &) { ++*m_calls; }

private:
    std::shared_ptr<int> m_calls;
};

} // namespace

class tst_Router : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void firstMatchWins();
    void preceding();
    void replaceInPlace();
    void replaceWithPrecedingMovesFirst();
    void unmap();
    void paramsInMatch();
    void methodNotAllowed();
    void headRunsGet();
    void explicitHeadRoute();
    void anyMethodRoute();
    void upgradeRequired();
    void webSocketAndHttpOnSamePath();
    void webSocketRouteNeedsUpgrade();
    void mapRejects_data();
    void mapRejects();
    void forwardAndRedirect();
    void subprotocolsAndNames();
    void receiverHandlers();
    void cacheFollowsChanges();
    void cacheKeepsRequestsApart();
    void cacheBounded();
    void matchKeepsItsTable();
    void concurrentChangesAndMatches();
    void filtersInOrder();
    void filterReplaceAndUnfilter();
    void badFilter();
    void errorMapping();
    void routesChangedSignal();
};

void tst_Router::firstMatchWins()
{
    Router router;
    QVERIFY(router.map(QStringLiteral("/a/.*"), httpHandler(), named("wide")));
    QVERIFY(router.map(QStringLiteral("/a/b"), httpHandler(), named("narrow")));

    const RouteMatch match = router.match("GET", QStringLiteral("/a/b"), false);
    QCOMPARE(match.outcome, RouteMatch::Found);
    QCOMPARE(match.route.handlerName(), QStringLiteral("wide"));
    QCOMPARE(uris(router.routes()), (QStringList {"/a/.*", "/a/b"}));
}

void tst_Router::preceding()
{
    Router router;
    QVERIFY(router.map(QStringLiteral("/a/.*"), httpHandler(), named("wide")));
    QVERIFY(router.map(QStringLiteral("/a/b"), httpHandler(), named("narrow", true)));

    QCOMPARE(uris(router.routes()), (QStringList {"/a/b", "/a/.*"}));
    QCOMPARE(router.match("GET", QStringLiteral("/a/b"), false).route.handlerName(),
             QStringLiteral("narrow"));
    QCOMPARE(router.match("GET", QStringLiteral("/a/c"), false).route.handlerName(),
             QStringLiteral("wide"));
}

void tst_Router::replaceInPlace()
{
    Router router;
    QVERIFY(router.map(QStringLiteral("/x"), httpHandler(), named("one")));
    QVERIFY(router.map(QStringLiteral("/y"), httpHandler(), named("y")));
    QCOMPARE(router.match("GET", QStringLiteral("/x"), false).route.handlerName(),
             QStringLiteral("one"));

    QVERIFY(router.map(QStringLiteral("/x"), QStringLiteral("/y")));
    QCOMPARE(uris(router.routes()), (QStringList {"/x", "/y"}));
    const RouteMatch match = router.match("GET", QStringLiteral("/x"), false);
    QCOMPARE(match.route.kind(), Route::Kind::Forward);
    QCOMPARE(match.route.target(), QStringLiteral("/y"));

    // The same regex under another key is another route.
    QVERIFY(router.map(QStringLiteral("get:/x"), httpHandler(), named("get")));
    QCOMPARE(uris(router.routes()), (QStringList {"/x", "/y", "get:/x"}));
}

void tst_Router::replaceWithPrecedingMovesFirst()
{
    Router router;
    QVERIFY(router.map(QStringLiteral("/.*"), httpHandler(), named("all")));
    QVERIFY(router.map(QStringLiteral("/m"), httpHandler(), named("old")));
    QVERIFY(router.map(QStringLiteral("/z"), httpHandler(), named("z")));
    QVERIFY(router.map(QStringLiteral("/m"), httpHandler(), named("new", true)));

    QCOMPARE(uris(router.routes()), (QStringList {"/m", "/.*", "/z"}));
    QCOMPARE(router.match("GET", QStringLiteral("/m"), false).route.handlerName(),
             QStringLiteral("new"));
}

void tst_Router::unmap()
{
    Router router;
    QVERIFY(router.map(QStringLiteral("/a"), httpHandler()));
    QVERIFY(router.map(QStringLiteral("get:/a"), httpHandler()));
    QVERIFY(router.map(QStringLiteral("ws:/a"), [](sluice::WebSocket *) {}));

    QVERIFY(router.unmap(QStringLiteral("/a")));
    QCOMPARE(uris(router.routes()), (QStringList {"get:/a", "ws:/a"}));
    QVERIFY(!router.unmap(QStringLiteral("/a")));
    QVERIFY(router.errorString().contains(QLatin1String("\"/a\"")));
    // The exact key only: the method is part of it.
    QVERIFY(!router.unmap(QStringLiteral("GET:/a")));
    QVERIFY(router.unmap(QStringLiteral("get:/a")));
    QCOMPARE(router.match("GET", QStringLiteral("/a"), false).outcome, RouteMatch::UpgradeRequired);
    QVERIFY(router.unmap(QStringLiteral("ws:/a")));
    QVERIFY(router.routes().isEmpty());
    QCOMPARE(router.match("GET", QStringLiteral("/a"), false).outcome, RouteMatch::NotFound);
}

void tst_Router::paramsInMatch()
{
    Router router;
    QVERIFY(router.map(QStringLiteral("get:/u/(name:[^/]+)(?<tab>/\\w+)?"), httpHandler()));

    RouteMatch match = router.match("GET", QStringLiteral("/u/ann/posts"), false);
    QCOMPARE(match.outcome, RouteMatch::Found);
    QCOMPARE(match.params, (Params {{"name", "ann"}, {"tab", "/posts"}}));

    match = router.match("GET", QStringLiteral("/u/bob"), false);
    QCOMPARE(match.outcome, RouteMatch::Found);
    QCOMPARE(match.params, (Params {{"name", "bob"}}));
    QVERIFY(match.allowedMethods.isEmpty());
}

void tst_Router::methodNotAllowed()
{
    Router router;
    QVERIFY(router.map(QStringLiteral("post:/r"), httpHandler()));
    QVERIFY(router.map(QStringLiteral("get:/r"), httpHandler()));
    QVERIFY(router.map(QStringLiteral("put:/r/?"), httpHandler()));
    QVERIFY(router.map(QStringLiteral("get:/(r)"), httpHandler()));
    QVERIFY(router.map(QStringLiteral("delete:/other"), httpHandler()));
    QVERIFY(router.map(QStringLiteral("ws:/r"), [](sluice::WebSocket *) {}));

    RouteMatch match = router.match("PATCH", QStringLiteral("/r"), false);
    QCOMPARE(match.outcome, RouteMatch::MethodNotAllowed);
    QCOMPARE(match.allowedMethods, (Methods {"POST", "GET", "HEAD", "PUT"}));
    QVERIFY(!match.route.isValid());

    match = router.match("PUT", QStringLiteral("/r/"), false);
    QCOMPARE(match.outcome, RouteMatch::Found);
    QCOMPARE(match.route.uri(), QStringLiteral("put:/r/?"));

    match = router.match("GET", QStringLiteral("/r/"), false);
    QCOMPARE(match.outcome, RouteMatch::MethodNotAllowed);
    QCOMPARE(match.allowedMethods, (Methods {"PUT"}));

    // Methods compare as sent: HTTP methods are case-sensitive.
    match = router.match("get", QStringLiteral("/r"), false);
    QCOMPARE(match.outcome, RouteMatch::MethodNotAllowed);
}

void tst_Router::headRunsGet()
{
    Router router;
    QVERIFY(router.map(QStringLiteral("get:/h"), httpHandler(), named("get h")));
    QVERIFY(router.map(QStringLiteral("post:/p"), httpHandler()));

    RouteMatch match = router.match("HEAD", QStringLiteral("/h"), false);
    QCOMPARE(match.outcome, RouteMatch::Found);
    QCOMPARE(match.route.handlerName(), QStringLiteral("get h"));

    match = router.match("HEAD", QStringLiteral("/p"), false);
    QCOMPARE(match.outcome, RouteMatch::MethodNotAllowed);
    QCOMPARE(match.allowedMethods, (Methods {"POST"}));

    match = router.match("OPTIONS", QStringLiteral("/h"), false);
    QCOMPARE(match.outcome, RouteMatch::MethodNotAllowed);
    QCOMPARE(match.allowedMethods, (Methods {"GET", "HEAD"}));
}

void tst_Router::explicitHeadRoute()
{
    Router router;
    QVERIFY(router.map(QStringLiteral("head:/a"), httpHandler(), named("head a")));
    QVERIFY(router.map(QStringLiteral("get:/a"), httpHandler(), named("get a")));
    QVERIFY(router.map(QStringLiteral("get:/b"), httpHandler(), named("get b")));
    QVERIFY(router.map(QStringLiteral("head:/b"), httpHandler(), named("head b")));

    // Whichever comes first answers HEAD.
    QCOMPARE(router.match("HEAD", QStringLiteral("/a"), false).route.handlerName(),
             QStringLiteral("head a"));
    QCOMPARE(router.match("HEAD", QStringLiteral("/b"), false).route.handlerName(),
             QStringLiteral("get b"));
    QCOMPARE(router.match("GET", QStringLiteral("/a"), false).route.handlerName(),
             QStringLiteral("get a"));
    const RouteMatch match = router.match("POST", QStringLiteral("/b"), false);
    QCOMPARE(match.allowedMethods, (Methods {"GET", "HEAD"}));
}

void tst_Router::anyMethodRoute()
{
    Router router;
    QVERIFY(router.map(QStringLiteral("post:/m"), httpHandler(), named("post")));
    QVERIFY(router.map(QStringLiteral("/m"), httpHandler(), named("any")));

    QCOMPARE(router.match("POST", QStringLiteral("/m"), false).route.handlerName(),
             QStringLiteral("post"));
    for (const QByteArray method : {"GET", "HEAD", "DELETE", "BREW"}) {
        const RouteMatch match = router.match(method, QStringLiteral("/m"), false);
        QCOMPARE(match.outcome, RouteMatch::Found);
        QCOMPARE(match.route.handlerName(), QStringLiteral("any"));
    }
}

void tst_Router::upgradeRequired()
{
    Router router;
    QVERIFY(router.map(QStringLiteral("ws:/chat/(?<room>\\w+)"), [](sluice::WebSocket *) {}));

    RouteMatch match = router.match("GET", QStringLiteral("/chat/lobby"), false);
    QCOMPARE(match.outcome, RouteMatch::UpgradeRequired);
    QVERIFY(match.allowedMethods.isEmpty());

    match = router.match("GET", QStringLiteral("/chat/lobby"), true);
    QCOMPARE(match.outcome, RouteMatch::Found);
    QVERIFY(match.route.isWebSocket());
    QCOMPARE(match.params, (Params {{"room", "lobby"}}));

    QCOMPARE(router.match("GET", QStringLiteral("/chat/"), false).outcome, RouteMatch::NotFound);
    QCOMPARE(router.match("GET", QStringLiteral("/chat/"), true).outcome, RouteMatch::NotFound);
}

void tst_Router::webSocketAndHttpOnSamePath()
{
    Router router;
    QVERIFY(router.map(
            QStringLiteral("ws:/both"), [](sluice::WebSocket *) {}, named("ws")));
    QVERIFY(router.map(QStringLiteral("get:/both"), httpHandler(), named("http")));

    RouteMatch match = router.match("GET", QStringLiteral("/both"), false);
    QCOMPARE(match.outcome, RouteMatch::Found);
    QCOMPARE(match.route.handlerName(), QStringLiteral("http"));

    match = router.match("GET", QStringLiteral("/both"), true);
    QCOMPARE(match.outcome, RouteMatch::Found);
    QCOMPARE(match.route.handlerName(), QStringLiteral("ws"));

    // Another method is told which methods work, not to upgrade.
    match = router.match("POST", QStringLiteral("/both"), false);
    QCOMPARE(match.outcome, RouteMatch::MethodNotAllowed);
    QCOMPARE(match.allowedMethods, (Methods {"GET", "HEAD"}));
}

void tst_Router::webSocketRouteNeedsUpgrade()
{
    Router router;
    QVERIFY(router.map(QStringLiteral("/plain"), httpHandler()));
    QVERIFY(router.map(
            QStringLiteral("ws:/w.*"), [](sluice::WebSocket *) {}, named("first")));
    QVERIFY(router.map(
            QStringLiteral("ws:/ws"), [](sluice::WebSocket *) {}, named("second")));

    // An upgrade only ever finds ws: routes, the first one matching.
    QCOMPARE(router.match("GET", QStringLiteral("/plain"), true).outcome, RouteMatch::NotFound);
    const RouteMatch match = router.match("GET", QStringLiteral("/ws"), true);
    QCOMPARE(match.outcome, RouteMatch::Found);
    QCOMPARE(match.route.handlerName(), QStringLiteral("first"));
}

void tst_Router::mapRejects_data()
{
    QTest::addColumn<QString>("uri");
    QTest::addColumn<int>("value"); // 0 HTTP handler, 1 WebSocket handler, 2 target
    QTest::addColumn<QString>("errorPart");

    QTest::newRow("bad key") << "nope" << 0 << "bad route key \"nope\"";
    QTest::newRow("bad regex") << "get:/a(b" << 0
                               << "bad regex in \"get:/a(b\": missing closing parenthesis at "
                                  "offset 8";
    QTest::newRow("bad regex, target") << "/a[" << 2 << "bad regex in \"/a[\"";
    QTest::newRow("ws key, HTTP handler") << "ws:/x" << 0 << "WebSocket handler";
    QTest::newRow("ws key, target") << "ws:/x" << 2 << "cannot forward or redirect";
    QTest::newRow("http key, WebSocket handler") << "/x" << 1 << "\"ws:\" key";
    QTest::newRow("method key, WebSocket handler") << "get:/x" << 1 << "\"ws:\" key";
}

void tst_Router::mapRejects()
{
    QFETCH(QString, uri);
    QFETCH(int, value);
    QFETCH(QString, errorPart);

    Router router;
    QVERIFY(router.map(QStringLiteral("/keep"), httpHandler()));
    QSignalSpy changed(&router, &Router::routesChanged);

    bool mapped = true;
    switch (value) {
    case 0:
        mapped = router.map(uri, httpHandler());
        break;
    case 1:
        mapped = router.map(uri, [](sluice::WebSocket *) {});
        break;
    default:
        mapped = router.map(uri, QStringLiteral("/target"));
        break;
    }
    QVERIFY(!mapped);
    QVERIFY2(router.errorString().contains(errorPart), qPrintable(router.errorString()));
    QCOMPARE(uris(router.routes()), QStringList {QStringLiteral("/keep")});
    QCOMPARE(changed.count(), 0);
}

void tst_Router::forwardAndRedirect()
{
    Router router;
    QVERIFY(router.map(QStringLiteral("/old/(?<rest>.*)"), "/new/(rest)"));
    QVERIFY(router.map(QStringLiteral("/away/(page:.*)"), "https://example.com/(page)"));
    QVERIFY(!router.map(QStringLiteral("/empty"), QString()));

    RouteMatch match = router.match("GET", QStringLiteral("/old/a/b"), false);
    QCOMPARE(match.outcome, RouteMatch::Found);
    QCOMPARE(match.route.kind(), Route::Kind::Forward);
    QCOMPARE(match.route.expandTarget(match.params), QStringLiteral("/new/a/b"));
    QCOMPARE(match.route.handlerName(), QStringLiteral("/new/(rest)"));

    match = router.match("POST", QStringLiteral("/away/x.html"), false);
    QCOMPARE(match.outcome, RouteMatch::Found);
    QCOMPARE(match.route.kind(), Route::Kind::Redirect);
    QCOMPARE(match.route.expandTarget(match.params), QStringLiteral("https://example.com/x.html"));
}

void tst_Router::subprotocolsAndNames()
{
    Router router;
    MapOptions options;
    options.subprotocols = QStringList {QStringLiteral("v2"), QStringLiteral("v1")};
    options.handlerName = QStringLiteral("chat");
    QVERIFY(router.map(
            QStringLiteral("ws:/chat"), [](sluice::WebSocket *) {}, options));
    QVERIFY(router.map(QStringLiteral("/page"), httpHandler()));

    const QList<Route> routes = router.routes();
    QCOMPARE(routes.size(), 2);
    QCOMPARE(routes.at(0).kind(), Route::Kind::WebSocket);
    QCOMPARE(routes.at(0).subprotocols(), (QStringList {"v2", "v1"}));
    QCOMPARE(routes.at(0).handlerName(), QStringLiteral("chat"));
    QCOMPARE(routes.at(1).kind(), Route::Kind::Http);
    QCOMPARE(routes.at(1).handlerName(), QStringLiteral("lambda"));
}

void tst_Router::receiverHandlers()
{
    Router router;
    auto calls = std::make_shared<int>(0);
    auto *receiver = new Receiver(calls);
    QVERIFY(router.map(QStringLiteral("ws:/r"), receiver, &Receiver::onSocket));
    QVERIFY(router.map(QStringLiteral("get:/r"), receiver, &Receiver::onRequest));

    const RouteMatch ws = router.match("GET", QStringLiteral("/r"), true);
    QCOMPARE(ws.outcome, RouteMatch::Found);
    QCOMPARE(router.match("GET", QStringLiteral("/r"), false).route.kind(), Route::Kind::Http);

    ws.route.webSocketHandler()(nullptr);
    QCOMPARE(*calls, 1);
    delete receiver;
    // The route outlives the receiver; its handler then does nothing.
    ws.route.webSocketHandler()(nullptr);
    QCOMPARE(*calls, 1);
}

void tst_Router::cacheFollowsChanges()
{
    Router router;
    for (int round = 0; round < 2; ++round) {
        // Asked twice per state: the second answer comes from the cache.
        for (int i = 0; i < 2; ++i)
            QCOMPARE(router.match("GET", QStringLiteral("/c"), false).outcome,
                     RouteMatch::NotFound);

        QVERIFY(router.map(QStringLiteral("/c"), httpHandler(), named("any")));
        for (int i = 0; i < 2; ++i)
            QCOMPARE(router.match("GET", QStringLiteral("/c"), false).route.handlerName(),
                     QStringLiteral("any"));

        QVERIFY(router.map(QStringLiteral("get:/c"), httpHandler(), named("get", true)));
        for (int i = 0; i < 2; ++i)
            QCOMPARE(router.match("GET", QStringLiteral("/c"), false).route.handlerName(),
                     QStringLiteral("get"));

        QVERIFY(router.map(QStringLiteral("/c"), "/elsewhere"));
        QCOMPARE(router.match("POST", QStringLiteral("/c"), false).route.kind(),
                 Route::Kind::Forward);

        QVERIFY(router.unmap(QStringLiteral("/c")));
        for (int i = 0; i < 2; ++i) {
            const RouteMatch match = router.match("POST", QStringLiteral("/c"), false);
            QCOMPARE(match.outcome, RouteMatch::MethodNotAllowed);
            QCOMPARE(match.allowedMethods, (Methods {"GET", "HEAD"}));
        }

        QVERIFY(router.unmap(QStringLiteral("get:/c")));
    }

    // Filters and error mappings are changes too, and must not lose routes.
    QVERIFY(router.map(QStringLiteral("/d"), httpHandler()));
    QCOMPARE(router.match("GET", QStringLiteral("/d"), false).outcome, RouteMatch::Found);
    QVERIFY(router.filter(QStringLiteral("/.*"), TaggedFilter {1}));
    router.mapError(404, QStringLiteral("/404"));
    QCOMPARE(router.match("GET", QStringLiteral("/d"), false).outcome, RouteMatch::Found);
    QCOMPARE(router.routes().size(), 1);
}

void tst_Router::cacheKeepsRequestsApart()
{
    Router router;
    QVERIFY(router.map(QStringLiteral("get:/k"), httpHandler(), named("get")));
    QVERIFY(router.map(
            QStringLiteral("ws:/k"), [](sluice::WebSocket *) {}, named("ws")));

    for (int i = 0; i < 2; ++i) {
        QCOMPARE(router.match("GET", QStringLiteral("/k"), false).route.handlerName(),
                 QStringLiteral("get"));
        QCOMPARE(router.match("GET", QStringLiteral("/k"), true).route.handlerName(),
                 QStringLiteral("ws"));
        QCOMPARE(router.match("POST", QStringLiteral("/k"), false).outcome,
                 RouteMatch::MethodNotAllowed);
        QCOMPARE(router.match("GET", QStringLiteral("/k/"), false).outcome, RouteMatch::NotFound);
        // A path that looks like another key's method part.
        QCOMPARE(router.match("GET", QStringLiteral(" /k"), false).outcome, RouteMatch::NotFound);
    }
}

void tst_Router::cacheBounded()
{
    Router router;
    QVERIFY(router.map(QStringLiteral("/n/(?<n>\\d+)"), httpHandler()));
    // Well past the cache's size, twice over, each path with its own answer.
    for (int round = 0; round < 2; ++round) {
        for (int i = 0; i < 3000; ++i) {
            const QString n = QString::number(i);
            const RouteMatch match = router.match("GET", QStringLiteral("/n/") + n, false);
            QCOMPARE(match.outcome, RouteMatch::Found);
            QCOMPARE(match.params.value(QStringLiteral("n")), n);
        }
    }
}

void tst_Router::matchKeepsItsTable()
{
    Router router;
    int calls = 0;
    QVERIFY(router.map(QStringLiteral("ws:/gone"), [&](sluice::WebSocket *) { ++calls; }));
    const RouteMatch match = router.match("GET", QStringLiteral("/gone"), true);
    QVERIFY(router.unmap(QStringLiteral("ws:/gone")));

    // A request in flight keeps the route it found.
    QVERIFY(router.routes().isEmpty());
    QCOMPARE(match.route.uri(), QStringLiteral("ws:/gone"));
    match.route.webSocketHandler()(nullptr);
    QCOMPARE(calls, 1);
    QCOMPARE(router.match("GET", QStringLiteral("/gone"), true).outcome, RouteMatch::NotFound);
}

void tst_Router::concurrentChangesAndMatches()
{
    Router router;
    QVERIFY(router.map(QStringLiteral("/stable/(?<n>\\d+)"), httpHandler(), named("stable")));
    QVERIFY(router.filter(QStringLiteral("/stable/.*"), TaggedFilter {1}));

    std::atomic<int> changes {0};
    // No context object: counted in whichever thread emits.
    connect(&router, &Router::routesChanged, [&changes] { ++changes; });

    constexpr int Rounds = 2000;
    constexpr int ChangesPerRound = 5;
    std::atomic<bool> writing {true};
    std::atomic<int> writerFailures {0};
    std::unique_ptr<QThread> writer(QThread::create([&] {
        for (int i = 0; i < Rounds; ++i) {
            const MapOptions options = named(QStringLiteral("flip"), i % 2 == 0);
            if (!router.map(QStringLiteral("/flip/(?<n>\\d+)"), httpHandler(), options))
                ++writerFailures;
            if (!router.filter(QStringLiteral("/flip/.*"), TaggedFilter {2}, i % 2 == 0))
                ++writerFailures;
            if (!router.unmap(QStringLiteral("/flip/(?<n>\\d+)")))
                ++writerFailures;
            if (!router.unfilter(QStringLiteral("/flip/.*")))
                ++writerFailures;
            if (!router.map(QStringLiteral("/gen%1").arg(i % 20), httpHandler()))
                ++writerFailures;
        }
        writing = false;
    }));

    // Readers check what must hold in every table the writer publishes.
    std::atomic<int> readerFailures {0};
    const auto read = [&] {
        do {
            const RouteMatch stable = router.match("GET", QStringLiteral("/stable/5"), false);
            if (stable.outcome != RouteMatch::Found
                || stable.route.handlerName() != QLatin1String("stable")
                || stable.params.value(QStringLiteral("n")) != QLatin1String("5"))
                ++readerFailures;
            const RouteMatch flip = router.match("GET", QStringLiteral("/flip/7"), false);
            if (flip.outcome == RouteMatch::Found) {
                if (flip.route.handlerName() != QLatin1String("flip")
                    || flip.params.value(QStringLiteral("n")) != QLatin1String("7"))
                    ++readerFailures;
            } else if (flip.outcome != RouteMatch::NotFound) {
                ++readerFailures;
            }
            const QList<int> ids = filterIds(router.filters(QStringLiteral("/stable/1")));
            if (ids != QList<int> {1})
                ++readerFailures;
            const QList<Route> routes = router.routes();
            if (routes.isEmpty() || routes.size() > 22)
                ++readerFailures;
        } while (writing);
    };
    std::unique_ptr<QThread> reader(QThread::create(read));

    writer->start();
    reader->start();
    read();
    QVERIFY(writer->wait(QDeadlineTimer(60000)));
    QVERIFY(reader->wait(QDeadlineTimer(60000)));

    QCOMPARE(writerFailures.load(), 0);
    QCOMPARE(readerFailures.load(), 0);
    QCOMPARE(changes.load(), Rounds * ChangesPerRound);

    QStringList expected {QStringLiteral("/stable/(?<n>\\d+)")};
    for (int i = 0; i < 20; ++i)
        expected.append(QStringLiteral("/gen%1").arg(i));
    QCOMPARE(uris(router.routes()), expected);
    QCOMPARE(router.filterPatterns(), QStringList {QStringLiteral("/stable/.*")});
    QCOMPARE(router.match("GET", QStringLiteral("/flip/7"), false).outcome, RouteMatch::NotFound);
}

void tst_Router::filtersInOrder()
{
    Router router;
    QVERIFY(router.filter(QStringLiteral("/admin/.*"), TaggedFilter {1}));
    QVERIFY(router.filter(QStringLiteral("/.*"), TaggedFilter {2}));
    QVERIFY(router.filter(QStringLiteral("/admin/x"), TaggedFilter {3}, true));
    QVERIFY(router.filter(QStringLiteral("/(name:[a-z]+)"), TaggedFilter {4}));

    QCOMPARE(router.filterPatterns(),
             (QStringList {"/admin/x", "/admin/.*", "/.*", "/(name:[a-z]+)"}));
    QCOMPARE(filterIds(router.filters(QStringLiteral("/admin/x"))), (QList<int> {3, 1, 2}));
    QCOMPARE(filterIds(router.filters(QStringLiteral("/admin/y"))), (QList<int> {1, 2}));
    // Anchored on the whole path.
    QCOMPARE(filterIds(router.filters(QStringLiteral("/admin"))), (QList<int> {2, 4}));
    QCOMPARE(filterIds(router.filters(QStringLiteral("/admin/x/y"))), (QList<int> {1, 2}));
    QCOMPARE(filterIds(router.filters(QStringLiteral("x"))), QList<int>());
}

void tst_Router::filterReplaceAndUnfilter()
{
    Router router;
    QVERIFY(router.filter(QStringLiteral("/a.*"), TaggedFilter {1}));
    QVERIFY(router.filter(QStringLiteral("/.*"), TaggedFilter {2}));
    QVERIFY(router.filter(QStringLiteral("/a.*"), TaggedFilter {3}));
    QCOMPARE(filterIds(router.filters(QStringLiteral("/a"))), (QList<int> {3, 2}));

    QVERIFY(router.filter(QStringLiteral("/.*"), TaggedFilter {4}, true));
    QCOMPARE(filterIds(router.filters(QStringLiteral("/a"))), (QList<int> {4, 3}));

    QVERIFY(router.unfilter(QStringLiteral("/.*")));
    QVERIFY(!router.unfilter(QStringLiteral("/.*")));
    QVERIFY(!router.unfilter(QStringLiteral("/b")));
    QCOMPARE(filterIds(router.filters(QStringLiteral("/a"))), (QList<int> {3}));
    QCOMPARE(router.filterPatterns(), QStringList {QStringLiteral("/a.*")});
}

void tst_Router::badFilter()
{
    Router router;
    QSignalSpy changed(&router, &Router::routesChanged);
    QVERIFY(!router.filter(QStringLiteral("/a(b"), TaggedFilter {1}));
    QCOMPARE(router.errorString(),
             QStringLiteral("bad regex in \"/a(b\": missing closing parenthesis at offset 4"));
    QVERIFY(!router.filter(QStringLiteral("/ok"), sluice::Filter()));
    QVERIFY(router.errorString().contains(QLatin1String("\"/ok\"")));
    QVERIFY(router.filterPatterns().isEmpty());
    QCOMPARE(changed.count(), 0);
}

void tst_Router::errorMapping()
{
    Router router;
    int calls = 0;
    router.mapError(404, QStringLiteral("/errors/404"));
    router.mapError(500, [&](HttpConnect &) { ++calls; });
    router.mapError(403, QStringLiteral("/errors/403"));

    QCOMPARE(router.errorStatuses(), (QList<int> {403, 404, 500}));
    QCOMPARE(router.errorUri(404), QStringLiteral("/errors/404"));
    QVERIFY(!router.errorHandler(404));
    QVERIFY(router.errorUri(500).isEmpty());
    QVERIFY(router.errorHandler(500));
    QVERIFY(router.errorUri(418).isEmpty());
    QVERIFY(!router.errorHandler(418));

    // One answer per status: a handler replaces a uri and back.
    router.mapError(404, [&](HttpConnect &) { ++calls; });
    QVERIFY(router.errorUri(404).isEmpty());
    QVERIFY(router.errorHandler(404));
    router.mapError(500, QStringLiteral("/errors/500"));
    QCOMPARE(router.errorUri(500), QStringLiteral("/errors/500"));
    QVERIFY(!router.errorHandler(500));

    router.unmapError(404);
    QCOMPARE(router.errorStatuses(), (QList<int> {403, 500}));
    QVERIFY(!router.errorHandler(404));
    // Nothing to map is nothing mapped.
    router.mapError(403, QString());
    QCOMPARE(router.errorStatuses(), QList<int> {500});
    QCOMPARE(calls, 0);
    // Error mapping is not routing.
    QVERIFY(router.routes().isEmpty());
}

void tst_Router::routesChangedSignal()
{
    Router router;
    QSignalSpy changed(&router, &Router::routesChanged);
    QVERIFY(changed.isValid());

    QVERIFY(router.map(QStringLiteral("/a"), httpHandler()));
    QCOMPARE(changed.count(), 1);
    QVERIFY(router.map(QStringLiteral("/a"), httpHandler())); // replaced
    QCOMPARE(changed.count(), 2);
    QVERIFY(router.map(QStringLiteral("ws:/w"), [](sluice::WebSocket *) {}));
    QVERIFY(router.map(QStringLiteral("/f"), "/a"));
    QCOMPARE(changed.count(), 4);
    QVERIFY(!router.map(QStringLiteral("bad"), httpHandler()));
    QCOMPARE(changed.count(), 4);
    QVERIFY(router.unmap(QStringLiteral("/f")));
    QCOMPARE(changed.count(), 5);
    QVERIFY(!router.unmap(QStringLiteral("/f")));
    QCOMPARE(changed.count(), 5);

    QVERIFY(router.filter(QStringLiteral("/.*"), TaggedFilter {1}));
    QCOMPARE(changed.count(), 6);
    QVERIFY(router.unfilter(QStringLiteral("/.*")));
    QCOMPARE(changed.count(), 7);
    QVERIFY(!router.unfilter(QStringLiteral("/.*")));
    QCOMPARE(changed.count(), 7);

    router.mapError(404, QStringLiteral("/404"));
    QCOMPARE(changed.count(), 8);
    router.unmapError(404);
    QCOMPARE(changed.count(), 9);
    router.unmapError(404);
    QCOMPARE(changed.count(), 9);

    // A receiver sees the new state already published.
    QStringList seen;
    connect(&router, &Router::routesChanged, this, [&] { seen = uris(router.routes()); });
    QVERIFY(router.map(QStringLiteral("/b"), httpHandler()));
    QCOMPARE(seen, (QStringList {"/a", "ws:/w", "/b"}));
}

QTEST_GUILESS_MAIN(tst_Router)
#include "tst_router.moc"
