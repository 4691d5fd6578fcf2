#ifndef SLUICE_REQUESTPARSER_P_H
#define SLUICE_REQUESTPARSER_P_H

#include <sluice/httprequest.h>
#include <sluice/limits.h>

#include <http_parser.h>

namespace sluice {

// Builds HttpRequests from bytes with Node's http_parser. It stops after the
// head (so that an upgrade can be handed on before anything is consumed) and
// after each message (so that pipelined requests are answered one by one).
class RequestParser
{
public:
    enum class Event { NeedMore, HeadComplete, MessageComplete, Error };

    explicit RequestParser(const Limits &limits);

    // Starts a new request.
    void reset();
    // Parses what it can of data; consumed tells how much of it was used.
    Event feed(const char *data, qsizetype size, qsizetype *consumed);

    HttpRequest &request() { return m_request; }
    // Meaningful once the head is complete.
    bool keepAlive() const { return http_should_keep_alive(&m_parser) != 0; }
    bool isUpgrade() const { return m_parser.upgrade != 0; }
    // -1 when the body length is not given (chunked or none).
    qint64 contentLength() const;
    bool isChunked() const { return m_parser.flags & F_CHUNKED; }

    // After Error: the status to answer with and why.
    int errorStatus() const { return m_errorStatus; }
    QByteArray errorString() const { return m_errorString; }

private:
    static int onMessageBegin(http_parser *parser);
    static int onUrl(http_parser *parser, const char *at, size_t length);
    static int onHeaderField(http_parser *parser, const char *at, size_t length);
    static int onHeaderValue(http_parser *parser, const char *at, size_t length);
    static int onHeadersComplete(http_parser *parser);
    static int onBody(http_parser *parser, const char *at, size_t length);
    static int onMessageComplete(http_parser *parser);
    static const http_parser_settings settings;

    void storeHeader();
    static bool looksLikeRequestLine(QByteArrayView data);
    // Keeps the start of a request line that is split over several feeds.
    void noteRequestLine(const char *data, qsizetype size);
    Event answerBadMethod(const char *data, qsizetype size, qsizetype *consumed);

    http_parser m_parser;
    HttpRequest m_request;
    QByteArray m_url;
    QByteArray m_field;
    QByteArray m_value;
    qint64 m_maxBodyBytes;
    qint64 m_maxUriBytes;
    int m_maxHeaderCount;
    int m_headerCount = 0;
    Event m_stop = Event::NeedMore;
    int m_errorStatus = 0;
    QByteArray m_errorString;
    bool m_inValue = false;
    // An unknown method is 501 when its request line is well formed, 400
    // otherwise: deciding needs the whole line, whatever the feeds' sizes.
    QByteArray m_line;
    bool m_lineSeen = false;
    bool m_badMethod = false;
};

} // namespace sluice

#endif // SLUICE_REQUESTPARSER_P_H
