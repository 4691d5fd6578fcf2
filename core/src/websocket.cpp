#include <sluice/limits.h>
#include <sluice/monitor.h>
#include <sluice/websocket.h>

#include "clock_p.h"
#include "logging_p.h"
#include "socketcontrol_p.h"
#include "websocket_p.h"

#include <QtCore/QScopedValueRollback>
#include <QtCore/QtEndian>
#include <QtWebSockets/QWebSocket>

namespace sluice {

using Opcode = MonitorEvent::Opcode;
using Direction = MonitorEvent::Direction;

namespace {
// RFC 6455 5.2 opcodes (QWebSocketProtocol keeps its own enum private).
constexpr int FrameText = 0x1;
constexpr int FrameBinary = 0x2;
} // namespace

WebSocket::WebSocket(QWebSocket *socket, std::unique_ptr<WebSocketContext> context,
                     Monitor *monitor, QObject *parent)
    : QObject(parent)
    , m_socket(socket)
    , m_context(std::move(context))
    , m_monitor(monitor)
    , m_dataset(m_context->dataset)
    , m_openedUs(MonitorEvent::now())
{
    socket->setParent(this);
    m_tls = qobject_cast<QSslSocket *>(m_context->tcpSocket.data());
    // Children go in the order they came: the QWebSocket before its TCP socket.
    if (m_context->tcpSocket)
        m_context->tcpSocket->setParent(this);
    connect(socket, &QWebSocket::textMessageReceived, this, [this](const QString &message) {
        m_heard = true;
        if (m_monitor->isActive())
            record(int(Opcode::Text), int(Direction::Incoming), message.toUtf8(), -1);
        const QScopedValueRollback<bool> receiving(m_receiving, true);
        guarded([&] { Q_EMIT textReceived(message); });
    });
    connect(socket, &QWebSocket::binaryMessageReceived, this, [this](const QByteArray &message) {
        m_heard = true;
        if (m_monitor->isActive())
            record(int(Opcode::Binary), int(Direction::Incoming), message, -1);
        const QScopedValueRollback<bool> receiving(m_receiving, true);
        guarded([&] { Q_EMIT binaryReceived(message); });
    });
    connect(socket, &QWebSocket::pong, this, [this](quint64 elapsed, const QByteArray &payload) {
        m_heard = true;
        if (m_monitor->isActive())
            record(int(Opcode::Pong), int(Direction::Incoming), payload, -1);
        guarded([&] { Q_EMIT pongReceived(elapsed, payload); });
    });
    // Qt sends a close frame (its own, or the answer to the client's) just
    // after aboutToClose(); a connection that ends without it was lost.
    connect(socket, &QWebSocket::aboutToClose, this, [this] { m_closeFrameSent = true; });
    connect(socket, &QWebSocket::disconnected, this, &WebSocket::onDisconnected);

    if (m_monitor->isActive()) {
        MonitorEvent event;
        event.type = MonitorEvent::Type::WebSocketOpened;
        event.connectionId = m_context->id;
        event.timeUs = m_openedUs;
        event.route = m_context->route.uri();
        event.target = QString::fromUtf8(m_context->request.target());
        event.reason = socket->subprotocol();
        event.peerAddress = socket->peerAddress();
        event.peerPort = socket->peerPort();
        m_monitor->post(std::move(event));
    }
}

WebSocket::~WebSocket()
{
    // Deleted with its server: whoever holds on to it must still hear it go.
    if (!m_closed) {
        m_closed = true;
        m_socket->disconnect(this);
        m_socket->close(QWebSocketProtocol::CloseCodeGoingAway,
                        QStringLiteral("server going away"));
        try {
            Q_EMIT closed(int(QWebSocketProtocol::CloseCodeGoingAway),
                          QStringLiteral("server going away"));
        } catch (...) {
            qCWarning(lcWebSocket) << "a closed() slot threw for WebSocket" << m_context->id;
        }
    }
}

template<typename Emit>
void WebSocket::guarded(Emit &&emitSignal)
{
    // Copied inside the catch: the exception (and its what()) ends with it.
    QByteArray what;
    try {
        emitSignal();
        return;
    } catch (const std::exception &e) {
        what = QByteArray(": ") + e.what();
    } catch (...) { }
    qCWarning(lcWebSocket).nospace().noquote()
            << "the handler of " << m_context->request.target() << " threw" << what
            << "; closing WebSocket " << m_context->id << " with 1011";
    close(1011, QStringLiteral("handler failed"));
}

quint64 WebSocket::id() const
{
    return m_context->id;
}

QString WebSocket::path() const
{
    return m_context->request.path();
}

QString WebSocket::param(const QString &name) const
{
    return m_context->params.value(name);
}

QHash<QString, QString> WebSocket::params() const
{
    return m_context->params;
}

QString WebSocket::route() const
{
    return m_context->route.uri();
}

QUrl WebSocket::requestUrl() const
{
    // Qt builds it from the NonSecureMode server the socket was handed to.
    QUrl url = m_socket->requestUrl();
    if (m_tls)
        url.setScheme(QStringLiteral("wss"));
    return url;
}

QByteArray WebSocket::header(QByteArrayView name) const
{
    return m_context->request.header(name);
}

HttpHeaders WebSocket::headers() const
{
    return m_context->request.headers();
}

QHostAddress WebSocket::peerAddress() const
{
    return m_socket->peerAddress();
}

quint16 WebSocket::peerPort() const
{
    return m_socket->peerPort();
}

QString WebSocket::subprotocol() const
{
    return m_socket->subprotocol();
}

qint64 WebSocket::pendingBytes() const
{
    return m_socket->bytesToWrite() + (m_tls ? m_tls->encryptedBytesToWrite() : 0);
}

bool WebSocket::isOpen() const
{
    return !m_closed && m_socket->state() == QAbstractSocket::ConnectedState;
}

bool WebSocket::admitOutgoing(qint64 size)
{
    // One message larger than the cap still goes out alone; what is bounded
    // is the backlog of a client that does not read.
    const qint64 pending = pendingBytes();
    if (pending == 0 || pending + size <= m_maxPendingWriteBytes)
        return true;
    if (m_overflowPolicy == OverflowPolicy::Drop) {
        if (!m_overflowed) {
            m_overflowed = true;
            connect(m_socket, &QWebSocket::bytesWritten, this, &WebSocket::onBytesWritten);
            if (m_tls) {
                connect(m_tls, &QSslSocket::encryptedBytesWritten, this,
                        &WebSocket::onBytesWritten);
            }
        }
        return false;
    }
    qCInfo(lcWebSocket) << "WebSocket" << m_context->id << "closed with 1008:" << pending
                        << "bytes wait for a client that does not read";
    close(int(QWebSocketProtocol::CloseCodePolicyViolated),
          QStringLiteral("client does not read fast enough"));
    return false;
}

void WebSocket::onBytesWritten()
{
    if (pendingBytes() > m_maxPendingWriteBytes / 2)
        return;
    disconnect(m_socket, &QWebSocket::bytesWritten, this, &WebSocket::onBytesWritten);
    if (m_tls)
        disconnect(m_tls, &QSslSocket::encryptedBytesWritten, this, &WebSocket::onBytesWritten);
    m_overflowed = false;
    guarded([&] { Q_EMIT drained(); });
}

void WebSocket::cut()
{
    if (m_context->tcpSocket)
        resetOnClose(m_context->tcpSocket);
    m_socket->abort();
}

void WebSocket::checkTimeouts(qint64 nowMs, const Limits &limits)
{
    if (m_closed)
        return;
    if (m_closingSinceMs || m_socket->state() == QAbstractSocket::ClosingState) {
        if (!m_closingSinceMs)
            m_closingSinceMs = nowMs;
        else if (limits.webSocketCloseTimeoutMs > 0
                 && nowMs - m_closingSinceMs >= limits.webSocketCloseTimeoutMs) {
            qCInfo(lcWebSocket) << "WebSocket" << m_context->id << "cut: no close frame back within"
                                << limits.webSocketCloseTimeoutMs << "ms";
            cut();
        }
        return;
    }
    if (m_heard || m_lastHeardMs == 0) {
        m_heard = false;
        m_lastHeardMs = nowMs;
        m_pingSentMs = 0;
        return;
    }
    if (m_pingSentMs) {
        if (limits.webSocketPongTimeoutMs > 0
            && nowMs - m_pingSentMs >= limits.webSocketPongTimeoutMs) {
            m_cutReason = QStringLiteral("no pong within %1 ms").arg(limits.webSocketPongTimeoutMs);
            qCInfo(lcWebSocket).noquote() << "WebSocket" << m_context->id << "cut:" << m_cutReason;
            cut();
        }
        return;
    }
    if (limits.webSocketPingIntervalMs > 0
        && nowMs - m_lastHeardMs >= limits.webSocketPingIntervalMs) {
        ping();
        // Without a pong timeout, pings just go on every interval.
        if (limits.webSocketPongTimeoutMs > 0)
            m_pingSentMs = nowMs;
        else
            m_lastHeardMs = nowMs;
    }
}

qint64 WebSocket::sendText(const QString &message)
{
    if (!isOpen() || !admitOutgoing(message.size()))
        return -1;
    if (!writesFrames()) {
        if (m_monitor->isActive())
            record(int(Opcode::Text), int(Direction::Outgoing), message.toUtf8(), -1);
        return m_socket->sendTextMessage(message);
    }
    const QByteArray payload = message.toUtf8();
    if (m_monitor->isActive())
        record(int(Opcode::Text), int(Direction::Outgoing), payload, -1);
    return writeFrame(FrameText, payload);
}

qint64 WebSocket::sendBinary(const QByteArray &message)
{
    if (!isOpen() || !admitOutgoing(message.size()))
        return -1;
    if (m_monitor->isActive())
        record(int(Opcode::Binary), int(Direction::Outgoing), message, -1);
    if (!writesFrames())
        return m_socket->sendBinaryMessage(message);
    return writeFrame(FrameBinary, message);
}

bool WebSocket::writesFrames() const
{
    // Over TLS the bytes go through QSslSocket: QWebSocket frames them.
    return !m_tls && m_context->tcpSocket;
}

qint64 WebSocket::writeFrame(int opcode, const QByteArray &payload)
{
    // The message goes out as one unmasked frame (RFC 6455 5.2) written to
    // the same TCP socket QWebSocket writes its control frames to, so the
    // order of frames holds; writePieces() hands it to the kernel at once
    // when nothing waits in Qt's buffer. Through QWebSocket every message
    // waited a pass of the event loop and woke it twice (strace), which made
    // the plain Qt echo slower than Node's ws.
    char head[10];
    qsizetype headSize = 2;
    const quint64 size = quint64(payload.size());
    head[0] = char(0x80 | opcode);
    if (size <= 125) {
        head[1] = char(size);
    } else if (size <= 0xFFFF) {
        head[1] = char(126);
        qToBigEndian<quint16>(quint16(size), head + 2);
        headSize = 4;
    } else {
        head[1] = char(127);
        qToBigEndian<quint64>(size, head + 2);
        headSize = 10;
    }
    QTcpSocket *socket = m_context->tcpSocket;
    // Answers to messages that came in one read gather in Qt's buffer and
    // leave in one write after the last of them, as they did through
    // QWebSocket, without waiting for the next pass of the event loop.
    if (m_receiving && socket->bytesAvailable() > 0) {
        m_gathering = true;
        // Copied rather than shared: Qt's buffer then holds few large blocks,
        // and it writes one block per system call.
        socket->write(head, headSize);
        socket->write(payload.constData(), payload.size());
        return payload.size();
    }
    writePieces(socket, {QByteArrayView(head, headSize), payload});
    if (std::exchange(m_gathering, false))
        socket->flush();
    return payload.size();
}

void WebSocket::ping(const QByteArray &payload)
{
    if (!isOpen())
        return;
    if (m_monitor->isActive())
        record(int(Opcode::Ping), int(Direction::Outgoing), payload, -1);
    m_socket->ping(payload);
}

void WebSocket::close(int code, const QString &reason)
{
    if (m_closed || m_socket->state() == QAbstractSocket::UnconnectedState)
        return;
    if (m_monitor->isActive())
        record(int(Opcode::Close), int(Direction::Outgoing), reason.toUtf8(), -1);
    if (!m_closingSinceMs)
        m_closingSinceMs = monotonicMs();
    m_socket->close(QWebSocketProtocol::CloseCode(code), reason);
}

void WebSocket::record(int opcode, int direction, const QByteArray &payload, qint64 size)
{
    MonitorEvent event;
    event.type = MonitorEvent::Type::WebSocketMessage;
    event.opcode = Opcode(opcode);
    event.direction = Direction(direction);
    event.connectionId = m_context->id;
    event.timeUs = MonitorEvent::now();
    event.route = m_context->route.uri();
    event.size = size >= 0 ? size : payload.size();
    event.payload = payload.size() > m_monitor->payloadCap() ? payload.left(m_monitor->payloadCap())
                                                             : payload;
    const bool data = event.opcode == Opcode::Text || event.opcode == Opcode::Binary;
    if (event.direction == Direction::Incoming) {
        m_bytesIn += event.size;
        m_messagesIn += data;
    } else {
        m_bytesOut += event.size;
        m_messagesOut += data;
    }
    m_monitor->post(std::move(event));
}

void WebSocket::onDisconnected()
{
    if (m_closed)
        return;
    m_closed = true;
    // A connection that ended without a close frame is 1006 (RFC 6455
    // 7.1.5), whoever cut it; Qt's closeCode() would still say 1000.
    if (m_cutReason.isEmpty() && !m_closeFrameSent)
        m_cutReason = QStringLiteral("connection lost without a close frame");
    const bool lost = !m_cutReason.isEmpty();
    const int code = lost ? int(QWebSocketProtocol::CloseCodeAbnormalDisconnection)
                          : int(m_socket->closeCode());
    const QString reason = lost ? m_cutReason : m_socket->closeReason();
    if (m_monitor->isActive()) {
        MonitorEvent event;
        event.type = MonitorEvent::Type::WebSocketClosed;
        event.connectionId = m_context->id;
        event.timeUs = MonitorEvent::now();
        event.route = m_context->route.uri();
        event.target = QString::fromUtf8(m_context->request.target());
        // The socket forgets its peer once disconnected; the request did not.
        event.peerAddress = m_context->request.peerAddress();
        event.peerPort = m_context->request.peerPort();
        event.closeCode = code;
        event.reason = reason;
        event.bytesIn = m_bytesIn;
        event.bytesOut = m_bytesOut;
        event.messagesIn = m_messagesIn;
        event.messagesOut = m_messagesOut;
        event.durationUs = event.timeUs - m_openedUs;
        m_monitor->post(std::move(event));
        MonitorEvent closed;
        closed.type = MonitorEvent::Type::ConnectionClosed;
        closed.connectionId = m_context->id;
        closed.timeUs = event.timeUs;
        closed.durationUs = closed.timeUs - m_context->openedUs;
        closed.bytesIn = m_bytesIn;
        closed.bytesOut = m_bytesOut;
        m_monitor->post(std::move(closed));
    }
    guarded([&] { Q_EMIT closed(code, reason); });
    deleteLater();
}

} // namespace sluice
