// libpq connections and a bounded pool of them, shared by every PostgreSQL storage object.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/log.h"
#include "storage/types.h"

namespace prism::postgres {

// A failed statement or connection. sqlstate() is the five-character SQLSTATE code ("23505" for a
// unique violation), empty when the connection itself failed. The message names the server
// (host, port, database, user) and never contains the password.
class DatabaseError : public storage::StorageUnavailable {
 public:
  DatabaseError(const std::string& message, std::string sqlstate, bool connection_lost)
      : StorageUnavailable(message),
        sqlstate_(std::move(sqlstate)),
        connection_lost_(connection_lost) {}

  const std::string& sqlstate() const { return sqlstate_; }
  bool connection_lost() const { return connection_lost_; }
  bool IsUniqueViolation() const { return sqlstate_ == "23505"; }

 private:
  std::string sqlstate_;
  bool connection_lost_;
};

// A statement parameter in text form; nullopt is SQL NULL.
using Param = std::optional<std::string>;

inline Param ToParam(std::string_view text) { return std::string(text); }
inline Param ToParam(const std::string& text) { return text; }
inline Param ToParam(const char* text) { return std::string(text); }
inline Param ToParam(bool value) { return std::string(value ? "true" : "false"); }
inline Param ToParam(const Param& value) { return value; }
template <typename N>
requires std::is_integral_v<N> Param ToParam(N value) { return std::to_string(value); }

template <typename... Args>
std::vector<Param> Params(const Args&... args) {
  return std::vector<Param>{ToParam(args)...};
}

// The rows of one statement, in text format. Owns the PGresult.
class Result {
 public:
  explicit Result(PGresult* result) : result_(result, PQclear) {}

  int Rows() const { return PQntuples(result_.get()); }
  bool Empty() const { return Rows() == 0; }
  bool IsNull(int row, int column) const { return PQgetisnull(result_.get(), row, column) != 0; }
  std::string Text(int row, int column) const;
  int64_t Int(int row, int column) const;  // 0 for NULL
  bool Bool(int row, int column) const;    // false for NULL
  // Rows changed by an INSERT, UPDATE or DELETE.
  int64_t Affected() const;

 private:
  std::unique_ptr<PGresult, decltype(&PQclear)> result_;
};

// One open session. Statements run with Exec are prepared once per connection and reused.
// Not thread-safe: the pool hands a connection to one thread at a time.
class Connection {
 public:
  // Takes ownership of an established connection. `server` names it in error messages.
  Connection(PGconn* handle, std::string server, std::string password);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one statement with parameters ($1, $2, ...). Throws DatabaseError on failure.
  Result Exec(std::string_view sql, const std::vector<Param>& params = {});

  // Runs a script of several statements without parameters (migrations, BEGIN, COMMIT).
  void ExecScript(std::string_view sql);

  // Whether the session is usable: connected and not inside an open or failed transaction.
  bool Reusable() const;
  bool Broken() const { return PQstatus(handle_) != CONNECTION_OK; }

  // Statements that succeeded since the pool handed the connection out.
  int64_t succeeded() const { return succeeded_; }
  void ResetSucceeded() { succeeded_ = 0; }

  PGconn* handle() { return handle_; }

 private:
  Result Check(PGresult* raw, std::string_view what);

  PGconn* handle_;
  std::string server_;
  std::string password_;
  std::unordered_map<std::string, std::string> prepared_;  // SQL text -> statement name
  int64_t succeeded_ = 0;
};

// Connection settings of a pool. Every timeout applies to each connection.
struct PoolOptions {
  size_t max_connections = 8;  // NOTE: a starting value, not measured against HTTP thread counts
  std::chrono::milliseconds acquire_timeout{5000};     // waiting for a free connection
  std::chrono::milliseconds connect_timeout{5000};     // libpq connect_timeout (whole seconds)
  std::chrono::milliseconds statement_timeout{30000};  // server-side statement_timeout
  std::chrono::milliseconds lock_timeout{10000};       // server-side lock_timeout
  std::chrono::milliseconds initial_backoff{100};      // first wait after a failed connect
  std::chrono::milliseconds max_backoff{5000};         // the wait doubles up to this
};

// Checks that `url` is a postgres:// or postgresql:// URL libpq can parse. Throws
// StorageUnavailable naming the problem (without the password) otherwise.
void ValidateDatabaseUrl(const std::string& url);

// A bounded pool of connections to one database.
//
// Connections open on demand, up to max_connections. After a connect fails, no new connect is
// tried until a back-off (initial_backoff doubling to max_backoff) has passed: callers in between
// get StorageUnavailable at once instead of each waiting for connect_timeout. The pool logs once
// when the database becomes unreachable and once when it is reachable again.
//
// Thread-safe.
class ConnectionPool {
 public:
  ConnectionPool(std::string url, PoolOptions options = {});
  ~ConnectionPool();

  // Runs `work` with a connection of the pool. When the connection was idle in the pool and its
  // first statement finds it dead (for example after a server restart), the work runs once more
  // on a new connection. That is safe because nothing of the work had reached the server.
  void Run(const std::function<void(Connection&)>& work);

  // Runs `work` inside BEGIN ... COMMIT and rolls back when it throws.
  void Transaction(const std::function<void(Connection&)>& work);

  // Opens a connection outside the pool (for sessions that hold a lock, such as migrations).
  std::unique_ptr<Connection> Connect();

  // "host:port/database as user", for messages.
  const std::string& server() const { return server_; }

 private:
  std::unique_ptr<Connection> Acquire(bool* reused);
  void Release(std::unique_ptr<Connection> connection);
  void CloseIdle();
  std::unique_ptr<Connection> OpenConnection();
  void NoteConnectFailure(const std::string& error);
  void NoteConnected();

  const std::string url_;
  const PoolOptions options_;
  std::string server_;
  std::string password_;

  std::mutex mutex_;               // guards every field below it
  std::condition_variable freed_;  // a connection was released or a slot freed
  std::vector<std::unique_ptr<Connection>> idle_;
  size_t open_ = 0;        // connections handed out, idle or being opened
  bool reachable_ = true;  // as last observed, for logging state changes
  std::chrono::steady_clock::time_point next_connect_at_{};
  std::chrono::milliseconds backoff_{0};
  std::string last_connect_error_;
};

}  // namespace prism::postgres
