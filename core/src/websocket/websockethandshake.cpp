#include "websockethandshake_p.h"

#include <QtCore/QCryptographicHash>

namespace sluice {
namespace WebSocketHandshake {

QByteArray acceptKey(const QByteArray &key)
{
    // RFC 6455 1.3: the key with this GUID appended, SHA-1, base64.
    static constexpr char Guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    QCryptographicHash hash(QCryptographicHash::Sha1);
    hash.addData(key.trimmed());
    hash.addData(QByteArrayView(Guid, sizeof Guid - 1));
    return hash.result().toBase64();
}

QByteArray joinedHeader(const HttpRequest &request, QByteArrayView name)
{
    QByteArray joined;
    const HttpHeaders headers = request.headers();
    for (const HttpHeader &header : headers) {
        if (name.compare(header.first, Qt::CaseInsensitive) != 0)
            continue;
        if (!joined.isEmpty())
            joined += ", ";
        joined += header.second;
    }
    return joined;
}

QString chooseSubprotocol(const QStringList &supported, const HttpRequest &request)
{
    if (supported.isEmpty())
        return QString();
    QStringList offered;
    for (const QByteArray &token : joinedHeader(request, "Sec-WebSocket-Protocol").split(','))
        offered.append(QString::fromLatin1(token.trimmed()));
    for (const QString &protocol : std::as_const(offered)) {
        if (supported.contains(protocol))
            return protocol;
    }
    return QString();
}

QByteArray response(const QByteArray &accept, const QString &subprotocol,
                    const QByteArray &extensions, const QByteArray &serverName)
{
    QByteArray head = "HTTP/1.1 101 Switching Protocols\r\n"
                      "Upgrade: websocket\r\n"
                      "Connection: Upgrade\r\n"
                      "Sec-WebSocket-Accept: "
                      + accept + "\r\n";
    if (!subprotocol.isEmpty())
        head += "Sec-WebSocket-Protocol: " + subprotocol.toLatin1() + "\r\n";
    if (!extensions.isEmpty())
        head += "Sec-WebSocket-Extensions: " + extensions + "\r\n";
    if (!serverName.isEmpty())
        head += "Server: " + serverName + "\r\n";
    head += "\r\n";
    return head;
}

} // namespace WebSocketHandshake
} // namespace sluice
