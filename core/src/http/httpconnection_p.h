#ifndef SLUICE_HTTPCONNECTION_P_H
#define SLUICE_HTTPCONNECTION_P_H

#include "requestparser_p.h"
#include "responsesink_p.h"

#include <sluice/httpconnect.h>
#include <sluice/limits.h>

#include <QtCore/QObject>
#include <QtCore/QPointer>

QT_BEGIN_NAMESPACE
class QSslSocket;
class QTcpSocket;
QT_END_NAMESPACE

namespace sluice {

class Worker;

// One TCP connection while it speaks HTTP/1.1. Heads are parsed on peeked
// bytes, so that a WebSocket upgrade leaves the socket untouched for
// QWebSocketServer; everything else is consumed exactly as far as the parser
// got, which keeps pipelined requests (and a later upgrade) intact. Requests
// are answered one at a time, in order; the next is not parsed until the
// current response has ended, and the socket's bounded read buffer pushes
// back on a client that pipelines too far ahead.
class HttpConnection : public QObject, public ResponseSink
{
    Q_OBJECT
public:
    // A refusing connection answers its first request with 503 and closes:
    // the server is at Limits::maxConnections or maxConnectionsPerAddress.
    HttpConnection(QTcpSocket *socket, Worker *worker, quint64 id, const Limits &limits,
                   bool refusing = false);
    ~HttpConnection() override;

    quint64 id() const { return m_id; }
    bool isRefusing() const { return m_refusing; }
    // Called by the worker's sweep: ends a connection whose head, body,
    // keep-alive wait or stalled response has gone on for too long.
    void checkTimeouts(qint64 nowMs);
    // Ends the connection once the response in flight (if any) is sent.
    void closeWhenIdle();
    // Cuts the connection now, response in flight or not.
    void abort();

    void sendHead(const HttpResponse &response, qint64 contentLength) override;
    void sendBody(const QByteArray &data) override;
    void finishResponse() override;
    void abortResponse() override;
    qint64 pendingBytes() const override;
    qint64 pendingBytesLimit() const override { return m_limits.maxPendingWriteBytes; }

private:
    enum class State { ReadingHead, ReadingBody, Dispatching, HandedOff, Closing };

    void processInput();
    void scheduleProcessInput();
    bool onHeadComplete();
    void startExchange();
    void startWebSocket();
    // The bytes of the upgrade request's head, all of them still unread.
    qint64 upgradeHeadBytes() const;
    void reject(int status, const QByteArray &detail = QByteArray(),
                const HttpHeaders &headers = HttpHeaders());
    void onDisconnected();
    void write(const QByteArray &data);
    void flushCorked();
    void postExchangeEvent(int status);

    QTcpSocket *m_socket;
    QSslSocket *m_tls = nullptr; // m_socket, when it is one
    Worker *m_worker;
    quint64 m_id;
    Limits m_limits;
    RequestParser m_parser;
    State m_state = State::ReadingHead;
    QPointer<HttpConnect> m_connect;
    qsizetype m_peeked = 0; // head bytes parsed but left in the socket
    qint64 m_openedUs;
    qint64 m_exchangeStartUs = 0;
    qint64 m_requestBytes = 0; // of the exchange in flight
    qint64 m_responseBytes = 0;
    qint64 m_declaredLength = -1; // Content-Length of the response in flight
    qint64 m_totalIn = 0;
    qint64 m_totalOut = 0;
    bool m_keepAlive = true;
    bool m_headOnly = false; // HEAD, 204, 304: no body on the wire
    bool m_chunked = false;
    bool m_inProcess = false;
    QByteArray m_corked;
    QList<HttpConnect *> m_finished; // exchanges to delete as processInput() returns
    bool m_processQueued = false;
    bool m_closeWhenIdle = false;
    bool m_refusing = false;
    // Worker::nowMs() times for the timeouts: when the head being read
    // started (0: no byte of it yet), when the connection went idle between
    // requests, when the body or the response last moved.
    qint64 m_headStartMs = 0;
    qint64 m_idleSinceMs = 0;
    qint64 m_bodyProgressMs = 0;
    qint64 m_writeProgressMs = 0;
};

} // namespace sluice

#endif // SLUICE_HTTPCONNECTION_P_H
