#ifndef SLUICE_FILTERS_H
#define SLUICE_FILTERS_H

#include <sluice/handler.h>
#include <sluice/sluiceglobal.h>

#include <QtCore/QByteArrayList>
#include <QtCore/QStringList>

namespace sluice {

class PasswordFile;

// What a cors() filter allows.
struct CorsPolicy
{
    // Exact origins ("https://app.example.com"); "*" allows any origin.
    QStringList origins;
    QByteArrayList methods {"GET", "HEAD", "POST"};
    // Request headers a preflight may ask for (compared case-insensitively).
    QByteArrayList headers;
    // Response headers the page's script may read.
    QByteArrayList exposedHeaders;
    bool credentials = false;
    int maxAgeSeconds = 600;
};

namespace filters {

// Refuses a WebSocket upgrade (403) whose Origin header is not in origins.
// Entries are exact origins ("https://example.com", default ports implied)
// or "self": the origin whose host and port are the request's Host.
// Upgrades without Origin (clients that are not browsers) and plain HTTP
// requests pass: the check is against cross-site WebSocket hijacking.
SLUICE_CORE_EXPORT Filter allowOrigins(const QStringList &origins);

// HTTP basic auth against passwords: without valid credentials the answer is
// 401 with a WWW-Authenticate challenge for realm. The user name goes into
// HttpConnect::dataset() as "user".
SLUICE_CORE_EXPORT Filter basicAuth(const PasswordFile &passwords, const QString &realm);

// Cross-origin resource sharing: answers preflights (OPTIONS with
// Access-Control-Request-Method) itself, and adds Access-Control-Allow-*
// headers to responses for allowed origins.
SLUICE_CORE_EXPORT Filter cors(const CorsPolicy &policy);

} // namespace filters
} // namespace sluice

#endif // SLUICE_FILTERS_H
