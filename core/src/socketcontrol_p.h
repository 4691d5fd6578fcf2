#ifndef SLUICE_SOCKETCONTROL_P_H
#define SLUICE_SOCKETCONTROL_P_H

#include <QtNetwork/QAbstractSocket>
#include <QtNetwork/QSslSocket>

#ifdef Q_OS_UNIX
#include <sys/socket.h>
#endif

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

inline void resetConnection(QAbstractSocket *socket)
{
    resetOnClose(socket);
    socket->abort();
}

} // namespace sluice

#endif // SLUICE_SOCKETCONTROL_P_H
