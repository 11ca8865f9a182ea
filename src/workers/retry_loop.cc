#include "workers/retry_loop.h"

#include <chrono>
#include <thread>

#include "common/backoff.h"
#include "common/log.h"
#include "storage/types.h"

namespace prism::workers {
namespace {

constexpr auto kFirstBackoff = std::chrono::milliseconds(50);
constexpr auto kMaxBackoff = std::chrono::milliseconds(5000);

// Sleeps between half and all of `backoff`, so restarted workers do not retry in step.
void SleepWithJitter(std::chrono::milliseconds backoff) {
  std::this_thread::sleep_for(Jittered(backoff));
}

}  // namespace

void RunUntilStopped(const std::atomic<bool>& stopping, std::string_view component,
                     const std::function<void()>& step) {
  log::RateLimiter limiter(std::chrono::seconds(10));
  auto backoff = kFirstBackoff;
  bool failing = false;
  while (!stopping) {
    try {
      step();
      if (failing) log::Info(component, "storage available again");
      failing = false;
      backoff = kFirstBackoff;
    } catch (const storage::StorageUnavailable& error) {
      if (!failing) log::Error(component, "storage unavailable", {{"error", error.what()}});
      failing = true;
      SleepWithJitter(backoff);
      backoff = std::min(backoff * 2, kMaxBackoff);
    } catch (const std::exception& error) {
      long suppressed = limiter.Admit("unexpected");
      if (suppressed >= 0) {
        log::Error(component, "unexpected error; retrying",
                   {{"error", error.what()}, {"suppressed", suppressed}});
      }
      SleepWithJitter(backoff);
    }
  }
}

}  // namespace prism::workers
