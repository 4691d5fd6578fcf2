#include "testclient.h"

#include <sluice/chain.h>
#include <sluice/httpconnect.h>
#include <sluice/server.h>

#include <QtCore/QTimer>
#include <QtTest/QtTest>

#include <atomic>
#include <optional>

using sluice::Chain;

namespace {

struct Counts
{
    int proceeded = 0;
    int stopped = 0;
};

Chain counted(Counts *counts)
{
    return Chain::create([counts] { ++counts->proceeded; }, [counts] { ++counts->stopped; });
}

std::atomic<int> g_filterRuns {0};
std::atomic<int> g_handlerRuns {0};

} // namespace

class tst_Chain : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void defaultChainIsInert();
    void createdChainIsValid();
    void callRunsProceedOnce();
    void droppedUncalledRunsStopped();
    void stoppedWaitsForLastCopy();
    void copiesShareState();
    void callAfterOtherCopiesDropped();
    void movedFromCopyDoesNotStop();
    void assignmentDropsOldChain();
    void proceedMayDropLastCopy();
    void reentrantCallIgnored();
    void emptyCallbacks();
    void filterCallsChainTwiceLater();
};

void tst_Chain::defaultChainIsInert()
{
    Chain chain;
    QVERIFY(!chain.isValid());
    chain(); // nothing to run, nothing to crash
    Chain copy = chain;
    QVERIFY(!copy.isValid());
}

void tst_Chain::createdChainIsValid()
{
    Counts counts;
    {
        const Chain chain = counted(&counts);
        QVERIFY(chain.isValid());
        QCOMPARE(counts.proceeded, 0);
        QCOMPARE(counts.stopped, 0);
    }
    QCOMPARE(counts.stopped, 1);
}

void tst_Chain::callRunsProceedOnce()
{
    Counts counts;
    {
        const Chain chain = counted(&counts);
        chain();
        QCOMPARE(counts.proceeded, 1);
        chain();
        chain();
        QCOMPARE(counts.proceeded, 1);
        QVERIFY(chain.isValid());
    }
    QCOMPARE(counts.proceeded, 1);
    QCOMPARE(counts.stopped, 0);
}

void tst_Chain::droppedUncalledRunsStopped()
{
    Counts counts;
    {
        Chain a = counted(&counts);
        Chain b = a;
        Chain c = b;
        Q_UNUSED(c);
    }
    QCOMPARE(counts.proceeded, 0);
    QCOMPARE(counts.stopped, 1);
}

void tst_Chain::stoppedWaitsForLastCopy()
{
    Counts counts;
    auto first = std::make_optional(counted(&counts));
    auto second = std::make_optional(*first);
    first.reset();
    QCOMPARE(counts.stopped, 0);
    second.reset();
    QCOMPARE(counts.stopped, 1);
    QCOMPARE(counts.proceeded, 0);
}

void tst_Chain::copiesShareState()
{
    Counts counts;
    {
        const Chain a = counted(&counts);
        const Chain b = a;
        const Chain c = a;
        b();
        QCOMPARE(counts.proceeded, 1);
        a();
        c();
        QCOMPARE(counts.proceeded, 1);
    }
    QCOMPARE(counts.stopped, 0);
}

void tst_Chain::callAfterOtherCopiesDropped()
{
    Counts counts;
    auto keeper = std::make_optional<Chain>();
    {
        const Chain a = counted(&counts);
        const Chain b = a;
        keeper = b;
    }
    // The copies made by the filter are gone; the one kept for later is not.
    QCOMPARE(counts.stopped, 0);
    (*keeper)();
    QCOMPARE(counts.proceeded, 1);
    keeper.reset();
    QCOMPARE(counts.stopped, 0);
}

void tst_Chain::movedFromCopyDoesNotStop()
{
    Counts counts;
    auto source = std::make_optional(counted(&counts));
    Chain target = std::move(*source);
    source.reset();
    QCOMPARE(counts.stopped, 0);
    QVERIFY(target.isValid());
    target();
    QCOMPARE(counts.proceeded, 1);
}

void tst_Chain::assignmentDropsOldChain()
{
    Counts one, two;
    {
        Chain chain = counted(&one);
        chain = counted(&two);
        // The first chain lost its only copy uncalled.
        QCOMPARE(one.stopped, 1);
        chain();
        QCOMPARE(two.proceeded, 1);
        QCOMPARE(one.proceeded, 0);
    }
    QCOMPARE(two.stopped, 0);
}

void tst_Chain::proceedMayDropLastCopy()
{
    Counts counts;
    std::optional<Chain> holder;
    holder = Chain::create(
            [&] {
                ++counts.proceeded;
                holder.reset();
            },
            [&] { ++counts.stopped; });
    // The call comes through the very copy that proceeding destroys.
    (*holder)();
    QVERIFY(!holder);
    QCOMPARE(counts.proceeded, 1);
    QCOMPARE(counts.stopped, 0);
}

void tst_Chain::reentrantCallIgnored()
{
    Counts counts;
    Chain self;
    self = Chain::create(
            [&] {
                ++counts.proceeded;
                self();
            },
            [&] { ++counts.stopped; });
    self();
    QCOMPARE(counts.proceeded, 1);
    self = Chain();
    QCOMPARE(counts.stopped, 0);
}

void tst_Chain::emptyCallbacks()
{
    {
        Chain chain = Chain::create({}, {});
        chain();
    }
    {
        Chain chain = Chain::create({}, {});
        Q_UNUSED(chain);
    }
    QVERIFY(true); // reaching here without a bad_function_call is the test
}

void tst_Chain::filterCallsChainTwiceLater()
{
    g_filterRuns = 0;
    g_handlerRuns = 0;
    sluice::Server server;
    // The chain travels into a timer; the second call must not run the
    // handler again nor end anything twice.
    server.filter(QStringLiteral("/chained"), [](sluice::HttpConnect &c, Chain next) {
        ++g_filterRuns;
        QTimer::singleShot(50, &c, [next] {
            next();
            next();
        });
    });
    server.map(QStringLiteral("/chained"), [](sluice::HttpConnect &c) {
        ++g_handlerRuns;
        c.response().write("through");
    });
    QVERIFY(server.listen(QHostAddress::LocalHost, 0));
    testclient::Client client;
    QVERIFY(client.connectTo(server.serverPort()));
    for (int round = 1; round <= 2; ++round) {
        const testclient::Response response = client.get("/chained");
        QVERIFY2(response.status == 200, TRANSCRIPT(client));
        QCOMPARE(response.body, "through");
        QCOMPARE(g_filterRuns.load(), round);
        QCOMPARE(g_handlerRuns.load(), round);
    }
    QVERIFY2(client.staysQuiet(100), TRANSCRIPT(client));
}

QTEST_GUILESS_MAIN(tst_Chain)
#include "tst_chain.moc"
