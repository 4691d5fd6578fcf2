#ifndef SLUICEUI_ROUTEMODEL_H
#define SLUICEUI_ROUTEMODEL_H

#include <sluice/monitorevent.h>

#include <QtCore/QAbstractTableModel>
#include <QtCore/QHash>
#include <QtCore/QList>
#include <QtCore/QPointer>
#include <QtCore/QSet>
#include <QtCore/QTimer>

namespace sluice {

class Router;

// A router's mapping as it is now, with live statistics from monitor events.
//
// Rows, in this order: each filter (kind "filter"), each route in route order
// (kind HTTP, WebSocket, forward or redirect; handler: the name it was mapped
// with, or the target of a forward or redirect), the fallback when there is
// one (kind "static", pattern "(fallback)"), and each mapped error status
// (kind "error", pattern the status, handler the uri or "handler"). The rows
// follow the router: routesChanged() is taken through a queued connection
// (the router may live in another thread) and the mapping re-read; rows that
// stay keep their place and their statistics, so a selection survives.
//
// Statistics, keyed by route key so that they survive changes to other routes
// (a route that is unmapped loses them, unless WebSockets on it are still
// live):
// - Hits: HTTP exchanges answered on the route, and WebSocket handshakes. An
//   exchange with no route and a status below 400 counts on the fallback row
//   (what else answers it is a filter, which cannot be told apart). On an
//   error row: responses with that status, whichever route gave them.
// - Live: WebSockets open on the route.
// - Errors: responses with a status of 500 or more, and WebSockets closed
//   with 1011 (server error) or 1006 (gone without a close frame).
// - p50, p99: over the durations of the last LatencySamples HTTP exchanges,
//   in milliseconds (nearest rank).
// Filter rows have no statistics.
//
// Events are taken in batches: addEvents() keeps the three kinds that matter
// (HttpExchange, WebSocketOpened, WebSocketClosed) and a timer applies them
// every flushInterval() ms with one dataChanged for the rows that changed.
// The pending queue holds at most pendingCapacity() events: reaching it
// applies them at once.
class RouteModel : public QAbstractTableModel
{
    Q_OBJECT
public:
    enum Column {
        PatternColumn,
        KindColumn,
        HandlerColumn,
        HitsColumn,
        LiveColumn,
        ErrorsColumn,
        P50Column,
        P99Column,
        ColumnCount
    };
    Q_ENUM(Column)
    enum Role {
        SortRole = Qt::UserRole, // numbers as numbers (latencies in ms)
        RowTypeRole, // int(RowType)
        RouteKeyRole, // the route key, filter pattern or status; empty for the fallback
    };
    Q_ENUM(Role)
    enum class RowType { Filter, Route, Fallback, Error };
    Q_ENUM(RowType)

    static constexpr int LatencySamples = 1024;
    static constexpr int DefaultPendingCapacity = 100000;
    static constexpr int DefaultFlushInterval = 50;

    explicit RouteModel(Router *router, QObject *parent = nullptr);
    ~RouteModel() override;

    Router *router() const;

    int rowCount(const QModelIndex &parent = QModelIndex()) const override;
    int columnCount(const QModelIndex &parent = QModelIndex()) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation,
                        int role = Qt::DisplayRole) const override;

    // The row of a filter pattern, a route key, the fallback (key ignored) or
    // an error status (key "404"); -1 when there is none.
    int rowOf(RowType type, const QString &key = QString()) const;

    int pendingCapacity() const { return m_pendingCapacity; }
    void setPendingCapacity(int events);
    int flushInterval() const { return m_flushTimer.interval(); }
    void setFlushInterval(int ms);

public Q_SLOTS:
    void addEvents(const QList<sluice::MonitorEvent> &events);
    // Applies what is pending now.
    void flush();
    // Re-reads the router now (routesChanged() does it too).
    void reload();
    // Forgets hits, errors and latencies; live counts stay, they are facts.
    void clearStats();

private:
    struct Row
    {
        RowType type = RowType::Route;
        QString key;
        QString kind;
        QString handler;
        QString toolTip;
        int status = 0;
    };
    struct Stats
    {
        qint64 hits = 0;
        qint64 live = 0;
        qint64 errors = 0;
        QList<qint64> samples; // ring of durations in µs
        qsizetype next = 0;
        double p50 = -1;
        double p99 = -1;
        bool samplesChanged = false;

        void addSample(qint64 us);
        void computePercentiles();
    };

    static bool sameRow(const Row &a, const Row &b) { return a.type == b.type && a.key == b.key; }
    QList<Row> readRouter() const;
    const Stats *statsOf(const Row &row) const;
    QVariant display(const Row &row, int column) const;
    QVariant sortValue(const Row &row, int column) const;
    QVariant toolTip(const Row &row, int column) const;
    void pruneStats();

    QPointer<Router> m_router;
    QList<Row> m_rows;
    // Route keys, the fallback under the empty key.
    QHash<QString, Stats> m_routeStats;
    QHash<int, Stats> m_errorStats;
    QList<MonitorEvent> m_pending;
    QTimer m_flushTimer;
    int m_pendingCapacity = DefaultPendingCapacity;
};

} // namespace sluice

#endif // SLUICEUI_ROUTEMODEL_H
