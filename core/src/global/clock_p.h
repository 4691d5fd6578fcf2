#ifndef SLUICE_CLOCK_P_H
#define SLUICE_CLOCK_P_H

#include <QtCore/QtGlobal>

#include <chrono>

namespace sluice {

// Milliseconds on the monotonic clock, which timeouts are measured in. It
// counts from boot, so it is never 0: 0 can mean "not yet".
inline qint64 monotonicMs()
{
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count() + 1;
}

} // namespace sluice

#endif // SLUICE_CLOCK_P_H
