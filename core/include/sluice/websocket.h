#ifndef SLUICE_WEBSOCKET_H
#define SLUICE_WEBSOCKET_H

#include <sluice/httprequest.h>

#include <QtCore/QHash>
#include <QtCore/QObject>
#include <QtCore/QVariant>

#include <memory>

QT_BEGIN_NAMESPACE
class QWebSocket;
QT_END_NAMESPACE

namespace sluice {

class WebSocketPrivate;

// A WebSocket connection as a ws: handler sees it. Messages in arrive as
// signals, messages out go through the slots; both directions pass through
// here so that the monitor sees them. The object deletes itself after
// closed() has been emitted; a slot must not delete it (close() it).
class SLUICE_CORE_EXPORT WebSocket : public QObject
{
    Q_OBJECT
public:
    // What a message sent while more than Limits::maxPendingWriteBytes wait
    // for a slow client meets.
    enum class OverflowPolicy {
        // The socket is closed with 1008 (Policy Violation): the default.
        Close,
        // The message is not sent (sendText()/sendBinary() return -1);
        // drained() follows once the client has caught up.
        Drop,
    };
    Q_ENUM(OverflowPolicy)

    ~WebSocket() override;

    quint64 id() const;
    QString path() const;
    QString param(const QString &name) const;
    QHash<QString, QString> params() const;
    QString route() const;
    QUrl requestUrl() const;
    QByteArray header(QByteArrayView name) const;
    HttpHeaders headers() const;
    QHostAddress peerAddress() const;
    quint16 peerPort() const;
    // The subprotocol agreed in the handshake; empty when none.
    QString subprotocol() const;
    // Whether permessage-deflate was agreed in the handshake: messages are
    // then compressed both ways (RFC 7692).
    bool isCompressed() const;
    bool isOpen() const;
    OverflowPolicy overflowPolicy() const;
    void setOverflowPolicy(OverflowPolicy policy);
    // Bytes sent but not yet written to the client.
    qint64 pendingBytes() const;
    QVariantHash &dataset();
    // The QWebSocket underneath when the server runs QtWebSockets' engine
    // (Server::WebSocketEngine::Qt), for what this class does not offer;
    // null with Sluice's own engine.
    QWebSocket *socket() const;

public Q_SLOTS:
    qint64 sendText(const QString &message);
    qint64 sendBinary(const QByteArray &message);
    void ping(const QByteArray &payload = QByteArray());
    void close(int code = 1000, const QString &reason = QString());

Q_SIGNALS:
    void textReceived(const QString &message);
    void binaryReceived(const QByteArray &message);
    void pongReceived(quint64 elapsedMs, const QByteArray &payload);
    void closed(int code, const QString &reason);
    // After a message was dropped (OverflowPolicy::Drop): the bytes waiting
    // fell to half of Limits::maxPendingWriteBytes.
    void drained();

private:
    friend class WebSocketPrivate;
    explicit WebSocket(std::unique_ptr<WebSocketPrivate> d, QObject *parent = nullptr);

    std::unique_ptr<WebSocketPrivate> d;
};

} // namespace sluice

#endif // SLUICE_WEBSOCKET_H
