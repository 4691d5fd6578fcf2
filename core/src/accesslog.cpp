#include <sluice/accesslog.h>
#include <sluice/monitor.h>

#include <QtCore/QDateTime>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QLoggingCategory>

namespace sluice {

namespace {

Q_LOGGING_CATEGORY(lcAccess, "sluice.access", QtInfoMsg)
Q_LOGGING_CATEGORY(lcTraffic, "sluice.traffic", QtInfoMsg)

QString isoTime(qint64 timeUs)
{
    return QDateTime::fromMSecsSinceEpoch(timeUs / 1000, Qt::UTC).toString(Qt::ISODateWithMs);
}

// Short enough to read, precise enough for a slow request.
QByteArray duration(qint64 us)
{
    if (us >= 10'000'000)
        return QByteArray::number(double(us) / 1e6, 'f', 1) + 's';
    if (us >= 1000)
        return QByteArray::number(double(us) / 1e3, 'f', 1) + "ms";
    return QByteArray::number(us) + "us";
}

QByteArray peer(const MonitorEvent &event)
{
    if (event.peerAddress.isNull())
        return "-";
    const QByteArray address = event.peerAddress.toString().toUtf8();
    if (event.peerAddress.protocol() == QAbstractSocket::IPv6Protocol)
        return '[' + address + "]:" + QByteArray::number(event.peerPort);
    return address + ':' + QByteArray::number(event.peerPort);
}

// A client controls targets, reasons and payloads: quoted and escaped, they
// cannot end the line or fake a field.
QByteArray quoted(const QByteArray &text)
{
    QByteArray out;
    out.reserve(text.size() + 2);
    out += '"';
    for (const char c : text) {
        const uchar u = uchar(c);
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        default:
            if (u < 0x20 || u == 0x7f) {
                out += "\\x";
                out += QByteArray::number(u, 16).rightJustified(2, '0');
            } else {
                out += c;
            }
        }
    }
    out += '"';
    return out;
}

// Targets have no spaces when well formed; quoting only the odd one keeps
// ordinary lines easy to cut with awk.
QByteArray field(const QString &text)
{
    const QByteArray utf8 = text.toUtf8();
    for (const char c : utf8) {
        if (uchar(c) <= 0x20 || c == '"' || c == '\\' || uchar(c) == 0x7f)
            return quoted(utf8);
    }
    return utf8;
}

QString opcodeText(MonitorEvent::Opcode opcode)
{
    return MonitorEvent::opcodeName(opcode).toLower();
}

} // namespace

AccessLog::AccessLog(Monitor *monitor, Writer writer, QObject *parent)
    : QObject(parent)
    , m_monitor(monitor)
    , m_writer(std::move(writer))
{
    m_droppedSeen = monitor->droppedCount();
    connect(monitor, &Monitor::eventsPosted, this, &AccessLog::write);
}

AccessLog::~AccessLog() = default;

void AccessLog::write(const QList<MonitorEvent> &events)
{
    if (!m_writer)
        return;
    for (const MonitorEvent &event : events) {
        const QByteArray line = formatEvent(event);
        if (!line.isEmpty())
            m_writer(line);
    }
    // Dropped events leave holes in the log: say how big.
    const quint64 dropped = m_monitor->droppedCount();
    if (dropped > m_droppedSeen) {
        const quint64 count = dropped - m_droppedSeen;
        m_droppedSeen = dropped;
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
}

QByteArray AccessLog::formatEvent(const MonitorEvent &event) const
{
    using Type = MonitorEvent::Type;
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

    const bool isText = event.opcode == MonitorEvent::Opcode::Text
                        || event.opcode == MonitorEvent::Opcode::Close;
    const QByteArray payload = event.payload.left(qMax(0, m_payloadCap));
    const bool truncated = event.size > payload.size();

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
            object.insert(QStringLiteral("method"), QString::fromLatin1(event.method));
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
            object.insert(QStringLiteral("direction"),
                          event.direction == MonitorEvent::Direction::Incoming
                                  ? QStringLiteral("in")
                                  : QStringLiteral("out"));
            object.insert(QStringLiteral("opcode"), opcodeText(event.opcode));
            object.insert(QStringLiteral("size"), event.size);
            if (isText) {
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

    QByteArray line = isoTime(event.timeUs).toUtf8() + ' ';
    const QByteArray id = '#' + QByteArray::number(event.connectionId);
    switch (event.type) {
    case Type::HttpExchange:
        line += peer(event) + ' ' + id + ' ' + quoted(event.method + ' ' + event.target.toUtf8())
                + ' ' + QByteArray::number(event.status) + ' ' + QByteArray::number(event.bytesOut)
                + "B " + duration(event.durationUs);
        if (!event.route.isEmpty())
            line += " route=" + field(event.route);
        break;
    case Type::WebSocketOpened:
        line += peer(event) + ' ' + id + " ws open " + field(event.target);
        if (!event.route.isEmpty())
            line += " route=" + field(event.route);
        if (!event.reason.isEmpty())
            line += " subprotocol=" + field(event.reason);
        break;
    case Type::WebSocketClosed:
        line += peer(event) + ' ' + id + " ws close " + field(event.target) + ' '
                + QByteArray::number(event.closeCode) + ' ' + quoted(event.reason.toUtf8()) + ' '
                + duration(event.durationUs) + " in=" + QByteArray::number(event.messagesIn) + '/'
                + QByteArray::number(event.bytesIn)
                + "B out=" + QByteArray::number(event.messagesOut) + '/'
                + QByteArray::number(event.bytesOut) + 'B';
        break;
    case Type::WebSocketMessage:
        line += id + " ws " + (event.direction == MonitorEvent::Direction::Incoming ? "<- " : "-> ")
                + opcodeText(event.opcode).toLatin1() + ' ' + QByteArray::number(event.size) + 'B';
        if (!payload.isEmpty() || event.size > 0) {
            line += ' ';
            line += isText ? quoted(payload) : "0x" + payload.toHex();
            if (truncated)
                line += "...";
        }
        break;
    case Type::Error:
        line += peer(event) + ' ' + id + " error "
                + QByteArray::number(event.status ? event.status : event.closeCode) + ' '
                + quoted(event.reason.toUtf8());
        break;
    default:
        return {};
    }
    return line + '\n';
}

} // namespace sluice
