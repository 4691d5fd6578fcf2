#ifndef SLUICE_LIMITS_H
#define SLUICE_LIMITS_H

#include <QtCore/QtGlobal>

namespace sluice {

// Bounds on what one connection may make the server hold.
struct Limits
{
    // Request line plus headers; more is answered 431.
    qint64 maxHeadBytes = 64 * 1024;
    // A request body, with or without Content-Length; more is answered 413.
    qint64 maxBodyBytes = 16 * 1024 * 1024;
    // A response is buffered to send it with Content-Length; past this it
    // goes out chunked (HTTP/1.1) or close-delimited (HTTP/1.0).
    qint64 responseBufferBytes = 64 * 1024;
    // An incoming WebSocket message; more closes the socket with 1009.
    qint64 maxWebSocketMessageBytes = 16 * 1024 * 1024;
    // Bytes of each message payload copied into monitor events.
    int monitorPayloadBytes = 4096;
};

} // namespace sluice

#endif // SLUICE_LIMITS_H
