// The embedded domain-events queue, read straight from the events table.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>

#include "sqlite/database.h"
#include "storage/interfaces.h"

namespace prism::sqlite {

// storage::EventQueue on the `events` table with one checkpoint row per consumer.
//
// The distributed backend has an outbox table, committed with the events, and a relay that
// copies it into a Redis stream. Here the events table itself is the outbox and the queue: a
// consumer's queue is "every event after its checkpoint", so publication is atomic with the
// commit and needs no relay. Positions are assigned in commit order (see SqliteEventStore), so a
// poll never skips an event that commits later.
//
// Every consumer name has its own checkpoint and receives every event. Poll returns events after
// the acknowledged position, so two Polls without an Ack return the same events again: one
// consumer name is meant for one reader at a time.
//
// Thread-safe.
class SqliteEventQueue final : public storage::EventQueue {
 public:
  // `poll_interval`: how often a blocked Poll looks for events that another process committed.
  // Notify() wakes it at once for commits of this process.
  explicit SqliteEventQueue(
      std::shared_ptr<Database> database,
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

  std::shared_ptr<Database> database_;
  const std::chrono::milliseconds poll_interval_;

  std::mutex mutex_;                // guards notifications_
  std::condition_variable wakeup_;  // notifications_ changed
  uint64_t notifications_ = 0;      // bumped by Notify()
};

}  // namespace prism::sqlite
