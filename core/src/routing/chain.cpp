#include <sluice/chain.h>

namespace sluice {

struct Chain::State
{
    std::function<void()> proceed;
    std::function<void()> stopped;
    bool called = false;

    ~State()
    {
        if (!called && stopped)
            stopped();
    }
};

Chain Chain::create(std::function<void()> proceed, std::function<void()> stopped)
{
    Chain chain;
    chain.m_state = std::make_shared<State>();
    chain.m_state->proceed = std::move(proceed);
    chain.m_state->stopped = std::move(stopped);
    return chain;
}

void Chain::operator()() const
{
    if (!m_state || m_state->called)
        return;
    m_state->called = true;
    // Moved out first: proceeding may drop the last copy of this chain.
    auto proceed = std::move(m_state->proceed);
    m_state->stopped = nullptr;
    if (proceed)
        proceed();
}

} // namespace sluice
