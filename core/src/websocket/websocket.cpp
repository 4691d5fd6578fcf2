#include "websocket_p.h"

#include "global/clock_p.h"
#include "global/logging_p.h"

#include <sluice/limits.h>
#include <sluice/monitor.h>

#include <QtCore/QStringEncoder>

namespace sluice {

using Opcode = MonitorEvent::Opcode;
using Direction = MonitorEvent::Direction;

// --- WebSocketPrivate ---------------------------------------------------

WebSocketPrivate::WebSocketPrivate(std::unique_ptr<WebSocketContext> context, Monitor *monitor,
                                   qint64 maxPendingWriteBytes)
    : context(std::move(context))
    , monitor(monitor)
    , dataset(this->context->dataset)
    , openedUs(MonitorEvent::now())
    , maxPendingWriteBytes(maxPendingWriteBytes)
{ }

WebSocketPrivate::~WebSocketPrivate()
{
    if (deletedFlag)
        *deletedFlag = true;
}

WebSocket *WebSocketPrivate::create(std::unique_ptr<WebSocketPrivate> d, QObject *parent)
{
    WebSocketPrivate *raw = d.get();
    auto *socket = new WebSocket(std::move(d), parent);
    raw->q = socket;
    raw->created();
    return socket;
}

QUrl WebSocketPrivate::requestUrl() const
{
    const HttpRequest &request = context->request;
    QUrl url(QString::fromLatin1(request.target()));
    url.setScheme(context->tls ? QStringLiteral("wss") : QStringLiteral("ws"));
    const QUrl host(QStringLiteral("//") + QString::fromLatin1(request.header("Host")));
    url.setHost(host.host());
    url.setPort(host.port());
    return url;
}

void WebSocketPrivate::postOpened(const QString &subprotocol)
{
    if (!monitor->isActive(MonitorEvent::Type::WebSocketOpened))
        return;
    MonitorEvent event;
    event.type = MonitorEvent::Type::WebSocketOpened;
    event.connectionId = context->id;
    event.timeUs = openedUs;
    event.route = context->route.uri();
    event.target = QString::fromUtf8(context->request.target());
    event.reason = subprotocol;
    event.peerAddress = context->request.peerAddress();
    event.peerPort = context->request.peerPort();
    monitor->post(std::move(event));
}

void WebSocketPrivate::record(Opcode opcode, Direction direction, const QByteArray &payload)
{
    count(opcode, direction, payload.size());
    if (!monitor->isActive(MonitorEvent::Type::WebSocketMessage))
        return;
    const qsizetype cap = monitor->payloadCap();
    post(opcode, direction, payload.size(), payload.size() <= cap ? payload : payload.first(cap));
}

void WebSocketPrivate::record(Opcode opcode, Direction direction, QByteArrayView payload)
{
    count(opcode, direction, payload.size());
    if (!monitor->isActive(MonitorEvent::Type::WebSocketMessage))
        return;
    const qsizetype kept = qMin<qsizetype>(payload.size(), monitor->payloadCap());
    post(opcode, direction, payload.size(), payload.first(kept).toByteArray());
}

void WebSocketPrivate::count(Opcode opcode, Direction direction, qint64 size)
{
    const bool data = opcode == Opcode::Text || opcode == Opcode::Binary;
    if (direction == Direction::Incoming) {
        bytesIn += size;
        messagesIn += data;
    } else {
        bytesOut += size;
        messagesOut += data;
    }
}

void WebSocketPrivate::post(Opcode opcode, Direction direction, qint64 size, const QByteArray &kept)
{
    MonitorEvent event;
    event.type = MonitorEvent::Type::WebSocketMessage;
    event.opcode = opcode;
    event.direction = direction;
    event.connectionId = context->id;
    event.timeUs = MonitorEvent::now();
    event.route = context->route.uri();
    event.size = size;
    event.payload = kept;
    monitor->post(std::move(event));
}

bool WebSocketPrivate::admitOutgoing(qint64 size)
{
    // One message larger than the cap still goes out alone; what is bounded
    // is the backlog of a client that does not read.
    const qint64 pending = pendingBytes();
    if (pending == 0 || pending + size <= maxPendingWriteBytes)
        return true;
    if (overflowPolicy == WebSocket::OverflowPolicy::Drop) {
        if (!overflowed) {
            overflowed = true;
            watchDrain(true);
        }
        return false;
    }
    qCInfo(lcWebSocket) << "WebSocket" << context->id << "closed with 1008:" << pending
                        << "bytes wait for a client that does not read";
    q->close(CloseStatus::PolicyViolation, QStringLiteral("client does not read fast enough"));
    return false;
}

void WebSocketPrivate::onDrained()
{
    if (!overflowed || pendingBytes() > maxPendingWriteBytes / 2)
        return;
    overflowed = false;
    watchDrain(false);
    guarded([&] { Q_EMIT q->drained(); });
}

void WebSocketPrivate::checkTimeouts(qint64 nowMs, const Limits &limits)
{
    if (finished)
        return;
    if (closingSinceMs || isClosing()) {
        if (!closingSinceMs)
            closingSinceMs = nowMs;
        else if (limits.webSocketCloseTimeoutMs > 0
                 && nowMs - closingSinceMs >= limits.webSocketCloseTimeoutMs) {
            qCInfo(lcWebSocket) << "WebSocket" << context->id << "cut: no close frame back within"
                                << limits.webSocketCloseTimeoutMs << "ms";
            cut();
        }
        return;
    }
    if (heard || lastHeardMs == 0) {
        heard = false;
        lastHeardMs = nowMs;
        pingSentMs = 0;
        return;
    }
    if (pingSentMs) {
        if (limits.webSocketPongTimeoutMs > 0
            && nowMs - pingSentMs >= limits.webSocketPongTimeoutMs) {
            cutReason = QStringLiteral("no pong within %1 ms").arg(limits.webSocketPongTimeoutMs);
            qCInfo(lcWebSocket).noquote() << "WebSocket" << context->id << "cut:" << cutReason;
            cut();
        }
        return;
    }
    if (limits.webSocketPingIntervalMs > 0
        && nowMs - lastHeardMs >= limits.webSocketPingIntervalMs) {
        q->ping();
        // Without a pong timeout, pings just go on every interval.
        if (limits.webSocketPongTimeoutMs > 0)
            pingSentMs = nowMs;
        else
            lastHeardMs = nowMs;
    }
}

void WebSocketPrivate::failHandler(const QByteArray &what)
{
    qCWarning(lcWebSocket).nospace().noquote()
            << "the handler of " << context->request.target() << " threw" << what
            << "; closing WebSocket " << context->id << " with 1011";
    q->close(CloseStatus::InternalError, QStringLiteral("handler failed"));
}

void WebSocketPrivate::finish(int code, const QString &reason)
{
    if (finished)
        return;
    finished = true;
    postClosed(code, reason);
    WebSocket *socket = q;
    guarded([&] { Q_EMIT socket->closed(code, reason); });
    socket->deleteLater();
}

void WebSocketPrivate::postClosed(int code, const QString &reason)
{
    const qint64 nowUs = MonitorEvent::now();
    if (monitor->isActive(MonitorEvent::Type::WebSocketClosed)) {
        MonitorEvent event;
        event.type = MonitorEvent::Type::WebSocketClosed;
        event.connectionId = context->id;
        event.timeUs = nowUs;
        event.route = context->route.uri();
        event.target = QString::fromUtf8(context->request.target());
        event.peerAddress = context->request.peerAddress();
        event.peerPort = context->request.peerPort();
        event.closeCode = code;
        event.reason = reason;
        event.bytesIn = bytesIn;
        event.bytesOut = bytesOut;
        event.messagesIn = messagesIn;
        event.messagesOut = messagesOut;
        event.durationUs = nowUs - openedUs;
        monitor->post(std::move(event));
    }
    if (monitor->isActive(MonitorEvent::Type::ConnectionClosed)) {
        MonitorEvent closed;
        closed.type = MonitorEvent::Type::ConnectionClosed;
        closed.connectionId = context->id;
        closed.timeUs = nowUs;
        closed.durationUs = nowUs - context->openedUs;
        closed.bytesIn = bytesIn;
        closed.bytesOut = bytesOut;
        monitor->post(std::move(closed));
    }
}

// --- WebSocket ----------------------------------------------------------

WebSocket::WebSocket(std::unique_ptr<WebSocketPrivate> d, QObject *parent)
    : QObject(parent)
    , d(std::move(d))
{ }

WebSocket::~WebSocket()
{
    // Deleted with its server: whoever holds on to it must still hear it go.
    if (!d->finished) {
        d->finished = true;
        d->abandon();
        try {
            Q_EMIT closed(CloseStatus::GoingAway, QStringLiteral("server going away"));
        } catch (...) {
            qCWarning(lcWebSocket) << "a closed() slot threw for WebSocket" << d->context->id;
        }
    }
}

quint64 WebSocket::id() const
{
    return d->context->id;
}

QString WebSocket::path() const
{
    return d->context->request.path();
}

QString WebSocket::param(const QString &name) const
{
    return d->context->params.value(name);
}

QHash<QString, QString> WebSocket::params() const
{
    return d->context->params;
}

QString WebSocket::route() const
{
    return d->context->route.uri();
}

QUrl WebSocket::requestUrl() const
{
    return d->requestUrl();
}

QByteArray WebSocket::header(QByteArrayView name) const
{
    return d->context->request.header(name);
}

HttpHeaders WebSocket::headers() const
{
    return d->context->request.headers();
}

QHostAddress WebSocket::peerAddress() const
{
    return d->context->request.peerAddress();
}

quint16 WebSocket::peerPort() const
{
    return d->context->request.peerPort();
}

QString WebSocket::subprotocol() const
{
    return d->subprotocol();
}

bool WebSocket::isCompressed() const
{
    return d->isCompressed();
}

bool WebSocket::isOpen() const
{
    return !d->finished && d->isConnected();
}

WebSocket::OverflowPolicy WebSocket::overflowPolicy() const
{
    return d->overflowPolicy;
}

void WebSocket::setOverflowPolicy(OverflowPolicy policy)
{
    d->overflowPolicy = policy;
}

qint64 WebSocket::pendingBytes() const
{
    return d->finished ? 0 : d->pendingBytes();
}

QVariantHash &WebSocket::dataset()
{
    return d->dataset;
}

QWebSocket *WebSocket::socket() const
{
    return d->qtSocket();
}

qint64 WebSocket::sendText(const QString &message)
{
    if (!isOpen())
        return -1;
    // A short message is encoded on the stack: toUtf8()'s allocation (and
    // its free) cost more than the copy, once per message.
    constexpr qsizetype ShortText = 256;
    if (message.size() <= ShortText
        && !d->monitor->isActive(MonitorEvent::Type::WebSocketMessage)) {
        char buffer[3 * ShortText];
        QStringEncoder encoder(QStringEncoder::Utf8, QStringConverter::Flag::Stateless);
        const QByteArrayView payload(buffer, encoder.appendToBuffer(buffer, message) - buffer);
        if (!d->admitOutgoing(payload.size()))
            return -1;
        d->count(Opcode::Text, Direction::Outgoing, payload.size());
        return d->writeMessage(WebSocketOpcode::Text, payload);
    }
    const QByteArray payload = message.toUtf8();
    if (!d->admitOutgoing(payload.size()))
        return -1;
    d->record(Opcode::Text, Direction::Outgoing, payload);
    return d->writeMessage(WebSocketOpcode::Text, payload);
}

qint64 WebSocket::sendBinary(const QByteArray &message)
{
    if (!isOpen() || !d->admitOutgoing(message.size()))
        return -1;
    d->record(Opcode::Binary, Direction::Outgoing, message);
    return d->writeMessage(WebSocketOpcode::Binary, message);
}

void WebSocket::ping(const QByteArray &payload)
{
    if (!isOpen())
        return;
    const QByteArray capped = payload.left(WebSocketFrame::MaxControlPayload);
    d->record(Opcode::Ping, Direction::Outgoing, capped);
    d->writePing(capped);
}

void WebSocket::close(int code, const QString &reason)
{
    if (!isOpen())
        return;
    d->record(Opcode::Close, Direction::Outgoing, reason.toUtf8());
    if (!d->closingSinceMs)
        d->closingSinceMs = monotonicMs();
    d->writeClose(code, reason);
}

} // namespace sluice
