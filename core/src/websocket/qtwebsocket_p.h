#ifndef SLUICE_QTWEBSOCKET_P_H
#define SLUICE_QTWEBSOCKET_P_H

#include "websocket_p.h"

#include <QtCore/QPointer>

QT_BEGIN_NAMESPACE
class QSslSocket;
class QWebSocket;
QT_END_NAMESPACE

namespace sluice {

// A WebSocket on QtWebSockets' engine (Server::WebSocketEngine::Qt): the
// QWebSocket that QWebSocketServer::handleConnection() made parses and
// writes every frame.
class QtWebSocketPrivate final : public WebSocketPrivate
{
public:
    QtWebSocketPrivate(QWebSocket *socket, std::unique_ptr<WebSocketContext> context,
                       Monitor *monitor, qint64 maxPendingWriteBytes);
    ~QtWebSocketPrivate() override;

    // Connects the QWebSocket's signals to q.
    void created() override;

    bool isConnected() const override;
    qint64 pendingBytes() const override;
    qint64 writeMessage(WebSocketOpcode opcode, QByteArrayView payload) override;
    void writePing(const QByteArray &payload) override;
    void writeClose(int code, const QString &reason) override;
    bool isClosing() const override;
    void cut() override;
    void watchDrain(bool watch) override;
    QString subprotocol() const override;
    QWebSocket *qtSocket() const override { return m_socket; }
    void abandon() override;

private:
    void onDisconnected();

    QWebSocket *m_socket;
    QSslSocket *m_tls = nullptr; // the socket underneath, on a TLS listener
    bool m_closeFrameSent = false;
};

} // namespace sluice

#endif // SLUICE_QTWEBSOCKET_P_H
