#ifndef SLUICE_WEBSOCKETHANDSHAKE_P_H
#define SLUICE_WEBSOCKETHANDSHAKE_P_H

#include <sluice/httprequest.h>

#include <QtCore/QByteArray>
#include <QtCore/QStringList>

namespace sluice {

// The server's half of the opening handshake (RFC 6455 4.2.2), once the
// HTTP side has checked the request (method, version, key, route, filters).
namespace WebSocketHandshake {

// Sec-WebSocket-Accept for a client's Sec-WebSocket-Key.
QByteArray acceptKey(const QByteArray &key);
// Every value of a comma-separated header that may come more than once,
// joined with commas (RFC 9110 5.3).
QByteArray joinedHeader(const HttpRequest &request, QByteArrayView name);
// The first subprotocol in the client's list that the route offers, as
// QWebSocketServer picks; empty when none, and the 101 then names none.
QString chooseSubprotocol(const QStringList &supported, const HttpRequest &request);
// The 101 response.
QByteArray response(const QByteArray &accept, const QString &subprotocol,
                    const QByteArray &extensions, const QByteArray &serverName);

} // namespace WebSocketHandshake
} // namespace sluice

#endif // SLUICE_WEBSOCKETHANDSHAKE_P_H
