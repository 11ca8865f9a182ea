// The embedded command queue: a table in the SQLite file, filled by group commit.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/log.h"
#include "sqlite/database.h"
#include "storage/interfaces.h"

namespace prism::sqlite {

// storage::CommandQueue on the `commands` table. Each row is one admitted command; its message id
// is the table's integer rowid as text, so ids grow in admission order. Per-user sequence numbers
// come from the `command_sequences` table, read and advanced inside the enqueueing transaction,
// so they have no gaps and no duplicates even when several processes enqueue.
//
// Group commit: Enqueue only hands the batch to one writer thread, which commits every batch
// that arrived while the previous commit was syncing in a single transaction. One fsync thus
// covers many HTTP requests. Each batch's callback runs on the writer thread after the commit.
//
// Thread-safe. The destructor commits the batches already handed over, runs their callbacks and
// stops the writer thread; Lease calls still blocked return empty.
class SqliteCommandQueue final : public storage::CommandQueue {
 public:
  struct Options {
    // Commands queued in the table plus those waiting for the writer; a batch that would exceed
    // it is rejected whole with "command queue is full".
    int64_t admission_limit = 100'000;
    // Most commands one group transaction holds, to bound the time the write lock is held.
    size_t max_group_commands = 4096;
    // How often a blocked Lease looks for commands that another process queued, and for expired
    // or released leases. In-process enqueues wake it at once.
    std::chrono::milliseconds poll_interval{50};
  };

  SqliteCommandQueue(std::shared_ptr<Database> database, Options options);
  ~SqliteCommandQueue() override;

  SqliteCommandQueue(const SqliteCommandQueue&) = delete;
  SqliteCommandQueue& operator=(const SqliteCommandQueue&) = delete;

  // Returns without touching the database: the writer thread does the work. `done` should return
  // quickly, because the next group commit waits for it.
  void Enqueue(std::vector<storage::NewCommand> batch, EnqueueCallback done) override;

  std::vector<storage::QueuedCommand> Lease(std::string_view consumer, size_t max,
                                            std::chrono::milliseconds lease,
                                            std::chrono::milliseconds wait) override;

  // Message ids that are not queued (already acknowledged, or not ids of this queue) are ignored.
  void Ack(std::span<const std::string> message_ids) override;
  void ReleaseAll(std::span<const std::string> message_ids,
                  std::chrono::milliseconds delay) override;
  void DeadLetter(const storage::QueuedCommand& message, std::string_view reason) override;
  bool IsQueued(std::string_view user_id, std::string_view idempotency_key) override;
  int64_t Depth() override;

 private:
  struct PendingBatch {
    std::vector<storage::NewCommand> commands;
    EnqueueCallback done;
  };

  void RunWriter();
  std::optional<std::string> CommitGroup(const std::vector<PendingBatch>& group);
  void InsertGroup(Connection& connection, const std::vector<PendingBatch>& group);
  void RefreshQueuedCount();
  std::vector<storage::QueuedCommand> TryLease(std::string_view consumer, size_t max,
                                               std::chrono::milliseconds lease);
  void WakeLeasers();

  std::shared_ptr<Database> database_;
  const Options options_;

  std::mutex mutex_;                       // guards every field below it
  std::condition_variable writer_wakeup_;  // pending_ or rejected_ has work, or stopping_ is set
  std::condition_variable lease_wakeup_;   // commit_generation_ changed, or stopping_ is set
  std::deque<PendingBatch> pending_;       // batches waiting for the writer, in arrival order
  std::vector<EnqueueCallback> rejected_;  // callbacks the writer runs with "queue is full"
  int64_t waiting_commands_ = 0;           // commands in pending_ or in the group committing
  int64_t queued_estimate_ = 0;            // rows of the table as this process last counted
  std::chrono::steady_clock::time_point last_count_{};
  uint64_t commit_generation_ = 0;  // bumped when commands become available to Lease
  bool stopping_ = false;

  log::RateLimiter failure_log_{std::chrono::seconds(10)};
  std::thread writer_;  // runs RunWriter; started last, joined by the destructor
};

}  // namespace prism::sqlite
