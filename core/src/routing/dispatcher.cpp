#include "dispatcher_p.h"
#include "global/logging_p.h"
#include "http/responsesink_p.h"

#include <sluice/chain.h>
#include <sluice/httpstatus.h>
#include <sluice/router.h>

namespace sluice {

namespace {
// Forwards that forward again; past this the mapping loops.
constexpr int MaxForwardDepth = 10;
} // namespace

void Dispatcher::dispatch(HttpConnect *connect, std::function<void()> last)
{
    auto filters
            = std::make_shared<const QList<Filter>>(m_router->filters(connect->request().path()));
    if (!last) {
        QPointer<HttpConnect> guard(connect);
        last = [this, guard] {
            if (guard)
                route(guard);
        };
    }
    runFilters(connect, std::move(filters), 0, std::move(last));
}

void Dispatcher::runFilters(HttpConnect *connect, const QList<Filter> &filters,
                            std::function<void()> then)
{
    if (filters.isEmpty()) {
        then();
        return;
    }
    runFilters(QPointer<HttpConnect>(connect), std::make_shared<const QList<Filter>>(filters), 0,
               std::move(then));
}

void Dispatcher::runFilters(QPointer<HttpConnect> connect,
                            std::shared_ptr<const QList<Filter>> filters, qsizetype index,
                            std::function<void()> last)
{
    if (!connect)
        return;
    if (index >= filters->size()) {
        last();
        return;
    }
    const Filter &filter = filters->at(index);
    Chain next = Chain::create(
            [this, connect, filters, index, last] {
                if (connect && !connect->isFinished())
                    runFilters(connect, filters, index + 1, last);
            },
            [this, connect] {
                if (connect)
                    finishUnlessDeferred(connect);
            });
    // The filter gets a copy: ours outlives an exception, so that a throwing
    // filter is answered with its error, not taken for one that stopped.
    guarded(connect, [&] { filter(*connect, next); });
}

bool Dispatcher::guarded(HttpConnect *connect, const std::function<void()> &call)
{
    QPointer<HttpConnect> guard(connect);
    try {
        call();
        return true;
    } catch (const HttpStatus &status) {
        if (guard)
            fail(guard, status.code(), status.detail());
    } catch (const std::exception &e) {
        qCWarning(lcHttp) << "handler threw for" << connect->request().target() << ':' << e.what();
        if (guard)
            fail(guard, 500);
    } catch (...) {
        qCWarning(lcHttp) << "handler threw for" << connect->request().target();
        if (guard)
            fail(guard, 500);
    }
    return false;
}

void Dispatcher::invoke(HttpConnect *connect, const HttpHandler &handler)
{
    QPointer<HttpConnect> guard(connect);
    if (guarded(connect, [&] { handler(*connect); }) && guard)
        finishUnlessDeferred(guard);
}

void Dispatcher::finishUnlessDeferred(HttpConnect *connect)
{
    if (!connect->isDeferred())
        connect->response().end();
}

void Dispatcher::route(HttpConnect *connect)
{
    const HttpRequest &request = connect->request();
    const RouteMatch match = m_router->match(request.method(), request.path(), false);
    switch (match.outcome) {
    case RouteMatch::Found:
        connect->m_params = match.params;
        connect->m_route = match.route.uri();
        if (!match.route.filters().isEmpty()) {
            QPointer<HttpConnect> guard(connect);
            runFilters(connect, match.route.filters(), [this, guard, match] {
                if (guard)
                    serve(guard, match);
            });
            return;
        }
        serve(connect, match);
        return;
    case RouteMatch::MethodNotAllowed:
        fail(connect, 405, QString(), {{"Allow", match.allowedMethods.join(", ")}});
        return;
    case RouteMatch::UpgradeRequired:
        fail(connect, 426, QString(), {{"Upgrade", "websocket"}, {"Connection", "Upgrade"}});
        return;
    case RouteMatch::NotFound:
        if (const HttpHandler fallback = m_router->fallback()) {
            invoke(connect, fallback);
            return;
        }
        fail(connect, 404);
        return;
    }
}

void Dispatcher::serve(HttpConnect *connect, const RouteMatch &match)
{
    switch (match.route.kind()) {
    case Route::Kind::Http:
        invoke(connect, match.route.httpHandler());
        return;
    case Route::Kind::Forward:
        forward(connect, match.route.expandTarget(match.params));
        return;
    case Route::Kind::Redirect:
        redirect(connect, match.route.expandTarget(match.params), 302);
        return;
    case Route::Kind::WebSocket:
        break;
    }
    fail(connect, 500);
}

void Dispatcher::forward(HttpConnect *connect, const QString &uri)
{
    if (++connect->m_forwardDepth > MaxForwardDepth) {
        fail(connect, 500, QStringLiteral("forwarding loops at %1").arg(uri));
        return;
    }
    HttpRequest &request = connect->request();
    QByteArray target = QUrl(uri).toEncoded();
    // A forward keeps the query unless the new URI brings its own.
    if (!target.contains('?') && !request.url().query().isEmpty())
        target += '?' + request.url().query(QUrl::FullyEncoded).toUtf8();
    request.setTarget(target);
    connect->m_params.clear();
    route(connect);
}

void Dispatcher::include(HttpConnect *connect, const QString &uri)
{
    const QUrl url(uri);
    const RouteMatch match = m_router->match(connect->request().method(), url.path(), false);
    if (match.outcome != RouteMatch::Found || match.route.kind() != Route::Kind::Http) {
        qCWarning(lcHttp) << "include: nothing to include at" << uri;
        return;
    }
    const auto savedParams = std::exchange(connect->m_params, match.params);
    HttpResponse &response = connect->response();
    ++response.m_includeDepth;
    // What the included handler throws is the includer's to handle.
    struct Restore
    {
        HttpConnect *connect;
        QHash<QString, QString> params;
        ~Restore()
        {
            --connect->response().m_includeDepth;
            connect->m_params = params;
        }
    } restore {connect, savedParams};
    match.route.httpHandler()(*connect);
}

void Dispatcher::redirect(HttpConnect *connect, const QString &url, int status)
{
    HttpResponse &response = connect->response();
    if (!response.reset()) {
        qCWarning(lcHttp) << "redirect after the response head went out:" << url;
        return;
    }
    response.setStatus(status);
    response.setHeader("Location", QUrl(url).toEncoded());
    response.setContentType("text/plain; charset=utf-8");
    response.end(QByteArray::number(status) + ' ' + HttpStatus::reasonPhrase(status) + '\n');
}

QByteArray Dispatcher::errorBody(int status, const QString &detail)
{
    QByteArray body = QByteArray::number(status) + ' ' + HttpStatus::reasonPhrase(status) + '\n';
    if (!detail.isEmpty())
        body += detail.toUtf8() + '\n';
    return body;
}

void Dispatcher::fail(HttpConnect *connect, int status, const QString &detail,
                      const HttpHeaders &extraHeaders)
{
    HttpResponse &response = connect->response();
    // What filters said about the whole exchange (CORS) holds for its error
    // too: without it the page's script cannot even read the error.
    HttpHeaders kept;
    const HttpHeaders headers = response.headers(); // const: no detach
    for (const HttpHeader &header : headers) {
        if (header.first.toLower().startsWith("access-control-")
            || header.first.compare("Vary", Qt::CaseInsensitive) == 0) {
            kept.append(header);
        }
    }
    if (!response.reset()) {
        // Part of the body is on the wire: the only honest end is to cut it.
        if (response.m_sink && !response.isEnded())
            response.m_sink->abortResponse();
        return;
    }
    const bool nested = connect->m_errorStatus != 0;
    connect->m_errorStatus = status;
    connect->m_errorDetail = detail;
    response.setStatus(status);
    for (const HttpHeader &header : std::as_const(kept))
        response.addHeader(header.first, header.second);
    for (const HttpHeader &header : extraHeaders)
        response.setHeader(header.first, header.second);

    if (!nested) {
        if (const HttpHandler handler = m_router->errorHandler(status)) {
            invoke(connect, handler);
            return;
        }
        const QString uri = m_router->errorUri(status);
        if (!uri.isEmpty()) {
            forward(connect, uri);
            return;
        }
    }
    response.setContentType("text/plain; charset=utf-8");
    response.end(errorBody(status, detail));
}

} // namespace sluice
