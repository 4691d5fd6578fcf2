#include <sluice/contenttype.h>
#include <sluice/handlers.h>
#include <sluice/httpconnect.h>
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

HttpHandler hello()
{
    return [](HttpConnect &connect) {
        QString name = connect.param(QStringLiteral("name"));
        if (name.isEmpty())
            name = QStringLiteral("world");
        connect.response().setContentType("text/plain; charset=utf-8");
        connect.response().write(QStringLiteral("Hello %1\n").arg(name));
    };
}

} // namespace handlers
} // namespace sluice
