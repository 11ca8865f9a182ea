// The embedded event store: events, idempotency records and user cursors in the SQLite file.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "sqlite/database.h"
#include "storage/interfaces.h"

namespace prism::sqlite {

// Converts between domain events and rows of the `events` table. The row's columns must be
// selected in the order of kEventColumns.
inline constexpr std::string_view kEventColumns =
    "position, id, entity_type, entity_id, version, type, data, timestamp_ms, user_id, "
    "idempotency_key";
domain::Event ReadEventRow(const Statement& row);

// storage::EventStore on the `events`, `idempotency` and `user_cursors` tables.
//
// Positions: an event's position is the rowid of its row. SQLite runs one write transaction at a
// time per file, and a new rowid is one more than the largest in the table, so positions are
// assigned in commit order. Every position at or below the largest committed one is therefore
// final, which makes any "events after P" read gap-free without tracking in-flight writers.
//
// The events table is also the outbox: SqliteEventQueue publishes from it, so events, their
// outcome record and their outbox entry commit in one transaction by construction.
//
// Thread-safe.
class SqliteEventStore final : public storage::EventStore {
 public:
  // `on_commit` runs after every Commit that wrote at least one event (to wake event pollers);
  // it may be empty.
  SqliteEventStore(std::shared_ptr<Database> database, std::function<void()> on_commit);

  // Commits all requests in one kFull transaction. A request whose cursor or version check fails
  // leaves nothing (one with several events runs inside its own SAVEPOINT for that), and the
  // others stay. Each user's cursor is read and written once per call.
  std::vector<storage::CommitResult> Commit(
      std::span<const storage::CommitRequest> requests) override;

  std::vector<domain::Event> ReadStream(domain::EntityType type, std::string_view id,
                                        int64_t after_version) override;
  std::vector<domain::Event> ReadAll(int64_t after_position, size_t max) override;
  int64_t HeadPosition() override;
  std::optional<storage::CommandOutcome> FindOutcome(std::string_view user_id,
                                                     std::string_view idempotency_key) override;
  int64_t UserCursor(std::string_view user_id) override;

  // One statement, so one read transaction, each: the inputs travel as one JSON array parameter
  // that json_each turns into rows, joined with the table on its primary or unique key.
  std::vector<std::optional<storage::CommandOutcome>> FindOutcomes(
      std::span<const storage::CommandKey> commands) override;
  std::vector<int64_t> UserCursors(std::span<const std::string> user_ids) override;
  std::vector<std::vector<domain::Event>> ReadStreams(
      std::span<const domain::StreamKey> streams) override;

  // Deletes in transactions of at most kForgetChunk rows, so the write lock is released between
  // chunks and enqueues are never held up for long.
  int64_t ForgetOutcomes(int64_t cutoff_ms, int64_t batch) override;
  static constexpr int64_t kForgetChunk = 500;

 private:
  // user id -> last applied sequence number, as this transaction has it so far
  using Cursors = std::unordered_map<std::string, int64_t>;
  storage::CommitResult CommitOne(Connection& connection, const storage::CommitRequest& request,
                                  Cursors& cursors);
  int64_t& Cursor(Connection& connection, Cursors& cursors, const std::string& user_id);
  bool AppendEvents(Connection& connection, const storage::CommitRequest& request,
                    std::vector<domain::Event>* appended);
  void StoreOutcome(Connection& connection, const storage::CommitRequest& request);

  std::shared_ptr<Database> database_;
  std::function<void()> on_commit_;
};

}  // namespace prism::sqlite
