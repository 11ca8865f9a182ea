#include "postgres/event_queue.h"

#include <algorithm>
#include <utility>

#include "common/log.h"
#include "postgres/event_store.h"

namespace prism::postgres {

namespace {

constexpr std::string_view kComponent = "event-queue";

}  // namespace

PostgresEventQueue::PostgresEventQueue(std::shared_ptr<ConnectionPool> pool,
                                       std::chrono::milliseconds poll_interval)
    : pool_(std::move(pool)), poll_interval_(poll_interval) {}

std::vector<domain::Event> PostgresEventQueue::Poll(std::string_view consumer, size_t max,
                                                    std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    uint64_t seen;
    {
      std::lock_guard lock(mutex_);
      seen = notifications_;
    }
    std::vector<domain::Event> events = ReadAfterCheckpoint(consumer, max);
    auto now = std::chrono::steady_clock::now();
    if (!events.empty() || now >= deadline) return events;

    std::unique_lock lock(mutex_);
    wakeup_.wait_until(lock, std::min(deadline, now + poll_interval_),
                       [&] { return notifications_ != seen; });
  }
}

std::vector<domain::Event> PostgresEventQueue::ReadAfterCheckpoint(std::string_view consumer,
                                                                   size_t max) {
  static const std::string sql =
      "SELECT " + std::string(kEventColumns) +
      " FROM events WHERE position > (SELECT COALESCE(MAX(position), 0) FROM "
      "consumer_checkpoints WHERE consumer = $1) ORDER BY position LIMIT $2";
  std::vector<domain::Event> events;
  if (max == 0) return events;
  pool_->Run([&](Connection& connection) {
    Result rows = connection.Exec(sql, Params(consumer, max));
    events.clear();
    for (int row = 0; row < rows.Rows(); ++row) events.push_back(ReadEventRow(rows, row));
  });
  return events;
}

void PostgresEventQueue::Ack(std::string_view consumer, int64_t position) {
  pool_->Run([&](Connection& connection) {
    connection.Exec(
        "INSERT INTO consumer_checkpoints (consumer, position) VALUES ($1, $2) "
        "ON CONFLICT (consumer) DO UPDATE "
        "SET position = GREATEST(consumer_checkpoints.position, excluded.position)",
        Params(consumer, position));
  });
}

void PostgresEventQueue::DeadLetter(const domain::Event& event, std::string_view reason) {
  pool_->Run([&](Connection& connection) {
    connection.Exec(
        "INSERT INTO event_dead_letters (event_id, position, entity_type, entity_id, event, "
        "reason, dead_at_ms) "
        "VALUES ($1, $2, $3, $4, $5, $6, (extract(epoch FROM clock_timestamp()) * 1000)::bigint)",
        Params(event.id, event.position, domain::ToString(event.entity_type), event.entity_id,
               domain::Serialize(event), reason));
  });
  log::Warn(kComponent, "event dead-lettered",
            {{"event_id", event.id}, {"position", event.position}, {"reason", reason}});
}

void PostgresEventQueue::Notify() {
  {
    std::lock_guard lock(mutex_);
    ++notifications_;
  }
  wakeup_.notify_all();
}

int64_t PostgresEventQueue::Checkpoint(std::string_view consumer) {
  int64_t position = 0;
  pool_->Run([&](Connection& connection) {
    Result rows = connection.Exec("SELECT position FROM consumer_checkpoints WHERE consumer = $1",
                                  Params(consumer));
    if (!rows.Empty()) position = rows.Int(0, 0);
  });
  return position;
}

}  // namespace prism::postgres
