#ifndef SLUICE_HTTPCONNECT_H
#define SLUICE_HTTPCONNECT_H

#include <sluice/httprequest.h>
#include <sluice/httpresponse.h>

#include <QtCore/QHash>
#include <QtCore/QObject>
#include <QtCore/QVariant>

namespace sluice {

class Dispatcher;

// One HTTP exchange as a handler sees it: the request, the response, the
// route's path parameters and a dataset for filters and handlers to share.
//
// A handler that returns without ending the response has it ended for it,
// unless it called defer(): then it ends the response later (after a signal
// or a timer). The connect lives until the response ends or the client goes
// away (aborted()), so use it as the context object of such connections.
class SLUICE_CORE_EXPORT HttpConnect : public QObject
{
    Q_OBJECT
public:
    ~HttpConnect() override;

    HttpRequest &request() { return m_request; }
    const HttpRequest &request() const { return m_request; }
    HttpResponse &response() { return m_response; }

    // A named group of the matched route ("(?<name>…)" or "(name:…)").
    QString param(const QString &name) const { return m_params.value(name); }
    QHash<QString, QString> params() const { return m_params; }
    // The route key that matched ("get:/user/(?<name>[^/]+)"), or empty.
    QString route() const { return m_route; }
    QVariantHash &dataset() { return m_dataset; }
    quint64 connectionId() const { return m_connectionId; }

    // Set while an error page is being produced.
    int errorStatus() const { return m_errorStatus; }
    QString errorDetail() const { return m_errorDetail; }

    // Answers with a redirect to url (relative urls are resolved by the client).
    void redirect(const QString &url, int status = 302);
    // Runs the handler mapped to uri for this request instead.
    void forward(const QString &uri);
    // Runs the handler mapped to uri and appends its body to this response.
    void include(const QString &uri);
    // Answers with an error status through the error mapping; headers go
    // with it (Allow for 405, Content-Range for 416).
    void error(int status, const QString &detail = QString(),
               const HttpHeaders &headers = HttpHeaders());

    void defer() { m_deferred = true; }
    bool isDeferred() const { return m_deferred; }
    bool isFinished() const { return m_response.isEnded(); }

Q_SIGNALS:
    // The client went away before the response ended.
    void aborted();
    void finished();
    // The socket took what was written and can take more: a handler that
    // streams a large body writes its next piece here.
    void drained();

private:
    friend class Dispatcher;
    friend class HttpConnection;
    explicit HttpConnect(Dispatcher *dispatcher, quint64 connectionId, QObject *parent = nullptr);

    Dispatcher *m_dispatcher;
    quint64 m_connectionId;
    HttpRequest m_request;
    HttpResponse m_response;
    QHash<QString, QString> m_params;
    QString m_route;
    QVariantHash m_dataset;
    QString m_errorDetail;
    int m_errorStatus = 0;
    int m_forwardDepth = 0;
    bool m_deferred = false;
};

} // namespace sluice

#endif // SLUICE_HTTPCONNECT_H
