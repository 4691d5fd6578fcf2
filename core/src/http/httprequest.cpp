#include <sluice/httprequest.h>

#include <algorithm>
#include <cstring>

namespace sluice {

namespace {

// Whether path is one that QUrl would leave as it is: an origin-form path
// of characters that need no decoding (RFC 3986 pchar without '%') and
// nothing to normalize.
bool isPlainPath(QByteArrayView path)
{
    if (!path.startsWith('/') || path.contains("//") || path.contains("/."))
        return false;
    return std::all_of(path.begin(), path.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
               || (c != '\0' && std::strchr("/-._~!$&'()*+,;=:@", c));
    });
}

} // namespace

void HttpRequest::setTarget(const QByteArray &target)
{
    m_target = target;
    // A plain path is its own decoded form, and the QUrl waits until
    // url() or query() asks: parsing it was a tenth of a small request's
    // instructions (callgrind).
    const qsizetype pathEnd = target.indexOf('?');
    const QByteArrayView path = QByteArrayView(target).first(pathEnd < 0 ? target.size() : pathEnd);
    if (isPlainPath(path)) {
        m_path = QString::fromLatin1(path);
        m_url = QUrl();
        m_urlParsed = false;
        return;
    }
    parseUrl();
    m_path = m_url.path();
}

QUrl HttpRequest::url() const
{
    if (!m_urlParsed)
        parseUrl();
    return m_url;
}

void HttpRequest::parseUrl() const
{
    m_urlParsed = true;
    const qsizetype pathEnd = m_target.indexOf('?');
    const QByteArrayView path
            = QByteArrayView(m_target).first(pathEnd < 0 ? m_target.size() : pathEnd);
    // Nothing to normalize: adjusted() would be half the cost of parsing.
    if (path.startsWith('/') && !path.contains("//") && !path.contains("/.")) {
        m_url = QUrl::fromEncoded(m_target, QUrl::StrictMode);
        if (m_url.isValid() && m_url.isRelative())
            return;
    }
    m_url = QUrl::fromEncoded(m_target, QUrl::StrictMode);
    // Origin-form targets ("/a?b") become a relative URL; absolute-form
    // targets (proxies) keep only their path and query for routing.
    if (!m_url.isValid())
        m_url = QUrl::fromEncoded(m_target, QUrl::TolerantMode);
    // Routes and filters see "/a/../b" as "/b", the resource it names.
    m_url = m_url.adjusted(QUrl::NormalizePathSegments);
    if (!m_url.isRelative()) {
        QUrl relative;
        relative.setPath(m_url.path(QUrl::FullyEncoded), QUrl::StrictMode);
        relative.setQuery(m_url.query(QUrl::FullyEncoded), QUrl::StrictMode);
        m_url = relative;
    }
}

QString HttpRequest::queryItem(const QString &key) const
{
    return query().queryItemValue(key, QUrl::FullyDecoded);
}

void HttpRequest::setHttpVersion(int major, int minor)
{
    m_major = major;
    m_minor = minor;
}

QByteArray HttpRequest::header(QByteArrayView name) const
{
    for (const HttpHeader &header : m_headers) {
        if (name.compare(header.first, Qt::CaseInsensitive) == 0)
            return header.second;
    }
    return {};
}

bool HttpRequest::hasHeader(QByteArrayView name) const
{
    for (const HttpHeader &header : m_headers) {
        if (name.compare(header.first, Qt::CaseInsensitive) == 0)
            return true;
    }
    return false;
}

bool HttpRequest::headerHasToken(QByteArrayView name, QByteArrayView token) const
{
    for (const HttpHeader &header : m_headers) {
        if (name.compare(header.first, Qt::CaseInsensitive) != 0)
            continue;
        for (const QByteArray &part : header.second.split(',')) {
            if (token.compare(part.trimmed(), Qt::CaseInsensitive) == 0)
                return true;
        }
    }
    return false;
}

void HttpRequest::addHeader(const QByteArray &name, const QByteArray &value)
{
    m_headers.append({name, value});
}

void HttpRequest::setPeer(const QHostAddress &address, quint16 port)
{
    m_peerAddress = address;
    m_peerPort = port;
}

bool HttpRequest::isWebSocketUpgrade() const
{
    return m_method == "GET" && headerHasToken("Upgrade", "websocket")
           && headerHasToken("Connection", "upgrade");
}

} // namespace sluice
