#include <sluice/monitor.h>
#include <sluice/monitorqueue.h>

#include "monitor_p.h"

#include <QtCore/QMetaMethod>
#include <QtCore/QTimer>

namespace sluice {

Monitor::Monitor(QObject *parent)
    : QObject(parent)
{
    qRegisterMetaType<sluice::MonitorEvent>();
    qRegisterMetaType<QList<sluice::MonitorEvent>>();
}

QMutex &monitorLinkMutex()
{
    static QMutex mutex;
    return mutex;
}

Monitor::~Monitor()
{
    QMutexLocker link(&monitorLinkMutex());
    QMutexLocker locker(&m_mutex);
    for (MonitorQueue *queue : std::as_const(m_queues))
        queue->m_monitor = nullptr;
    m_queues.clear();
}

void Monitor::post(MonitorEvent &&event)
{
    if (!isActive(event.type))
        return;
    bool scheduleFlush = false;
    {
        QMutexLocker locker(&m_mutex);
        const bool signalled = m_listeners.load(std::memory_order_relaxed) > 0;
        const quint32 bit = typeBit(event.type);
        qsizetype last = -1;
        for (qsizetype i = 0; i < m_queues.size(); ++i) {
            if (m_queues.at(i)->m_types & bit)
                last = i;
        }
        for (qsizetype i = 0; i <= last; ++i) {
            MonitorQueue *queue = m_queues.at(i);
            if (!(queue->m_types & bit))
                continue;
            // The last taker gets the event itself rather than a copy.
            if (!signalled && i == last)
                queue->push(std::move(event));
            else
                queue->push(event);
        }
        if (!signalled)
            return;
        if (m_pending.size() >= capacity()) {
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

void Monitor::updateQueueTypes()
{
    quint32 types = 0;
    for (const MonitorQueue *queue : std::as_const(m_queues))
        types |= queue->m_types;
    m_queueTypes.store(types, std::memory_order_relaxed);
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
