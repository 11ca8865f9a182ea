// The distributed domain-events queue: a Redis stream fed from the event store's outbox.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/log.h"
#include "redis/connection.h"
#include "storage/interfaces.h"

namespace prism::redis {

// Copies committed events from storage::EventStore::ReadAll into the stream
// <key_prefix><stream>, with entry id <position>-0 and the serialised event in field "e". A Lua
// script appends an event only when its position is above the last relayed position (kept in
// <key_prefix><stream>:relayed), so relays in several processes racing each other never
// duplicate or reorder events. The stream contains every committed event in position order. Its
// positions skip the numbers of rolled-back appends, which the event store never fills later.
//
// Every trim_interval, RelayOnce also trims entries that every consumer group has acknowledged.
// Thread-safe.
class OutboxRelay {
 public:
  struct Options {
    std::string stream = "domain-events";
    std::string key_prefix;
    size_t batch = 500;                       // events read and appended per step
    std::chrono::milliseconds interval{100};  // the relay thread's idle poll
    std::chrono::milliseconds trim_interval{10'000};
    Client::Options client;
  };

  OutboxRelay(Endpoint endpoint, std::shared_ptr<storage::EventStore> events, Options options);
  ~OutboxRelay();  // stops the relay thread, when started

  OutboxRelay(const OutboxRelay&) = delete;
  OutboxRelay& operator=(const OutboxRelay&) = delete;

  // Appends the next batch after the last relayed position; returns how many events this call
  // appended (0 when none were new or another relay was first). Throws StorageUnavailable.
  int64_t RelayOnce();

  // Relays on a thread of its own until destruction: at once after Wake(), and every interval.
  // Failures are logged (rate-limited) and retried at the next interval.
  void Start();
  void Wake();

  const Options& options() const { return options_; }

 private:
  void Run();
  void TrimAcknowledged(Connection& connection);

  const Options options_;
  const std::string stream_;
  std::shared_ptr<storage::EventStore> events_;
  Client client_;

  std::mutex relay_mutex_;     // one RelayOnce at a time in this process; guards the two below
  int64_t last_relayed_ = -1;  // as the last script call returned; -1 before the first
  std::chrono::steady_clock::time_point last_trim_{};

  std::mutex thread_mutex_;  // guards wakeups_ and stopping_
  std::condition_variable wakeup_;
  uint64_t wakeups_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

// storage::EventQueue on the relay's stream with one consumer group per consumer name; the group
// starts at the oldest entry the stream still holds. Like the embedded queue, Poll returns the
// group's unacknowledged entries again (XREADGROUP from 0) before new ones, so one consumer name
// is meant for one reader at a time. Poll runs a relay step when nothing is new, then blocks in
// XREADGROUP for up to the relay interval at a time. Thread-safe.
class RedisEventQueue final : public storage::EventQueue {
 public:
  RedisEventQueue(Endpoint endpoint, std::shared_ptr<storage::EventStore> events,
                  OutboxRelay::Options options);

  std::vector<domain::Event> Poll(std::string_view consumer, size_t max,
                                  std::chrono::milliseconds wait) override;
  // Acknowledges every entry up to the position and moves the group past it, so later Polls
  // never return events at or below it.
  void Ack(std::string_view consumer, int64_t position) override;
  // Appends the event and the reason to <key_prefix><stream>:dead.
  void DeadLetter(const domain::Event& event, std::string_view reason) override;
  // Wakes the relay thread, when one was started.
  void Notify() override;

  OutboxRelay& relay() { return *relay_; }
  int64_t DeadLetterCount();

 private:
  void EnsureGroup(Connection& connection, const std::string& group);
  std::vector<domain::Event> ReadGroup(const std::string& group, size_t max, const char* from,
                                       std::chrono::milliseconds block);

  const std::string stream_;
  const std::chrono::milliseconds relay_interval_;
  std::shared_ptr<OutboxRelay> relay_;
  Client client_;

  std::mutex mutex_;              // guards groups_
  std::set<std::string> groups_;  // groups this process created or found
};

}  // namespace prism::redis
