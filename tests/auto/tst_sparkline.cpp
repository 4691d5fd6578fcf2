#include <sluiceui/sparkline.h>
#include <sluiceui/statshistory.h>

#include <QtGui/QImage>
#include <QtGui/QStandardItemModel>
#include <QtTest/QtTest>

#include <memory>

using sluice::Sparkline;

namespace {

constexpr int kTimeout = 5000;
const QColor kLine(255, 0, 0);

// Antialiasing blends the line's edges into the background; its middle is
// still close to the pen color, the light fill is not.
bool isLineColor(QRgb pixel)
{
    return qRed(pixel) > 200 && qGreen(pixel) < 100 && qBlue(pixel) < 100;
}

int countPixels(const QImage &image, const QRect &area, const std::function<bool(QRgb)> &match)
{
    int count = 0;
    const QRect clipped = area.intersected(image.rect());
    for (int y = clipped.top(); y <= clipped.bottom(); ++y) {
        for (int x = clipped.left(); x <= clipped.right(); ++x)
            count += match(image.pixel(x, y)) ? 1 : 0;
    }
    return count;
}

QImage render(Sparkline &sparkline)
{
    return sparkline.grab().toImage().convertToFormat(QImage::Format_RGB32);
}

std::unique_ptr<QStandardItemModel> modelOf(const QList<double> &values)
{
    auto model = std::make_unique<QStandardItemModel>(0, 2);
    for (double value : values) {
        auto *label = new QStandardItem(QStringLiteral("t"));
        auto *item = new QStandardItem;
        item->setData(value, Qt::DisplayRole);
        model->appendRow({label, item});
    }
    return model;
}

// Counts paint events, the only way to see the repaints themselves.
class PaintCounter : public QObject
{
public:
    int paints = 0;

protected:
    bool eventFilter(QObject *watched, QEvent *event) override
    {
        if (event->type() == QEvent::Paint)
            ++paints;
        return QObject::eventFilter(watched, event);
    }
};

} // namespace

class tst_Sparkline : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void sizeHintAndAccessibleName();
    void drawsTheLineInItsColor();
    void fillIsLighterThanTheLine();
    void allZeroIsAFlatLineAtTheBottom();
    void emptyModelShowsThePlaceholder();
    void noModelAndDeletedModel();
    void textShowsCurrentValueAndUnit();
    void formatsLargeAndFractionalValues();
    void onlyTheLastMaxPointsAreDrawn();
    void repaintsAreCoalesced();
    void everyModelChangeRepaints();
    void followsAStatsHistory();
};

void tst_Sparkline::sizeHintAndAccessibleName()
{
    Sparkline sparkline;
    QCOMPARE(sparkline.sizeHint().width(), 200);
    QVERIFY(sparkline.sizeHint().height() >= 60);
    QVERIFY(sparkline.sizeHint().height() <= 100);
    QVERIFY(sparkline.minimumSizeHint().width() <= sparkline.sizeHint().width());
    sparkline.setTitle(QStringLiteral("Messages/s"));
    QCOMPARE(sparkline.title(), QStringLiteral("Messages/s"));
    QCOMPARE(sparkline.accessibleName(), QStringLiteral("Messages/s"));
    QCOMPARE(sparkline.repaintInterval(), 100);
}

void tst_Sparkline::drawsTheLineInItsColor()
{
    auto model = modelOf({1, 5, 2, 8, 3, 9, 4, 7, 6, 5});
    Sparkline sparkline;
    sparkline.resize(200, 60);
    sparkline.setColor(kLine);
    sparkline.setMaxPoints(10);
    sparkline.setTitle(QStringLiteral("Messages/s"));

    // Before a model, no line anywhere.
    QCOMPARE(countPixels(render(sparkline), sparkline.rect(), isLineColor), 0);

    sparkline.setModel(model.get(), 1);
    QCOMPARE(sparkline.values(), (QList<double> {1, 5, 2, 8, 3, 9, 4, 7, 6, 5}));
    const QImage image = render(sparkline);
    // A line across the width: at least one line pixel in most columns.
    int columns = 0;
    for (int x = 0; x < image.width(); ++x)
        columns += countPixels(image, QRect(x, 0, 1, image.height()), isLineColor) > 0 ? 1 : 0;
    QVERIFY2(columns > image.width() / 2, qPrintable(QString::number(columns)));

    // Column 0 of the same model holds text, which reads as zeros: a flat
    // line, not the zigzag, so the picture depends on the column.
    sparkline.setModel(model.get(), 0);
    QVERIFY(render(sparkline) != image);
}

void tst_Sparkline::fillIsLighterThanTheLine()
{
    auto model = modelOf({10, 10, 10, 10});
    Sparkline sparkline;
    sparkline.resize(200, 60);
    sparkline.setColor(kLine);
    sparkline.setMaxPoints(4);
    sparkline.setModel(model.get(), 1);
    const QImage image = render(sparkline);
    // Below a flat line at the top of the chart: the light red fill.
    const auto isFill = [](QRgb p) {
        return qRed(p) > 240 && qGreen(p) > 150 && qGreen(p) < 240
               && qAbs(qGreen(p) - qBlue(p)) < 8;
    };
    const QRect lowerHalf(0, image.height() * 3 / 4, image.width(), image.height() / 4 - 3);
    QVERIFY(countPixels(image, lowerHalf, isFill) > lowerHalf.width() * lowerHalf.height() / 2);
    QCOMPARE(countPixels(image, lowerHalf, isLineColor), 0);
}

void tst_Sparkline::allZeroIsAFlatLineAtTheBottom()
{
    auto model = modelOf({0, 0, 0, 0, 0});
    Sparkline sparkline;
    sparkline.resize(200, 60);
    sparkline.setColor(kLine);
    sparkline.setUnit(QStringLiteral("msg/s"));
    sparkline.setMaxPoints(5);
    sparkline.setModel(model.get(), 1);
    QCOMPARE(sparkline.maximumValue(), 0.0);
    QCOMPARE(sparkline.valueText(), QStringLiteral("0 msg/s"));
    const QImage image = render(sparkline);
    const QRect bottom(0, image.height() - 6, image.width(), 6);
    QVERIFY(countPixels(image, bottom, isLineColor) > image.width() / 2);
    QCOMPARE(countPixels(image, QRect(0, 0, image.width(), image.height() - 6), isLineColor), 0);

    // A single value is a dot, not a division by zero either.
    auto one = modelOf({0});
    sparkline.setModel(one.get(), 1);
    QVERIFY(countPixels(render(sparkline), sparkline.rect(), isLineColor) > 0);
}

void tst_Sparkline::emptyModelShowsThePlaceholder()
{
    QStandardItemModel model(0, 2);
    Sparkline sparkline;
    sparkline.resize(200, 60);
    sparkline.setColor(kLine);
    sparkline.setUnit(QStringLiteral("msg/s"));
    sparkline.setModel(&model, 1);
    QVERIFY(!sparkline.hasValues());
    QVERIFY(sparkline.values().isEmpty());
    QCOMPARE(sparkline.currentValue(), 0.0);
    QCOMPARE(sparkline.valueText(), QString());
    QCOMPARE(sparkline.placeholderText(), QStringLiteral("No data"));

    const QImage withPlaceholder = render(sparkline);
    QCOMPARE(countPixels(withPlaceholder, sparkline.rect(), isLineColor), 0);
    const QRgb base = sparkline.palette().color(QPalette::Base).rgb();
    const auto notBase = [base](QRgb p) {
        return (p & 0xffffff) != (base & 0xffffff);
    };
    // The placeholder sits in the middle of the chart area.
    const QRect middle(40, 25, 120, 30);
    QVERIFY(countPixels(withPlaceholder, middle, notBase) > 10);

    sparkline.setPlaceholderText(QString());
    QCOMPARE(countPixels(render(sparkline), middle, notBase), 0);

    // A column the model does not have is empty too.
    sparkline.setPlaceholderText(QStringLiteral("No data"));
    auto model2 = modelOf({1, 2, 3});
    sparkline.setModel(model2.get(), 5);
    QVERIFY(!sparkline.hasValues());
    QCOMPARE(countPixels(render(sparkline), sparkline.rect(), isLineColor), 0);
}

void tst_Sparkline::noModelAndDeletedModel()
{
    Sparkline sparkline;
    sparkline.resize(200, 60);
    sparkline.setColor(kLine);
    QVERIFY(!render(sparkline).isNull());
    QVERIFY(!sparkline.hasValues());

    auto model = modelOf({1, 2, 3});
    sparkline.setModel(model.get(), 1);
    QVERIFY(countPixels(render(sparkline), sparkline.rect(), isLineColor) > 0);
    model.reset();
    QCOMPARE(sparkline.model(), nullptr);
    QCOMPARE(countPixels(render(sparkline), sparkline.rect(), isLineColor), 0);
}

void tst_Sparkline::textShowsCurrentValueAndUnit()
{
    auto model = modelOf({3, 456, 7, 123});
    Sparkline sparkline;
    sparkline.resize(200, 60);
    sparkline.setColor(kLine);
    sparkline.setTitle(QStringLiteral("Messages"));
    sparkline.setUnit(QStringLiteral("msg/s"));
    sparkline.setModel(model.get(), 1);
    QCOMPARE(sparkline.currentValue(), 123.0);
    QCOMPARE(sparkline.maximumValue(), 456.0);
    QCOMPARE(sparkline.valueText(), QStringLiteral("123 msg/s"));
    QTRY_COMPARE_WITH_TIMEOUT(sparkline.accessibleDescription(),
                              QStringLiteral("123 msg/s, max 456 msg/s"), kTimeout);

    // The text row (above the chart) changes with the current value, on the
    // right where the value is drawn.
    const int textHeight = sparkline.fontMetrics().height();
    const QRect valueArea(100, 0, 100, textHeight);
    const QImage before = render(sparkline).copy(valueArea);
    model->item(3, 1)->setData(7.0, Qt::DisplayRole);
    QCOMPARE(sparkline.valueText(), QStringLiteral("7 msg/s"));
    const QImage after = render(sparkline).copy(valueArea);
    QVERIFY(before != after);
    // Text, not the line, is what is drawn there.
    QCOMPARE(countPixels(before, before.rect(), isLineColor), 0);
    const auto dark = [](QRgb p) {
        return qGray(p) < 128;
    };
    QVERIFY(countPixels(before, before.rect(), dark) > 10);

    // Same value, other unit: the text changes too.
    sparkline.setUnit(QStringLiteral("B/s"));
    QCOMPARE(sparkline.valueText(), QStringLiteral("7 B/s"));
    QVERIFY(render(sparkline).copy(valueArea) != after);

    // A formatter of its own replaces the unit's text, and null restores it.
    sparkline.setFormatter([](double value) { return QStringLiteral("<%1>").arg(value); });
    QCOMPARE(sparkline.valueText(), QStringLiteral("<7>"));
    sparkline.setFormatter(nullptr);
    QCOMPARE(sparkline.valueText(), QStringLiteral("7 B/s"));
}

void tst_Sparkline::formatsLargeAndFractionalValues()
{
    const QString unit = QStringLiteral("msg/s");
    QCOMPARE(Sparkline::formatValue(0, unit), QStringLiteral("0 msg/s"));
    QCOMPARE(Sparkline::formatValue(9999, unit), QStringLiteral("9999 msg/s"));
    QCOMPARE(Sparkline::formatValue(12345, unit), QStringLiteral("12.3k msg/s"));
    QCOMPARE(Sparkline::formatValue(25e6, QStringLiteral("B/s")), QStringLiteral("25.0M B/s"));
    QCOMPARE(Sparkline::formatValue(3e10, QString()), QStringLiteral("30.0G"));
    QCOMPARE(Sparkline::formatValue(2.5, unit), QStringLiteral("2.5 msg/s"));
    QCOMPARE(Sparkline::formatValue(-4, unit), QStringLiteral("-4 msg/s"));
}

void tst_Sparkline::onlyTheLastMaxPointsAreDrawn()
{
    auto model = modelOf({1000, 1, 2, 3});
    Sparkline sparkline;
    sparkline.setMaxPoints(3);
    sparkline.setModel(model.get(), 1);
    QCOMPARE(sparkline.values(), (QList<double> {1, 2, 3}));
    // The early spike is out of view, so not the maximum either.
    QCOMPARE(sparkline.maximumValue(), 3.0);
    sparkline.setMaxPoints(0);
    QCOMPARE(sparkline.maxPoints(), 1);
    QCOMPARE(sparkline.values(), (QList<double> {3}));
}

void tst_Sparkline::repaintsAreCoalesced()
{
    auto model = modelOf({1, 2, 3});
    Sparkline sparkline;
    sparkline.setUnit(QStringLiteral("msg/s"));
    sparkline.setModel(model.get(), 1);
    sparkline.resize(200, 60);
    sparkline.show();
    QVERIFY(QTest::qWaitForWindowExposed(&sparkline));
    PaintCounter counter;
    sparkline.installEventFilter(&counter);
    QTest::qWait(250); // the initial paints settle
    counter.paints = 0;

    // 600 changes over about 300 ms, the event loop running in between.
    QElapsedTimer elapsed;
    elapsed.start();
    for (int i = 0; i < 600; ++i) {
        model->item(2, 1)->setData(double(i), Qt::DisplayRole);
        if (i % 20 == 0)
            QTest::qWait(10);
        else
            QCoreApplication::processEvents();
    }
    QTRY_VERIFY_WITH_TIMEOUT(counter.paints > 0, kTimeout);
    QTest::qWait(150); // the last coalesced repaint
    const int expectedAtMost = int(elapsed.elapsed() / 100) + 2;
    QVERIFY2(counter.paints <= expectedAtMost, qPrintable(QStringLiteral("%1 paints in %2 ms")
                                                                  .arg(counter.paints)
                                                                  .arg(elapsed.elapsed())));
    QCOMPARE(sparkline.valueText(), QStringLiteral("599 msg/s"));

    // Quiet model, no paints.
    counter.paints = 0;
    QTest::qWait(250);
    QCOMPARE(counter.paints, 0);
}

void tst_Sparkline::everyModelChangeRepaints()
{
    auto model = modelOf({1, 2, 3});
    Sparkline sparkline;
    sparkline.setModel(model.get(), 1);
    sparkline.resize(200, 60);
    sparkline.show();
    QVERIFY(QTest::qWaitForWindowExposed(&sparkline));
    PaintCounter counter;
    sparkline.installEventFilter(&counter);
    QTest::qWait(150);

    const auto expectRepaint = [&](const char *what) {
        QTRY_VERIFY2_WITH_TIMEOUT(counter.paints > 0, what, kTimeout);
        counter.paints = 0;
    };
    counter.paints = 0;
    model->appendRow({new QStandardItem, new QStandardItem(QStringLiteral("4"))});
    expectRepaint("rowsInserted");
    model->removeRow(0);
    expectRepaint("rowsRemoved");
    model->item(0, 1)->setData(9.0, Qt::DisplayRole);
    expectRepaint("dataChanged");
    model->clear();
    expectRepaint("modelReset");
    QVERIFY(!sparkline.hasValues());

    // A model set aside no longer repaints the widget.
    QStandardItemModel other(0, 2);
    sparkline.setModel(&other, 1);
    expectRepaint("setModel");
    QTest::qWait(150);
    counter.paints = 0;
    model->appendRow({new QStandardItem, new QStandardItem(QStringLiteral("4"))});
    QTest::qWait(250);
    QCOMPARE(counter.paints, 0);
}

void tst_Sparkline::followsAStatsHistory()
{
    qint64 nowMs = 1700000000000;
    sluice::StatsHistory history;
    history.setClock([&nowMs] { return nowMs; });
    Sparkline sparkline;
    sparkline.setUnit(QStringLiteral("msg/s"));
    sparkline.setModel(&history, sluice::StatsHistory::MessagesColumn);
    QCOMPARE(sparkline.valueText(), QStringLiteral("0 msg/s"));

    QList<sluice::MonitorEvent> batch;
    for (int i = 0; i < 42; ++i) {
        sluice::MonitorEvent event;
        event.type = sluice::MonitorEvent::Type::WebSocketMessage;
        event.opcode = sluice::MonitorEvent::Opcode::Text;
        event.direction = sluice::MonitorEvent::Direction::Incoming;
        event.timeUs = (nowMs + 1000) * 1000;
        batch.append(event);
    }
    nowMs += 1000;
    history.addEvents(batch);
    history.flush();
    QCOMPARE(sparkline.values(), (QList<double> {0, 42}));
    QCOMPARE(sparkline.valueText(), QStringLiteral("42 msg/s"));
    QTRY_COMPARE_WITH_TIMEOUT(sparkline.accessibleDescription(),
                              QStringLiteral("42 msg/s, max 42 msg/s"), kTimeout);
}

QTEST_MAIN(tst_Sparkline)
#include "tst_sparkline.moc"
