// A cache that stores nothing, for a process whose cache no projector refreshes.
#pragma once

#include "storage/interfaces.h"

namespace prism::inprocess {

// Every Get misses and every Put is dropped, so reads always go to the read models.
class NullCache : public storage::Cache {
 public:
  std::optional<std::string> Get(const std::string&) override { return std::nullopt; }
  void Put(const std::string&, std::string, std::chrono::seconds) override {}
  storage::CacheWrite PutIfNewer(const std::string&, std::string, int64_t,
                                 std::chrono::seconds) override {
    return storage::CacheWrite::kKept;
  }
  void Erase(const std::string&) override {}
  bool InvalidateBefore(int64_t) override { return true; }
};

}  // namespace prism::inprocess
