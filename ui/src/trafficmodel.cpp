#include <sluiceui/trafficmodel.h>

#include <QtCore/QDateTime>
#include <QtCore/QHash>
#include <QtCore/QIODevice>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QRegularExpression>
#include <QtCore/QStringDecoder>
#include <QtCore/QTimer>

#include <algorithm>
#include <deque>
#include <vector>

namespace sluice {

namespace {

using Type = MonitorEvent::Type;
using Direction = MonitorEvent::Direction;
using Opcode = MonitorEvent::Opcode;
using RowType = TrafficModel::RowType;

constexpr int kToolTipLength = 1000;

bool isTraffic(const MonitorEvent &event)
{
    switch (event.type) {
    case Type::HttpExchange:
    case Type::WebSocketOpened:
    case Type::WebSocketMessage:
    case Type::WebSocketClosed:
        return true;
    default:
        return false;
    }
}

RowType rowTypeOf(const MonitorEvent &event)
{
    switch (event.type) {
    case Type::HttpExchange:
        return RowType::Http;
    case Type::WebSocketOpened:
        return RowType::Open;
    case Type::WebSocketClosed:
        return RowType::Closed;
    default:
        break;
    }
    switch (event.opcode) {
    case Opcode::Text:
        return RowType::Text;
    case Opcode::Ping:
        return RowType::Ping;
    case Opcode::Pong:
        return RowType::Pong;
    case Opcode::Close:
        return RowType::Close;
    default:
        return RowType::Binary;
    }
}

bool isMessage(RowType type)
{
    return type != RowType::Http && type != RowType::Open && type != RowType::Closed;
}

bool isControl(RowType type)
{
    return type == RowType::Ping || type == RowType::Pong || type == RowType::Close;
}

// Text frames carry UTF-8 and a close frame's payload is its reason; the
// rest are bytes.
bool payloadIsText(RowType type)
{
    return type == RowType::Text || type == RowType::Close;
}

bool isTruncated(const MonitorEvent &event)
{
    return event.size > event.payload.size();
}

QString isoTime(qint64 timeUs)
{
    return QDateTime::fromMSecsSinceEpoch(timeUs / 1000, Qt::UTC).toString(Qt::ISODateWithMs);
}

QString ellipsis()
{
    return QString(QChar(0x2026));
}

QString shownNewlines(QString text)
{
    const QString mark(QChar(0x23CE)); // ⏎
    text.replace(QLatin1String("\r\n"), mark);
    text.replace(QLatin1Char('\n'), mark);
    text.replace(QLatin1Char('\r'), mark);
    return text;
}

QString cut(QString text, int maxChars, bool more)
{
    if (text.size() > maxChars) {
        // Never half a surrogate pair.
        const int at = text.at(maxChars - 1).isHighSurrogate() ? maxChars - 1 : maxChars;
        text.truncate(at);
        more = true;
    }
    return more ? text + ellipsis() : text;
}

QString textPreview(const MonitorEvent &event, int maxChars, bool markNewlines)
{
    // A UTF-8 character takes at most four bytes, so this prefix holds the
    // first maxChars characters whatever the text.
    const qsizetype prefix = qsizetype(maxChars) * 4;
    const bool more = isTruncated(event) || event.payload.size() > prefix;
    QString text = QString::fromUtf8(event.payload.left(prefix));
    if (markNewlines)
        text = shownNewlines(text);
    return cut(text, maxChars, more);
}

QString hexPreview(const MonitorEvent &event, int maxChars)
{
    const qsizetype bytes = qMax(1, (maxChars + 1) / 3);
    const bool more = isTruncated(event) || event.payload.size() > bytes;
    const QString hex = QString::fromLatin1(event.payload.left(bytes).toHex(' '));
    return more ? hex + ellipsis() : hex;
}

// Ping and pong payloads are often text, but need not be.
QString controlPreview(const MonitorEvent &event, int maxChars, bool markNewlines)
{
    QStringDecoder decoder(QStringDecoder::Utf8, QStringDecoder::Flag::Stateless);
    const QString text = decoder.decode(event.payload);
    if (decoder.hasError())
        return hexPreview(event, maxChars);
    return textPreview(event, maxChars, markNewlines);
}

QString httpLine(const MonitorEvent &event)
{
    // One arg() call: a target may hold "%2F" and the like.
    return QStringLiteral("%1 %2 \u2192 %3")
            .arg(QString::fromLatin1(event.method), event.target, QString::number(event.status));
}

QString preview(const MonitorEvent &event, RowType type, int maxChars, bool markNewlines)
{
    switch (type) {
    case RowType::Http:
        return httpLine(event);
    case RowType::Open:
        return event.reason.isEmpty() ? event.target
                                      : QStringLiteral("%1 (%2)").arg(event.target, event.reason);
    case RowType::Closed:
        return event.reason.isEmpty()
                       ? QString::number(event.closeCode)
                       : QStringLiteral("%1 %2").arg(QString::number(event.closeCode),
                                                     shownNewlines(event.reason));
    case RowType::Text:
    case RowType::Close:
        return textPreview(event, maxChars, markNewlines);
    case RowType::Binary:
        return hexPreview(event, maxChars);
    case RowType::Ping:
    case RowType::Pong:
        return controlPreview(event, maxChars, markNewlines);
    }
    return QString();
}

QString directionArrow(Direction direction)
{
    switch (direction) {
    case Direction::Outgoing:
        return QString(QChar(0x2191)); // ↑
    case Direction::Incoming:
        return QString(QChar(0x2193)); // ↓
    case Direction::None:
        break;
    }
    return QString();
}

QString directionName(Direction direction)
{
    switch (direction) {
    case Direction::Outgoing:
        return QStringLiteral("out");
    case Direction::Incoming:
        return QStringLiteral("in");
    case Direction::None:
        break;
    }
    return QString();
}

qint64 rowSize(const MonitorEvent &event, RowType type)
{
    if (type == RowType::Http)
        return event.bytesOut;
    return isMessage(type) ? event.size : 0;
}

int harOpcode(RowType type)
{
    switch (type) {
    case RowType::Text:
        return 1;
    case RowType::Binary:
        return 2;
    case RowType::Close:
        return 8;
    case RowType::Ping:
        return 9;
    case RowType::Pong:
        return 10;
    default:
        return 0;
    }
}

bool writeAll(QIODevice *device, const QByteArray &data)
{
    return device->write(data) == data.size();
}

} // namespace

struct TrafficModel::Private
{
    struct Row
    {
        MonitorEvent event;
        RowType type = RowType::Binary;
    };

    // The ring: grows to the capacity, then reuses its slots. Rows are
    // named by a sequence number that never changes, so the index vector
    // survives drops at the front.
    std::vector<Row> ring;
    qsizetype head = 0; // slot of the oldest row
    qsizetype count = 0;
    quint64 firstSeq = 0; // sequence number of the oldest row
    std::deque<quint64> visible; // sequence numbers of the rows shown, ascending

    QList<MonitorEvent> pending;
    QTimer *timer = nullptr;
    int capacity = DefaultCapacity;
    qint64 payloadBudget = DefaultPayloadBudget;
    qint64 payloadBytes = 0; // stored in the ring
    quint64 dropped = 0;
    quint64 missed = 0;
    bool paused = false;

    QString text;
    bool regex = false;
    Qt::CaseSensitivity sensitivity = Qt::CaseInsensitive;
    QRegularExpression expression;
    bool filterValid = true;
    QString filterError;
    DirectionFilter direction = DirectionFilter::Both;
    quint64 connection = 0;
    quint32 typeMask = 0; // bit per RowType; 0: every type
    bool hideControl = false;

    const Row &at(quint64 seq) const
    {
        return ring[size_t((head + qsizetype(seq - firstSeq)) % qsizetype(ring.size()))];
    }
    const Row &visibleRow(int row) const { return at(visible[size_t(row)]); }

    void push(Row &&row)
    {
        payloadBytes += row.event.payload.size();
        const auto size = qsizetype(ring.size());
        if (count < size) {
            ring[size_t((head + count) % size)] = std::move(row);
        } else {
            // Full below capacity: straighten so it can grow at the end.
            if (head != 0) {
                std::rotate(ring.begin(), ring.begin() + head, ring.end());
                head = 0;
            }
            ring.push_back(std::move(row));
        }
        ++count;
    }

    void popFront(qsizetype rows)
    {
        // Free the payloads now, not when the slot is reused: the budget
        // counts what is held.
        for (qsizetype i = 0; i < rows; ++i) {
            Row &slot = ring[size_t((head + i) % qsizetype(ring.size()))];
            payloadBytes -= slot.event.payload.size();
            slot = Row();
        }
        head = (head + rows) % qMax<qsizetype>(1, qsizetype(ring.size()));
        count -= rows;
        firstSeq += quint64(rows);
    }

    // The oldest row in slot 0 and no slot beyond maxSlots.
    void straighten(qsizetype maxSlots)
    {
        if (head != 0 && !ring.empty())
            std::rotate(ring.begin(), ring.begin() + head, ring.end());
        head = 0;
        if (qsizetype(ring.size()) > maxSlots) {
            ring.resize(size_t(qMax(count, maxSlots)));
            ring.shrink_to_fit();
        }
    }

    bool textActive() const { return !text.isEmpty() && filterValid; }

    bool matches(const QString &haystack) const
    {
        return regex ? expression.match(haystack).hasMatch() : haystack.contains(text, sensitivity);
    }

    bool matchesText(const Row &row) const
    {
        const MonitorEvent &event = row.event;
        switch (row.type) {
        case RowType::Http:
            return matches(httpLine(event));
        case RowType::Open:
        case RowType::Closed:
            return matches(event.target) || matches(event.reason);
        default:
            return matches(QString::fromUtf8(event.payload));
        }
    }

    bool accepts(const Row &row) const
    {
        if (connection != 0 && row.event.connectionId != connection)
            return false;
        if (direction != DirectionFilter::Both) {
            const Direction wanted = direction == DirectionFilter::Incoming ? Direction::Incoming
                                                                            : Direction::Outgoing;
            if (!isMessage(row.type) || row.event.direction != wanted)
                return false;
        }
        if (typeMask && !(typeMask & (1u << int(row.type))))
            return false;
        if (hideControl && isControl(row.type))
            return false;
        return !textActive() || matchesText(row);
    }
};

TrafficModel::TrafficModel(QObject *parent)
    : QAbstractTableModel(parent)
    , d(std::make_unique<Private>())
{
    d->timer = new QTimer(this);
    d->timer->setSingleShot(true);
    d->timer->setInterval(DefaultFlushInterval);
    connect(d->timer, &QTimer::timeout, this, &TrafficModel::flush);
}

TrafficModel::~TrafficModel() = default;

int TrafficModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(d->visible.size());
}

int TrafficModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant TrafficModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return QVariant();
    const Private::Row &row = d->visibleRow(index.row());
    const MonitorEvent &event = row.event;

    switch (role) {
    case Qt::DisplayRole:
        switch (index.column()) {
        case TimeColumn:
            return QDateTime::fromMSecsSinceEpoch(event.timeUs / 1000)
                    .toString(QStringLiteral("HH:mm:ss.zzz"));
        case ConnectionColumn:
            return QVariant::fromValue<quint64>(event.connectionId);
        case DirectionColumn:
            return directionArrow(event.direction);
        case TypeColumn:
            return typeName(row.type);
        case SizeColumn:
            if (row.type == RowType::Open || row.type == RowType::Closed)
                return QVariant();
            return QVariant::fromValue<qint64>(rowSize(event, row.type));
        case PreviewColumn:
            return preview(event, row.type, PreviewLength, true);
        }
        break;
    case Qt::ToolTipRole:
        switch (index.column()) {
        case TimeColumn:
            return QDateTime::fromMSecsSinceEpoch(event.timeUs / 1000)
                    .toString(QStringLiteral("yyyy-MM-dd HH:mm:ss.zzz t"));
        case ConnectionColumn:
            return event.route.isEmpty()
                           ? tr("Connection %1").arg(event.connectionId)
                           : tr("Connection %1, route %2").arg(event.connectionId).arg(event.route);
        case DirectionColumn:
            if (event.direction == Direction::Incoming)
                return tr("Received from the client");
            if (event.direction == Direction::Outgoing)
                return tr("Sent to the client");
            return QVariant();
        case TypeColumn:
            return event.route.isEmpty() ? typeName(row.type)
                                         : tr("%1 on %2").arg(typeName(row.type), event.route);
        case SizeColumn:
            if (row.type == RowType::Http)
                return tr("%1 bytes received, %2 bytes sent in %3 ms")
                        .arg(event.bytesIn)
                        .arg(event.bytesOut)
                        .arg(double(event.durationUs) / 1000.0, 0, 'f', 3);
            if (row.type == RowType::Closed)
                return tr("%1 messages and %2 bytes received, %3 messages and %4 bytes sent")
                        .arg(event.messagesIn)
                        .arg(event.bytesIn)
                        .arg(event.messagesOut)
                        .arg(event.bytesOut);
            if (isMessage(row.type) && isTruncated(event))
                return tr("%1 bytes, the first %2 kept").arg(event.size).arg(event.payload.size());
            if (isMessage(row.type))
                return tr("%1 bytes").arg(event.size);
            return QVariant();
        case PreviewColumn:
            return preview(event, row.type, kToolTipLength, false);
        }
        break;
    case Qt::TextAlignmentRole:
        if (index.column() == SizeColumn)
            return int(Qt::AlignRight | Qt::AlignVCenter);
        break;
    case EventRole:
        return QVariant::fromValue(event);
    case PayloadRole:
        return event.payload;
    case ConnectionIdRole:
        return QVariant::fromValue<quint64>(event.connectionId);
    case DirectionRole:
        return int(event.direction);
    case TypeRole:
        return int(row.type);
    default:
        break;
    }
    return QVariant();
}

QVariant TrafficModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || section < 0 || section >= ColumnCount)
        return QAbstractTableModel::headerData(section, orientation, role);
    if (role == Qt::TextAlignmentRole && section == SizeColumn)
        return int(Qt::AlignRight | Qt::AlignVCenter);
    if (role != Qt::DisplayRole)
        return QVariant();
    switch (section) {
    case TimeColumn:
        return tr("Time");
    case ConnectionColumn:
        return tr("Connection");
    case DirectionColumn:
        return tr("Direction");
    case TypeColumn:
        return tr("Type");
    case SizeColumn:
        return tr("Size");
    case PreviewColumn:
        return tr("Preview");
    }
    return QVariant();
}

QHash<int, QByteArray> TrafficModel::roleNames() const
{
    QHash<int, QByteArray> names = QAbstractTableModel::roleNames();
    names.insert(EventRole, QByteArrayLiteral("event"));
    names.insert(PayloadRole, QByteArrayLiteral("payload"));
    names.insert(ConnectionIdRole, QByteArrayLiteral("connectionId"));
    names.insert(DirectionRole, QByteArrayLiteral("direction"));
    names.insert(TypeRole, QByteArrayLiteral("type"));
    return names;
}

MonitorEvent TrafficModel::event(int row) const
{
    if (row < 0 || row >= rowCount())
        return MonitorEvent();
    return d->visibleRow(row).event;
}

TrafficModel::RowType TrafficModel::rowType(int row) const
{
    if (row < 0 || row >= rowCount())
        return RowType::Binary;
    return d->visibleRow(row).type;
}

QString TrafficModel::typeName(RowType type)
{
    switch (type) {
    case RowType::Http:
        return QStringLiteral("HTTP");
    case RowType::Open:
        return QStringLiteral("open");
    case RowType::Text:
        return QStringLiteral("text");
    case RowType::Binary:
        return QStringLiteral("binary");
    case RowType::Ping:
        return QStringLiteral("ping");
    case RowType::Pong:
        return QStringLiteral("pong");
    case RowType::Close:
        return QStringLiteral("close");
    case RowType::Closed:
        return QStringLiteral("closed");
    }
    return QString();
}

int TrafficModel::storedCount() const
{
    return int(d->count);
}

int TrafficModel::pendingCount() const
{
    return int(d->pending.size());
}

int TrafficModel::capacity() const
{
    return d->capacity;
}

qint64 TrafficModel::payloadBudget() const
{
    return d->payloadBudget;
}

void TrafficModel::setPayloadBudget(qint64 bytes)
{
    d->payloadBudget = qMax<qint64>(0, bytes);
    const qsizetype over = rowsOverBudget();
    if (over > 0) {
        dropOldest(over);
        Q_EMIT droppedCountChanged(d->dropped);
    }
}

qint64 TrafficModel::storedPayloadBytes() const
{
    return d->payloadBytes;
}

void TrafficModel::setCapacity(int rows)
{
    rows = qMax(1, rows);
    if (rows == d->capacity)
        return;
    d->capacity = rows;
    const quint64 before = d->dropped;
    if (d->count > rows)
        dropOldest(d->count - rows);
    d->straighten(rows);
    if (d->pending.size() > rows) {
        const qsizetype excess = d->pending.size() - rows;
        d->pending.remove(0, excess);
        d->dropped += quint64(excess);
    }
    if (d->dropped != before)
        Q_EMIT droppedCountChanged(d->dropped);
}

int TrafficModel::flushInterval() const
{
    return d->timer->interval();
}

void TrafficModel::setFlushInterval(int ms)
{
    d->timer->setInterval(qMax(0, ms));
}

quint64 TrafficModel::droppedCount() const
{
    return d->dropped;
}

quint64 TrafficModel::missedCount() const
{
    return d->missed;
}

bool TrafficModel::isPaused() const
{
    return d->paused;
}

void TrafficModel::setPaused(bool paused)
{
    if (paused == d->paused)
        return;
    if (paused)
        flush(); // these came before the pause
    d->paused = paused;
    Q_EMIT pausedChanged(paused);
}

void TrafficModel::setTextFilter(const QString &text, bool regex, Qt::CaseSensitivity sensitivity)
{
    if (text == d->text && regex == d->regex && sensitivity == d->sensitivity)
        return;
    d->text = text;
    d->regex = regex;
    d->sensitivity = sensitivity;
    d->filterValid = true;
    d->filterError.clear();
    d->expression = QRegularExpression();
    if (regex && !text.isEmpty()) {
        d->expression.setPattern(text);
        d->expression.setPatternOptions(sensitivity == Qt::CaseInsensitive
                                                ? QRegularExpression::CaseInsensitiveOption
                                                : QRegularExpression::NoPatternOption);
        if (d->expression.isValid()) {
            d->expression.optimize();
        } else {
            d->filterValid = false;
            d->filterError = tr("%1 at offset %2")
                                     .arg(d->expression.errorString(),
                                          QString::number(d->expression.patternErrorOffset()));
        }
    }
    rebuildFilter();
}

QString TrafficModel::textFilter() const
{
    return d->text;
}

bool TrafficModel::isTextFilterRegex() const
{
    return d->regex;
}

Qt::CaseSensitivity TrafficModel::textFilterCaseSensitivity() const
{
    return d->sensitivity;
}

bool TrafficModel::isFilterValid() const
{
    return d->filterValid;
}

QString TrafficModel::filterError() const
{
    return d->filterError;
}

void TrafficModel::setDirectionFilter(DirectionFilter direction)
{
    if (direction == d->direction)
        return;
    d->direction = direction;
    rebuildFilter();
}

TrafficModel::DirectionFilter TrafficModel::directionFilter() const
{
    return d->direction;
}

void TrafficModel::setConnectionFilter(quint64 connectionId)
{
    if (connectionId == d->connection)
        return;
    d->connection = connectionId;
    rebuildFilter();
}

quint64 TrafficModel::connectionFilter() const
{
    return d->connection;
}

void TrafficModel::setTypeFilter(const QList<RowType> &types)
{
    quint32 mask = 0;
    for (RowType type : types)
        mask |= 1u << int(type);
    if (mask == d->typeMask)
        return;
    d->typeMask = mask;
    rebuildFilter();
}

QList<TrafficModel::RowType> TrafficModel::typeFilter() const
{
    QList<RowType> types;
    for (int type = 0; type <= int(RowType::Closed); ++type) {
        if (d->typeMask & (1u << type))
            types.append(RowType(type));
    }
    return types;
}

void TrafficModel::setHideControlFrames(bool hide)
{
    if (hide == d->hideControl)
        return;
    d->hideControl = hide;
    rebuildFilter();
}

bool TrafficModel::hidesControlFrames() const
{
    return d->hideControl;
}

void TrafficModel::rebuildFilter()
{
    beginResetModel();
    d->visible.clear();
    const quint64 end = d->firstSeq + quint64(d->count);
    for (quint64 seq = d->firstSeq; seq != end; ++seq) {
        if (d->accepts(d->at(seq)))
            d->visible.push_back(seq);
    }
    endResetModel();
    Q_EMIT filterChanged();
}

// The oldest rows to drop so that the stored payloads fit the budget; the
// newest row always stays.
qsizetype TrafficModel::rowsOverBudget() const
{
    qint64 excess = d->payloadBytes - d->payloadBudget;
    qsizetype rows = 0;
    while (excess > 0 && rows < d->count - 1) {
        excess -= d->at(d->firstSeq + quint64(rows)).event.payload.size();
        ++rows;
    }
    return rows;
}

void TrafficModel::dropOldest(qsizetype rows)
{
    if (rows <= 0)
        return;
    const quint64 newFirst = d->firstSeq + quint64(rows);
    const auto shown
            = std::lower_bound(d->visible.begin(), d->visible.end(), newFirst) - d->visible.begin();
    if (shown > 0)
        beginRemoveRows(QModelIndex(), 0, int(shown) - 1);
    d->visible.erase(d->visible.begin(), d->visible.begin() + shown);
    d->popFront(rows);
    if (shown > 0)
        endRemoveRows();
    d->dropped += quint64(rows);
}

void TrafficModel::addEvents(const QList<MonitorEvent> &events)
{
    if (d->paused) {
        const auto missed = std::count_if(events.cbegin(), events.cend(), isTraffic);
        if (missed > 0) {
            d->missed += quint64(missed);
            Q_EMIT missedCountChanged(d->missed);
        }
        return;
    }
    const qsizetype before = d->pending.size();
    for (const MonitorEvent &event : events) {
        if (isTraffic(event))
            d->pending.append(event);
    }
    if (d->pending.size() > d->capacity) {
        const qsizetype excess = d->pending.size() - d->capacity;
        d->pending.remove(0, excess);
        d->dropped += quint64(excess);
        Q_EMIT droppedCountChanged(d->dropped);
    }
    if (d->pending.size() != before && !d->timer->isActive())
        d->timer->start();
}

void TrafficModel::flush()
{
    d->timer->stop();
    if (d->pending.isEmpty())
        return;
    QList<MonitorEvent> batch;
    batch.swap(d->pending);

    // The queue never holds more than the capacity, so dropping the overflow
    // from the ring leaves room for all of it.
    const qsizetype overflow = d->count + batch.size() - d->capacity;
    if (overflow > 0)
        dropOldest(qMin(overflow, d->count));

    std::vector<quint64> shown;
    for (MonitorEvent &event : batch) {
        Private::Row row {std::move(event), RowType::Binary};
        row.type = rowTypeOf(row.event);
        const bool accepted = d->accepts(row);
        const quint64 seq = d->firstSeq + quint64(d->count);
        d->push(std::move(row));
        if (accepted)
            shown.push_back(seq);
    }
    if (!shown.empty()) {
        const int first = int(d->visible.size());
        beginInsertRows(QModelIndex(), first, first + int(shown.size()) - 1);
        d->visible.insert(d->visible.end(), shown.begin(), shown.end());
        endInsertRows();
    }
    const qsizetype overBudget = rowsOverBudget();
    if (overBudget > 0)
        dropOldest(overBudget);
    if (overflow > 0 || overBudget > 0)
        Q_EMIT droppedCountChanged(d->dropped);
}

void TrafficModel::clear()
{
    const bool hadDropped = d->dropped != 0;
    const bool hadMissed = d->missed != 0;
    d->timer->stop();
    beginResetModel();
    d->visible.clear();
    d->ring.clear();
    d->ring.shrink_to_fit();
    d->firstSeq += quint64(d->count);
    d->head = 0;
    d->count = 0;
    d->payloadBytes = 0;
    d->pending.clear();
    d->dropped = 0;
    d->missed = 0;
    endResetModel();
    if (hadDropped)
        Q_EMIT droppedCountChanged(0);
    if (hadMissed)
        Q_EMIT missedCountChanged(0);
}

bool TrafficModel::exportJsonLines(QIODevice *device) const
{
    if (!device || !device->isWritable())
        return false;
    for (const quint64 seq : d->visible) {
        const Private::Row &row = d->at(seq);
        const MonitorEvent &event = row.event;
        QJsonObject object {
                {QStringLiteral("time"), isoTime(event.timeUs)},
                {QStringLiteral("connection"), qint64(event.connectionId)},
                {QStringLiteral("direction"), directionName(event.direction)},
                {QStringLiteral("type"), typeName(row.type)},
                {QStringLiteral("size"), rowSize(event, row.type)},
        };
        if (!event.route.isEmpty())
            object.insert(QStringLiteral("route"), event.route);
        switch (row.type) {
        case RowType::Http:
            object.insert(QStringLiteral("method"), QString::fromLatin1(event.method));
            object.insert(QStringLiteral("target"), event.target);
            object.insert(QStringLiteral("status"), event.status);
            object.insert(QStringLiteral("durationMs"), double(event.durationUs) / 1000.0);
            object.insert(QStringLiteral("bytesIn"), event.bytesIn);
            break;
        case RowType::Open:
            object.insert(QStringLiteral("target"), event.target);
            if (!event.reason.isEmpty())
                object.insert(QStringLiteral("subprotocol"), event.reason);
            break;
        case RowType::Closed:
            object.insert(QStringLiteral("target"), event.target);
            object.insert(QStringLiteral("closeCode"), event.closeCode);
            object.insert(QStringLiteral("reason"), event.reason);
            object.insert(QStringLiteral("durationMs"), double(event.durationUs) / 1000.0);
            object.insert(QStringLiteral("bytesIn"), event.bytesIn);
            object.insert(QStringLiteral("bytesOut"), event.bytesOut);
            object.insert(QStringLiteral("messagesIn"), event.messagesIn);
            object.insert(QStringLiteral("messagesOut"), event.messagesOut);
            break;
        default:
            if (payloadIsText(row.type)) {
                object.insert(QStringLiteral("payload"), QString::fromUtf8(event.payload));
                object.insert(QStringLiteral("payloadEncoding"), QStringLiteral("text"));
            } else {
                object.insert(QStringLiteral("payload"),
                              QString::fromLatin1(event.payload.toBase64()));
                object.insert(QStringLiteral("payloadEncoding"), QStringLiteral("base64"));
            }
            object.insert(QStringLiteral("truncated"), isTruncated(event));
            break;
        }
        if (!writeAll(device, QJsonDocument(object).toJson(QJsonDocument::Compact) + '\n'))
            return false;
    }
    return true;
}

bool TrafficModel::exportHar(QIODevice *device) const
{
    if (!device || !device->isWritable())
        return false;

    using Row = Private::Row;
    struct Connection
    {
        const Row *open = nullptr;
        const Row *closed = nullptr;
        QList<const Row *> messages;
    };
    struct Entry
    {
        qint64 startUs = 0;
        const Row *http = nullptr; // or else a WebSocket connection
        quint64 connection = 0;
    };

    QHash<quint64, Connection> connections;
    QList<Entry> entries;
    for (const quint64 seq : d->visible) {
        const Row &row = d->at(seq);
        const MonitorEvent &event = row.event;
        if (row.type == RowType::Http) {
            entries.append({event.timeUs - event.durationUs, &row, 0});
            continue;
        }
        auto it = connections.find(event.connectionId);
        if (it == connections.end()) {
            it = connections.insert(event.connectionId, Connection());
            entries.append({event.timeUs, nullptr, event.connectionId});
        }
        if (row.type == RowType::Open)
            it->open = &row;
        else if (row.type == RowType::Closed)
            it->closed = &row;
        else
            it->messages.append(&row);
    }

    // The filter may hide a connection's open or closed row while showing
    // its messages; the entry still wants them if they are kept.
    bool incomplete = false;
    for (const Connection &connection : std::as_const(connections))
        incomplete = incomplete || !connection.open || !connection.closed;
    if (incomplete) {
        const quint64 end = d->firstSeq + quint64(d->count);
        for (quint64 seq = d->firstSeq; seq != end; ++seq) {
            const Row &row = d->at(seq);
            if (row.type != RowType::Open && row.type != RowType::Closed)
                continue;
            const auto it = connections.find(row.event.connectionId);
            if (it == connections.end())
                continue;
            if (row.type == RowType::Open && !it->open)
                it->open = &row;
            else if (row.type == RowType::Closed && !it->closed)
                it->closed = &row;
        }
    }
    for (Entry &entry : entries) {
        if (!entry.http) {
            const Connection &connection = connections.value(entry.connection);
            if (connection.open)
                entry.startUs = qMin(entry.startUs, connection.open->event.timeUs);
        }
    }
    std::stable_sort(entries.begin(), entries.end(),
                     [](const Entry &a, const Entry &b) { return a.startUs < b.startUs; });

    const QString httpVersion = QStringLiteral("HTTP/1.1");
    const auto request = [&](const QString &method, const QString &url) {
        return QJsonObject {
                {QStringLiteral("method"), method},
                {QStringLiteral("url"), url},
                {QStringLiteral("httpVersion"), httpVersion},
                {QStringLiteral("headers"), QJsonArray()},
                {QStringLiteral("queryString"), QJsonArray()},
                {QStringLiteral("cookies"), QJsonArray()},
                {QStringLiteral("headersSize"), -1},
                {QStringLiteral("bodySize"), -1},
        };
    };
    const auto response = [&](int status, const QString &statusText, qint64 size) {
        return QJsonObject {
                {QStringLiteral("status"), status},
                {QStringLiteral("statusText"), statusText},
                {QStringLiteral("httpVersion"), httpVersion},
                {QStringLiteral("headers"), QJsonArray()},
                {QStringLiteral("cookies"), QJsonArray()},
                {QStringLiteral("content"), QJsonObject {{QStringLiteral("size"), size},
                                                         {QStringLiteral("mimeType"), QString()}}},
                {QStringLiteral("redirectURL"), QString()},
                {QStringLiteral("headersSize"), -1},
                // The response bytes as counted on the wire, head included:
                // with headersSize unknown that is still the transfer size.
                {QStringLiteral("bodySize"), size},
        };
    };
    const auto timings = [](double waitMs) {
        return QJsonObject {{QStringLiteral("send"), 0},
                            {QStringLiteral("wait"), waitMs},
                            {QStringLiteral("receive"), 0}};
    };

    QJsonArray harEntries;
    for (const Entry &entry : std::as_const(entries)) {
        if (entry.http) {
            const MonitorEvent &event = entry.http->event;
            const double ms = double(event.durationUs) / 1000.0;
            harEntries.append(QJsonObject {
                    {QStringLiteral("startedDateTime"), isoTime(entry.startUs)},
                    {QStringLiteral("time"), ms},
                    {QStringLiteral("request"),
                     request(QString::fromLatin1(event.method), event.target)},
                    {QStringLiteral("response"), response(event.status, QString(), event.bytesOut)},
                    {QStringLiteral("cache"), QJsonObject()},
                    {QStringLiteral("timings"), timings(ms)},
                    {QStringLiteral("connection"), QString::number(event.connectionId)},
            });
            continue;
        }

        const Connection &connection = connections.value(entry.connection);
        QJsonArray messages;
        qint64 lastUs = entry.startUs;
        for (const Row *row : connection.messages) {
            const MonitorEvent &event = row->event;
            lastUs = qMax(lastUs, event.timeUs);
            messages.append(QJsonObject {
                    {QStringLiteral("type"), event.direction == Direction::Incoming
                                                     ? QStringLiteral("send")
                                                     : QStringLiteral("receive")},
                    {QStringLiteral("time"), double(event.timeUs) / 1e6},
                    {QStringLiteral("opcode"), harOpcode(row->type)},
                    {QStringLiteral("data"),
                     payloadIsText(row->type) ? QString::fromUtf8(event.payload)
                                              : QString::fromLatin1(event.payload.toBase64())},
            });
        }
        if (connection.closed)
            lastUs = qMax(lastUs, connection.closed->event.timeUs);
        QString url;
        if (connection.open)
            url = connection.open->event.target;
        else if (connection.closed)
            url = connection.closed->event.target;
        else if (!connection.messages.isEmpty())
            url = connection.messages.first()->event.route;

        QJsonObject har {
                {QStringLiteral("startedDateTime"), isoTime(entry.startUs)},
                {QStringLiteral("time"), double(lastUs - entry.startUs) / 1000.0},
                {QStringLiteral("request"), request(QStringLiteral("GET"), url)},
                {QStringLiteral("response"),
                 response(101, QStringLiteral("Switching Protocols"), 0)},
                {QStringLiteral("cache"), QJsonObject()},
                {QStringLiteral("timings"), timings(0)},
                {QStringLiteral("connection"), QString::number(entry.connection)},
                {QStringLiteral("_resourceType"), QStringLiteral("websocket")},
                {QStringLiteral("_webSocketMessages"), messages},
        };
        if (!connection.open)
            har.insert(QStringLiteral("comment"),
                       QStringLiteral("The opening of this connection was dropped."));
        harEntries.append(har);
    }

    const QJsonObject root {
            {QStringLiteral("log"),
             QJsonObject {
                     {QStringLiteral("version"), QStringLiteral("1.2")},
                     {QStringLiteral("creator"),
                      QJsonObject {
                              {QStringLiteral("name"), QStringLiteral("Sluice")},
                              {QStringLiteral("version"), QStringLiteral(SLUICE_VERSION_STR)}}},
                     {QStringLiteral("pages"), QJsonArray()},
                     {QStringLiteral("entries"), harEntries},
             }},
    };
    return writeAll(device, QJsonDocument(root).toJson(QJsonDocument::Indented));
}

} // namespace sluice
