// Behaviour of the in-process cache and live updates beyond the shared storage contract:
// expiry and eviction driven by a manual clock, and re-entrant unsubscription.
#include <chrono>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "inprocess/live_updates.h"
#include "inprocess/memory_cache.h"

namespace prism::inprocess {
namespace {

using namespace std::chrono_literals;
using TimePoint = std::chrono::steady_clock::time_point;

// A cache with one shard, so its bounds apply exactly, and a clock the test moves by hand.
struct ManualCache {
  explicit ManualCache(size_t max_entries = 100, size_t max_bytes = size_t{1} << 20) {
    MemoryCache::Options options;
    options.max_entries = max_entries;
    options.max_bytes = max_bytes;
    options.shards = 1;
    options.clock = [this] { return now; };
    cache = std::make_unique<MemoryCache>(options);
  }

  TimePoint now{};
  std::unique_ptr<MemoryCache> cache;
};

TEST(MemoryCache, EntryExpiresAfterTtl) {
  ManualCache manual;
  manual.cache->Put("alice:ts", "page", 10s);

  manual.now += 9s;
  std::optional<std::string> before = manual.cache->Get("alice:ts");
  manual.now += 1s;
  std::optional<std::string> at_expiry = manual.cache->Get("alice:ts");

  EXPECT_EQ(before, "page");
  EXPECT_FALSE(at_expiry.has_value());
  EXPECT_EQ(manual.cache->Size(), 0u);
}

TEST(MemoryCache, NonPositiveTtlErases) {
  ManualCache manual;
  manual.cache->Put("alice:ts", "page", 10s);

  manual.cache->Put("alice:ts", "other", 0s);

  EXPECT_FALSE(manual.cache->Get("alice:ts").has_value());
}

TEST(MemoryCache, EvictsLeastRecentlyUsedOverEntryLimit) {
  ManualCache manual(3);
  manual.cache->Put("a", "1", 60s);
  manual.cache->Put("b", "2", 60s);
  manual.cache->Put("c", "3", 60s);
  manual.cache->Get("a");  // "b" is now the least recently used

  manual.cache->Put("d", "4", 60s);

  EXPECT_EQ(manual.cache->Size(), 3u);
  EXPECT_TRUE(manual.cache->Get("a").has_value());
  EXPECT_FALSE(manual.cache->Get("b").has_value());
  EXPECT_TRUE(manual.cache->Get("c").has_value());
  EXPECT_TRUE(manual.cache->Get("d").has_value());
}

TEST(MemoryCache, EvictsOverByteLimit) {
  const size_t entry = 1 + 1000 + MemoryCache::kEntryOverhead;  // key "a".."c", 1000-byte value
  ManualCache manual(100, 2 * entry + 10);
  manual.cache->Put("a", std::string(1000, 'x'), 60s);
  manual.cache->Put("b", std::string(1000, 'x'), 60s);

  manual.cache->Put("c", std::string(1000, 'x'), 60s);
  manual.cache->Put("huge", std::string(10'000, 'x'), 60s);

  EXPECT_FALSE(manual.cache->Get("a").has_value());
  EXPECT_TRUE(manual.cache->Get("b").has_value());
  EXPECT_TRUE(manual.cache->Get("c").has_value());
  EXPECT_FALSE(manual.cache->Get("huge").has_value());
  EXPECT_LE(manual.cache->Bytes(), 2 * entry + 10);
}

TEST(MemoryCache, PutIfNewerReplacesExpiredEntry) {
  ManualCache manual;
  ASSERT_EQ(manual.cache->PutIfNewer("alice:us", "at 9", 9, 10s), storage::CacheWrite::kStored);

  manual.now += 11s;
  storage::CacheWrite stored = manual.cache->PutIfNewer("alice:us", "at 4", 4, 10s);

  EXPECT_EQ(stored, storage::CacheWrite::kStored);
  EXPECT_EQ(manual.cache->Get("alice:us"), "at 4");
}

TEST(MemoryCache, PutIfNewerReplacesPlainPut) {
  ManualCache manual;
  manual.cache->Put("alice:us", "unstamped", 10s);

  EXPECT_EQ(manual.cache->PutIfNewer("alice:us", "at 1", 1, 10s), storage::CacheWrite::kStored);
  EXPECT_EQ(manual.cache->Get("alice:us"), "at 1");
}

TEST(InProcessLiveUpdates, HandlerMayUnsubscribeItself) {
  InProcessLiveUpdates live;
  int calls = 0;
  std::unique_ptr<storage::LiveUpdates::Subscription> subscription;
  subscription = live.Subscribe([&](const storage::LiveUpdate&) {
    ++calls;
    subscription.reset();
  });

  live.Publish({{"alice", 1, "{}"}, {"alice", 2, "{}"}});
  live.Publish({{"alice", 3, "{}"}});

  EXPECT_EQ(calls, 1);
  EXPECT_EQ(live.SubscriberCount(), 0u);
}

TEST(InProcessLiveUpdates, ThrowingHandlerDoesNotStopOthers) {
  InProcessLiveUpdates live;
  int calls = 0;
  auto throwing = live.Subscribe([](const storage::LiveUpdate&) { throw std::runtime_error("x"); });
  auto counting = live.Subscribe([&](const storage::LiveUpdate&) { ++calls; });

  live.Publish({{"alice", 1, "{}"}});

  EXPECT_EQ(calls, 1);
}

TEST(InProcessLiveUpdates, SubscriptionMayOutliveFanOut) {
  auto live = std::make_unique<InProcessLiveUpdates>();
  auto subscription = live->Subscribe([](const storage::LiveUpdate&) {});

  live.reset();
  subscription.reset();  // must not touch the destroyed object

  SUCCEED();
}

}  // namespace
}  // namespace prism::inprocess
