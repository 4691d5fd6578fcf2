#ifndef SLUICE_MONITOREVENT_H
#define SLUICE_MONITOREVENT_H

#include <sluice/sluiceglobal.h>

#include <QtCore/QByteArray>
#include <QtCore/QMetaType>
#include <QtCore/QString>
#include <QtNetwork/QHostAddress>

namespace sluice {

// One thing the server did. Which fields are set depends on the type.
struct SLUICE_CORE_EXPORT MonitorEvent
{
    Q_GADGET
public:
    enum class Type : quint8 {
        ConnectionOpened, // peer, local
        ConnectionClosed, // bytesIn, bytesOut, durationUs
        HttpExchange, // method, target, status, route, bytesIn/Out, durationUs
        WebSocketOpened, // route, target, subprotocol
        WebSocketMessage, // direction, opcode, size, payload
        WebSocketClosed, // peer, target, closeCode, reason, durationUs, bytes and messages
        RoomJoined, // room, size: members now
        RoomLeft, // room, size: members now
        Error, // status or closeCode, reason
    };
    Q_ENUM(Type)
    enum class Direction : quint8 { None, Incoming, Outgoing };
    Q_ENUM(Direction)
    enum class Opcode : quint8 { None, Text, Binary, Ping, Pong, Close };
    Q_ENUM(Opcode)

    Type type = Type::Error;
    Direction direction = Direction::None;
    Opcode opcode = Opcode::None;
    quint64 connectionId = 0;
    qint64 timeUs = 0; // microseconds since the epoch
    QString route; // the matched route key
    // Shares one null address: in Qt 6 a default-built QHostAddress
    // allocates, which showed up per message in the profile.
    QHostAddress peerAddress = nullAddress();
    quint16 peerPort = 0;
    QByteArray method;
    QString target; // request target or WebSocket path
    int status = 0; // HTTP status
    int closeCode = 0; // WebSocket close code
    QString reason; // close reason, error text or subprotocol
    QString room; // broadcast room
    qint64 size = 0; // message payload size before capping; room members
    QByteArray payload; // the first Limits::monitorPayloadBytes of a message
    qint64 bytesIn = 0;
    qint64 bytesOut = 0;
    qint64 messagesIn = 0; // WebSocketClosed: data messages (text and binary)
    qint64 messagesOut = 0;
    qint64 durationUs = 0;

    static qint64 now();
    static const QHostAddress &nullAddress();
    static QString typeName(Type type);
    static QString opcodeName(Opcode opcode);
    bool isControlFrame() const
    {
        return opcode == Opcode::Ping || opcode == Opcode::Pong || opcode == Opcode::Close;
    }
};

} // namespace sluice

Q_DECLARE_METATYPE(sluice::MonitorEvent)

#endif // SLUICE_MONITOREVENT_H
