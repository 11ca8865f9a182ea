#include "postgres/schema.h"

#include <string>

namespace prism::postgres {

namespace {

constexpr std::string_view kComponent = "postgres";

// Version 1: the command queue, the event store with its idempotency records and cursors, the
// event queue's checkpoints and dead letters, and the read models.
constexpr std::string_view kVersion1 = R"sql(
CREATE TABLE commands (
  message_id BIGSERIAL PRIMARY KEY,
  user_id TEXT NOT NULL,
  user_seq BIGINT NOT NULL,
  idempotency_key TEXT NOT NULL,
  accepted_at_ms BIGINT NOT NULL,
  body TEXT NOT NULL,
  lease_owner TEXT,
  lease_until_ms BIGINT NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX commands_by_user_key ON commands (user_id, idempotency_key);
CREATE INDEX commands_by_lease ON commands (lease_until_ms, message_id);

CREATE TABLE command_sequences (
  user_id TEXT PRIMARY KEY,
  last_seq BIGINT NOT NULL
);

CREATE TABLE command_dead_letters (
  dead_letter_id BIGSERIAL PRIMARY KEY,
  message_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  user_seq BIGINT NOT NULL,
  idempotency_key TEXT NOT NULL,
  accepted_at_ms BIGINT NOT NULL,
  body TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  reason TEXT NOT NULL,
  dead_at_ms BIGINT NOT NULL
);

CREATE TABLE events (
  position BIGSERIAL PRIMARY KEY,
  id TEXT NOT NULL,
  entity_type TEXT NOT NULL,
  entity_id TEXT NOT NULL,
  version BIGINT NOT NULL,
  type TEXT NOT NULL,
  data TEXT NOT NULL,
  timestamp_ms BIGINT NOT NULL,
  user_id TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  UNIQUE (entity_type, entity_id, version)
);

CREATE TABLE idempotency (
  user_id TEXT NOT NULL,
  key TEXT NOT NULL,
  status TEXT NOT NULL,
  reason TEXT NOT NULL,
  completed_at_ms BIGINT NOT NULL,
  PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_by_completed ON idempotency (completed_at_ms);

CREATE TABLE user_cursors (
  user_id TEXT PRIMARY KEY,
  last_seq BIGINT NOT NULL
);

CREATE TABLE consumer_checkpoints (
  consumer TEXT PRIMARY KEY,
  position BIGINT NOT NULL
);

CREATE TABLE event_dead_letters (
  dead_letter_id BIGSERIAL PRIMARY KEY,
  event_id TEXT NOT NULL,
  position BIGINT NOT NULL,
  entity_type TEXT NOT NULL,
  entity_id TEXT NOT NULL,
  event TEXT NOT NULL,
  reason TEXT NOT NULL,
  dead_at_ms BIGINT NOT NULL
);

CREATE TABLE tasks (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  title TEXT NOT NULL,
  notes TEXT NOT NULL,
  category TEXT NOT NULL,
  ord BIGINT NOT NULL,
  done BOOLEAN NOT NULL,
  version BIGINT NOT NULL,
  created_position BIGINT NOT NULL
);
CREATE INDEX tasks_by_user_position ON tasks (user_id, created_position);

CREATE TABLE users (
  user_id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  email TEXT NOT NULL,
  signed_in BOOLEAN NOT NULL,
  version BIGINT NOT NULL
);

CREATE TABLE settings (
  user_id TEXT PRIMARY KEY,
  tasks_per_category BIGINT NOT NULL,
  show_done_tasks BOOLEAN NOT NULL,
  version BIGINT NOT NULL
);

CREATE TABLE projector_checkpoint (
  singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
  position BIGINT NOT NULL
);
)sql";

// Version 2: local accounts, their refresh tokens (stored only as hashes) and shared secrets
// such as the HS256 signing key of AUTH_MODE=local.
constexpr std::string_view kVersion2 = R"sql(
CREATE TABLE accounts (
  user_id TEXT PRIMARY KEY,
  username TEXT NOT NULL,
  username_key TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  name TEXT NOT NULL,
  email TEXT NOT NULL,
  created_at_ms BIGINT NOT NULL
);

CREATE TABLE refresh_tokens (
  token_hash TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  family_id TEXT NOT NULL,
  expires_at_ms BIGINT NOT NULL,
  used BOOLEAN NOT NULL DEFAULT FALSE,
  revoked BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);

CREATE TABLE secrets (
  name TEXT PRIMARY KEY,
  value BYTEA NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
)sql";

// Version 3: prism_commit, which runs PostgresEventStore::Commit's checks and writes for a whole
// batch in one round trip. Each request runs in its own exception block (a subtransaction), so a
// failed version check rolls back only that request. The caller holds the append lock.
//
// Input: a JSON array of requests {user_id, user_seq, key, outcome?: {status, reason,
// completed_at_ms}, events: [{id, entity_type, entity_id, version, type, data (JSON text),
// timestamp_ms, user_id, idempotency_key}]}. Output: one row per request, in input order.
constexpr std::string_view kVersion3 = R"sql(
CREATE FUNCTION prism_commit(requests JSONB)
RETURNS TABLE (request_index INTEGER, commit_status TEXT, event_positions BIGINT[])
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  request JSONB;
  event JSONB;
  cursor_seq BIGINT;
  seq BIGINT;
  stream_version BIGINT;
  appended BIGINT;
BEGIN
  request_index := 0;
  FOR request IN SELECT value FROM jsonb_array_elements(requests) LOOP
    seq := (request->>'user_seq')::BIGINT;
    INSERT INTO user_cursors (user_id, last_seq) VALUES (request->>'user_id', 0)
      ON CONFLICT (user_id) DO NOTHING;
    SELECT last_seq INTO cursor_seq FROM user_cursors
      WHERE user_id = request->>'user_id' FOR UPDATE;
    event_positions := '{}';
    IF seq <= cursor_seq THEN
      commit_status := 'already_applied';
    ELSIF seq > cursor_seq + 1 THEN
      commit_status := 'out_of_order';
    ELSE
      BEGIN
        FOR event IN SELECT value FROM jsonb_array_elements(request->'events') LOOP
          SELECT COALESCE(MAX(version), 0) INTO stream_version FROM events
            WHERE entity_type = event->>'entity_type' AND entity_id = event->>'entity_id';
          IF (event->>'version')::BIGINT <> stream_version + 1 THEN
            RAISE EXCEPTION 'stream version conflict' USING ERRCODE = 'P0001';
          END IF;
          INSERT INTO events (id, entity_type, entity_id, version, type, data, timestamp_ms,
                              user_id, idempotency_key)
            VALUES (event->>'id', event->>'entity_type', event->>'entity_id',
                    (event->>'version')::BIGINT, event->>'type', event->>'data',
                    (event->>'timestamp_ms')::BIGINT, event->>'user_id',
                    event->>'idempotency_key')
            RETURNING position INTO appended;
          event_positions := event_positions || appended;
        END LOOP;
        IF request ? 'outcome' THEN
          INSERT INTO idempotency (user_id, key, status, reason, completed_at_ms)
            VALUES (request->>'user_id', request->>'key', request->'outcome'->>'status',
                    request->'outcome'->>'reason',
                    (request->'outcome'->>'completed_at_ms')::BIGINT)
            ON CONFLICT (user_id, key) DO UPDATE SET status = excluded.status,
              reason = excluded.reason, completed_at_ms = excluded.completed_at_ms;
        END IF;
        UPDATE user_cursors SET last_seq = seq WHERE user_id = request->>'user_id';
        commit_status := 'committed';
      EXCEPTION WHEN unique_violation OR raise_exception THEN
        commit_status := 'stream_conflict';
        event_positions := '{}';
      END;
    END IF;
    RETURN NEXT;
    request_index := request_index + 1;
  END LOOP;
END
$$;
)sql";

// Version 4: the open tasks of each lane, which the domain worker counts for a new task's
// default order.
constexpr std::string_view kVersion4 = R"sql(
CREATE INDEX tasks_open_by_lane ON tasks (user_id, category) WHERE NOT done;
)sql";

}  // namespace

const std::vector<std::string_view>& Migrations() {
  static const std::vector<std::string_view> migrations = {kVersion1, kVersion2, kVersion3,
                                                           kVersion4};
  return migrations;
}

void MigrateSchema(ConnectionPool& pool) {
  std::unique_ptr<Connection> connection = pool.Connect();
  connection->Exec("SELECT pg_advisory_lock($1)", Params(kMigrationLockKey));
  try {
    connection->ExecScript(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
        "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())");
    const int64_t current =
        connection->Exec("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Int(0, 0);
    const auto& migrations = Migrations();
    for (auto version = static_cast<size_t>(current); version < migrations.size(); ++version) {
      connection->ExecScript("BEGIN");
      try {
        connection->ExecScript(migrations[version]);
        connection->Exec("INSERT INTO schema_migrations (version) VALUES ($1)",
                         Params(version + 1));
        connection->ExecScript("COMMIT");
      } catch (...) {
        if (!connection->Broken()) PQclear(PQexec(connection->handle(), "ROLLBACK"));
        throw;
      }
      log::Info(kComponent, "schema migrated",
                {{"server", pool.server()}, {"version", version + 1}});
    }
  } catch (...) {
    if (!connection->Broken()) {
      PQclear(PQexec(connection->handle(), "SELECT pg_advisory_unlock_all()"));
    }
    throw;
  }
  connection->Exec("SELECT pg_advisory_unlock($1)", Params(kMigrationLockKey));
}

}  // namespace prism::postgres
