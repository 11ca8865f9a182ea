// Jitter for retry back-off, so that processes which lost a server together do not retry in step.
#pragma once

#include <chrono>

namespace prism {

// Returns a random duration between half of `backoff` and all of it. Thread-safe.
std::chrono::milliseconds Jittered(std::chrono::milliseconds backoff);

}  // namespace prism
