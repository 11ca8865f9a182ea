#include "sqlite/schema.h"

namespace prism::sqlite {

namespace {

// Version 1: the command queue, the event store with its idempotency records and cursors, the
// event queue's checkpoints and dead letters, and the read models.
constexpr std::string_view kVersion1 = R"sql(
CREATE TABLE commands (
  message_id INTEGER PRIMARY KEY,
  user_id TEXT NOT NULL,
  user_seq INTEGER NOT NULL,
  idempotency_key TEXT NOT NULL,
  accepted_at_ms INTEGER NOT NULL,
  body TEXT NOT NULL,
  lease_owner TEXT,
  lease_until_ms INTEGER NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX commands_by_user_key ON commands (user_id, idempotency_key);

CREATE TABLE command_sequences (
  user_id TEXT PRIMARY KEY,
  last_seq INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE command_dead_letters (
  dead_letter_id INTEGER PRIMARY KEY,
  message_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  user_seq INTEGER NOT NULL,
  idempotency_key TEXT NOT NULL,
  accepted_at_ms INTEGER NOT NULL,
  body TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  reason TEXT NOT NULL,
  dead_at_ms INTEGER NOT NULL
);

CREATE TABLE events (
  position INTEGER PRIMARY KEY,
  id TEXT NOT NULL,
  entity_type TEXT NOT NULL,
  entity_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  type TEXT NOT NULL,
  data TEXT NOT NULL,
  timestamp_ms INTEGER NOT NULL,
  user_id TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  UNIQUE (entity_type, entity_id, version)
);

CREATE TABLE idempotency (
  user_id TEXT NOT NULL,
  key TEXT NOT NULL,
  status TEXT NOT NULL,
  reason TEXT NOT NULL,
  completed_at_ms INTEGER NOT NULL,
  PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_by_completed ON idempotency (completed_at_ms);

CREATE TABLE user_cursors (
  user_id TEXT PRIMARY KEY,
  last_seq INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE consumer_checkpoints (
  consumer TEXT PRIMARY KEY,
  position INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE event_dead_letters (
  dead_letter_id INTEGER PRIMARY KEY,
  event_id TEXT NOT NULL,
  position INTEGER NOT NULL,
  entity_type TEXT NOT NULL,
  entity_id TEXT NOT NULL,
  event TEXT NOT NULL,
  reason TEXT NOT NULL,
  dead_at_ms INTEGER NOT NULL
);

CREATE TABLE tasks (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  title TEXT NOT NULL,
  notes TEXT NOT NULL,
  category TEXT NOT NULL,
  ord INTEGER NOT NULL,
  done INTEGER NOT NULL,
  version INTEGER NOT NULL,
  created_position INTEGER NOT NULL
);
CREATE INDEX tasks_by_user_position ON tasks (user_id, created_position);

CREATE TABLE users (
  user_id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  email TEXT NOT NULL,
  signed_in INTEGER NOT NULL,
  version INTEGER NOT NULL
);

CREATE TABLE settings (
  user_id TEXT PRIMARY KEY,
  tasks_per_category INTEGER NOT NULL,
  show_done_tasks INTEGER NOT NULL,
  version INTEGER NOT NULL
);

CREATE TABLE projector_checkpoint (
  singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
  position INTEGER NOT NULL
);
)sql";

// Version 2: local accounts and their refresh tokens (stored only as hashes).
constexpr std::string_view kVersion2 = R"sql(
CREATE TABLE accounts (
  user_id TEXT PRIMARY KEY,
  username TEXT NOT NULL,
  username_key TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  name TEXT NOT NULL,
  email TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL
);

CREATE TABLE refresh_tokens (
  token_hash TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  family_id TEXT NOT NULL,
  expires_at_ms INTEGER NOT NULL,
  used INTEGER NOT NULL DEFAULT 0,
  revoked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);
)sql";

// Version 3: the open tasks of each lane, which the domain worker counts for a new task's
// default order. SQLite 3.40 reads the table row to check `done` unless the index contains it,
// so the index includes the column and the count reads only the index.
constexpr std::string_view kVersion3 = R"sql(
CREATE INDEX tasks_open_by_lane ON tasks (user_id, category, done) WHERE done = 0;
)sql";

}  // namespace

const std::vector<std::string_view>& Migrations() {
  static const std::vector<std::string_view> migrations = {kVersion1, kVersion2, kVersion3};
  return migrations;
}

}  // namespace prism::sqlite
