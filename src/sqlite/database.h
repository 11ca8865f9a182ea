// SQLite access for the embedded backend: connections with cached prepared statements, a pool of
// reader connections, serialised write transactions and schema migrations.
//
// The database is one file, <data_dir>/prism.db, in WAL mode, so readers do not block the writer
// and each statement reads the latest commit as of its start. SQLite admits one writer at a time
// per file. This process's writers take turns on an in-process mutex, and a writer waits for
// writers of other processes up to the busy timeout.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "storage/types.h"

struct sqlite3;
struct sqlite3_stmt;

namespace prism::sqlite {

// A SQLite call failed. The message names the database file, the operation and SQLite's own
// message; code() is the primary SQLite result code (SQLITE_BUSY, SQLITE_CONSTRAINT, ...).
class SqliteError : public storage::StorageUnavailable {
 public:
  SqliteError(int code, const std::string& message)
      : storage::StorageUnavailable(message), code_(code) {}

  int code() const { return code_; }

 private:
  int code_;
};

// The sync level of a write transaction. kFull syncs the WAL on commit, so the commit survives
// power loss. kNormal leaves the sync to the next kFull commit or checkpoint, so it survives a
// crash of the process but may lose the latest commits on power loss. Because WAL recovery keeps
// only a prefix of the log, a lost kNormal commit never survives a later commit that was lost too.
enum class Durability { kFull, kNormal };

class Connection;

// A prepared statement borrowed from a connection's cache. It is reset and its bindings cleared
// when the object is destroyed, so no read transaction outlives the scope that ran it.
// Not thread-safe: only the thread that uses its connection may use it.
class Statement {
 public:
  Statement(Connection& connection, sqlite3_stmt* statement, std::string_view sql);
  ~Statement();

  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Binds parameter `index` (1-based). Text is copied, so temporaries are safe. Binding to a
  // statement that returned rows and was not run to the end resets it first.
  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, std::string_view text);
  Statement& BindNull(int index);

  // Binds the arguments to parameters 1, 2, 3...
  template <typename... Args>
  Statement& BindAll(const Args&... args) {
    int index = 0;
    (Bind(++index, args), ...);
    return *this;
  }

  // Advances to the next row; returns false when there is none, and then the statement is reset
  // and can be bound and run again. Throws SqliteError.
  bool Step();
  // Runs a statement that returns no rows to completion. Throws SqliteError.
  void Run();

  int64_t Int(int column) const;
  std::string Text(int column) const;
  bool IsNull(int column) const;

 private:
  void ResetIfStarted();

  Connection& connection_;
  sqlite3_stmt* statement_;
  std::string_view sql_;  // the cache key, which lives as long as the connection
};

// One SQLite connection with a cache of prepared statements. Not thread-safe: one thread at a
// time uses it, which the Database's pool and write mutex ensure.
class Connection {
 public:
  // Opens `path`, creating the file when missing, in WAL mode with foreign keys on, the given
  // durability and `busy_timeout` for locks held by other connections. Throws SqliteError.
  Connection(std::string path, Durability durability, std::chrono::milliseconds busy_timeout);
  ~Connection();

  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Returns the cached statement for `sql`, preparing it on first use. Throws SqliteError.
  Statement Prepare(std::string_view sql);

  // Runs one or more SQL statements without caching them (DDL, pragmas). Throws SqliteError.
  void Execute(std::string_view sql, std::string_view operation);

  int64_t Changes() const;
  int64_t QueryInt(std::string_view sql);  // the first column of the first row, 0 when no row

  // Throws SqliteError naming this connection's file, `operation` and SQLite's message.
  [[noreturn]] void Fail(int code, std::string_view operation) const;

  const std::string& path() const { return path_; }
  sqlite3* handle() { return db_; }

 private:
  std::string path_;
  sqlite3* db_ = nullptr;
  // Hashes std::string and std::string_view alike, so a lookup by string_view allocates nothing.
  struct SqlHash {
    using is_transparent = void;
    size_t operator()(std::string_view sql) const { return std::hash<std::string_view>{}(sql); }
  };
  // SQL text -> prepared statement
  std::unordered_map<std::string, sqlite3_stmt*, SqlHash, std::equal_to<>> statements_;
};

// The embedded database file and its connections. Thread-safe.
class Database {
 public:
  struct Options {
    // How long a statement waits for a lock held by another process before failing with
    // SQLITE_BUSY (reported as StorageUnavailable).
    std::chrono::milliseconds busy_timeout{5000};
    size_t max_idle_readers = 8;  // reader connections kept open between reads
    // Checkpoints copy the WAL back into the database file. A background thread runs them, so
    // the copy and its fsync stay off the commit path: every checkpoint_interval, and as soon as
    // a commit leaves kCheckpointWakeFrames frames in the WAL.
    std::chrono::milliseconds checkpoint_interval{1000};
  };

  // WAL frames (pages) after a commit that wake the background checkpoint at once.
  static constexpr int kCheckpointWakeFrames = 1000;
  // WAL frames after which the committing writer checkpoints itself, in case the background
  // checkpoint cannot keep up.
  static constexpr int kCheckpointInlineFrames = 20000;

  // Opens <data_dir>/prism.db, creating `data_dir` (mode 0700) and the file when missing. Does
  // not create the schema: call Migrate(). Throws StorageUnavailable when the directory or the
  // file cannot be created or opened.
  explicit Database(const std::string& data_dir);
  Database(const std::string& data_dir, Options options);
  ~Database();

  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  static std::string PathIn(const std::string& data_dir);

  // Brings the schema to the latest version inside one write transaction. Safe to run any number
  // of times, also concurrently from several processes: the first to take the write lock migrates
  // and the others then find nothing to do. Throws StorageUnavailable, also when the file has a
  // schema newer than this build supports.
  void Migrate();

  // The schema version stored in the file (PRAGMA user_version); 0 before the first Migrate().
  int SchemaVersion();
  static int LatestSchemaVersion();

  // Runs `body` inside BEGIN IMMEDIATE ... COMMIT on the writer connection, with the given
  // durability. This process's write transactions run one at a time. When `body` throws, the
  // transaction is rolled back and the exception rethrown. Throws StorageUnavailable when SQLite
  // fails, including SQLITE_BUSY after the busy timeout when another process holds the write lock.
  void Write(Durability durability, const std::function<void(Connection&)>& body);

  // Runs `body` on a reader connection from the pool, without an explicit transaction: each
  // statement reads the latest commit. Throws StorageUnavailable when SQLite fails.
  void Read(const std::function<void(Connection&)>& body);

  const std::string& path() const { return path_; }

 private:
  std::unique_ptr<Connection> TakeReader();
  void ReturnReader(std::unique_ptr<Connection> connection);
  Connection& Writer(Durability durability);
  void RunCheckpoints();
  void RequestCheckpoint();
  static int OnWalCommit(void* database, sqlite3* db, const char* schema, int frames);

  std::string path_;
  Options options_;

  std::mutex write_mutex_;  // serialises this process's write transactions, guards the writer
  // One connection for every write transaction, so that its page cache stays valid from one
  // transaction to the next. A commit through a second connection would make SQLite drop the
  // whole page cache of this one and read its pages again. Opened on first use.
  std::unique_ptr<Connection> writer_;                // guarded by write_mutex_
  Durability writer_durability_ = Durability::kFull;  // its PRAGMA synchronous, by write_mutex_

  std::mutex pool_mutex_;  // guards idle_readers_
  std::vector<std::unique_ptr<Connection>> idle_readers_;

  std::mutex checkpoint_mutex_;  // guards checkpoint_requested_ and stopping_
  std::condition_variable checkpoint_wakeup_;
  bool checkpoint_requested_ = false;
  bool stopping_ = false;
  std::thread checkpointer_;  // runs RunCheckpoints; joined by the destructor
};

// Milliseconds since the Unix epoch. Leases and outcome times use wall-clock time because other
// processes share the file.
int64_t NowMs();

}  // namespace prism::sqlite
