// Behaviour of the Redis backend beyond the shared storage contract: several processes (here,
// several objects with their own connections) on one server, and Redis restarts and outages.
// Runs against the fixture's server, with a fresh key prefix per test; the restart and outage
// tests start servers of their own with tests/servers/redis.sh.
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <latch>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "common/config.h"
#include "contract/redis_backend.h"
#include "redis/cache.h"
#include "redis/command_queue.h"
#include "redis/connection.h"
#include "redis/event_queue.h"
#include "redis/live_updates.h"
#include "sqlite/embedded_storage.h"

namespace prism::redis {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

storage::NewCommand Command(const std::string& user_id, const std::string& key) {
  return storage::NewCommand{user_id, key, 1'700'000'000'000, R"({"entityType":"task"})"};
}

std::optional<std::string> EnqueueAndWait(storage::CommandQueue& queue,
                                          std::vector<storage::NewCommand> batch) {
  auto promise = std::make_shared<std::promise<std::optional<std::string>>>();
  auto future = promise->get_future();
  queue.Enqueue(std::move(batch),
                [promise](std::optional<std::string> failure) { promise->set_value(failure); });
  if (future.wait_for(10s) != std::future_status::ready) return "timed out";
  return future.get();
}

// A key prefix on the fixture's server, deleted at the end of the test.
class RedisTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = contract::TestRedisUrl();
    prefix_ = contract::RandomKeyPrefix();
  }
  void TearDown() override { contract::DeleteKeys(url_, prefix_); }

  std::unique_ptr<RedisCommandQueue> MakeQueue() {
    RedisCommandQueue::Options options;
    options.key_prefix = prefix_;
    return std::make_unique<RedisCommandQueue>(ParseConnectionString(url_), options);
  }

  std::string url_;
  std::string prefix_;
};

// A redis-server of the test's own, started and stopped with tests/servers/redis.sh.
class OwnServer {
 public:
  OwnServer() {
    const char* base = getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/prism-redis-XXXXXX";
    EXPECT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    Start();
  }
  ~OwnServer() {
    Stop();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  void Start() { Run("start"); }
  void Stop() { Run("stop"); }
  std::string Url() {
    std::ifstream file(dir_ + "/redis.url");
    std::string url;
    file >> url;
    return url;
  }

 private:
  void Run(const std::string& action) {
    std::string command = std::string(PRISM_TESTS_DIR) + "/servers/redis.sh " + action + " " + dir_;
    ASSERT_EQ(system(command.c_str()), 0) << command;
  }
  std::string dir_;
};

// ---------------------------------------------------------------------------------------------
// Connection strings

TEST(RedisConnectionString, ParsesUrlForm) {
  Endpoint endpoint = ParseConnectionString("redis://:s3cret@cache.internal:6380/2");

  EXPECT_EQ(endpoint.host, "cache.internal");
  EXPECT_EQ(endpoint.port, 6380);
  EXPECT_EQ(endpoint.password, "s3cret");
  EXPECT_EQ(endpoint.db, 2);
  EXPECT_EQ(ParseConnectionString("redis://127.0.0.1:7000").port, 7000);
}

TEST(RedisConnectionString, ParsesOptionForm) {
  Endpoint endpoint = ParseConnectionString("cache:6390,password=p4ss,ssl=false");

  EXPECT_EQ(endpoint.host, "cache");
  EXPECT_EQ(endpoint.port, 6390);
  EXPECT_EQ(endpoint.password, "p4ss");
}

TEST(RedisConnectionString, RejectsInvalidValuesWithoutPassword) {
  for (const char* text :
       {"", "redis://host:notaport", "redis://:pw@host:1/x", "host:70000", "http://host:1",
        "host:1,password=pw,colour=red", "host:1,password=pw,ssl=true", "rediss://:pw@host:1"}) {
    try {
      ParseConnectionString(text);
      ADD_FAILURE() << "accepted " << text;
    } catch (const std::invalid_argument& error) {
      std::string message = error.what();
      EXPECT_NE(message.find("REDIS_CONNECTION_STRING"), std::string::npos) << message;
      EXPECT_EQ(message.find("pw"), std::string::npos) << "password leaked: " << message;
    }
  }
}

TEST(RedisConnection, AuthenticatesAndSelectsDatabase) {
  OwnServer server;
  const std::string address = server.Url().substr(std::string("redis://").size());
  {
    Connection admin(ParseConnectionString(server.Url()), 2s, 2s);
    ExpectOk(admin.Run({"CONFIG", "SET", "requirepass", "s3cret"}).get(), "CONFIG SET");
  }

  Connection connection(ParseConnectionString("redis://:s3cret@" + address + "/3"), 2s, 2s);
  Reply info = connection.Run({"CLIENT", "INFO"});

  EXPECT_NE(ReplyText(info.get()).find(" db=3 "), std::string::npos) << ReplyText(info.get());
  EXPECT_THROW(Connection(ParseConnectionString("redis://:wrong@" + address), 2s, 2s),
               storage::StorageUnavailable);
  Connection anonymous(ParseConnectionString(server.Url()), 2s, 2s);
  EXPECT_TRUE(IsError(anonymous.Run({"PING"}).get(), "NOAUTH"));
}

// ---------------------------------------------------------------------------------------------
// Command queue across processes

TEST_F(RedisTest, DeadConsumersLeaseIsClaimedByAnother) {
  auto dying = MakeQueue();
  auto survivor = MakeQueue();
  ASSERT_EQ(EnqueueAndWait(*dying, {Command("alice", "a1"), Command("alice", "a2")}), std::nullopt);
  std::vector<storage::QueuedCommand> leased = dying->Lease("dying", 10, 300ms, 0ms);
  ASSERT_EQ(leased.size(), 2u);
  dying.reset();  // dies without acknowledging

  const auto started = Clock::now();
  std::vector<storage::QueuedCommand> early = survivor->Lease("survivor", 10, 60s, 0ms);
  std::vector<storage::QueuedCommand> claimed = survivor->Lease("survivor", 10, 60s, 5s);

  EXPECT_TRUE(early.empty());
  ASSERT_EQ(claimed.size(), 2u);
  EXPECT_EQ(claimed[0].message_id, leased[0].message_id);
  EXPECT_EQ(claimed[0].attempts, 2);
  EXPECT_EQ(claimed[1].user_seq, 2);
  EXPECT_LT(Clock::now() - started, 2s);
}

TEST_F(RedisTest, LostCounterRestartsAtUserCursor) {
  RedisCommandQueue::Options options;
  options.key_prefix = prefix_;
  options.user_cursor = [](std::string_view user_id) { return user_id == "alice" ? 41 : 0; };
  RedisCommandQueue queue(ParseConnectionString(url_), options);
  ASSERT_EQ(EnqueueAndWait(queue, {Command("alice", "a1")}), std::nullopt);
  ASSERT_EQ(EnqueueAndWait(queue, {Command("bob", "b1"), Command("alice", "a2")}), std::nullopt);

  // Redis loses the counters, as after a restart without its data.
  Connection admin(ParseConnectionString(url_), 2s, 2s);
  admin.Run({"DEL", prefix_ + "command-queue:seq:alice", prefix_ + "command-queue:seq:bob"});
  ASSERT_EQ(EnqueueAndWait(queue, {Command("alice", "a3"), Command("bob", "b2")}), std::nullopt);

  std::vector<storage::QueuedCommand> leased = queue.Lease("worker", 10, 60s, 0ms);
  ASSERT_EQ(leased.size(), 5u);
  std::vector<std::pair<std::string, int64_t>> sequences;
  for (const storage::QueuedCommand& command : leased) {
    sequences.emplace_back(command.idempotency_key, command.user_seq);
  }
  std::vector<std::pair<std::string, int64_t>> expected = {
      {"a1", 42}, {"b1", 1}, {"a2", 43}, {"a3", 42}, {"b2", 1}};
  EXPECT_EQ(sequences, expected);
}

TEST_F(RedisTest, TwoReplicasEnqueueGapFreeSequences) {
  auto first = MakeQueue();
  auto second = MakeQueue();
  constexpr int kPerReplica = 2000;
  std::atomic<int> done{0};
  std::atomic<int> failures{0};
  std::latch start(2);
  auto enqueue_all = [&](RedisCommandQueue& queue, const std::string& name) {
    start.arrive_and_wait();
    for (int i = 0; i < kPerReplica; ++i) {
      queue.Enqueue({Command("alice", name + std::to_string(i))},
                    [&](std::optional<std::string> failure) {
                      failures += failure.has_value();
                      ++done;
                    });
    }
  };
  const auto started = Clock::now();
  std::thread a([&] { enqueue_all(*first, "first-"); });
  std::thread b([&] { enqueue_all(*second, "second-"); });
  a.join();
  b.join();
  while (done < 2 * kPerReplica && Clock::now() - started < 30s) std::this_thread::sleep_for(1ms);
  const auto elapsed = Clock::now() - started;

  ASSERT_EQ(done, 2 * kPerReplica);
  EXPECT_EQ(failures, 0);
  std::map<int64_t, std::string> key_by_seq;
  for (;;) {
    std::vector<storage::QueuedCommand> leased = first->Lease("check", 1000, 60s, 0ms);
    if (leased.empty()) break;
    for (const auto& message : leased) key_by_seq[message.user_seq] = message.idempotency_key;
  }
  ASSERT_EQ(key_by_seq.size(), static_cast<size_t>(2 * kPerReplica));
  EXPECT_EQ(key_by_seq.begin()->first, 1);
  EXPECT_EQ(key_by_seq.rbegin()->first, 2 * kPerReplica);
  // Each replica's commands keep their order.
  std::map<std::string, int> last_by_replica;
  for (const auto& [seq, key] : key_by_seq) {
    std::string replica = key.substr(0, key.find('-'));
    int index = std::stoi(key.substr(key.find('-') + 1));
    if (last_by_replica.count(replica)) {
      EXPECT_LT(last_by_replica[replica], index) << key;
    }
    last_by_replica[replica] = index;
  }
  const double seconds = std::chrono::duration<double>(elapsed).count();
  RecordProperty("enqueues_per_second", static_cast<int>(2 * kPerReplica / seconds));
  printf("enqueue: %d single-command batches from two queues in %.3f s (%.0f/s)\n", 2 * kPerReplica,
         seconds, 2 * kPerReplica / seconds);
}

// ---------------------------------------------------------------------------------------------
// Cache

TEST_F(RedisTest, PutIfNewerRaceKeepsHighestStamp) {
  RedisCache::Options options;
  options.key_prefix = prefix_;
  std::vector<std::unique_ptr<RedisCache>> caches;
  for (int i = 0; i < 4; ++i) {
    caches.push_back(std::make_unique<RedisCache>(ParseConnectionString(url_), options));
  }
  constexpr int kPerThread = 200;
  std::latch start(4);
  std::vector<std::thread> writers;
  std::atomic<int> stored_at_max{0};
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < kPerThread; ++i) {
        int64_t stamp = i * 4 + t;  // every stamp once, interleaved across threads
        bool stored = caches[t]->PutIfNewer("alice:ts", "at " + std::to_string(stamp), stamp,
                                            60s) == storage::CacheWrite::kStored;
        if (stored && stamp == 4 * kPerThread - 1) ++stored_at_max;
      }
    });
  }
  for (std::thread& writer : writers) writer.join();

  EXPECT_EQ(caches[0]->Get("alice:ts"), "at " + std::to_string(4 * kPerThread - 1));
  EXPECT_EQ(stored_at_max, 1);
  EXPECT_EQ(caches[1]->PutIfNewer("alice:ts", "stale", 5, 60s), storage::CacheWrite::kKept);
}

// ---------------------------------------------------------------------------------------------
// Event queue relays

// A task-created event of alice, numbered `n` in its id, task id and idempotency key.
domain::Event CreatedEvent(int64_t n) {
  domain::Event event;
  event.id = "e" + std::to_string(n);
  event.entity_id = "t" + std::to_string(n);
  event.type = "task-created";
  event.version = 1;
  event.user_id = "alice";
  event.idempotency_key = "k" + std::to_string(n);
  return event;
}

TEST_F(RedisTest, RacingRelaysNeitherDuplicateNorReorder) {
  const char* base = getenv("TMPDIR");
  std::string pattern = std::string(base && *base ? base : "/tmp") + "/prism-relay-XXXXXX";
  ASSERT_NE(mkdtemp(pattern.data()), nullptr);
  Config config;
  config.data_dir = pattern;
  {
    sqlite::EmbeddedStorage store = sqlite::OpenEmbeddedStorage(config);
    OutboxRelay::Options options;
    options.key_prefix = prefix_;
    options.batch = 7;
    std::vector<std::unique_ptr<RedisEventQueue>> queues;
    for (int i = 0; i < 3; ++i) {
      queues.push_back(
          std::make_unique<RedisEventQueue>(ParseConnectionString(url_), store.events, options));
    }
    constexpr int kEvents = 300;
    std::atomic<bool> committing{true};
    std::vector<std::thread> relays;
    for (auto& queue : queues) {
      relays.emplace_back([&, relay = &queue->relay()] {
        while (committing) relay->RelayOnce();
        while (relay->RelayOnce() > 0) {
        }
      });
    }
    for (int i = 1; i <= kEvents; ++i) {
      domain::Event event = CreatedEvent(i);
      storage::CommitRequest request;
      request.user_id = "alice";
      request.user_seq = i;
      request.idempotency_key = event.idempotency_key;
      request.outcome = storage::CommandOutcome{storage::OutcomeStatus::kCompleted, "", 1};
      request.events.push_back(event);
      ASSERT_EQ(store.events->Commit(std::span(&request, 1)).at(0).status,
                storage::CommitStatus::kCommitted);
    }
    committing = false;
    for (std::thread& relay : relays) relay.join();

    std::vector<int64_t> positions;
    for (;;) {
      std::vector<domain::Event> events = queues[0]->Poll("checker", 100, 0ms);
      if (events.empty()) break;
      for (const domain::Event& event : events) positions.push_back(event.position);
      queues[0]->Ack("checker", events.back().position);
    }
    ASSERT_EQ(positions.size(), static_cast<size_t>(kEvents));
    for (int i = 0; i < kEvents; ++i) EXPECT_EQ(positions[i], i + 1);
  }
  std::error_code ignored;
  std::filesystem::remove_all(pattern, ignored);
}

// An event store whose positions skip numbers, as PostgreSQL's sequence leaves them when an
// appending transaction rolls back (a domain worker killed mid-commit, for one).
class PositionsWithHoles final : public storage::EventStore {
 public:
  explicit PositionsWithHoles(std::vector<int64_t> positions) {
    for (int64_t position : positions) {
      domain::Event event = CreatedEvent(position);
      event.position = position;
      events_.push_back(event);
    }
  }
  std::vector<storage::CommitResult> Commit(std::span<const storage::CommitRequest>) override {
    return {};
  }
  std::vector<domain::Event> ReadStream(domain::EntityType, std::string_view, int64_t) override {
    return {};
  }
  std::vector<domain::Event> ReadAll(int64_t after_position, size_t max) override {
    std::vector<domain::Event> out;
    for (const domain::Event& event : events_) {
      if (event.position > after_position && out.size() < max) out.push_back(event);
    }
    return out;
  }
  int64_t HeadPosition() override { return events_.empty() ? 0 : events_.back().position; }
  std::optional<storage::CommandOutcome> FindOutcome(std::string_view, std::string_view) override {
    return std::nullopt;
  }
  int64_t UserCursor(std::string_view) override { return 0; }
  int64_t ForgetOutcomes(int64_t, int64_t) override { return 0; }

 private:
  std::vector<domain::Event> events_;
};

TEST_F(RedisTest, RelayPassesHolesInPositions) {
  const std::vector<int64_t> positions = {1, 2, 5, 6, 7, 320, 321};
  OutboxRelay::Options options;
  options.key_prefix = prefix_;
  options.batch = 3;
  RedisEventQueue queue(ParseConnectionString(url_),
                        std::make_shared<PositionsWithHoles>(positions), options);
  while (queue.relay().RelayOnce() > 0) {
  }

  std::vector<int64_t> relayed;
  for (;;) {
    std::vector<domain::Event> events = queue.Poll("checker", 100, 0ms);
    if (events.empty()) break;
    for (const domain::Event& event : events) relayed.push_back(event.position);
    queue.Ack("checker", events.back().position);
  }
  EXPECT_EQ(relayed, positions);
}

// ---------------------------------------------------------------------------------------------
// Outages

TEST(RedisOutage, SubscriberSurvivesRestart) {
  OwnServer server;
  RedisLiveUpdates::Options options;
  options.client.backoff_max = 200ms;
  RedisLiveUpdates live(ParseConnectionString(server.Url()), options);
  std::mutex mutex;
  std::vector<int64_t> seen;  // guarded by mutex
  auto subscription = live.Subscribe([&](const storage::LiveUpdate& update) {
    std::lock_guard lock(mutex);
    seen.push_back(update.position);
  });
  auto wait_for = [&](size_t count) {
    for (auto until = Clock::now() + 5s; Clock::now() < until; std::this_thread::sleep_for(5ms)) {
      std::lock_guard lock(mutex);
      if (seen.size() >= count) return;
    }
  };
  ASSERT_TRUE(live.Subscribed());
  live.Publish({{"alice", 1, "{}"}});
  wait_for(1);

  server.Stop();
  for (auto until = Clock::now() + 5s; live.Subscribed() && Clock::now() < until;) {
    std::this_thread::sleep_for(5ms);
  }
  const bool subscribed_while_down = live.Subscribed();
  EXPECT_THROW(live.Publish({{"alice", 2, "{}"}}), storage::StorageUnavailable);
  server.Start();
  for (auto until = Clock::now() + 10s; !live.Subscribed() && Clock::now() < until;) {
    std::this_thread::sleep_for(5ms);
  }
  const bool resubscribed = live.Subscribed();
  // The publishing pool also reconnects after its back-off.
  for (auto until = Clock::now() + 5s; Clock::now() < until; std::this_thread::sleep_for(50ms)) {
    try {
      live.Publish({{"alice", 3, "{}"}});
      break;
    } catch (const storage::StorageUnavailable&) {
    }
  }
  wait_for(2);

  EXPECT_FALSE(subscribed_while_down);
  EXPECT_TRUE(resubscribed);
  std::lock_guard lock(mutex);
  EXPECT_EQ(seen, (std::vector<int64_t>{1, 3}));
}

TEST(RedisOutage, DownServerFailsPromptly) {
  std::string url;
  {
    OwnServer server;
    url = server.Url();
  }  // stopped: nothing listens on the port now
  RedisCommandQueue::Options queue_options;
  RedisCommandQueue queue(ParseConnectionString(url), queue_options);
  RedisCache cache(ParseConnectionString(url), RedisCache::Options{});

  auto started = Clock::now();
  EXPECT_THROW(queue.Lease("w1", 10, 60s, 5s), storage::StorageUnavailable);
  EXPECT_THROW(queue.Depth(), storage::StorageUnavailable);
  std::optional<std::string> failure = EnqueueAndWait(queue, {Command("alice", "a1")});
  EXPECT_FALSE(cache.Get("alice:ts").has_value());
  EXPECT_EQ(cache.PutIfNewer("alice:ts", "page", 1, 60s), storage::CacheWrite::kFailed);
  EXPECT_FALSE(cache.InvalidateBefore(1));
  auto elapsed = Clock::now() - started;

  ASSERT_TRUE(failure.has_value());
  EXPECT_NE(failure->find("command queue unavailable"), std::string::npos) << *failure;
  EXPECT_LT(elapsed, 2s);
}

}  // namespace
}  // namespace prism::redis
