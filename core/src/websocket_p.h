#ifndef SLUICE_WEBSOCKET_P_H
#define SLUICE_WEBSOCKET_P_H

#include <sluice/httprequest.h>
#include <sluice/route.h>

#include <QtCore/QHash>
#include <QtCore/QPointer>
#include <QtCore/QVariant>
#include <QtNetwork/QTcpSocket>

namespace sluice {

// What the HTTP side learnt about an upgrade before handing the socket on.
struct WebSocketContext
{
    quint64 id = 0;
    Route route;
    QHash<QString, QString> params;
    HttpRequest request;
    QVariantHash dataset;
    qint64 openedUs = 0;
    qint64 handedOffMs = 0; // Worker::nowMs(), for the handshake timeout
    // Qt 6.4's QWebSocket does not own the socket it was upgraded from.
    QPointer<QTcpSocket> tcpSocket;
};

} // namespace sluice

#endif // SLUICE_WEBSOCKET_P_H
