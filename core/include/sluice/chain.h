#ifndef SLUICE_CHAIN_H
#define SLUICE_CHAIN_H

#include <sluice/sluiceglobal.h>

#include <functional>
#include <memory>

namespace sluice {

// The rest of a filter chain. Calling it (now, or later from a signal or a
// timer) runs the next filter or the handler; the first call counts, others
// are ignored. When the last copy is dropped without a call, the filter has
// stopped the request: whatever it put in the response is sent.
class SLUICE_CORE_EXPORT Chain
{
public:
    Chain() = default;

    void operator()() const;
    bool isValid() const { return bool(m_state); }

    // For the server and for tests: make a chain whose call runs proceed,
    // and whose last copy dropped uncalled runs stopped.
    static Chain create(std::function<void()> proceed, std::function<void()> stopped);

private:
    struct State;
    std::shared_ptr<State> m_state;
};

} // namespace sluice

#endif // SLUICE_CHAIN_H
