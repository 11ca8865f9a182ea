#include "postgres/event_store.h"

#include <algorithm>
#include <string>
#include <utility>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "common/log.h"
#include "postgres/text_array.h"

namespace prism::postgres {

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

// The argument of prism_commit (see schema.cc): the requests as a JSON array.
std::string CommitArgument(std::span<const storage::CommitRequest> requests) {
  boost::json::array argument;
  for (const storage::CommitRequest& request : requests) {
    boost::json::object item;
    item["user_id"] = request.user_id;
    item["user_seq"] = request.user_seq;
    item["key"] = request.idempotency_key;
    if (request.outcome) {
      item["outcome"] = {{"status", StatusName(request.outcome->status)},
                         {"reason", request.outcome->reason},
                         {"completed_at_ms", request.outcome->completed_at_ms}};
    }
    boost::json::array events;
    for (const domain::Event& event : request.events) {
      events.push_back({{"id", event.id},
                        {"entity_type", domain::ToString(event.entity_type)},
                        {"entity_id", event.entity_id},
                        {"version", event.version},
                        {"type", event.type},
                        {"data", boost::json::serialize(event.data)},
                        {"timestamp_ms", event.timestamp_ms},
                        {"user_id", event.user_id},
                        {"idempotency_key", event.idempotency_key}});
    }
    item["events"] = std::move(events);
    argument.push_back(std::move(item));
  }
  return boost::json::serialize(argument);
}

storage::CommitStatus ParseCommitStatus(std::string_view name) {
  if (name == "committed") return storage::CommitStatus::kCommitted;
  if (name == "already_applied") return storage::CommitStatus::kAlreadyApplied;
  if (name == "out_of_order") return storage::CommitStatus::kOutOfOrder;
  return storage::CommitStatus::kStreamConflict;
}

// Parses a BIGINT[] in text form, such as "{4,5}".
std::vector<int64_t> ParsePositions(std::string_view text) {
  std::vector<int64_t> positions;
  int64_t value = 0;
  bool in_number = false;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      value = value * 10 + (c - '0');
      in_number = true;
    } else if (in_number) {
      positions.push_back(value);
      value = 0;
      in_number = false;
    }
  }
  return positions;
}

std::vector<domain::Event> ReadEvents(const Result& rows) {
  std::vector<domain::Event> events;
  events.reserve(rows.Rows());
  for (int row = 0; row < rows.Rows(); ++row) events.push_back(ReadEventRow(rows, row));
  return events;
}

}  // namespace

domain::Event ReadEventRow(const Result& rows, int row) {
  domain::Event event;
  event.position = rows.Int(row, 0);
  event.id = rows.Text(row, 1);
  if (!domain::ParseEntityType(rows.Text(row, 2), &event.entity_type)) {
    log::Warn(kComponent, "event row has an unknown entity type",
              {{"position", event.position}, {"entity_type", rows.Text(row, 2)}});
  }
  event.entity_id = rows.Text(row, 3);
  event.version = rows.Int(row, 4);
  event.type = rows.Text(row, 5);
  boost::system::error_code error;
  boost::json::value data = boost::json::parse(rows.Text(row, 6), error);
  if (!error && data.is_object()) {
    event.data = std::move(data.get_object());
  } else {
    log::Warn(kComponent, "event row has data that is not a JSON object",
              {{"position", event.position}});
  }
  event.timestamp_ms = rows.Int(row, 7);
  event.user_id = rows.Text(row, 8);
  event.idempotency_key = rows.Text(row, 9);
  return event;
}

PostgresEventStore::PostgresEventStore(std::shared_ptr<ConnectionPool> pool,
                                       std::function<void()> on_commit)
    : pool_(std::move(pool)), on_commit_(std::move(on_commit)) {}

// ---------------------------------------------------------------------------------------------
// Commit

std::vector<storage::CommitResult> PostgresEventStore::Commit(
    std::span<const storage::CommitRequest> requests) {
  if (requests.empty()) return {};
  const std::string argument = CommitArgument(requests);
  std::vector<storage::CommitResult> results(requests.size());
  pool_->Transaction([&](Connection& connection) {
    // Every Commit takes it before any row lock, so two committing transactions cannot deadlock
    // on cursor rows locked in different orders.
    connection.Exec("SELECT pg_advisory_xact_lock($1)", Params(kAppendLockKey));
    Result rows = connection.Exec(
        "SELECT request_index, commit_status, event_positions FROM prism_commit($1::jsonb)",
        Params(argument));
    if (rows.Rows() != static_cast<int>(requests.size())) {
      throw storage::StorageUnavailable("prism_commit returned " + std::to_string(rows.Rows()) +
                                        " results for " + std::to_string(requests.size()) +
                                        " requests");
    }
    for (int row = 0; row < rows.Rows(); ++row) {
      storage::CommitResult& result = results.at(rows.Int(row, 0));
      result.status = ParseCommitStatus(rows.Text(row, 1));
      result.events.clear();
      if (result.status != storage::CommitStatus::kCommitted) continue;
      const storage::CommitRequest& request = requests[rows.Int(row, 0)];
      std::vector<int64_t> positions = ParsePositions(rows.Text(row, 2));
      if (positions.size() != request.events.size()) {
        throw storage::StorageUnavailable("prism_commit returned " +
                                          std::to_string(positions.size()) + " positions for " +
                                          std::to_string(request.events.size()) + " events");
      }
      for (size_t i = 0; i < positions.size(); ++i) {
        result.events.push_back(request.events[i]);
        result.events.back().position = positions[i];
      }
    }
  });

  bool wrote_events = false;
  for (const storage::CommitResult& result : results) {
    wrote_events = wrote_events || !result.events.empty();
  }
  if (wrote_events && on_commit_) on_commit_();
  return results;
}

// ---------------------------------------------------------------------------------------------
// Reads

std::vector<domain::Event> PostgresEventStore::ReadStream(domain::EntityType type,
                                                          std::string_view id,
                                                          int64_t after_version) {
  static const std::string sql = "SELECT " + std::string(kEventColumns) +
                                 " FROM events WHERE entity_type = $1 AND entity_id = $2 "
                                 "AND version > $3 ORDER BY version";
  std::vector<domain::Event> events;
  pool_->Run([&](Connection& connection) {
    events = ReadEvents(connection.Exec(sql, Params(domain::ToString(type), id, after_version)));
  });
  return events;
}

std::vector<domain::Event> PostgresEventStore::ReadAll(int64_t after_position, size_t max) {
  static const std::string sql = "SELECT " + std::string(kEventColumns) +
                                 " FROM events WHERE position > $1 ORDER BY position LIMIT $2";
  std::vector<domain::Event> events;
  if (max == 0) return events;
  pool_->Run([&](Connection& connection) {
    events = ReadEvents(connection.Exec(sql, Params(after_position, max)));
  });
  return events;
}

int64_t PostgresEventStore::HeadPosition() {
  int64_t head = 0;
  pool_->Run([&](Connection& connection) {
    head = connection.Exec("SELECT COALESCE(MAX(position), 0) FROM events").Int(0, 0);
  });
  return head;
}

std::optional<storage::CommandOutcome> PostgresEventStore::FindOutcome(
    std::string_view user_id, std::string_view idempotency_key) {
  std::optional<storage::CommandOutcome> outcome;
  pool_->Run([&](Connection& connection) {
    Result rows = connection.Exec(
        "SELECT status, reason, completed_at_ms FROM idempotency WHERE user_id = $1 AND key = $2",
        Params(user_id, idempotency_key));
    if (rows.Empty()) return;
    outcome =
        storage::CommandOutcome{ParseStatus(rows.Text(0, 0)), rows.Text(0, 1), rows.Int(0, 2)};
  });
  return outcome;
}

int64_t PostgresEventStore::UserCursor(std::string_view user_id) {
  int64_t cursor = 0;
  pool_->Run([&](Connection& connection) {
    Result rows =
        connection.Exec("SELECT last_seq FROM user_cursors WHERE user_id = $1", Params(user_id));
    if (!rows.Empty()) cursor = rows.Int(0, 0);
  });
  return cursor;
}

std::vector<std::optional<storage::CommandOutcome>> PostgresEventStore::FindOutcomes(
    std::span<const storage::CommandKey> commands) {
  std::vector<std::optional<storage::CommandOutcome>> outcomes(commands.size());
  if (commands.empty()) return outcomes;
  const std::string user_ids = TextArray(
      commands, [](const storage::CommandKey& c) -> const std::string& { return c.user_id; });
  const std::string keys = TextArray(
      commands,
      [](const storage::CommandKey& c) -> const std::string& { return c.idempotency_key; });
  pool_->Run([&](Connection& connection) {
    Result rows = connection.Exec(
        "SELECT c.ordinality, i.status, i.reason, i.completed_at_ms "
        "FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS c(user_id, key, ordinality) "
        "JOIN idempotency i ON i.user_id = c.user_id AND i.key = c.key",
        Params(user_ids, keys));
    for (int row = 0; row < rows.Rows(); ++row) {
      outcomes.at(rows.Int(row, 0) - 1) = storage::CommandOutcome{
          ParseStatus(rows.Text(row, 1)), rows.Text(row, 2), rows.Int(row, 3)};
    }
  });
  return outcomes;
}

std::vector<int64_t> PostgresEventStore::UserCursors(std::span<const std::string> user_ids) {
  std::vector<int64_t> cursors(user_ids.size(), 0);
  if (user_ids.empty()) return cursors;
  const std::string ids =
      TextArray(user_ids, [](const std::string& id) -> const std::string& { return id; });
  pool_->Run([&](Connection& connection) {
    Result rows = connection.Exec(
        "SELECT u.ordinality, c.last_seq "
        "FROM unnest($1::text[]) WITH ORDINALITY AS u(user_id, ordinality) "
        "JOIN user_cursors c ON c.user_id = u.user_id",
        Params(ids));
    for (int row = 0; row < rows.Rows(); ++row) cursors.at(rows.Int(row, 0) - 1) = rows.Int(row, 1);
  });
  return cursors;
}

std::vector<std::vector<domain::Event>> PostgresEventStore::ReadStreams(
    std::span<const domain::StreamKey> streams) {
  // The input's columns are named apart from the events table's, so kEventColumns stays
  // unambiguous. The ordinality comes after them, in a column that ReadEventRow does not read.
  static const std::string sql =
      "SELECT " + std::string(kEventColumns) +
      ", ordinality FROM unnest($1::text[], $2::text[]) WITH ORDINALITY "
      "AS s(stream_type, stream_id, ordinality) "
      "JOIN events ON entity_type = stream_type AND entity_id = stream_id "
      "ORDER BY ordinality, version";
  constexpr int kOrdinalityColumn = 10;
  std::vector<std::vector<domain::Event>> events(streams.size());
  if (streams.empty()) return events;
  const std::string types =
      TextArray(streams, [](const domain::StreamKey& s) { return domain::ToString(s.type); });
  const std::string ids =
      TextArray(streams, [](const domain::StreamKey& s) -> const std::string& { return s.id; });
  pool_->Run([&](Connection& connection) {
    Result rows = connection.Exec(sql, Params(types, ids));
    for (int row = 0; row < rows.Rows(); ++row) {
      events.at(rows.Int(row, kOrdinalityColumn) - 1).push_back(ReadEventRow(rows, row));
    }
  });
  return events;
}

// ---------------------------------------------------------------------------------------------
// Retention

int64_t PostgresEventStore::ForgetOutcomes(int64_t cutoff_ms, int64_t batch) {
  int64_t removed = 0;
  while (removed < batch) {
    const int64_t chunk = std::min(kForgetChunk, batch - removed);
    int64_t deleted = 0;
    pool_->Run([&](Connection& connection) {
      deleted = connection
                    .Exec(
                        "DELETE FROM idempotency WHERE (user_id, key) IN (SELECT user_id, key "
                        "FROM idempotency WHERE completed_at_ms < $1 AND status <> 'pending' "
                        "ORDER BY completed_at_ms LIMIT $2 FOR UPDATE SKIP LOCKED)",
                        Params(cutoff_ms, chunk))
                    .Affected();
    });
    removed += deleted;
    if (deleted < chunk) break;
  }
  return removed;
}

}  // namespace prism::postgres
