#ifndef SLUICE_HANDLER_H
#define SLUICE_HANDLER_H

#include <functional>

namespace sluice {

class Chain;
class HttpConnect;
class WebSocket;

// A handler for an HTTP route: it answers through HttpConnect::response().
using HttpHandler = std::function<void(HttpConnect &)>;
// A handler for a ws: route: it gets the socket once the handshake is done.
using WebSocketHandler = std::function<void(WebSocket *)>;
// A filter: call the chain to go on; drop it without calling to stop.
using Filter = std::function<void(HttpConnect &, Chain)>;

} // namespace sluice

#endif // SLUICE_HANDLER_H
