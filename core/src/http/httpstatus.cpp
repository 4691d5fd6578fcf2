#include <sluice/httpstatus.h>

#include <http_parser.h>

namespace sluice {

HttpStatus::HttpStatus(int code, const QString &detail)
    : m_code(code)
    , m_detail(detail)
{
    m_what = QByteArray::number(code) + ' ' + reasonPhrase(code);
    if (!detail.isEmpty())
        m_what += ": " + detail.toUtf8();
}

QByteArray HttpStatus::reasonPhrase(int code)
{
    if (code == 418) // RFC 9110 reserves it; the parser library does not know it
        return QByteArrayLiteral("I'm a teapot");
    // The parser library keeps the IANA registry of reason phrases.
    const char *phrase = http_status_str(static_cast<enum http_status>(code));
    if (!phrase || qstrcmp(phrase, "<unknown>") == 0)
        return code >= 500   ? QByteArrayLiteral("Server Error")
               : code >= 400 ? QByteArrayLiteral("Client Error")
                             : QByteArrayLiteral("Unknown");
    return QByteArray(phrase);
}

} // namespace sluice
