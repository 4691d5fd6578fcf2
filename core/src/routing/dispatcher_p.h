#ifndef SLUICE_DISPATCHER_P_H
#define SLUICE_DISPATCHER_P_H

#include <sluice/handler.h>
#include <sluice/httpconnect.h>
#include <sluice/routematch.h>

#include <QtCore/QPointer>

namespace sluice {

class Router;

// Takes a parsed request through the filters, the URI mapping, the handler
// and the error mapping. It knows nothing of sockets: the response it
// produces goes to the HttpConnect's sink.
class Dispatcher
{
public:
    explicit Dispatcher(Router *router)
        : m_router(router)
    { }

    // Runs the filters for the request's path, then whenever the chain gets
    // through, last (for a WebSocket hand-off), or the route's handler.
    void dispatch(HttpConnect *connect, std::function<void()> last = {});

    void route(HttpConnect *connect);
    // Runs filters, then then() when the chain gets through all of them.
    void runFilters(HttpConnect *connect, const QList<Filter> &filters, std::function<void()> then);
    void forward(HttpConnect *connect, const QString &uri);
    void include(HttpConnect *connect, const QString &uri);
    void redirect(HttpConnect *connect, const QString &url, int status);
    void fail(HttpConnect *connect, int status, const QString &detail = QString(),
              const HttpHeaders &extraHeaders = HttpHeaders());

    static QByteArray errorBody(int status, const QString &detail);

private:
    void runFilters(QPointer<HttpConnect> connect, std::shared_ptr<const QList<Filter>> filters,
                    qsizetype index, std::function<void()> last);
    // Runs call, turning what it throws into an error response. False if it threw.
    bool guarded(HttpConnect *connect, const std::function<void()> &call);
    void invoke(HttpConnect *connect, const HttpHandler &handler);
    // Runs the matched route: its handler, forward or redirect.
    void serve(HttpConnect *connect, const RouteMatch &match);
    void finishUnlessDeferred(HttpConnect *connect);

    Router *m_router;
};

} // namespace sluice

#endif // SLUICE_DISPATCHER_P_H
