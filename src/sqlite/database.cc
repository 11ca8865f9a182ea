#include "sqlite/database.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

#include "common/log.h"
#include "sqlite/schema.h"

namespace prism::sqlite {

namespace {

constexpr std::string_view kComponent = "sqlite";
constexpr size_t kMaxSqlInMessage = 60;

// The start of a statement's text, for error messages.
std::string Abbreviate(std::string_view sql) {
  size_t start = sql.find_first_not_of(" \n\t");
  if (start == std::string_view::npos) return std::string();
  sql.remove_prefix(start);
  if (sql.size() <= kMaxSqlInMessage) return std::string(sql);
  return std::string(sql.substr(0, kMaxSqlInMessage)) + "...";
}

// Creates `dir` with mode 0700 when it is missing. Missing parents get the default mode.
void CreateDataDirectory(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (fs::is_directory(dir, error)) return;
  fs::create_directories(dir, error);
  if (error) {
    throw storage::StorageUnavailable("creating data directory " + dir + " failed: " +
                                      error.message() + "; set PRISM_DATA_DIR to a writable path");
  }
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, error);
  if (error) {
    throw storage::StorageUnavailable("setting mode 0700 on data directory " + dir +
                                      " failed: " + error.message());
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Statement

Statement::Statement(Connection& connection, sqlite3_stmt* statement, std::string_view sql)
    : connection_(connection), statement_(statement), sql_(sql) {}

Statement::~Statement() {
  sqlite3_reset(statement_);
  sqlite3_clear_bindings(statement_);
}

Statement& Statement::Bind(int index, int64_t value) {
  ResetIfStarted();
  int rc = sqlite3_bind_int64(statement_, index, value);
  if (rc != SQLITE_OK) connection_.Fail(rc, "bind parameter of \"" + Abbreviate(sql_) + "\"");
  return *this;
}

Statement& Statement::Bind(int index, std::string_view text) {
  ResetIfStarted();
  int rc = sqlite3_bind_text64(statement_, index, text.data(), text.size(), SQLITE_TRANSIENT,
                               SQLITE_UTF8);
  if (rc != SQLITE_OK) connection_.Fail(rc, "bind parameter of \"" + Abbreviate(sql_) + "\"");
  return *this;
}

Statement& Statement::BindNull(int index) {
  ResetIfStarted();
  int rc = sqlite3_bind_null(statement_, index);
  if (rc != SQLITE_OK) connection_.Fail(rc, "bind parameter of \"" + Abbreviate(sql_) + "\"");
  return *this;
}

bool Statement::Step() {
  int rc = sqlite3_step(statement_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) {
    sqlite3_reset(statement_);  // ready for new bindings; the bound values stay
    return false;
  }
  connection_.Fail(rc, "statement \"" + Abbreviate(sql_) + "\"");
}

void Statement::ResetIfStarted() {
  if (sqlite3_stmt_busy(statement_)) sqlite3_reset(statement_);
}

void Statement::Run() {
  while (Step()) {
  }
}

int64_t Statement::Int(int column) const { return sqlite3_column_int64(statement_, column); }

std::string Statement::Text(int column) const {
  const unsigned char* text = sqlite3_column_text(statement_, column);
  if (text == nullptr) return std::string();
  int size = sqlite3_column_bytes(statement_, column);
  return std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(size));
}

bool Statement::IsNull(int column) const {
  return sqlite3_column_type(statement_, column) == SQLITE_NULL;
}

// ---------------------------------------------------------------------------------------------
// Connection

Connection::Connection(std::string path, Durability durability,
                       std::chrono::milliseconds busy_timeout)
    : path_(std::move(path)) {
  // Each connection is used by one thread at a time, so SQLite's per-connection mutex is not
  // needed.
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path_.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw SqliteError(rc, "open " + path_ + " failed: " + message);
  }
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, static_cast<int>(busy_timeout.count()));

  try {
    Execute("PRAGMA journal_mode = WAL", "enable WAL mode");
    // After a burst, the WAL file shrinks back to this size once it has been checkpointed.
    Execute("PRAGMA journal_size_limit = 67108864", "set WAL size limit");
    Execute(durability == Durability::kFull ? "PRAGMA synchronous = FULL"
                                            : "PRAGMA synchronous = NORMAL",
            "set synchronous mode");
    Execute("PRAGMA foreign_keys = ON", "enable foreign keys");
  } catch (...) {
    sqlite3_close_v2(db_);
    throw;
  }
}

Connection::~Connection() {
  for (auto& [sql, statement] : statements_) sqlite3_finalize(statement);
  sqlite3_close_v2(db_);
}

Statement Connection::Prepare(std::string_view sql) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    sqlite3_stmt* statement = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &statement, nullptr);
    if (rc != SQLITE_OK) Fail(rc, "prepare \"" + Abbreviate(sql) + "\"");
    it = statements_.emplace(std::string(sql), statement).first;
  }
  return Statement(*this, it->second, it->first);
}

void Connection::Execute(std::string_view sql, std::string_view operation) {
  std::string text(sql);
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) Fail(rc, operation);
}

int64_t Connection::Changes() const { return sqlite3_changes64(db_); }

int64_t Connection::QueryInt(std::string_view sql) {
  Statement statement = Prepare(sql);
  return statement.Step() ? statement.Int(0) : 0;
}

void Connection::Fail(int code, std::string_view operation) const {
  std::string message = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(code);
  throw SqliteError(code & 0xff, std::string(operation) + " on " + path_ + " failed: " + message +
                                     " (SQLite code " + std::to_string(code) + ")");
}

// ---------------------------------------------------------------------------------------------
// Database

Database::Database(const std::string& data_dir) : Database(data_dir, Options{}) {}

Database::Database(const std::string& data_dir, Options options)
    : path_(PathIn(data_dir)), options_(options) {
  CreateDataDirectory(data_dir);
  // Opening one reader checks that the file can be created and opened, and sets WAL mode, which
  // is stored in the file, before any writer starts.
  ReturnReader(TakeReader());
  checkpointer_ = std::thread([this] { RunCheckpoints(); });
}

Database::~Database() {
  {
    std::lock_guard lock(checkpoint_mutex_);
    stopping_ = true;
  }
  checkpoint_wakeup_.notify_all();
  checkpointer_.join();
}

std::string Database::PathIn(const std::string& data_dir) {
  return (std::filesystem::path(data_dir) / "prism.db").string();
}

int Database::LatestSchemaVersion() { return static_cast<int>(Migrations().size()); }

int Database::SchemaVersion() {
  int64_t version = 0;
  Read([&](Connection& connection) { version = connection.QueryInt("PRAGMA user_version"); });
  return static_cast<int>(version);
}

void Database::Migrate() {
  const int latest = LatestSchemaVersion();
  int from = 0;
  Write(Durability::kFull, [&](Connection& connection) {
    from = static_cast<int>(connection.QueryInt("PRAGMA user_version"));
    if (from > latest) {
      throw storage::StorageUnavailable(path_ + " has schema version " + std::to_string(from) +
                                        " but this build supports only " + "versions up to " +
                                        std::to_string(latest) + "; run a newer prism");
    }
    for (int version = from; version < latest; ++version) {
      connection.Execute(Migrations()[version],
                         "migrate schema to version " + std::to_string(version + 1));
    }
    if (from < latest) {
      connection.Execute("PRAGMA user_version = " + std::to_string(latest), "store schema version");
    }
  });
  if (from < latest) {
    log::Info(kComponent, "schema migrated",
              {{"file", path_}, {"from_version", from}, {"to_version", latest}});
  }
}

void Database::Write(Durability durability, const std::function<void(Connection&)>& body) {
  std::lock_guard lock(write_mutex_);
  Connection& connection = Writer(durability);
  connection.Prepare("BEGIN IMMEDIATE").Run();
  try {
    body(connection);
    connection.Prepare("COMMIT").Run();
  } catch (...) {
    // A failed COMMIT may already have ended the transaction; ROLLBACK then has nothing to do.
    if (!sqlite3_get_autocommit(connection.handle())) {
      sqlite3_exec(connection.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    }
    throw;
  }
}

void Database::Read(const std::function<void(Connection&)>& body) {
  std::unique_ptr<Connection> connection = TakeReader();
  try {
    body(*connection);
  } catch (...) {
    ReturnReader(std::move(connection));
    throw;
  }
  ReturnReader(std::move(connection));
}

std::unique_ptr<Connection> Database::TakeReader() {
  {
    std::lock_guard lock(pool_mutex_);
    if (!idle_readers_.empty()) {
      std::unique_ptr<Connection> connection = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return connection;
    }
  }
  return std::make_unique<Connection>(path_, Durability::kNormal, options_.busy_timeout);
}

void Database::ReturnReader(std::unique_ptr<Connection> connection) {
  std::lock_guard lock(pool_mutex_);
  if (idle_readers_.size() < options_.max_idle_readers) {
    idle_readers_.push_back(std::move(connection));
    return;
  }
  // A surplus connection closes here. Closing takes microseconds, so holding the lock is fine.
}

// PRAGMA synchronous applies to the commits that follow it, so it is set between transactions.
Connection& Database::Writer(Durability durability) {
  if (!writer_) {
    writer_ = std::make_unique<Connection>(path_, durability, options_.busy_timeout);
    writer_durability_ = durability;
    // Replaces SQLite's automatic checkpoint, which would run inside the committing writer.
    sqlite3_wal_hook(writer_->handle(), &Database::OnWalCommit, this);
  }
  if (writer_durability_ != durability) {
    writer_
        ->Prepare(durability == Durability::kFull ? "PRAGMA synchronous = FULL"
                                                  : "PRAGMA synchronous = NORMAL")
        .Run();
    writer_durability_ = durability;
  }
  return *writer_;
}

int Database::OnWalCommit(void* database, sqlite3* db, const char* schema, int frames) {
  if (frames >= kCheckpointInlineFrames) {
    sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  } else if (frames >= kCheckpointWakeFrames) {
    static_cast<Database*>(database)->RequestCheckpoint();
  }
  return SQLITE_OK;
}

void Database::RequestCheckpoint() {
  {
    std::lock_guard lock(checkpoint_mutex_);
    checkpoint_requested_ = true;
  }
  checkpoint_wakeup_.notify_one();
}

// A PASSIVE checkpoint copies what it can without waiting for readers or writers, and it takes no
// write lock, so commits go on while it runs.
void Database::RunCheckpoints() {
  std::unique_ptr<Connection> connection;
  log::RateLimiter failures(std::chrono::minutes(1));
  for (;;) {
    {
      std::unique_lock lock(checkpoint_mutex_);
      checkpoint_wakeup_.wait_for(lock, options_.checkpoint_interval,
                                  [&] { return stopping_ || checkpoint_requested_; });
      if (stopping_) return;
      checkpoint_requested_ = false;
    }
    try {
      if (!connection) {
        connection = std::make_unique<Connection>(path_, Durability::kFull, options_.busy_timeout);
      }
      int rc = sqlite3_wal_checkpoint_v2(connection->handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                         nullptr, nullptr);
      if (rc != SQLITE_OK && rc != SQLITE_BUSY) connection->Fail(rc, "checkpoint");
    } catch (const storage::StorageUnavailable& error) {
      long suppressed = failures.Admit("checkpoint");
      if (suppressed >= 0) {
        log::Warn(kComponent, "WAL checkpoint failed; retrying",
                  {{"file", path_}, {"error", error.what()}, {"suppressed", suppressed}});
      }
      connection.reset();
    }
  }
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace prism::sqlite
