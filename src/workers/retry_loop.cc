#include "workers/retry_loop.h"

#include <chrono>
#include <random>
#include <thread>

#include "common/log.h"
#include "storage/types.h"

namespace prism::workers {
namespace {

constexpr auto kFirstBackoff = std::chrono::milliseconds(50);
constexpr auto kMaxBackoff = std::chrono::milliseconds(5000);

// Sleeps between half and all of `backoff`, so restarted workers do not retry in step.
void SleepWithJitter(std::chrono::milliseconds backoff) {
  thread_local std::minstd_rand random(std::random_device{}());
  std::uniform_int_distribution<int64_t> spread(backoff.count() / 2, backoff.count());
  std::this_thread::sleep_for(std::chrono::milliseconds(spread(random)));
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
