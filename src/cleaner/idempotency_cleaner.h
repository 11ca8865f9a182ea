// The idempotency cleaner: deletes the idempotency records of commands that completed longer ago
// than the retention, so that the table of idempotency records does not grow without bound. It runs
// on a cron schedule (UTC) and deletes in small batches, so it never holds one long transaction.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "cleaner/cron.h"
#include "common/duration.h"
#include "common/log.h"
#include "storage/interfaces.h"

namespace prism::cleaner {

class IdempotencyCleaner {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;

  struct Options {
    // Maximum records deleted by one ForgetOutcomes call. Must be at least 1.
    int64_t batch_size = 500;
    // Wait between two full batches, so that command commits are not starved of the database.
    std::chrono::milliseconds pause_between_batches{20};
    // The current UTC time. Empty means std::chrono::system_clock::now. Tests inject a clock to
    // decide the retention cutoff and where in the schedule the cleaner is.
    Clock clock;
  };

  // `store` is shared with the rest of the process. Throws std::invalid_argument when `store` is
  // null, `retention` is negative or `options.batch_size` is below 1.
  IdempotencyCleaner(std::shared_ptr<storage::EventStore> store, CronSchedule schedule,
                     Duration retention, Options options);

  // Stops the schedule thread if it runs.
  ~IdempotencyCleaner();

  IdempotencyCleaner(const IdempotencyCleaner&) = delete;
  IdempotencyCleaner& operator=(const IdempotencyCleaner&) = delete;

  // Deletes every completed or rejected record that completed before now - retention, one batch
  // per ForgetOutcomes call, until a call removes less than a full batch. Logs how many records
  // it removed and how long that took, and returns the count. When the store throws
  // StorageUnavailable, logs it (at most once a minute, with the number of suppressed repeats)
  // and returns the count removed before the failure. A Stop during the pause between batches
  // ends the run early, but a RunOnce that begins after Stop runs to the end. Safe to call from any
  // thread, also while the schedule thread runs.
  int64_t RunOnce();

  // Starts a thread that waits for each next fire time of the schedule and calls RunOnce. Does
  // nothing when the thread already runs.
  void Start();

  // Wakes the schedule thread and every RunOnce pausing between batches, then joins the schedule
  // thread, which first finishes the ForgetOutcomes call it is in, if any. Safe to call more than
  // once and without Start, and Start may be called again afterwards.
  void Stop();

 private:
  // Runs the schedule until Stop is called after `generation` was read.
  void RunSchedule(uint64_t generation);

  // Blocks until the injected clock reaches `deadline`, or until Stop is called after
  // `generation` was read. Returns false when stopped.
  bool WaitUntil(std::chrono::system_clock::time_point deadline, uint64_t generation);

  // Blocks for `duration`, or until Stop is called after `generation` was read. Returns false
  // when stopped.
  bool WaitFor(std::chrono::milliseconds duration, uint64_t generation);

  uint64_t StopGeneration();

  std::chrono::system_clock::time_point Now() const;

  const std::shared_ptr<storage::EventStore> store_;
  const CronSchedule schedule_;
  const Duration retention_;
  const Options options_;
  log::RateLimiter failure_log_limiter_{std::chrono::minutes(1)};

  std::mutex mutex_;
  std::condition_variable wake_;  // notified by Stop
  // Number of Stop calls so far, guarded by mutex_. A wait ends when it differs from the value
  // read when the wait's run began, so a Stop never affects a run started after it.
  uint64_t stop_generation_ = 0;
  std::thread thread_;          // started and joined only by Start and Stop
  std::mutex lifecycle_mutex_;  // serializes Start and Stop
};

}  // namespace prism::cleaner
