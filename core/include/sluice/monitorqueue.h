#ifndef SLUICE_MONITORQUEUE_H
#define SLUICE_MONITORQUEUE_H

#include <sluice/monitorevent.h>

#include <QtCore/QList>
#include <QtCore/QMutex>

#include <atomic>

namespace sluice {

class Monitor;

// A bounded queue of a monitor's events for a consumer that pulls them on
// its own schedule, typically a window polling from its thread while the
// server runs on another. Unlike a queued connection to
// Monitor::eventsPosted, whose batches wait in the receiver's event queue
// without limit when the receiver falls behind, this holds at most
// capacity() events and payloadBudget() bytes of payload: past either the
// newest are dropped and counted, so memory stays bounded whatever the load
// and whatever the message size.
//
// The monitor records events while a queue is attached (as while a slot is
// connected). Constructing attaches, destroying detaches; a queue may
// outlive its monitor (it then stays empty). take() and droppedCount() are
// safe from any thread.
class SLUICE_CORE_EXPORT MonitorQueue
{
public:
    static constexpr int DefaultCapacity = 100000;
    static constexpr qint64 DefaultPayloadBudget = 32 * 1024 * 1024;

    explicit MonitorQueue(Monitor *monitor, int capacity = DefaultCapacity,
                          qint64 payloadBudget = DefaultPayloadBudget);
    ~MonitorQueue();
    MonitorQueue(const MonitorQueue &) = delete;
    MonitorQueue &operator=(const MonitorQueue &) = delete;

    int capacity() const { return m_capacity; }
    qint64 payloadBudget() const { return m_payloadBudget; }
    // Up to maxEvents of the oldest events waiting, oldest first; the rest
    // wait for the next call.
    QList<MonitorEvent> take(int maxEvents = DefaultCapacity);
    // Events waiting now.
    int size() const;
    quint64 droppedCount() const { return m_dropped.load(std::memory_order_relaxed); }

private:
    friend class Monitor;
    void push(MonitorEvent event);

    Monitor *m_monitor; // null once the monitor is gone
    const int m_capacity;
    const qint64 m_payloadBudget;
    mutable QMutex m_mutex;
    QList<MonitorEvent> m_events;
    qint64 m_payloadBytes = 0;
    std::atomic<quint64> m_dropped {0};
};

} // namespace sluice

#endif // SLUICE_MONITORQUEUE_H
