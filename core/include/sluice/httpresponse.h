#ifndef SLUICE_HTTPRESPONSE_H
#define SLUICE_HTTPRESPONSE_H

#include <sluice/httprequest.h>

namespace sluice {

class ResponseSink;

// What the server sends back. Writes are buffered so that a response ended
// in one go carries Content-Length; past Limits::responseBufferBytes, or on
// flush(), the head goes out and the rest streams (chunked on HTTP/1.1).
class SLUICE_CORE_EXPORT HttpResponse
{
    Q_DISABLE_COPY_MOVE(HttpResponse)
public:
    HttpResponse();
    ~HttpResponse();

    int status() const { return m_status; }
    // A reason phrase is chosen for the code when none is given.
    void setStatus(int code, const QByteArray &reason = QByteArray());
    QByteArray reasonPhrase() const;

    QByteArray header(QByteArrayView name) const;
    bool hasHeader(QByteArrayView name) const;
    // Replaces every header of that name.
    void setHeader(const QByteArray &name, const QByteArray &value);
    void addHeader(const QByteArray &name, const QByteArray &value);
    void removeHeader(QByteArrayView name);
    HttpHeaders headers() const { return m_headers; }
    void setContentType(const QByteArray &type) { setHeader("Content-Type", type); }
    // Declares the body's length before it is written, so that a body that
    // streams (flush(), or past the buffer) still goes out with Content-Length
    // rather than chunked. A response that ends short of it is cut off.
    void setContentLength(qint64 length);
    qint64 contentLength() const { return m_contentLength; }

    void write(const QByteArray &data);
    void write(const QString &text) { write(text.toUtf8()); }
    void write(const char *text) { write(QByteArray(text)); }
    // Sends the head and what is buffered now; the rest of the body streams.
    void flush();
    void end();
    void end(const QByteArray &data);

    bool isEnded() const { return m_ended; }
    bool isHeadSent() const { return m_headSent; }
    // Body bytes written by the handler so far.
    qint64 bodyBytes() const { return m_bodyBytes; }
    // Body bytes still buffered in the response, not yet handed to the socket.
    qint64 bufferedBytes() const { return m_buffer.size(); }
    // Bytes handed to the socket that the client has not taken yet. A handler
    // that streams writes while this is low, and waits for
    // HttpConnect::drained() when it is not.
    qint64 pendingBytes() const;
    // Limits::maxPendingWriteBytes of the connection: a handler that writes
    // past it without waiting for drained() gets its connection cut.
    qint64 pendingBytesLimit() const;

    // Discards the status, headers and buffered body of a response whose
    // head has not gone out yet, so that an error can replace it.
    bool reset();

private:
    friend class HttpConnection;
    friend class Dispatcher;

    void setSink(ResponseSink *sink, qint64 bufferLimit)
    {
        m_sink = sink;
        m_bufferLimit = bufferLimit;
    }

    ResponseSink *m_sink = nullptr;
    qint64 m_bufferLimit = 64 * 1024;
    int m_status = 200;
    QByteArray m_reason;
    HttpHeaders m_headers;
    QByteArray m_buffer;
    qint64 m_bodyBytes = 0;
    qint64 m_contentLength = -1;
    int m_includeDepth = 0;
    bool m_headSent = false;
    bool m_ended = false;
};

} // namespace sluice

#endif // SLUICE_HTTPRESPONSE_H
