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

// KEYS[1] entry, KEYS[2] floor. Returns the value, or nil when absent or below the floor.
const Script kGetScript(R"lua(
local entry = redis.call('HMGET', KEYS[1], 'v', 's')
if not entry[1] then return false end
local floor = redis.call('GET', KEYS[2])
if floor and (not entry[2] or tonumber(entry[2]) < tonumber(floor)) then return false end
return entry[1]
)lua");

// KEYS[1] floor. ARGV: stamp. Raises the floor to the stamp, never lowers it.
const Script kRaiseFloorScript(R"lua(
local floor = redis.call('GET', KEYS[1])
if floor and tonumber(floor) >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1
)lua");

// The floor's key. Entry keys end in ":ts" or ":us", so it cannot be one of them.
constexpr std::string_view kFloorKey = "cache-floor";

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
            client.scripts = {&kPutIfNewerScript, &kPutScript, &kGetScript, &kRaiseFloorScript};
            return client;
          }(),
          std::string(kComponent)) {}

std::optional<std::string> RedisCache::Get(const std::string& key) {
  try {
    Reply reply = client_.With([&](Connection& connection) {
      return connection.Eval(kGetScript, {prefix_ + key, prefix_ + std::string(kFloorKey)}, {});
    });
    ExpectOk(reply.get(), "get");
    NoteSuccess();
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
    NoteSuccess();
  } catch (const StorageUnavailable& error) {
    LogFailure("put", error);
  }
}

storage::CacheWrite RedisCache::PutIfNewer(const std::string& key, std::string value, int64_t stamp,
                                           std::chrono::seconds ttl) {
  try {
    // With caching switched off (a TTL of zero) nothing is ever stored, so nothing is left.
    if (ttl.count() <= 0) return storage::CacheWrite::kKept;
    Reply reply = client_.With([&](Connection& connection) {
      return connection.Eval(kPutIfNewerScript, {prefix_ + key},
                             {value, std::to_string(stamp), std::to_string(ttl.count())});
    });
    ExpectOk(reply.get(), "put-if-newer");
    NoteSuccess();
    return ReplyInteger(reply.get()) == 1 ? storage::CacheWrite::kStored
                                          : storage::CacheWrite::kKept;
  } catch (const StorageUnavailable& error) {
    LogFailure("put-if-newer", error);
    return storage::CacheWrite::kFailed;
  }
}

void RedisCache::Erase(const std::string& key) {
  Reply reply = client_.With([&](Connection& connection) {
    return connection.Run({"DEL", prefix_ + key});
  });
  ExpectOk(reply.get(), "DEL");
}

bool RedisCache::InvalidateBefore(int64_t stamp) {
  try {
    Reply reply = client_.With([&](Connection& connection) {
      return connection.Eval(kRaiseFloorScript, {prefix_ + std::string(kFloorKey)},
                             {std::to_string(stamp)});
    });
    ExpectOk(reply.get(), "raise-floor");
    NoteSuccess();
    return true;
  } catch (const StorageUnavailable& error) {
    LogFailure("raise-floor", error);
    return false;
  }
}

void RedisCache::LogFailure(std::string_view operation, const std::exception& error) {
  if (failing_.exchange(true)) return;
  log::Warn(kComponent, "cache unavailable; reads go to the read models until it is back",
            {{"operation", operation}, {"error", error.what()}});
}

void RedisCache::NoteSuccess() {
  if (!failing_.load(std::memory_order_relaxed)) return;
  if (failing_.exchange(false)) log::Info(kComponent, "cache reachable again");
}

}  // namespace prism::redis
