// The PostgreSQL command queue: a table filled by group commit, leased with SKIP LOCKED.
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
#include "postgres/connection.h"
#include "storage/interfaces.h"

namespace prism::postgres {

// storage::CommandQueue on the `commands` table. Each row is one admitted command; its message id
// is the BIGSERIAL message_id as text, so ids grow in admission order within one process. Per-user
// sequence numbers come from the `command_sequences` table, whose row is advanced (and locked) in
// the enqueueing transaction, so they have no gaps and no duplicates across processes.
//
// Group commit: Enqueue only hands the batch to one writer thread, which commits every batch that
// arrived while the previous commit ran in a single transaction. Each batch's callback runs on
// the writer thread after the commit, never on the caller's thread.
//
// Leases: Lease marks the oldest ready rows (lease_until_ms at or before now) with a lease that
// ends at now + lease, choosing them with FOR UPDATE SKIP LOCKED so concurrent leasers never wait
// for or take each other's rows. "Now" is the database server's clock, so processes on hosts with
// skewed clocks agree on when a lease expires.
//
// Thread-safe. The destructor commits the batches already handed over, runs their callbacks and
// stops the writer thread; Lease calls still blocked return empty.
class PostgresCommandQueue final : public storage::CommandQueue {
 public:
  struct Options {
    // Commands queued in the table plus those waiting for the writer; a batch that would exceed
    // it is rejected whole with "command queue is full".
    int64_t admission_limit = 100'000;
    // Most commands one group transaction holds, to bound the time sequence rows stay locked.
    size_t max_group_commands = 4096;
    // How often a blocked Lease looks for commands that another process queued, and for expired
    // or released leases. In-process enqueues and releases wake it at once.
    std::chrono::milliseconds poll_interval{50};
  };

  PostgresCommandQueue(std::shared_ptr<ConnectionPool> pool, Options options);
  ~PostgresCommandQueue() override;

  PostgresCommandQueue(const PostgresCommandQueue&) = delete;
  PostgresCommandQueue& operator=(const PostgresCommandQueue&) = delete;

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
  static void InsertGroup(Connection& connection, const std::vector<PendingBatch>& group);
  void RefreshQueuedCount();
  std::vector<storage::QueuedCommand> TryLease(std::string_view consumer, size_t max,
                                               std::chrono::milliseconds lease);
  void WakeLeasers();

  std::shared_ptr<ConnectionPool> pool_;
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

}  // namespace prism::postgres
