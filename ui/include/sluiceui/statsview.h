#ifndef SLUICEUI_STATSVIEW_H
#define SLUICEUI_STATSVIEW_H

#include <sluiceui/statshistory.h>

#include <QtCore/QPointer>
#include <QtWidgets/QWidget>

QT_BEGIN_NAMESPACE
class QLabel;
QT_END_NAMESPACE

namespace sluice {

class Sparkline;

// The Stats tab: one Sparkline per StatsHistory column of interest (open
// connections, messages per second in total, in and out, bytes per second,
// requests per second), and under them the totals since the history started
// (connections opened, messages in and out, bytes, requests, errors),
// formatted for the locale, bytes in KiB/MiB/GiB.
//
// Objects by name: the sparklines "statsConnections", "statsMessages",
// "statsMessagesIn", "statsMessagesOut", "statsBytes", "statsRequests"; the
// totals box "statsTotals" with the labels "statsTotalConnections",
// "statsTotalMessagesIn", "statsTotalMessagesOut", "statsTotalBytes",
// "statsTotalRequests", "statsTotalErrors".
//
// The history is not owned; the sparklines repaint on their own timer and the
// totals follow StatsHistory::totalsChanged, so the view costs nothing per
// event.
class StatsView : public QWidget
{
    Q_OBJECT
public:
    explicit StatsView(StatsHistory *history, QWidget *parent = nullptr);
    ~StatsView() override;

    StatsHistory *history() const { return m_history; }
    // The sparkline of a history column, or null if the view has none.
    Sparkline *sparkline(StatsHistory::Column column) const;

    // "1,234 bytes", "1.21 KiB"... as the totals show them.
    static QString formatBytes(qint64 bytes);

private:
    void updateTotals();

    QPointer<StatsHistory> m_history;
    QList<QPair<StatsHistory::Column, Sparkline *>> m_sparklines;
    QLabel *m_connections = nullptr;
    QLabel *m_messagesIn = nullptr;
    QLabel *m_messagesOut = nullptr;
    QLabel *m_bytes = nullptr;
    QLabel *m_requests = nullptr;
    QLabel *m_errors = nullptr;
};

} // namespace sluice

#endif // SLUICEUI_STATSVIEW_H
