#ifndef SLUICE_MONITORQUEUE_H
#define SLUICE_MONITORQUEUE_H

#include <sluice/monitorevent.h>

#include <QtCore/QList>
#include <QtCore/QMutex>

#include <atomic>
#include <functional>

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
// The monitor records the events of the types a queue takes while it is
// attached (as while a slot is connected), and no others: a queue for the
// access log leaves every WebSocket message unmade. Constructing attaches,
// destroying detaches; a queue may outlive its monitor (it then stays
// empty). take() and droppedCount() are safe from any thread.
class SLUICE_CORE_EXPORT MonitorQueue
{
public:
    static constexpr int DefaultCapacity = 100000;
    static constexpr qint64 DefaultPayloadBudget = 32 * 1024 * 1024;

    struct Options
    {
        int capacity = DefaultCapacity;
        qint64 payloadBudget = DefaultPayloadBudget;
        // The event types the queue takes; empty: every type.
        QList<MonitorEvent::Type> types;
        // Called on the posting thread when an event arrives in an empty
        // queue: a consumer that does not poll schedules its take() there,
        // once per batch.
        std::function<void()> ready;
    };

    explicit MonitorQueue(Monitor *monitor, int capacity = DefaultCapacity,
                          qint64 payloadBudget = DefaultPayloadBudget);
    MonitorQueue(Monitor *monitor, const Options &options);
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
    quint32 m_types; // Monitor::typeBit()s
    std::function<void()> m_ready;
    mutable QMutex m_mutex;
    QList<MonitorEvent> m_events;
    qint64 m_payloadBytes = 0;
    std::atomic<quint64> m_dropped {0};
};

} // namespace sluice

#endif // SLUICE_MONITORQUEUE_H
