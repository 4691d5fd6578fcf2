#ifndef SLUICE_SOCKETCONTROL_P_H
#define SLUICE_SOCKETCONTROL_P_H

#include <QtNetwork/QAbstractSocket>
#include <QtNetwork/QSslSocket>

#ifdef Q_OS_UNIX
#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#endif

#include <initializer_list>

namespace sluice {

// Bytes written to socket that the client has not been sent yet. Over TLS,
// bytesToWrite() only counts what is not encrypted yet: the backlog of a
// slow client is in encryptedBytesToWrite().
inline qint64 unsentBytes(QAbstractSocket *socket, QSslSocket *tls)
{
    return socket->bytesToWrite() + (tls ? tls->encryptedBytesToWrite() : 0);
}

// Cuts a connection with a TCP reset. QAbstractSocket::abort() alone ends in
// a graceful close, and the kernel then keeps retrying whatever a client that
// stopped reading left unsent: the memory a cut is meant to free.
inline void resetOnClose(QAbstractSocket *socket)
{
#ifdef Q_OS_UNIX
    if (const qintptr fd = socket->socketDescriptor(); fd != -1) {
        const linger reset {1, 0};
        ::setsockopt(int(fd), SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    }
#else
    Q_UNUSED(socket);
#endif
}

// Hands bytes straight to the kernel when Qt holds nothing unsent for a
// plain TCP socket, and says how many it took; the caller writes the rest
// through the socket as usual, so the order of bytes is kept. A buffered
// QAbstractSocket::write() waits for the next pass of the event loop, and
// turning its write notifier on and off wakes the loop twice: two of the
// five system calls of an echoed message or a small response (strace).
// The kernel's own errors are left for Qt to meet on its next write.
inline qint64 sendDirect(QAbstractSocket *socket, std::initializer_list<QByteArrayView> pieces)
{
#if defined(Q_OS_UNIX) && defined(MSG_NOSIGNAL)
    if (socket->bytesToWrite() > 0 || socket->state() != QAbstractSocket::ConnectedState
        || qobject_cast<QSslSocket *>(socket) || pieces.size() > 4)
        return 0;
    const qintptr fd = socket->socketDescriptor();
    if (fd == -1)
        return 0;
    iovec vectors[4];
    int count = 0;
    for (const QByteArrayView &piece : pieces) {
        if (piece.isEmpty())
            continue;
        vectors[count].iov_base = const_cast<char *>(piece.data());
        vectors[count].iov_len = size_t(piece.size());
        ++count;
    }
    msghdr message {};
    message.msg_iov = vectors;
    message.msg_iovlen = size_t(count);
    ssize_t sent;
    do {
        sent = ::sendmsg(int(fd), &message, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (sent < 0 && errno == EINTR);
    return sent > 0 ? qint64(sent) : 0;
#else
    Q_UNUSED(socket);
    Q_UNUSED(pieces);
    return 0;
#endif
}

// Writes pieces in order, as much as possible straight to the kernel
// (sendDirect()) and the rest through Qt's buffer. Returns the bytes Qt
// took into its buffer.
inline qint64 writePieces(QAbstractSocket *socket, std::initializer_list<QByteArrayView> pieces)
{
    qint64 skip = sendDirect(socket, pieces);
    qint64 buffered = 0;
    for (const QByteArrayView &piece : pieces) {
        if (skip >= piece.size()) {
            skip -= piece.size();
            continue;
        }
        const QByteArrayView rest = piece.sliced(skip);
        skip = 0;
        buffered += rest.size();
        socket->write(rest.data(), rest.size());
    }
    return buffered;
}

inline void resetConnection(QAbstractSocket *socket)
{
    resetOnClose(socket);
    socket->abort();
}

} // namespace sluice

#endif // SLUICE_SOCKETCONTROL_P_H
