// Connections to one Redis server through hiredis: the connection string, a single connection
// and a bounded pool that reconnects with back-off.
#pragma once

#include <hiredis/hiredis.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace prism::redis {

// The server address and credentials parsed from REDIS_CONNECTION_STRING.
struct Endpoint {
  std::string host;
  int port = 6379;
  std::string username;  // empty: AUTH with the password only
  std::string password;  // empty: no AUTH
  int db = 0;
};

// Parses `redis://[[user]:password@]host:port[/db]` or `host:port[,password=...][,ssl=false]
// [,defaultDatabase=N]`. Throws std::invalid_argument naming the value (password masked).
// TLS (`rediss://` or ssl=true) is rejected, because hiredis 0.14 has no TLS support.
Endpoint ParseConnectionString(std::string_view text);

// Connection string with the password replaced by "***", for messages.
std::string MaskedConnectionString(std::string_view text);

struct ReplyDeleter {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

// A script with its SHA-1, run by EVALSHA with an EVAL fallback.
struct Script {
  explicit Script(std::string source);
  std::string source;
  std::string sha1;
};

// One blocking hiredis connection. Not thread-safe. An I/O error, a timeout or a protocol error
// marks the connection broken and throws storage::StorageUnavailable. Error replies are returned
// (see IsError), so callers can tell NOGROUP or BUSYGROUP apart.
class Connection {
 public:
  // Connects, authenticates and selects the database. Throws StorageUnavailable.
  Connection(const Endpoint& endpoint, std::chrono::milliseconds connect_timeout,
             std::chrono::milliseconds command_timeout);
  ~Connection();

  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Reply Run(const std::vector<std::string>& args);
  // Pipelining: Append sends nothing until Read needs the first reply.
  void Append(const std::vector<std::string>& args);
  Reply Read();

  Reply Eval(const Script& script, const std::vector<std::string>& keys,
             const std::vector<std::string>& args);
  void AppendEval(const Script& script, const std::vector<std::string>& keys,
                  const std::vector<std::string>& args);

  // Socket timeout for the next commands; Run resets nothing, so callers restore it.
  void SetTimeout(std::chrono::milliseconds timeout);
  std::chrono::milliseconds command_timeout() const { return command_timeout_; }

  bool broken() const { return broken_; }
  const std::string& error() const { return error_; }
  redisContext* context() { return context_; }
  // Marks the connection broken and throws StorageUnavailable with the context's error.
  [[noreturn]] void Fail(std::string_view what);

 private:
  // Sends AUTH and SELECT when the endpoint has a password or a database number.
  void Authenticate(const Endpoint& endpoint);

  redisContext* context_ = nullptr;
  std::chrono::milliseconds command_timeout_;
  bool broken_ = false;
  std::string error_;  // why the connection broke
};

bool IsError(const redisReply* reply);
bool IsError(const redisReply* reply, std::string_view prefix);
std::string ReplyText(const redisReply* reply);
int64_t ReplyInteger(const redisReply* reply);
// The value of `name` in a flat [name, value, ...] array reply (a stream entry's fields).
std::optional<std::string> FieldOf(const redisReply* fields, std::string_view name);
// Whether `text` has the form of a stream entry id, <ms>-<seq>.
bool IsStreamId(std::string_view text);
// Throws StorageUnavailable naming `what` when the reply is an error.
void ExpectOk(const redisReply* reply, std::string_view what);

// A bounded pool of connections to one server. Connections are opened on demand, up to
// `pool_size`. After a failed connect, further connects wait for a back-off that doubles up to
// `backoff_max`; meanwhile Acquire fails at once. Changes between available and unavailable are
// logged once per change. Thread-safe.
class Client {
 public:
  struct Options {
    size_t pool_size = 8;
    std::chrono::milliseconds connect_timeout{1000};
    std::chrono::milliseconds command_timeout{2000};
    std::chrono::milliseconds pool_wait{2000};  // waiting for a free connection
    std::chrono::milliseconds backoff_min{100};
    std::chrono::milliseconds backoff_max{5000};
    // Loaded (SCRIPT LOAD) on every new connection, so a pipeline of EVALSHA after a server
    // restart finds them. The scripts must outlive the client.
    std::vector<const Script*> scripts;
  };

  // `name` identifies the pool in logs ("command-queue", "cache"...).
  Client(Endpoint endpoint, Options options, std::string name);

  class Handle {
   public:
    Handle(Client* client, std::unique_ptr<Connection> connection)
        : client_(client), connection_(std::move(connection)) {}
    Handle(Handle&&) = default;
    ~Handle();
    Connection* operator->() { return connection_.get(); }
    Connection& operator*() { return *connection_; }

   private:
    Client* client_;
    std::unique_ptr<Connection> connection_;
  };

  // A connection for the caller's exclusive use. Throws StorageUnavailable when none is free
  // within pool_wait, or when the server cannot be reached.
  Handle Acquire();

  // Runs `work` on a pooled connection. A broken connection is closed instead of returned.
  template <typename Work>
  auto With(Work&& work) {
    Handle handle = Acquire();
    return work(*handle);
  }

  const Endpoint& endpoint() const { return endpoint_; }
  const Options& options() const { return options_; }
  const std::string& name() const { return name_; }
  std::string Describe() const;  // "host:port", for messages

  // Records an I/O failure of a pooled connection: idle connections are dropped, because they
  // most likely point at the same dead server.
  void ReportFailure(std::string_view error);

 private:
  // Returns a connection to the pool; a broken one is closed and reported as a failure.
  void Release(std::unique_ptr<Connection> connection);
  std::unique_ptr<Connection> Connect();
  void MarkAvailable();
  void MarkUnavailable(std::string_view error);

  const Endpoint endpoint_;
  const Options options_;
  const std::string name_;

  std::mutex mutex_;  // guards every field below it
  std::condition_variable released_;
  std::deque<std::unique_ptr<Connection>> idle_;
  size_t open_ = 0;  // idle plus in use plus being opened
  bool available_ = true;
  std::chrono::milliseconds backoff_{0};
  std::chrono::steady_clock::time_point next_connect_{};
  std::string last_error_;
};

}  // namespace prism::redis
