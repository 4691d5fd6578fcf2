#ifndef SLUICE_MONITOR_P_H
#define SLUICE_MONITOR_P_H

#include <QtCore/QMutex>

namespace sluice {

// Guards the link between a monitor and its queues while either side goes
// away (attach and detach are rare; post() uses the monitor's own mutex).
QMutex &monitorLinkMutex();

} // namespace sluice

#endif // SLUICE_MONITOR_P_H
