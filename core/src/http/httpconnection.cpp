#include "global/logging_p.h"
#include "global/socketcontrol_p.h"
#include "httpconnection_p.h"
#include "routing/dispatcher_p.h"
#include "server/worker_p.h"
#include "websocket/websocket_p.h"

#include <sluice/httpstatus.h>
#include <sluice/monitor.h>
#include <sluice/router.h>

#include <QtCore/QScopeGuard>
#include <QtCore/QScopedValueRollback>
#include <QtCore/QVarLengthArray>
#include <QtNetwork/QTcpSocket>

#include <charconv>
#include <cstring>

namespace sluice {

namespace {

int hostCount(const HttpRequest &request)
{
    int count = 0;
    // A const copy: iterating the returned temporary would detach it, a
    // copy of every header per request (callgrind).
    const HttpHeaders headers = request.headers();
    for (const HttpHeader &header : headers)
        count += header.first.compare("Host", Qt::CaseInsensitive) == 0;
    return count;
}

// Writes gathered while a batch of input is processed, at most.
constexpr qsizetype CorkBytes = 16 * 1024;
constexpr qsizetype KeptCorkBytes = 2 * 1024;

// At or below this many unsent bytes, a streaming handler is told to write more.
constexpr qint64 DrainedBytes = 64 * 1024;
} // namespace

HttpConnection::HttpConnection(QTcpSocket *socket, Worker *worker, quint64 id, const Limits &limits,
                               bool refusing)
    : QObject(worker)
    , m_socket(socket)
    , m_worker(worker)
    , m_id(id)
    , m_limits(limits)
    , m_parser(limits)
    , m_openedUs(MonitorEvent::now())
    , m_refusing(refusing)
    // A new connection owes its first head from the moment it is accepted.
    , m_headStartMs(worker->nowMs())
{
    socket->setParent(this);
    // One byte over the head limit tells a head that is too large from one
    // that is still arriving; while a response is in flight, a full buffer
    // stops Qt reading, so a pipelining client is held back by TCP.
    socket->setReadBufferSize(qMax<qint64>(limits.maxHeadBytes + 1, 16 * 1024));
    connect(socket, &QTcpSocket::readyRead, this, &HttpConnection::processInput);
    connect(socket, &QTcpSocket::disconnected, this, &HttpConnection::onDisconnected);
    m_tls = qobject_cast<QSslSocket *>(socket);
    const auto onWritten = [this] {
        m_writeProgressMs = m_worker->nowMs();
        if (!m_connect || !m_socket
            || unsentBytes(m_socket, m_tls) > qMin(DrainedBytes, m_limits.maxPendingWriteBytes / 2))
            return;
        // A throwing slot must not unwind through Qt's event loop.
        try {
            Q_EMIT m_connect->drained();
        } catch (...) {
            qCWarning(lcHttp) << "connection" << m_id << "a drained() slot threw";
            abortResponse();
        }
    };
    connect(socket, &QTcpSocket::bytesWritten, this, onWritten);
    if (m_tls)
        connect(m_tls, &QSslSocket::encryptedBytesWritten, this, onWritten);
    connect(socket, &QAbstractSocket::errorOccurred, this, [this](QAbstractSocket::SocketError) {
        if (m_socket && m_socket->state() == QAbstractSocket::UnconnectedState)
            onDisconnected();
    });

    if (Monitor *monitor = m_worker->monitor();
        monitor->isActive(MonitorEvent::Type::ConnectionOpened)) {
        MonitorEvent event;
        event.type = MonitorEvent::Type::ConnectionOpened;
        event.connectionId = m_id;
        event.timeUs = m_openedUs;
        event.peerAddress = socket->peerAddress();
        event.peerPort = socket->peerPort();
        monitor->post(std::move(event));
    }
    // Bytes that came before this connection took the socket (with the end
    // of a TLS handshake, or while the socket moved to this worker's thread)
    // raise no readyRead of their own.
    if (socket->bytesAvailable() > 0)
        QMetaObject::invokeMethod(this, &HttpConnection::processInput, Qt::QueuedConnection);
}

HttpConnection::~HttpConnection() = default;

void HttpConnection::closeWhenIdle()
{
    m_closeWhenIdle = true;
    if (m_state == State::ReadingHead && m_peeked == 0 && m_socket) {
        m_state = State::Closing;
        flushCorked();
        m_socket->disconnectFromHost();
    }
}

void HttpConnection::abort()
{
    if (m_socket)
        resetConnection(m_socket);
}

void HttpConnection::scheduleProcessInput()
{
    if (m_processQueued)
        return;
    m_processQueued = true;
    QMetaObject::invokeMethod(
            this,
            [this] {
                m_processQueued = false;
                processInput();
            },
            Qt::QueuedConnection);
}

void HttpConnection::processInput()
{
    if (m_inProcess || !m_socket)
        return;
    // Destroyed after the rollback below: the flush sees m_inProcess false.
    const auto flush = qScopeGuard([this] {
        flushCorked();
        qDeleteAll(std::exchange(m_finished, {}));
    });
    QScopedValueRollback<bool> inProcess(m_inProcess, true);

    while (m_state == State::ReadingHead || m_state == State::ReadingBody) {
        const qint64 available = m_socket->bytesAvailable();
        if (m_state == State::ReadingHead && available > 0 && m_headStartMs == 0) {
            m_headStartMs = m_worker->nowMs();
            m_idleSinceMs = 0;
        }
        if (available <= m_peeked) {
            if (m_state == State::ReadingHead && m_peeked > m_limits.maxHeadBytes)
                reject(431);
            return;
        }
        const QByteArray data = m_socket->peek(available);
        qsizetype consumed = 0;
        const auto event
                = m_parser.feed(data.constData() + m_peeked, data.size() - m_peeked, &consumed);
        if (event == RequestParser::Event::Error) {
            reject(m_parser.errorStatus(), m_parser.errorString());
            return;
        }
        if (m_state == State::ReadingHead) {
            m_peeked += consumed;
            if (event == RequestParser::Event::NeedMore) {
                if (m_peeked > m_limits.maxHeadBytes)
                    reject(431);
                return;
            }
            // The head is complete (and, for a request without a body, maybe the message).
            if (m_peeked > m_limits.maxHeadBytes) {
                reject(431);
                return;
            }
            if (!onHeadComplete())
                return;
            m_socket->skip(m_peeked);
            m_requestBytes += m_peeked;
            m_totalIn += m_peeked;
            m_peeked = 0;
            m_state = State::ReadingBody;
            m_bodyProgressMs = m_worker->nowMs();
            continue;
        }
        if (consumed > 0)
            m_bodyProgressMs = m_worker->nowMs();
        m_socket->skip(consumed);
        m_requestBytes += consumed;
        m_totalIn += consumed;
        if (event == RequestParser::Event::MessageComplete)
            startExchange();
    }
}

bool HttpConnection::onHeadComplete()
{
    HttpRequest &request = m_parser.request();
    request.setPeer(m_socket->peerAddress(), m_socket->peerPort());
    m_exchangeStartUs = MonitorEvent::now();
    m_keepAlive = m_parser.keepAlive();
    if (m_refusing) {
        reject(503, "too many connections", {{"Retry-After", "5"}});
        return false;
    }

    const QByteArray target = request.target();
    if (target.isEmpty() || (target.at(0) != '/' && target != "*" && !target.contains("://"))) {
        reject(400, "request target is not a path");
        return false;
    }
    if (request.method() == "CONNECT") {
        reject(501, "CONNECT is not supported");
        return false;
    }
    const bool http11 = request.httpMajor() > 1 || request.httpMinor() >= 1;
    // RFC 9112 3.2: exactly one Host on HTTP/1.1.
    if (http11 && hostCount(request) == 0) {
        reject(400, "HTTP/1.1 request without Host");
        return false;
    }
    if (hostCount(request) > 1) {
        reject(400, "more than one Host header");
        return false;
    }
    if (request.isWebSocketUpgrade()) {
        startWebSocket();
        return false;
    }
    // RFC 9110 10.1.1: an expectation from an HTTP/1.0 client is ignored.
    if (http11 && request.hasHeader("Expect")) {
        if (request.header("Expect").compare("100-continue", Qt::CaseInsensitive) != 0) {
            reject(417);
            return false;
        }
        if (m_parser.contentLength() > 0 || m_parser.isChunked())
            write(QByteArrayLiteral("HTTP/1.1 100 Continue\r\n\r\n"));
    }
    return true;
}

void HttpConnection::startExchange()
{
    m_state = State::Dispatching;
    auto *connect = new HttpConnect(m_worker->dispatcher(), m_id, this);
    connect->m_request = std::move(m_parser.request());
    connect->m_response.setSink(this, m_limits.responseBufferBytes);
    m_headOnly = connect->m_request.method() == "HEAD";
    m_chunked = false;
    m_responseBytes = 0;
    m_connect = connect;
    m_worker->dispatcher()->dispatch(connect);
}

void HttpConnection::startWebSocket()
{
    m_state = State::Dispatching;
    HttpRequest &request = m_parser.request();
    // Checked here rather than left to QWebSocketServer, so that every refusal
    // is an HTTP answer of ours (RFC 6455 4.2.1, 4.4).
    if (request.httpMajor() == 1 && request.httpMinor() == 0) {
        reject(400, "WebSocket upgrades need HTTP/1.1");
        return;
    }
    if (request.header("Sec-WebSocket-Version").trimmed() != "13") {
        reject(400, "only WebSocket version 13 is supported", {{"Sec-WebSocket-Version", "13"}});
        return;
    }
    const auto key = QByteArray::fromBase64Encoding(request.header("Sec-WebSocket-Key").trimmed(),
                                                    QByteArray::AbortOnBase64DecodingErrors);
    if (!key || key.decoded.size() != 16) {
        reject(400, "Sec-WebSocket-Key is not 16 bytes in base64");
        return;
    }
    const RouteMatch match = m_worker->router()->match(request.method(), request.path(), true);
    if (match.outcome != RouteMatch::Found) {
        reject(404, "no WebSocket route for this path");
        return;
    }

    auto *connect = new HttpConnect(m_worker->dispatcher(), m_id, this);
    connect->m_request = request;
    connect->m_params = match.params;
    connect->m_route = match.route.uri();
    connect->m_response.setSink(this, m_limits.responseBufferBytes);
    m_headOnly = false;
    m_chunked = false;
    m_responseBytes = 0;
    // A refused upgrade leaves the client expecting 101: nothing sensible can follow.
    m_keepAlive = false;
    m_connect = connect;

    QPointer<HttpConnection> self(this);
    const auto handOff = [self, connect, match] {
        if (!self || !self->m_socket || connect->isFinished())
            return;
        auto context = std::make_unique<WebSocketContext>();
        context->id = self->m_id;
        context->route = match.route;
        context->params = match.params;
        context->request = connect->request();
        context->dataset = connect->dataset();
        context->openedUs = self->m_openedUs;
        context->headBytes = self->upgradeHeadBytes();
        context->tls = self->m_tls != nullptr;
        self->flushCorked();
        QTcpSocket *socket = std::exchange(self->m_socket, nullptr);
        self->m_state = State::HandedOff;
        socket->disconnect(self);
        socket->setReadBufferSize(0);
        self->m_worker->handOff(socket, std::move(context));
        self->m_worker->removeConnection(self, true);
        self->deleteLater();
    };
    m_worker->dispatcher()->dispatch(connect, [self, connect, match, handOff] {
        if (!self || connect->isFinished())
            return;
        self->m_worker->dispatcher()->runFilters(connect, match.route.filters(), handOff);
    });
}

qint64 HttpConnection::upgradeHeadBytes() const
{
    // http_parser pauses at the head's last byte, the LF that ends it, and
    // counts it with what follows: for an upgrade it is the head's still.
    const QByteArray head = m_socket->peek(m_peeked + 1);
    return head.size() == m_peeked + 1 && head.endsWith('\n') ? m_peeked + 1 : m_peeked;
}

void HttpConnection::reject(int status, const QByteArray &detail, const HttpHeaders &headers)
{
    if (!m_socket)
        return;
    if (!detail.isEmpty())
        qCDebug(lcHttp) << "connection" << m_id << "rejected with" << status << ':' << detail;
    const QByteArray body = Dispatcher::errorBody(status, QString::fromUtf8(detail));
    QByteArray response = "HTTP/1.1 " + QByteArray::number(status) + ' '
                          + HttpStatus::reasonPhrase(status) + "\r\nDate: " + m_worker->dateHeader()
                          + "\r\nServer: " + m_worker->serverName() + "\r\n";
    for (const HttpHeader &header : headers)
        response += header.first + ": " + header.second + "\r\n";
    response += "Content-Type: text/plain; charset=utf-8\r\nContent-Length: "
                + QByteArray::number(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    m_responseBytes = response.size();
    write(response);
    postExchangeEvent(status);
    m_state = State::Closing;
    // Unread input left in the kernel makes close() send a reset, which can
    // destroy the answer before the client reads it.
    m_socket->readAll();
    flushCorked();
    m_socket->disconnectFromHost();
}

void HttpConnection::write(const QByteArray &data)
{
    if (!m_socket)
        return;
    // The send timeout measures stalls: it starts when bytes start waiting.
    if (m_corked.isEmpty() && unsentBytes(m_socket, m_tls) == 0)
        m_writeProgressMs = m_worker->nowMs();
    m_totalOut += data.size();
    // While processInput() runs, small writes (a head, a small body, the
    // answers to pipelined requests) gather into one socket write at its
    // end: each write costs Qt a notifier toggle (callgrind).
    if (m_inProcess && m_corked.size() + data.size() <= CorkBytes) {
        m_corked += data;
        return;
    }
    flushCorked();
    m_socket->write(data);
}

void HttpConnection::flushCorked()
{
    if (m_corked.isEmpty())
        return;
    if (m_socket) {
        // drained() promises a signal once the socket took what an exchange
        // wrote: only the bytes of finished exchanges skip Qt's buffer.
        if (m_connect)
            m_socket->write(m_corked);
        else
            writePieces(m_socket, {m_corked});
    }
    // Kept for the next answer while small: an allocation and a copy per
    // response otherwise (callgrind), at most KeptCorkBytes an idle connection.
    if (m_corked.capacity() > KeptCorkBytes)
        m_corked.clear();
    else
        m_corked.resize(0);
}

void HttpConnection::sendHead(const HttpResponse &response, qint64 contentLength)
{
    const int status = response.status();
    const bool bodyless = (status >= 100 && status < 200) || status == 204 || status == 304;
    const bool http10 = m_connect && m_connect->request().httpMinor() == 0
                        && m_connect->request().httpMajor() == 1;
    if (m_closeWhenIdle)
        m_keepAlive = false;

    // The pieces are gathered first and copied once into a buffer of the
    // right size: operator+ chains, then QByteArray::append, were a third and
    // then a fifth of a small response's CPU (callgrind).
    QVarLengthArray<QByteArrayView, 64> pieces;
    const auto add = [&pieces](std::initializer_list<QByteArrayView> views) {
        for (const QByteArrayView &view : views)
            pieces.append(view);
    };
    const auto line = [&add](QByteArrayView name, QByteArrayView value) {
        add({name, ": ", value, "\r\n"});
    };
    // std::to_chars, not snprintf: the latter was 700 instructions a number.
    char statusText[12];
    char *statusEnd = std::to_chars(statusText, statusText + sizeof statusText - 1, status).ptr;
    *statusEnd++ = ' ';
    const qsizetype statusLength = statusEnd - statusText;
    const QByteArray reason = response.reasonPhrase();
    add({"HTTP/1.1 ", QByteArrayView(statusText, statusLength), reason, "\r\n"});
    bool hasDate = false;
    bool hasServer = false;
    const HttpHeaders headers = response.headers(); // const: no detach
    for (const HttpHeader &header : headers) {
        const QByteArray &name = header.first;
        // Framing is the connection's job.
        if (name.compare("Content-Length", Qt::CaseInsensitive) == 0
            || name.compare("Transfer-Encoding", Qt::CaseInsensitive) == 0
            || (name.compare("Connection", Qt::CaseInsensitive) == 0
                && header.second.compare("upgrade", Qt::CaseInsensitive) != 0))
            continue;
        hasDate = hasDate || name.compare("Date", Qt::CaseInsensitive) == 0;
        hasServer = hasServer || name.compare("Server", Qt::CaseInsensitive) == 0;
        line(name, header.second);
    }
    const QByteArray date = hasDate ? QByteArray() : m_worker->dateHeader();
    if (!hasDate)
        line("Date", date);
    if (!hasServer)
        line("Server", m_worker->serverName());
    m_declaredLength = contentLength;
    char lengthText[24];
    if (contentLength >= 0) {
        if (!bodyless) {
            const char *lengthEnd
                    = std::to_chars(lengthText, lengthText + sizeof lengthText, contentLength).ptr;
            line("Content-Length", QByteArrayView(lengthText, lengthEnd - lengthText));
        }
    } else if (!bodyless && !m_headOnly) {
        if (http10)
            m_keepAlive = false; // the end of the body is the end of the connection
        else {
            m_chunked = true;
            line("Transfer-Encoding", "chunked");
        }
    }
    if (bodyless)
        m_headOnly = true;
    if (!m_keepAlive)
        line("Connection", "close");
    else if (http10)
        line("Connection", "keep-alive");
    pieces.append("\r\n");

    qsizetype size = 0;
    for (const QByteArrayView &piece : pieces)
        size += piece.size();
    QByteArray head(size, Qt::Uninitialized);
    char *out = head.data();
    for (const QByteArrayView &piece : pieces) {
        std::memcpy(out, piece.data(), size_t(piece.size()));
        out += piece.size();
    }
    m_responseBytes += head.size();
    write(head);
}

void HttpConnection::sendBody(const QByteArray &data)
{
    if (m_headOnly || data.isEmpty())
        return;
    // Streaming sources wait for drained(); one that does not would make the
    // server buffer a slow client's download without bound.
    const qint64 unsent = m_socket ? unsentBytes(m_socket, m_tls) : 0;
    if (unsent > 0 && unsent + data.size() > m_limits.maxPendingWriteBytes) {
        qCWarning(lcHttp) << "connection" << m_id << "cut: the handler wrote past"
                          << m_limits.maxPendingWriteBytes
                          << "unsent bytes (Limits::maxPendingWriteBytes) without waiting for "
                             "drained()";
        abortResponse();
        return;
    }
    if (m_chunked) {
        const QByteArray frame = QByteArray::number(data.size(), 16) + "\r\n";
        m_responseBytes += frame.size() + data.size() + 2;
        write(frame);
        write(data);
        write(QByteArrayLiteral("\r\n"));
    } else {
        m_responseBytes += data.size();
        write(data);
    }
}

void HttpConnection::finishResponse()
{
    if (m_connect && m_declaredLength >= 0 && !m_headOnly
        && m_connect->response().bodyBytes() != m_declaredLength) {
        qCWarning(lcHttp) << "connection" << m_id << "response body is"
                          << m_connect->response().bodyBytes() << "bytes, not the"
                          << m_declaredLength << "its Content-Length promised";
        abortResponse();
        return;
    }
    if (m_chunked) {
        m_responseBytes += 5;
        write(QByteArrayLiteral("0\r\n\r\n"));
    }
    const int status = m_connect ? m_connect->response().status() : 0;
    postExchangeEvent(status);
    if (m_connect) {
        HttpConnect *connect = m_connect;
        m_connect = nullptr;
        Q_EMIT connect->finished();
        // Inside processInput() the exchange is deleted when it returns: a
        // deleteLater() per request was a tenth of a small response's
        // instructions (a posted event each; callgrind).
        if (m_inProcess)
            m_finished.append(connect);
        else
            connect->deleteLater();
    }
    if (!m_socket)
        return;
    if (!m_keepAlive || m_closeWhenIdle) {
        m_state = State::Closing;
        flushCorked();
        m_socket->disconnectFromHost();
        return;
    }
    m_state = State::ReadingHead;
    m_parser.reset();
    m_requestBytes = 0;
    m_headStartMs = 0;
    m_idleSinceMs = m_worker->nowMs();
    // Pipelined requests may be waiting in the buffer: no readyRead will come for them.
    if (!m_inProcess)
        scheduleProcessInput();
}

qint64 HttpConnection::pendingBytes() const
{
    return m_socket ? unsentBytes(m_socket, m_tls) : 0;
}

void HttpConnection::abortResponse()
{
    qCWarning(lcHttp) << "connection" << m_id
                      << "aborted: the response failed after its head was sent";
    postExchangeEvent(m_connect ? m_connect->response().status() : 500);
    m_state = State::Closing;
    if (m_socket)
        resetConnection(m_socket);
}

void HttpConnection::postExchangeEvent(int status)
{
    Monitor *monitor = m_worker->monitor();
    if (!monitor->isActive(MonitorEvent::Type::HttpExchange))
        return;
    MonitorEvent event;
    event.type = MonitorEvent::Type::HttpExchange;
    event.connectionId = m_id;
    event.timeUs = MonitorEvent::now();
    if (m_connect) {
        const HttpRequest &request = m_connect->request();
        event.method = request.method();
        event.target = QString::fromUtf8(request.target());
        event.route = m_connect->route();
        event.peerAddress = request.peerAddress();
        event.peerPort = request.peerPort();
    } else {
        const HttpRequest &request = m_parser.request();
        event.method = request.method();
        event.target = QString::fromUtf8(request.target());
    }
    event.status = status;
    event.bytesIn = m_requestBytes + m_peeked;
    event.bytesOut = m_responseBytes;
    event.durationUs = m_exchangeStartUs ? event.timeUs - m_exchangeStartUs : 0;
    monitor->post(std::move(event));
}

void HttpConnection::checkTimeouts(qint64 nowMs)
{
    if (!m_socket)
        return;
    const auto expired = [nowMs](qint64 sinceMs, int timeoutMs) {
        return timeoutMs > 0 && sinceMs > 0 && nowMs - sinceMs >= timeoutMs;
    };
    switch (m_state) {
    case State::ReadingHead: {
        const bool started = m_peeked > 0 || m_socket->bytesAvailable() > 0;
        const bool idle = !started && m_idleSinceMs > 0;
        if (idle ? expired(m_idleSinceMs, m_limits.keepAliveTimeoutMs)
                 : expired(m_headStartMs, m_limits.headTimeoutMs)) {
            if (started) {
                reject(408, "the request head took too long");
            } else {
                // Nothing was asked: there is nobody to answer (as nginx does).
                qCDebug(lcHttp) << "connection" << m_id
                                << "closed:" << (idle ? "idle keep-alive" : "no request");
                m_state = State::Closing;
                flushCorked();
                m_socket->disconnectFromHost();
            }
        }
        break;
    }
    case State::ReadingBody:
        if (expired(m_bodyProgressMs, m_limits.bodyTimeoutMs))
            reject(408, "the request body stalled");
        break;
    case State::Dispatching:
    case State::Closing:
        if (unsentBytes(m_socket, m_tls) > 0
            && expired(m_writeProgressMs, m_limits.sendTimeoutMs)) {
            qCInfo(lcHttp) << "connection" << m_id << "cut: the client took nothing for"
                           << m_limits.sendTimeoutMs << "ms";
            abort();
        }
        break;
    case State::HandedOff:
        break;
    }
}

void HttpConnection::onDisconnected()
{
    if (m_state == State::HandedOff || !m_socket)
        return;
    QTcpSocket *socket = std::exchange(m_socket, nullptr);
    m_state = State::Closing;
    if (m_connect && !m_connect->isFinished()) {
        HttpConnect *connect = m_connect;
        m_connect = nullptr;
        Q_EMIT connect->aborted();
        connect->deleteLater();
    }
    if (Monitor *monitor = m_worker->monitor();
        monitor->isActive(MonitorEvent::Type::ConnectionClosed)) {
        MonitorEvent event;
        event.type = MonitorEvent::Type::ConnectionClosed;
        event.connectionId = m_id;
        event.timeUs = MonitorEvent::now();
        event.peerAddress = socket->peerAddress();
        event.peerPort = socket->peerPort();
        event.bytesIn = m_totalIn;
        event.bytesOut = m_totalOut;
        event.durationUs = event.timeUs - m_openedUs;
        monitor->post(std::move(event));
    }
    socket->deleteLater();
    m_worker->removeConnection(this, false);
    deleteLater();
}

} // namespace sluice
