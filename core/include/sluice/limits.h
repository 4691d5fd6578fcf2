#ifndef SLUICE_LIMITS_H
#define SLUICE_LIMITS_H

#include <QtCore/QtGlobal>

namespace sluice {

// Bounds on what clients may make the server hold, and for how long. Every
// field has a default that is safe on an open network; a size or count of
// 0 is not allowed, a time of 0 turns that timeout off.
struct Limits
{
    // --- HTTP requests
    // The request target (URI); longer is answered 414.
    qint64 maxUriBytes = 8 * 1024;
    // Request line plus headers; more is answered 431.
    qint64 maxHeadBytes = 64 * 1024;
    // Header fields in one request; more is answered 431.
    int maxHeaderCount = 100;
    // A request body, with or without Content-Length; more is answered 413.
    qint64 maxBodyBytes = 16 * 1024 * 1024;
    // A response is buffered to send it with Content-Length; past this it
    // goes out chunked (HTTP/1.1) or close-delimited (HTTP/1.0).
    qint64 responseBufferBytes = 64 * 1024;

    // --- WebSockets (checked as the frame heads arrive, and while a
    // compressed message is inflated, never after the fact)
    // One incoming frame; more closes the socket with 1009.
    qint64 maxWebSocketFrameBytes = 16 * 1024 * 1024;
    // One incoming message, all its frames together (decompressed, with
    // permessage-deflate); more closes with 1009.
    qint64 maxWebSocketMessageBytes = 16 * 1024 * 1024;

    // --- Connections
    // Open connections of all kinds; past it a new one is answered 503 and closed.
    int maxConnections = 10000;
    // Open connections from one client address; past it, 503 and closed.
    int maxConnectionsPerAddress = 256;
    // Bytes a connection may have waiting to be written to a client that
    // reads too slowly. A WebSocket past it is closed with 1008 (or its
    // handler's WebSocket::OverflowPolicy applies); an HTTP response source
    // pauses until the socket drains below it.
    qint64 maxPendingWriteBytes = 4 * 1024 * 1024;

    // --- Timeouts, in milliseconds (0: none)
    // From a connection's first byte (or its previous response) to the end
    // of the request head: slowloris. Answered 408.
    int headTimeoutMs = 10000;
    // Longest pause while a request body arrives. Answered 408.
    int bodyTimeoutMs = 30000;
    // An idle keep-alive connection between requests is closed after this.
    int keepAliveTimeoutMs = 30000;
    // Longest stall of a response the client does not read: cut after it.
    int sendTimeoutMs = 60000;
    // A TLS handshake must finish within this; so must a WebSocket upgrade
    // handed to QtWebSockets' engine (QWebSocketServer applies no timeout to
    // handed-off sockets). Sluice's own engine answers an upgrade at once.
    int handshakeTimeoutMs = 10000;
    // A WebSocket heard nothing from for this long is pinged...
    int webSocketPingIntervalMs = 30000;
    // ...and closed when no pong (or anything else) comes back within this.
    int webSocketPongTimeoutMs = 10000;
    // A WebSocket the server closed and whose client has not answered with
    // its close frame this long after is cut; so is a closed connection
    // whose last bytes (or the client's FIN) have not come by then.
    int webSocketCloseTimeoutMs = 5000;

    // Bytes of each message payload copied into monitor events.
    int monitorPayloadBytes = 4096;
};

} // namespace sluice

#endif // SLUICE_LIMITS_H
