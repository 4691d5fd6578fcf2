#ifndef SLUICE_HANDLERS_H
#define SLUICE_HANDLERS_H

#include <sluice/handler.h>
#include <sluice/sluiceglobal.h>

namespace sluice {
namespace handlers {

// The seed's handler: each text message is a file extension ("js"), and the
// reply is its MIME type from Qt's database (sluice::contentType()).
SLUICE_CORE_EXPORT WebSocketHandler contentType();
// Sends every text and binary message back as it came.
SLUICE_CORE_EXPORT WebSocketHandler echo();
// An HTTP handler for trying a server out: "Hello <name>" as text/plain,
// the name from the route's "name" parameter ("world" without one).
SLUICE_CORE_EXPORT HttpHandler hello();

} // namespace handlers
} // namespace sluice

#endif // SLUICE_HANDLERS_H
