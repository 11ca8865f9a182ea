// The loop every worker thread runs: one step after another until stopped, backing off with
// exponential delay and jitter while storage is unavailable, and logging each outage once when
// it starts and once when it ends.
#pragma once

#include <atomic>
#include <functional>
#include <string_view>

namespace prism::workers {

// Calls `step` until `stopping` is set. `component` names the logger.
void RunUntilStopped(const std::atomic<bool>& stopping, std::string_view component,
                     const std::function<void()>& step);

}  // namespace prism::workers
