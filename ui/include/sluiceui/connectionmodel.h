#ifndef SLUICEUI_CONNECTIONMODEL_H
#define SLUICEUI_CONNECTIONMODEL_H

#include <sluice/monitorevent.h>

#include <QtCore/QAbstractTableModel>
#include <QtCore/QHash>
#include <QtCore/QList>
#include <QtCore/QSet>
#include <QtCore/QTimer>

#include <memory>
#include <vector>

namespace sluice {

// The server's live connections, one row each, built from monitor events.
//
// ConnectionOpened adds a row; HttpExchange makes it an HTTP connection
// (route and target of the last request; Messages in/out count requests and
// responses, Bytes in/out what they took on the wire); WebSocketOpened makes
// it a WebSocket (route, target, subprotocol; counts start again from zero);
// WebSocketMessage counts data messages (text and binary) in the Messages
// columns, while control frames (ping, pong, close) are counted apart and
// shown in the tooltip; every frame's payload counts in the Bytes columns, as
// the core counts them. WebSocketClosed marks the row "closing" with its close
// code and takes the core's final counts; ConnectionClosed removes the row
// (the core posts it after WebSocketClosed too). A connection first seen
// through HttpExchange or WebSocketOpened (the model was attached late, or
// cleared) gets its row then.
//
// Events are taken in batches: addEvents() queues them, and a timer applies
// them every flushInterval() ms, emitting one dataChanged for the rows that
// changed, removals as one beginRemoveRows per run of adjacent rows, and one
// beginInsertRows for the connections that opened. A connection that opens
// and closes within one tick never shows up. The pending queue holds at most
// pendingCapacity() events: reaching it applies them at once, so no event is
// lost. The Duration column is refreshed once a second (one dataChanged for
// the column) while there are rows.
//
// At most capacity() connections are shown (default 100 000). Connections
// that open past it are not shown at all, not even once others close:
// hiddenCount() says how many of them are live now, droppedCount() how many
// there have been since the last clear().
//
// Roles: DisplayRole (text; counts as numbers), ToolTipRole, TextAlignmentRole
// (numbers to the right), SortRole (numbers as numbers, times in µs, for
// QSortFilterProxyModel::setSortRole), ConnectionIdRole and KindRole (any
// column).
class ConnectionModel : public QAbstractTableModel
{
    Q_OBJECT
public:
    enum Column {
        IdColumn,
        PeerColumn,
        RouteColumn,
        KindColumn,
        SubprotocolColumn,
        OpenedColumn,
        DurationColumn,
        MessagesInColumn,
        MessagesOutColumn,
        BytesInColumn,
        BytesOutColumn,
        StateColumn,
        ColumnCount
    };
    Q_ENUM(Column)
    enum Role {
        SortRole = Qt::UserRole,
        ConnectionIdRole, // quint64
        KindRole, // int(Kind)
    };
    Q_ENUM(Role)
    // Unknown: no request answered yet.
    enum class Kind { Unknown, Http, WebSocket };
    Q_ENUM(Kind)

    static constexpr int DefaultCapacity = 100000;
    static constexpr int DefaultPendingCapacity = 100000;
    static constexpr int DefaultFlushInterval = 50;

    explicit ConnectionModel(QObject *parent = nullptr);
    ~ConnectionModel() override;

    int rowCount(const QModelIndex &parent = QModelIndex()) const override;
    int columnCount(const QModelIndex &parent = QModelIndex()) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation,
                        int role = Qt::DisplayRole) const override;

    // The row of a connection, or -1 when it is not shown.
    int rowOf(quint64 connectionId) const;
    quint64 connectionId(int row) const;
    // Connections shown.
    int connectionCount() const { return int(m_rows.size()); }
    // Live connections not shown because of the cap.
    int hiddenCount() const { return int(m_hidden.size()); }
    quint64 droppedCount() const { return m_dropped; }

    int capacity() const { return m_capacity; }
    // Applies to connections that open from now on: rows already shown stay.
    void setCapacity(int connections);
    int pendingCapacity() const { return m_pendingCapacity; }
    void setPendingCapacity(int events);
    int flushInterval() const { return m_flushTimer.interval(); }
    void setFlushInterval(int ms);

    static QString kindName(Kind kind);

public Q_SLOTS:
    void addEvents(const QList<sluice::MonitorEvent> &events);
    // Applies what is pending now.
    void flush();
    // Forgets every row, the hidden connections, what is pending and the
    // dropped count. Connections still open come back on their next
    // exchange or WebSocket handshake.
    void clear();

Q_SIGNALS:
    void droppedCountChanged(quint64 dropped);

private:
    struct Connection
    {
        quint64 id = 0;
        QString peer;
        QString route;
        QString target;
        QString subprotocol;
        QString closeReason;
        QByteArray lastMethod;
        qint64 openedUs = 0;
        qint64 closedUs = 0; // WebSocketClosed: the duration stops
        qint64 messagesIn = 0;
        qint64 messagesOut = 0;
        qint64 controlIn = 0;
        qint64 controlOut = 0;
        qint64 bytesIn = 0;
        qint64 bytesOut = 0;
        int lastStatus = 0;
        int closeCode = 0;
        Kind kind = Kind::Unknown;
        bool closing = false;
        bool gone = false; // closed before it was shown
    };

    static Connection newConnection(const MonitorEvent &event);
    static void apply(Connection &connection, const MonitorEvent &event);
    QVariant display(const Connection &connection, int column) const;
    QVariant sortValue(const Connection &connection, int column) const;
    QVariant toolTip(const Connection &connection, int column) const;
    qint64 durationUs(const Connection &connection) const;
    void rebuildIndex(size_t from) const;
    void updateDurationTimer();
    void refreshDurations();

    // Pointers: removing rows from the middle moves 8 bytes a row, not a row.
    std::vector<std::unique_ptr<Connection>> m_rows;
    // May be stale after removals: rowOf() checks and rebuilds.
    mutable QHash<quint64, int> m_rowOf;
    QSet<quint64> m_hidden;
    QList<MonitorEvent> m_pending;
    QTimer m_flushTimer;
    QTimer m_durationTimer;
    quint64 m_dropped = 0;
    int m_capacity = DefaultCapacity;
    int m_pendingCapacity = DefaultPendingCapacity;
    bool m_flushing = false;
};

} // namespace sluice

#endif // SLUICEUI_CONNECTIONMODEL_H
