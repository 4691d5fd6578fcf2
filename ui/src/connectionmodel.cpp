#include <sluiceui/connectionmodel.h>

#include <QtCore/QDateTime>
#include <QtCore/QLocale>
#include <QtNetwork/QHostAddress>

#include <algorithm>
#include <functional>
#include <utility>

namespace sluice {

namespace {

using Type = MonitorEvent::Type;

QString peerText(const QHostAddress &address, quint16 port)
{
    if (address.isNull())
        return QString();
    // A dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d.
    bool isV4 = false;
    const quint32 v4 = address.toIPv4Address(&isV4);
    if (isV4)
        return QStringLiteral("%1:%2").arg(QHostAddress(v4).toString()).arg(port);
    return QStringLiteral("[%1]:%2").arg(address.toString()).arg(port);
}

QString durationText(qint64 us)
{
    const qint64 seconds = qMax<qint64>(0, us / 1000000);
    if (seconds < 60)
        return QStringLiteral("%1s").arg(seconds);
    const qint64 minutes = seconds / 60;
    if (minutes < 60)
        return QStringLiteral("%1m %2s").arg(minutes).arg(seconds % 60, 2, 10, QLatin1Char('0'));
    return QStringLiteral("%1h %2m %3s")
            .arg(minutes / 60)
            .arg(minutes % 60, 2, 10, QLatin1Char('0'))
            .arg(seconds % 60, 2, 10, QLatin1Char('0'));
}

QDateTime timeOf(qint64 us)
{
    return QDateTime::fromMSecsSinceEpoch(us / 1000);
}

bool isNumberColumn(int column)
{
    switch (column) {
    case ConnectionModel::IdColumn:
    case ConnectionModel::DurationColumn:
    case ConnectionModel::MessagesInColumn:
    case ConnectionModel::MessagesOutColumn:
    case ConnectionModel::BytesInColumn:
    case ConnectionModel::BytesOutColumn:
        return true;
    default:
        return false;
    }
}

} // namespace

ConnectionModel::ConnectionModel(QObject *parent)
    : QAbstractTableModel(parent)
{
    m_flushTimer.setSingleShot(true);
    m_flushTimer.setInterval(DefaultFlushInterval);
    connect(&m_flushTimer, &QTimer::timeout, this, &ConnectionModel::flush);
    m_durationTimer.setInterval(1000);
    connect(&m_durationTimer, &QTimer::timeout, this, &ConnectionModel::refreshDurations);
}

ConnectionModel::~ConnectionModel() = default;

int ConnectionModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int ConnectionModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant ConnectionModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return QVariant();
    const Connection &connection = *m_rows[size_t(index.row())];
    switch (role) {
    case Qt::DisplayRole:
        return display(connection, index.column());
    case Qt::ToolTipRole:
        return toolTip(connection, index.column());
    case Qt::TextAlignmentRole:
        return isNumberColumn(index.column()) ? int(Qt::AlignRight | Qt::AlignVCenter)
                                              : int(Qt::AlignLeft | Qt::AlignVCenter);
    case SortRole:
        return sortValue(connection, index.column());
    case ConnectionIdRole:
        return QVariant::fromValue(connection.id);
    case KindRole:
        return int(connection.kind);
    default:
        return QVariant();
    }
}

QVariant ConnectionModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || section < 0 || section >= ColumnCount)
        return QVariant();
    if (role == Qt::TextAlignmentRole)
        return isNumberColumn(section) ? int(Qt::AlignRight | Qt::AlignVCenter)
                                       : int(Qt::AlignLeft | Qt::AlignVCenter);
    if (role != Qt::DisplayRole && role != Qt::ToolTipRole)
        return QVariant();
    switch (section) {
    case IdColumn:
        return tr("Id");
    case PeerColumn:
        return tr("Peer");
    case RouteColumn:
        return tr("Route");
    case KindColumn:
        return tr("Kind");
    case SubprotocolColumn:
        return tr("Subprotocol");
    case OpenedColumn:
        return tr("Opened");
    case DurationColumn:
        return tr("Duration");
    case MessagesInColumn:
        return role == Qt::ToolTipRole ? tr("Data messages (HTTP: requests) received")
                                       : tr("Messages in");
    case MessagesOutColumn:
        return role == Qt::ToolTipRole ? tr("Data messages (HTTP: responses) sent")
                                       : tr("Messages out");
    case BytesInColumn:
        return tr("Bytes in");
    case BytesOutColumn:
        return tr("Bytes out");
    case StateColumn:
        return tr("State");
    }
    return QVariant();
}

QString ConnectionModel::kindName(Kind kind)
{
    switch (kind) {
    case Kind::Http:
        return QStringLiteral("HTTP");
    case Kind::WebSocket:
        return QStringLiteral("WebSocket");
    case Kind::Unknown:
        break;
    }
    return QString();
}

qint64 ConnectionModel::durationUs(const Connection &connection) const
{
    const qint64 end = connection.closedUs ? connection.closedUs : MonitorEvent::now();
    return qMax<qint64>(0, end - connection.openedUs);
}

QVariant ConnectionModel::display(const Connection &connection, int column) const
{
    switch (column) {
    case IdColumn:
        // As text: a delegate would group the digits of a number.
        return QString::number(connection.id);
    case PeerColumn:
        return connection.peer;
    case RouteColumn:
        return connection.route;
    case KindColumn:
        return kindName(connection.kind);
    case SubprotocolColumn:
        return connection.subprotocol;
    case OpenedColumn:
        return timeOf(connection.openedUs).toString(QStringLiteral("HH:mm:ss"));
    case DurationColumn:
        return durationText(durationUs(connection));
    case MessagesInColumn:
        return connection.messagesIn;
    case MessagesOutColumn:
        return connection.messagesOut;
    case BytesInColumn:
        return QLocale().formattedDataSize(connection.bytesIn);
    case BytesOutColumn:
        return QLocale().formattedDataSize(connection.bytesOut);
    case StateColumn:
        if (!connection.closing)
            return tr("open");
        if (connection.closeCode)
            return tr("closing (%1)").arg(connection.closeCode);
        return tr("closing");
    }
    return QVariant();
}

QVariant ConnectionModel::sortValue(const Connection &connection, int column) const
{
    switch (column) {
    case IdColumn:
        return connection.id;
    case OpenedColumn:
        return connection.openedUs;
    case DurationColumn:
        return durationUs(connection);
    case BytesInColumn:
        return connection.bytesIn;
    case BytesOutColumn:
        return connection.bytesOut;
    case KindColumn:
        return int(connection.kind);
    default:
        return display(connection, column);
    }
}

QVariant ConnectionModel::toolTip(const Connection &connection, int column) const
{
    const QLocale locale;
    switch (column) {
    case IdColumn:
        return tr("Connection %1").arg(connection.id);
    case PeerColumn:
        return connection.peer;
    case RouteColumn:
    case KindColumn: {
        QString text;
        if (connection.kind == Kind::Http) {
            text = tr("Last request: %1 %2 → %3")
                           .arg(QString::fromLatin1(connection.lastMethod), connection.target)
                           .arg(connection.lastStatus);
        } else if (connection.kind == Kind::WebSocket) {
            text = tr("WebSocket on %1").arg(connection.target);
        } else {
            return tr("No request answered yet");
        }
        if (!connection.route.isEmpty())
            text += QLatin1Char('\n') + tr("Route: %1").arg(connection.route);
        return text;
    }
    case SubprotocolColumn:
        return connection.subprotocol;
    case OpenedColumn:
        return timeOf(connection.openedUs).toString(QStringLiteral("yyyy-MM-dd HH:mm:ss.zzz"));
    case DurationColumn:
        return tr("%1 s").arg(locale.toString(double(durationUs(connection)) / 1e6, 'f', 3));
    case MessagesInColumn:
    case MessagesOutColumn: {
        const bool in = column == MessagesInColumn;
        const qint64 messages = in ? connection.messagesIn : connection.messagesOut;
        if (connection.kind == Kind::Http)
            return in ? tr("%n request(s)", nullptr, int(messages))
                      : tr("%n response(s)", nullptr, int(messages));
        const qint64 control = in ? connection.controlIn : connection.controlOut;
        return tr("%1 data messages (text and binary), %2 control frames (ping, pong, close)")
                .arg(locale.toString(messages), locale.toString(control));
    }
    case BytesInColumn:
        return tr("%1 bytes").arg(locale.toString(connection.bytesIn));
    case BytesOutColumn:
        return tr("%1 bytes").arg(locale.toString(connection.bytesOut));
    case StateColumn:
        if (!connection.closing)
            return tr("Open");
        if (connection.closeReason.isEmpty())
            return tr("Closing with code %1").arg(connection.closeCode);
        return tr("Closing with code %1: %2").arg(connection.closeCode).arg(connection.closeReason);
    }
    return QVariant();
}

int ConnectionModel::rowOf(quint64 connectionId) const
{
    auto it = m_rowOf.constFind(connectionId);
    if (it == m_rowOf.constEnd())
        return -1;
    if (size_t(*it) < m_rows.size() && m_rows[size_t(*it)]->id == connectionId)
        return *it;
    // Asked while rows were being removed: the index lags until the flush ends.
    rebuildIndex(0);
    it = m_rowOf.constFind(connectionId);
    return it == m_rowOf.constEnd() ? -1 : *it;
}

quint64 ConnectionModel::connectionId(int row) const
{
    return row >= 0 && size_t(row) < m_rows.size() ? m_rows[size_t(row)]->id : 0;
}

void ConnectionModel::rebuildIndex(size_t from) const
{
    for (size_t row = from; row < m_rows.size(); ++row)
        m_rowOf.insert(m_rows[row]->id, int(row));
}

void ConnectionModel::setCapacity(int connections)
{
    m_capacity = qMax(0, connections);
}

void ConnectionModel::setPendingCapacity(int events)
{
    m_pendingCapacity = qMax(1, events);
    if (m_pending.size() >= m_pendingCapacity)
        flush();
}

void ConnectionModel::setFlushInterval(int ms)
{
    m_flushTimer.setInterval(qMax(0, ms));
}

void ConnectionModel::addEvents(const QList<MonitorEvent> &events)
{
    for (const MonitorEvent &event : events) {
        switch (event.type) {
        case Type::ConnectionOpened:
        case Type::ConnectionClosed:
        case Type::HttpExchange:
        case Type::WebSocketOpened:
        case Type::WebSocketMessage:
        case Type::WebSocketClosed:
            m_pending.append(event);
            if (m_pending.size() >= m_pendingCapacity)
                flush();
            break;
        default:
            break;
        }
    }
    if (!m_pending.isEmpty() && !m_flushTimer.isActive())
        m_flushTimer.start();
}

ConnectionModel::Connection ConnectionModel::newConnection(const MonitorEvent &event)
{
    Connection connection;
    connection.id = event.connectionId;
    connection.peer = peerText(event.peerAddress, event.peerPort);
    connection.openedUs = event.timeUs;
    return connection;
}

void ConnectionModel::apply(Connection &connection, const MonitorEvent &event)
{
    switch (event.type) {
    case Type::HttpExchange:
        connection.kind = Kind::Http;
        connection.route = event.route;
        connection.target = event.target;
        connection.lastMethod = event.method;
        connection.lastStatus = event.status;
        ++connection.messagesIn;
        ++connection.messagesOut;
        connection.bytesIn += event.bytesIn;
        connection.bytesOut += event.bytesOut;
        break;
    case Type::WebSocketOpened:
        connection.kind = Kind::WebSocket;
        connection.route = event.route;
        connection.target = event.target;
        connection.subprotocol = event.reason;
        // From here on the columns count WebSocket traffic, as the core does.
        connection.messagesIn = connection.messagesOut = 0;
        connection.controlIn = connection.controlOut = 0;
        connection.bytesIn = connection.bytesOut = 0;
        break;
    case Type::WebSocketMessage: {
        if (connection.kind != Kind::WebSocket) {
            connection.kind = Kind::WebSocket;
            if (connection.route.isEmpty())
                connection.route = event.route;
        }
        const bool data = !event.isControlFrame();
        if (event.direction == MonitorEvent::Direction::Incoming) {
            (data ? connection.messagesIn : connection.controlIn) += 1;
            connection.bytesIn += event.size;
        } else if (event.direction == MonitorEvent::Direction::Outgoing) {
            (data ? connection.messagesOut : connection.controlOut) += 1;
            connection.bytesOut += event.size;
        }
        break;
    }
    case Type::WebSocketClosed:
        connection.kind = Kind::WebSocket;
        connection.closing = true;
        connection.closeCode = event.closeCode;
        connection.closeReason = event.reason;
        connection.closedUs = event.timeUs;
        // The core's own counts: right even if the monitor dropped messages.
        connection.messagesIn = event.messagesIn;
        connection.messagesOut = event.messagesOut;
        connection.bytesIn = event.bytesIn;
        connection.bytesOut = event.bytesOut;
        break;
    default:
        break;
    }
}

void ConnectionModel::flush()
{
    // A receiver of our signals that feeds us more waits for the next tick.
    if (m_flushing)
        return;
    m_flushTimer.stop();
    if (m_pending.isEmpty())
        return;
    m_flushing = true;
    const QList<MonitorEvent> events = std::exchange(m_pending, {});

    QList<Connection> added;
    QHash<quint64, qsizetype> addedIndex;
    QList<int> closedRows;
    QSet<quint64> closedIds;
    int firstChanged = int(m_rows.size());
    int lastChanged = -1;
    const quint64 droppedBefore = m_dropped;

    for (const MonitorEvent &event : events) {
        const quint64 id = event.connectionId;
        const bool closes = event.type == Type::ConnectionClosed;
        if (const auto it = m_rowOf.constFind(id); it != m_rowOf.constEnd()) {
            const int row = *it;
            if (closedIds.contains(id))
                continue;
            if (closes) {
                closedIds.insert(id);
                closedRows.append(row);
                continue;
            }
            apply(*m_rows[size_t(row)], event);
            firstChanged = qMin(firstChanged, row);
            lastChanged = qMax(lastChanged, row);
            continue;
        }
        if (const auto it = addedIndex.constFind(id); it != addedIndex.constEnd()) {
            Connection &connection = added[*it];
            if (closes) {
                connection.gone = true;
                closedIds.insert(id);
                addedIndex.erase(it);
            } else {
                apply(connection, event);
            }
            continue;
        }
        if (m_hidden.contains(id)) {
            if (closes)
                m_hidden.remove(id);
            continue;
        }
        switch (event.type) {
        case Type::ConnectionOpened:
        case Type::HttpExchange:
        case Type::WebSocketOpened:
            // Opened before we listened, or cleared since: the exchange and the
            // handshake carry the peer too.
            if (closedIds.contains(id))
                break;
            addedIndex.insert(id, added.size());
            added.append(newConnection(event));
            apply(added.last(), event);
            break;
        default:
            break;
        }
    }

    // Signals go out in an order in which each one describes the model as it
    // is: first the updates (rows still where they were), then the removals,
    // then the new rows at the end.
    if (lastChanged >= firstChanged)
        Q_EMIT dataChanged(index(firstChanged, 0), index(lastChanged, ColumnCount - 1));

    if (!closedRows.isEmpty()) {
        std::sort(closedRows.begin(), closedRows.end(), std::greater<int>());
        qsizetype i = 0;
        while (i < closedRows.size()) {
            const int last = closedRows.at(i);
            int first = last;
            while (i + 1 < closedRows.size() && closedRows.at(i + 1) == first - 1) {
                ++i;
                --first;
            }
            ++i;
            beginRemoveRows(QModelIndex(), first, last);
            for (int row = first; row <= last; ++row)
                m_rowOf.remove(m_rows[size_t(row)]->id);
            m_rows.erase(m_rows.begin() + first, m_rows.begin() + last + 1);
            endRemoveRows();
        }
        rebuildIndex(size_t(closedRows.last()));
    }

    added.removeIf([](const Connection &connection) { return connection.gone; });
    if (!added.isEmpty()) {
        const qsizetype room = qMax<qsizetype>(0, m_capacity - qsizetype(m_rows.size()));
        if (added.size() > room) {
            for (qsizetype i = room; i < added.size(); ++i)
                m_hidden.insert(added.at(i).id);
            m_dropped += quint64(added.size() - room);
            added.resize(room);
        }
        if (!added.isEmpty()) {
            const int first = int(m_rows.size());
            beginInsertRows(QModelIndex(), first, first + int(added.size()) - 1);
            for (Connection &connection : added)
                m_rows.push_back(std::make_unique<Connection>(std::move(connection)));
            rebuildIndex(size_t(first));
            endInsertRows();
        }
    }
    m_flushing = false;
    if (m_dropped != droppedBefore)
        Q_EMIT droppedCountChanged(m_dropped);
    updateDurationTimer();
    if (!m_pending.isEmpty() && !m_flushTimer.isActive())
        m_flushTimer.start();
}

void ConnectionModel::clear()
{
    if (m_flushing) {
        // Called by a receiver of the flush's signals: rows are being moved.
        QMetaObject::invokeMethod(this, &ConnectionModel::clear, Qt::QueuedConnection);
        return;
    }
    m_flushTimer.stop();
    m_pending.clear();
    beginResetModel();
    m_rows.clear();
    m_rowOf.clear();
    m_hidden.clear();
    endResetModel();
    updateDurationTimer();
    if (m_dropped) {
        m_dropped = 0;
        Q_EMIT droppedCountChanged(0);
    }
}

void ConnectionModel::updateDurationTimer()
{
    if (m_rows.empty())
        m_durationTimer.stop();
    else if (!m_durationTimer.isActive())
        m_durationTimer.start();
}

void ConnectionModel::refreshDurations()
{
    if (m_rows.empty()) {
        m_durationTimer.stop();
        return;
    }
    Q_EMIT dataChanged(index(0, DurationColumn), index(int(m_rows.size()) - 1, DurationColumn),
                       {Qt::DisplayRole, Qt::ToolTipRole, SortRole});
}

} // namespace sluice
