#include "postgres/connection.h"

#include <charconv>
#include <thread>
#include <utility>

#include "common/backoff.h"

namespace prism::postgres {

namespace {

constexpr std::string_view kComponent = "postgres";

// Removes the password from a message. Passwords shorter than 3 characters are left alone,
// because replacing them would garble ordinary words. None of the libpq 15 messages seen in the
// tests contained the password, so this guards against messages not seen yet.
std::string Redact(std::string message, const std::string& password) {
  if (password.size() < 3) return message;
  for (size_t at = message.find(password); at != std::string::npos;
       at = message.find(password, at)) {
    message.replace(at, password.size(), "***");
  }
  return message;
}

std::string TrimNewline(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

struct ParsedUrl {
  std::string server;  // host:port/database as user
  std::string password;
};

// Parses the URL with libpq; returns nullopt and sets `error` when it cannot.
std::optional<ParsedUrl> ParseUrl(const std::string& url, std::string* error) {
  char* message = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &message);
  if (options == nullptr) {
    *error = message ? TrimNewline(message) : "out of memory";
    PQfreemem(message);
    return std::nullopt;
  }
  std::unordered_map<std::string, std::string> values;
  for (PQconninfoOption* option = options; option->keyword != nullptr; ++option) {
    if (option->val != nullptr) values[option->keyword] = option->val;
  }
  PQconninfoFree(options);
  auto value_or = [&](const char* key, const char* fallback) {
    auto it = values.find(key);
    return it == values.end() || it->second.empty() ? std::string(fallback) : it->second;
  };
  ParsedUrl parsed;
  parsed.password = value_or("password", "");
  parsed.server = value_or("host", "localhost") + ":" + value_or("port", "5432") + "/" +
                  value_or("dbname", "(default)") + " as " + value_or("user", "(default)");
  return parsed;
}

int64_t ParseInt(const char* text, int length) {
  int64_t value = 0;
  std::from_chars(text, text + length, value);
  return value;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Result

std::string Result::Text(int row, int column) const {
  return std::string(PQgetvalue(result_.get(), row, column),
                     PQgetlength(result_.get(), row, column));
}

int64_t Result::Int(int row, int column) const {
  if (IsNull(row, column)) return 0;
  return ParseInt(PQgetvalue(result_.get(), row, column), PQgetlength(result_.get(), row, column));
}

bool Result::Bool(int row, int column) const {
  return !IsNull(row, column) && PQgetvalue(result_.get(), row, column)[0] == 't';
}

int64_t Result::Affected() const {
  const char* text = PQcmdTuples(result_.get());
  return ParseInt(text, static_cast<int>(std::char_traits<char>::length(text)));
}

// ---------------------------------------------------------------------------------------------
// Connection

Connection::Connection(PGconn* handle, std::string server, std::string password)
    : handle_(handle), server_(std::move(server)), password_(std::move(password)) {}

Connection::~Connection() { PQfinish(handle_); }

Result Connection::Check(PGresult* raw, std::string_view what) {
  Result result(raw);
  ExecStatusType status = raw ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
    ++succeeded_;
    return result;
  }
  const char* state = raw ? PQresultErrorField(raw, PG_DIAG_SQLSTATE) : nullptr;
  std::string detail = TrimNewline(raw ? PQresultErrorMessage(raw) : PQerrorMessage(handle_));
  if (detail.empty()) detail = TrimNewline(PQerrorMessage(handle_));
  const bool lost = Broken();
  std::string message = "PostgreSQL " + std::string(what) + " failed on " + server_ + ": " +
                        (lost ? "connection lost: " : "") + detail;
  throw DatabaseError(Redact(std::move(message), password_), state ? state : "", lost);
}

Result Connection::Exec(std::string_view sql, const std::vector<Param>& params) {
  auto it = prepared_.find(std::string(sql));
  if (it == prepared_.end()) {
    std::string name = "prism_" + std::to_string(prepared_.size() + 1);
    std::string text(sql);
    Check(PQprepare(handle_, name.c_str(), text.c_str(), 0, nullptr), "prepare");
    it = prepared_.emplace(std::move(text), std::move(name)).first;
  }
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const Param& param : params) values.push_back(param ? param->c_str() : nullptr);
  return Check(PQexecPrepared(handle_, it->second.c_str(), static_cast<int>(values.size()),
                              values.data(), nullptr, nullptr, 0),
               "statement");
}

void Connection::ExecScript(std::string_view sql) {
  Check(PQexec(handle_, std::string(sql).c_str()), "statement");
}

bool Connection::Reusable() const {
  return PQstatus(handle_) == CONNECTION_OK && PQtransactionStatus(handle_) == PQTRANS_IDLE;
}

// ---------------------------------------------------------------------------------------------
// Pool

void ValidateDatabaseUrl(const std::string& url) {
  if (!url.starts_with("postgres://") && !url.starts_with("postgresql://")) {
    throw storage::StorageUnavailable("DATABASE_URL must start with postgres:// or postgresql://");
  }
  std::string error;
  std::optional<ParsedUrl> parsed = ParseUrl(url, &error);
  if (!parsed) {
    // libpq's messages quote the offending part, which may be the password.
    std::string password_free = error;
    if (auto at = url.find('@'); at != std::string::npos) {
      std::string credentials = url.substr(0, at);
      if (auto colon = credentials.rfind(':'); colon != std::string::npos) {
        password_free = Redact(error, credentials.substr(colon + 1));
      }
    }
    throw storage::StorageUnavailable("DATABASE_URL is invalid: " + password_free);
  }
}

ConnectionPool::ConnectionPool(std::string url, PoolOptions options)
    : url_(std::move(url)), options_(options) {
  ValidateDatabaseUrl(url_);
  std::string error;
  ParsedUrl parsed = *ParseUrl(url_, &error);
  server_ = std::move(parsed.server);
  password_ = std::move(parsed.password);
}

ConnectionPool::~ConnectionPool() = default;

std::unique_ptr<Connection> ConnectionPool::OpenConnection() {
  const std::string connect_timeout =
      std::to_string(std::max<int64_t>(1, (options_.connect_timeout.count() + 999) / 1000));
  const std::string session_options =
      "-c statement_timeout=" + std::to_string(options_.statement_timeout.count()) +
      " -c lock_timeout=" + std::to_string(options_.lock_timeout.count()) +
      " -c idle_in_transaction_session_timeout=" +
      std::to_string(2 * options_.statement_timeout.count());
  // Keywords after "dbname" override what the URL sets (expand_dbname = 1).
  // NOTE: an `options` parameter in DATABASE_URL is therefore replaced, not merged.
  const char* keywords[] = {"dbname",           "connect_timeout",
                            "options",          "keepalives",
                            "keepalives_idle",  "keepalives_interval",
                            "keepalives_count", "application_name",
                            "client_encoding",  nullptr};
  const char* values[] = {url_.c_str(),
                          connect_timeout.c_str(),
                          session_options.c_str(),
                          "1",
                          "10",
                          "5",
                          "3",
                          "prism",
                          "UTF8",
                          nullptr};
  PGconn* handle = PQconnectdbParams(keywords, values, 1);
  if (handle == nullptr || PQstatus(handle) != CONNECTION_OK) {
    std::string detail = handle ? TrimNewline(PQerrorMessage(handle)) : "out of memory";
    PQfinish(handle);
    std::string message =
        Redact("cannot connect to PostgreSQL at " + server_ + ": " + detail, password_);
    NoteConnectFailure(message);
    throw DatabaseError(message, "", true);
  }
  NoteConnected();
  return std::make_unique<Connection>(handle, server_, password_);
}

void ConnectionPool::NoteConnectFailure(const std::string& error) {
  bool was_reachable;
  std::chrono::milliseconds backoff;
  {
    std::lock_guard lock(mutex_);
    was_reachable = reachable_;
    reachable_ = false;
    backoff_ = backoff_.count() == 0 ? options_.initial_backoff
                                     : std::min(backoff_ * 2, options_.max_backoff);
    backoff = backoff_;
    next_connect_at_ = std::chrono::steady_clock::now() + Jittered(backoff_);
    last_connect_error_ = error;
  }
  if (was_reachable) {
    log::Error(kComponent, "database unreachable; retrying with back-off",
               {{"server", server_}, {"error", error}, {"backoff_ms", backoff.count()}});
  }
}

void ConnectionPool::NoteConnected() {
  bool was_reachable;
  {
    std::lock_guard lock(mutex_);
    was_reachable = reachable_;
    reachable_ = true;
    backoff_ = std::chrono::milliseconds(0);
    next_connect_at_ = {};
  }
  if (!was_reachable) log::Info(kComponent, "database reachable again", {{"server", server_}});
}

std::unique_ptr<Connection> ConnectionPool::Connect() {
  {
    std::lock_guard lock(mutex_);
    auto now = std::chrono::steady_clock::now();
    if (now < next_connect_at_) {
      throw DatabaseError(last_connect_error_ + " (next attempt in " +
                              std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                 next_connect_at_ - now)
                                                 .count()) +
                              " ms)",
                          "", true);
    }
  }
  return OpenConnection();
}

std::unique_ptr<Connection> ConnectionPool::Acquire(bool* reused) {
  const auto deadline = std::chrono::steady_clock::now() + options_.acquire_timeout;
  std::unique_lock lock(mutex_);
  for (;;) {
    if (!idle_.empty()) {
      std::unique_ptr<Connection> connection = std::move(idle_.back());
      idle_.pop_back();
      *reused = true;
      return connection;
    }
    if (open_ < options_.max_connections) {
      ++open_;
      lock.unlock();
      try {
        *reused = false;
        return Connect();
      } catch (...) {
        lock.lock();
        --open_;
        freed_.notify_one();
        throw;
      }
    }
    if (freed_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
        open_ >= options_.max_connections) {
      throw storage::StorageUnavailable(
          "no PostgreSQL connection to " + server_ + " became free within " +
          std::to_string(options_.acquire_timeout.count()) + " ms (pool of " +
          std::to_string(options_.max_connections) + ")");
    }
  }
}

void ConnectionPool::Release(std::unique_ptr<Connection> connection) {
  bool lost = false;
  if (connection && !connection->Reusable()) {
    lost = connection->Broken();
    connection.reset();  // a dead session or one left inside a transaction is closed
  }
  {
    std::lock_guard lock(mutex_);
    if (connection) {
      connection->ResetSucceeded();
      idle_.push_back(std::move(connection));
    } else {
      --open_;
      if (lost && reachable_) {
        reachable_ = false;
        log::Warn(kComponent, "database connection lost", {{"server", server_}});
      }
    }
  }
  freed_.notify_one();
}

void ConnectionPool::CloseIdle() {
  std::vector<std::unique_ptr<Connection>> closing;
  {
    std::lock_guard lock(mutex_);
    closing.swap(idle_);
    open_ -= closing.size();
  }
  freed_.notify_all();
}

void ConnectionPool::Run(const std::function<void(Connection&)>& work) {
  for (int attempt = 0;; ++attempt) {
    bool reused = false;
    std::unique_ptr<Connection> connection = Acquire(&reused);
    try {
      work(*connection);
      Release(std::move(connection));
      return;
    } catch (const DatabaseError& error) {
      const bool stale = reused && error.connection_lost() && connection->succeeded() == 0;
      Release(std::move(connection));
      if (!stale || attempt > 0) throw;
      CloseIdle();  // they date from before the same outage, so the retry would find them dead too
    } catch (...) {
      Release(std::move(connection));
      throw;
    }
  }
}

void ConnectionPool::Transaction(const std::function<void(Connection&)>& work) {
  Run([&](Connection& connection) {
    connection.ExecScript("BEGIN");
    try {
      work(connection);
      connection.ExecScript("COMMIT");
    } catch (...) {
      if (!connection.Broken()) PQclear(PQexec(connection.handle(), "ROLLBACK"));
      throw;
    }
  });
}

}  // namespace prism::postgres
