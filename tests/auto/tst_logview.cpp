// The log panel: lines from many threads at once stay bounded and in order,
// the dropped count adds up, filter, clear, follow, and the saved state.

#include <sluiceui/logview.h>

#include <QtGui/QTextBlock>
#include <QtGui/QTextDocument>
#include <QtTest/QtTest>
#include <QtWidgets/QCheckBox>
#include <QtWidgets/QLabel>
#include <QtWidgets/QLineEdit>
#include <QtWidgets/QPlainTextEdit>
#include <QtWidgets/QScrollBar>
#include <QtWidgets/QToolButton>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

using sluice::LogView;

namespace {

template<typename T>
T *child(const LogView &view, const char *name)
{
    T *widget = view.findChild<T *>(QLatin1String(name));
    if (!widget)
        qWarning("no %s", name);
    return widget;
}

// Each block of the text view, which is one line.
QStringList shownLines(const LogView &view)
{
    QStringList lines;
    const QTextDocument *document = child<QPlainTextEdit>(view, "logText")->document();
    if (document->isEmpty() && document->blockCount() == 1)
        return lines;
    for (QTextBlock block = document->begin(); block.isValid(); block = block.next())
        lines.append(block.text());
    return lines;
}

} // namespace

class tst_LogView : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void controls();
    void manyThreads();
    void boundOnTheTimer();
    void filter();
    void clear();
    void follow();
    void state();
};

void tst_LogView::controls()
{
    LogView view;
    QVERIFY(child<QPlainTextEdit>(view, "logText"));
    QVERIFY(child<QPlainTextEdit>(view, "logText")->isReadOnly());
    QCOMPARE(child<QPlainTextEdit>(view, "logText")->maximumBlockCount(), LogView::DefaultMaxLines);
    QVERIFY(child<QLineEdit>(view, "logFilter"));
    QVERIFY(child<QToolButton>(view, "logClear"));
    QVERIFY(child<QCheckBox>(view, "logFollow")->isChecked());
    QVERIFY(child<QLabel>(view, "logDropped")->isHidden());
    QCOMPARE(view.maxLines(), 5000);
    view.setMaxLines(0);
    QCOMPARE(view.maxLines(), 1);
    view.setMaxLines(20);
    QCOMPARE(child<QPlainTextEdit>(view, "logText")->maximumBlockCount(), 20);

    // A line with breaks in it stays one line.
    view.appendLine(QStringLiteral("first\nsecond\r\n"));
    view.appendLine(QString());
    view.appendLine(QStringLiteral("third"));
    view.flush();
    QCOMPARE(view.lines().size(), 3);
    QCOMPARE(shownLines(view).size(), 3);
    QCOMPARE(shownLines(view).at(1), QString());
    QCOMPARE(shownLines(view).at(2), QStringLiteral("third"));
    QVERIFY(shownLines(view).at(0).startsWith(QStringLiteral("first")));
    QVERIFY(shownLines(view).at(0).endsWith(QStringLiteral("second")));
}

void tst_LogView::manyThreads()
{
    constexpr int Threads = 4;
    constexpr int PerThread = 10000;
    LogView view;
    view.resize(600, 400);
    view.show();
    // Short, so that flushes happen while the threads write.
    view.setAppendInterval(2);
    QSignalSpy droppedSpy(&view, &LogView::droppedCountChanged);

    std::atomic<int> finished {0};
    std::vector<std::thread> threads;
    for (int t = 0; t < Threads; ++t) {
        threads.emplace_back([&view, &finished, t] {
            for (int i = 0; i < PerThread; ++i) {
                view.appendLine(QStringLiteral("t%1 %2").arg(t).arg(i));
                if (i % 2000 == 1999)
                    std::this_thread::sleep_for(std::chrono::milliseconds(3));
            }
            ++finished;
        });
    }
    // The GUI thread keeps flushing meanwhile.
    QTRY_COMPARE_WITH_TIMEOUT(finished.load(), Threads, 30000);
    for (auto &thread : threads)
        thread.join();
    view.flush();

    const QStringList lines = view.lines();
    QCOMPARE(lines.size(), view.maxLines());
    QCOMPARE(shownLines(view), lines);
    QCOMPARE(view.droppedCount(), quint64(Threads * PerThread - view.maxLines()));
    QVERIFY(!droppedSpy.isEmpty());
    QCOMPARE(droppedSpy.last().at(0).toULongLong(), view.droppedCount());
    QVERIFY(child<QLabel>(view, "logDropped")->isVisible());
    QCOMPARE(child<QLabel>(view, "logDropped")->text(),
             QStringLiteral("%1 lines dropped")
                     .arg(QLocale().toString(Threads * PerThread - view.maxLines())));

    // The newest lines of every thread, in order, up to its last one.
    QList<QList<int>> seen(Threads);
    for (const QString &line : lines) {
        const QStringList parts = line.mid(1).split(u' ');
        QCOMPARE(parts.size(), 2);
        seen[parts.at(0).toInt()].append(parts.at(1).toInt());
    }
    int total = 0;
    for (const QList<int> &indices : seen) {
        total += int(indices.size());
        if (indices.isEmpty())
            continue;
        QCOMPARE(indices.last(), PerThread - 1);
        for (int i = 1; i < indices.size(); ++i)
            QCOMPARE(indices.at(i), indices.at(i - 1) + 1);
    }
    QCOMPARE(total, view.maxLines());
}

void tst_LogView::boundOnTheTimer()
{
    LogView view;
    view.setMaxLines(10);
    for (int i = 0; i < 25; ++i)
        view.appendLine(QStringLiteral("line %1").arg(i));
    // No flush(): the view's own timer takes them.
    QTRY_COMPARE_WITH_TIMEOUT(view.lines().size(), 10, 5000);
    QCOMPARE(view.lines().first(), QStringLiteral("line 15"));
    QCOMPARE(view.lines().last(), QStringLiteral("line 24"));
    QCOMPARE(shownLines(view), view.lines());
    QCOMPARE(view.droppedCount(), quint64(15));
    QCOMPARE(child<QLabel>(view, "logDropped")->text(), QStringLiteral("15 lines dropped"));

    // Shrinking drops the oldest now, and counts them.
    view.setMaxLines(4);
    QCOMPARE(view.lines().first(), QStringLiteral("line 21"));
    QCOMPARE(shownLines(view), view.lines());
    QCOMPARE(view.droppedCount(), quint64(21));
}

void tst_LogView::filter()
{
    LogView view;
    view.show();
    view.appendLine(QStringLiteral("alpha 1"));
    view.appendLine(QStringLiteral("beta 2"));
    view.appendLine(QStringLiteral("Alpha 3"));
    view.flush();
    QCOMPARE(shownLines(view).size(), 3);

    QLineEdit *filter = child<QLineEdit>(view, "logFilter");
    QTest::keyClicks(filter, QStringLiteral("alpha"));
    QCOMPARE(view.filterText(), QStringLiteral("alpha"));
    QCOMPARE(shownLines(view), QStringList({QStringLiteral("alpha 1"), QStringLiteral("Alpha 3")}));
    // New lines go through the filter too; the store keeps them all.
    view.appendLine(QStringLiteral("gamma 4"));
    view.appendLine(QStringLiteral("ALPHA 5"));
    view.flush();
    QCOMPARE(shownLines(view), QStringList({QStringLiteral("alpha 1"), QStringLiteral("Alpha 3"),
                                            QStringLiteral("ALPHA 5")}));
    QCOMPARE(view.lines().size(), 5);

    QTest::keyClicks(filter, QStringLiteral("zzz"));
    QCOMPARE(shownLines(view), QStringList());
    filter->clear();
    QCOMPARE(shownLines(view), view.lines());
    QCOMPARE(shownLines(view).at(3), QStringLiteral("gamma 4"));
}

void tst_LogView::clear()
{
    LogView view;
    view.show();
    view.setMaxLines(3);
    for (int i = 0; i < 5; ++i)
        view.appendLine(QString::number(i));
    view.flush();
    QCOMPARE(view.droppedCount(), quint64(2));
    QVERIFY(child<QLabel>(view, "logDropped")->isVisible());
    view.appendLine(QStringLiteral("pending"));

    QSignalSpy droppedSpy(&view, &LogView::droppedCountChanged);
    QTest::mouseClick(child<QToolButton>(view, "logClear"), Qt::LeftButton);
    QCOMPARE(view.lines(), QStringList());
    QCOMPARE(shownLines(view), QStringList());
    QCOMPARE(view.droppedCount(), quint64(0));
    QCOMPARE(droppedSpy.size(), 1);
    QVERIFY(child<QLabel>(view, "logDropped")->isHidden());
    // What was pending went too.
    view.flush();
    QCOMPARE(view.lines(), QStringList());

    view.appendLine(QStringLiteral("after"));
    view.flush();
    QCOMPARE(shownLines(view), QStringList({QStringLiteral("after")}));
}

void tst_LogView::follow()
{
    LogView view;
    view.resize(400, 200);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    QScrollBar *scrollBar = child<QPlainTextEdit>(view, "logText")->verticalScrollBar();
    QCheckBox *followBox = child<QCheckBox>(view, "logFollow");

    for (int i = 0; i < 500; ++i)
        view.appendLine(QStringLiteral("line %1").arg(i));
    view.flush();
    QVERIFY(scrollBar->maximum() > 0);
    QCOMPARE(scrollBar->value(), scrollBar->maximum());

    QTest::mouseClick(followBox, Qt::LeftButton);
    QVERIFY(!view.follows());
    scrollBar->setValue(10);
    const int oldMaximum = scrollBar->maximum();
    for (int i = 0; i < 100; ++i)
        view.appendLine(QStringLiteral("more %1").arg(i));
    view.flush();
    QVERIFY(scrollBar->maximum() > oldMaximum);
    QCOMPARE(scrollBar->value(), 10);

    // Turning it back on goes to the newest line.
    view.setFollow(true);
    QVERIFY(followBox->isChecked());
    QCOMPARE(scrollBar->value(), scrollBar->maximum());
    view.appendLine(QStringLiteral("last"));
    view.flush();
    QCOMPARE(scrollBar->value(), scrollBar->maximum());
}

void tst_LogView::state()
{
    LogView view;
    view.setFollow(false);
    view.setFilterText(QStringLiteral("not kept"));
    const QByteArray state = view.saveState();
    QVERIFY(!state.isEmpty());

    LogView other;
    QVERIFY(other.follows());
    QVERIFY(other.restoreState(state));
    QVERIFY(!other.follows());
    QCOMPARE(other.filterText(), QString());

    // Bad blobs change nothing.
    QVERIFY(!other.restoreState(QByteArray()));
    QVERIFY(!other.restoreState(QByteArray("garbage")));
    QVERIFY(!other.restoreState(state.left(state.size() - 1)));
    QByteArray newer = state;
    newer[4] = char(99); // the version
    QVERIFY(!other.restoreState(newer));
    other.setFollow(true);
    QVERIFY(!other.restoreState(state + "x"));
    QVERIFY(other.follows());
}

QTEST_MAIN(tst_LogView)
#include "tst_logview.moc"
