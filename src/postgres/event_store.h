// The PostgreSQL event store: events, idempotency records and user cursors.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "postgres/connection.h"
#include "storage/interfaces.h"

namespace prism::postgres {

// Columns of the `events` table in the order ReadEventRow expects them.
inline constexpr std::string_view kEventColumns =
    "position, id, entity_type, entity_id, version, type, data, timestamp_ms, user_id, "
    "idempotency_key";
domain::Event ReadEventRow(const Result& rows, int row);

// The transaction-level advisory lock that every transaction appending events takes first.
inline constexpr int64_t kAppendLockKey = 0x7072'6973'6d00'0002;  // "prism", 2

// storage::EventStore on the `events`, `idempotency` and `user_cursors` tables.
//
// Positions come from the events.position sequence, taken under the transaction-level advisory
// lock kAppendLockKey. Why not xid8 and pg_snapshot_xmin: sequence order differs from xid order,
// so that technique needs an (xid, position) read cursor, and the interfaces pass one position.
// Because appends are serialised, positions are assigned in commit order and every position at
// or below a committed one is final. ReadAll and the event queue can therefore read
// "position > P" without skipping a late commit. The lock is held until COMMIT, so appends from
// all processes run one at a time, and Commit makes up for it by putting many requests into one
// transaction.
//
// The events table is also the outbox: PostgresEventQueue publishes from it, so events, their
// outcome record and their outbox entry commit in one transaction by construction.
//
// Thread-safe.
class PostgresEventStore final : public storage::EventStore {
 public:
  // `on_commit` runs after every Commit that wrote at least one event (to wake event pollers of
  // this process); it may be empty.
  PostgresEventStore(std::shared_ptr<ConnectionPool> pool, std::function<void()> on_commit);

  // Commits all requests in one transaction and one round trip, through the prism_commit
  // function. Each request runs in its own subtransaction, so a request whose cursor or version
  // check fails is rolled back alone and the others stay.
  std::vector<storage::CommitResult> Commit(
      std::span<const storage::CommitRequest> requests) override;

  std::vector<domain::Event> ReadStream(domain::EntityType type, std::string_view id,
                                        int64_t after_version) override;
  std::vector<domain::Event> ReadAll(int64_t after_position, size_t max) override;
  int64_t HeadPosition() override;
  std::optional<storage::CommandOutcome> FindOutcome(std::string_view user_id,
                                                     std::string_view idempotency_key) override;
  int64_t UserCursor(std::string_view user_id) override;

  // One statement each: the inputs travel as text[] parameters that unnest WITH ORDINALITY turns
  // into rows, joined with the table on its primary or unique key.
  std::vector<std::optional<storage::CommandOutcome>> FindOutcomes(
      std::span<const storage::CommandKey> commands) override;
  std::vector<int64_t> UserCursors(std::span<const std::string> user_ids) override;
  std::vector<std::vector<domain::Event>> ReadStreams(
      std::span<const domain::StreamKey> streams) override;

  // Deletes in transactions of at most kForgetChunk rows.
  int64_t ForgetOutcomes(int64_t cutoff_ms, int64_t batch) override;
  static constexpr int64_t kForgetChunk = 500;

 private:
  std::shared_ptr<ConnectionPool> pool_;
  std::function<void()> on_commit_;
};

}  // namespace prism::postgres
