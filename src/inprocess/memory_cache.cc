#include "inprocess/memory_cache.h"

#include <algorithm>
#include <limits>
#include <utility>

namespace prism::inprocess {

MemoryCache::MemoryCache() : MemoryCache(Options{}) {}

MemoryCache::MemoryCache(Options options) : clock_(std::move(options.clock)) {
  const size_t shards = std::max<size_t>(options.shards, 1);
  max_entries_per_shard_ = std::max<size_t>(options.max_entries / shards, 1);
  max_bytes_per_shard_ = std::max<size_t>(options.max_bytes / shards, 1);
  for (size_t i = 0; i < shards; ++i) shards_.push_back(std::make_unique<Shard>());
}

std::optional<std::string> MemoryCache::Get(const std::string& key) {
  Shard& shard = ShardFor(key);
  std::lock_guard lock(shard.mutex);
  auto found = shard.index.find(key);
  if (found == shard.index.end()) return std::nullopt;
  auto it = found->second;
  if (it->expires_at <= Now()) {
    Remove(shard, it);
    return std::nullopt;
  }
  if (it->stamp < floor_.load()) return std::nullopt;
  shard.lru.splice(shard.lru.begin(), shard.lru, it);
  return it->value;
}

void MemoryCache::Put(const std::string& key, std::string value, std::chrono::seconds ttl) {
  Shard& shard = ShardFor(key);
  std::lock_guard lock(shard.mutex);
  Store(shard, key, std::move(value), std::numeric_limits<int64_t>::min(), ttl);
}

storage::CacheWrite MemoryCache::PutIfNewer(const std::string& key, std::string value,
                                            int64_t stamp, std::chrono::seconds ttl) {
  Shard& shard = ShardFor(key);
  std::lock_guard lock(shard.mutex);
  auto found = shard.index.find(key);
  if (found != shard.index.end()) {
    const Entry& existing = *found->second;
    if (existing.expires_at > Now() && existing.stamp >= stamp) return storage::CacheWrite::kKept;
  }
  // A value Store refuses leaves no entry behind, so nothing stale remains either way.
  bool stored = Store(shard, key, std::move(value), stamp, ttl);
  return stored ? storage::CacheWrite::kStored : storage::CacheWrite::kKept;
}

bool MemoryCache::InvalidateBefore(int64_t stamp) {
  int64_t current = floor_.load();
  while (current < stamp && !floor_.compare_exchange_weak(current, stamp)) {
  }
  return true;
}

bool MemoryCache::Store(Shard& shard, const std::string& key, std::string value, int64_t stamp,
                        std::chrono::seconds ttl) {
  auto found = shard.index.find(key);
  if (found != shard.index.end()) Remove(shard, found->second);
  if (ttl.count() <= 0) return false;

  Entry entry{key, std::move(value), Now() + ttl, stamp};
  if (Cost(entry) > max_bytes_per_shard_) return false;
  shard.bytes += Cost(entry);
  shard.lru.push_front(std::move(entry));
  shard.index.emplace(shard.lru.front().key, shard.lru.begin());
  EvictOverflow(shard);
  return true;
}

void MemoryCache::Erase(const std::string& key) {
  Shard& shard = ShardFor(key);
  std::lock_guard lock(shard.mutex);
  auto found = shard.index.find(key);
  if (found != shard.index.end()) Remove(shard, found->second);
}

size_t MemoryCache::Size() {
  size_t size = 0;
  for (auto& shard : shards_) {
    std::lock_guard lock(shard->mutex);
    size += shard->index.size();
  }
  return size;
}

size_t MemoryCache::Bytes() {
  size_t bytes = 0;
  for (auto& shard : shards_) {
    std::lock_guard lock(shard->mutex);
    bytes += shard->bytes;
  }
  return bytes;
}

MemoryCache::Shard& MemoryCache::ShardFor(const std::string& key) {
  return *shards_[std::hash<std::string>{}(key) % shards_.size()];
}

size_t MemoryCache::Cost(const Entry& entry) {
  return entry.key.size() + entry.value.size() + kEntryOverhead;
}

void MemoryCache::Remove(Shard& shard, std::list<Entry>::iterator it) {
  shard.bytes -= Cost(*it);
  shard.index.erase(it->key);
  shard.lru.erase(it);
}

// Drops least recently used entries until the shard is within both of its bounds.
void MemoryCache::EvictOverflow(Shard& shard) {
  while (!shard.lru.empty() &&
         (shard.index.size() > max_entries_per_shard_ || shard.bytes > max_bytes_per_shard_)) {
    Remove(shard, std::prev(shard.lru.end()));
  }
}

std::chrono::steady_clock::time_point MemoryCache::Now() const {
  return clock_ ? clock_() : std::chrono::steady_clock::now();
}

}  // namespace prism::inprocess
