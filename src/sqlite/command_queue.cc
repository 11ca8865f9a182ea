#include "sqlite/command_queue.h"

#include <algorithm>
#include <charconv>
#include <unordered_map>
#include <utility>

namespace prism::sqlite {

namespace {

constexpr std::string_view kComponent = "command-queue";
constexpr std::string_view kQueueFull = "command queue is full";
constexpr auto kRecountInterval = std::chrono::seconds(1);

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

SqliteCommandQueue::SqliteCommandQueue(std::shared_ptr<Database> database, Options options)
    : database_(std::move(database)), options_(options) {
  RefreshQueuedCount();
  writer_ = std::thread([this] { RunWriter(); });
}

SqliteCommandQueue::~SqliteCommandQueue() {
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

void SqliteCommandQueue::Enqueue(std::vector<storage::NewCommand> batch, EnqueueCallback done) {
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

void SqliteCommandQueue::RunWriter() {
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

std::optional<std::string> SqliteCommandQueue::CommitGroup(const std::vector<PendingBatch>& group) {
  try {
    database_->Write(Durability::kFull,
                     [&](Connection& connection) { InsertGroup(connection, group); });
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

// Assigns per-user sequence numbers in batch order and inserts every command. The counters are
// advanced once per user for the whole group, then handed out in order.
void SqliteCommandQueue::InsertGroup(Connection& connection,
                                     const std::vector<PendingBatch>& group) {
  std::unordered_map<std::string_view, int64_t> counts;
  for (const PendingBatch& batch : group) {
    for (const storage::NewCommand& command : batch.commands) ++counts[command.user_id];
  }

  // next_seq[user] is the first number of the range this group reserved for the user.
  std::unordered_map<std::string_view, int64_t> next_seq;
  for (const auto& [user_id, count] : counts) {
    Statement reserve = connection.Prepare(
        "INSERT INTO command_sequences (user_id, last_seq) VALUES (?1, ?2) "
        "ON CONFLICT (user_id) DO UPDATE SET last_seq = last_seq + excluded.last_seq "
        "RETURNING last_seq");
    reserve.BindAll(user_id, count);
    if (!reserve.Step()) connection.Fail(0, "reserve sequence numbers");
    next_seq[user_id] = reserve.Int(0) - count + 1;
  }

  Statement insert = connection.Prepare(
      "INSERT INTO commands (user_id, user_seq, idempotency_key, accepted_at_ms, body) "
      "VALUES (?1, ?2, ?3, ?4, ?5)");
  for (const PendingBatch& batch : group) {
    for (const storage::NewCommand& command : batch.commands) {
      int64_t seq = next_seq[command.user_id]++;
      insert.BindAll(command.user_id, seq, command.idempotency_key, command.accepted_at_ms,
                     command.body);
      insert.Run();
    }
  }
}

// Counts the table's rows at most once per kRecountInterval, so the admission limit also counts
// commands that other processes queued or acknowledged.
void SqliteCommandQueue::RefreshQueuedCount() {
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

std::vector<storage::QueuedCommand> SqliteCommandQueue::Lease(std::string_view consumer, size_t max,
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

std::vector<storage::QueuedCommand> SqliteCommandQueue::TryLease(std::string_view consumer,
                                                                 size_t max,
                                                                 std::chrono::milliseconds lease) {
  if (max == 0) return {};
  const int64_t now = NowMs();

  // A read first, so an empty queue never takes the write lock from enqueuers.
  bool any_ready = false;
  database_->Read([&](Connection& connection) {
    Statement ready =
        connection.Prepare("SELECT 1 FROM commands WHERE lease_until_ms <= ?1 LIMIT 1");
    any_ready = ready.Bind(1, now).Step();
  });
  if (!any_ready) return {};

  std::vector<storage::QueuedCommand> leased;
  database_->Write(Durability::kNormal, [&](Connection& connection) {
    Statement update = connection.Prepare(
        "UPDATE commands SET lease_owner = ?1, lease_until_ms = ?2, attempts = attempts + 1 "
        "WHERE message_id IN (SELECT message_id FROM commands WHERE lease_until_ms <= ?3 "
        "ORDER BY message_id LIMIT ?4) "
        "RETURNING message_id, user_id, user_seq, idempotency_key, accepted_at_ms, body, "
        "attempts");
    update.BindAll(consumer, now + lease.count(), now, static_cast<int64_t>(max));
    while (update.Step()) {
      storage::QueuedCommand command;
      command.message_id = std::to_string(update.Int(0));
      command.user_id = update.Text(1);
      command.user_seq = update.Int(2);
      command.idempotency_key = update.Text(3);
      command.accepted_at_ms = update.Int(4);
      command.body = update.Text(5);
      command.attempts = static_cast<int>(update.Int(6));
      leased.push_back(std::move(command));
    }
  });
  // RETURNING gives no order; oldest first is by message id.
  std::sort(leased.begin(), leased.end(), [](const auto& a, const auto& b) {
    return std::stoll(a.message_id) < std::stoll(b.message_id);
  });
  return leased;
}

void SqliteCommandQueue::WakeLeasers() {
  {
    std::lock_guard lock(mutex_);
    ++commit_generation_;
  }
  lease_wakeup_.notify_all();
}

void SqliteCommandQueue::Ack(std::span<const std::string> message_ids) {
  if (message_ids.empty()) return;
  int64_t removed = 0;
  database_->Write(Durability::kNormal, [&](Connection& connection) {
    removed = 0;
    Statement remove = connection.Prepare("DELETE FROM commands WHERE message_id = ?1");
    for (const std::string& text : message_ids) {
      int64_t id;
      if (!ParseMessageId(text, &id)) continue;
      remove.Bind(1, id).Run();
      removed += connection.Changes();
    }
  });
  std::lock_guard lock(mutex_);
  queued_estimate_ -= removed;
}

void SqliteCommandQueue::ReleaseAll(std::span<const std::string> message_ids,
                                    std::chrono::milliseconds delay) {
  std::vector<int64_t> ids;
  for (const std::string& message_id : message_ids) {
    int64_t id;
    if (ParseMessageId(message_id, &id)) ids.push_back(id);
  }
  if (ids.empty()) return;
  database_->Write(Durability::kNormal, [&](Connection& connection) {
    const int64_t until = NowMs() + delay.count();
    for (int64_t id : ids) {
      connection
          .Prepare(
              "UPDATE commands SET lease_owner = NULL, lease_until_ms = ?1 "
              "WHERE message_id = ?2")
          .BindAll(until, id)
          .Run();
    }
  });
  if (delay.count() <= 0) WakeLeasers();
}

void SqliteCommandQueue::DeadLetter(const storage::QueuedCommand& message,
                                    std::string_view reason) {
  int64_t id = 0;
  bool valid_id = ParseMessageId(message.message_id, &id);
  int64_t removed = 0;
  database_->Write(Durability::kFull, [&](Connection& connection) {
    connection
        .Prepare(
            "INSERT INTO command_dead_letters (message_id, user_id, user_seq, idempotency_key, "
            "accepted_at_ms, body, attempts, reason, dead_at_ms) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")
        .BindAll(message.message_id, message.user_id, message.user_seq, message.idempotency_key,
                 message.accepted_at_ms, message.body, static_cast<int64_t>(message.attempts),
                 reason, NowMs())
        .Run();
    removed = 0;
    if (valid_id) {
      connection.Prepare("DELETE FROM commands WHERE message_id = ?1").Bind(1, id).Run();
      removed = connection.Changes();
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

bool SqliteCommandQueue::IsQueued(std::string_view user_id, std::string_view idempotency_key) {
  bool queued = false;
  database_->Read([&](Connection& connection) {
    Statement find = connection.Prepare(
        "SELECT 1 FROM commands WHERE user_id = ?1 AND idempotency_key = ?2 LIMIT 1");
    queued = find.BindAll(user_id, idempotency_key).Step();
  });
  return queued;
}

int64_t SqliteCommandQueue::Depth() {
  int64_t depth = 0;
  database_->Read([&](Connection& connection) {
    depth = connection.QueryInt("SELECT COUNT(*) FROM commands");
  });
  return depth;
}

}  // namespace prism::sqlite
