#include <sluice/httprequest.h>

namespace sluice {

void HttpRequest::setTarget(const QByteArray &target)
{
    m_target = target;
    // The common case, an origin-form path with nothing to normalize
    // ("/a/b?c"), skips adjusted(): half the cost of a small request's
    // parsing (callgrind).
    const qsizetype pathEnd = target.indexOf('?');
    const QByteArrayView path = QByteArrayView(target).first(pathEnd < 0 ? target.size() : pathEnd);
    if (path.startsWith('/') && !path.contains("//") && !path.contains("/.")) {
        m_url = QUrl::fromEncoded(target, QUrl::StrictMode);
        if (m_url.isValid() && m_url.isRelative()) {
            m_path = m_url.path();
            return;
        }
    }
    // Origin-form targets ("/a?b") become a relative URL; absolute-form
    // targets (proxies) keep only their path and query for routing.
    m_url = QUrl::fromEncoded(target, QUrl::StrictMode);
    if (!m_url.isValid())
        m_url = QUrl::fromEncoded(target, QUrl::TolerantMode);
    // Routes and filters see "/a/../b" as "/b", the resource it names.
    m_url = m_url.adjusted(QUrl::NormalizePathSegments);
    if (!m_url.isRelative()) {
        QUrl relative;
        relative.setPath(m_url.path(QUrl::FullyEncoded), QUrl::StrictMode);
        relative.setQuery(m_url.query(QUrl::FullyEncoded), QUrl::StrictMode);
        m_url = relative;
    }
    m_path = m_url.path();
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
