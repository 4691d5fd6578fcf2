#include <sluiceui/statshistory.h>

#include <QtCore/QDateTime>

#include <algorithm>

namespace sluice {

namespace {

// Floor division: an event a moment before the epoch belongs to second -1.
qint64 floorDiv(qint64 value, qint64 divisor)
{
    const qint64 quotient = value / divisor;
    return (value % divisor != 0 && (value < 0) != (divisor < 0)) ? quotient - 1 : quotient;
}

qint64 systemNowMs()
{
    return QDateTime::currentMSecsSinceEpoch();
}

void addCounts(StatsHistory::Bucket &to, const StatsHistory::Bucket &from)
{
    to.newConnections += from.newConnections;
    to.messages += from.messages;
    to.messagesIn += from.messagesIn;
    to.messagesOut += from.messagesOut;
    to.bytes += from.bytes;
    to.requests += from.requests;
    to.errors += from.errors;
}

bool isEmpty(const StatsHistory::Bucket &bucket)
{
    return bucket.newConnections == 0 && bucket.messages == 0 && bucket.bytes == 0
           && bucket.requests == 0 && bucket.errors == 0;
}

StatsHistory::Bucket makeBucket(qint64 second, qint64 connections)
{
    StatsHistory::Bucket bucket;
    bucket.second = second;
    bucket.connections = connections;
    return bucket;
}

} // namespace

StatsHistory::StatsHistory(QObject *parent)
    : QAbstractTableModel(parent)
    , m_clock(systemNowMs)
{
    m_flushTimer.setSingleShot(true);
    m_flushTimer.setInterval(DefaultFlushIntervalMs);
    connect(&m_flushTimer, &QTimer::timeout, this, &StatsHistory::flush);

    // Second boundaries need better than the coarse timer's 5 % slack.
    m_tickTimer.setSingleShot(true);
    m_tickTimer.setTimerType(Qt::PreciseTimer);
    connect(&m_tickTimer, &QTimer::timeout, this, [this] {
        flush();
        scheduleTick();
    });

    m_startedMs = nowMs();
    m_buckets.append(makeBucket(nowSecond(), 0));
    scheduleTick();
}

StatsHistory::~StatsHistory() = default;

int StatsHistory::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_buckets.size());
}

int StatsHistory::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

qint64 StatsHistory::value(int row, int column) const
{
    const Bucket &b = m_buckets.at(row);
    switch (Column(column)) {
    case TimeColumn:
        return b.second;
    case ConnectionsColumn:
        return b.connections;
    case NewConnectionsColumn:
        return b.newConnections;
    case MessagesColumn:
        return b.messages;
    case MessagesInColumn:
        return b.messagesIn;
    case MessagesOutColumn:
        return b.messagesOut;
    case BytesColumn:
        return b.bytes;
    case RequestsColumn:
        return b.requests;
    case ErrorsColumn:
        return b.errors;
    case ColumnCount:
        break;
    }
    return 0;
}

QVariant StatsHistory::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const int column = index.column();
    switch (role) {
    case Qt::DisplayRole:
        if (column == TimeColumn) {
            return QDateTime::fromSecsSinceEpoch(m_buckets.at(index.row()).second)
                    .toString(QStringLiteral("HH:mm:ss"));
        }
        return value(index.row(), column);
    case ValueRole:
        return value(index.row(), column);
    case Qt::ToolTipRole:
        if (column == TimeColumn) {
            return QDateTime::fromSecsSinceEpoch(m_buckets.at(index.row()).second)
                    .toString(Qt::ISODate);
        }
        return {};
    case Qt::TextAlignmentRole:
        return column == TimeColumn ? int(Qt::AlignLeft | Qt::AlignVCenter)
                                    : int(Qt::AlignRight | Qt::AlignVCenter);
    default:
        return {};
    }
}

QVariant StatsHistory::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    switch (Column(section)) {
    case TimeColumn:
        return tr("Time");
    case ConnectionsColumn:
        return tr("Connections");
    case NewConnectionsColumn:
        return tr("New connections");
    case MessagesColumn:
        return tr("Messages/s");
    case MessagesInColumn:
        return tr("Messages in/s");
    case MessagesOutColumn:
        return tr("Messages out/s");
    case BytesColumn:
        return tr("Bytes/s");
    case RequestsColumn:
        return tr("Requests/s");
    case ErrorsColumn:
        return tr("Errors/s");
    case ColumnCount:
        break;
    }
    return {};
}

void StatsHistory::setWindowSeconds(int seconds)
{
    seconds = std::max(1, seconds);
    if (seconds == m_windowSeconds)
        return;
    m_windowSeconds = seconds;
    const qint64 oldest = m_buckets.last().second - seconds + 1;
    const int drop
            = int(std::clamp<qint64>(oldest - m_buckets.first().second, 0, m_buckets.size() - 1));
    if (drop > 0) {
        beginRemoveRows({}, 0, drop - 1);
        m_buckets.remove(0, drop);
        endRemoveRows();
    }
}

void StatsHistory::setFlushInterval(int ms)
{
    m_flushTimer.setInterval(std::max(0, ms));
}

void StatsHistory::setClock(Clock nowMs)
{
    m_clock = nowMs ? std::move(nowMs) : Clock(systemNowMs);
    clear();
    scheduleTick();
}

qint64 StatsHistory::nowMs() const
{
    return m_clock();
}

qint64 StatsHistory::nowSecond() const
{
    return floorDiv(nowMs(), 1000);
}

void StatsHistory::addEvents(const QList<MonitorEvent> &events)
{
    using Type = MonitorEvent::Type;
    const qint64 now = nowSecond();
    const qint64 oldest = now - m_windowSeconds + 1;
    for (const MonitorEvent &event : events) {
        Bucket delta;
        bool connectionsChanged = false;
        switch (event.type) {
        case Type::ConnectionOpened:
            delta.newConnections = 1;
            if (!m_open.contains(event.connectionId)) {
                m_open.insert(event.connectionId);
                connectionsChanged = true;
            }
            break;
        case Type::ConnectionClosed:
            connectionsChanged = m_open.remove(event.connectionId);
            break;
        case Type::HttpExchange:
            delta.requests = 1;
            delta.errors = event.status >= 500 ? 1 : 0;
            delta.bytes = event.bytesIn + event.bytesOut;
            break;
        case Type::WebSocketMessage:
            if (event.opcode != MonitorEvent::Opcode::Text
                && event.opcode != MonitorEvent::Opcode::Binary) {
                continue;
            }
            delta.messages = 1;
            delta.messagesIn = event.direction == MonitorEvent::Direction::Incoming ? 1 : 0;
            delta.messagesOut = event.direction == MonitorEvent::Direction::Outgoing ? 1 : 0;
            delta.bytes = event.size;
            break;
        default:
            continue;
        }
        if (isEmpty(delta) && !connectionsChanged)
            continue;
        addCounts(m_pendingTotals, delta);
        m_pendingTotalsChanged = true;

        // Old events only count in the totals; keeping them out of the map
        // also bounds it by the window whatever times a batch carries.
        const qint64 second = floorDiv(event.timeUs, 1000000);
        if (second < oldest)
            continue;
        Pending &pending = m_pending[std::min(second, now)];
        addCounts(pending.delta, delta);
        if (connectionsChanged) {
            pending.delta.connections = m_open.size();
            pending.connectionsSet = true;
        }
    }
    if (m_pendingTotalsChanged && !m_flushTimer.isActive())
        m_flushTimer.start();
}

void StatsHistory::flush()
{
    m_flushTimer.stop();
    advanceTo(nowSecond());
    applyPending();
}

void StatsHistory::clear()
{
    m_flushTimer.stop();
    beginResetModel();
    m_pending.clear();
    m_pendingTotals = {};
    m_pendingTotalsChanged = false;
    // The connections still open are a fact about the server, not history.
    m_totals = {};
    m_totals.connections = m_open.size();
    m_startedMs = nowMs();
    m_buckets.clear();
    m_buckets.append(makeBucket(nowSecond(), m_totals.connections));
    endResetModel();
    Q_EMIT totalsChanged();
}

void StatsHistory::advanceTo(qint64 second)
{
    const Bucket last = m_buckets.last();
    // A clock that went back keeps the current bucket until it catches up.
    if (second <= last.second)
        return;
    const qint64 oldest = second - m_windowSeconds + 1;
    const int drop
            = int(std::clamp<qint64>(oldest - m_buckets.first().second, 0, m_buckets.size()));
    if (drop > 0) {
        beginRemoveRows({}, 0, drop - 1);
        m_buckets.remove(0, drop);
        endRemoveRows();
    }
    const qint64 from = std::max(last.second + 1, oldest);
    const int count = int(second - from + 1);
    const int row = int(m_buckets.size());
    beginInsertRows({}, row, row + count - 1);
    m_buckets.reserve(row + count);
    for (qint64 s = from; s <= second; ++s)
        m_buckets.append(makeBucket(s, last.connections));
    endInsertRows();
}

void StatsHistory::applyPending()
{
    const qint64 openNow = m_open.size();
    if (m_pending.isEmpty() && !m_pendingTotalsChanged && openNow == m_totals.connections)
        return;

    const qint64 last = m_buckets.last().second;
    const qint64 oldest = last - m_windowSeconds + 1;
    auto it = m_pending.lowerBound(oldest);

    // Late events from before the first bucket (but inside the window) get
    // their seconds back, so every row stays one contiguous second.
    if (it != m_pending.end() && it.key() < m_buckets.first().second) {
        const qint64 first = m_buckets.first().second;
        const int count = int(first - it.key());
        QList<Bucket> earlier;
        earlier.reserve(count);
        for (qint64 s = it.key(); s < first; ++s)
            earlier.append(makeBucket(s, m_buckets.first().connections));
        beginInsertRows({}, 0, count - 1);
        m_buckets = earlier + m_buckets;
        endInsertRows();
    }

    const qint64 first = m_buckets.first().second;
    const int lastRow = int(m_buckets.size()) - 1;
    int minRow = lastRow + 1;
    int maxRow = -1;
    auto touch = [&](int row) {
        minRow = std::min(minRow, row);
        maxRow = std::max(maxRow, row);
    };
    for (; it != m_pending.end(); ++it) {
        const int row = it.key() > last ? lastRow : int(it.key() - first);
        const Pending &pending = it.value();
        if (!isEmpty(pending.delta)) {
            addCounts(m_buckets[row], pending.delta);
            touch(row);
        }
        // The count holds from that second on, until a later change.
        if (pending.connectionsSet) {
            for (int r = row; r <= lastRow; ++r) {
                if (m_buckets[r].connections != pending.delta.connections) {
                    m_buckets[r].connections = pending.delta.connections;
                    touch(r);
                }
            }
        }
    }
    // Events applied out of time order could leave a stale count at the end;
    // the current second always shows what is open now.
    if (m_buckets[lastRow].connections != openNow) {
        m_buckets[lastRow].connections = openNow;
        touch(lastRow);
    }
    m_pending.clear();
    if (maxRow >= 0)
        Q_EMIT dataChanged(index(minRow, ConnectionsColumn), index(maxRow, ColumnCount - 1));

    const bool totalsChanged = m_pendingTotalsChanged || openNow != m_totals.connections;
    addCounts(m_totals, m_pendingTotals);
    m_totals.connections = openNow;
    m_pendingTotals = {};
    m_pendingTotalsChanged = false;
    if (totalsChanged)
        Q_EMIT this->totalsChanged();
}

void StatsHistory::scheduleTick()
{
    // Fire just past the next second boundary of the clock; the floor keeps a
    // clock parked on x.999 (a test's) from spinning the timer.
    const qint64 intoSecond = nowMs() - floorDiv(nowMs(), 1000) * 1000;
    m_tickTimer.start(int(std::max<qint64>(20, 1000 - intoSecond + 5)));
}

} // namespace sluice
