#ifndef SLUICEUI_TRAFFICMODEL_H
#define SLUICEUI_TRAFFICMODEL_H

#include <sluice/monitorevent.h>

#include <QtCore/QAbstractTableModel>
#include <QtCore/QList>

#include <memory>

QT_BEGIN_NAMESPACE
class QIODevice;
QT_END_NAMESPACE

namespace sluice {

// The monitor window's message traffic: one row per HTTP exchange, per
// WebSocket message (text, binary, ping, pong, close, both directions) and
// per WebSocket opened and closed. Other monitor events are ignored.
//
// Built for high rates. addEvents() only queues; a timer (flushInterval(),
// 50 ms by default) applies the queue with one insert per tick. Rows live in
// a ring of capacity() rows (100 000 by default): past it the oldest go, one
// removal at the front per flush, and droppedCount() says how many. The
// queue is bounded by the same capacity, its oldest dropped and counted too.
//
// The filter is the model's own: only rows that pass it are exposed (an
// index vector into the ring, no proxy model). Changing it resets the
// model; new rows are filtered as they arrive.
//
// Directions are the server's: Incoming is what the client sent, Outgoing
// what the server sent. All calls belong to the model's thread; connect
// Monitor::eventsPosted to addEvents() (queued when the monitor lives
// elsewhere).
class TrafficModel : public QAbstractTableModel
{
    Q_OBJECT
public:
    enum Column {
        TimeColumn, // HH:MM:SS.mmm, local time
        ConnectionColumn, // connection id
        DirectionColumn, // "↑" out, "↓" in, "" for the rest
        TypeColumn, // text, binary, ping, pong, close, HTTP, open, closed
        SizeColumn, // message bytes before capping; HTTP: response bytes
        PreviewColumn, // the start of the payload; HTTP: "GET /path → 200"
        ColumnCount
    };
    Q_ENUM(Column)

    enum Role {
        EventRole = Qt::UserRole + 1, // the MonitorEvent as a QVariant
        PayloadRole, // QByteArray: the payload as stored (maybe capped)
        ConnectionIdRole, // quint64
        DirectionRole, // int(MonitorEvent::Direction)
        TypeRole, // int(RowType)
    };
    Q_ENUM(Role)

    enum class RowType : quint8 { Http, Open, Text, Binary, Ping, Pong, Close, Closed };
    Q_ENUM(RowType)

    // Incoming and Outgoing show only messages of that direction (HTTP,
    // open and closed rows have none and are hidden).
    enum class DirectionFilter : quint8 { Both, Incoming, Outgoing };
    Q_ENUM(DirectionFilter)

    static constexpr int DefaultCapacity = 100000;
    static constexpr qint64 DefaultPayloadBudget = 64 * 1024 * 1024;
    static constexpr int DefaultFlushInterval = 50;
    static constexpr int PreviewLength = 100;

    explicit TrafficModel(QObject *parent = nullptr);
    ~TrafficModel() override;

    int rowCount(const QModelIndex &parent = QModelIndex()) const override;
    int columnCount(const QModelIndex &parent = QModelIndex()) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation,
                        int role = Qt::DisplayRole) const override;
    QHash<int, QByteArray> roleNames() const override;

    // The event behind a visible row.
    MonitorEvent event(int row) const;
    RowType rowType(int row) const;
    static QString typeName(RowType type);

    // Rows kept, whether the filter shows them or not.
    int storedCount() const;
    // Events queued for the next flush.
    int pendingCount() const;

    int capacity() const;
    // At least one row. Shrinking drops the oldest rows now (counted).
    void setCapacity(int rows);
    int flushInterval() const;
    void setFlushInterval(int ms);

    // The payloads kept (each already capped by the monitor) add up to at
    // most this many bytes (default 64 MiB): past it the oldest rows go,
    // counted as dropped, though the newest row always stays. With the
    // row capacity this bounds the model's memory whatever the message size.
    qint64 payloadBudget() const;
    void setPayloadBudget(qint64 bytes);
    qint64 storedPayloadBytes() const;
    // Rows (and queued events) lost to the capacity or the payload budget
    // since the last clear().
    quint64 droppedCount() const;
    // Events that arrived while paused and were discarded, since clear().
    quint64 missedCount() const;

    bool isPaused() const;
    // Pausing applies what was queued before, then discards what comes.
    void setPaused(bool paused);

    // Matched against the whole stored payload (not just the preview),
    // the HTTP method and target, the WebSocket target, close reason and
    // subprotocol. Empty: no text filter. An invalid regex is reported by
    // isFilterValid() and filterError() and leaves the text part off.
    void setTextFilter(const QString &text, bool regex = false,
                       Qt::CaseSensitivity sensitivity = Qt::CaseInsensitive);
    QString textFilter() const;
    bool isTextFilterRegex() const;
    Qt::CaseSensitivity textFilterCaseSensitivity() const;
    bool isFilterValid() const;
    QString filterError() const;

    void setDirectionFilter(DirectionFilter direction);
    DirectionFilter directionFilter() const;
    // 0 shows every connection.
    void setConnectionFilter(quint64 connectionId);
    quint64 connectionFilter() const;
    // Shows only rows of these types; empty shows every type.
    void setTypeFilter(const QList<RowType> &types);
    QList<RowType> typeFilter() const;
    // Hides ping, pong and close frames.
    void setHideControlFrames(bool hide);
    bool hidesControlFrames() const;

    // One compact JSON object per visible row, oldest first: time (ISO
    // 8601, UTC), connection, direction ("in", "out" or ""), type, size;
    // messages add payload, payloadEncoding ("text" or "base64") and
    // truncated; HTTP adds method, target, status, durationMs; open and
    // closed add target (and subprotocol, or closeCode and reason).
    bool exportJsonLines(QIODevice *device) const;
    // A HAR 1.2 document of the visible rows: an entry per HTTP exchange
    // and one per WebSocket connection, with "_resourceType": "websocket"
    // and "_webSocketMessages" as Chrome's DevTools writes them. HAR takes
    // the client's side, so "send" is what the server received. A
    // connection whose open row is gone (dropped) still gets its entry.
    bool exportHar(QIODevice *device) const;

public Q_SLOTS:
    void addEvents(const QList<sluice::MonitorEvent> &events);
    // Applies the queued events now.
    void flush();
    // Removes every row and queued event, and zeroes both counts.
    void clear();

Q_SIGNALS:
    void droppedCountChanged(quint64 count);
    void missedCountChanged(quint64 count);
    void pausedChanged(bool paused);
    void filterChanged();

private:
    struct Private;
    void rebuildFilter();
    void dropOldest(qsizetype rows);
    qsizetype rowsOverBudget() const;

    std::unique_ptr<Private> d;
};

} // namespace sluice

#endif // SLUICEUI_TRAFFICMODEL_H
