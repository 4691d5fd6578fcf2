#ifndef SLUICE_WEBSOCKET_H
#define SLUICE_WEBSOCKET_H

#include <sluice/httprequest.h>

#include <QtCore/QHash>
#include <QtCore/QObject>
#include <QtCore/QVariant>

#include <limits>

QT_BEGIN_NAMESPACE
class QSslSocket;
class QWebSocket;
QT_END_NAMESPACE

namespace sluice {

class Monitor;
struct Limits;
struct WebSocketContext;

// A WebSocket connection as a ws: handler sees it. Messages in arrive as
// signals, messages out go through the slots; both directions pass through
// here so that the monitor sees them. The object deletes itself after
// closed() has been emitted.
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
    QString subprotocol() const;
    bool isOpen() const;
    OverflowPolicy overflowPolicy() const { return m_overflowPolicy; }
    void setOverflowPolicy(OverflowPolicy policy) { m_overflowPolicy = policy; }
    // Bytes sent but not yet written to the client.
    qint64 pendingBytes() const;
    QVariantHash &dataset() { return m_dataset; }
    // The Qt socket underneath, for what this class does not offer.
    QWebSocket *socket() const { return m_socket; }

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
    friend class Worker;
    WebSocket(QWebSocket *socket, std::unique_ptr<WebSocketContext> context, Monitor *monitor,
              QObject *parent = nullptr);
    void onDisconnected();
    bool writesFrames() const;
    qint64 writeFrame(int opcode, const QByteArray &payload);
    void record(int opcode, int direction, const QByteArray &payload, qint64 size);
    // Whether a message of size may be queued for the client now.
    bool admitOutgoing(qint64 size);
    void onBytesWritten();
    // Called by the worker's sweep: keep-alive pings, and cutting a client
    // that stopped answering them or never answers a close.
    void checkTimeouts(qint64 nowMs, const Limits &limits);
    // Ends the connection with a TCP reset, freeing what the kernel holds.
    void cut();
    // Runs a handler's slots: an exception closes the socket with 1011
    // instead of unwinding through Qt's event loop.
    template<typename Emit>
    void guarded(Emit &&emitSignal);

    QWebSocket *m_socket;
    QSslSocket *m_tls = nullptr; // the socket underneath, on a TLS listener
    std::unique_ptr<WebSocketContext> m_context;
    Monitor *m_monitor;
    QVariantHash m_dataset;
    qint64 m_openedUs;
    qint64 m_bytesIn = 0;
    qint64 m_bytesOut = 0;
    qint64 m_messagesIn = 0;
    qint64 m_messagesOut = 0;
    // Inside textReceived()/binaryReceived(): answers may gather (writeFrame()).
    bool m_receiving = false;
    bool m_gathering = false;
    qint64 m_maxPendingWriteBytes = std::numeric_limits<qint64>::max();
    // Worker::nowMs() times; 0: not yet.
    qint64 m_lastHeardMs = 0;
    qint64 m_pingSentMs = 0;
    qint64 m_closingSinceMs = 0;
    // Why the server cut the connection, when Qt's close code would not say.
    QString m_cutReason;
    OverflowPolicy m_overflowPolicy = OverflowPolicy::Close;
    bool m_heard = false; // since the last sweep
    bool m_overflowed = false;
    bool m_closeFrameSent = false;
    bool m_closed = false;
};

} // namespace sluice

#endif // SLUICE_WEBSOCKET_H
