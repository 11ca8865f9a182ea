// The projector against real embedded storage: duplicated, reordered and gapped deliveries must
// leave the same read model as an in-order replay of the event store.
#include <algorithm>
#include <filesystem>
#include <map>
#include <random>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "domain/event.h"
#include "domain/ids.h"
#include "inprocess/memory_cache.h"
#include "sqlite/embedded_storage.h"
#include "workers/projector.h"

namespace prism {
namespace {

namespace fs = std::filesystem;

class ProjectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    live_dir_ = fs::temp_directory_path() / ("prism-projector-" + domain::NewUuidV7());
    replay_dir_ = fs::temp_directory_path() / ("prism-replay-" + domain::NewUuidV7());
    live_ = Open(live_dir_);
    replay_ = Open(replay_dir_);
  }

  void TearDown() override {
    live_ = {};
    replay_ = {};
    fs::remove_all(live_dir_);
    fs::remove_all(replay_dir_);
  }

  static sqlite::EmbeddedStorage Open(const fs::path& dir) {
    Config config;
    config.data_dir = dir.string();
    return sqlite::OpenEmbeddedStorage(config);
  }

  static domain::Event TaskEvent(const std::string& task, int64_t version, std::string type,
                                 boost::json::object data) {
    domain::Event event;
    event.id = domain::NewUuidV7();
    event.entity_id = task;
    event.entity_type = domain::EntityType::kTask;
    event.type = std::move(type);
    event.data = std::move(data);
    event.version = version;
    event.timestamp_ms = 1'700'000'000'000 + version;
    event.user_id = "projector-user";
    event.idempotency_key = "key-" + event.id;
    return event;
  }

  // Commits several task streams to the store and returns the events with their positions.
  std::vector<domain::Event> CommitHistory() {
    std::vector<domain::Event> all;
    int64_t seq = 0;
    for (int t = 0; t < 5; ++t) {
      std::string task = domain::NewUuidV7();
      std::vector<domain::Event> stream = {
          TaskEvent(task, 1, "task-created",
                    {{"title", "task " + std::to_string(t)},
                     {"notes", ""},
                     {"category", "normal"},
                     {"order", t}}),
          TaskEvent(task, 2, "task-updated", {{"title", "renamed " + std::to_string(t)}}),
          TaskEvent(task, 3, "task-completed", {}),
          TaskEvent(task, 4, "task-updated", {{"category", "fun"}, {"done", false}}),
          TaskEvent(task, 5, "task-updated", {{"order", 10 + t}}),
      };
      for (domain::Event& event : stream) all.push_back(Commit(event, ++seq));
    }
    return all;
  }

  // Commits one event as the user's command number `seq`; returns it with its position.
  domain::Event Commit(const domain::Event& event, int64_t seq) {
    storage::CommitRequest request;
    request.user_id = "projector-user";
    request.user_seq = seq;
    request.idempotency_key = event.idempotency_key;
    request.outcome = storage::CommandOutcome{storage::OutcomeStatus::kCompleted, "", 1};
    request.events = {event};
    auto results = live_.events->Commit(std::vector<storage::CommitRequest>{request});
    EXPECT_EQ(results.at(0).status, storage::CommitStatus::kCommitted);
    return results.at(0).events.at(0);
  }

  workers::Projector MakeProjector(sqlite::EmbeddedStorage& storage) {
    workers::ProjectorOptions options;
    options.publish_live_updates = false;
    options.refresh_cache = false;
    return workers::Projector(storage.event_queue, live_.events, storage.read_models, nullptr,
                              nullptr, options);
  }

  fs::path live_dir_;
  fs::path replay_dir_;
  sqlite::EmbeddedStorage live_;
  sqlite::EmbeddedStorage replay_;
};

void ExpectSameTasks(storage::ReadModels& actual, storage::ReadModels& expected) {
  auto got = actual.AllTasks("projector-user");
  auto want = expected.AllTasks("projector-user");
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].id, want[i].id);
    EXPECT_EQ(got[i].title, want[i].title);
    EXPECT_EQ(got[i].category, want[i].category);
    EXPECT_EQ(got[i].order, want[i].order);
    EXPECT_EQ(got[i].done, want[i].done);
    EXPECT_EQ(got[i].version, want[i].version);
    EXPECT_EQ(got[i].created_position, want[i].created_position);
  }
}

TEST_F(ProjectorTest, ShuffledDuplicatedDeliveryEqualsReplay) {
  std::vector<domain::Event> history = CommitHistory();

  // The reference: every event once, in position order, into a fresh read model.
  workers::Projector reference = MakeProjector(replay_);
  reference.Apply(history);

  std::mt19937 random(12345);
  for (int round = 0; round < 20; ++round) {
    live_.read_models->Reset();
    workers::Projector projector = MakeProjector(live_);
    // Every event at least once, some twice, in random order and random batch sizes: a later
    // version arriving first is a gap that the projector fills from the store.
    std::vector<domain::Event> delivery = history;
    for (const domain::Event& event : history) {
      if (random() % 3 == 0) delivery.push_back(event);
    }
    std::shuffle(delivery.begin(), delivery.end(), random);
    for (size_t at = 0; at < delivery.size();) {
      size_t size = 1 + random() % 7;
      std::vector<domain::Event> batch(delivery.begin() + at,
                                       delivery.begin() + std::min(delivery.size(), at + size));
      projector.Apply(batch);
      at += batch.size();
    }
    ExpectSameTasks(*live_.read_models, *replay_.read_models);
  }
}

TEST_F(ProjectorTest, ReplayTwiceGivesSameModel) {
  std::vector<domain::Event> history = CommitHistory();
  workers::Projector projector = MakeProjector(replay_);
  projector.Apply(history);
  auto first = replay_.read_models->AllTasks("projector-user");
  replay_.read_models->Reset();
  projector.Apply(history);
  projector.Apply(history);  // a duplicate delivery of everything changes nothing
  auto second = replay_.read_models->AllTasks("projector-user");
  ASSERT_EQ(first.size(), 5u);
  ASSERT_EQ(first.size(), second.size());
  for (size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(first[i].title, second[i].title);
    EXPECT_EQ(first[i].version, second[i].version);
    EXPECT_EQ(first[i].order, second[i].order);
  }
  EXPECT_EQ(first[0].title, "renamed 0");
  EXPECT_EQ(first[0].category, "fun");
  EXPECT_FALSE(first[0].done);
  EXPECT_EQ(first[0].order, 10);
}

// A cache that can be made unreachable, as a Redis outage makes it for the projector, and that
// counts the conditional writes that reached it per key.
class FlakyCache final : public storage::Cache {
 public:
  bool down = false;
  std::map<std::string, int> stored_writes;

  std::optional<std::string> Get(const std::string& key) override {
    return down ? std::nullopt : memory_.Get(key);
  }
  void Put(const std::string& key, std::string value, std::chrono::seconds ttl) override {
    if (!down) memory_.Put(key, std::move(value), ttl);
  }
  storage::CacheWrite PutIfNewer(const std::string& key, std::string value, int64_t stamp,
                                 std::chrono::seconds ttl) override {
    if (down) return storage::CacheWrite::kFailed;
    ++stored_writes[key];
    return memory_.PutIfNewer(key, std::move(value), stamp, ttl);
  }
  void Erase(const std::string& key) override {
    if (down) throw storage::StorageUnavailable("cache is down");
    memory_.Erase(key);
  }
  bool InvalidateBefore(int64_t stamp) override { return !down && memory_.InvalidateBefore(stamp); }

 private:
  inprocess::MemoryCache memory_;
};

TEST_F(ProjectorTest, RefreshMissedDuringCacheOutageIsNeverServed) {
  auto cache = std::make_shared<FlakyCache>();
  auto queries = std::make_shared<query::ReadQueries>(
      live_.read_models, cache, query::PageTokenCodec(std::string(32, 'k')), query::ReadOptions{});
  workers::ProjectorOptions options;
  options.publish_live_updates = false;
  workers::Projector projector(live_.event_queue, live_.events, live_.read_models, queries, nullptr,
                               options);
  auto page = [&] { return queries->TasksPage("projector-user", std::nullopt, 10); };
  auto drain = [&] {
    while (projector.RunOnce(std::chrono::milliseconds(0)) > 0) {
    }
  };

  std::string task = domain::NewUuidV7();
  Commit(TaskEvent(task, 1, "task-created",
                   {{"title", "first"}, {"notes", ""}, {"category", "normal"}, {"order", 0}}),
         1);
  drain();
  ASSERT_NE(page().find("\"first\""), std::string::npos);  // now cached

  // The refresh of the rename cannot reach the cache, which keeps the old page.
  cache->down = true;
  Commit(TaskEvent(task, 2, "task-updated", {{"title", "renamed"}}), 2);
  drain();
  EXPECT_NE(page().find("\"renamed\""), std::string::npos);  // from the read models

  // Once the cache is back, the projector's next poll invalidates the old page.
  cache->down = false;
  drain();
  EXPECT_NE(page().find("\"renamed\""), std::string::npos) << page();
}

// The projector skips refreshing the cached pages when only tasks after them change. The cached
// pages must still equal what the read models serve, tokens included.
TEST_F(ProjectorTest, CachedPagesMatchDatabaseWhenRefreshIsSkipped) {
  const std::string user = "projector-user";
  auto cache = std::make_shared<FlakyCache>();
  query::PageTokenCodec codec(std::string(32, 'k'));
  query::ReadOptions read_options;
  read_options.page_size = 3;
  read_options.cached_pages = 2;
  auto queries =
      std::make_shared<query::ReadQueries>(live_.read_models, cache, codec, read_options);
  workers::ProjectorOptions options;
  options.publish_live_updates = false;
  workers::Projector projector(live_.event_queue, live_.events, live_.read_models, queries, nullptr,
                               options);
  auto drain = [&] {
    while (projector.RunOnce(std::chrono::milliseconds(0)) > 0) {
    }
  };
  auto expect_cache_matches_database = [&](const std::string& step) {
    query::ReadQueries uncached(live_.read_models, std::make_shared<inprocess::MemoryCache>(),
                                codec, read_options);
    std::optional<query::PageCursor> cursor;
    for (int page = 0; page < 3; ++page) {
      std::string expected = uncached.TasksPage(user, cursor, 3);
      EXPECT_EQ(queries->TasksPage(user, cursor, 3), expected) << step << ", page " << page;
      boost::json::object body = boost::json::parse(expected).as_object();
      if (!body.contains("nextPageToken")) break;
      cursor = uncached.DecodeToken(user, body["nextPageToken"].as_string());
      ASSERT_TRUE(cursor.has_value()) << step;
    }
  };
  auto create = [](const std::string& task, const std::string& title) {
    return TaskEvent(task, 1, "task-created",
                     {{"title", title}, {"notes", ""}, {"category", "normal"}, {"order", 0}});
  };

  // Eight tasks, with a position left free by an update after the first one.
  std::vector<std::string> tasks;
  for (int i = 0; i < 8; ++i) tasks.push_back(domain::NewUuidV7());
  int64_t seq = 0;
  Commit(create(tasks[0], "task 0"), ++seq);
  domain::Event hole = Commit(TaskEvent(tasks[0], 2, "task-updated", {{"order", 5}}), ++seq);
  for (int i = 1; i < 8; ++i) Commit(create(tasks[i], "task " + std::to_string(i)), ++seq);
  drain();
  expect_cache_matches_database("after the creates");
  const std::string key = query::TasksCacheKey(user);
  const int writes_after_creates = cache->stored_writes[key];

  // A change to the last task, past the two cached pages of three: no refresh is needed.
  Commit(TaskEvent(tasks[7], 2, "task-updated", {{"title", "renamed 7"}}), ++seq);
  drain();
  EXPECT_EQ(cache->stored_writes[key], writes_after_creates);
  expect_cache_matches_database("after a change past the cached pages");

  // A change on the second cached page is refreshed.
  Commit(TaskEvent(tasks[4], 2, "task-updated", {{"title", "renamed 4"}}), ++seq);
  drain();
  EXPECT_GT(cache->stored_writes[key], writes_after_creates);
  expect_cache_matches_database("after a change on a cached page");

  // A task that arrives late with a position before the cached boundary is refreshed too, also
  // in a batch whose other change is past the cached pages.
  domain::Event late = create(domain::NewUuidV7(), "late");
  late.position = hole.position;
  domain::Event tail = Commit(TaskEvent(tasks[7], 3, "task-updated", {{"order", 9}}), ++seq);
  projector.Apply({late, tail});
  expect_cache_matches_database("after a late task");
  EXPECT_NE(queries->TasksPage(user, std::nullopt, 3).find("\"late\""), std::string::npos);
}

}  // namespace
}  // namespace prism
