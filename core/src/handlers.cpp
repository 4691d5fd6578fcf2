#include <sluice/contenttype.h>
#include <sluice/handlers.h>
#include <sluice/websocket.h>

namespace sluice {
namespace handlers {

WebSocketHandler contentType()
{
    return [](WebSocket *socket) {
        QObject::connect(socket, &WebSocket::textReceived, socket,
                         [socket](const QString &extension) {
                             socket->sendText(sluice::contentType(extension));
                         });
    };
}

WebSocketHandler echo()
{
    return [](WebSocket *socket) {
        QObject::connect(socket, &WebSocket::textReceived, socket, &WebSocket::sendText);
        QObject::connect(socket, &WebSocket::binaryReceived, socket, &WebSocket::sendBinary);
    };
}

} // namespace handlers
} // namespace sluice
