#include <sluiceui/sparkline.h>

#include <QtCore/QAbstractItemModel>
#include <QtGui/QPainter>
#include <QtGui/QPainterPath>

#include <algorithm>
#include <cmath>

namespace sluice {

namespace {

constexpr int Margin = 4;
constexpr qreal LineWidth = 1.5;
constexpr int FillAlpha = 48;

} // namespace

Sparkline::Sparkline(QWidget *parent)
    : QWidget(parent)
    , m_placeholderText(tr("No data"))
{
    m_repaintTimer.setSingleShot(true);
    m_repaintTimer.setInterval(DefaultRepaintIntervalMs);
    connect(&m_repaintTimer, &QTimer::timeout, this, &Sparkline::repaintNow);
    setSizePolicy(QSizePolicy::Preferred, QSizePolicy::Fixed);
}

Sparkline::~Sparkline() = default;

void Sparkline::setModel(QAbstractItemModel *model, int column, int role)
{
    for (const QMetaObject::Connection &connection : std::as_const(m_connections))
        disconnect(connection);
    m_connections.clear();
    m_model = model;
    m_column = column;
    m_role = role;
    if (model) {
        const auto changed = [this] {
            scheduleRepaint();
        };
        m_connections = {
                connect(model, &QAbstractItemModel::rowsInserted, this, changed),
                connect(model, &QAbstractItemModel::rowsRemoved, this, changed),
                connect(model, &QAbstractItemModel::rowsMoved, this, changed),
                connect(model, &QAbstractItemModel::dataChanged, this, changed),
                connect(model, &QAbstractItemModel::modelReset, this, changed),
                connect(model, &QAbstractItemModel::layoutChanged, this, changed),
                connect(model, &QObject::destroyed, this, changed),
        };
    }
    scheduleRepaint();
}

QAbstractItemModel *Sparkline::model() const
{
    return m_model;
}

void Sparkline::setTitle(const QString &title)
{
    m_title = title;
    setAccessibleName(title);
    update();
}

void Sparkline::setUnit(const QString &unit)
{
    m_unit = unit;
    scheduleRepaint();
}

void Sparkline::setColor(const QColor &color)
{
    m_color = color;
    update();
}

void Sparkline::setMaxPoints(int points)
{
    m_maxPoints = std::max(1, points);
    scheduleRepaint();
}

void Sparkline::setPlaceholderText(const QString &text)
{
    m_placeholderText = text;
    update();
}

void Sparkline::setRepaintInterval(int ms)
{
    m_repaintTimer.setInterval(std::max(0, ms));
}

QList<double> Sparkline::values() const
{
    QList<double> result;
    if (!m_model || m_column < 0 || m_column >= m_model->columnCount())
        return result;
    const int rows = m_model->rowCount();
    const int first = std::max(0, rows - m_maxPoints);
    result.reserve(rows - first);
    for (int row = first; row < rows; ++row) {
        const double value = m_model->data(m_model->index(row, m_column), m_role).toDouble();
        result.append(std::isfinite(value) ? value : 0.0);
    }
    return result;
}

bool Sparkline::hasValues() const
{
    return m_model && m_column >= 0 && m_column < m_model->columnCount() && m_model->rowCount() > 0;
}

double Sparkline::currentValue() const
{
    if (!hasValues())
        return 0;
    const double value
            = m_model->data(m_model->index(m_model->rowCount() - 1, m_column), m_role).toDouble();
    return std::isfinite(value) ? value : 0.0;
}

double Sparkline::maximumValue() const
{
    const QList<double> all = values();
    return all.isEmpty() ? 0.0 : *std::max_element(all.cbegin(), all.cend());
}

QString Sparkline::valueText() const
{
    return hasValues() ? format(currentValue()) : QString();
}

void Sparkline::setFormatter(Formatter formatter)
{
    m_formatter = std::move(formatter);
    scheduleRepaint();
}

QString Sparkline::format(double value) const
{
    return m_formatter ? m_formatter(value) : formatValue(value, m_unit);
}

QString Sparkline::formatValue(double value, const QString &unit)
{
    const double magnitude = std::abs(value);
    QString number;
    if (magnitude >= 1e10)
        number = QString::number(value / 1e9, 'f', 1) + u'G';
    else if (magnitude >= 1e7)
        number = QString::number(value / 1e6, 'f', 1) + u'M';
    else if (magnitude >= 1e4)
        number = QString::number(value / 1e3, 'f', 1) + u'k';
    else if (value == std::floor(value) || magnitude >= 100)
        number = QString::number(qint64(std::llround(value)));
    else
        number = QString::number(value, 'f', 1);
    return unit.isEmpty() ? number : number + u' ' + unit;
}

QSize Sparkline::sizeHint() const
{
    return {200, std::max(60, 3 * fontMetrics().height())};
}

QSize Sparkline::minimumSizeHint() const
{
    return {80, std::max(40, 2 * fontMetrics().height() + 2 * Margin)};
}

void Sparkline::scheduleRepaint()
{
    if (!m_repaintTimer.isActive())
        m_repaintTimer.start();
}

void Sparkline::repaintNow()
{
    const QString text = valueText();
    setAccessibleDescription(text.isEmpty() ? m_placeholderText
                                            : tr("%1, max %2").arg(text, format(maximumValue())));
    update();
}

void Sparkline::paintEvent(QPaintEvent *)
{
    QPainter painter(this);
    painter.setRenderHint(QPainter::Antialiasing);
    const QPalette pal = palette();
    painter.fillRect(rect(), pal.base());

    const QRect area = rect().adjusted(Margin, Margin / 2, -Margin, -Margin / 2);
    const QFontMetrics metrics = fontMetrics();

    // Title on the left, the current value (bold) on the right of one line.
    QFont bold = font();
    bold.setBold(true);
    const QString text = valueText();
    const int textWidth = text.isEmpty() ? 0 : QFontMetrics(bold).horizontalAdvance(text);
    const QRect textRow(area.left(), area.top(), area.width(), metrics.height());
    painter.setPen(pal.color(QPalette::Text));
    painter.drawText(textRow.adjusted(0, 0, -textWidth - Margin, 0),
                     Qt::AlignLeft | Qt::AlignVCenter,
                     metrics.elidedText(m_title, Qt::ElideRight,
                                        std::max(0, area.width() - textWidth - Margin)));
    if (!text.isEmpty()) {
        painter.setFont(bold);
        painter.drawText(textRow, Qt::AlignRight | Qt::AlignVCenter, text);
        painter.setFont(font());
    }

    const QRectF chart = QRectF(area.adjusted(0, metrics.height() + 2, 0, 0))
                                 .adjusted(LineWidth, LineWidth, -LineWidth, -LineWidth);
    const QColor muted = pal.color(QPalette::PlaceholderText);
    const QList<double> points = values();
    if (points.isEmpty() || chart.height() <= 0 || chart.width() <= 0) {
        painter.setPen(muted);
        painter.drawText(chart, Qt::AlignCenter, m_placeholderText);
        return;
    }

    const double top = *std::max_element(points.cbegin(), points.cend());
    const double bottom = std::min(0.0, *std::min_element(points.cbegin(), points.cend()));
    const double range = top - bottom;
    // One slot per point of maxPoints, the newest at the right edge, so time
    // runs at the same speed whether the model holds few rows or many.
    const double step = chart.width() / std::max(1, m_maxPoints - 1);
    const auto pointAt = [&](int i) {
        const double x = chart.right() - (points.size() - 1 - i) * step;
        const double y = range > 0
                                 ? chart.bottom() - (points.at(i) - bottom) / range * chart.height()
                                 : chart.bottom();
        return QPointF(x, y);
    };

    const QColor lineColor = m_color.isValid() ? m_color : pal.color(QPalette::Highlight);
    if (points.size() == 1) {
        painter.setPen(Qt::NoPen);
        painter.setBrush(lineColor);
        painter.drawEllipse(pointAt(0), LineWidth + 0.5, LineWidth + 0.5);
    } else {
        QPainterPath line(pointAt(0));
        for (int i = 1; i < points.size(); ++i)
            line.lineTo(pointAt(i));
        QPainterPath fill = line;
        fill.lineTo(pointAt(int(points.size()) - 1).x(), chart.bottom());
        fill.lineTo(pointAt(0).x(), chart.bottom());
        fill.closeSubpath();
        QColor fillColor = lineColor;
        fillColor.setAlpha(FillAlpha);
        painter.fillPath(fill, fillColor);
        painter.strokePath(line,
                           QPen(lineColor, LineWidth, Qt::SolidLine, Qt::RoundCap, Qt::RoundJoin));
    }

    QFont small = font();
    if (small.pointSizeF() > 0)
        small.setPointSizeF(small.pointSizeF() * 0.85);
    painter.setFont(small);
    // The label sits over the chart; a veil of the background keeps it
    // readable where the line passes under it.
    const QString maxText = tr("max %1").arg(format(top));
    const QFontMetricsF smallMetrics(small);
    const QRectF veil(chart.topLeft(),
                      QSizeF(std::min(chart.width(), smallMetrics.horizontalAdvance(maxText) + 2),
                             smallMetrics.height()));
    QColor veilColor = pal.color(QPalette::Base);
    veilColor.setAlpha(200);
    painter.fillRect(veil, veilColor);
    painter.setPen(muted);
    painter.drawText(veil, Qt::AlignLeft | Qt::AlignVCenter, maxText);
}

} // namespace sluice
