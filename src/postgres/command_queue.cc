#include "postgres/command_queue.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace prism::postgres {

namespace {

constexpr std::string_view kComponent = "command-queue";
constexpr std::string_view kQueueFull = "command queue is full";
constexpr auto kRecountInterval = std::chrono::seconds(1);

// The database server's clock in Unix milliseconds.
#define PRISM_PG_NOW_MS "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"

// Parses a message id produced by this queue; returns false for anything else.
bool ParseMessageId(std::string_view text, int64_t* id) {
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *id);
  return error == std::errc() && end == text.data() + text.size();
}

void RunCallback(const storage::CommandQueue::EnqueueCallback& done,
                 std::optional<std::string> failure) {
  try {
    done(std::move(failure));
  } catch (const std::exception& error) {
    log::Error(kComponent, "enqueue callback threw", {{"error", error.what()}});
  }
}

}  // namespace

PostgresCommandQueue::PostgresCommandQueue(std::shared_ptr<ConnectionPool> pool, Options options)
    : pool_(std::move(pool)), options_(options) {
  RefreshQueuedCount();
  writer_ = std::thread([this] { RunWriter(); });
}

PostgresCommandQueue::~PostgresCommandQueue() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  writer_wakeup_.notify_all();
  lease_wakeup_.notify_all();
  writer_.join();
}

// ---------------------------------------------------------------------------------------------
// Admission

void PostgresCommandQueue::Enqueue(std::vector<storage::NewCommand> batch, EnqueueCallback done) {
  const auto size = static_cast<int64_t>(batch.size());
  bool stopping = false;
  {
    std::lock_guard lock(mutex_);
    stopping = stopping_;
    if (stopping) {
      // Handled below: the writer thread may be gone.
    } else if (queued_estimate_ + waiting_commands_ + size > options_.admission_limit) {
      rejected_.push_back(std::move(done));
    } else {
      waiting_commands_ += size;
      pending_.push_back(PendingBatch{std::move(batch), std::move(done)});
    }
  }
  if (stopping) {
    RunCallback(done, "command queue is shutting down");
    return;
  }
  writer_wakeup_.notify_one();
}

void PostgresCommandQueue::RunWriter() {
  for (;;) {
    std::vector<EnqueueCallback> rejected;
    std::vector<PendingBatch> group;
    int64_t group_commands = 0;
    {
      std::unique_lock lock(mutex_);
      writer_wakeup_.wait(lock,
                          [&] { return stopping_ || !pending_.empty() || !rejected_.empty(); });
      if (pending_.empty() && rejected_.empty()) return;  // stopping, with nothing left to do
      rejected.swap(rejected_);
      // Take whole batches; the first one always goes, even when it alone exceeds the cap.
      const auto cap = static_cast<int64_t>(options_.max_group_commands);
      while (!pending_.empty()) {
        const auto size = static_cast<int64_t>(pending_.front().commands.size());
        if (!group.empty() && group_commands + size > cap) break;
        group_commands += size;
        group.push_back(std::move(pending_.front()));
        pending_.pop_front();
      }
    }
    for (const EnqueueCallback& done : rejected) RunCallback(done, std::string(kQueueFull));
    if (group.empty()) continue;

    std::optional<std::string> failure = CommitGroup(group);
    {
      std::lock_guard lock(mutex_);
      waiting_commands_ -= group_commands;
      if (!failure) queued_estimate_ += group_commands;
    }
    if (!failure) WakeLeasers();
    for (const PendingBatch& batch : group) RunCallback(batch.done, failure);
    if (!failure) RefreshQueuedCount();
  }
}

std::optional<std::string> PostgresCommandQueue::CommitGroup(
    const std::vector<PendingBatch>& group) {
  try {
    pool_->Transaction([&](Connection& connection) { InsertGroup(connection, group); });
    return std::nullopt;
  } catch (const storage::StorageUnavailable& error) {
    long suppressed = failure_log_.Admit("commit");
    if (suppressed >= 0) {
      log::Error(kComponent, "enqueue failed; nothing of the group was queued",
                 {{"error", error.what()}, {"batches", group.size()}, {"suppressed", suppressed}});
    }
    return std::string("command queue unavailable: ") + error.what();
  }
}

// Assigns per-user sequence numbers in batch order and inserts every command, in two statements.
// The counters are advanced once per user for the whole group, in user_id order, so groups of two
// processes lock the sequence rows in the same order.
void PostgresCommandQueue::InsertGroup(Connection& connection,
                                       const std::vector<PendingBatch>& group) {
  std::map<std::string, int64_t> counts;
  for (const PendingBatch& batch : group) {
    for (const storage::NewCommand& command : batch.commands) ++counts[command.user_id];
  }

  boost::json::array reservations;
  for (const auto& [user_id, count] : counts) {
    reservations.push_back({{"user_id", user_id}, {"amount", count}});
  }
  Result reserved = connection.Exec(
      "INSERT INTO command_sequences (user_id, last_seq) "
      "SELECT user_id, amount FROM jsonb_to_recordset($1::jsonb) AS r(user_id TEXT, amount BIGINT) "
      "ORDER BY user_id "
      "ON CONFLICT (user_id) DO UPDATE "
      "SET last_seq = command_sequences.last_seq + excluded.last_seq RETURNING user_id, last_seq",
      Params(boost::json::serialize(reservations)));

  // next_seq[user] is the first number of the range this group reserved for the user.
  std::unordered_map<std::string, int64_t> next_seq;
  for (int row = 0; row < reserved.Rows(); ++row) {
    std::string user_id = reserved.Text(row, 0);
    const int64_t count = counts.at(user_id);
    next_seq[std::move(user_id)] = reserved.Int(row, 1) - count + 1;
  }

  // One statement for the whole group. Rows are inserted in array order, so message ids follow
  // admission order.
  boost::json::array rows;
  for (const PendingBatch& batch : group) {
    for (const storage::NewCommand& command : batch.commands) {
      rows.push_back({{"user_id", command.user_id},
                      {"user_seq", next_seq.at(command.user_id)++},
                      {"idempotency_key", command.idempotency_key},
                      {"accepted_at_ms", command.accepted_at_ms},
                      {"body", command.body}});
    }
  }
  connection.Exec(
      "INSERT INTO commands (user_id, user_seq, idempotency_key, accepted_at_ms, body) "
      "SELECT user_id, user_seq, idempotency_key, accepted_at_ms, body "
      "FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (user_id TEXT, user_seq BIGINT, "
      "idempotency_key TEXT, accepted_at_ms BIGINT, body TEXT)) WITH ORDINALITY "
      "AS c(user_id, user_seq, idempotency_key, accepted_at_ms, body, ordinality) "
      "ORDER BY ordinality",
      Params(boost::json::serialize(rows)));
}

// Counts the table's rows at most once per kRecountInterval, so the admission limit also counts
// commands that other processes queued or acknowledged.
void PostgresCommandQueue::RefreshQueuedCount() {
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mutex_);
    if (last_count_ != std::chrono::steady_clock::time_point{} &&
        now - last_count_ < kRecountInterval) {
      return;
    }
    last_count_ = now;
  }
  try {
    int64_t count = Depth();
    std::lock_guard lock(mutex_);
    queued_estimate_ = count;
  } catch (const storage::StorageUnavailable& error) {
    log::Warn(kComponent, "counting queued commands failed", {{"error", error.what()}});
  }
}

// ---------------------------------------------------------------------------------------------
// Delivery

std::vector<storage::QueuedCommand> PostgresCommandQueue::Lease(std::string_view consumer,
                                                                size_t max,
                                                                std::chrono::milliseconds lease,
                                                                std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    uint64_t generation;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return {};
      generation = commit_generation_;
    }
    std::vector<storage::QueuedCommand> leased = TryLease(consumer, max, lease);
    auto now = std::chrono::steady_clock::now();
    if (!leased.empty() || now >= deadline) return leased;

    std::unique_lock lock(mutex_);
    lease_wakeup_.wait_until(lock, std::min(deadline, now + options_.poll_interval),
                             [&] { return stopping_ || commit_generation_ != generation; });
  }
}

std::vector<storage::QueuedCommand> PostgresCommandQueue::TryLease(
    std::string_view consumer, size_t max, std::chrono::milliseconds lease) {
  if (max == 0) return {};
  std::vector<storage::QueuedCommand> leased;
  pool_->Run([&](Connection& connection) {
    leased.clear();
    Result rows = connection.Exec(
        "UPDATE commands SET lease_owner = $1, lease_until_ms = " PRISM_PG_NOW_MS
        " + $2, attempts = attempts + 1 "
        "WHERE message_id IN (SELECT message_id FROM commands "
        "WHERE lease_until_ms <= " PRISM_PG_NOW_MS
        " ORDER BY message_id LIMIT $3 FOR UPDATE SKIP LOCKED) "
        "RETURNING message_id, user_id, user_seq, idempotency_key, accepted_at_ms, body, "
        "attempts",
        Params(consumer, lease.count(), max));
    for (int row = 0; row < rows.Rows(); ++row) {
      storage::QueuedCommand command;
      command.message_id = rows.Text(row, 0);
      command.user_id = rows.Text(row, 1);
      command.user_seq = rows.Int(row, 2);
      command.idempotency_key = rows.Text(row, 3);
      command.accepted_at_ms = rows.Int(row, 4);
      command.body = rows.Text(row, 5);
      command.attempts = static_cast<int>(rows.Int(row, 6));
      leased.push_back(std::move(command));
    }
  });
  // RETURNING gives no order; oldest first is by message id.
  std::sort(leased.begin(), leased.end(), [](const auto& a, const auto& b) {
    return std::stoll(a.message_id) < std::stoll(b.message_id);
  });
  return leased;
}

void PostgresCommandQueue::WakeLeasers() {
  {
    std::lock_guard lock(mutex_);
    ++commit_generation_;
  }
  lease_wakeup_.notify_all();
}

namespace {

// Formats the valid ids among `message_ids` as a bigint[] literal, such as "{3,7}", or "{}" when
// none is valid.
std::string IdArray(std::span<const std::string> message_ids) {
  std::string ids = "{";
  for (const std::string& text : message_ids) {
    int64_t id;
    if (!ParseMessageId(text, &id)) continue;
    if (ids.size() > 1) ids += ",";
    ids += std::to_string(id);
  }
  ids += "}";
  return ids;
}

}  // namespace

void PostgresCommandQueue::Ack(std::span<const std::string> message_ids) {
  std::string ids = IdArray(message_ids);
  if (ids == "{}") return;
  int64_t removed = 0;
  pool_->Run([&](Connection& connection) {
    removed =
        connection.Exec("DELETE FROM commands WHERE message_id = ANY($1::bigint[])", Params(ids))
            .Affected();
  });
  std::lock_guard lock(mutex_);
  queued_estimate_ -= removed;
}

void PostgresCommandQueue::ReleaseAll(std::span<const std::string> message_ids,
                                      std::chrono::milliseconds delay) {
  std::string ids = IdArray(message_ids);
  if (ids == "{}") return;
  pool_->Run([&](Connection& connection) {
    connection.Exec("UPDATE commands SET lease_owner = NULL, lease_until_ms = " PRISM_PG_NOW_MS
                    " + $1 WHERE message_id = ANY($2::bigint[])",
                    Params(delay.count(), ids));
  });
  if (delay.count() <= 0) WakeLeasers();
}

void PostgresCommandQueue::DeadLetter(const storage::QueuedCommand& message,
                                      std::string_view reason) {
  int64_t id = 0;
  const bool valid_id = ParseMessageId(message.message_id, &id);
  int64_t removed = 0;
  pool_->Transaction([&](Connection& connection) {
    connection.Exec(
        "INSERT INTO command_dead_letters (message_id, user_id, user_seq, idempotency_key, "
        "accepted_at_ms, body, attempts, reason, dead_at_ms) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, " PRISM_PG_NOW_MS ")",
        Params(message.message_id, message.user_id, message.user_seq, message.idempotency_key,
               message.accepted_at_ms, message.body, message.attempts, reason));
    removed = 0;
    if (valid_id) {
      removed =
          connection.Exec("DELETE FROM commands WHERE message_id = $1", Params(id)).Affected();
    }
  });
  log::Warn(kComponent, "command dead-lettered",
            {{"message_id", message.message_id},
             {"user_id", message.user_id},
             {"idempotency_key", message.idempotency_key},
             {"attempts", message.attempts},
             {"reason", reason}});
  std::lock_guard lock(mutex_);
  queued_estimate_ -= removed;
}

// ---------------------------------------------------------------------------------------------
// Inspection

bool PostgresCommandQueue::IsQueued(std::string_view user_id, std::string_view idempotency_key) {
  bool queued = false;
  pool_->Run([&](Connection& connection) {
    queued = !connection
                  .Exec(
                      "SELECT 1 FROM commands WHERE user_id = $1 AND idempotency_key = $2 "
                      "LIMIT 1",
                      Params(user_id, idempotency_key))
                  .Empty();
  });
  return queued;
}

int64_t PostgresCommandQueue::Depth() {
  int64_t depth = 0;
  pool_->Run([&](Connection& connection) {
    depth = connection.Exec("SELECT COUNT(*) FROM commands").Int(0, 0);
  });
  return depth;
}

}  // namespace prism::postgres
