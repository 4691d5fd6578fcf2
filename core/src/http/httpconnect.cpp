#include <sluice/httpconnect.h>

#include "routing/dispatcher_p.h"

namespace sluice {

HttpConnect::HttpConnect(Dispatcher *dispatcher, quint64 connectionId, QObject *parent)
    : QObject(parent)
    , m_dispatcher(dispatcher)
    , m_connectionId(connectionId)
{ }

HttpConnect::~HttpConnect() = default;

void HttpConnect::redirect(const QString &url, int status)
{
    m_dispatcher->redirect(this, url, status);
}

void HttpConnect::forward(const QString &uri)
{
    m_dispatcher->forward(this, uri);
}

void HttpConnect::include(const QString &uri)
{
    m_dispatcher->include(this, uri);
}

void HttpConnect::error(int status, const QString &detail, const HttpHeaders &headers)
{
    m_dispatcher->fail(this, status, detail, headers);
}

} // namespace sluice
