#ifndef SLUICE_RESPONSESINK_P_H
#define SLUICE_RESPONSESINK_P_H

#include <QtCore/QByteArray>

namespace sluice {

class HttpResponse;

// Where an HttpResponse goes: the connection frames it for the wire.
class ResponseSink
{
public:
    virtual ~ResponseSink() = default;
    // contentLength is -1 when the body streams with its length unknown.
    virtual void sendHead(const HttpResponse &response, qint64 contentLength) = 0;
    virtual void sendBody(const QByteArray &data) = 0;
    virtual void finishResponse() = 0;
    // The head went out already and the response cannot be completed.
    virtual void abortResponse() = 0;
    // Bytes written to the socket and not yet sent.
    virtual qint64 pendingBytes() const = 0;
    virtual qint64 pendingBytesLimit() const = 0;
};

} // namespace sluice

#endif // SLUICE_RESPONSESINK_P_H
