#include <sluice/httpresponse.h>
#include <sluice/httpstatus.h>

#include "responsesink_p.h"

#include <limits>

namespace sluice {

HttpResponse::HttpResponse()
{
    // Room for a typical response's headers without growing (callgrind).
    m_headers.reserve(8);
}
HttpResponse::~HttpResponse() = default;

void HttpResponse::setStatus(int code, const QByteArray &reason)
{
    if (m_headSent || m_includeDepth > 0)
        return;
    m_status = code;
    m_reason = reason;
}

QByteArray HttpResponse::reasonPhrase() const
{
    return m_reason.isEmpty() ? HttpStatus::reasonPhrase(m_status) : m_reason;
}

QByteArray HttpResponse::header(QByteArrayView name) const
{
    for (const HttpHeader &header : m_headers) {
        if (name.compare(header.first, Qt::CaseInsensitive) == 0)
            return header.second;
    }
    return {};
}

bool HttpResponse::hasHeader(QByteArrayView name) const
{
    for (const HttpHeader &header : m_headers) {
        if (name.compare(header.first, Qt::CaseInsensitive) == 0)
            return true;
    }
    return false;
}

void HttpResponse::setHeader(const QByteArray &name, const QByteArray &value)
{
    if (m_headSent || m_includeDepth > 0)
        return;
    removeHeader(name);
    m_headers.append({name, value});
}

void HttpResponse::addHeader(const QByteArray &name, const QByteArray &value)
{
    if (m_headSent || m_includeDepth > 0)
        return;
    m_headers.append({name, value});
}

void HttpResponse::removeHeader(QByteArrayView name)
{
    if (m_headSent || m_includeDepth > 0)
        return;
    m_headers.removeIf([name](const HttpHeader &header) {
        return name.compare(header.first, Qt::CaseInsensitive) == 0;
    });
}

void HttpResponse::setContentLength(qint64 length)
{
    if (m_headSent || m_includeDepth > 0)
        return;
    m_contentLength = length;
}

qint64 HttpResponse::pendingBytes() const
{
    return m_sink ? m_sink->pendingBytes() : 0;
}

qint64 HttpResponse::pendingBytesLimit() const
{
    return m_sink ? m_sink->pendingBytesLimit() : std::numeric_limits<qint64>::max();
}

void HttpResponse::write(const QByteArray &data)
{
    if (m_ended || data.isEmpty())
        return;
    m_bodyBytes += data.size();
    if (m_headSent) {
        if (m_sink)
            m_sink->sendBody(data);
        return;
    }
    m_buffer += data;
    if (m_buffer.size() > m_bufferLimit)
        flush();
}

void HttpResponse::flush()
{
    if (m_ended || !m_sink)
        return;
    if (!m_headSent) {
        m_headSent = true;
        m_sink->sendHead(*this, m_contentLength);
    }
    if (!m_buffer.isEmpty()) {
        const QByteArray data = std::exchange(m_buffer, QByteArray());
        m_sink->sendBody(data);
    }
}

void HttpResponse::end()
{
    if (m_ended || m_includeDepth > 0)
        return;
    m_ended = true;
    if (!m_sink)
        return;
    if (!m_headSent) {
        m_headSent = true;
        m_sink->sendHead(*this, m_contentLength >= 0 ? m_contentLength : m_buffer.size());
    }
    if (!m_buffer.isEmpty()) {
        const QByteArray data = std::exchange(m_buffer, QByteArray());
        m_sink->sendBody(data);
    }
    m_sink->finishResponse();
}

void HttpResponse::end(const QByteArray &data)
{
    write(data);
    end();
}

bool HttpResponse::reset()
{
    if (m_headSent || m_ended)
        return false;
    m_status = 200;
    m_reason.clear();
    m_headers.clear();
    m_buffer.clear();
    m_bodyBytes = 0;
    m_contentLength = -1;
    return true;
}

} // namespace sluice
