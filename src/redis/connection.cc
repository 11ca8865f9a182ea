#include "redis/connection.h"

#include <openssl/sha.h>

#include <charconv>
#include <stdexcept>
#include <thread>
#include <utility>

#include "common/backoff.h"
#include "common/log.h"
#include "storage/types.h"

namespace prism::redis {

namespace {

using storage::StorageUnavailable;

bool ParseInt(std::string_view text, int* out) {
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return error == std::errc() && end == text.data() + text.size() && !text.empty();
}

[[noreturn]] void Invalid(std::string_view text, std::string_view why) {
  throw std::invalid_argument("invalid REDIS_CONNECTION_STRING \"" + MaskedConnectionString(text) +
                              "\": " + std::string(why));
}

// Parses "host:port" (IPv6 addresses in brackets) into the endpoint.
void ParseHostPort(std::string_view original, std::string_view text, Endpoint* out) {
  size_t colon = text.rfind(':');
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) Invalid(original, "unterminated [ in the host");
    out->host = std::string(text.substr(1, close - 1));
    colon = close + 1 < text.size() && text[close + 1] == ':' ? close + 1 : std::string_view::npos;
  } else {
    out->host = std::string(text.substr(0, colon));
  }
  if (out->host.empty()) Invalid(original, "the host is missing");
  if (colon != std::string_view::npos) {
    if (!ParseInt(text.substr(colon + 1), &out->port) || out->port < 1 || out->port > 65535) {
      Invalid(original, "the port must be a number from 1 to 65535");
    }
  }
}

Endpoint ParseUrl(std::string_view text) {
  Endpoint endpoint;
  std::string_view rest = text;
  if (rest.starts_with("rediss://")) {
    Invalid(text,
            "TLS is not supported (hiredis 0.14 has no TLS); use redis:// on a trusted "
            "network or a TLS tunnel");
  }
  rest.remove_prefix(std::string_view("redis://").size());
  size_t at = rest.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view credentials = rest.substr(0, at);
    size_t colon = credentials.find(':');
    if (colon == std::string_view::npos) {
      endpoint.password = std::string(credentials);
    } else {
      endpoint.username = std::string(credentials.substr(0, colon));
      endpoint.password = std::string(credentials.substr(colon + 1));
    }
    rest.remove_prefix(at + 1);
  }
  size_t slash = rest.find('/');
  if (slash != std::string_view::npos) {
    std::string_view db = rest.substr(slash + 1);
    if (!db.empty() && (!ParseInt(db, &endpoint.db) || endpoint.db < 0)) {
      Invalid(text, "the database after / must be a non-negative number");
    }
    rest = rest.substr(0, slash);
  }
  ParseHostPort(text, rest, &endpoint);
  return endpoint;
}

Endpoint ParseOptionList(std::string_view text) {
  Endpoint endpoint;
  std::string_view rest = text;
  size_t comma = rest.find(',');
  ParseHostPort(text, rest.substr(0, comma), &endpoint);
  while (comma != std::string_view::npos) {
    rest.remove_prefix(comma + 1);
    comma = rest.find(',');
    std::string_view option = rest.substr(0, comma);
    size_t equals = option.find('=');
    if (equals == std::string_view::npos) Invalid(text, "options must be name=value");
    std::string_view name = option.substr(0, equals);
    std::string_view value = option.substr(equals + 1);
    if (name == "password") {
      endpoint.password = std::string(value);
    } else if (name == "user") {
      endpoint.username = std::string(value);
    } else if (name == "ssl") {
      if (value == "true") {
        Invalid(text, "ssl=true is not supported (hiredis 0.14 has no TLS); use a TLS tunnel");
      }
      if (value != "false") Invalid(text, "ssl must be true or false");
    } else if (name == "defaultDatabase") {
      if (!ParseInt(value, &endpoint.db) || endpoint.db < 0) {
        Invalid(text, "defaultDatabase must be a non-negative number");
      }
    } else if (name == "abortConnect" || name == "connectTimeout" || name == "syncTimeout") {
      // Options of other clients' connection strings; timeouts here come from the pool options.
    } else {
      Invalid(text, "unknown option \"" + std::string(name) +
                        "\" (expected password, user, ssl or defaultDatabase)");
    }
  }
  return endpoint;
}

}  // namespace

Endpoint ParseConnectionString(std::string_view text) {
  if (text.empty()) Invalid(text, "the value is empty");
  if (text.starts_with("redis://") || text.starts_with("rediss://")) return ParseUrl(text);
  if (text.find("://") != std::string_view::npos) {
    Invalid(text, "expected redis://host:port or host:port,password=...");
  }
  return ParseOptionList(text);
}

std::string MaskedConnectionString(std::string_view text) {
  std::string masked(text);
  size_t scheme = masked.find("://");
  size_t at = masked.rfind('@');
  if (scheme != std::string::npos && at != std::string::npos && at > scheme) {
    size_t colon = masked.find(':', scheme + 3);
    size_t start = colon != std::string::npos && colon < at ? colon + 1 : scheme + 3;
    masked.replace(start, at - start, "***");
  }
  size_t option = masked.find("password=");
  if (option != std::string::npos) {
    size_t end = masked.find(',', option);
    size_t start = option + std::string_view("password=").size();
    masked.replace(start, (end == std::string::npos ? masked.size() : end) - start, "***");
  }
  return masked;
}

Script::Script(std::string text) : source(std::move(text)) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(source.data()), source.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char byte : digest) {
    sha1.push_back(kHex[byte >> 4]);
    sha1.push_back(kHex[byte & 15]);
  }
}

// ---------------------------------------------------------------------------------------------
// Connection

namespace {

timeval ToTimeval(std::chrono::milliseconds timeout) {
  timeval tv;
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  return tv;
}

std::vector<std::string> EvalArgs(std::string_view command, std::string_view script,
                                  const std::vector<std::string>& keys,
                                  const std::vector<std::string>& args) {
  std::vector<std::string> all;
  all.reserve(3 + keys.size() + args.size());
  all.emplace_back(command);
  all.emplace_back(script);
  all.push_back(std::to_string(keys.size()));
  all.insert(all.end(), keys.begin(), keys.end());
  all.insert(all.end(), args.begin(), args.end());
  return all;
}

}  // namespace

Connection::Connection(const Endpoint& endpoint, std::chrono::milliseconds connect_timeout,
                       std::chrono::milliseconds command_timeout)
    : command_timeout_(command_timeout) {
  context_ =
      redisConnectWithTimeout(endpoint.host.c_str(), endpoint.port, ToTimeval(connect_timeout));
  if (context_ == nullptr) throw StorageUnavailable("redis: out of memory while connecting");
  if (context_->err) {
    std::string error = context_->errstr;
    redisFree(context_);
    context_ = nullptr;
    throw StorageUnavailable("redis connect to " + endpoint.host + ":" +
                             std::to_string(endpoint.port) + " failed: " + error);
  }
  try {
    SetTimeout(command_timeout);
    Authenticate(endpoint);
  } catch (...) {
    // The destructor does not run for a constructor that throws.
    redisFree(context_);
    context_ = nullptr;
    throw;
  }
}

void Connection::Authenticate(const Endpoint& endpoint) {
  if (!endpoint.password.empty()) {
    std::vector<std::string> auth = {"AUTH"};
    if (!endpoint.username.empty()) auth.push_back(endpoint.username);
    auth.push_back(endpoint.password);
    Reply reply = Run(auth);
    if (IsError(reply.get())) {
      throw StorageUnavailable("redis authentication failed: " + ReplyText(reply.get()));
    }
  }
  if (endpoint.db != 0) {
    Reply reply = Run({"SELECT", std::to_string(endpoint.db)});
    if (IsError(reply.get())) {
      throw StorageUnavailable("redis SELECT " + std::to_string(endpoint.db) +
                               " failed: " + ReplyText(reply.get()));
    }
  }
}

Connection::~Connection() {
  if (context_ != nullptr) redisFree(context_);
}

void Connection::Fail(std::string_view what) {
  broken_ = true;
  std::string error = context_ != nullptr && context_->err ? context_->errstr : "no reply";
  if (context_ != nullptr && context_->err == REDIS_ERR_IO &&
      error.find("temporarily") != std::string::npos) {
    error = "timed out";
  }
  error_ = std::string(what) + ": " + error;
  throw StorageUnavailable("redis " + std::string(what) + " failed: " + error);
}

Reply Connection::Run(const std::vector<std::string>& args) {
  Append(args);
  return Read();
}

void Connection::Append(const std::vector<std::string>& args) {
  if (broken_) Fail("command on a broken connection");
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  argv.reserve(args.size());
  lengths.reserve(args.size());
  for (const std::string& arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  if (redisAppendCommandArgv(context_, static_cast<int>(args.size()), argv.data(),
                             lengths.data()) != REDIS_OK) {
    Fail(args.empty() ? "command" : args[0]);
  }
}

Reply Connection::Read() {
  if (broken_) Fail("read on a broken connection");
  void* raw = nullptr;
  if (redisGetReply(context_, &raw) != REDIS_OK || raw == nullptr) Fail("read");
  return Reply(static_cast<redisReply*>(raw));
}

Reply Connection::Eval(const Script& script, const std::vector<std::string>& keys,
                       const std::vector<std::string>& args) {
  Reply reply = Run(EvalArgs("EVALSHA", script.sha1, keys, args));
  if (IsError(reply.get(), "NOSCRIPT")) reply = Run(EvalArgs("EVAL", script.source, keys, args));
  return reply;
}

void Connection::AppendEval(const Script& script, const std::vector<std::string>& keys,
                            const std::vector<std::string>& args) {
  Append(EvalArgs("EVALSHA", script.sha1, keys, args));
}

void Connection::SetTimeout(std::chrono::milliseconds timeout) {
  if (redisSetTimeout(context_, ToTimeval(timeout)) != REDIS_OK) Fail("setting the timeout");
}

bool IsError(const redisReply* reply) {
  return reply != nullptr && reply->type == REDIS_REPLY_ERROR;
}

bool IsError(const redisReply* reply, std::string_view prefix) {
  return IsError(reply) && std::string_view(reply->str, reply->len).starts_with(prefix);
}

std::string ReplyText(const redisReply* reply) {
  if (reply == nullptr) return {};
  if (reply->type == REDIS_REPLY_INTEGER) return std::to_string(reply->integer);
  if (reply->str == nullptr) return {};
  return std::string(reply->str, reply->len);
}

int64_t ReplyInteger(const redisReply* reply) {
  if (reply == nullptr) return 0;
  if (reply->type == REDIS_REPLY_INTEGER) return reply->integer;
  if (reply->type == REDIS_REPLY_STRING || reply->type == REDIS_REPLY_STATUS) {
    int64_t value = 0;
    std::from_chars(reply->str, reply->str + reply->len, value);
    return value;
  }
  return 0;
}

std::optional<std::string> FieldOf(const redisReply* fields, std::string_view name) {
  if (fields == nullptr || fields->type != REDIS_REPLY_ARRAY) return std::nullopt;
  for (size_t i = 0; i + 1 < fields->elements; i += 2) {
    if (ReplyText(fields->element[i]) == name) return ReplyText(fields->element[i + 1]);
  }
  return std::nullopt;
}

bool IsStreamId(std::string_view text) {
  size_t dash = text.find('-');
  if (dash == 0 || dash == std::string_view::npos || dash + 1 == text.size()) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (i != dash && (text[i] < '0' || text[i] > '9')) return false;
  }
  return true;
}

void ExpectOk(const redisReply* reply, std::string_view what) {
  if (IsError(reply)) {
    throw StorageUnavailable("redis " + std::string(what) + " failed: " + ReplyText(reply));
  }
}

// ---------------------------------------------------------------------------------------------
// Client

Client::Client(Endpoint endpoint, Options options, std::string name)
    : endpoint_(std::move(endpoint)), options_(options), name_(std::move(name)) {}

Client::Handle::~Handle() {
  if (connection_ && client_ != nullptr) client_->Release(std::move(connection_));
}

std::string Client::Describe() const {
  return endpoint_.host + ":" + std::to_string(endpoint_.port);
}

Client::Handle Client::Acquire() {
  const auto deadline = std::chrono::steady_clock::now() + options_.pool_wait;
  {
    std::unique_lock lock(mutex_);
    for (;;) {
      if (!idle_.empty()) {
        std::unique_ptr<Connection> connection = std::move(idle_.front());
        idle_.pop_front();
        return Handle(this, std::move(connection));
      }
      if (open_ < options_.pool_size) {
        if (!available_ && std::chrono::steady_clock::now() < next_connect_) {
          throw StorageUnavailable("redis at " + Describe() + " is unavailable: " + last_error_);
        }
        ++open_;
        break;
      }
      if (released_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
          open_ >= options_.pool_size) {
        throw StorageUnavailable(
            "redis pool " + name_ + ": all " + std::to_string(options_.pool_size) +
            " connections stayed busy for " + std::to_string(options_.pool_wait.count()) + " ms");
      }
    }
  }
  return Handle(this, Connect());
}

std::unique_ptr<Connection> Client::Connect() {
  try {
    auto connection =
        std::make_unique<Connection>(endpoint_, options_.connect_timeout, options_.command_timeout);
    for (const Script* script : options_.scripts) {
      Reply reply = connection->Run({"SCRIPT", "LOAD", script->source});
      ExpectOk(reply.get(), "SCRIPT LOAD");
    }
    MarkAvailable();
    return connection;
  } catch (const StorageUnavailable& error) {
    {
      std::lock_guard lock(mutex_);
      --open_;
    }
    released_.notify_one();
    MarkUnavailable(error.what());
    throw;
  }
}

void Client::Release(std::unique_ptr<Connection> connection) {
  if (connection->broken()) {
    {
      std::lock_guard lock(mutex_);
      --open_;
    }
    ReportFailure(connection->error());
    return;
  }
  {
    std::lock_guard lock(mutex_);
    idle_.push_back(std::move(connection));
  }
  released_.notify_one();
}

void Client::ReportFailure(std::string_view error) {
  std::deque<std::unique_ptr<Connection>> dropped;
  {
    std::lock_guard lock(mutex_);
    dropped.swap(idle_);
    open_ -= dropped.size();
  }
  released_.notify_all();
  MarkUnavailable(error);
}

void Client::MarkAvailable() {
  bool changed = false;
  {
    std::lock_guard lock(mutex_);
    changed = !available_;
    available_ = true;
    backoff_ = std::chrono::milliseconds(0);
  }
  if (changed)
    log::Info("redis", "redis is available again", {{"pool", name_}, {"server", Describe()}});
}

void Client::MarkUnavailable(std::string_view error) {
  bool changed = false;
  {
    std::lock_guard lock(mutex_);
    changed = available_;
    available_ = false;
    backoff_ =
        backoff_.count() == 0 ? options_.backoff_min : std::min(backoff_ * 2, options_.backoff_max);
    next_connect_ = std::chrono::steady_clock::now() + Jittered(backoff_);
    last_error_ = std::string(error);
  }
  if (changed) {
    log::Error("redis", "redis is unavailable; reconnecting with back-off",
               {{"pool", name_}, {"server", Describe()}, {"error", error}});
  }
}

}  // namespace prism::redis
