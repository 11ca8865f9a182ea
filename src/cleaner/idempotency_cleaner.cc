#include "cleaner/idempotency_cleaner.h"

#include <ctime>
#include <exception>
#include <stdexcept>
#include <string>
#include <utility>

#include <fmt/chrono.h>
#include <fmt/format.h>

namespace prism::cleaner {
namespace {

constexpr std::string_view kComponent = "cleaner";

std::string FormatUtc(std::chrono::sys_seconds time) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(seconds));
}

int64_t MillisecondsSince(std::chrono::steady_clock::time_point start) {
  const auto elapsed = std::chrono::steady_clock::now() - start;
  return std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count();
}

}  // namespace

IdempotencyCleaner::IdempotencyCleaner(std::shared_ptr<storage::EventStore> store,
                                       CronSchedule schedule, Duration retention, Options options)
    : store_(std::move(store)),
      schedule_(std::move(schedule)),
      retention_(retention),
      options_(std::move(options)) {
  if (store_ == nullptr) throw std::invalid_argument("IdempotencyCleaner: store is null");
  if (retention_ < Duration::zero()) {
    throw std::invalid_argument("IdempotencyCleaner: retention is negative");
  }
  if (options_.batch_size < 1) {
    throw std::invalid_argument("IdempotencyCleaner: batch size " +
                                std::to_string(options_.batch_size) + " is below 1");
  }
}

IdempotencyCleaner::~IdempotencyCleaner() { Stop(); }

int64_t IdempotencyCleaner::RunOnce() {
  const uint64_t generation = StopGeneration();
  const auto started = std::chrono::steady_clock::now();
  const auto cutoff = Now() - retention_;
  const int64_t cutoff_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(cutoff.time_since_epoch()).count();

  int64_t removed = 0;
  int64_t batches = 0;
  bool stopped_early = false;
  try {
    while (true) {
      const int64_t count = store_->ForgetOutcomes(cutoff_ms, options_.batch_size);
      ++batches;
      removed += count;
      if (count < options_.batch_size) break;

      if (!WaitFor(options_.pause_between_batches, generation)) {
        stopped_early = true;
        break;
      }
    }
  } catch (const storage::StorageUnavailable& error) {
    const long suppressed = failure_log_limiter_.Admit("storage");
    if (suppressed >= 0) {
      log::Warn(
          kComponent,
          "failed to delete expired idempotency records, will retry at the next scheduled run",
          {{"error", error.what()}, {"removed", removed}, {"suppressed_repeats", suppressed}});
    }
    return removed;
  }

  log::Info(kComponent, "deleted expired idempotency records",
            {{"removed", removed},
             {"batches", batches},
             {"cutoff_ms", cutoff_ms},
             {"elapsed_ms", MillisecondsSince(started)},
             {"stopped_early", stopped_early}});
  return removed;
}

void IdempotencyCleaner::Start() {
  std::lock_guard lifecycle(lifecycle_mutex_);
  if (thread_.joinable()) return;

  const uint64_t generation = StopGeneration();
  thread_ = std::thread([this, generation] { RunSchedule(generation); });
}

void IdempotencyCleaner::Stop() {
  std::lock_guard lifecycle(lifecycle_mutex_);
  {
    std::lock_guard lock(mutex_);
    ++stop_generation_;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void IdempotencyCleaner::RunSchedule(uint64_t generation) {
  log::Info(kComponent, "idempotency cleaner started",
            {{"schedule", schedule_.expression()}, {"retention", FormatDuration(retention_)}});

  while (true) {
    const auto now = std::chrono::floor<std::chrono::seconds>(Now());
    const std::optional<CronSchedule::TimePoint> next = schedule_.Next(now);
    if (!next) {
      log::Error(kComponent,
                 "schedule never fires within eight years, so the cleaner stays idle until stopped",
                 {{"schedule", schedule_.expression()}});
      WaitUntil(std::chrono::system_clock::time_point::max(), generation);
      break;
    }

    log::Debug(kComponent, "waiting for the next run", {{"at", FormatUtc(*next)}});
    if (!WaitUntil(*next, generation)) break;

    // RunOnce handles StorageUnavailable itself. Anything else is a bug in a backend, and the
    // next run may still succeed, so the thread logs it and keeps its schedule.
    try {
      RunOnce();
    } catch (const std::exception& error) {
      log::Error(kComponent,
                 "failed to delete expired idempotency records (unexpected error), will retry at "
                 "the next scheduled run",
                 {{"error", error.what()}});
    }
  }

  log::Info(kComponent, "idempotency cleaner stopped");
}

bool IdempotencyCleaner::WaitUntil(std::chrono::system_clock::time_point deadline,
                                   uint64_t generation) {
  std::unique_lock lock(mutex_);
  while (stop_generation_ == generation) {
    const auto remaining = deadline - Now();
    if (remaining <= std::chrono::system_clock::duration::zero()) return true;

    // The injected clock may differ from the system clock, so the system-clock deadline is the
    // same distance ahead. With the default clock this is `deadline` itself, and the wait follows
    // changes of the wall clock.
    const auto system_now = std::chrono::system_clock::now();
    const auto headroom = std::chrono::system_clock::time_point::max() - system_now;
    wake_.wait_until(lock, remaining >= headroom ? std::chrono::system_clock::time_point::max()
                                                 : system_now + remaining);
  }
  return false;
}

bool IdempotencyCleaner::WaitFor(std::chrono::milliseconds duration, uint64_t generation) {
  std::unique_lock lock(mutex_);
  return !wake_.wait_for(lock, duration, [&] { return stop_generation_ != generation; });
}

uint64_t IdempotencyCleaner::StopGeneration() {
  std::lock_guard lock(mutex_);
  return stop_generation_;
}

std::chrono::system_clock::time_point IdempotencyCleaner::Now() const {
  return options_.clock ? options_.clock() : std::chrono::system_clock::now();
}

}  // namespace prism::cleaner
