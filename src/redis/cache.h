// storage::Cache on Redis: one hash per key, with the value and the stamp of PutIfNewer.
#pragma once

#include <atomic>
#include <chrono>
#include <string>

#include "common/log.h"
#include "redis/connection.h"
#include "storage/interfaces.h"

namespace prism::redis {

// Each entry is a hash at <key_prefix><key> with field "v" (the value) and, when stored by
// PutIfNewer, "s" (the stamp); the key expires after the TTL. A Lua script compares and replaces,
// so PutIfNewer is atomic across processes.
//
// The cache is an optimisation, so a slow or absent Redis never fails a read: Get counts a
// failure or a timeout (client.command_timeout, short by default) as a miss, and Put and
// PutIfNewer drop the value. The change to failing and back is logged, once each way. Erase throws
// StorageUnavailable, because a caller that invalidates must know when that failed. Thread-safe.
class RedisCache final : public storage::Cache {
 public:
  struct Options {
    std::string key_prefix;
    Client::Options client = DefaultClient();
  };
  static Client::Options DefaultClient();  // 8 connections, 250 ms command timeout

  RedisCache(Endpoint endpoint, Options options);

  std::optional<std::string> Get(const std::string& key) override;
  // A `ttl` of zero or less erases the key. A plain Put has no stamp, so any PutIfNewer
  // replaces it.
  void Put(const std::string& key, std::string value, std::chrono::seconds ttl) override;
  // An entry with an equal or higher stamp is kept; an expired entry counts as absent.
  storage::CacheWrite PutIfNewer(const std::string& key, std::string value, int64_t stamp,
                                 std::chrono::seconds ttl) override;
  void Erase(const std::string& key) override;
  // The floor is one key, <key_prefix>cache-floor, which Get reads in the same script as the
  // entry, so one round trip still serves a hit.
  bool InvalidateBefore(int64_t stamp) override;

 private:
  // Log the change between reachable and unreachable, once each way.
  void LogFailure(std::string_view operation, const std::exception& error);
  void NoteSuccess();

  const std::string prefix_;
  Client client_;
  std::atomic<bool> failing_{false};
};

}  // namespace prism::redis
