#include "requestparser_p.h"

#include <cctype>
#include <cstring>

namespace sluice {

const http_parser_settings RequestParser::settings = [] {
    http_parser_settings s;
    http_parser_settings_init(&s);
    s.on_message_begin = &RequestParser::onMessageBegin;
    s.on_url = &RequestParser::onUrl;
    s.on_header_field = &RequestParser::onHeaderField;
    s.on_header_value = &RequestParser::onHeaderValue;
    s.on_headers_complete = &RequestParser::onHeadersComplete;
    s.on_body = &RequestParser::onBody;
    s.on_message_complete = &RequestParser::onMessageComplete;
    return s;
}();

RequestParser::RequestParser(const Limits &limits)
    : m_maxBodyBytes(limits.maxBodyBytes)
    , m_maxUriBytes(limits.maxUriBytes)
    , m_maxHeaderCount(limits.maxHeaderCount)
{
    reset();
}

void RequestParser::reset()
{
    http_parser_init(&m_parser, HTTP_REQUEST);
    m_parser.data = this;
    m_request = HttpRequest();
    m_url.clear();
    m_field.clear();
    m_value.clear();
    m_inValue = false;
    m_headerCount = 0;
    m_line.clear();
    m_lineSeen = false;
    m_badMethod = false;
    m_stop = Event::NeedMore;
    m_errorStatus = 0;
    m_errorString.clear();
}

qint64 RequestParser::contentLength() const
{
    if ((m_parser.flags & F_CHUNKED) || m_parser.content_length == ULLONG_MAX)
        return -1;
    return qint64(m_parser.content_length);
}

bool RequestParser::looksLikeRequestLine(QByteArrayView data)
{
    qsizetype end = data.indexOf('\n');
    if (end < 0)
        end = data.size();
    QByteArrayView line = data.first(end);
    if (line.endsWith('\r'))
        line.chop(1);
    const qsizetype firstSpace = line.indexOf(' ');
    const qsizetype lastSpace = line.lastIndexOf(' ');
    if (firstSpace <= 0 || lastSpace <= firstSpace + 1)
        return false;
    static constexpr char tokenChars[] = "!#$%&'*+-.^_`|~";
    for (const char c : line.first(firstSpace)) {
        if (!std::isalnum(uchar(c)) && !std::strchr(tokenChars, c))
            return false;
    }
    const QByteArrayView version = line.sliced(lastSpace + 1);
    return version.size() == 8 && version.startsWith("HTTP/") && std::isdigit(uchar(version[5]))
           && version[6] == '.' && std::isdigit(uchar(version[7]));
}

void RequestParser::noteRequestLine(const char *data, qsizetype size)
{
    if (m_lineSeen)
        return;
    if (std::memchr(data, '\n', size_t(size))) {
        m_lineSeen = true;
        m_line.clear();
    } else if (m_line.size() <= m_maxUriBytes + 64) {
        m_line.append(data, size);
    }
}

RequestParser::Event RequestParser::answerBadMethod(const char *data, qsizetype size,
                                                    qsizetype *consumed)
{
    const qsizetype newline = QByteArrayView(data, size).indexOf('\n');
    const qsizetype take = newline < 0 ? size : newline + 1;
    // Past a URI's worth of bytes it is no request line we would serve; the
    // answer depends on the line alone, never on how it was split.
    const bool fits = m_line.size() + take <= m_maxUriBytes + 64;
    if (fits)
        m_line.append(data, take);
    *consumed = take;
    if (fits && newline < 0)
        return Event::NeedMore;
    m_errorStatus = fits && looksLikeRequestLine(m_line) ? 501 : 400;
    m_errorString = http_errno_description(HPE_INVALID_METHOD);
    return Event::Error;
}

RequestParser::Event RequestParser::feed(const char *data, qsizetype size, qsizetype *consumed)
{
    if (m_badMethod)
        return answerBadMethod(data, size, consumed);
    // A pause is how a callback stops the parser at a message boundary.
    if (HTTP_PARSER_ERRNO(&m_parser) == HPE_PAUSED)
        http_parser_pause(&m_parser, 0);
    m_stop = Event::NeedMore;
    *consumed = qsizetype(http_parser_execute(&m_parser, &settings, data, size_t(size)));
    const http_errno error = HTTP_PARSER_ERRNO(&m_parser);
    if (error == HPE_OK || error == HPE_PAUSED) {
        noteRequestLine(data, *consumed);
        return m_stop;
    }
    if (m_errorStatus == 0) {
        switch (error) {
        case HPE_HEADER_OVERFLOW:
            m_errorStatus = 431;
            break;
        case HPE_INVALID_METHOD:
            if (!m_lineSeen) {
                m_badMethod = true;
                return answerBadMethod(data, size, consumed);
            }
            m_errorStatus = 400;
            break;
        default:
            m_errorStatus = 400;
            break;
        }
        m_errorString = http_errno_description(error);
    }
    return Event::Error;
}

int RequestParser::onMessageBegin(http_parser *)
{
    return 0;
}

int RequestParser::onUrl(http_parser *parser, const char *at, size_t length)
{
    auto *self = static_cast<RequestParser *>(parser->data);
    if (self->m_url.size() + qint64(length) > self->m_maxUriBytes) {
        self->m_errorStatus = 414;
        self->m_errorString = "request target exceeds the limit";
        return -1;
    }
    self->m_url.append(at, qsizetype(length));
    return 0;
}

void RequestParser::storeHeader()
{
    if (!m_field.isEmpty())
        m_request.addHeader(m_field, m_value.trimmed());
    m_field.clear();
    m_value.clear();
}

int RequestParser::onHeaderField(http_parser *parser, const char *at, size_t length)
{
    auto *self = static_cast<RequestParser *>(parser->data);
    // http_parser lets "Name : value" through; RFC 9112 5.1 requires a 400,
    // since proxies may read such a header differently.
    const QByteArrayView field(at, qsizetype(length));
    if (field.contains(' ') || field.contains('\t')) {
        self->m_errorStatus = 400;
        self->m_errorString = "whitespace in a header name";
        return -1;
    }
    if (self->m_inValue) {
        self->storeHeader();
        self->m_inValue = false;
    }
    // Counted as each field starts, so that a flood of tiny headers stops early.
    if (self->m_field.isEmpty() && ++self->m_headerCount > self->m_maxHeaderCount) {
        self->m_errorStatus = 431;
        self->m_errorString = "too many header fields";
        return -1;
    }
    self->m_field.append(at, qsizetype(length));
    return 0;
}

int RequestParser::onHeaderValue(http_parser *parser, const char *at, size_t length)
{
    auto *self = static_cast<RequestParser *>(parser->data);
    self->m_inValue = true;
    self->m_value.append(at, qsizetype(length));
    return 0;
}

int RequestParser::onHeadersComplete(http_parser *parser)
{
    auto *self = static_cast<RequestParser *>(parser->data);
    self->storeHeader();
    HttpRequest &request = self->m_request;
    request.setMethod(http_method_str(http_method(parser->method)));
    request.setHttpVersion(parser->http_major, parser->http_minor);
    request.setTarget(self->m_url);
    if (self->contentLength() > self->m_maxBodyBytes) {
        self->m_errorStatus = 413;
        self->m_errorString = "request body exceeds the limit";
        return -1;
    }
    self->m_stop = Event::HeadComplete;
    http_parser_pause(parser, 1);
    return 0;
}

int RequestParser::onBody(http_parser *parser, const char *at, size_t length)
{
    auto *self = static_cast<RequestParser *>(parser->data);
    if (self->m_request.body().size() + qint64(length) > self->m_maxBodyBytes) {
        self->m_errorStatus = 413;
        self->m_errorString = "request body exceeds the limit";
        return -1;
    }
    self->m_request.appendBody(at, qsizetype(length));
    return 0;
}

int RequestParser::onMessageComplete(http_parser *parser)
{
    auto *self = static_cast<RequestParser *>(parser->data);
    self->m_stop = Event::MessageComplete;
    http_parser_pause(parser, 1);
    return 0;
}

} // namespace sluice
