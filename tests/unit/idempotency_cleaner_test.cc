#include "cleaner/idempotency_cleaner.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include "common/log.h"

namespace prism::cleaner {
namespace {

using std::chrono::milliseconds;
using std::chrono::system_clock;

constexpr Duration kRetention = std::chrono::hours(24);

int64_t ToMilliseconds(system_clock::time_point time) {
  return std::chrono::duration_cast<milliseconds>(time.time_since_epoch()).count();
}

// An event store that keeps only the completion times of idempotency records. Every method the
// cleaner does not call returns an empty value.
class FakeEventStore : public storage::EventStore {
 public:
  struct Call {
    int64_t cutoff_ms;
    int64_t batch;
  };

  void AddRecords(int64_t completed_at_ms, int count) {
    std::lock_guard lock(mutex_);
    records_.insert(records_.end(), count, completed_at_ms);
  }

  // Makes every call after the first `calls` successful ones throw StorageUnavailable.
  void FailAfter(int calls) {
    std::lock_guard lock(mutex_);
    fail_after_calls_ = calls;
  }

  void Recover() {
    std::lock_guard lock(mutex_);
    fail_after_calls_ = -1;
  }

  int64_t ForgetOutcomes(int64_t cutoff_ms, int64_t batch) override {
    std::lock_guard lock(mutex_);
    calls_.push_back({cutoff_ms, batch});
    called_.notify_all();
    if (fail_after_calls_ >= 0 && ++successful_or_failed_ > fail_after_calls_) {
      throw storage::StorageUnavailable("fake store: database is down");
    }

    int64_t removed = 0;
    for (auto it = records_.begin(); it != records_.end() && removed < batch;) {
      if (*it < cutoff_ms) {
        it = records_.erase(it);
        ++removed;
      } else {
        ++it;
      }
    }
    return removed;
  }

  std::vector<int64_t> Records() {
    std::lock_guard lock(mutex_);
    return records_;
  }

  std::vector<Call> Calls() {
    std::lock_guard lock(mutex_);
    return calls_;
  }

  // Waits until ForgetOutcomes was called at least `count` times; returns whether it was.
  bool WaitForCalls(size_t count, milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return called_.wait_for(lock, timeout, [&] { return calls_.size() >= count; });
  }

  std::vector<storage::CommitResult> Commit(std::span<const storage::CommitRequest>) override {
    return {};
  }
  std::vector<domain::Event> ReadStream(domain::EntityType, std::string_view, int64_t) override {
    return {};
  }
  std::vector<domain::Event> ReadAll(int64_t, size_t) override { return {}; }
  int64_t HeadPosition() override { return 0; }
  std::optional<storage::CommandOutcome> FindOutcome(std::string_view, std::string_view) override {
    return std::nullopt;
  }
  int64_t UserCursor(std::string_view) override { return 0; }

 private:
  std::mutex mutex_;
  std::condition_variable called_;
  std::vector<int64_t> records_;  // completion times in milliseconds
  std::vector<Call> calls_;
  int fail_after_calls_ = -1;  // -1: never fail
  int successful_or_failed_ = 0;
};

// Copies the lines of the "cleaner" logger while it exists.
class LogCapture {
 public:
  LogCapture() : sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(stream_)) {
    log::Get("cleaner")->sinks().push_back(sink_);
  }

  ~LogCapture() {
    auto& sinks = log::Get("cleaner")->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
  }

  // Lines containing `text`. Call only once no cleaner thread runs.
  int Count(std::string_view text) {
    int count = 0;
    std::istringstream lines(stream_.str());
    for (std::string line; std::getline(lines, line);) {
      if (line.find(text) != std::string::npos) ++count;
    }
    return count;
  }

  std::string Text() { return stream_.str(); }

 private:
  std::ostringstream stream_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
};

CronSchedule Schedule(const std::string& expression) {
  std::string error;
  std::optional<CronSchedule> schedule = CronSchedule::Parse(expression, &error);
  EXPECT_TRUE(schedule.has_value()) << error;
  return schedule ? *schedule : *CronSchedule::Parse("0 */5 * * * *", nullptr);
}

IdempotencyCleaner::Options FixedClockOptions(system_clock::time_point now, int64_t batch_size) {
  IdempotencyCleaner::Options options;
  options.batch_size = batch_size;
  options.pause_between_batches = milliseconds(0);
  options.clock = [now] { return now; };
  return options;
}

system_clock::time_point FixedNow() {
  // 2025-06-01 12:00:00.250 UTC
  return system_clock::time_point(
             std::chrono::sys_days(std::chrono::year{2025} / std::chrono::June / 1)) +
         std::chrono::hours(12) + milliseconds(250);
}

// --- RunOnce ---------------------------------------------------------------------------------

TEST(IdempotencyCleaner, RemovesOnlyRecordsOlderThanRetention) {
  auto store = std::make_shared<FakeEventStore>();
  const int64_t cutoff_ms = ToMilliseconds(FixedNow() - kRetention);
  store->AddRecords(cutoff_ms - 3'600'000, 3);  // 25 hours old
  store->AddRecords(cutoff_ms - 1, 1);          // just older than the retention
  store->AddRecords(cutoff_ms, 2);              // exactly at the cutoff: kept
  store->AddRecords(cutoff_ms + 3'600'000, 4);  // 23 hours old
  IdempotencyCleaner cleaner(store, Schedule("0 */5 * * * *"), kRetention,
                             FixedClockOptions(FixedNow(), 500));

  EXPECT_EQ(cleaner.RunOnce(), 4);

  const std::vector<int64_t> remaining = store->Records();
  EXPECT_EQ(remaining.size(), 6u);
  for (int64_t completed_at_ms : remaining) EXPECT_GE(completed_at_ms, cutoff_ms);
  ASSERT_FALSE(store->Calls().empty());
  EXPECT_EQ(store->Calls().front().cutoff_ms, cutoff_ms);
}

TEST(IdempotencyCleaner, RemovesNothingWhenAllRecordsAreNew) {
  auto store = std::make_shared<FakeEventStore>();
  store->AddRecords(ToMilliseconds(FixedNow()) - 1000, 5);
  IdempotencyCleaner cleaner(store, Schedule("0 */5 * * * *"), kRetention,
                             FixedClockOptions(FixedNow(), 500));

  EXPECT_EQ(cleaner.RunOnce(), 0);
  EXPECT_EQ(store->Records().size(), 5u);
  EXPECT_EQ(store->Calls().size(), 1u);
}

TEST(IdempotencyCleaner, DeletesInBatchesOfConfiguredSize) {
  auto store = std::make_shared<FakeEventStore>();
  const int64_t old_ms = ToMilliseconds(FixedNow() - kRetention) - 1;
  store->AddRecords(old_ms, 1234);
  store->AddRecords(ToMilliseconds(FixedNow()), 7);
  IdempotencyCleaner cleaner(store, Schedule("0 */5 * * * *"), kRetention,
                             FixedClockOptions(FixedNow(), 100));

  EXPECT_EQ(cleaner.RunOnce(), 1234);

  const std::vector<FakeEventStore::Call> calls = store->Calls();
  EXPECT_EQ(calls.size(), 13u);  // 12 full batches, then one of 34
  for (const FakeEventStore::Call& call : calls) {
    EXPECT_GE(call.batch, 1);
    EXPECT_LE(call.batch, 100);
  }
  EXPECT_EQ(store->Records().size(), 7u);
}

TEST(IdempotencyCleaner, StopsAfterEmptyBatchOnExactMultiple) {
  auto store = std::make_shared<FakeEventStore>();
  store->AddRecords(ToMilliseconds(FixedNow() - kRetention) - 1, 200);
  IdempotencyCleaner cleaner(store, Schedule("0 */5 * * * *"), kRetention,
                             FixedClockOptions(FixedNow(), 100));

  EXPECT_EQ(cleaner.RunOnce(), 200);
  EXPECT_EQ(store->Calls().size(), 3u);
  EXPECT_TRUE(store->Records().empty());
}

TEST(IdempotencyCleaner, ZeroRetentionRemovesEverythingCompleted) {
  auto store = std::make_shared<FakeEventStore>();
  store->AddRecords(ToMilliseconds(FixedNow()) - 1, 3);
  IdempotencyCleaner cleaner(store, Schedule("0 */5 * * * *"), Duration::zero(),
                             FixedClockOptions(FixedNow(), 500));

  EXPECT_EQ(cleaner.RunOnce(), 3);
  EXPECT_TRUE(store->Records().empty());
}

TEST(IdempotencyCleaner, LogsRemovedCount) {
  LogCapture logs;
  auto store = std::make_shared<FakeEventStore>();
  store->AddRecords(ToMilliseconds(FixedNow() - kRetention) - 1, 42);
  IdempotencyCleaner cleaner(store, Schedule("0 */5 * * * *"), kRetention,
                             FixedClockOptions(FixedNow(), 500));

  cleaner.RunOnce();

  EXPECT_EQ(logs.Count("deleted expired idempotency records"), 1) << logs.Text();
  EXPECT_EQ(logs.Count("\"removed\":42"), 1) << logs.Text();
  EXPECT_EQ(logs.Count("\"elapsed_ms\":"), 1) << logs.Text();
}

TEST(IdempotencyCleaner, StorageUnavailableReturnsCountSoFar) {
  LogCapture logs;
  auto store = std::make_shared<FakeEventStore>();
  store->AddRecords(ToMilliseconds(FixedNow() - kRetention) - 1, 50);
  store->FailAfter(2);
  IdempotencyCleaner cleaner(store, Schedule("0 */5 * * * *"), kRetention,
                             FixedClockOptions(FixedNow(), 10));

  EXPECT_EQ(cleaner.RunOnce(), 20);
  EXPECT_EQ(store->Records().size(), 30u);
  EXPECT_EQ(logs.Count("fake store: database is down"), 1) << logs.Text();

  store->Recover();
  EXPECT_EQ(cleaner.RunOnce(), 30);
  EXPECT_TRUE(store->Records().empty());
}

TEST(IdempotencyCleaner, StorageUnavailableOnFirstCall) {
  auto store = std::make_shared<FakeEventStore>();
  store->AddRecords(ToMilliseconds(FixedNow() - kRetention) - 1, 5);
  store->FailAfter(0);
  IdempotencyCleaner cleaner(store, Schedule("0 */5 * * * *"), kRetention,
                             FixedClockOptions(FixedNow(), 10));

  EXPECT_EQ(cleaner.RunOnce(), 0);
  EXPECT_EQ(store->Records().size(), 5u);
}

TEST(IdempotencyCleaner, RepeatedFailuresAreRateLimited) {
  LogCapture logs;
  auto store = std::make_shared<FakeEventStore>();
  store->FailAfter(0);
  IdempotencyCleaner cleaner(store, Schedule("0 */5 * * * *"), kRetention,
                             FixedClockOptions(FixedNow(), 10));

  for (int i = 0; i < 5; ++i) EXPECT_EQ(cleaner.RunOnce(), 0);

  EXPECT_EQ(store->Calls().size(), 5u);
  EXPECT_EQ(logs.Count("fake store: database is down"), 1) << logs.Text();
}

TEST(IdempotencyCleaner, StopInterruptsPauseBetweenBatches) {
  auto store = std::make_shared<FakeEventStore>();
  store->AddRecords(ToMilliseconds(FixedNow() - kRetention) - 1, 1000);
  IdempotencyCleaner::Options options = FixedClockOptions(FixedNow(), 100);
  options.pause_between_batches = std::chrono::seconds(30);
  IdempotencyCleaner cleaner(store, Schedule("0 */5 * * * *"), kRetention, options);

  std::future<int64_t> removed = std::async(std::launch::async, [&] { return cleaner.RunOnce(); });
  ASSERT_TRUE(store->WaitForCalls(1, std::chrono::seconds(5)));
  const auto stop_started = std::chrono::steady_clock::now();
  cleaner.Stop();

  ASSERT_EQ(removed.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_LT(std::chrono::steady_clock::now() - stop_started, milliseconds(100));
  EXPECT_EQ(removed.get(), 100);
  EXPECT_EQ(store->Calls().size(), 1u);
}

TEST(IdempotencyCleaner, RunOnceAfterStopRunsToTheEnd) {
  auto store = std::make_shared<FakeEventStore>();
  store->AddRecords(ToMilliseconds(FixedNow() - kRetention) - 1, 300);
  IdempotencyCleaner::Options options = FixedClockOptions(FixedNow(), 100);
  options.pause_between_batches = milliseconds(1);
  IdempotencyCleaner cleaner(store, Schedule("0 */5 * * * *"), kRetention, options);

  cleaner.Stop();
  EXPECT_EQ(cleaner.RunOnce(), 300);
}

TEST(IdempotencyCleaner, RejectsInvalidArguments) {
  auto store = std::make_shared<FakeEventStore>();
  const CronSchedule schedule = Schedule("0 */5 * * * *");
  EXPECT_THROW(IdempotencyCleaner(nullptr, schedule, kRetention, {}), std::invalid_argument);
  EXPECT_THROW(IdempotencyCleaner(store, schedule, -std::chrono::seconds(1), {}),
               std::invalid_argument);
  IdempotencyCleaner::Options zero_batch;
  zero_batch.batch_size = 0;
  EXPECT_THROW(IdempotencyCleaner(store, schedule, kRetention, zero_batch), std::invalid_argument);
}

// --- Start and Stop --------------------------------------------------------------------------

TEST(IdempotencyCleaner, RunsEverySecondAndStopsPromptly) {
  auto store = std::make_shared<FakeEventStore>();
  // The injected clock runs with the system clock but 1000 days ahead, so the cutoff shows that
  // the cleaner reads it.
  const auto offset = std::chrono::days(1000);
  IdempotencyCleaner::Options options;
  options.pause_between_batches = milliseconds(0);
  options.clock = [offset] { return system_clock::now() + offset; };
  IdempotencyCleaner cleaner(store, Schedule("* * * * * *"), kRetention, options);

  cleaner.Start();
  ASSERT_TRUE(store->WaitForCalls(2, std::chrono::seconds(5)));
  const auto stop_started = std::chrono::steady_clock::now();
  cleaner.Stop();
  const auto stop_took = std::chrono::steady_clock::now() - stop_started;

  EXPECT_LT(stop_took, milliseconds(100));
  const std::vector<FakeEventStore::Call> calls = store->Calls();
  const int64_t expected_cutoff_ms = ToMilliseconds(system_clock::now() + offset - kRetention);
  EXPECT_NEAR(static_cast<double>(calls.back().cutoff_ms), static_cast<double>(expected_cutoff_ms),
              5000.0);
  // Each run belongs to a later whole second of the injected clock than the run before it.
  const int64_t retention_ms = std::chrono::duration_cast<milliseconds>(kRetention).count();
  for (size_t i = 1; i < calls.size(); ++i) {
    EXPECT_GT((calls[i].cutoff_ms + retention_ms) / 1000,
              (calls[i - 1].cutoff_ms + retention_ms) / 1000);
  }
}

TEST(IdempotencyCleaner, StopWakesThreadWaitingForNextFire) {
  auto store = std::make_shared<FakeEventStore>();
  IdempotencyCleaner::Options options;
  options.clock = [] { return FixedNow(); };
  IdempotencyCleaner cleaner(store, Schedule("0 0 0 1 1 *"), kRetention, options);

  cleaner.Start();
  std::this_thread::sleep_for(milliseconds(50));
  const auto stop_started = std::chrono::steady_clock::now();
  cleaner.Stop();

  EXPECT_LT(std::chrono::steady_clock::now() - stop_started, milliseconds(100));
  EXPECT_TRUE(store->Calls().empty());
}

TEST(IdempotencyCleaner, FiresAtScheduledTimeOfInjectedClock) {
  auto store = std::make_shared<FakeEventStore>();
  // The injected clock starts 1.5 s before midnight on 2031-01-01, the only fire time of the
  // yearly schedule that is near.
  const system_clock::time_point new_year =
      std::chrono::sys_days(std::chrono::year{2031} / std::chrono::January / 1);
  const auto offset = (new_year - milliseconds(1500)) - system_clock::now();
  IdempotencyCleaner::Options options;
  options.clock = [offset] { return system_clock::now() + offset; };
  IdempotencyCleaner cleaner(store, Schedule("0 0 0 1 1 *"), kRetention, options);

  cleaner.Start();
  ASSERT_TRUE(store->WaitForCalls(1, std::chrono::seconds(5)));
  cleaner.Stop();

  const std::vector<FakeEventStore::Call> calls = store->Calls();
  ASSERT_EQ(calls.size(), 1u);
  const int64_t fire_cutoff_ms = ToMilliseconds(new_year - kRetention);
  EXPECT_GE(calls[0].cutoff_ms, fire_cutoff_ms);
  EXPECT_LT(calls[0].cutoff_ms, fire_cutoff_ms + 1000);
}

TEST(IdempotencyCleaner, StartTwiceAndRestart) {
  auto store = std::make_shared<FakeEventStore>();
  IdempotencyCleaner::Options options;
  options.pause_between_batches = milliseconds(0);
  IdempotencyCleaner cleaner(store, Schedule("* * * * * *"), kRetention, options);

  cleaner.Start();
  cleaner.Start();
  cleaner.Stop();
  cleaner.Stop();

  const size_t calls_before_restart = store->Calls().size();
  cleaner.Start();
  EXPECT_TRUE(store->WaitForCalls(calls_before_restart + 1, std::chrono::seconds(5)));
  cleaner.Stop();
}

TEST(IdempotencyCleaner, DestructorStopsThread) {
  auto store = std::make_shared<FakeEventStore>();
  const auto started = std::chrono::steady_clock::now();
  {
    IdempotencyCleaner cleaner(store, Schedule("0 0 0 1 1 *"), kRetention, {});
    cleaner.Start();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, milliseconds(100));
}

}  // namespace
}  // namespace prism::cleaner
