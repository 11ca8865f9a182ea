// storage::Cache on Redis: one hash per key, with the value and the stamp of PutIfNewer.
#pragma once

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
// PutIfNewer drop the value. Those failures are logged at most once per 10 s. Erase throws
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
  bool PutIfNewer(const std::string& key, std::string value, int64_t stamp,
                  std::chrono::seconds ttl) override;
  void Erase(const std::string& key) override;

 private:
  void LogFailure(std::string_view operation, const std::exception& error);

  const std::string prefix_;
  Client client_;
  log::RateLimiter failure_log_{std::chrono::seconds(10)};
};

}  // namespace prism::redis
