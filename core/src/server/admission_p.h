#ifndef SLUICE_ADMISSION_P_H
#define SLUICE_ADMISSION_P_H

#include <QtCore/QHash>
#include <QtCore/QMutex>
#include <QtNetwork/QHostAddress>

namespace sluice {

// The connection caps (Limits::maxConnections, maxConnectionsPerAddress)
// are the server's, not a worker's: every worker thread admits through the
// one Admission its server owns. Taken once per connection, never per
// request or message.
class Admission
{
public:
    bool admit(const QHostAddress &address, int maxTotal, int maxPerAddress)
    {
        QMutexLocker locker(&m_mutex);
        if (m_total >= maxTotal)
            return false;
        int &count = m_perAddress[address];
        if (count >= maxPerAddress) {
            if (count == 0)
                m_perAddress.remove(address);
            return false;
        }
        ++count;
        ++m_total;
        return true;
    }
    void release(const QHostAddress &address)
    {
        QMutexLocker locker(&m_mutex);
        const auto it = m_perAddress.find(address);
        if (it == m_perAddress.end())
            return;
        --m_total;
        if (--it.value() <= 0)
            m_perAddress.erase(it);
    }
    int total() const
    {
        QMutexLocker locker(&m_mutex);
        return m_total;
    }
    int count(const QHostAddress &address) const
    {
        QMutexLocker locker(&m_mutex);
        return m_perAddress.value(address);
    }

private:
    mutable QMutex m_mutex;
    int m_total = 0;
    QHash<QHostAddress, int> m_perAddress;
};

} // namespace sluice

#endif // SLUICE_ADMISSION_P_H
