#ifndef SLUICE_SLUICEENGINE_P_H
#define SLUICE_SLUICEENGINE_P_H

#include "permessagedeflate_p.h"
#include "socketpoller_p.h"
#include "websocket_p.h"
#include "websocketreader_p.h"

#include <sluice/limits.h>

#include <QtCore/QObject>

#include <initializer_list>
#include <list>
#include <optional>

QT_BEGIN_NAMESPACE
class QAbstractSocket;
class QSslSocket;
class QTcpSocket;
QT_END_NAMESPACE

namespace sluice {

class SluiceWebSocketPrivate;
class LingeringClose;

// Sluice's WebSocket engine on one worker thread: it answers upgrades
// (RFC 6455 4.2.2, subprotocols, permessage-deflate) and serves the
// WebSockets that follow, and holds what its connections share so that
// each holds as little as possible: the read buffer that incoming bytes are
// parsed in, the buffer that corks a connection's answers to one batch of
// input into one write, the zlib streams, and the poller.
//
// A plain TCP connection leaves its QTcpSocket behind at the upgrade and is
// served from its descriptor (Linux); a TLS connection keeps its QSslSocket.
class SluiceEngine : public QObject
{
    Q_OBJECT
public:
    explicit SluiceEngine(QObject *parent = nullptr);
    ~SluiceEngine() override;

    struct Upgrade
    {
        const Limits &limits;
        QByteArray serverName;
        Monitor *monitor;
    };
    // Sends the 101 on socket (whose unread bytes start with the upgrade
    // request) and returns the WebSocket's state, serving the connection
    // from then on; the socket is deleted or kept as the engine sees fit.
    std::unique_ptr<SluiceWebSocketPrivate>
    accept(QTcpSocket *socket, std::unique_ptr<WebSocketContext> context, const Upgrade &upgrade);

    // Connections whose closing handshake is done, waiting for their last
    // bytes to leave (and the client's FIN), at most until their deadline.
    int lingeringCount() const { return int(m_lingering.size()); }
    // Cuts lingering closes past their deadline.
    void sweep(qint64 nowMs);
    void abortLingering();

    // --- for the connections
    SocketPoller *poller() { return m_poller; }
    DeflateStreams *deflateStreams() { return &m_deflate; }
    char *readBuffer() { return m_readBuffer.get(); }
    static constexpr qsizetype ReadBufferBytes = 64 * 1024;
    // A scratch buffer for compressed messages on their way out.
    QByteArray &compressBuffer() { return m_compressBuffer; }
    // The cork: answers written while owner's input is processed, copied
    // into one buffer of CorkBytes (plain memory: QByteArray's appends cost
    // more than the copies).
    static constexpr qsizetype CorkBytes = 16 * 1024;
    bool cork(const SluiceWebSocketPrivate *owner);
    bool isCorkedBy(const SluiceWebSocketPrivate *owner) const { return m_corkOwner == owner; }
    qsizetype corkedBytes() const { return m_corkSize; }
    QByteArrayView corked() const { return QByteArrayView(m_cork.get(), m_corkSize); }
    // Appends pieces when they fit; false when they do not.
    bool addToCork(std::initializer_list<QByteArrayView> pieces, qsizetype total);
    void uncork();
    void linger(int fd, QByteArray unsent, qint64 deadlineMs);
    void linger(QAbstractSocket *socket, qint64 deadlineMs);
    void lingerDone(LingeringClose *close);

private:
    SocketPoller *m_poller;
    DeflateStreams m_deflate;
    std::unique_ptr<char[]> m_readBuffer;
    QByteArray m_compressBuffer;
    std::unique_ptr<char[]> m_cork;
    qsizetype m_corkSize = 0;
    const SluiceWebSocketPrivate *m_corkOwner = nullptr;
    std::list<std::unique_ptr<LingeringClose>> m_lingering;
};

// One WebSocket on Sluice's engine: frames in through WebSocketReader,
// frames out written here, on a descriptor or a Qt socket.
class SluiceWebSocketPrivate final : public WebSocketPrivate,
                                     private WebSocketReader::Receiver,
                                     private SocketPoller::Client
{
public:
    struct Negotiated
    {
        QString subprotocol;
        std::optional<DeflateParameters> deflate;
        WebSocketCompression compression;
    };
    SluiceWebSocketPrivate(SluiceEngine *engine, std::unique_ptr<WebSocketContext> context,
                           Monitor *monitor, const Limits &limits, const Negotiated &negotiated);
    ~SluiceWebSocketPrivate() override;

    // Serves the connection from fd (on the engine's poller), or from socket.
    bool attach(int fd);
    void attach(QAbstractSocket *socket);
    void writeBytes(QByteArrayView bytes);
    // Once the handler has connected its slots: reads the bytes that came
    // with the upgrade request, or ends a connection already gone.
    void start();

    bool isConnected() const override { return m_state == State::Open; }
    qint64 pendingBytes() const override;
    qint64 writeMessage(WebSocketOpcode opcode, QByteArrayView payload) override;
    void writePing(const QByteArray &payload) override;
    void writeClose(int code, const QString &reason) override;
    bool isClosing() const override { return m_state == State::Closing; }
    void cut() override;
    void watchDrain(bool watch) override;
    QString subprotocol() const override { return m_subprotocol; }
    bool isCompressed() const override { return bool(m_deflate); }
    void abandon() override;

private:
    enum class State : quint8 { Open, Closing, Done };

    bool messageReceived(WebSocketOpcode opcode, QByteArrayView payload,
                         QByteArray *buffer) override;
    bool pingReceived(QByteArrayView payload) override;
    bool pongReceived(QByteArrayView payload) override;
    void closeReceived(quint16 code, QByteArrayView reason) override;
    void readFailed(quint16 code, const char *why) override;
    void socketReady(quint32 events) override;

    void readDescriptor();
    void readSocket();
    // Parses data (in the engine's read buffer), corking the answers.
    void process(char *data, qsizetype size);
    void writeFrame(WebSocketOpcode opcode, QByteArrayView payload, bool compressed = false);
    void writePieces(std::initializer_list<QByteArrayView> pieces);
    void sendPieces(std::initializer_list<QByteArrayView> pieces);
    void flushOut();
    void watchWrite(bool watch);
    void takeCork();
    // The closing handshake is over: the transport goes to the engine to
    // finish its writes and close, and the handler hears closed().
    void endConnection(int code, const QString &reason);
    // The connection is gone without a closing handshake.
    void lost(const QString &why);
    void closeTransport();

    friend class SluiceEngine;

    SluiceEngine *m_engine;
    int m_fd = -1;
    QAbstractSocket *m_socket = nullptr; // with TLS, or where there is no poller
    QSslSocket *m_tls = nullptr;
    // Bytes the kernel has not taken yet, from m_outOffset on; empty (and
    // unallocated) while the client keeps up.
    QByteArray m_out;
    qsizetype m_outOffset = 0;
    QByteArray m_early;
    WebSocketReader m_reader;
    std::unique_ptr<PerMessageDeflate> m_deflate;
    QString m_subprotocol;
    qint64 m_closeTimeoutMs;
    qint64 m_pingSentUs = 0;
    QString m_closeReason; // what the server closed with
    quint16 m_closeCode = 0;
    State m_state = State::Open;
    bool m_writeWatched = false;
    bool m_writeFailed = false;
};

} // namespace sluice

#endif // SLUICE_SLUICEENGINE_P_H
