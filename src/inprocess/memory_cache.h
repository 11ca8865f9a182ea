// An in-memory storage::Cache for one process.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "storage/interfaces.h"

namespace prism::inprocess {

// A cache with a time to live per entry and bounds on entry count and bytes. Keys are spread
// over shards by hash, each with its own mutex, so concurrent readers of different keys rarely
// wait for each other. When a shard is over its share of either bound, its least recently used
// entries are evicted. Expired entries are dropped when read or evicted.
//
// Thread-safe.
class MemoryCache final : public storage::Cache {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  struct Options {
    size_t max_entries = 200'000;
    size_t max_bytes = size_t{128} << 20;  // keys and values, plus kEntryOverhead per entry
    size_t shards = 16;
    Clock clock;  // empty: std::chrono::steady_clock::now; tests pass a manual clock
  };

  // Bytes counted for each entry on top of its key and value, for the map and list nodes.
  static constexpr size_t kEntryOverhead = 96;

  MemoryCache();
  explicit MemoryCache(Options options);

  std::optional<std::string> Get(const std::string& key) override;
  // Stores the value unconditionally, with the lowest stamp, so any PutIfNewer replaces it. A
  // `ttl` of zero or less erases the key. A value larger than one shard's byte share is not stored
  // (and any older value of the key is erased).
  void Put(const std::string& key, std::string value, std::chrono::seconds ttl) override;
  // An expired entry counts as absent; an entry with an equal stamp is kept. Otherwise as Put.
  storage::CacheWrite PutIfNewer(const std::string& key, std::string value, int64_t stamp,
                                 std::chrono::seconds ttl) override;
  void Erase(const std::string& key) override;
  // Entries below the floor stay stored until evicted or replaced, but Get misses them.
  bool InvalidateBefore(int64_t stamp) override;

  // Entries stored, expired ones included until they are dropped.
  size_t Size();
  size_t Bytes();

 private:
  struct Entry {
    std::string key;
    std::string value;
    std::chrono::steady_clock::time_point expires_at;
    int64_t stamp;
  };
  // Entries in least-recently-used order (front is the most recent). The index points into the
  // list, whose nodes never move, and its keys view the entries' own key strings.
  struct Shard {
    std::mutex mutex;  // guards lru, index and bytes
    std::list<Entry> lru;
    std::unordered_map<std::string_view, std::list<Entry>::iterator> index;
    size_t bytes = 0;
  };

  Shard& ShardFor(const std::string& key);
  // Replaces the key's entry; returns whether the value was stored. The caller holds shard.mutex.
  bool Store(Shard& shard, const std::string& key, std::string value, int64_t stamp,
             std::chrono::seconds ttl);
  static size_t Cost(const Entry& entry);
  static void Remove(Shard& shard, std::list<Entry>::iterator it);
  void EvictOverflow(Shard& shard);

  std::chrono::steady_clock::time_point Now() const;

  Clock clock_;
  std::atomic<int64_t> floor_{std::numeric_limits<int64_t>::min()};
  size_t max_entries_per_shard_;
  size_t max_bytes_per_shard_;
  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace prism::inprocess
