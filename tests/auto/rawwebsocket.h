#ifndef SLUICE_RAWWEBSOCKET_H
#define SLUICE_RAWWEBSOCKET_H

// A WebSocket client written frame by frame over a QTcpSocket, for tests
// that need a client misbehaving in ways QWebSocket never does: one that
// never answers pings or the close frame, stops reading, sends oversized or
// half frames, or vanishes with a reset. Every frame the server sends is
// kept, control frames included. Waits spin the test thread's event loop
// with a deadline, so a server in this thread keeps going.

#include <QtCore/QByteArray>
#include <QtCore/QCoreApplication>
#include <QtCore/QCryptographicHash>
#include <QtCore/QElapsedTimer>
#include <QtCore/QEventLoop>
#include <QtCore/QList>
#include <QtCore/QTimer>
#include <QtNetwork/QHostAddress>
#include <QtNetwork/QTcpSocket>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace rawws {

enum Opcode : quint8 {
    Continuation = 0x0,
    Text = 0x1,
    Binary = 0x2,
    Close = 0x8,
    Ping = 0x9,
    Pong = 0xA,
};

struct Frame
{
    bool fin = true;
    bool masked = false;
    quint8 opcode = 0;
    // Bytes before the payload: 2, 4 or 10 (6, 8 or 14 when masked).
    qsizetype headSize = 0;
    QByteArray payload;
    // When it was taken off the wire, in ms on the client's clock.
    qint64 atMs = 0;

    // For close frames: the code in the first two bytes (1005 when absent).
    int closeCode() const
    {
        return payload.size() >= 2 ? (quint8(payload.at(0)) << 8) | quint8(payload.at(1)) : 1005;
    }
    QByteArray closeReason() const { return payload.mid(2); }
};

// A client frame must be masked (RFC 6455 5.3); any mask will do.
inline QByteArray clientFrame(quint8 opcode, const QByteArray &payload, bool fin = true)
{
    static const char mask[4] = {0x3c, char(0xa5), 0x17, char(0xe2)};
    QByteArray frame;
    frame.append(char((fin ? 0x80 : 0x00) | opcode));
    const qint64 size = payload.size();
    if (size < 126) {
        frame.append(char(0x80 | size));
    } else if (size < 65536) {
        frame.append(char(0x80 | 126));
        frame.append(char(size >> 8));
        frame.append(char(size & 0xff));
    } else {
        frame.append(char(0x80 | 127));
        for (int shift = 56; shift >= 0; shift -= 8)
            frame.append(char((size >> shift) & 0xff));
    }
    frame.append(mask, 4);
    const qsizetype start = frame.size();
    frame.append(payload);
    char *data = frame.data() + start;
    for (qsizetype i = 0; i < size; ++i)
        data[i] = char(data[i] ^ mask[i % 4]);
    return frame;
}

inline QByteArray closePayload(int code, const QByteArray &reason = QByteArray())
{
    QByteArray payload;
    payload.append(char(code >> 8));
    payload.append(char(code & 0xff));
    return payload + reason;
}

// Takes one frame off the front of buffer; false while it is incomplete.
inline bool takeFrame(QByteArray &buffer, Frame *frame)
{
    if (buffer.size() < 2)
        return false;
    const quint8 b0 = quint8(buffer.at(0));
    const quint8 b1 = quint8(buffer.at(1));
    qint64 size = b1 & 0x7f;
    qsizetype pos = 2;
    if (size == 126) {
        if (buffer.size() < 4)
            return false;
        size = (quint8(buffer.at(2)) << 8) | quint8(buffer.at(3));
        pos = 4;
    } else if (size == 127) {
        if (buffer.size() < 10)
            return false;
        size = 0;
        for (int i = 2; i < 10; ++i)
            size = (size << 8) | quint8(buffer.at(i));
        pos = 10;
    }
    QByteArray mask;
    if (b1 & 0x80) {
        if (buffer.size() < pos + 4)
            return false;
        mask = buffer.mid(pos, 4);
        pos += 4;
    }
    if (buffer.size() < pos + size)
        return false;
    frame->fin = b0 & 0x80;
    frame->masked = !mask.isEmpty();
    frame->opcode = b0 & 0x0f;
    frame->headSize = pos;
    frame->payload = buffer.mid(pos, size);
    if (!mask.isEmpty()) {
        for (qsizetype i = 0; i < frame->payload.size(); ++i)
            frame->payload[i] = char(frame->payload.at(i) ^ mask.at(i % 4));
    }
    buffer.remove(0, pos + size);
    return true;
}

inline QByteArray upgradeRequest(const QByteArray &path, const QByteArray &extraHeaders = {})
{
    return "GET " + path
           + " HTTP/1.1\r\n"
             "Host: 127.0.0.1\r\n"
             "Upgrade: websocket\r\n"
             "Connection: Upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
             "Sec-WebSocket-Version: 13\r\n"
           + extraHeaders + "\r\n";
}

// Like QTest::qWaitFor, but wakes up as soon as an event comes instead of
// sleeping 10 ms between turns: a client reading a fast stream through a
// small TCP window would otherwise be limited to a window per 10 ms.
template<typename Predicate>
bool waitFor(Predicate predicate, int timeoutMs)
{
    QElapsedTimer clock;
    clock.start();
    QEventLoop loop;
    QTimer tick;
    tick.setInterval(5);
    QObject::connect(&tick, &QTimer::timeout, &loop, &QEventLoop::quit);
    tick.start();
    while (!predicate()) {
        if (clock.elapsed() >= timeoutMs)
            return predicate();
        loop.processEvents(QEventLoop::WaitForMoreEvents);
        QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);
    }
    return true;
}

class Client
{
public:
    Client()
    {
        m_clock.start();
        QObject::connect(&m_socket, &QTcpSocket::readyRead, &m_socket, [this] { drain(); });
        QObject::connect(&m_socket, &QTcpSocket::disconnected, &m_socket, [this] {
            drain();
            markClosed();
        });
        QObject::connect(&m_socket, &QAbstractSocket::errorOccurred, &m_socket,
                         [this](QAbstractSocket::SocketError) {
                             if (m_socket.state() == QAbstractSocket::UnconnectedState)
                                 markClosed();
                         });
    }

    // receiveBufferBytes > 0 sets SO_RCVBUF before connecting (it sizes the
    // TCP window only then), so that a client that stops reading makes the
    // server's data pile up on the server instead of in our kernel.
    bool connectTo(quint16 port, int receiveBufferBytes = 0)
    {
        if (receiveBufferBytes <= 0) {
            m_socket.connectToHost(QHostAddress::LocalHost, port);
            (void)waitFor(
                    [this] {
                        return m_socket.state() == QAbstractSocket::ConnectedState
                               || m_socket.state() == QAbstractSocket::UnconnectedState;
                    },
                    10000);
            return m_socket.state() == QAbstractSocket::ConnectedState;
        }
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0)
            return false;
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receiveBufferBytes, sizeof receiveBufferBytes);
        sockaddr_in address {};
        address.sin_family = AF_INET;
        address.sin_port = htons(port);
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        // On loopback the kernel completes the connection without the
        // server's accept(), so blocking here cannot deadlock.
        if (::connect(fd, reinterpret_cast<sockaddr *>(&address), sizeof address) != 0) {
            ::close(fd);
            return false;
        }
        return m_socket.setSocketDescriptor(fd);
    }

    void send(const QByteArray &bytes)
    {
        m_socket.write(bytes);
        m_socket.flush();
    }
    void sendFrame(quint8 opcode, const QByteArray &payload, bool fin = true)
    {
        send(clientFrame(opcode, payload, fin));
    }
    void sendText(const QByteArray &text) { sendFrame(Text, text); }

    // Sends the upgrade request and reads the answer's head; the status, or
    // -1 when none came. Whatever follows the head stays in the buffer.
    int upgrade(const QByteArray &path, const QByteArray &extraHeaders = {}, int timeoutMs = 10000)
    {
        send(upgradeRequest(path, extraHeaders));
        return readHead(timeoutMs);
    }
    int readHead(int timeoutMs = 10000)
    {
        (void)waitFor([this] { return m_buffer.contains("\r\n\r\n") || m_closed; }, timeoutMs);
        const qsizetype end = m_buffer.indexOf("\r\n\r\n");
        if (end < 0)
            return -1;
        m_head = m_buffer.left(end + 4);
        m_buffer.remove(0, end + 4);
        const QList<QByteArray> parts = m_head.left(m_head.indexOf("\r\n")).split(' ');
        return parts.size() >= 2 ? parts.at(1).toInt() : -1;
    }
    // The head the last upgrade() got, and whether it accepted our key.
    QByteArray head() const { return m_head; }
    bool acceptIsRight() const
    {
        const QByteArray accept = QCryptographicHash::hash("dGhlIHNhbXBsZSBub25jZQ=="
                                                           "258EAFA5-E914-47DA-95CA-C5AB0DC85B11",
                                                           QCryptographicHash::Sha1)
                                          .toBase64();
        return m_head.contains("Sec-WebSocket-Accept: " + accept + "\r\n");
    }

    // The next frame from the server, control frames included. False when
    // none came within timeoutMs or the connection ended first.
    bool nextFrame(Frame *frame, int timeoutMs = 10000)
    {
        bool got = false;
        auto attempt = [&] {
            if (takeFrame(m_buffer, frame)) {
                frame->atMs = m_clock.elapsed();
                m_frames.append(*frame);
                got = true;
            }
            return got || m_closed;
        };
        if (!attempt())
            (void)waitFor(attempt, timeoutMs);
        return got;
    }

    bool waitForClosed(int timeoutMs = 10000)
    {
        return waitFor([this] { return m_closed; }, timeoutMs);
    }
    // A client that stops reading: Qt stops taking bytes from the kernel
    // once its own buffer holds a few, so the server's data backs up.
    void setReading(bool reading)
    {
        m_reading = reading;
        m_socket.setReadBufferSize(reading ? 0 : 1);
        if (reading) {
            // A small SO_RCVBUF from connectTo() would throttle the catch-up.
            const int size = 1024 * 1024;
            ::setsockopt(int(m_socket.socketDescriptor()), SOL_SOCKET, SO_RCVBUF, &size,
                         sizeof size);
            drain();
        }
    }

    // A reset instead of a FIN: SO_LINGER with a zero timeout, then close.
    void reset()
    {
        const qintptr fd = m_socket.socketDescriptor();
        if (fd >= 0) {
            const linger noLinger {1, 0};
            ::setsockopt(int(fd), SOL_SOCKET, SO_LINGER, &noLinger, sizeof noLinger);
        }
        m_socket.abort();
    }
    // No more from us, but we still read: shutdown(SHUT_WR).
    void shutdownWrite()
    {
        m_socket.flush();
        ::shutdown(int(m_socket.socketDescriptor()), SHUT_WR);
    }

    bool isClosed() const { return m_closed; }
    // When the server's FIN or reset was seen, in ms on the client's clock (-1: not yet).
    qint64 closedAtMs() const { return m_closedAtMs; }
    qint64 nowMs() const { return m_clock.elapsed(); }
    QByteArray &buffer() { return m_buffer; }
    const QList<Frame> &frames() const { return m_frames; }
    QTcpSocket &socket() { return m_socket; }

private:
    void drain()
    {
        if (!m_socket.isOpen() || !m_reading)
            return;
        m_buffer += m_socket.readAll();
    }
    void markClosed()
    {
        if (!m_closed) {
            m_closed = true;
            m_closedAtMs = m_clock.elapsed();
        }
    }

    QTcpSocket m_socket;
    QElapsedTimer m_clock;
    QByteArray m_buffer;
    QByteArray m_head;
    QList<Frame> m_frames;
    bool m_reading = true;
    bool m_closed = false;
    qint64 m_closedAtMs = -1;
};

} // namespace rawws

#endif // SLUICE_RAWWEBSOCKET_H
