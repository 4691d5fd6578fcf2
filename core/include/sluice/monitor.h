#ifndef SLUICE_MONITOR_H
#define SLUICE_MONITOR_H

#include <sluice/monitorevent.h>

#include <QtCore/QList>
#include <QtCore/QMutex>
#include <QtCore/QObject>

#include <atomic>

namespace sluice {

// The server's event stream. Producers ask isActive() first, so an event
// costs one atomic load while nothing listens. Events posted from any thread
// are delivered in batches on the monitor's thread, at most one queued call
// per batch. The pending batch is bounded: past capacity() the newest events
// are dropped and counted.
class MonitorQueue;

class SLUICE_CORE_EXPORT Monitor : public QObject
{
    Q_OBJECT
public:
    explicit Monitor(QObject *parent = nullptr);
    ~Monitor() override;

    // While a slot is connected to eventsPosted() or a MonitorQueue is
    // attached.
    bool isActive() const
    {
        return m_listeners.load(std::memory_order_relaxed) > 0
               || m_queueTypes.load(std::memory_order_relaxed) != 0;
    }
    // Whether a listener takes events of type: what a producer asks before
    // it builds one. A slot connected to eventsPosted() takes every type, a
    // MonitorQueue those it was made for; so WebSocket messages, for one,
    // cost nothing while only an access log without traffic listens.
    bool isActive(MonitorEvent::Type type) const
    {
        return m_listeners.load(std::memory_order_relaxed) > 0
               || (m_queueTypes.load(std::memory_order_relaxed) & typeBit(type));
    }
    static constexpr quint32 typeBit(MonitorEvent::Type type) { return 1u << quint8(type); }
    void post(MonitorEvent &&event);

    // Both are read by every worker thread as it posts: safe from any thread.
    int capacity() const { return m_capacity.load(std::memory_order_relaxed); }
    void setCapacity(int events) { m_capacity.store(events, std::memory_order_relaxed); }
    int payloadCap() const { return m_payloadCap.load(std::memory_order_relaxed); }
    void setPayloadCap(int bytes) { m_payloadCap.store(bytes, std::memory_order_relaxed); }
    quint64 droppedCount() const { return m_dropped.load(std::memory_order_relaxed); }

    // 0 (the default) delivers a batch as soon as the monitor's thread gets
    // to it, which under load can mean a batch per event-loop pass. A
    // listener on another thread (a window) raises it so that batches cross
    // threads at most once per interval. Safe from any thread.
    int batchInterval() const { return m_batchInterval.load(std::memory_order_relaxed); }
    void setBatchInterval(int ms);
    // Delivers what is pending now, on the calling thread.
    void flush();

Q_SIGNALS:
    void eventsPosted(const QList<sluice::MonitorEvent> &events);

protected:
    void connectNotify(const QMetaMethod &signal) override;
    void disconnectNotify(const QMetaMethod &signal) override;

private:
    friend class MonitorQueue;

    void updateQueueTypes(); // with m_mutex held
    std::atomic<int> m_listeners {0};
    std::atomic<quint32> m_queueTypes {0}; // the union of the queues' types
    QList<MonitorQueue *> m_queues; // guarded by m_mutex
    std::atomic<quint64> m_dropped {0};
    std::atomic<int> m_batchInterval {0};
    QMutex m_mutex;
    QList<MonitorEvent> m_pending;
    bool m_flushQueued = false;
    std::atomic<int> m_capacity {100000};
    std::atomic<int> m_payloadCap {4096};
};

} // namespace sluice

#endif // SLUICE_MONITOR_H
