#ifndef SLUICE_SOCKETPOLLER_P_H
#define SLUICE_SOCKETPOLLER_P_H

#include <QtCore/QObject>
#include <QtCore/QVarLengthArray>

QT_BEGIN_NAMESPACE
class QSocketNotifier;
QT_END_NAMESPACE

namespace sluice {

// Readiness of many sockets through one epoll instance, which Qt's event
// loop watches with a single QSocketNotifier. A WebSocket served this way
// needs no QTcpSocket (with its buffers and its own notifiers): 10,000 idle
// connections cost the event loop one file descriptor instead of 10,000
// poll records, and a busy moment is one epoll_wait() for all the sockets
// that are ready. Linux only; elsewhere isValid() is false and WebSockets
// stay on their QTcpSocket. Lives on one thread, like the worker that owns it.
class SocketPoller : public QObject
{
    Q_OBJECT
public:
    class Client
    {
    public:
        // events: the EPOLL* bits that are ready.
        virtual void socketReady(quint32 events) = 0;

    protected:
        ~Client() = default;
    };

    explicit SocketPoller(QObject *parent = nullptr);
    ~SocketPoller() override;

    bool isValid() const { return m_epoll >= 0; }
    // Watches fd for input (level-triggered) until remove().
    bool add(int fd, Client *client);
    // Also watches fd for room to write, or stops.
    void watchWrite(int fd, Client *client, bool watch);
    // Stops watching fd; events already fetched for client are dropped.
    void remove(int fd, Client *client);

    static bool isReadable(quint32 events);
    static bool isWritable(quint32 events);

private:
    void dispatch();

    int m_epoll = -1;
    QSocketNotifier *m_notifier = nullptr;
    bool m_dispatching = false;
    // Clients removed while a batch is being dispatched.
    QVarLengthArray<Client *, 8> m_removed;
};

} // namespace sluice

#endif // SLUICE_SOCKETPOLLER_P_H
