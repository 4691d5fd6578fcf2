#include <sluice/accesslog.h>
#include <sluice/monitor.h>
#include <sluice/monitorqueue.h>

#include <QtCore/QDateTime>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QLoggingCategory>

namespace sluice {

namespace {

Q_LOGGING_CATEGORY(lcAccess, "sluice.access", QtInfoMsg)
Q_LOGGING_CATEGORY(lcTraffic, "sluice.traffic", QtInfoMsg)

using Type = MonitorEvent::Type;
using Opcode = MonitorEvent::Opcode;
using Direction = MonitorEvent::Direction;

// UTF-8, as it ends the text lines where people expect it.
const QByteArray Ellipsis = QByteArrayLiteral("\xe2\x80\xa6");

QString isoTime(qint64 timeUs)
{
    return QDateTime::fromMSecsSinceEpoch(timeUs / 1000, Qt::UTC).toString(Qt::ISODateWithMs);
}

// Milliseconds tell fast requests apart; past ten seconds nobody counts them.
QByteArray duration(qint64 us)
{
    if (us >= 10'000'000)
        return QByteArray::number(double(us) / 1e6, 'f', 1) + 's';
    return QByteArray::number(double(us) / 1e3, 'f', 1) + "ms";
}

QByteArray peer(const MonitorEvent &event)
{
    // A column for it always, so that the fields after it keep their place.
    if (event.peerAddress.isNull())
        return QByteArrayLiteral("-");
    const QByteArray address = event.peerAddress.toString().toUtf8();
    if (event.peerAddress.protocol() == QAbstractSocket::IPv6Protocol)
        return '[' + address + "]:" + QByteArray::number(event.peerPort);
    return address + ':' + QByteArray::number(event.peerPort);
}

bool needsEscape(char16_t c)
{
    // C0 and C1 controls, DEL, and the Unicode line and paragraph separators
    // that some viewers break lines at.
    return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x2028 || c == 0x2029;
}

// A client controls targets, reasons and payloads: quoted and escaped, they
// can neither end the line nor fake a field.
QByteArray quoted(const QString &text)
{
    QString out;
    out.reserve(text.size() + 2);
    out += u'"';
    for (const QChar qc : text) {
        const char16_t c = qc.unicode();
        switch (c) {
        case u'"':
            out += QLatin1String("\\\"");
            break;
        case u'\\':
            out += QLatin1String("\\\\");
            break;
        case u'\n':
            out += QLatin1String("\\n");
            break;
        case u'\r':
            out += QLatin1String("\\r");
            break;
        case u'\t':
            out += QLatin1String("\\t");
            break;
        default:
            if (!needsEscape(c))
                out += qc;
            else if (c <= 0xff)
                out += QStringLiteral("\\x%1").arg(int(c), 2, 16, QLatin1Char('0'));
            else
                out += QStringLiteral("\\u%1").arg(int(c), 4, 16, QLatin1Char('0'));
        }
    }
    out += u'"';
    return out.toUtf8();
}

// Well-formed targets and routes have no spaces: quoting only the odd one
// keeps ordinary lines easy to cut into fields.
QByteArray field(const QString &text)
{
    if (text.isEmpty())
        return quoted(text);
    for (const QChar qc : text) {
        const char16_t c = qc.unicode();
        if (c == u' ' || c == u'"' || c == u'\\' || needsEscape(c))
            return quoted(text);
    }
    return text.toUtf8();
}

// A cut can land inside a UTF-8 sequence: the broken tail goes, rather than
// show up as a replacement character.
QByteArray cutUtf8(const QByteArray &bytes, qsizetype cap)
{
    QByteArray cut = bytes.left(cap);
    qsizetype lead = cut.size() - 1;
    while (lead >= 0 && lead >= cut.size() - 4 && (uchar(cut.at(lead)) & 0xc0) == 0x80)
        --lead;
    if (lead < 0)
        return cut;
    const uchar first = uchar(cut.at(lead));
    const qsizetype length = first >= 0xf0 ? 4 : first >= 0xe0 ? 3 : first >= 0xc0 ? 2 : 1;
    if (lead + length > cut.size())
        cut.truncate(lead);
    return cut;
}

bool isTextPayload(Opcode opcode)
{
    // A close frame's payload, as recorded, is its reason.
    return opcode == Opcode::Text || opcode == Opcode::Close;
}

} // namespace

AccessLog::AccessLog(Monitor *monitor, Writer writer, QObject *parent)
    : QObject(parent)
    , m_monitor(monitor)
    , m_writer(std::move(writer))
{
    attach();
}

AccessLog::~AccessLog() = default;

void AccessLog::setLogsTraffic(bool on)
{
    if (on == m_traffic)
        return;
    m_traffic = on;
    // The queue's types are fixed: a new one takes (or leaves) the messages.
    write();
    attach();
}

void AccessLog::attach()
{
    MonitorQueue::Options options;
    options.capacity = m_monitor->capacity();
    options.types = {Type::HttpExchange, Type::WebSocketOpened, Type::WebSocketClosed, Type::Error};
    if (m_traffic)
        options.types.append(Type::WebSocketMessage);
    // One queued call per batch: the queue calls this when it stops being empty.
    options.ready = [this] {
        QMetaObject::invokeMethod(this, &AccessLog::write, Qt::QueuedConnection);
    };
    m_queue.reset();
    m_queue = std::make_unique<MonitorQueue>(m_monitor, options);
    m_droppedSeen = 0;
}

void AccessLog::write()
{
    if (!m_queue)
        return;
    const QList<MonitorEvent> events = m_queue->take();
    if (!m_writer)
        return;
    for (const MonitorEvent &event : events) {
        const QByteArray line = formatEvent(event);
        if (!line.isEmpty())
            m_writer(line);
    }
    // Dropped events leave holes in the log: say how big, after what is left.
    const quint64 dropped = m_queue->droppedCount();
    if (dropped <= m_droppedSeen)
        return;
    const quint64 count = dropped - m_droppedSeen;
    m_droppedSeen = dropped;
    if (!lcAccess().isInfoEnabled())
        return;
    const QString now = isoTime(MonitorEvent::now());
    if (m_format == Format::Json) {
        const QJsonObject object {{QStringLiteral("time"), now},
                                  {QStringLiteral("event"), QStringLiteral("dropped")},
                                  {QStringLiteral("count"), qint64(count)}};
        m_writer(QJsonDocument(object).toJson(QJsonDocument::Compact) + '\n');
    } else {
        m_writer(now.toUtf8() + " monitor dropped " + QByteArray::number(count) + " events\n");
    }
}

QByteArray AccessLog::formatEvent(const MonitorEvent &event) const
{
    switch (event.type) {
    case Type::HttpExchange:
    case Type::WebSocketOpened:
    case Type::WebSocketClosed:
    case Type::Error:
        if (!lcAccess().isInfoEnabled())
            return {};
        break;
    case Type::WebSocketMessage:
        if (!m_traffic || !lcTraffic().isInfoEnabled())
            return {};
        break;
    case Type::ConnectionOpened:
    case Type::ConnectionClosed:
    case Type::RoomJoined:
    case Type::RoomLeft:
        return {};
    }

    const bool textPayload = isTextPayload(event.opcode);
    const qsizetype cap = qMax(0, m_payloadCap);
    const QByteArray payload = textPayload ? cutUtf8(event.payload, cap) : event.payload.left(cap);
    // The monitor may have cut the payload before us: size is the whole message.
    const bool truncated = qMax(event.size, qint64(event.payload.size())) > payload.size();

    if (m_format == Format::Json) {
        QJsonObject object {{QStringLiteral("time"), isoTime(event.timeUs)},
                            {QStringLiteral("connection"), qint64(event.connectionId)}};
        if (!event.peerAddress.isNull()) {
            object.insert(QStringLiteral("peer"), event.peerAddress.toString());
            object.insert(QStringLiteral("port"), event.peerPort);
        }
        if (!event.route.isEmpty())
            object.insert(QStringLiteral("route"), event.route);
        switch (event.type) {
        case Type::HttpExchange:
            object.insert(QStringLiteral("event"), QStringLiteral("http"));
            object.insert(QStringLiteral("method"), QString::fromUtf8(event.method));
            object.insert(QStringLiteral("target"), event.target);
            object.insert(QStringLiteral("status"), event.status);
            object.insert(QStringLiteral("bytesIn"), event.bytesIn);
            object.insert(QStringLiteral("bytesOut"), event.bytesOut);
            object.insert(QStringLiteral("durationMs"), double(event.durationUs) / 1e3);
            break;
        case Type::WebSocketOpened:
            object.insert(QStringLiteral("event"), QStringLiteral("ws_open"));
            object.insert(QStringLiteral("target"), event.target);
            object.insert(QStringLiteral("subprotocol"), event.reason);
            break;
        case Type::WebSocketClosed:
            object.insert(QStringLiteral("event"), QStringLiteral("ws_close"));
            object.insert(QStringLiteral("target"), event.target);
            object.insert(QStringLiteral("closeCode"), event.closeCode);
            object.insert(QStringLiteral("reason"), event.reason);
            object.insert(QStringLiteral("messagesIn"), event.messagesIn);
            object.insert(QStringLiteral("messagesOut"), event.messagesOut);
            object.insert(QStringLiteral("bytesIn"), event.bytesIn);
            object.insert(QStringLiteral("bytesOut"), event.bytesOut);
            object.insert(QStringLiteral("durationMs"), double(event.durationUs) / 1e3);
            break;
        case Type::WebSocketMessage:
            object.insert(QStringLiteral("event"), QStringLiteral("ws_message"));
            object.insert(QStringLiteral("direction"), event.direction == Direction::Incoming
                                                               ? QStringLiteral("in")
                                                               : QStringLiteral("out"));
            object.insert(QStringLiteral("opcode"), MonitorEvent::opcodeName(event.opcode));
            object.insert(QStringLiteral("size"), event.size);
            if (textPayload) {
                object.insert(QStringLiteral("payload"), QString::fromUtf8(payload));
            } else {
                object.insert(QStringLiteral("payload"), QString::fromLatin1(payload.toBase64()));
                object.insert(QStringLiteral("payloadEncoding"), QStringLiteral("base64"));
            }
            object.insert(QStringLiteral("truncated"), truncated);
            break;
        case Type::Error:
            object.insert(QStringLiteral("event"), QStringLiteral("error"));
            if (event.status)
                object.insert(QStringLiteral("status"), event.status);
            if (event.closeCode)
                object.insert(QStringLiteral("closeCode"), event.closeCode);
            object.insert(QStringLiteral("reason"), event.reason);
            break;
        default:
            return {};
        }
        return QJsonDocument(object).toJson(QJsonDocument::Compact) + '\n';
    }

    QByteArray line = isoTime(event.timeUs).toUtf8() + ' ' + peer(event) + " #"
                      + QByteArray::number(event.connectionId) + ' ';
    switch (event.type) {
    case Type::HttpExchange:
        line += quoted(QString::fromUtf8(event.method) + u' ' + event.target) + ' '
                + QByteArray::number(event.status) + ' ' + QByteArray::number(event.bytesOut)
                + "B in " + duration(event.durationUs);
        if (!event.route.isEmpty())
            line += " route=" + field(event.route);
        break;
    case Type::WebSocketOpened:
        line += "ws open " + field(event.target);
        if (!event.route.isEmpty())
            line += " route=" + field(event.route);
        if (!event.reason.isEmpty())
            line += " subprotocol=" + field(event.reason);
        break;
    case Type::WebSocketClosed:
        line += "ws close " + field(event.target) + ' ' + QByteArray::number(event.closeCode) + ' '
                + quoted(event.reason) + ' ' + duration(event.durationUs)
                + " in=" + QByteArray::number(event.messagesIn) + " msgs/"
                + QByteArray::number(event.bytesIn)
                + "B out=" + QByteArray::number(event.messagesOut) + " msgs/"
                + QByteArray::number(event.bytesOut) + 'B';
        break;
    case Type::WebSocketMessage:
        line += QByteArray(event.direction == Direction::Incoming ? "ws <- " : "ws -> ")
                + MonitorEvent::opcodeName(event.opcode).toLatin1() + ' '
                + QByteArray::number(event.size) + 'B';
        if (!payload.isEmpty() || truncated) {
            line += ' ';
            line += textPayload ? quoted(QString::fromUtf8(payload)) : "0x" + payload.toHex();
            if (truncated)
                line += Ellipsis;
        }
        break;
    case Type::Error:
        line += "error " + QByteArray::number(event.status ? event.status : event.closeCode) + ' '
                + quoted(event.reason);
        break;
    default:
        return {};
    }
    return line + '\n';
}

} // namespace sluice
