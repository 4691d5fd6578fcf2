#ifndef SLUICEUI_SPARKLINE_H
#define SLUICEUI_SPARKLINE_H

#include <QtCore/QList>
#include <QtCore/QMetaObject>
#include <QtCore/QPointer>
#include <QtCore/QTimer>
#include <QtGui/QColor>
#include <QtWidgets/QWidget>

#include <functional>

QT_BEGIN_NAMESPACE
class QAbstractItemModel;
QT_END_NAMESPACE

namespace sluice {

// A small chart of one column of a model (typically StatsHistory): the last
// maxPoints() values of the top-level rows as a line with a light fill, the
// newest at the right edge, and as text the title, the current (last) value
// with its unit ("123 msg/s") and the maximum shown. The scale starts at 0
// (or at the lowest value, if negative), so an all-zero column is a flat line
// at the bottom; an empty model shows placeholderText().
//
// Model changes (rows inserted or removed, data changed, reset) are coalesced:
// the widget repaints at most once per repaintInterval() (default 100 ms),
// however fast the model changes.
class Sparkline : public QWidget
{
    Q_OBJECT
    Q_PROPERTY(QString title READ title WRITE setTitle)
    Q_PROPERTY(QString unit READ unit WRITE setUnit)
    Q_PROPERTY(QColor color READ color WRITE setColor)
    Q_PROPERTY(int maxPoints READ maxPoints WRITE setMaxPoints)
    Q_PROPERTY(QString placeholderText READ placeholderText WRITE setPlaceholderText)
    Q_PROPERTY(int repaintInterval READ repaintInterval WRITE setRepaintInterval)
public:
    static constexpr int DefaultMaxPoints = 300;
    static constexpr int DefaultRepaintIntervalMs = 100;

    explicit Sparkline(QWidget *parent = nullptr);
    ~Sparkline() override;

    // Values are data(index(row, column), role).toDouble() of the top-level
    // rows. The model is not owned; a deleted model reads as empty.
    void setModel(QAbstractItemModel *model, int column, int role = Qt::DisplayRole);
    QAbstractItemModel *model() const;
    int column() const { return m_column; }
    int role() const { return m_role; }

    // Also the accessible name.
    QString title() const { return m_title; }
    void setTitle(const QString &title);
    QString unit() const { return m_unit; }
    void setUnit(const QString &unit);
    // Of the line; the fill is the same color, mostly transparent.
    QColor color() const { return m_color; }
    void setColor(const QColor &color);
    int maxPoints() const { return m_maxPoints; }
    void setMaxPoints(int points);
    QString placeholderText() const { return m_placeholderText; }
    void setPlaceholderText(const QString &text);
    int repaintInterval() const { return m_repaintTimer.interval(); }
    void setRepaintInterval(int ms);

    // What is drawn, read from the model now.
    QList<double> values() const;
    bool hasValues() const;
    double currentValue() const;
    double maximumValue() const;
    // "123 msg/s"; large values shortened ("12.3k msg/s"); empty without values.
    QString valueText() const;
    static QString formatValue(double value, const QString &unit);
    // Replaces formatValue() for the current value and the maximum (a
    // null function restores it): bytes read better as "1.4 MiB/s".
    using Formatter = std::function<QString(double value)>;
    void setFormatter(Formatter formatter);

    QSize sizeHint() const override;
    QSize minimumSizeHint() const override;

protected:
    void paintEvent(QPaintEvent *event) override;

private:
    void scheduleRepaint();
    void repaintNow();

    QPointer<QAbstractItemModel> m_model;
    QList<QMetaObject::Connection> m_connections;
    int m_column = 0;
    int m_role = Qt::DisplayRole;
    QString m_title;
    QString m_unit;
    QColor m_color;
    QString m_placeholderText;
    int m_maxPoints = DefaultMaxPoints;
    QTimer m_repaintTimer;
    Formatter m_formatter;

    QString format(double value) const;
};

} // namespace sluice

#endif // SLUICEUI_SPARKLINE_H
