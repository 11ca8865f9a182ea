// The distributed command queue: a Redis stream with one consumer group.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>

#include "common/log.h"
#include "redis/connection.h"
#include "storage/interfaces.h"

namespace prism::redis {

// storage::CommandQueue on the stream <key_prefix><stream>, read by the consumer group "workers".
// Keys beside the stream, all starting with <key_prefix><stream>:
//   :seq:<user>     the user's last sequence number (INCR), never deleted
//   :queued:<user>  hash of idempotency key -> number of queued commands with that key
//   :leases         sorted set of leased message ids by lease deadline (server ms)
//   :dead           the dead-letter stream
// Every change runs in one Lua script, so a batch is atomic and sequence numbers have no gaps
// even with many API replicas. The scripts build per-user key names themselves, which a standalone
// server allows and Redis Cluster does not.
//
// Leases: the Lease script claims (XCLAIM) ids whose deadline passed, then reads new messages
// (XREADGROUP). The delivery count of the pending entry is the attempt count. A sorted set of
// deadlines replaces idle-time XAUTOCLAIM because each Lease call and each Release brings
// its own duration, and idle time can express only one threshold per scan. Release(delay) sets
// the deadline to now + delay, so the message is claimed again after the delay.
//
// Enqueue hands the batch to one writer thread, which sends every batch waiting at that moment in
// one pipeline (one EVALSHA per batch), in arrival order. Thread-safe.
class RedisCommandQueue final : public storage::CommandQueue {
 public:
  struct Options {
    std::string stream = "command-queue";
    std::string key_prefix;  // prepended to every key, e.g. "prism:"
    // Commands in the stream (waiting or leased); a batch that would exceed it is rejected whole
    // with "command queue is full". Also bounds the commands waiting for the writer thread.
    int64_t admission_limit = 100'000;
    size_t max_group_batches = 256;  // batches in one pipeline
    // Returns the user's last applied sequence number (EventStore::UserCursor). A user's counter
    // starts there when Redis has none, for a new user or after Redis lost its data. Empty: 0.
    std::function<int64_t(std::string_view user_id)> user_cursor;
    Client::Options client;
  };

  RedisCommandQueue(Endpoint endpoint, Options options);
  ~RedisCommandQueue() override;

  RedisCommandQueue(const RedisCommandQueue&) = delete;
  RedisCommandQueue& operator=(const RedisCommandQueue&) = delete;

  void Enqueue(std::vector<storage::NewCommand> batch, EnqueueCallback done) override;
  // Blocks in XREAD BLOCK on a pooled connection while nothing is ready, waking for new messages
  // of any process and for the nearest lease deadline.
  std::vector<storage::QueuedCommand> Lease(std::string_view consumer, size_t max,
                                            std::chrono::milliseconds lease,
                                            std::chrono::milliseconds wait) override;
  // Ids that are not queued are ignored.
  void Ack(std::span<const std::string> message_ids) override;
  void ReleaseAll(std::span<const std::string> message_ids,
                  std::chrono::milliseconds delay) override;
  void DeadLetter(const storage::QueuedCommand& message, std::string_view reason) override;
  bool IsQueued(std::string_view user_id, std::string_view idempotency_key) override;
  int64_t Depth() override;

  // Entries of the dead-letter stream.
  int64_t DeadLetterCount();

 private:
  struct PendingBatch {
    std::vector<storage::NewCommand> commands;
    EnqueueCallback done;
  };
  struct LeaseResult {
    std::vector<storage::QueuedCommand> messages;
    int64_t next_deadline_ms = -1;  // until the nearest lease deadline; -1 when none
    std::string last_id;            // newest entry of the stream, for XREAD
  };

  void RunWriter();
  std::vector<std::optional<std::string>> SendGroup(const std::vector<PendingBatch>& group);
  // Creates the sequence counters the group's users lack. Marks the batches of a user whose
  // counter could not be created as failed.
  void EnsureCounters(Connection& connection, const std::vector<PendingBatch>& group,
                      std::vector<std::optional<std::string>>& failures);
  // Sends a batch whose users lack sequence counters, after creating them. Returns the failure.
  std::optional<std::string> SendSeeded(Connection& connection, const PendingBatch& batch);
  std::optional<std::string> SeedCounter(Connection& connection, const std::string& user_id);
  std::vector<std::string> EnqueueArgs(const PendingBatch& batch) const;
  LeaseResult TryLease(std::string_view consumer, size_t max, std::chrono::milliseconds lease);
  void WaitForNew(const std::string& last_id, std::chrono::milliseconds block);

  const Options options_;
  const std::string stream_;  // key of the stream; other keys start with it
  Client client_;

  std::mutex mutex_;                       // guards every field below it
  std::condition_variable writer_wakeup_;  // pending_ has work, or stopping_ is set
  std::deque<PendingBatch> pending_;
  int64_t waiting_commands_ = 0;  // commands in pending_
  bool stopping_ = false;

  log::RateLimiter failure_log_{std::chrono::seconds(10)};
  // Users known to have a sequence counter; used by the writer thread only, and cleared after
  // any failure in case Redis lost its data.
  std::unordered_set<std::string> seeded_users_;
  std::thread writer_;  // started last, joined by the destructor
};

}  // namespace prism::redis
