// The route table: rows for every part of a router's mapping, in order, that
// follow the router as it changes (also from another thread); statistics
// from hand-built events and from a real server driven by curl and QWebSocket.

#include <sluiceui/routemodel.h>

#include <sluice/handlers.h>
#include <sluice/httpconnect.h>
#include <sluice/monitor.h>
#include <sluice/router.h>
#include <sluice/server.h>

#include "wstestclient.h"

#include <QtCore/QProcess>
#include <QtCore/QSortFilterProxyModel>
#include <QtCore/QThread>
#include <QtTest/QAbstractItemModelTester>
#include <QtTest/QtTest>

#include <memory>

using sluice::MonitorEvent;
using sluice::RouteModel;
using sluice::Router;
using RowType = RouteModel::RowType;
using Type = MonitorEvent::Type;

namespace {

void ok(sluice::HttpConnect &connect)
{
    connect.response().end("ok\n");
}

void pass(sluice::HttpConnect &, sluice::Chain chain)
{
    chain();
}

sluice::MapOptions named(const QString &name)
{
    sluice::MapOptions options;
    options.handlerName = name;
    return options;
}

MonitorEvent exchange(const QString &route, int status, qint64 durationUs)
{
    MonitorEvent event;
    event.type = Type::HttpExchange;
    event.connectionId = 1;
    event.route = route;
    event.status = status;
    event.durationUs = durationUs;
    return event;
}

MonitorEvent webSocket(Type type, const QString &route, int closeCode = 0)
{
    MonitorEvent event;
    event.type = type;
    event.connectionId = 2;
    event.route = route;
    event.closeCode = closeCode;
    return event;
}

QVariant cell(const RouteModel &model, int row, int column, int role = Qt::DisplayRole)
{
    return model.data(model.index(row, column), role);
}

QString text(const RouteModel &model, int row, int column)
{
    return cell(model, row, column).toString();
}

qint64 number(const RouteModel &model, int row, int column)
{
    return cell(model, row, column, RouteModel::SortRole).toLongLong();
}

// Pattern, kind and handler of every row.
QStringList describe(const RouteModel &model)
{
    QStringList rows;
    for (int row = 0; row < model.rowCount(); ++row) {
        rows.append(text(model, row, RouteModel::PatternColumn) + QLatin1Char('|')
                    + text(model, row, RouteModel::KindColumn) + QLatin1Char('|')
                    + text(model, row, RouteModel::HandlerColumn));
    }
    return rows;
}

std::unique_ptr<QAbstractItemModelTester> tester(QAbstractItemModel *model)
{
    return std::make_unique<QAbstractItemModelTester>(
            model, QAbstractItemModelTester::FailureReportingMode::QtTest);
}

void fullRouter(Router &router)
{
    QVERIFY(router.filter(QStringLiteral("/api/.*"), pass));
    QVERIFY(router.filter(QStringLiteral("/.*"), pass));
    QVERIFY(router.map(QStringLiteral("get:/hello"), sluice::HttpHandler(ok),
                       named(QStringLiteral("hello"))));
    QVERIFY(router.map(QStringLiteral("ws:/echo"), sluice::handlers::echo(),
                       named(QStringLiteral("echo"))));
    QVERIFY(router.map(QStringLiteral("/old/(?<rest>.*)"), "/hello"));
    QVERIFY(router.map(QStringLiteral("/away"), "https://example.org/"));
    QVERIFY(router.map(QStringLiteral("post:/form"), sluice::HttpHandler(ok)));
    router.setFallback(ok, QStringLiteral("site"));
    router.mapError(500, sluice::HttpHandler(ok));
    router.mapError(404, QStringLiteral("/404.html"));
}

} // namespace

class tst_RouteModel : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void headers();
    void rowsInOrder();
    void noRouter();
    void followsTheRouter();
    void routerInAnotherThread();
    void stats();
    void oneDataChangedPerFlush();
    void latencyKeepsTheLastSamples();
    void statsSurviveChanges();
    void clearStats();
    void sortProxy();
    void endToEnd();
};

void tst_RouteModel::headers()
{
    Router router;
    RouteModel model(&router);
    QCOMPARE(model.columnCount(), 8);
    QStringList names;
    for (int column = 0; column < model.columnCount(); ++column)
        names.append(model.headerData(column, Qt::Horizontal).toString());
    QCOMPARE(names, QStringList({QStringLiteral("Pattern"), QStringLiteral("Kind"),
                                 QStringLiteral("Handler"), QStringLiteral("Hits"),
                                 QStringLiteral("Live"), QStringLiteral("Errors"),
                                 QStringLiteral("p50 (ms)"), QStringLiteral("p99 (ms)")}));
    QVERIFY(model.headerData(RouteModel::ErrorsColumn, Qt::Horizontal, Qt::ToolTipRole)
                    .toString()
                    .contains(QStringLiteral("1011")));
    QCOMPARE(model.rowCount(), 0);
    QCOMPARE(model.router(), &router);
}

void tst_RouteModel::rowsInOrder()
{
    Router router;
    fullRouter(router);
    RouteModel model(&router);
    const auto check = tester(&model);
    QCOMPARE(describe(model), QStringList({
                                      QStringLiteral("/api/.*|filter|"),
                                      QStringLiteral("/.*|filter|"),
                                      QStringLiteral("get:/hello|HTTP|hello"),
                                      QStringLiteral("ws:/echo|WebSocket|echo"),
                                      QStringLiteral("/old/(?<rest>.*)|forward|/hello"),
                                      QStringLiteral("/away|redirect|https://example.org/"),
                                      QStringLiteral("post:/form|HTTP|lambda"),
                                      QStringLiteral("(fallback)|static|site"),
                                      QStringLiteral("404|error|/404.html"),
                                      QStringLiteral("500|error|handler"),
                              }));
    const QList<RowType> types {RowType::Filter, RowType::Filter, RowType::Route, RowType::Route,
                                RowType::Route,  RowType::Route,  RowType::Route, RowType::Fallback,
                                RowType::Error,  RowType::Error};
    for (int row = 0; row < model.rowCount(); ++row)
        QCOMPARE(cell(model, row, 0, RouteModel::RowTypeRole).toInt(), int(types.at(row)));
    QCOMPARE(model.rowOf(RowType::Route, QStringLiteral("ws:/echo")), 3);
    QCOMPARE(model.rowOf(RowType::Filter, QStringLiteral("/.*")), 1);
    QCOMPARE(model.rowOf(RowType::Fallback), 7);
    QCOMPARE(model.rowOf(RowType::Error, QStringLiteral("500")), 9);
    QCOMPARE(model.rowOf(RowType::Route, QStringLiteral("/nope")), -1);
    QCOMPARE(cell(model, 3, 0, RouteModel::RouteKeyRole).toString(), QStringLiteral("ws:/echo"));
    QCOMPARE(cell(model, 7, 0, RouteModel::RouteKeyRole).toString(), QString());

    // Statistics: none on filters; Live only where WebSockets go.
    QVERIFY(!cell(model, 0, RouteModel::HitsColumn).isValid());
    QCOMPARE(cell(model, 2, RouteModel::HitsColumn).toLongLong(), 0);
    QVERIFY(!cell(model, 2, RouteModel::LiveColumn).isValid());
    QCOMPARE(cell(model, 3, RouteModel::LiveColumn).toLongLong(), 0);
    QCOMPARE(text(model, 2, RouteModel::P50Column), QString());
    QCOMPARE(cell(model, 2, RouteModel::HitsColumn, Qt::TextAlignmentRole).toInt(),
             int(Qt::AlignRight | Qt::AlignVCenter));
    const QString tip = cell(model, 2, RouteModel::PatternColumn, Qt::ToolTipRole).toString();
    QVERIFY2(tip.contains(QStringLiteral("Method GET")), qPrintable(tip));
}

void tst_RouteModel::noRouter()
{
    RouteModel model(nullptr);
    const auto check = tester(&model);
    QCOMPARE(model.rowCount(), 0);
    model.addEvents({exchange(QStringLiteral("get:/x"), 200, 10)});
    model.flush();
    model.reload();
    QCOMPARE(model.rowCount(), 0);
}

void tst_RouteModel::followsTheRouter()
{
    Router router;
    fullRouter(router);
    RouteModel model(&router);
    const auto check = tester(&model);
    QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
    QSignalSpy removed(&model, &QAbstractItemModel::rowsRemoved);
    QSignalSpy reset(&model, &QAbstractItemModel::modelReset);

    // Queued: nothing changes before the event loop runs.
    QVERIFY(router.map(QStringLiteral("get:/new"), sluice::HttpHandler(ok)));
    QCOMPARE(model.rowCount(), 10);
    QTRY_COMPARE_WITH_TIMEOUT(model.rowCount(), 11, 2000);
    QCOMPARE(inserted.size(), 1);
    QCOMPARE(inserted.at(0).at(1).toInt(), 7);
    QCOMPARE(inserted.at(0).at(2).toInt(), 7);
    QCOMPARE(text(model, 7, RouteModel::PatternColumn), QStringLiteral("get:/new"));

    QVERIFY(router.map(QStringLiteral("get:/first"), sluice::HttpHandler(ok), [] {
        sluice::MapOptions options;
        options.preceding = true;
        return options;
    }()));
    QTRY_COMPARE_WITH_TIMEOUT(model.rowCount(), 12, 2000);
    QCOMPARE(model.rowOf(RowType::Route, QStringLiteral("get:/first")), 2);

    QVERIFY(router.unmap(QStringLiteral("ws:/echo")));
    QTRY_COMPARE_WITH_TIMEOUT(model.rowCount(), 11, 2000);
    QCOMPARE(removed.size(), 1);
    QCOMPARE(removed.at(0).at(1).toInt(), 4);
    QCOMPARE(model.rowOf(RowType::Route, QStringLiteral("ws:/echo")), -1);

    router.mapError(503, QStringLiteral("/busy.html"));
    QTRY_COMPARE_WITH_TIMEOUT(model.rowOf(RowType::Error, QStringLiteral("503")), 11, 2000);
    QCOMPARE(text(model, 11, RouteModel::HandlerColumn), QStringLiteral("/busy.html"));
    // Mapping a status again changes the row in place.
    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
    router.mapError(503, QStringLiteral("/later.html"));
    QTRY_COMPARE_WITH_TIMEOUT(text(model, 11, RouteModel::HandlerColumn),
                              QStringLiteral("/later.html"), 2000);
    QVERIFY(changed.size() >= 1);

    router.setFallback(nullptr);
    QTRY_COMPARE_WITH_TIMEOUT(model.rowOf(RowType::Fallback), -1, 2000);
    QVERIFY(router.unfilter(QStringLiteral("/api/.*")));
    QTRY_COMPARE_WITH_TIMEOUT(model.rowOf(RowType::Filter, QStringLiteral("/api/.*")), -1, 2000);
    router.unmapError(404);
    QTRY_COMPARE_WITH_TIMEOUT(model.rowOf(RowType::Error, QStringLiteral("404")), -1, 2000);
    QCOMPARE(describe(model).join(QLatin1Char(' ')),
             QStringLiteral("/.*|filter| get:/first|HTTP|lambda get:/hello|HTTP|hello "
                            "/old/(?<rest>.*)|forward|/hello /away|redirect|https://example.org/ "
                            "post:/form|HTTP|lambda get:/new|HTTP|lambda 500|error|handler "
                            "503|error|/later.html"));

    // A reload: everything at once.
    Router scratch;
    QVERIFY(scratch.map(QStringLiteral("get:/only"), sluice::HttpHandler(ok)));
    router.replace(scratch);
    QTRY_COMPARE_WITH_TIMEOUT(model.rowCount(), 1, 2000);
    QCOMPARE(text(model, 0, RouteModel::PatternColumn), QStringLiteral("get:/only"));
    QCOMPARE(reset.size(), 0);
}

void tst_RouteModel::routerInAnotherThread()
{
    QThread thread;
    auto *router = new Router;
    QVERIFY(router->map(QStringLiteral("get:/a"), sluice::HttpHandler(ok)));
    router->moveToThread(&thread);
    thread.start();
    RouteModel model(router);
    const auto check = tester(&model);
    QCOMPARE(model.rowCount(), 1);

    QMetaObject::invokeMethod(router, [router] {
        for (int i = 0; i < 20; ++i)
            router->map(QStringLiteral("get:/r%1").arg(i), sluice::HttpHandler(ok));
        router->unmap(QStringLiteral("get:/r3"));
    });
    QTRY_COMPARE_WITH_TIMEOUT(model.rowCount(), 20, 5000);
    QCOMPARE(model.rowOf(RowType::Route, QStringLiteral("get:/r3")), -1);
    QCOMPARE(model.rowOf(RowType::Route, QStringLiteral("get:/r19")), 19);

    // The router goes: so do its rows.
    QMetaObject::invokeMethod(router, [router] { delete router; });
    QTRY_COMPARE_WITH_TIMEOUT(model.rowCount(), 0, 5000);
    QCOMPARE(model.router(), nullptr);
    thread.quit();
    QVERIFY(thread.wait(5000));
}

void tst_RouteModel::stats()
{
    Router router;
    fullRouter(router);
    RouteModel model(&router);
    const auto check = tester(&model);
    const int hello = model.rowOf(RowType::Route, QStringLiteral("get:/hello"));
    const int echo = model.rowOf(RowType::Route, QStringLiteral("ws:/echo"));
    const int fallback = model.rowOf(RowType::Fallback);
    const int notFound = model.rowOf(RowType::Error, QStringLiteral("404"));
    const int serverError = model.rowOf(RowType::Error, QStringLiteral("500"));

    model.addEvents({
            exchange(QStringLiteral("get:/hello"), 200, 3000),
            exchange(QStringLiteral("get:/hello"), 200, 1000),
            exchange(QStringLiteral("get:/hello"), 503, 10000),
            exchange(QStringLiteral("get:/hello"), 200, 2000),
            exchange(QString(), 200, 400), // the fallback
            exchange(QString(), 304, 600), // the fallback
            exchange(QString(), 404, 100), // nobody
            exchange(QString(), 404, 300), // nobody
            exchange(QStringLiteral("get:/hello"), 500, 50000),
            webSocket(Type::WebSocketOpened, QStringLiteral("ws:/echo")),
            webSocket(Type::WebSocketOpened, QStringLiteral("ws:/echo")),
            webSocket(Type::WebSocketOpened, QStringLiteral("ws:/echo")),
            webSocket(Type::WebSocketClosed, QStringLiteral("ws:/echo"), 1000),
            webSocket(Type::WebSocketClosed, QStringLiteral("ws:/echo"), 1011),
            // Messages are no business of this model.
            webSocket(Type::WebSocketMessage, QStringLiteral("ws:/echo")),
    });
    QCOMPARE(number(model, hello, RouteModel::HitsColumn), 0); // not before the tick
    QTRY_COMPARE_WITH_TIMEOUT(number(model, hello, RouteModel::HitsColumn), 5, 2000);
    QCOMPARE(number(model, hello, RouteModel::ErrorsColumn), 2);
    // Nearest rank over 1, 2, 3, 10, 50 ms.
    QCOMPARE(text(model, hello, RouteModel::P50Column), QStringLiteral("3.00"));
    QCOMPARE(text(model, hello, RouteModel::P99Column), QStringLiteral("50.0"));
    QCOMPARE(cell(model, hello, RouteModel::P50Column, RouteModel::SortRole).toDouble(), 3.0);
    QCOMPARE(cell(model, hello, RouteModel::P99Column, RouteModel::SortRole).toDouble(), 50.0);

    QCOMPARE(number(model, fallback, RouteModel::HitsColumn), 2);
    QCOMPARE(text(model, fallback, RouteModel::P99Column), QStringLiteral("0.60"));
    QCOMPARE(number(model, notFound, RouteModel::HitsColumn), 2);
    QCOMPARE(number(model, serverError, RouteModel::HitsColumn), 1);
    QVERIFY(!cell(model, notFound, RouteModel::ErrorsColumn).isValid());

    QCOMPARE(number(model, echo, RouteModel::HitsColumn), 3);
    QCOMPARE(number(model, echo, RouteModel::LiveColumn), 1);
    QCOMPARE(number(model, echo, RouteModel::ErrorsColumn), 1);
    QCOMPARE(text(model, echo, RouteModel::P50Column), QString());

    model.addEvents({webSocket(Type::WebSocketClosed, QStringLiteral("ws:/echo"), 1006),
                     webSocket(Type::WebSocketClosed, QStringLiteral("ws:/echo"), 1000)});
    model.flush();
    // Never below zero, even for a close we saw no open for.
    QCOMPARE(number(model, echo, RouteModel::LiveColumn), 0);
    QCOMPARE(number(model, echo, RouteModel::ErrorsColumn), 2);
}

void tst_RouteModel::oneDataChangedPerFlush()
{
    Router router;
    fullRouter(router);
    RouteModel model(&router);
    const auto check = tester(&model);
    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
    QList<MonitorEvent> events;
    for (int i = 0; i < 300; ++i) {
        events.append(exchange(QStringLiteral("get:/hello"), 200, 100 + i));
        events.append(exchange(QStringLiteral("post:/form"), 200, 100 + i));
    }
    model.addEvents(events);
    model.addEvents({webSocket(Type::WebSocketOpened, QStringLiteral("ws:/echo"))});
    QTRY_COMPARE_WITH_TIMEOUT(changed.size(), 1, 2000);
    QCOMPARE(changed.at(0).at(0).toModelIndex(),
             model.index(model.rowOf(RowType::Route, QStringLiteral("get:/hello")),
                         RouteModel::HitsColumn));
    QCOMPARE(changed.at(0).at(1).toModelIndex(),
             model.index(model.rowOf(RowType::Route, QStringLiteral("post:/form")),
                         RouteModel::P99Column));
    QCOMPARE(number(model, model.rowOf(RowType::Route, QStringLiteral("post:/form")),
                    RouteModel::HitsColumn),
             300);

    // An idle tick says nothing.
    model.flush();
    QCOMPARE(changed.size(), 1);
    // A full queue is applied at once.
    model.setFlushInterval(60000);
    model.setPendingCapacity(5);
    model.addEvents(QList<MonitorEvent>(5, exchange(QStringLiteral("get:/hello"), 200, 1)));
    QCOMPARE(number(model, model.rowOf(RowType::Route, QStringLiteral("get:/hello")),
                    RouteModel::HitsColumn),
             305);
}

void tst_RouteModel::latencyKeepsTheLastSamples()
{
    Router router;
    QVERIFY(router.map(QStringLiteral("get:/a"), sluice::HttpHandler(ok)));
    RouteModel model(&router);
    QList<MonitorEvent> events;
    for (int i = 0; i < 2000; ++i) {
        // Slow at first, then 1024 fast ones: only those count.
        const bool fast = i >= 2000 - RouteModel::LatencySamples;
        events.append(exchange(QStringLiteral("get:/a"), 200, fast ? 1000 + i % 2 : 900000));
    }
    model.addEvents(events);
    model.flush();
    QCOMPARE(number(model, 0, RouteModel::HitsColumn), 2000);
    QCOMPARE(text(model, 0, RouteModel::P50Column), QStringLiteral("1.00"));
    QCOMPARE(text(model, 0, RouteModel::P99Column), QStringLiteral("1.00"));
    QCOMPARE(cell(model, 0, RouteModel::P99Column, RouteModel::SortRole).toDouble(), 1.001);

    // And the ring goes on turning.
    model.addEvents(QList<MonitorEvent>(20, exchange(QStringLiteral("get:/a"), 200, 900000)));
    model.flush();
    QCOMPARE(text(model, 0, RouteModel::P50Column), QStringLiteral("1.00"));
    QCOMPARE(text(model, 0, RouteModel::P99Column), QStringLiteral("900.0"));
}

void tst_RouteModel::statsSurviveChanges()
{
    Router router;
    fullRouter(router);
    RouteModel model(&router);
    const auto check = tester(&model);
    model.addEvents({exchange(QStringLiteral("get:/hello"), 200, 1000),
                     exchange(QStringLiteral("get:/hello"), 200, 1000),
                     webSocket(Type::WebSocketOpened, QStringLiteral("ws:/echo")),
                     exchange(QString(), 404, 100)});
    model.flush();
    const auto hits = [&model](RowType type, const QString &key) {
        const int row = model.rowOf(type, key);
        return row < 0 ? qint64(-1) : number(model, row, RouteModel::HitsColumn);
    };

    // Unrelated changes, before and after.
    QVERIFY(router.map(QStringLiteral("get:/unrelated"), sluice::HttpHandler(ok)));
    sluice::MapOptions first;
    first.preceding = true;
    QVERIFY(router.map(QStringLiteral("get:/first"), sluice::HttpHandler(ok), first));
    router.mapError(418, QStringLiteral("/teapot"));
    QTRY_COMPARE_WITH_TIMEOUT(model.rowCount(), 13, 2000);
    QCOMPARE(hits(RowType::Route, QStringLiteral("get:/hello")), 2);
    QCOMPARE(hits(RowType::Route, QStringLiteral("ws:/echo")), 1);
    QCOMPARE(hits(RowType::Error, QStringLiteral("404")), 1);
    QCOMPARE(text(model, model.rowOf(RowType::Route, QStringLiteral("get:/hello")),
                  RouteModel::P50Column),
             QStringLiteral("1.00"));

    // A route that goes loses its stats; one with live WebSockets keeps them.
    QVERIFY(router.unmap(QStringLiteral("get:/hello")));
    QVERIFY(router.unmap(QStringLiteral("ws:/echo")));
    QTRY_COMPARE_WITH_TIMEOUT(model.rowCount(), 11, 2000);
    QVERIFY(router.map(QStringLiteral("get:/hello"), sluice::HttpHandler(ok)));
    QVERIFY(router.map(QStringLiteral("ws:/echo"), sluice::handlers::echo()));
    QTRY_COMPARE_WITH_TIMEOUT(model.rowCount(), 13, 2000);
    QCOMPARE(hits(RowType::Route, QStringLiteral("get:/hello")), 0);
    const int echo = model.rowOf(RowType::Route, QStringLiteral("ws:/echo"));
    QCOMPARE(number(model, echo, RouteModel::LiveColumn), 1);
    model.addEvents({webSocket(Type::WebSocketClosed, QStringLiteral("ws:/echo"), 1000)});
    model.flush();
    QCOMPARE(number(model, echo, RouteModel::LiveColumn), 0);

    // Events that come before the queued routesChanged() still count.
    QVERIFY(router.map(QStringLiteral("get:/late"), sluice::HttpHandler(ok)));
    model.addEvents({exchange(QStringLiteral("get:/late"), 200, 1000)});
    model.flush();
    QTRY_VERIFY_WITH_TIMEOUT(model.rowOf(RowType::Route, QStringLiteral("get:/late")) >= 0, 2000);
    QCOMPARE(hits(RowType::Route, QStringLiteral("get:/late")), 1);
}

void tst_RouteModel::clearStats()
{
    Router router;
    fullRouter(router);
    RouteModel model(&router);
    const auto check = tester(&model);
    const int hello = model.rowOf(RowType::Route, QStringLiteral("get:/hello"));
    const int echo = model.rowOf(RowType::Route, QStringLiteral("ws:/echo"));
    model.addEvents({exchange(QStringLiteral("get:/hello"), 500, 1000),
                     webSocket(Type::WebSocketOpened, QStringLiteral("ws:/echo"))});
    model.flush();
    model.addEvents({webSocket(Type::WebSocketOpened, QStringLiteral("ws:/echo"))}); // pending
    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
    model.clearStats();
    QVERIFY(changed.size() >= 1);
    QCOMPARE(number(model, hello, RouteModel::HitsColumn), 0);
    QCOMPARE(number(model, hello, RouteModel::ErrorsColumn), 0);
    QCOMPARE(text(model, hello, RouteModel::P50Column), QString());
    QCOMPARE(number(model, echo, RouteModel::HitsColumn), 0);
    QCOMPARE(number(model, echo, RouteModel::LiveColumn), 2);
}

void tst_RouteModel::sortProxy()
{
    Router router;
    fullRouter(router);
    RouteModel model(&router);
    QList<MonitorEvent> events;
    for (int i = 0; i < 10; ++i)
        events.append(exchange(QStringLiteral("get:/hello"), 200, 1000));
    for (int i = 0; i < 9; ++i)
        events.append(exchange(QStringLiteral("post:/form"), 200, 1000));
    for (int i = 0; i < 100; ++i)
        events.append(exchange(QStringLiteral("/away"), 302, 1000));
    model.addEvents(events);
    model.flush();

    QSortFilterProxyModel proxy;
    const auto check = tester(&proxy);
    proxy.setSourceModel(&model);
    proxy.setSortRole(RouteModel::SortRole);
    proxy.sort(RouteModel::HitsColumn, Qt::DescendingOrder);
    QCOMPARE(proxy.index(0, RouteModel::PatternColumn).data().toString(), QStringLiteral("/away"));
    QCOMPARE(proxy.index(1, RouteModel::PatternColumn).data().toString(),
             QStringLiteral("get:/hello"));
    QCOMPARE(proxy.index(2, RouteModel::PatternColumn).data().toString(),
             QStringLiteral("post:/form"));
    // Filters, with no figures, sort last.
    QCOMPARE(proxy.index(proxy.rowCount() - 1, RouteModel::KindColumn).data().toString(),
             QStringLiteral("filter"));

    // The proxy follows the router too.
    QVERIFY(router.unmap(QStringLiteral("/away")));
    QTRY_COMPARE_WITH_TIMEOUT(proxy.rowCount(), 9, 2000);
    QCOMPARE(proxy.index(0, RouteModel::PatternColumn).data().toString(),
             QStringLiteral("get:/hello"));
}

void tst_RouteModel::endToEnd()
{
    sluice::Server server;
    QVERIFY(server.map(QStringLiteral("get:/hello/(?<name>[^/]+)"), sluice::handlers::hello(),
                       named(QStringLiteral("hello"))));
    QVERIFY(server.map(QStringLiteral("get:/boom"),
                       [](sluice::HttpConnect &c) { c.error(500, QStringLiteral("boom")); }));
    QVERIFY(server.map(QStringLiteral("ws:/echo"), sluice::handlers::echo()));
    server.router()->setFallback(
            [](sluice::HttpConnect &c) {
                if (c.request().path() == QStringLiteral("/index.html"))
                    c.response().end("index\n");
                else
                    c.error(404);
            },
            QStringLiteral("test site"));
    QVERIFY2(server.listen(QHostAddress::LocalHost, 0), qPrintable(server.errorString()));
    const quint16 port = server.serverPort();

    RouteModel model(server.router());
    const auto check = tester(&model);
    connect(server.monitor(), &sluice::Monitor::eventsPosted, &model, &RouteModel::addEvents);
    QCOMPARE(describe(model), QStringList({QStringLiteral("get:/hello/(?<name>[^/]+)|HTTP|hello"),
                                           QStringLiteral("get:/boom|HTTP|lambda"),
                                           QStringLiteral("ws:/echo|WebSocket|lambda"),
                                           QStringLiteral("(fallback)|static|test site")}));

    const QString base = QStringLiteral("http://127.0.0.1:%1").arg(port);
    QProcess curl;
    curl.start(QStringLiteral("curl"),
               {QStringLiteral("-sS"), base + QStringLiteral("/hello/a"),
                base + QStringLiteral("/hello/b"), base + QStringLiteral("/hello/c"),
                base + QStringLiteral("/boom"), base + QStringLiteral("/index.html"),
                base + QStringLiteral("/missing")});
    QVERIFY2(curl.waitForStarted(10000), qPrintable(curl.errorString()));
    QTRY_COMPARE_WITH_TIMEOUT(curl.state(), QProcess::NotRunning, 30000);
    QCOMPARE(curl.exitCode(), 0);
    QVERIFY(curl.readAllStandardOutput().startsWith("Hello a\nHello b\nHello c\n"));

    const int hello = model.rowOf(RowType::Route, QStringLiteral("get:/hello/(?<name>[^/]+)"));
    const int boom = model.rowOf(RowType::Route, QStringLiteral("get:/boom"));
    const int echo = model.rowOf(RowType::Route, QStringLiteral("ws:/echo"));
    const int fallback = model.rowOf(RowType::Fallback);
    QTRY_COMPARE_WITH_TIMEOUT(number(model, fallback, RouteModel::HitsColumn), 1, 5000);
    QCOMPARE(number(model, hello, RouteModel::HitsColumn), 3);
    QCOMPARE(number(model, hello, RouteModel::ErrorsColumn), 0);
    QVERIFY(!text(model, hello, RouteModel::P50Column).isEmpty());
    QVERIFY(cell(model, hello, RouteModel::P99Column, RouteModel::SortRole).toDouble()
            >= cell(model, hello, RouteModel::P50Column, RouteModel::SortRole).toDouble());
    QCOMPARE(number(model, boom, RouteModel::HitsColumn), 1);
    QCOMPARE(number(model, boom, RouteModel::ErrorsColumn), 1);

    wstestclient::Client client;
    QVERIFY2(client.open(port, QStringLiteral("/echo")), qPrintable(client.errorString()));
    QTRY_COMPARE_WITH_TIMEOUT(number(model, echo, RouteModel::LiveColumn), 1, 5000);
    QCOMPARE(number(model, echo, RouteModel::HitsColumn), 1);
    wstestclient::Client second;
    QVERIFY2(second.open(port, QStringLiteral("/echo")), qPrintable(second.errorString()));
    QTRY_COMPARE_WITH_TIMEOUT(number(model, echo, RouteModel::LiveColumn), 2, 5000);

    // Mapping at runtime, with the stats of the others kept.
    QVERIFY(server.map(QStringLiteral("get:/later"), sluice::handlers::hello()));
    QTRY_VERIFY_WITH_TIMEOUT(model.rowOf(RowType::Route, QStringLiteral("get:/later")) >= 0, 2000);
    QCOMPARE(number(model, model.rowOf(RowType::Route, QStringLiteral("get:/hello/(?<name>[^/]+)")),
                    RouteModel::HitsColumn),
             3);

    client.socket().close();
    const int echoNow = model.rowOf(RowType::Route, QStringLiteral("ws:/echo"));
    QTRY_COMPARE_WITH_TIMEOUT(number(model, echoNow, RouteModel::LiveColumn), 1, 5000);
    second.socket().close();
    QTRY_COMPARE_WITH_TIMEOUT(number(model, echoNow, RouteModel::LiveColumn), 0, 5000);
    QCOMPARE(number(model, echoNow, RouteModel::HitsColumn), 2);
    QCOMPARE(number(model, echoNow, RouteModel::ErrorsColumn), 0);
}

QTEST_MAIN(tst_RouteModel)
#include "tst_routemodel.moc"
