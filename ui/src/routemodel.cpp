#include <sluiceui/routemodel.h>

#include <sluice/route.h>
#include <sluice/router.h>

#include <QtCore/QLocale>

#include <algorithm>
#include <cmath>
#include <utility>

namespace sluice {

namespace {

using Type = MonitorEvent::Type;

bool isNumberColumn(int column)
{
    return column >= RouteModel::HitsColumn && column <= RouteModel::P99Column;
}

QString millisecondsText(double ms)
{
    return QLocale().toString(ms, 'f', ms < 10 ? 2 : 1);
}

} // namespace

void RouteModel::Stats::addSample(qint64 us)
{
    if (samples.size() < LatencySamples) {
        samples.append(us);
    } else {
        samples[next] = us;
        next = (next + 1) % LatencySamples;
    }
    samplesChanged = true;
}

void RouteModel::Stats::computePercentiles()
{
    samplesChanged = false;
    if (samples.isEmpty()) {
        p50 = p99 = -1;
        return;
    }
    QList<qint64> sorted = samples;
    // Nearest rank: the smallest sample with at least p% of them at or below it.
    const auto rank = [&sorted](double p) {
        const qsizetype n = sorted.size();
        const qsizetype k = qBound<qsizetype>(0, qsizetype(std::ceil(p * double(n))) - 1, n - 1);
        std::nth_element(sorted.begin(), sorted.begin() + k, sorted.end());
        return double(sorted.at(k)) / 1000.0;
    };
    p50 = rank(0.50);
    p99 = rank(0.99);
}

RouteModel::RouteModel(Router *router, QObject *parent)
    : QAbstractTableModel(parent)
    , m_router(router)
{
    m_flushTimer.setSingleShot(true);
    m_flushTimer.setInterval(DefaultFlushInterval);
    connect(&m_flushTimer, &QTimer::timeout, this, &RouteModel::flush);
    if (router) {
        // The router may live in another thread; its getters are thread-safe.
        connect(router, &Router::routesChanged, this, &RouteModel::reload, Qt::QueuedConnection);
        connect(router, &QObject::destroyed, this, &RouteModel::reload, Qt::QueuedConnection);
    }
    reload();
}

RouteModel::~RouteModel() = default;

Router *RouteModel::router() const
{
    return m_router;
}

int RouteModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int RouteModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant RouteModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return QVariant();
    const Row &row = m_rows.at(index.row());
    switch (role) {
    case Qt::DisplayRole:
        return display(row, index.column());
    case Qt::ToolTipRole:
        return toolTip(row, index.column());
    case Qt::TextAlignmentRole:
        return isNumberColumn(index.column()) ? int(Qt::AlignRight | Qt::AlignVCenter)
                                              : int(Qt::AlignLeft | Qt::AlignVCenter);
    case SortRole:
        return sortValue(row, index.column());
    case RowTypeRole:
        return int(row.type);
    case RouteKeyRole:
        return row.key;
    default:
        return QVariant();
    }
}

QVariant RouteModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || section < 0 || section >= ColumnCount)
        return QVariant();
    if (role == Qt::TextAlignmentRole)
        return isNumberColumn(section) ? int(Qt::AlignRight | Qt::AlignVCenter)
                                       : int(Qt::AlignLeft | Qt::AlignVCenter);
    if (role == Qt::ToolTipRole) {
        switch (section) {
        case HitsColumn:
            return tr("HTTP exchanges and WebSocket handshakes; on an error row, responses with "
                      "that status");
        case LiveColumn:
            return tr("WebSockets open now");
        case ErrorsColumn:
            return tr("Responses with status 500 or more; WebSockets closed with 1011 or 1006");
        case P50Column:
        case P99Column:
            return tr("Over the last %1 HTTP exchanges, in milliseconds").arg(LatencySamples);
        default:
            break;
        }
    }
    if (role != Qt::DisplayRole && role != Qt::ToolTipRole)
        return QVariant();
    switch (section) {
    case PatternColumn:
        return tr("Pattern");
    case KindColumn:
        return tr("Kind");
    case HandlerColumn:
        return tr("Handler");
    case HitsColumn:
        return tr("Hits");
    case LiveColumn:
        return tr("Live");
    case ErrorsColumn:
        return tr("Errors");
    case P50Column:
        return tr("p50 (ms)");
    case P99Column:
        return tr("p99 (ms)");
    }
    return QVariant();
}

const RouteModel::Stats *RouteModel::statsOf(const Row &row) const
{
    switch (row.type) {
    case RowType::Route:
    case RowType::Fallback: {
        const auto it = m_routeStats.constFind(row.key);
        return it == m_routeStats.constEnd() ? nullptr : &*it;
    }
    case RowType::Error: {
        const auto it = m_errorStats.constFind(row.status);
        return it == m_errorStats.constEnd() ? nullptr : &*it;
    }
    case RowType::Filter:
        break;
    }
    return nullptr;
}

QVariant RouteModel::display(const Row &row, int column) const
{
    switch (column) {
    case PatternColumn:
        return row.type == RowType::Fallback ? tr("(fallback)") : row.key;
    case KindColumn:
        return row.kind;
    case HandlerColumn:
        return row.handler;
    default:
        break;
    }
    if (row.type == RowType::Filter)
        return QVariant();
    const Stats *stats = statsOf(row);
    switch (column) {
    case HitsColumn:
        return stats ? stats->hits : 0;
    case LiveColumn:
        if (row.kind != Route::kindName(Route::Kind::WebSocket))
            return QVariant();
        return stats ? stats->live : 0;
    case ErrorsColumn:
        if (row.type == RowType::Error)
            return QVariant();
        return stats ? stats->errors : 0;
    case P50Column:
        return stats && stats->p50 >= 0 ? millisecondsText(stats->p50) : QString();
    case P99Column:
        return stats && stats->p99 >= 0 ? millisecondsText(stats->p99) : QString();
    }
    return QVariant();
}

QVariant RouteModel::sortValue(const Row &row, int column) const
{
    if (!isNumberColumn(column)) {
        if (column == PatternColumn && row.type == RowType::Error)
            return row.status;
        return display(row, column);
    }
    // Rows without a figure sort below every row with one.
    const Stats *stats = row.type == RowType::Filter ? nullptr : statsOf(row);
    switch (column) {
    case HitsColumn:
        return stats ? stats->hits : (row.type == RowType::Filter ? -1 : 0);
    case LiveColumn:
        return stats ? stats->live : (row.type == RowType::Filter ? -1 : 0);
    case ErrorsColumn:
        return stats ? stats->errors : (row.type == RowType::Filter ? -1 : 0);
    case P50Column:
        return stats ? stats->p50 : -1.0;
    case P99Column:
        return stats ? stats->p99 : -1.0;
    }
    return QVariant();
}

QVariant RouteModel::toolTip(const Row &row, int column) const
{
    if (column == PatternColumn || column == KindColumn || column == HandlerColumn)
        return row.toolTip;
    if (row.type == RowType::Filter)
        return QVariant();
    const Stats *stats = statsOf(row);
    const QLocale locale;
    switch (column) {
    case HitsColumn:
        return locale.toString(stats ? stats->hits : 0);
    case LiveColumn:
        return display(row, column);
    case ErrorsColumn:
        return headerData(ErrorsColumn, Qt::Horizontal, Qt::ToolTipRole);
    case P50Column:
    case P99Column:
        if (!stats || stats->samples.isEmpty())
            return tr("No HTTP exchange yet");
        return tr("Over the last %n HTTP exchange(s)", nullptr, int(stats->samples.size()));
    }
    return QVariant();
}

int RouteModel::rowOf(RowType type, const QString &key) const
{
    for (qsizetype i = 0; i < m_rows.size(); ++i) {
        const Row &row = m_rows.at(i);
        if (row.type == type && (type == RowType::Fallback || row.key == key))
            return int(i);
    }
    return -1;
}

void RouteModel::setPendingCapacity(int events)
{
    m_pendingCapacity = qMax(1, events);
    if (m_pending.size() >= m_pendingCapacity)
        flush();
}

void RouteModel::setFlushInterval(int ms)
{
    m_flushTimer.setInterval(qMax(0, ms));
}

QList<RouteModel::Row> RouteModel::readRouter() const
{
    QList<Row> rows;
    if (!m_router)
        return rows;
    // Each getter reads a consistent table; a change between two of them
    // is followed by routesChanged(), and so by another reload.
    for (const QString &pattern : m_router->filterPatterns()) {
        Row row;
        row.type = RowType::Filter;
        row.key = pattern;
        row.kind = QStringLiteral("filter");
        row.toolTip = tr("Runs before the handlers of paths matching %1").arg(pattern);
        rows.append(row);
    }
    for (const Route &route : m_router->routes()) {
        Row row;
        row.type = RowType::Route;
        row.key = route.uri();
        row.kind = Route::kindName(route.kind());
        row.handler = route.handlerName();
        if (row.handler.isEmpty()
            && (route.kind() == Route::Kind::Forward || route.kind() == Route::Kind::Redirect))
            row.handler = route.target();
        QStringList lines {tr("Route %1").arg(route.uri()),
                           tr("Path matches ^%1$").arg(route.pattern())};
        if (!route.method().isEmpty())
            lines.append(tr("Method %1").arg(QString::fromLatin1(route.method())));
        if (!route.target().isEmpty())
            lines.append(tr("Target %1").arg(route.target()));
        if (!route.subprotocols().isEmpty())
            lines.append(
                    tr("Subprotocols %1").arg(route.subprotocols().join(QStringLiteral(", "))));
        if (!route.filters().isEmpty())
            lines.append(tr("%n filter(s) of its own", nullptr, int(route.filters().size())));
        row.toolTip = lines.join(QLatin1Char('\n'));
        rows.append(row);
    }
    if (m_router->fallback()) {
        Row row;
        row.type = RowType::Fallback;
        row.kind = QStringLiteral("static");
        row.handler = m_router->fallbackName();
        row.toolTip = tr("Answers what no route matches");
        rows.append(row);
    }
    for (int status : m_router->errorStatuses()) {
        Row row;
        row.type = RowType::Error;
        row.status = status;
        row.key = QString::number(status);
        row.kind = QStringLiteral("error");
        row.handler = m_router->errorUri(status);
        if (row.handler.isEmpty())
            row.handler = QStringLiteral("handler");
        row.toolTip = tr("Answers %1 responses").arg(status);
        rows.append(row);
    }
    return rows;
}

void RouteModel::reload()
{
    QList<Row> next = readRouter();
    const qsizetype oldCount = m_rows.size();
    const qsizetype newCount = next.size();
    // One change at a time is the usual case: what is the same at both ends
    // stays, the middle goes and comes, so selections and stats stay put.
    qsizetype prefix = 0;
    while (prefix < oldCount && prefix < newCount && sameRow(m_rows.at(prefix), next.at(prefix)))
        ++prefix;
    qsizetype suffix = 0;
    while (suffix < oldCount - prefix && suffix < newCount - prefix
           && sameRow(m_rows.at(oldCount - 1 - suffix), next.at(newCount - 1 - suffix)))
        ++suffix;

    bool described = false;
    const auto redescribe = [&](qsizetype oldRow, qsizetype newRow) {
        Row &row = m_rows[oldRow];
        const Row &update = next.at(newRow);
        if (row.kind != update.kind || row.handler != update.handler
            || row.toolTip != update.toolTip) {
            row = update;
            described = true;
        }
    };
    for (qsizetype i = 0; i < prefix; ++i)
        redescribe(i, i);
    for (qsizetype i = 0; i < suffix; ++i)
        redescribe(oldCount - 1 - i, newCount - 1 - i);
    if (described)
        Q_EMIT dataChanged(index(0, 0), index(int(oldCount) - 1, ColumnCount - 1));

    if (oldCount - suffix > prefix) {
        beginRemoveRows(QModelIndex(), int(prefix), int(oldCount - suffix - 1));
        m_rows.remove(prefix, oldCount - suffix - prefix);
        endRemoveRows();
    }
    if (newCount - suffix > prefix) {
        beginInsertRows(QModelIndex(), int(prefix), int(newCount - suffix - 1));
        m_rows.insert(prefix, newCount - suffix - prefix, Row());
        std::copy(next.cbegin() + prefix, next.cbegin() + (newCount - suffix),
                  m_rows.begin() + prefix);
        endInsertRows();
    }
    pruneStats();
}

void RouteModel::pruneStats()
{
    QSet<QString> keys;
    QSet<int> statuses;
    for (const Row &row : std::as_const(m_rows)) {
        if (row.type == RowType::Route || row.type == RowType::Fallback)
            keys.insert(row.key);
        else if (row.type == RowType::Error)
            statuses.insert(row.status);
    }
    // A route that is gone keeps its stats while WebSockets on it live, so
    // that their closes still add up if it comes back.
    m_routeStats.removeIf([&keys](const QHash<QString, Stats>::iterator it) {
        return it->live == 0 && !keys.contains(it.key());
    });
    m_errorStats.removeIf([&statuses](const QHash<int, Stats>::iterator it) {
        return !statuses.contains(it.key());
    });
}

void RouteModel::addEvents(const QList<MonitorEvent> &events)
{
    for (const MonitorEvent &event : events) {
        switch (event.type) {
        case Type::HttpExchange:
        case Type::WebSocketOpened:
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

void RouteModel::flush()
{
    m_flushTimer.stop();
    if (m_pending.isEmpty())
        return;
    const QList<MonitorEvent> events = std::exchange(m_pending, {});

    QSet<int> mapped;
    for (const Row &row : std::as_const(m_rows)) {
        if (row.type == RowType::Error)
            mapped.insert(row.status);
    }
    QSet<QString> changedKeys;
    QSet<int> changedStatuses;
    for (const MonitorEvent &event : events) {
        switch (event.type) {
        case Type::HttpExchange: {
            // No route: the fallback answered, or a filter, or nothing (404).
            if (!event.route.isEmpty() || event.status < 400) {
                Stats &stats = m_routeStats[event.route];
                ++stats.hits;
                if (event.status >= 500)
                    ++stats.errors;
                stats.addSample(event.durationUs);
                changedKeys.insert(event.route);
            }
            if (mapped.contains(event.status)) {
                Stats &stats = m_errorStats[event.status];
                ++stats.hits;
                stats.addSample(event.durationUs);
                changedStatuses.insert(event.status);
            }
            break;
        }
        case Type::WebSocketOpened: {
            Stats &stats = m_routeStats[event.route];
            ++stats.hits;
            ++stats.live;
            changedKeys.insert(event.route);
            break;
        }
        case Type::WebSocketClosed: {
            Stats &stats = m_routeStats[event.route];
            // Opened before we listened: never below zero.
            if (stats.live > 0)
                --stats.live;
            if (event.closeCode == 1011 || event.closeCode == 1006)
                ++stats.errors;
            changedKeys.insert(event.route);
            break;
        }
        default:
            break;
        }
    }

    for (const QString &key : std::as_const(changedKeys)) {
        Stats &stats = m_routeStats[key];
        if (stats.samplesChanged)
            stats.computePercentiles();
    }
    for (int status : std::as_const(changedStatuses))
        m_errorStats[status].computePercentiles();

    int first = int(m_rows.size());
    int last = -1;
    for (int i = 0; i < m_rows.size(); ++i) {
        const Row &row = m_rows.at(i);
        bool changed = false;
        if (row.type == RowType::Error)
            changed = changedStatuses.contains(row.status);
        else if (row.type != RowType::Filter)
            changed = changedKeys.contains(row.key);
        if (changed) {
            first = qMin(first, i);
            last = qMax(last, i);
        }
    }
    if (last >= first)
        Q_EMIT dataChanged(index(first, HitsColumn), index(last, P99Column));
}

void RouteModel::clearStats()
{
    // What is pending still opens and closes WebSockets.
    flush();
    m_errorStats.clear();
    for (Stats &stats : m_routeStats) {
        const qint64 live = stats.live;
        stats = Stats();
        stats.live = live;
    }
    if (!m_rows.isEmpty())
        Q_EMIT dataChanged(index(0, HitsColumn), index(int(m_rows.size()) - 1, P99Column));
}

} // namespace sluice
