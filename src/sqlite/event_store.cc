#include "sqlite/event_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <map>
#include <utility>

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "common/log.h"

namespace prism::sqlite {

namespace {

constexpr std::string_view kComponent = "event-store";

std::string_view StatusName(storage::OutcomeStatus status) {
  switch (status) {
    case storage::OutcomeStatus::kPending:
      return "pending";
    case storage::OutcomeStatus::kCompleted:
      return "completed";
    case storage::OutcomeStatus::kRejected:
      return "rejected";
  }
  return "pending";
}

storage::OutcomeStatus ParseStatus(std::string_view name) {
  if (name == "completed") return storage::OutcomeStatus::kCompleted;
  if (name == "rejected") return storage::OutcomeStatus::kRejected;
  return storage::OutcomeStatus::kPending;
}

// The stream versions a request has reached so far, keyed by (entity type, entity id).
using StreamVersions = std::map<std::pair<domain::EntityType, std::string>, int64_t>;

int64_t CurrentVersion(Connection& connection, StreamVersions& versions,
                       const domain::Event& event) {
  auto key = std::make_pair(event.entity_type, event.entity_id);
  auto it = versions.find(key);
  if (it != versions.end()) return it->second;
  Statement query = connection.Prepare(
      "SELECT COALESCE(MAX(version), 0) FROM events WHERE entity_type = ?1 AND entity_id = ?2");
  query.BindAll(domain::ToString(event.entity_type), event.entity_id);
  int64_t version = query.Step() ? query.Int(0) : 0;
  versions.emplace(std::move(key), version);
  return version;
}

}  // namespace

domain::Event ReadEventRow(const Statement& row) {
  domain::Event event;
  event.position = row.Int(0);
  event.id = row.Text(1);
  if (!domain::ParseEntityType(row.Text(2), &event.entity_type)) {
    log::Warn(kComponent, "event row has an unknown entity type",
              {{"position", event.position}, {"entity_type", row.Text(2)}});
  }
  event.entity_id = row.Text(3);
  event.version = row.Int(4);
  event.type = row.Text(5);
  boost::system::error_code error;
  boost::json::value data = boost::json::parse(row.Text(6), error);
  if (!error && data.is_object()) {
    event.data = std::move(data.get_object());
  } else {
    log::Warn(kComponent, "event row has data that is not a JSON object",
              {{"position", event.position}});
  }
  event.timestamp_ms = row.Int(7);
  event.user_id = row.Text(8);
  event.idempotency_key = row.Text(9);
  return event;
}

SqliteEventStore::SqliteEventStore(std::shared_ptr<Database> database,
                                   std::function<void()> on_commit)
    : database_(std::move(database)), on_commit_(std::move(on_commit)) {}

// ---------------------------------------------------------------------------------------------
// Commit

std::vector<storage::CommitResult> SqliteEventStore::Commit(
    std::span<const storage::CommitRequest> requests) {
  if (requests.empty()) return {};
  std::vector<storage::CommitResult> results;
  database_->Write(Durability::kFull, [&](Connection& connection) {
    results.clear();  // the body runs once, but stays correct if it ever ran again
    Cursors cursors;
    std::unordered_map<std::string, int64_t> advanced;
    for (const storage::CommitRequest& request : requests) {
      results.push_back(CommitOne(connection, request, cursors));
      if (results.back().status == storage::CommitStatus::kCommitted) {
        advanced[request.user_id] = request.user_seq;
      }
    }
    Statement store = connection.Prepare(
        "INSERT INTO user_cursors (user_id, last_seq) VALUES (?1, ?2) "
        "ON CONFLICT (user_id) DO UPDATE SET last_seq = excluded.last_seq");
    for (const auto& [user_id, seq] : advanced) store.BindAll(user_id, seq).Run();
  });

  bool wrote_events = false;
  for (const storage::CommitResult& result : results) {
    wrote_events = wrote_events || !result.events.empty();
  }
  if (wrote_events && on_commit_) on_commit_();
  return results;
}

storage::CommitResult SqliteEventStore::CommitOne(Connection& connection,
                                                  const storage::CommitRequest& request,
                                                  Cursors& cursors) {
  storage::CommitResult result;
  int64_t& cursor = Cursor(connection, cursors, request.user_id);
  if (request.user_seq <= cursor) {
    result.status = storage::CommitStatus::kAlreadyApplied;
    return result;
  }
  if (request.user_seq > cursor + 1) {
    result.status = storage::CommitStatus::kOutOfOrder;
    return result;
  }
  result.status = storage::CommitStatus::kCommitted;

  // An exception from here on rolls back the whole transaction in Database::Write, so nothing
  // of any request stays. AppendEvents checks a single event before inserting it, and a failed
  // INSERT undoes itself, so only a request with several events needs a savepoint.
  const bool savepoint = request.events.size() > 1;
  if (savepoint) connection.Prepare("SAVEPOINT commit_request").Run();
  if (!AppendEvents(connection, request, &result.events)) {
    if (savepoint) {
      connection.Prepare("ROLLBACK TO commit_request").Run();
      connection.Prepare("RELEASE commit_request").Run();
    }
    result.status = storage::CommitStatus::kStreamConflict;
    result.events.clear();
    return result;
  }
  StoreOutcome(connection, request);
  if (savepoint) connection.Prepare("RELEASE commit_request").Run();
  cursor = request.user_seq;
  return result;
}

int64_t& SqliteEventStore::Cursor(Connection& connection, Cursors& cursors,
                                  const std::string& user_id) {
  auto it = cursors.find(user_id);
  if (it != cursors.end()) return it->second;
  Statement query = connection.Prepare("SELECT last_seq FROM user_cursors WHERE user_id = ?1");
  int64_t cursor = query.Bind(1, user_id).Step() ? query.Int(0) : 0;
  return cursors.emplace(user_id, cursor).first->second;
}

// Inserts the request's events; returns false without inserting the rest when an event's version
// is not its stream's current version + 1. The UNIQUE (entity_type, entity_id, version) index
// backs the check up.
bool SqliteEventStore::AppendEvents(Connection& connection, const storage::CommitRequest& request,
                                    std::vector<domain::Event>* appended) {
  StreamVersions versions;
  Statement insert = connection.Prepare(
      "INSERT INTO events (id, entity_type, entity_id, version, type, data, timestamp_ms, "
      "user_id, idempotency_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
      "RETURNING position");
  for (const domain::Event& event : request.events) {
    int64_t current = CurrentVersion(connection, versions, event);
    if (event.version != current + 1) return false;
    insert.BindAll(event.id, domain::ToString(event.entity_type), event.entity_id, event.version,
                   event.type, boost::json::serialize(event.data), event.timestamp_ms,
                   event.user_id, event.idempotency_key);
    try {
      if (!insert.Step()) connection.Fail(SQLITE_INTERNAL, "insert event");
    } catch (const SqliteError& error) {
      if (error.code() == SQLITE_CONSTRAINT) return false;
      throw;
    }
    domain::Event stored = event;
    stored.position = insert.Int(0);
    insert.Run();  // finishes the statement after RETURNING's single row
    versions[{event.entity_type, event.entity_id}] = event.version;
    appended->push_back(std::move(stored));
  }
  return true;
}

void SqliteEventStore::StoreOutcome(Connection& connection, const storage::CommitRequest& request) {
  if (!request.outcome) return;
  connection
      .Prepare(
          "INSERT INTO idempotency (user_id, key, status, reason, completed_at_ms) "
          "VALUES (?1, ?2, ?3, ?4, ?5) "
          "ON CONFLICT (user_id, key) DO UPDATE SET status = excluded.status, "
          "reason = excluded.reason, completed_at_ms = excluded.completed_at_ms")
      .BindAll(request.user_id, request.idempotency_key, StatusName(request.outcome->status),
               request.outcome->reason, request.outcome->completed_at_ms)
      .Run();
}

// ---------------------------------------------------------------------------------------------
// Reads

std::vector<domain::Event> SqliteEventStore::ReadStream(domain::EntityType type,
                                                        std::string_view id,
                                                        int64_t after_version) {
  static const std::string sql = "SELECT " + std::string(kEventColumns) +
                                 " FROM events WHERE entity_type = ?1 AND entity_id = ?2 "
                                 "AND version > ?3 ORDER BY version";
  std::vector<domain::Event> events;
  database_->Read([&](Connection& connection) {
    Statement query = connection.Prepare(sql);
    query.BindAll(domain::ToString(type), id, after_version);
    while (query.Step()) events.push_back(ReadEventRow(query));
  });
  return events;
}

std::vector<domain::Event> SqliteEventStore::ReadAll(int64_t after_position, size_t max) {
  static const std::string sql = "SELECT " + std::string(kEventColumns) +
                                 " FROM events WHERE position > ?1 ORDER BY position LIMIT ?2";
  std::vector<domain::Event> events;
  if (max == 0) return events;
  database_->Read([&](Connection& connection) {
    Statement query = connection.Prepare(sql);
    query.BindAll(after_position, static_cast<int64_t>(max));
    while (query.Step()) events.push_back(ReadEventRow(query));
  });
  return events;
}

int64_t SqliteEventStore::HeadPosition() {
  int64_t head = 0;
  database_->Read([&](Connection& connection) {
    head = connection.QueryInt("SELECT COALESCE(MAX(position), 0) FROM events");
  });
  return head;
}

std::optional<storage::CommandOutcome> SqliteEventStore::FindOutcome(
    std::string_view user_id, std::string_view idempotency_key) {
  std::optional<storage::CommandOutcome> outcome;
  database_->Read([&](Connection& connection) {
    Statement query = connection.Prepare(
        "SELECT status, reason, completed_at_ms FROM idempotency "
        "WHERE user_id = ?1 AND key = ?2");
    if (!query.BindAll(user_id, idempotency_key).Step()) return;
    outcome = storage::CommandOutcome{ParseStatus(query.Text(0)), query.Text(1), query.Int(2)};
  });
  return outcome;
}

int64_t SqliteEventStore::UserCursor(std::string_view user_id) {
  int64_t cursor = 0;
  database_->Read([&](Connection& connection) {
    Statement query = connection.Prepare("SELECT last_seq FROM user_cursors WHERE user_id = ?1");
    if (query.Bind(1, user_id).Step()) cursor = query.Int(0);
  });
  return cursor;
}

std::vector<std::optional<storage::CommandOutcome>> SqliteEventStore::FindOutcomes(
    std::span<const storage::CommandKey> commands) {
  // ?1 is [[user_id, key], ...]. json_each's `key` column is the 0-based array index.
  static const std::string sql =
      "SELECT c.key, i.status, i.reason, i.completed_at_ms FROM json_each(?1) AS c "
      "JOIN idempotency AS i ON i.user_id = json_extract(c.value, '$[0]') "
      "AND i.key = json_extract(c.value, '$[1]')";
  std::vector<std::optional<storage::CommandOutcome>> outcomes(commands.size());
  if (commands.empty()) return outcomes;
  boost::json::array pairs;
  pairs.reserve(commands.size());
  for (const storage::CommandKey& command : commands) {
    pairs.push_back(boost::json::array{command.user_id, command.idempotency_key});
  }
  const std::string argument = boost::json::serialize(pairs);
  database_->Read([&](Connection& connection) {
    Statement query = connection.Prepare(sql);
    query.Bind(1, argument);
    while (query.Step()) {
      outcomes.at(query.Int(0)) =
          storage::CommandOutcome{ParseStatus(query.Text(1)), query.Text(2), query.Int(3)};
    }
  });
  return outcomes;
}

std::vector<int64_t> SqliteEventStore::UserCursors(std::span<const std::string> user_ids) {
  static const std::string sql =
      "SELECT u.key, c.last_seq FROM json_each(?1) AS u "
      "JOIN user_cursors AS c ON c.user_id = u.value";
  std::vector<int64_t> cursors(user_ids.size(), 0);
  if (user_ids.empty()) return cursors;
  boost::json::array ids;
  ids.reserve(user_ids.size());
  for (const std::string& id : user_ids) ids.emplace_back(id);
  const std::string argument = boost::json::serialize(ids);
  database_->Read([&](Connection& connection) {
    Statement query = connection.Prepare(sql);
    query.Bind(1, argument);
    while (query.Step()) cursors.at(query.Int(0)) = query.Int(1);
  });
  return cursors;
}

std::vector<std::vector<domain::Event>> SqliteEventStore::ReadStreams(
    std::span<const domain::StreamKey> streams) {
  // ?1 is [[entity_type, entity_id], ...]. json_each has columns named `id` and `type` too, so
  // the join runs in a subquery and kEventColumns are selected from its result.
  static const std::string sql =
      "SELECT " + std::string(kEventColumns) +
      ", stream_index FROM (SELECT events.*, s.key AS stream_index FROM json_each(?1) AS s "
      "JOIN events ON events.entity_type = json_extract(s.value, '$[0]') "
      "AND events.entity_id = json_extract(s.value, '$[1]')) ORDER BY stream_index, version";
  constexpr int kStreamIndexColumn = 10;
  std::vector<std::vector<domain::Event>> events(streams.size());
  if (streams.empty()) return events;
  boost::json::array pairs;
  pairs.reserve(streams.size());
  for (const domain::StreamKey& stream : streams) {
    pairs.push_back(boost::json::array{domain::ToString(stream.type), stream.id});
  }
  const std::string argument = boost::json::serialize(pairs);
  database_->Read([&](Connection& connection) {
    Statement query = connection.Prepare(sql);
    query.Bind(1, argument);
    while (query.Step()) events.at(query.Int(kStreamIndexColumn)).push_back(ReadEventRow(query));
  });
  return events;
}

// ---------------------------------------------------------------------------------------------
// Retention

int64_t SqliteEventStore::ForgetOutcomes(int64_t cutoff_ms, int64_t batch) {
  int64_t removed = 0;
  while (removed < batch) {
    const int64_t chunk = std::min(kForgetChunk, batch - removed);
    int64_t deleted = 0;
    database_->Write(Durability::kNormal, [&](Connection& connection) {
      connection
          .Prepare(
              "DELETE FROM idempotency WHERE rowid IN (SELECT rowid FROM idempotency "
              "WHERE completed_at_ms < ?1 AND status <> 'pending' "
              "ORDER BY completed_at_ms LIMIT ?2)")
          .BindAll(cutoff_ms, chunk)
          .Run();
      deleted = connection.Changes();
    });
    removed += deleted;
    if (deleted < chunk) break;
  }
  return removed;
}

}  // namespace prism::sqlite
