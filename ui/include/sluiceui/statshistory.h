#ifndef SLUICEUI_STATSHISTORY_H
#define SLUICEUI_STATSHISTORY_H

#include <sluice/monitorevent.h>

#include <QtCore/QAbstractTableModel>
#include <QtCore/QList>
#include <QtCore/QMap>
#include <QtCore/QSet>
#include <QtCore/QTimer>

#include <functional>

namespace sluice {

// Per-second activity of a server over a sliding window (default the last
// 300 seconds): one row per second, oldest first, the newest row being the
// current second. A 1 s timer appends a bucket at every second boundary even
// when nothing happens, so the rows are always contiguous seconds; the oldest
// bucket is dropped from the front once it leaves the window.
//
// Events arrive in batches through addEvents() and are folded into per-second
// deltas right away, so what waits for the next flush is bounded by the
// window, not by the event rate, and nothing is ever dropped; the flush timer
// (default 50 ms) applies them with one dataChanged per tick (plus the row
// inserts and removes of the seconds that passed), never one per event.
//
// What a bucket counts:
// - connections: connections open at the end of that second (ConnectionOpened
//   minus ConnectionClosed, by connection id, so a close of a connection opened
//   before the history started does not go negative);
// - new connections: ConnectionOpened events;
// - messages: WebSocket data messages (text and binary, not control frames),
//   both directions, and separately in and out;
// - bytes: the payload size of those messages plus bytesIn + bytesOut of
//   every HttpExchange;
// - requests: HttpExchange events; errors: those with status >= 500.
//
// An event is placed by its timeUs. One older than the window is counted in
// the totals only; one in the future (by the clock) goes into the current
// bucket. The clock is injectable so tests can drive time without sleeping.
class StatsHistory : public QAbstractTableModel
{
    Q_OBJECT
public:
    enum Column {
        TimeColumn,
        ConnectionsColumn,
        NewConnectionsColumn,
        MessagesColumn,
        MessagesInColumn,
        MessagesOutColumn,
        BytesColumn,
        RequestsColumn,
        ErrorsColumn,
        ColumnCount
    };
    Q_ENUM(Column)

    // Qt::DisplayRole gives the time as "HH:mm:ss" (local time) and the counts
    // as qint64; ValueRole gives a qint64 for every column (epoch seconds for
    // the time).
    enum Role { ValueRole = Qt::UserRole + 1 };

    struct Bucket
    {
        qint64 second = 0; // seconds since the epoch
        qint64 connections = 0;
        qint64 newConnections = 0;
        qint64 messages = 0;
        qint64 messagesIn = 0;
        qint64 messagesOut = 0;
        qint64 bytes = 0;
        qint64 requests = 0;
        qint64 errors = 0;
    };

    // Milliseconds since the epoch.
    using Clock = std::function<qint64()>;

    static constexpr int DefaultWindowSeconds = 300;
    static constexpr int DefaultFlushIntervalMs = 50;

    explicit StatsHistory(QObject *parent = nullptr);
    ~StatsHistory() override;

    int rowCount(const QModelIndex &parent = QModelIndex()) const override;
    int columnCount(const QModelIndex &parent = QModelIndex()) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation,
                        int role = Qt::DisplayRole) const override;

    // Buckets kept, at least 1. Shrinking drops the oldest rows now.
    int windowSeconds() const { return m_windowSeconds; }
    void setWindowSeconds(int seconds);
    int flushInterval() const { return m_flushTimer.interval(); }
    void setFlushInterval(int ms);

    // Starts over (clear()) on the new clock; an empty function restores the
    // system clock.
    void setClock(Clock nowMs);
    qint64 nowMs() const;

    // Takes a batch; connect Monitor::eventsPosted here (queued when the
    // server lives in another thread).
    void addEvents(const QList<sluice::MonitorEvent> &events);
    // Applies what is pending and advances the timeline to the clock's now.
    void flush();
    // Forgets buckets and totals; the timeline restarts at the current second.
    void clear();

    Bucket bucket(int row) const { return m_buckets.at(row); }
    qint64 value(int row, int column) const;

    // Since the start (construction, clear() or setClock()), old events
    // included.
    qint64 startedMs() const { return m_startedMs; }
    qint64 uptimeMs() const { return nowMs() - m_startedMs; }
    qint64 totalMessages() const { return m_totals.messages; }
    qint64 totalMessagesIn() const { return m_totals.messagesIn; }
    qint64 totalMessagesOut() const { return m_totals.messagesOut; }
    qint64 totalBytes() const { return m_totals.bytes; }
    qint64 totalConnections() const { return m_totals.newConnections; }
    qint64 totalRequests() const { return m_totals.requests; }
    qint64 totalErrors() const { return m_totals.errors; }
    qint64 openConnections() const { return m_totals.connections; }

Q_SIGNALS:
    // After a flush that changed a total or the open connection count.
    void totalsChanged();

private:
    struct Pending
    {
        Bucket delta;
        bool connectionsSet = false;
    };

    void advanceTo(qint64 second);
    void applyPending();
    void scheduleTick();
    qint64 nowSecond() const;

    QList<Bucket> m_buckets;
    QMap<qint64, Pending> m_pending; // by second, within the window
    Bucket m_pendingTotals;
    bool m_pendingTotalsChanged = false;
    Bucket m_totals; // connections: open now; newConnections: all accepted
    QSet<quint64> m_open;
    Clock m_clock;
    qint64 m_startedMs = 0;
    int m_windowSeconds = DefaultWindowSeconds;
    QTimer m_flushTimer;
    QTimer m_tickTimer;
};

} // namespace sluice

#endif // SLUICEUI_STATSHISTORY_H
