#include <sluice/monitor.h>
#include <sluice/monitorqueue.h>

#include <QtCore/QMetaMethod>
#include <QtCore/QTimer>

namespace sluice {

Monitor::Monitor(QObject *parent)
    : QObject(parent)
{
    qRegisterMetaType<sluice::MonitorEvent>();
    qRegisterMetaType<QList<sluice::MonitorEvent>>();
}

namespace {

// Guards the link between a monitor and its queues while either side goes
// away (attach and detach are rare; post() uses the monitor's own mutex).
QMutex linkMutex;

} // namespace

Monitor::~Monitor()
{
    QMutexLocker link(&linkMutex);
    QMutexLocker locker(&m_mutex);
    for (MonitorQueue *queue : std::as_const(m_queues))
        queue->m_monitor = nullptr;
    m_queues.clear();
}

void Monitor::post(MonitorEvent &&event)
{
    if (!isActive())
        return;
    bool scheduleFlush = false;
    {
        QMutexLocker locker(&m_mutex);
        for (MonitorQueue *queue : std::as_const(m_queues))
            queue->push(event);
        if (m_listeners.load(std::memory_order_relaxed) == 0)
            return;
        if (m_pending.size() >= m_capacity) {
            m_dropped.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        m_pending.append(std::move(event));
        if (!m_flushQueued) {
            m_flushQueued = true;
            scheduleFlush = true;
        }
    }
    // One queued call per batch, whichever thread posts.
    if (!scheduleFlush)
        return;
    if (const int interval = batchInterval()) {
        QMetaObject::invokeMethod(
                this, [this, interval] { QTimer::singleShot(interval, this, &Monitor::flush); },
                Qt::QueuedConnection);
    } else {
        QMetaObject::invokeMethod(this, &Monitor::flush, Qt::QueuedConnection);
    }
}

MonitorQueue::MonitorQueue(Monitor *monitor, int capacity, qint64 payloadBudget)
    : m_monitor(monitor)
    , m_capacity(qMax(1, capacity))
    , m_payloadBudget(qMax<qint64>(0, payloadBudget))
{
    QMutexLocker link(&linkMutex);
    QMutexLocker locker(&monitor->m_mutex);
    monitor->m_queues.append(this);
    monitor->m_queueCount.fetch_add(1, std::memory_order_relaxed);
}

MonitorQueue::~MonitorQueue()
{
    QMutexLocker link(&linkMutex);
    if (!m_monitor)
        return;
    QMutexLocker locker(&m_monitor->m_mutex);
    m_monitor->m_queues.removeOne(this);
    m_monitor->m_queueCount.fetch_sub(1, std::memory_order_relaxed);
}

void MonitorQueue::push(const MonitorEvent &event)
{
    QMutexLocker locker(&m_mutex);
    const qint64 bytes = event.payload.size();
    if (m_events.size() >= m_capacity || m_payloadBytes + bytes > m_payloadBudget) {
        m_dropped.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    m_payloadBytes += bytes;
    m_events.append(event);
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

void Monitor::setBatchInterval(int ms)
{
    m_batchInterval.store(qMax(0, ms), std::memory_order_relaxed);
}

void Monitor::flush()
{
    QList<MonitorEvent> batch;
    {
        QMutexLocker locker(&m_mutex);
        batch.swap(m_pending);
        m_flushQueued = false;
    }
    if (!batch.isEmpty())
        Q_EMIT eventsPosted(batch);
}

// Qt calls these with its connection lock held: nothing here may call back
// into QObject, so the count is kept by hand.
void Monitor::connectNotify(const QMetaMethod &signal)
{
    if (signal == QMetaMethod::fromSignal(&Monitor::eventsPosted))
        m_listeners.fetch_add(1, std::memory_order_relaxed);
}

void Monitor::disconnectNotify(const QMetaMethod &signal)
{
    if (signal == QMetaMethod::fromSignal(&Monitor::eventsPosted)) {
        m_listeners.fetch_sub(1, std::memory_order_relaxed);
    } else if (!signal.isValid()) {
        // disconnect() of every signal at once: count again once the lock is released.
        QMetaObject::invokeMethod(
                this,
                [this] {
                    m_listeners.store(receivers(SIGNAL(eventsPosted(QList<sluice::MonitorEvent>))),
                                      std::memory_order_relaxed);
                },
                Qt::QueuedConnection);
    }
}

} // namespace sluice
