// The PostgreSQL domain-events queue, read straight from the events table.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>

#include "postgres/connection.h"
#include "storage/interfaces.h"

namespace prism::postgres {

// storage::EventQueue on the `events` table with one checkpoint row per consumer, as in the
// SQLite backend: a consumer's queue is "every event after its checkpoint". Positions follow
// commit order (see PostgresEventStore), so a poll never skips an event that commits later.
//
// Every consumer name has its own checkpoint and receives every event. Poll returns events after
// the acknowledged position, so two Polls without an Ack return the same events again: one
// consumer name is meant for one reader at a time.
//
// Waiting is short polling: a blocked Poll looks again every poll_interval, and Notify() (called
// by this process's event store after a commit) wakes it at once.
//
// Thread-safe.
class PostgresEventQueue final : public storage::EventQueue {
 public:
  explicit PostgresEventQueue(
      std::shared_ptr<ConnectionPool> pool,
      std::chrono::milliseconds poll_interval = std::chrono::milliseconds(50));

  std::vector<domain::Event> Poll(std::string_view consumer, size_t max,
                                  std::chrono::milliseconds wait) override;

  // Never moves a checkpoint backwards: a position below the stored one is ignored.
  void Ack(std::string_view consumer, int64_t position) override;

  void DeadLetter(const domain::Event& event, std::string_view reason) override;
  void Notify() override;

  // The consumer's acknowledged position; 0 when it never acknowledged.
  int64_t Checkpoint(std::string_view consumer);

 private:
  std::vector<domain::Event> ReadAfterCheckpoint(std::string_view consumer, size_t max);

  std::shared_ptr<ConnectionPool> pool_;
  const std::chrono::milliseconds poll_interval_;

  std::mutex mutex_;                // guards notifications_
  std::condition_variable wakeup_;  // notifications_ changed
  uint64_t notifications_ = 0;      // bumped by Notify()
};

}  // namespace prism::postgres
