// The domain worker against real embedded storage: what one round commits, and how many reads of
// the event store it makes to decide a batch.
#include <array>
#include <filesystem>
#include <future>

#include <gtest/gtest.h>

#include "domain/decide.h"
#include "domain/ids.h"
#include "sqlite/embedded_storage.h"
#include "workers/domain_worker.h"

namespace prism {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Forwards to a real event store and counts the calls of each read.
class CountingEventStore final : public storage::EventStore {
 public:
  explicit CountingEventStore(std::shared_ptr<storage::EventStore> store)
      : store_(std::move(store)) {}

  std::vector<storage::CommitResult> Commit(
      std::span<const storage::CommitRequest> requests) override {
    return store_->Commit(requests);
  }
  std::vector<domain::Event> ReadStream(domain::EntityType type, std::string_view id,
                                        int64_t after_version) override {
    ++read_stream;
    return store_->ReadStream(type, id, after_version);
  }
  std::vector<domain::Event> ReadAll(int64_t after_position, size_t max) override {
    return store_->ReadAll(after_position, max);
  }
  int64_t HeadPosition() override { return store_->HeadPosition(); }
  std::optional<storage::CommandOutcome> FindOutcome(std::string_view user_id,
                                                     std::string_view idempotency_key) override {
    ++find_outcome;
    return store_->FindOutcome(user_id, idempotency_key);
  }
  int64_t UserCursor(std::string_view user_id) override {
    ++user_cursor;
    return store_->UserCursor(user_id);
  }
  std::vector<std::optional<storage::CommandOutcome>> FindOutcomes(
      std::span<const storage::CommandKey> commands) override {
    ++find_outcomes;
    return store_->FindOutcomes(commands);
  }
  std::vector<int64_t> UserCursors(std::span<const std::string> user_ids) override {
    ++user_cursors;
    return store_->UserCursors(user_ids);
  }
  std::vector<std::vector<domain::Event>> ReadStreams(
      std::span<const domain::StreamKey> streams) override {
    ++read_streams;
    return store_->ReadStreams(streams);
  }
  int64_t ForgetOutcomes(int64_t cutoff_ms, int64_t batch) override {
    return store_->ForgetOutcomes(cutoff_ms, batch);
  }

  int read_stream = 0, find_outcome = 0, user_cursor = 0;
  int read_streams = 0, find_outcomes = 0, user_cursors = 0;

 private:
  std::shared_ptr<storage::EventStore> store_;
};

std::string CreateTask(const std::string& id, const std::string& title,
                       const std::string& category = "normal") {
  return R"({"entityType":"task","type":"create-task","data":{"id":")" + id + R"(","title":")" +
         title + R"(","category":")" + category + R"("}})";
}

std::string UpdateTask(const std::string& id, const std::string& title) {
  return R"({"entityType":"task","type":"update-task","data":{"id":")" + id + R"(","title":")" +
         title + R"("}})";
}

class DomainWorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("prism-domain-" + domain::NewUuidV7());
    Config config;
    config.data_dir = dir_.string();
    storage_ = sqlite::OpenEmbeddedStorage(config);
    store_ = std::make_shared<CountingEventStore>(storage_.events);
    workers::DomainWorkerOptions options;
    options.out_of_order_delay = 0ms;
    worker_ = std::make_unique<workers::DomainWorker>(
        storage_.commands, store_, storage_.event_queue, storage_.read_models, options);
  }

  void TearDown() override {
    worker_.reset();
    store_.reset();
    storage_ = {};
    fs::remove_all(dir_);
  }

  // Enqueues (user, key, body) commands as one batch and waits until they are durable.
  void Enqueue(const std::vector<std::array<std::string, 3>>& commands) {
    std::vector<storage::NewCommand> batch;
    for (const auto& [user, key, body] : commands) {
      batch.push_back(storage::NewCommand{user, key, 1'700'000'000'000, body});
    }
    std::promise<std::optional<std::string>> done;
    storage_.commands->Enqueue(std::move(batch), [&done](std::optional<std::string> failure) {
      done.set_value(std::move(failure));
    });
    std::future<std::optional<std::string>> future = done.get_future();
    ASSERT_EQ(future.wait_for(10s), std::future_status::ready);
    ASSERT_EQ(future.get(), std::nullopt);
  }

  std::vector<domain::Event> Task(const std::string& id) {
    return storage_.events->ReadStream(domain::EntityType::kTask, id, 0);
  }

  fs::path dir_;
  sqlite::EmbeddedStorage storage_;
  std::shared_ptr<CountingEventStore> store_;
  std::unique_ptr<workers::DomainWorker> worker_;
};

TEST_F(DomainWorkerTest, BatchReadsStateOnceEachKind) {
  const std::string t1 = domain::NewUuidV7(), t2 = domain::NewUuidV7();
  Enqueue({{"alice", "a1", CreateTask(t1, "first")},
           {"bob", "b1", CreateTask(t2, "second")},
           {"alice", "a2", UpdateTask(t1, "renamed")},
           {"carol", "c1",
            R"({"entityType":"user-settings","type":"update-user-settings",)"
            R"("data":{"tasksPerCategory":5}})"}});

  EXPECT_EQ(worker_->RunOnce(1s), 4u);

  EXPECT_EQ(store_->user_cursors, 1);
  EXPECT_EQ(store_->find_outcomes, 1);
  EXPECT_EQ(store_->read_streams, 1);
  EXPECT_EQ(store_->user_cursor, 0);
  EXPECT_EQ(store_->find_outcome, 0);
  EXPECT_EQ(store_->read_stream, 0);
  std::vector<domain::Event> first = Task(t1);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[1].data.at("title"), "renamed");
  EXPECT_EQ(Task(t2).size(), 1u);
  std::vector<domain::Event> settings =
      storage_.events->ReadStream(domain::EntityType::kUserSettings, "carol", 0);
  ASSERT_FALSE(settings.empty());
  EXPECT_EQ(settings.back().data.at("tasksPerCategory"), 5);
  EXPECT_EQ(storage_.events->UserCursor("alice"), 2);
  EXPECT_EQ(storage_.events->UserCursor("bob"), 1);
  EXPECT_EQ(storage_.events->UserCursor("carol"), 1);
  EXPECT_EQ(storage_.commands->Depth(), 0);
}

TEST_F(DomainWorkerTest, LaterBatchAppendsToStoredStream) {
  const std::string t1 = domain::NewUuidV7();
  Enqueue({{"alice", "a1", CreateTask(t1, "first")}});
  ASSERT_EQ(worker_->RunOnce(1s), 1u);
  Enqueue({{"alice", "a2", UpdateTask(t1, "renamed")},
           {"alice", "a3", UpdateTask(t1, "renamed again")}});

  EXPECT_EQ(worker_->RunOnce(1s), 2u);

  std::vector<domain::Event> stream = Task(t1);
  ASSERT_EQ(stream.size(), 3u);
  EXPECT_EQ(stream[2].version, 3);
  EXPECT_EQ(stream[2].data.at("title"), "renamed again");
  EXPECT_EQ(storage_.events->UserCursor("alice"), 3);
  EXPECT_EQ(storage_.commands->Depth(), 0);
}

TEST_F(DomainWorkerTest, RepeatedKeyOnlyAdvancesCursor) {
  const std::string t1 = domain::NewUuidV7(), t2 = domain::NewUuidV7();
  // The same key twice in one batch, then once more in a later batch.
  Enqueue({{"alice", "same", CreateTask(t1, "first")}, {"alice", "same", CreateTask(t2, "copy")}});
  ASSERT_EQ(worker_->RunOnce(1s), 2u);
  Enqueue({{"alice", "same", CreateTask(t2, "copy")}});

  EXPECT_EQ(worker_->RunOnce(1s), 1u);

  EXPECT_EQ(Task(t1).size(), 1u);
  EXPECT_TRUE(Task(t2).empty());
  EXPECT_EQ(storage_.events->UserCursor("alice"), 3);
  std::optional<storage::CommandOutcome> outcome = storage_.events->FindOutcome("alice", "same");
  ASSERT_TRUE(outcome.has_value());
  EXPECT_EQ(outcome->status, storage::OutcomeStatus::kCompleted);
  EXPECT_EQ(storage_.commands->Depth(), 0);
}

TEST_F(DomainWorkerTest, UnreadableCommandDoesNotBlockUser) {
  const std::string t1 = domain::NewUuidV7();
  Enqueue({{"alice", "bad", "not json"}, {"alice", "good", CreateTask(t1, "first")}});

  EXPECT_EQ(worker_->RunOnce(1s), 2u);

  std::optional<storage::CommandOutcome> rejected = storage_.events->FindOutcome("alice", "bad");
  ASSERT_TRUE(rejected.has_value());
  EXPECT_EQ(rejected->status, storage::OutcomeStatus::kRejected);
  EXPECT_EQ(rejected->reason.rfind("invalid command: ", 0), 0u) << rejected->reason;
  EXPECT_EQ(Task(t1).size(), 1u);
  EXPECT_EQ(storage_.events->UserCursor("alice"), 2);
  EXPECT_EQ(storage_.commands->Depth(), 0);
}

TEST_F(DomainWorkerTest, DefaultOrderCountsCreatesOfBatch) {
  const std::string t1 = domain::NewUuidV7(), t2 = domain::NewUuidV7(), t3 = domain::NewUuidV7();
  Enqueue({{"alice", "a1", CreateTask(t1, "one")},
           {"alice", "a2", CreateTask(t2, "two")},
           {"alice", "a3", CreateTask(t3, "other lane", "fun")}});

  EXPECT_EQ(worker_->RunOnce(1s), 3u);

  ASSERT_EQ(Task(t1).size(), 1u);
  ASSERT_EQ(Task(t2).size(), 1u);
  ASSERT_EQ(Task(t3).size(), 1u);
  EXPECT_EQ(Task(t1)[0].data.at("order"), 0);
  EXPECT_EQ(Task(t2)[0].data.at("order"), 1);
  EXPECT_EQ(Task(t3)[0].data.at("order"), 0);
}

}  // namespace
}  // namespace prism
