#include "sqlite/event_queue.h"

#include <algorithm>
#include <utility>

#include "common/log.h"
#include "sqlite/event_store.h"

namespace prism::sqlite {

namespace {

constexpr std::string_view kComponent = "event-queue";

}  // namespace

SqliteEventQueue::SqliteEventQueue(std::shared_ptr<Database> database,
                                   std::chrono::milliseconds poll_interval)
    : database_(std::move(database)), poll_interval_(poll_interval) {}

std::vector<domain::Event> SqliteEventQueue::Poll(std::string_view consumer, size_t max,
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

std::vector<domain::Event> SqliteEventQueue::ReadAfterCheckpoint(std::string_view consumer,
                                                                 size_t max) {
  static const std::string sql =
      "SELECT " + std::string(kEventColumns) +
      " FROM events WHERE position > (SELECT COALESCE(MAX(position), 0) FROM "
      "consumer_checkpoints WHERE consumer = ?1) ORDER BY position LIMIT ?2";
  std::vector<domain::Event> events;
  if (max == 0) return events;
  database_->Read([&](Connection& connection) {
    Statement query = connection.Prepare(sql);
    query.BindAll(consumer, static_cast<int64_t>(max));
    while (query.Step()) events.push_back(ReadEventRow(query));
  });
  return events;
}

void SqliteEventQueue::Ack(std::string_view consumer, int64_t position) {
  database_->Write(Durability::kNormal, [&](Connection& connection) {
    connection
        .Prepare(
            "INSERT INTO consumer_checkpoints (consumer, position) VALUES (?1, ?2) "
            "ON CONFLICT (consumer) DO UPDATE SET position = MAX(position, excluded.position)")
        .BindAll(consumer, position)
        .Run();
  });
}

void SqliteEventQueue::DeadLetter(const domain::Event& event, std::string_view reason) {
  database_->Write(Durability::kFull, [&](Connection& connection) {
    connection
        .Prepare(
            "INSERT INTO event_dead_letters (event_id, position, entity_type, entity_id, event, "
            "reason, dead_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
        .BindAll(event.id, event.position, domain::ToString(event.entity_type), event.entity_id,
                 domain::Serialize(event), reason, NowMs())
        .Run();
  });
  log::Warn(kComponent, "event dead-lettered",
            {{"event_id", event.id}, {"position", event.position}, {"reason", reason}});
}

void SqliteEventQueue::Notify() {
  {
    std::lock_guard lock(mutex_);
    ++notifications_;
  }
  wakeup_.notify_all();
}

int64_t SqliteEventQueue::Checkpoint(std::string_view consumer) {
  int64_t position = 0;
  database_->Read([&](Connection& connection) {
    Statement query =
        connection.Prepare("SELECT position FROM consumer_checkpoints WHERE consumer = ?1");
    if (query.Bind(1, consumer).Step()) position = query.Int(0);
  });
  return position;
}

}  // namespace prism::sqlite
