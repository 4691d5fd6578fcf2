#include "qtwebsocket_p.h"

#include "global/socketcontrol_p.h"

#include <sluice/monitor.h>

#include <QtNetwork/QSslSocket>
#include <QtWebSockets/QWebSocket>

namespace sluice {

using Opcode = MonitorEvent::Opcode;
using Direction = MonitorEvent::Direction;

QtWebSocketPrivate::QtWebSocketPrivate(QWebSocket *socket,
                                       std::unique_ptr<WebSocketContext> context, Monitor *monitor,
                                       qint64 maxPendingWriteBytes)
    : WebSocketPrivate(std::move(context), monitor, maxPendingWriteBytes)
    , m_socket(socket)
    , m_tls(qobject_cast<QSslSocket *>(this->context->tcpSocket.data()))
{ }

QtWebSocketPrivate::~QtWebSocketPrivate() = default;

void QtWebSocketPrivate::created()
{
    m_socket->setParent(q);
    // Children go in the order they came: the QWebSocket before its TCP socket.
    if (context->tcpSocket)
        context->tcpSocket->setParent(q);
    QObject::connect(m_socket, &QWebSocket::textMessageReceived, q, [this](const QString &message) {
        heard = true;
        record(Opcode::Text, Direction::Incoming, message.toUtf8());
        guarded([&] { Q_EMIT q->textReceived(message); });
    });
    QObject::connect(m_socket, &QWebSocket::binaryMessageReceived, q,
                     [this](const QByteArray &message) {
                         heard = true;
                         record(Opcode::Binary, Direction::Incoming, message);
                         guarded([&] { Q_EMIT q->binaryReceived(message); });
                     });
    QObject::connect(m_socket, &QWebSocket::pong, q,
                     [this](quint64 elapsed, const QByteArray &payload) {
                         heard = true;
                         record(Opcode::Pong, Direction::Incoming, payload);
                         guarded([&] { Q_EMIT q->pongReceived(elapsed, payload); });
                     });
    // Qt sends a close frame (its own, or the answer to the client's) just
    // after aboutToClose(); a connection that ends without it was lost.
    QObject::connect(m_socket, &QWebSocket::aboutToClose, q, [this] { m_closeFrameSent = true; });
    QObject::connect(m_socket, &QWebSocket::disconnected, q, [this] { onDisconnected(); });
    const auto written = [this] {
        onDrained();
    };
    QObject::connect(m_socket, &QWebSocket::bytesWritten, q, written);
    if (m_tls)
        QObject::connect(m_tls, &QSslSocket::encryptedBytesWritten, q, written);
}

bool QtWebSocketPrivate::isConnected() const
{
    return m_socket->state() == QAbstractSocket::ConnectedState;
}

qint64 QtWebSocketPrivate::pendingBytes() const
{
    return m_socket->bytesToWrite() + (m_tls ? m_tls->encryptedBytesToWrite() : 0);
}

qint64 QtWebSocketPrivate::writeMessage(WebSocketOpcode opcode, QByteArrayView payload)
{
    if (opcode == WebSocketOpcode::Text)
        return m_socket->sendTextMessage(QString::fromUtf8(payload));
    return m_socket->sendBinaryMessage(payload.toByteArray());
}

void QtWebSocketPrivate::writePing(const QByteArray &payload)
{
    m_socket->ping(payload);
}

void QtWebSocketPrivate::writeClose(int code, const QString &reason)
{
    m_socket->close(QWebSocketProtocol::CloseCode(code), reason);
}

bool QtWebSocketPrivate::isClosing() const
{
    return m_socket->state() == QAbstractSocket::ClosingState;
}

void QtWebSocketPrivate::cut()
{
    if (context->tcpSocket)
        resetOnClose(context->tcpSocket);
    m_socket->abort();
}

void QtWebSocketPrivate::watchDrain(bool watch)
{
    // bytesWritten is connected for good in start(); onDrained() checks.
    Q_UNUSED(watch);
}

QString QtWebSocketPrivate::subprotocol() const
{
    return m_socket->subprotocol();
}

void QtWebSocketPrivate::abandon()
{
    m_socket->disconnect(q);
    m_socket->close(QWebSocketProtocol::CloseCodeGoingAway, QStringLiteral("server going away"));
}

void QtWebSocketPrivate::onDisconnected()
{
    // A connection that ended without a close frame is 1006 (RFC 6455
    // 7.1.5), whoever cut it; Qt's closeCode() would still say 1000.
    if (cutReason.isEmpty() && !m_closeFrameSent)
        cutReason = QStringLiteral("connection lost without a close frame");
    if (!cutReason.isEmpty())
        finish(CloseStatus::Abnormal, cutReason);
    else
        finish(int(m_socket->closeCode()), m_socket->closeReason());
}

} // namespace sluice
