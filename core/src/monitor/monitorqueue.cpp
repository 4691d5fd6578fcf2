#include <sluice/monitor.h>
#include <sluice/monitorqueue.h>

#include "monitor_p.h"

namespace sluice {

namespace {
quint32 typeBits(const QList<MonitorEvent::Type> &types)
{
    if (types.isEmpty())
        return ~0u;
    quint32 bits = 0;
    for (const MonitorEvent::Type type : types)
        bits |= Monitor::typeBit(type);
    return bits;
}
} // namespace

MonitorQueue::MonitorQueue(Monitor *monitor, int capacity, qint64 payloadBudget)
    : MonitorQueue(monitor, Options {capacity, payloadBudget, {}, {}})
{ }

MonitorQueue::MonitorQueue(Monitor *monitor, const Options &options)
    : m_monitor(monitor)
    , m_capacity(qMax(1, options.capacity))
    , m_payloadBudget(qMax<qint64>(0, options.payloadBudget))
    , m_types(typeBits(options.types))
    , m_ready(options.ready)
{
    QMutexLocker link(&monitorLinkMutex());
    QMutexLocker locker(&monitor->m_mutex);
    monitor->m_queues.append(this);
    monitor->updateQueueTypes();
}

MonitorQueue::~MonitorQueue()
{
    QMutexLocker link(&monitorLinkMutex());
    if (!m_monitor)
        return;
    QMutexLocker locker(&m_monitor->m_mutex);
    m_monitor->m_queues.removeOne(this);
    m_monitor->updateQueueTypes();
}

void MonitorQueue::push(MonitorEvent event)
{
    bool wasEmpty;
    {
        QMutexLocker locker(&m_mutex);
        const qint64 bytes = event.payload.size();
        if (m_events.size() >= m_capacity || m_payloadBytes + bytes > m_payloadBudget) {
            m_dropped.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        wasEmpty = m_events.isEmpty();
        m_payloadBytes += bytes;
        m_events.append(std::move(event));
    }
    if (wasEmpty && m_ready)
        m_ready();
}

QList<MonitorEvent> MonitorQueue::take(int maxEvents)
{
    QMutexLocker locker(&m_mutex);
    if (maxEvents >= m_events.size()) {
        QList<MonitorEvent> all;
        all.swap(m_events);
        m_payloadBytes = 0;
        return all;
    }
    const qsizetype count = qMax(0, maxEvents);
    QList<MonitorEvent> some(std::make_move_iterator(m_events.begin()),
                             std::make_move_iterator(m_events.begin() + count));
    m_events.remove(0, count);
    for (const MonitorEvent &event : std::as_const(some))
        m_payloadBytes -= event.payload.size();
    return some;
}

int MonitorQueue::size() const
{
    QMutexLocker locker(&m_mutex);
    return int(m_events.size());
}

} // namespace sluice
