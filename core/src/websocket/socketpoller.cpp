#include "socketpoller_p.h"

#include <QtCore/QScopedValueRollback>
#include <QtCore/QSocketNotifier>

#ifdef Q_OS_LINUX
#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#endif

namespace sluice {

#ifdef Q_OS_LINUX

namespace {
// Events fetched per epoll_wait(); a busier moment takes another round.
constexpr int BatchSize = 256;
constexpr int MaxRounds = 4;

quint32 watchedEvents(bool write)
{
    return EPOLLIN | EPOLLRDHUP | (write ? quint32(EPOLLOUT) : 0u);
}
} // namespace

SocketPoller::SocketPoller(QObject *parent)
    : QObject(parent)
    , m_epoll(epoll_create1(EPOLL_CLOEXEC))
{
    if (m_epoll < 0)
        return;
    m_notifier = new QSocketNotifier(m_epoll, QSocketNotifier::Read, this);
    connect(m_notifier, &QSocketNotifier::activated, this, &SocketPoller::dispatch);
}

SocketPoller::~SocketPoller()
{
    delete m_notifier;
    if (m_epoll >= 0)
        ::close(m_epoll);
}

bool SocketPoller::add(int fd, Client *client)
{
    epoll_event event {};
    event.events = watchedEvents(false);
    event.data.ptr = client;
    return epoll_ctl(m_epoll, EPOLL_CTL_ADD, fd, &event) == 0;
}

void SocketPoller::watchWrite(int fd, Client *client, bool watch)
{
    epoll_event event {};
    event.events = watchedEvents(watch);
    event.data.ptr = client;
    epoll_ctl(m_epoll, EPOLL_CTL_MOD, fd, &event);
}

void SocketPoller::remove(int fd, Client *client)
{
    epoll_ctl(m_epoll, EPOLL_CTL_DEL, fd, nullptr);
    if (m_dispatching)
        m_removed.append(client);
}

bool SocketPoller::isReadable(quint32 events)
{
    return events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR);
}

bool SocketPoller::isWritable(quint32 events)
{
    return events & (EPOLLOUT | EPOLLHUP | EPOLLERR);
}

void SocketPoller::dispatch()
{
    epoll_event events[BatchSize];
    for (int round = 0; round < MaxRounds; ++round) {
        int count;
        do {
            count = epoll_wait(m_epoll, events, BatchSize, 0);
        } while (count < 0 && errno == EINTR);
        if (count <= 0)
            return;
        {
            const QScopedValueRollback<bool> dispatching(m_dispatching, true);
            for (int i = 0; i < count; ++i) {
                auto *client = static_cast<Client *>(events[i].data.ptr);
                if (!m_removed.isEmpty() && m_removed.contains(client))
                    continue;
                client->socketReady(events[i].events);
            }
        }
        // A nested event loop in a handler may dispatch too: the outermost clears.
        if (!m_dispatching)
            m_removed.clear();
        if (count < BatchSize)
            return;
    }
}

#else // !Q_OS_LINUX

SocketPoller::SocketPoller(QObject *parent)
    : QObject(parent)
{ }

SocketPoller::~SocketPoller() = default;

bool SocketPoller::add(int, Client *)
{
    return false;
}

void SocketPoller::watchWrite(int, Client *, bool) { }

void SocketPoller::remove(int, Client *) { }

bool SocketPoller::isReadable(quint32)
{
    return false;
}

bool SocketPoller::isWritable(quint32)
{
    return false;
}

void SocketPoller::dispatch() { }

#endif

} // namespace sluice
