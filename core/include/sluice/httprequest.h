#ifndef SLUICE_HTTPREQUEST_H
#define SLUICE_HTTPREQUEST_H

#include <sluice/sluiceglobal.h>

#include <QtCore/QByteArray>
#include <QtCore/QList>
#include <QtCore/QPair>
#include <QtCore/QUrl>
#include <QtCore/QUrlQuery>
#include <QtNetwork/QHostAddress>

namespace sluice {

using HttpHeader = QPair<QByteArray, QByteArray>;
using HttpHeaders = QList<HttpHeader>;

// What the client sent: the request line, the headers, the body and the peer.
// Reentrant, like Qt's value classes: a thread works on its own copy.
class SLUICE_CORE_EXPORT HttpRequest
{
public:
    HttpRequest() = default;

    QByteArray method() const { return m_method; }
    void setMethod(const QByteArray &method) { m_method = method; }

    // The request target as sent ("/a%20b?x=1").
    QByteArray target() const { return m_target; }
    void setTarget(const QByteArray &target);
    // The decoded path ("/a b"), which routes match against.
    QString path() const { return m_path; }
    QUrlQuery query() const { return QUrlQuery(url()); }
    QString queryItem(const QString &key) const;
    // The target as a relative URL (path and query), normalized like path().
    QUrl url() const;

    int httpMajor() const { return m_major; }
    int httpMinor() const { return m_minor; }
    void setHttpVersion(int major, int minor);

    // Header names compare without case; the first value is returned.
    QByteArray header(QByteArrayView name) const;
    bool hasHeader(QByteArrayView name) const;
    // Whether a comma-separated header holds a token ("Connection: keep-alive, Upgrade").
    bool headerHasToken(QByteArrayView name, QByteArrayView token) const;
    HttpHeaders headers() const { return m_headers; }
    void addHeader(const QByteArray &name, const QByteArray &value);

    QByteArray body() const { return m_body; }
    void setBody(const QByteArray &body) { m_body = body; }
    void appendBody(const char *data, qsizetype size) { m_body.append(data, size); }

    QHostAddress peerAddress() const { return m_peerAddress; }
    quint16 peerPort() const { return m_peerPort; }
    void setPeer(const QHostAddress &address, quint16 port);

    bool isWebSocketUpgrade() const;

private:
    void parseUrl() const;

    QByteArray m_method;
    QByteArray m_target;
    // Built when first asked for: most requests only need the path.
    mutable QUrl m_url;
    mutable bool m_urlParsed = true;
    QString m_path; // decoded once: routing and filters ask for it several times
    int m_major = 1;
    int m_minor = 1;
    HttpHeaders m_headers;
    QByteArray m_body;
    QHostAddress m_peerAddress;
    quint16 m_peerPort = 0;
};

} // namespace sluice

#endif // SLUICE_HTTPREQUEST_H
