#include <sluiceui/statsview.h>

#include <sluiceui/sparkline.h>

#include <QtCore/QLocale>
#include <QtWidgets/QFormLayout>
#include <QtWidgets/QGridLayout>
#include <QtWidgets/QGroupBox>
#include <QtWidgets/QLabel>
#include <QtWidgets/QVBoxLayout>

namespace sluice {

namespace {

struct Chart
{
    StatsHistory::Column column;
    const char *objectName;
    const char *title;
    const char *unit;
    QRgb color;
};

// Two rows of three, the related ones under each other.
const Chart charts[] = {
        {StatsHistory::ConnectionsColumn, "statsConnections",
         QT_TRANSLATE_NOOP("sluice::StatsView", "Connections"),
         QT_TRANSLATE_NOOP("sluice::StatsView", "connections"), 0x2e7d32},
        {StatsHistory::MessagesColumn, "statsMessages",
         QT_TRANSLATE_NOOP("sluice::StatsView", "Messages"),
         QT_TRANSLATE_NOOP("sluice::StatsView", "msg/s"), 0x1565c0},
        {StatsHistory::BytesColumn, "statsBytes", QT_TRANSLATE_NOOP("sluice::StatsView", "Bytes"),
         QT_TRANSLATE_NOOP("sluice::StatsView", "B/s"), 0x6a1b9a},
        {StatsHistory::RequestsColumn, "statsRequests",
         QT_TRANSLATE_NOOP("sluice::StatsView", "Requests"),
         QT_TRANSLATE_NOOP("sluice::StatsView", "req/s"), 0xef6c00},
        {StatsHistory::MessagesInColumn, "statsMessagesIn",
         QT_TRANSLATE_NOOP("sluice::StatsView", "Messages in"),
         QT_TRANSLATE_NOOP("sluice::StatsView", "msg/s"), 0x0277bd},
        {StatsHistory::MessagesOutColumn, "statsMessagesOut",
         QT_TRANSLATE_NOOP("sluice::StatsView", "Messages out"),
         QT_TRANSLATE_NOOP("sluice::StatsView", "msg/s"), 0x00838f},
};

QLabel *totalLabel(const char *name, QWidget *parent)
{
    auto *label = new QLabel(parent);
    label->setObjectName(QLatin1String(name));
    label->setTextInteractionFlags(Qt::TextSelectableByMouse);
    label->setAlignment(Qt::AlignRight | Qt::AlignVCenter);
    return label;
}

} // namespace

StatsView::StatsView(StatsHistory *history, QWidget *parent)
    : QWidget(parent)
    , m_history(history)
{
    auto *grid = new QGridLayout;
    int index = 0;
    for (const Chart &chart : charts) {
        auto *sparkline = new Sparkline(this);
        sparkline->setObjectName(QLatin1String(chart.objectName));
        sparkline->setTitle(tr(chart.title));
        sparkline->setUnit(tr(chart.unit));
        sparkline->setColor(QColor(chart.color));
        sparkline->setPlaceholderText(tr("No data yet"));
        sparkline->setModel(history, chart.column, StatsHistory::ValueRole);
        if (history)
            sparkline->setMaxPoints(history->windowSeconds());
        if (chart.column == StatsHistory::BytesColumn) {
            sparkline->setFormatter([](double value) {
                return tr("%1/s").arg(QLocale().formattedDataSize(qint64(value)));
            });
        }
        // The charts take the height; the totals below keep theirs.
        sparkline->setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
        grid->addWidget(sparkline, index / 3, index % 3);
        m_sparklines.append({chart.column, sparkline});
        ++index;
    }

    auto *totals = new QGroupBox(tr("Totals"), this);
    totals->setObjectName(QStringLiteral("statsTotals"));
    m_connections = totalLabel("statsTotalConnections", totals);
    m_messagesIn = totalLabel("statsTotalMessagesIn", totals);
    m_messagesOut = totalLabel("statsTotalMessagesOut", totals);
    m_bytes = totalLabel("statsTotalBytes", totals);
    m_requests = totalLabel("statsTotalRequests", totals);
    m_errors = totalLabel("statsTotalErrors", totals);
    m_errors->setToolTip(tr("Responses with a status of 500 or more"));
    // Two columns of three, so the box stays short under the charts.
    auto *left = new QFormLayout;
    left->addRow(tr("Connections opened:"), m_connections);
    left->addRow(tr("Messages in:"), m_messagesIn);
    left->addRow(tr("Messages out:"), m_messagesOut);
    auto *right = new QFormLayout;
    right->addRow(tr("Bytes:"), m_bytes);
    right->addRow(tr("Requests:"), m_requests);
    right->addRow(tr("Errors:"), m_errors);
    auto *totalsLayout = new QHBoxLayout(totals);
    totalsLayout->addLayout(left);
    totalsLayout->addSpacing(24);
    totalsLayout->addLayout(right);
    totalsLayout->addStretch(1);

    auto *layout = new QVBoxLayout(this);
    layout->addLayout(grid, 1);
    totals->setSizePolicy(QSizePolicy::Preferred, QSizePolicy::Maximum);
    layout->addWidget(totals);

    if (history)
        connect(history, &StatsHistory::totalsChanged, this, &StatsView::updateTotals);
    updateTotals();
}

StatsView::~StatsView() = default;

Sparkline *StatsView::sparkline(StatsHistory::Column column) const
{
    for (const auto &entry : m_sparklines) {
        if (entry.first == column)
            return entry.second;
    }
    return nullptr;
}

QString StatsView::formatBytes(qint64 bytes)
{
    return QLocale().formattedDataSize(bytes);
}

void StatsView::updateTotals()
{
    const QLocale locale;
    const auto number = [&locale](qint64 value) {
        return locale.toString(value);
    };
    const StatsHistory *history = m_history;
    m_connections->setText(number(history ? history->totalConnections() : 0));
    m_messagesIn->setText(number(history ? history->totalMessagesIn() : 0));
    m_messagesOut->setText(number(history ? history->totalMessagesOut() : 0));
    const qint64 bytes = history ? history->totalBytes() : 0;
    m_bytes->setText(formatBytes(bytes));
    m_bytes->setToolTip(tr("%1 bytes").arg(number(bytes)));
    m_requests->setText(number(history ? history->totalRequests() : 0));
    m_errors->setText(number(history ? history->totalErrors() : 0));
}

} // namespace sluice
