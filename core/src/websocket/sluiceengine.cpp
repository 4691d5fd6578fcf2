#include "sluiceengine_p.h"

#include "global/clock_p.h"
#include "global/logging_p.h"
#include "global/socketcontrol_p.h"
#include "websockethandshake_p.h"

#include <sluice/monitor.h>

#include <QtCore/QPointer>
#include <QtNetwork/QSslSocket>
#include <QtNetwork/QTcpSocket>

#include <cstring>

#ifdef Q_OS_UNIX
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#endif

namespace sluice {

using Opcode = MonitorEvent::Opcode;
using Direction = MonitorEvent::Direction;

namespace {

// A closed connection's last bytes and the client's FIN are waited for at
// least this long, even with Limits::webSocketCloseTimeoutMs off.
constexpr qint64 MinLingerMs = 1000;

// Bytes the kernel took (0 when its buffer is full), or -1 when the
// connection failed.
qint64 sendTo(int fd, std::initializer_list<QByteArrayView> pieces)
{
#ifdef Q_OS_UNIX
    iovec vectors[4];
    int count = 0;
    for (const QByteArrayView &piece : pieces) {
        if (piece.isEmpty() || count == 4)
            continue;
        vectors[count].iov_base = const_cast<char *>(piece.data());
        vectors[count].iov_len = size_t(piece.size());
        ++count;
    }
    if (count == 0)
        return 0;
    msghdr message {};
    message.msg_iov = vectors;
    message.msg_iovlen = size_t(count);
    for (;;) {
        const ssize_t sent = ::sendmsg(fd, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent >= 0)
            return qint64(sent);
        if (errno == EINTR)
            continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    }
#else
    Q_UNUSED(fd);
    Q_UNUSED(pieces);
    return -1;
#endif
}

void appendPieces(QByteArray *out, std::initializer_list<QByteArrayView> pieces, qint64 skip)
{
    qsizetype total = -skip;
    for (const QByteArrayView &piece : pieces)
        total += piece.size();
    out->reserve(out->size() + total);
    for (const QByteArrayView &piece : pieces) {
        if (skip >= piece.size()) {
            skip -= piece.size();
            continue;
        }
        out->append(piece.sliced(skip));
        skip = 0;
    }
}

qsizetype totalSize(std::initializer_list<QByteArrayView> pieces)
{
    qsizetype total = 0;
    for (const QByteArrayView &piece : pieces)
        total += piece.size();
    return total;
}

} // namespace

// --- closing connections ------------------------------------------------

// A connection whose closing handshake is done: its last bytes go out, the
// server ends its side (the server closes TCP first, RFC 6455 7.1.1), and
// what the client still sends is read and dropped until its FIN. A close
// with unread input would make the kernel answer with a reset that can
// destroy the close frame before the client reads it.
class LingeringClose final : public SocketPoller::Client
{
public:
    LingeringClose(SluiceEngine *engine, int fd, QByteArray unsent, qint64 deadlineMs)
        : m_engine(engine)
        , m_fd(fd)
        , m_unsent(std::move(unsent))
        , m_deadlineMs(deadlineMs)
    { }
    LingeringClose(SluiceEngine *engine, QAbstractSocket *socket, qint64 deadlineMs)
        : m_engine(engine)
        , m_socket(socket)
        , m_deadlineMs(deadlineMs)
    { }
    ~LingeringClose()
    {
        if (m_socket) {
            QObject::disconnect(m_socket, nullptr, m_engine, nullptr);
            m_socket->deleteLater();
        }
    }

    // False when it is done already.
    bool start()
    {
        if (m_socket) {
            // Qt writes what it holds, then closes (with TLS's close_notify).
            QObject::connect(m_socket, &QAbstractSocket::disconnected, m_engine,
                             [this] { m_engine->lingerDone(this); });
            m_socket->disconnectFromHost();
            return m_socket->state() != QAbstractSocket::UnconnectedState;
        }
        if (!m_engine->poller()->add(m_fd, this)) {
            finish(true);
            return false;
        }
        return flush();
    }
    qint64 deadlineMs() const { return m_deadlineMs; }
    void cut() { finish(true); }

private:
    void socketReady(quint32 events) override
    {
        if (!m_shutDown && SocketPoller::isWritable(events) && !flush()) {
            m_engine->lingerDone(this);
            return;
        }
        if (SocketPoller::isReadable(events) && !drain())
            m_engine->lingerDone(this);
    }

    bool flush()
    {
#ifdef Q_OS_UNIX
        while (m_offset < m_unsent.size()) {
            const qint64 sent = sendTo(m_fd, {QByteArrayView(m_unsent).sliced(m_offset)});
            if (sent < 0) {
                finish(true);
                return false;
            }
            if (sent == 0) {
                m_engine->poller()->watchWrite(m_fd, this, true);
                return true;
            }
            m_offset += sent;
        }
        m_unsent = QByteArray();
        m_engine->poller()->watchWrite(m_fd, this, false);
        ::shutdown(m_fd, SHUT_WR);
        m_shutDown = true;
#endif
        return true;
    }

    // Reads and drops the client's input; false once it ended.
    bool drain()
    {
#ifdef Q_OS_UNIX
        for (;;) {
            const ssize_t got = ::recv(m_fd, m_engine->readBuffer(),
                                       size_t(SluiceEngine::ReadBufferBytes), 0);
            if (got > 0)
                continue;
            if (got < 0 && errno == EINTR)
                continue;
            if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                return true;
            finish(got < 0);
            return false;
        }
#else
        return false;
#endif
    }

    void finish(bool reset)
    {
        if (m_socket) {
            // Its disconnected() would call back into the list being walked.
            QObject::disconnect(m_socket, nullptr, m_engine, nullptr);
            if (reset)
                resetConnection(m_socket);
            return;
        }
        if (m_fd < 0)
            return;
#ifdef Q_OS_UNIX
        m_engine->poller()->remove(m_fd, this);
        if (reset) {
            const linger cut {1, 0};
            ::setsockopt(m_fd, SOL_SOCKET, SO_LINGER, &cut, sizeof cut);
        }
        ::close(m_fd);
#endif
        m_fd = -1;
    }

    SluiceEngine *m_engine;
    int m_fd = -1;
    QAbstractSocket *m_socket = nullptr;
    QByteArray m_unsent;
    qsizetype m_offset = 0;
    qint64 m_deadlineMs;
    bool m_shutDown = false;

    friend class SluiceEngine;
};

// --- SluiceEngine ----------------------------------------------------

SluiceEngine::SluiceEngine(QObject *parent)
    : QObject(parent)
    , m_poller(new SocketPoller(this))
    , m_readBuffer(new char[ReadBufferBytes])
    , m_cork(new char[CorkBytes])
{ }

SluiceEngine::~SluiceEngine()
{
    abortLingering();
}

std::unique_ptr<SluiceWebSocketPrivate>
SluiceEngine::accept(QTcpSocket *socket, std::unique_ptr<WebSocketContext> context,
                     const Upgrade &upgrade)
{
    const HttpRequest &request = context->request;
    SluiceWebSocketPrivate::Negotiated negotiated;
    negotiated.subprotocol
            = WebSocketHandshake::chooseSubprotocol(context->route.subprotocols(), request);
    negotiated.compression = context->route.compression();
    QByteArray extensions;
    negotiated.deflate = PerMessageDeflate::negotiate(
            WebSocketHandshake::joinedHeader(request, "Sec-WebSocket-Extensions"),
            negotiated.compression, &extensions);
    const QByteArray response = WebSocketHandshake::response(
            WebSocketHandshake::acceptKey(request.header("Sec-WebSocket-Key")),
            negotiated.subprotocol, extensions, upgrade.serverName);

    // The upgrade request is still in the socket: HTTP only peeked at it.
    socket->skip(context->headBytes);
    QByteArray early = socket->readAll();
    auto d = std::make_unique<SluiceWebSocketPrivate>(this, std::move(context), upgrade.monitor,
                                                      upgrade.limits, negotiated);
    bool onDescriptor = false;
#ifdef Q_OS_UNIX
    // A plain socket with nothing left to write is served from a duplicate
    // of its descriptor; deleting the QTcpSocket closes only the original.
    if (m_poller->isValid() && !qobject_cast<QSslSocket *>(socket) && socket->bytesToWrite() == 0
        && socket->state() == QAbstractSocket::ConnectedState) {
        const int fd = ::fcntl(int(socket->socketDescriptor()), F_DUPFD_CLOEXEC, 0);
        if (fd >= 0 && d->attach(fd))
            onDescriptor = true;
        else if (fd >= 0)
            ::close(fd);
    }
#endif
    if (onDescriptor) {
        // Later: the hand-off may run inside the socket's own readyRead().
        socket->disconnect();
        socket->abort();
        socket->deleteLater();
    } else {
        socket->setParent(this);
        d->attach(socket);
    }
    d->writeBytes(response);
    d->m_early = std::move(early);
    return d;
}

bool SluiceEngine::cork(const SluiceWebSocketPrivate *owner)
{
    // A handler running a nested event loop may process another connection
    // inside the first one's batch: that one writes uncorked.
    if (m_corkOwner)
        return false;
    m_corkOwner = owner;
    return true;
}

bool SluiceEngine::addToCork(std::initializer_list<QByteArrayView> pieces, qsizetype total)
{
    if (m_corkSize + total > CorkBytes)
        return false;
    for (const QByteArrayView &piece : pieces) {
        if (piece.isEmpty())
            continue; // an empty payload's data() may be null
        std::memcpy(m_cork.get() + m_corkSize, piece.data(), size_t(piece.size()));
        m_corkSize += piece.size();
    }
    return true;
}

void SluiceEngine::uncork()
{
    m_corkOwner = nullptr;
    m_corkSize = 0;
}

void SluiceEngine::linger(int fd, QByteArray unsent, qint64 deadlineMs)
{
    auto close = std::make_unique<LingeringClose>(this, fd, std::move(unsent), deadlineMs);
    LingeringClose *raw = close.get();
    m_lingering.push_back(std::move(close));
    if (!raw->start())
        lingerDone(raw);
}

void SluiceEngine::linger(QAbstractSocket *socket, qint64 deadlineMs)
{
    socket->setParent(this);
    auto close = std::make_unique<LingeringClose>(this, socket, deadlineMs);
    LingeringClose *raw = close.get();
    m_lingering.push_back(std::move(close));
    if (!raw->start())
        lingerDone(raw);
}

void SluiceEngine::lingerDone(LingeringClose *close)
{
    for (auto it = m_lingering.begin(); it != m_lingering.end(); ++it) {
        if (it->get() == close) {
            (*it)->finish(false);
            m_lingering.erase(it);
            return;
        }
    }
}

void SluiceEngine::sweep(qint64 nowMs)
{
    for (auto it = m_lingering.begin(); it != m_lingering.end();) {
        if (nowMs >= (*it)->deadlineMs()) {
            (*it)->cut();
            it = m_lingering.erase(it);
        } else {
            ++it;
        }
    }
}

void SluiceEngine::abortLingering()
{
    for (const auto &close : m_lingering)
        close->cut();
    m_lingering.clear();
}

// --- SluiceWebSocketPrivate ---------------------------------------------

SluiceWebSocketPrivate::SluiceWebSocketPrivate(SluiceEngine *engine,
                                               std::unique_ptr<WebSocketContext> context,
                                               Monitor *monitor, const Limits &limits,
                                               const Negotiated &negotiated)
    : WebSocketPrivate(std::move(context), monitor, limits.maxPendingWriteBytes)
    , m_engine(engine)
    , m_reader({limits.maxWebSocketFrameBytes, limits.maxWebSocketMessageBytes})
    , m_subprotocol(negotiated.subprotocol)
    , m_closeTimeoutMs(qMax<qint64>(MinLingerMs, limits.webSocketCloseTimeoutMs))
{
    if (negotiated.deflate) {
        m_deflate = std::make_unique<PerMessageDeflate>(*negotiated.deflate, negotiated.compression,
                                                        engine->deflateStreams());
        m_reader.setDeflate(m_deflate.get());
    }
}

SluiceWebSocketPrivate::~SluiceWebSocketPrivate()
{
    if (m_engine->isCorkedBy(this))
        m_engine->uncork();
    closeTransport();
}

bool SluiceWebSocketPrivate::attach(int fd)
{
    if (!m_engine->poller()->add(fd, this))
        return false;
    m_fd = fd;
    return true;
}

void SluiceWebSocketPrivate::attach(QAbstractSocket *socket)
{
    m_socket = socket;
    m_tls = qobject_cast<QSslSocket *>(socket);
    QObject::connect(socket, &QAbstractSocket::readyRead, socket, [this] { readSocket(); });
    QObject::connect(socket, &QAbstractSocket::disconnected, socket,
                     [this] { lost(QStringLiteral("connection lost without a close frame")); });
    const auto written = [this] {
        if (overflowed)
            onDrained();
    };
    QObject::connect(socket, &QAbstractSocket::bytesWritten, socket, written);
    if (m_tls)
        QObject::connect(m_tls, &QSslSocket::encryptedBytesWritten, socket, written);
}

void SluiceWebSocketPrivate::writeBytes(QByteArrayView bytes)
{
    writePieces({bytes});
}

void SluiceWebSocketPrivate::start()
{
    // A client that left during the hand-off raises no signal any more.
    if (m_socket && m_socket->state() != QAbstractSocket::ConnectedState) {
        lost(QStringLiteral("connection lost without a close frame"));
        return;
    }
    QByteArray early = std::move(m_early);
    if (!early.isEmpty())
        process(early.data(), early.size());
}

qint64 SluiceWebSocketPrivate::pendingBytes() const
{
    qint64 pending = m_out.size() - m_outOffset;
    if (m_engine->isCorkedBy(this))
        pending += m_engine->corkedBytes();
    if (m_socket)
        pending += unsentBytes(m_socket, m_tls);
    return pending;
}

// --- reading ------------------------------------------------------------

void SluiceWebSocketPrivate::socketReady(quint32 events)
{
    if (SocketPoller::isWritable(events) && m_writeWatched) {
        const DeletionGuard guard(this);
        flushOut();
        if (guard.isDeleted() || m_fd < 0)
            return;
    }
    if (SocketPoller::isReadable(events))
        readDescriptor();
}

void SluiceWebSocketPrivate::readDescriptor()
{
#ifdef Q_OS_UNIX
    char *buffer = m_engine->readBuffer();
    const DeletionGuard guard(this);
    // A few buffers a turn at most, so that one busy client cannot starve
    // the others; level-triggered polling brings it back for the rest.
    for (int round = 0; round < 4 && m_fd >= 0; ++round) {
        const ssize_t got = ::recv(m_fd, buffer, size_t(SluiceEngine::ReadBufferBytes), 0);
        if (got > 0) {
            process(buffer, qsizetype(got));
            if (guard.isDeleted() || got < SluiceEngine::ReadBufferBytes)
                return;
            continue;
        }
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        lost(QStringLiteral("connection lost without a close frame"));
        return;
    }
#endif
}

void SluiceWebSocketPrivate::readSocket()
{
    char *buffer = m_engine->readBuffer();
    const DeletionGuard guard(this);
    while (!guard.isDeleted() && m_socket && m_socket->bytesAvailable() > 0) {
        const qint64 got = m_socket->read(buffer, SluiceEngine::ReadBufferBytes);
        if (got <= 0)
            return;
        process(buffer, qsizetype(got));
    }
}

void SluiceWebSocketPrivate::process(char *data, qsizetype size)
{
    heard = true;
    const DeletionGuard guard(this);
    const bool corked = m_fd >= 0 && m_engine->cork(this);
    m_reader.feed(data, size, *this);
    if (!corked)
        return;
    if (guard.isDeleted()) {
        // Deleted by a slot: whatever it had corked is dropped with it.
        m_engine->uncork();
        return;
    }
    takeCork();
}

bool SluiceWebSocketPrivate::messageReceived(WebSocketOpcode opcode, QByteArrayView payload,
                                             QByteArray *buffer)
{
    const bool text = opcode == WebSocketOpcode::Text;
    if (buffer)
        record(text ? Opcode::Text : Opcode::Binary, Direction::Incoming, *buffer);
    else
        record(text ? Opcode::Text : Opcode::Binary, Direction::Incoming, payload);
    // After its close frame the server takes no more messages (RFC 6455 1.4).
    if (m_state != State::Open)
        return m_state != State::Done;
    bool alive;
    if (text) {
        const QString message = QString::fromUtf8(payload);
        alive = guarded([&] { Q_EMIT q->textReceived(message); });
    } else {
        const QByteArray message = buffer ? std::move(*buffer) : payload.toByteArray();
        alive = guarded([&] { Q_EMIT q->binaryReceived(message); });
    }
    return alive && m_state != State::Done;
}

bool SluiceWebSocketPrivate::pingReceived(QByteArrayView payload)
{
    record(Opcode::Ping, Direction::Incoming, payload);
    if (m_state != State::Open)
        return m_state != State::Done;
    // A client that pings without reading meets the same bound as messages.
    if (!admitOutgoing(payload.size()))
        return m_state != State::Done;
    record(Opcode::Pong, Direction::Outgoing, payload);
    writeFrame(WebSocketOpcode::Pong, payload);
    return true;
}

bool SluiceWebSocketPrivate::pongReceived(QByteArrayView payload)
{
    record(Opcode::Pong, Direction::Incoming, payload);
    if (m_state != State::Open)
        return m_state != State::Done;
    const quint64 elapsedMs = m_pingSentUs ? quint64(MonitorEvent::now() - m_pingSentUs) / 1000 : 0;
    const QByteArray copy = payload.toByteArray();
    return guarded([&] { Q_EMIT q->pongReceived(elapsedMs, copy); }) && m_state != State::Done;
}

void SluiceWebSocketPrivate::closeReceived(quint16 code, QByteArrayView reason)
{
    record(Opcode::Close, Direction::Incoming, reason);
    if (m_state == State::Closing) {
        // The answer to the server's close frame: the handshake is done.
        endConnection(m_closeCode, m_closeReason);
        return;
    }
    // Echo the client's code (RFC 6455 5.5.1), then end the connection.
    const QByteArray payload = WebSocketFrame::closePayload(code, QByteArray());
    record(Opcode::Close, Direction::Outgoing, QByteArrayView());
    writeFrame(WebSocketOpcode::Close, payload);
    endConnection(code, QString::fromUtf8(reason));
}

void SluiceWebSocketPrivate::readFailed(quint16 code, const char *why)
{
    const QString reason = QString::fromLatin1(why);
    qCDebug(lcWebSocket).noquote()
            << "WebSocket" << context->id << "failed with" << code << ':' << reason;
    if (m_state == State::Open) {
        record(Opcode::Close, Direction::Outgoing, QByteArrayView(why));
        writeFrame(WebSocketOpcode::Close, WebSocketFrame::closePayload(code, QByteArray(why)));
    }
    endConnection(code, reason);
}

// --- writing ------------------------------------------------------------

qint64 SluiceWebSocketPrivate::writeMessage(WebSocketOpcode opcode, QByteArrayView payload)
{
    if (m_deflate && m_deflate->compresses(payload.size())) {
        QByteArray &compressed = m_engine->compressBuffer();
        if (m_deflate->compress(payload.data(), payload.size(), &compressed)) {
            writeFrame(opcode, compressed, true);
            if (compressed.capacity() > 1024 * 1024)
                compressed = QByteArray();
            return payload.size();
        }
        qCWarning(lcWebSocket) << "WebSocket" << context->id << "sends a message uncompressed:"
                               << "zlib failed";
    }
    writeFrame(opcode, payload);
    return payload.size();
}

void SluiceWebSocketPrivate::writePing(const QByteArray &payload)
{
    m_pingSentUs = MonitorEvent::now();
    writeFrame(WebSocketOpcode::Ping, payload);
}

void SluiceWebSocketPrivate::writeClose(int code, const QString &reason)
{
    if (m_state != State::Open)
        return;
    m_state = State::Closing;
    m_closeCode = quint16(WebSocketFrame::isValidCloseCode(code) ? code : CloseStatus::Normal);
    m_closeReason = reason;
    writeFrame(WebSocketOpcode::Close, WebSocketFrame::closePayload(m_closeCode, reason.toUtf8()));
}

void SluiceWebSocketPrivate::writeFrame(WebSocketOpcode opcode, QByteArrayView payload,
                                        bool compressed)
{
    char head[WebSocketFrame::MaxHeadBytes];
    const int headSize
            = WebSocketFrame::writeHead(head, opcode, quint64(payload.size()), true, compressed);
    writePieces({QByteArrayView(head, headSize), payload});
}

void SluiceWebSocketPrivate::writePieces(std::initializer_list<QByteArrayView> pieces)
{
    if (m_socket) {
        for (const QByteArrayView &piece : pieces)
            m_socket->write(piece.data(), piece.size());
        return;
    }
    if (m_fd < 0 || m_writeFailed)
        return;
    if (m_engine->isCorkedBy(this)) {
        if (m_engine->addToCork(pieces, totalSize(pieces)))
            return;
        // Too much to copy: what is corked goes first, then this on its own.
        takeCork();
        m_engine->cork(this);
    }
    sendPieces(pieces);
}

void SluiceWebSocketPrivate::sendPieces(std::initializer_list<QByteArrayView> pieces)
{
    if (m_out.size() > m_outOffset) {
        appendPieces(&m_out, pieces, 0);
        return;
    }
    const qint64 sent = sendTo(m_fd, pieces);
    if (sent < 0) {
        // The reading side meets the error too and ends the connection.
        m_writeFailed = true;
        return;
    }
    if (sent < totalSize(pieces)) {
        appendPieces(&m_out, pieces, sent);
        watchWrite(true);
    }
}

void SluiceWebSocketPrivate::takeCork()
{
    const QByteArrayView cork = m_engine->corked();
    if (!cork.isEmpty() && m_fd >= 0 && !m_writeFailed)
        sendPieces({cork});
    m_engine->uncork();
}

void SluiceWebSocketPrivate::flushOut()
{
    while (m_out.size() > m_outOffset) {
        const qint64 sent = sendTo(m_fd, {QByteArrayView(m_out).sliced(m_outOffset)});
        if (sent < 0) {
            m_writeFailed = true;
            m_out = QByteArray();
            m_outOffset = 0;
            watchWrite(false);
            return;
        }
        if (sent == 0) {
            // What went out is dropped once it is half the buffer: a client
            // that always lags a little must not make it grow for ever.
            if (m_outOffset >= 64 * 1024 && m_outOffset * 2 >= m_out.size()) {
                m_out.remove(0, m_outOffset);
                m_outOffset = 0;
            }
            return;
        }
        m_outOffset += sent;
    }
    // Caught up: the buffer goes until the client falls behind again.
    m_out = QByteArray();
    m_outOffset = 0;
    watchWrite(false);
    if (overflowed)
        onDrained();
}

void SluiceWebSocketPrivate::watchWrite(bool watch)
{
    if (m_writeWatched == watch || m_fd < 0)
        return;
    m_writeWatched = watch;
    m_engine->poller()->watchWrite(m_fd, this, watch);
}

void SluiceWebSocketPrivate::watchDrain(bool watch)
{
    // Descriptors say when they drain through flushOut(); Qt sockets through
    // bytesWritten, connected in attach().
    Q_UNUSED(watch);
}

// --- ending -------------------------------------------------------------

void SluiceWebSocketPrivate::endConnection(int code, const QString &reason)
{
    m_state = State::Done;
    if (m_engine->isCorkedBy(this))
        takeCork();
    const qint64 deadline = monotonicMs() + m_closeTimeoutMs;
    if (m_fd >= 0) {
        m_engine->poller()->remove(m_fd, this);
        QByteArray unsent = m_out.mid(m_outOffset);
        m_out = QByteArray();
        m_engine->linger(std::exchange(m_fd, -1), std::move(unsent), deadline);
    } else if (m_socket) {
        QObject::disconnect(m_socket, nullptr, m_socket, nullptr);
        m_engine->linger(std::exchange(m_socket, nullptr), deadline);
        m_tls = nullptr;
    }
    finish(code, reason);
}

void SluiceWebSocketPrivate::lost(const QString &why)
{
    if (finished)
        return;
    m_state = State::Done;
    closeTransport();
    finish(CloseStatus::Abnormal, cutReason.isEmpty() ? why : cutReason);
}

void SluiceWebSocketPrivate::cut()
{
    if (finished)
        return;
#ifdef Q_OS_UNIX
    if (m_fd >= 0) {
        const linger reset {1, 0};
        ::setsockopt(m_fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    }
#endif
    if (m_socket) {
        resetOnClose(m_socket);
    }
    m_state = State::Done;
    closeTransport();
    // A close frame of the server's that was never answered keeps its code.
    if (cutReason.isEmpty() && m_closeCode)
        finish(m_closeCode, m_closeReason);
    else
        finish(CloseStatus::Abnormal,
               cutReason.isEmpty() ? QStringLiteral("connection cut") : cutReason);
}

void SluiceWebSocketPrivate::closeTransport()
{
#ifdef Q_OS_UNIX
    if (m_fd >= 0) {
        m_engine->poller()->remove(m_fd, this);
        ::close(std::exchange(m_fd, -1));
    }
#endif
    if (m_socket) {
        QObject::disconnect(m_socket, nullptr, m_socket, nullptr);
        m_socket->abort();
        std::exchange(m_socket, nullptr)->deleteLater();
        m_tls = nullptr;
    }
    m_out = QByteArray();
    m_outOffset = 0;
}

void SluiceWebSocketPrivate::abandon()
{
    // The server goes: a last close frame if the kernel takes it at once.
    if (m_state == State::Open) {
        const QByteArray payload = WebSocketFrame::closePayload(
                CloseStatus::GoingAway, QByteArrayLiteral("server going away"));
        writeFrame(WebSocketOpcode::Close, payload);
        if (m_socket)
            m_socket->flush();
    }
    m_state = State::Done;
    closeTransport();
}

} // namespace sluice
