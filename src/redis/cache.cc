#include "redis/cache.h"

#include <utility>

namespace prism::redis {

namespace {

using storage::StorageUnavailable;

constexpr std::string_view kComponent = "cache";

// KEYS[1] entry. ARGV: value, stamp, ttl seconds. Returns 1 when stored.
// NOTE: Lua compares the stamps as doubles, so stamps above 2^53 may compare equal.
const Script kPutIfNewerScript(R"lua(
local stored = redis.call('HGET', KEYS[1], 's')
if stored and tonumber(stored) >= tonumber(ARGV[2]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'v', ARGV[1], 's', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
)lua");

// KEYS[1] entry. ARGV: value, ttl seconds.
const Script kPutScript(R"lua(
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'v', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
)lua");

}  // namespace

Client::Options RedisCache::DefaultClient() {
  Client::Options options;
  options.command_timeout = std::chrono::milliseconds(250);
  options.connect_timeout = std::chrono::milliseconds(250);
  options.pool_wait = std::chrono::milliseconds(100);
  return options;
}

RedisCache::RedisCache(Endpoint endpoint, Options options)
    : prefix_(std::move(options.key_prefix)),
      client_(
          std::move(endpoint),
          [&] {
            Client::Options client = options.client;
            client.scripts = {&kPutIfNewerScript, &kPutScript};
            return client;
          }(),
          std::string(kComponent)) {}

std::optional<std::string> RedisCache::Get(const std::string& key) {
  try {
    Reply reply = client_.With([&](Connection& connection) {
      return connection.Run({"HGET", prefix_ + key, "v"});
    });
    ExpectOk(reply.get(), "HGET");
    if (reply->type != REDIS_REPLY_STRING) return std::nullopt;
    return ReplyText(reply.get());
  } catch (const StorageUnavailable& error) {
    LogFailure("get", error);
    return std::nullopt;
  }
}

void RedisCache::Put(const std::string& key, std::string value, std::chrono::seconds ttl) {
  try {
    if (ttl.count() <= 0) {
      Erase(key);
      return;
    }
    Reply reply = client_.With([&](Connection& connection) {
      return connection.Eval(kPutScript, {prefix_ + key}, {value, std::to_string(ttl.count())});
    });
    ExpectOk(reply.get(), "put");
  } catch (const StorageUnavailable& error) {
    LogFailure("put", error);
  }
}

bool RedisCache::PutIfNewer(const std::string& key, std::string value, int64_t stamp,
                            std::chrono::seconds ttl) {
  try {
    if (ttl.count() <= 0) return false;
    Reply reply = client_.With([&](Connection& connection) {
      return connection.Eval(kPutIfNewerScript, {prefix_ + key},
                             {value, std::to_string(stamp), std::to_string(ttl.count())});
    });
    ExpectOk(reply.get(), "put-if-newer");
    return ReplyInteger(reply.get()) == 1;
  } catch (const StorageUnavailable& error) {
    LogFailure("put-if-newer", error);
    return false;
  }
}

void RedisCache::Erase(const std::string& key) {
  Reply reply = client_.With([&](Connection& connection) {
    return connection.Run({"DEL", prefix_ + key});
  });
  ExpectOk(reply.get(), "DEL");
}

void RedisCache::LogFailure(std::string_view operation, const std::exception& error) {
  long suppressed = failure_log_.Admit(operation);
  if (suppressed >= 0) {
    log::Warn(kComponent, "cache unavailable; treated as a miss",
              {{"operation", operation}, {"error", error.what()}, {"suppressed", suppressed}});
  }
}

}  // namespace prism::redis
