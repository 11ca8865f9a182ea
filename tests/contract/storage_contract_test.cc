// The storage contract: what every backend must do behind the interfaces of storage/interfaces.h.
// Each test runs once per registered backend (see backend.h) on a fresh, empty store.
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <future>
#include <latch>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "contract/backend.h"

namespace prism::contract {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using storage::CommitStatus;
using storage::OutcomeStatus;

// ---------------------------------------------------------------------------------------------
// Builders and helpers

domain::Event TaskEvent(const std::string& task_id, int64_t version, const std::string& user_id,
                        const std::string& key) {
  domain::Event event;
  event.id = task_id + "-v" + std::to_string(version);
  event.entity_id = task_id;
  event.entity_type = domain::EntityType::kTask;
  event.type = version == 1 ? "task-created" : "task-updated";
  event.data["title"] = "title " + std::to_string(version);
  event.version = version;
  event.timestamp_ms = 1'700'000'000'000 + version;
  event.user_id = user_id;
  event.idempotency_key = key;
  return event;
}

storage::CommitRequest Request(const std::string& user_id, int64_t seq, const std::string& key,
                               std::vector<domain::Event> events,
                               OutcomeStatus status = OutcomeStatus::kCompleted,
                               int64_t completed_at_ms = 1'700'000'000'000) {
  storage::CommitRequest request;
  request.user_id = user_id;
  request.user_seq = seq;
  request.idempotency_key = key;
  request.outcome = storage::CommandOutcome{status, "", completed_at_ms};
  request.events = std::move(events);
  return request;
}

storage::NewCommand Command(const std::string& user_id, const std::string& key,
                            const std::string& body = R"({"entityType":"task"})") {
  return storage::NewCommand{user_id, key, 1'700'000'000'000, body};
}

// Enqueues and waits for the callback; returns its failure, or "timed out".
std::optional<std::string> EnqueueAndWait(storage::CommandQueue& queue,
                                          std::vector<storage::NewCommand> batch) {
  auto promise = std::make_shared<std::promise<std::optional<std::string>>>();
  std::future<std::optional<std::string>> future = promise->get_future();
  queue.Enqueue(std::move(batch),
                [promise](std::optional<std::string> failure) { promise->set_value(failure); });
  if (future.wait_for(10s) != std::future_status::ready) return "timed out";
  return future.get();
}

// Leases until `expected` messages arrived or a lease attempt of 1 s returned nothing.
std::vector<storage::QueuedCommand> LeaseAll(storage::CommandQueue& queue, size_t expected) {
  std::vector<storage::QueuedCommand> leased;
  while (leased.size() < expected) {
    std::vector<storage::QueuedCommand> batch = queue.Lease("test", 1000, 60s, 1s);
    if (batch.empty()) break;
    leased.insert(leased.end(), batch.begin(), batch.end());
  }
  return leased;
}

std::vector<std::string> Ids(const std::vector<storage::QueuedCommand>& messages) {
  std::vector<std::string> ids;
  for (const storage::QueuedCommand& message : messages) ids.push_back(message.message_id);
  return ids;
}

domain::TaskRow Task(const std::string& id, const std::string& user_id, int64_t position) {
  domain::TaskRow task;
  task.id = id;
  task.user_id = user_id;
  task.title = "task " + id;
  task.notes = "notes of " + id;
  task.category = "important";
  task.order = position * 10;
  task.done = position % 2 == 0;
  task.version = 1;
  task.created_position = position;
  return task;
}

storage::ReadModels::Changes TaskChanges(std::vector<domain::TaskRow> tasks,
                                         std::optional<int64_t> checkpoint = std::nullopt) {
  storage::ReadModels::Changes changes;
  changes.tasks = std::move(tasks);
  changes.checkpoint = checkpoint;
  return changes;
}

// ---------------------------------------------------------------------------------------------
// Fixtures: one suite per interface, each instantiated for every registered backend.

class ContractTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    backend_ = CreateBackend(GetParam());
    storage_ = backend_->Open(OpenOptions{});
  }

  void Reopen(const OpenOptions& options = OpenOptions{}) {
    storage_ = StorageSet{};
    storage_ = backend_->Open(options);
  }

  storage::CommandQueue& commands() { return *storage_.commands; }
  storage::EventStore& events() { return *storage_.events; }
  storage::EventQueue& event_queue() { return *storage_.event_queue; }
  storage::ReadModels& read_models() { return *storage_.read_models; }

  storage::CommitResult CommitOne(storage::CommitRequest request) {
    std::vector<storage::CommitResult> results = events().Commit(std::span(&request, 1));
    EXPECT_EQ(results.size(), 1u);
    return results.empty() ? storage::CommitResult{} : results.front();
  }

  // Declared before storage_, so the store is closed before the backend removes it.
  std::unique_ptr<Backend> backend_;
  StorageSet storage_;
};

class EventStore : public ContractTest {};
class CommandQueue : public ContractTest {};
class EventQueue : public ContractTest {};
class ReadModels : public ContractTest {};
class Schema : public ContractTest {};
class Cache : public ContractTest {};
class LiveUpdates : public ContractTest {};

std::string BackendName(const ::testing::TestParamInfo<std::string>& info) { return info.param; }

#define PRISM_INSTANTIATE_CONTRACT(suite) \
  INSTANTIATE_TEST_SUITE_P(Contract, suite, ::testing::ValuesIn(BackendNames()), BackendName)

PRISM_INSTANTIATE_CONTRACT(EventStore);
PRISM_INSTANTIATE_CONTRACT(CommandQueue);
PRISM_INSTANTIATE_CONTRACT(EventQueue);
PRISM_INSTANTIATE_CONTRACT(ReadModels);
PRISM_INSTANTIATE_CONTRACT(Schema);
PRISM_INSTANTIATE_CONTRACT(Cache);
PRISM_INSTANTIATE_CONTRACT(LiveUpdates);

// ---------------------------------------------------------------------------------------------
// Event store

TEST_P(EventStore, CommitAssignsIncreasingPositions) {
  storage::CommitResult result = CommitOne(Request(
      "alice", 1, "k1", {TaskEvent("t1", 1, "alice", "k1"), TaskEvent("t1", 2, "alice", "k1")}));

  EXPECT_EQ(result.status, CommitStatus::kCommitted);
  ASSERT_EQ(result.events.size(), 2u);
  EXPECT_GT(result.events[0].position, 0);
  EXPECT_GT(result.events[1].position, result.events[0].position);
  EXPECT_EQ(events().HeadPosition(), result.events[1].position);
}

TEST_P(EventStore, ReadStreamReturnsStoredFields) {
  domain::Event written = TaskEvent("t1", 1, "alice", "k1");
  written.data["notes"] = "with \"quotes\" and ünïcode";
  storage::CommitResult result = CommitOne(Request("alice", 1, "k1", {written}));
  CommitOne(Request("alice", 2, "k2", {TaskEvent("t1", 2, "alice", "k2")}));

  std::vector<domain::Event> stream = events().ReadStream(domain::EntityType::kTask, "t1", 0);
  ASSERT_EQ(stream.size(), 2u);
  const domain::Event& read = stream[0];
  EXPECT_EQ(read.id, written.id);
  EXPECT_EQ(read.entity_id, "t1");
  EXPECT_EQ(read.entity_type, domain::EntityType::kTask);
  EXPECT_EQ(read.type, "task-created");
  EXPECT_EQ(read.data, written.data);
  EXPECT_EQ(read.version, 1);
  EXPECT_EQ(read.position, result.events[0].position);
  EXPECT_EQ(read.timestamp_ms, written.timestamp_ms);
  EXPECT_EQ(read.user_id, "alice");
  EXPECT_EQ(read.idempotency_key, "k1");
  EXPECT_EQ(stream[1].version, 2);

  std::vector<domain::Event> after_first = events().ReadStream(domain::EntityType::kTask, "t1", 1);
  ASSERT_EQ(after_first.size(), 1u);
  EXPECT_EQ(after_first[0].version, 2);
}

TEST_P(EventStore, StreamsOfSameIdDifferByEntityType) {
  domain::Event user_event = TaskEvent("alice", 1, "alice", "k1");
  user_event.entity_type = domain::EntityType::kUser;
  user_event.type = "user-created";
  domain::Event settings_event = user_event;
  settings_event.entity_type = domain::EntityType::kUserSettings;
  settings_event.type = "user-settings-created";
  settings_event.id = "settings-event";

  storage::CommitResult result = CommitOne(Request("alice", 1, "k1", {user_event, settings_event}));

  EXPECT_EQ(result.status, CommitStatus::kCommitted);
  EXPECT_EQ(events().ReadStream(domain::EntityType::kUser, "alice", 0).size(), 1u);
  EXPECT_EQ(events().ReadStream(domain::EntityType::kUserSettings, "alice", 0).size(), 1u);
  EXPECT_TRUE(events().ReadStream(domain::EntityType::kTask, "alice", 0).empty());
}

TEST_P(EventStore, RejectsStaleExpectedVersion) {
  CommitOne(Request("alice", 1, "k1", {TaskEvent("t1", 1, "alice", "k1")}));
  const int64_t head = events().HeadPosition();

  storage::CommitResult stale =
      CommitOne(Request("alice", 2, "k2", {TaskEvent("t1", 1, "alice", "k2")}));
  storage::CommitResult ahead =
      CommitOne(Request("alice", 2, "k2", {TaskEvent("t1", 3, "alice", "k2")}));

  EXPECT_EQ(stale.status, CommitStatus::kStreamConflict);
  EXPECT_TRUE(stale.events.empty());
  EXPECT_EQ(ahead.status, CommitStatus::kStreamConflict);
  EXPECT_EQ(events().HeadPosition(), head);
}

TEST_P(EventStore, ConcurrentAppendsToOneStreamHaveOneWinner) {
  CommitOne(Request("seed", 1, "seed", {TaskEvent("t1", 1, "seed", "seed")}));
  constexpr int kRounds = 20;

  for (int round = 0; round < kRounds; ++round) {
    const int64_t version = events().ReadStream(domain::EntityType::kTask, "t1", 0).back().version;
    std::array<storage::CommitResult, 2> results;
    std::latch start(2);
    auto attempt = [&](int writer) {
      std::string user = "writer-" + std::to_string(writer);
      std::string key = user + "-" + std::to_string(round);
      storage::CommitRequest request =
          Request(user, round + 1, key, {TaskEvent("t1", version + 1, user, key)});
      start.arrive_and_wait();
      results[writer] = CommitOne(request);
    };
    std::thread first(attempt, 0);
    std::thread second(attempt, 1);
    first.join();
    second.join();

    int committed = 0;
    int conflicts = 0;
    for (const storage::CommitResult& result : results) {
      committed += result.status == CommitStatus::kCommitted;
      conflicts += result.status == CommitStatus::kStreamConflict;
    }
    ASSERT_EQ(committed, 1) << "round " << round;
    ASSERT_EQ(conflicts, 1) << "round " << round;

    // The loser reloads the stream, finds the winner's event and appends after it.
    const int loser = results[0].status == CommitStatus::kStreamConflict ? 0 : 1;
    std::vector<domain::Event> reloaded =
        events().ReadStream(domain::EntityType::kTask, "t1", version);
    ASSERT_EQ(reloaded.size(), 1u);
    EXPECT_EQ(reloaded[0].user_id, "writer-" + std::to_string(1 - loser));
    std::string user = "writer-" + std::to_string(loser);
    std::string key = user + "-" + std::to_string(round);
    storage::CommitResult retry =
        CommitOne(Request(user, round + 1, key, {TaskEvent("t1", version + 2, user, key)}));
    ASSERT_EQ(retry.status, CommitStatus::kCommitted) << "round " << round;
  }

  std::vector<domain::Event> stream = events().ReadStream(domain::EntityType::kTask, "t1", 0);
  ASSERT_EQ(stream.size(), static_cast<size_t>(1 + 2 * kRounds));
  for (size_t i = 0; i < stream.size(); ++i) {
    EXPECT_EQ(stream[i].version, static_cast<int64_t>(i + 1));
    if (i > 0) {
      EXPECT_GT(stream[i].position, stream[i - 1].position);
    }
  }
}

TEST_P(EventStore, CursorRejectsRepeatedAndSkippedSequence) {
  storage::CommitResult first =
      CommitOne(Request("alice", 1, "k1", {TaskEvent("t1", 1, "alice", "k1")}));
  const int64_t head = events().HeadPosition();

  storage::CommitResult repeated =
      CommitOne(Request("alice", 1, "k1", {TaskEvent("t2", 1, "alice", "k1")}));
  storage::CommitResult skipped =
      CommitOne(Request("alice", 3, "k3", {TaskEvent("t3", 1, "alice", "k3")}));

  EXPECT_EQ(first.status, CommitStatus::kCommitted);
  EXPECT_EQ(repeated.status, CommitStatus::kAlreadyApplied);
  EXPECT_TRUE(repeated.events.empty());
  EXPECT_EQ(skipped.status, CommitStatus::kOutOfOrder);
  EXPECT_TRUE(skipped.events.empty());
  EXPECT_EQ(events().HeadPosition(), head);
  EXPECT_EQ(events().UserCursor("alice"), 1);
  EXPECT_FALSE(events().FindOutcome("alice", "k3").has_value());
  EXPECT_TRUE(events().ReadStream(domain::EntityType::kTask, "t2", 0).empty());

  storage::CommitResult next =
      CommitOne(Request("alice", 2, "k2", {TaskEvent("t3", 1, "alice", "k2")}));
  EXPECT_EQ(next.status, CommitStatus::kCommitted);
  EXPECT_EQ(events().UserCursor("alice"), 2);
  EXPECT_EQ(events().UserCursor("bob"), 0);
}

TEST_P(EventStore, FindOutcomeAfterCommit) {
  CommitOne(Request("alice", 1, "done", {TaskEvent("t1", 1, "alice", "done")},
                    OutcomeStatus::kCompleted, 1000));
  storage::CommitRequest rejected = Request("alice", 2, "bad", {}, OutcomeStatus::kRejected, 2000);
  rejected.outcome->reason = "task not found";
  CommitOne(rejected);

  std::optional<storage::CommandOutcome> completed = events().FindOutcome("alice", "done");
  std::optional<storage::CommandOutcome> refused = events().FindOutcome("alice", "bad");

  ASSERT_TRUE(completed.has_value());
  EXPECT_EQ(completed->status, OutcomeStatus::kCompleted);
  EXPECT_EQ(completed->completed_at_ms, 1000);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, OutcomeStatus::kRejected);
  EXPECT_EQ(refused->reason, "task not found");
  EXPECT_EQ(refused->completed_at_ms, 2000);
  EXPECT_FALSE(events().FindOutcome("bob", "done").has_value());
  EXPECT_FALSE(events().FindOutcome("alice", "never-sent").has_value());
}

TEST_P(EventStore, RequestWithoutOutcomeOnlyAdvancesCursor) {
  storage::CommitRequest request = Request("alice", 1, "seen-before", {});
  request.outcome.reset();

  storage::CommitResult result = CommitOne(request);

  EXPECT_EQ(result.status, CommitStatus::kCommitted);
  EXPECT_EQ(events().UserCursor("alice"), 1);
  EXPECT_FALSE(events().FindOutcome("alice", "seen-before").has_value());
  EXPECT_EQ(events().HeadPosition(), 0);
}

TEST_P(EventStore, FailedCheckWritesNothingOfRequest) {
  CommitOne(Request("alice", 1, "k1", {TaskEvent("t1", 1, "alice", "k1")}));
  const int64_t head = events().HeadPosition();

  // The first event is valid, the second conflicts: neither may stay.
  storage::CommitResult result = CommitOne(Request(
      "alice", 2, "k2", {TaskEvent("t2", 1, "alice", "k2"), TaskEvent("t1", 1, "alice", "k2")}));

  EXPECT_EQ(result.status, CommitStatus::kStreamConflict);
  EXPECT_FALSE(events().FindOutcome("alice", "k2").has_value());
  EXPECT_EQ(events().UserCursor("alice"), 1);
  EXPECT_EQ(events().HeadPosition(), head);
  EXPECT_TRUE(events().ReadStream(domain::EntityType::kTask, "t2", 0).empty());
}

TEST_P(EventStore, FailedCheckLeavesOtherRequestsOfSpan) {
  std::vector<storage::CommitRequest> requests = {
      Request("alice", 1, "a1", {TaskEvent("t1", 1, "alice", "a1")}),
      Request("bob", 1, "b1", {TaskEvent("t1", 1, "bob", "b1")}),  // t1 v1 is taken above
      Request("carol", 1, "c1", {TaskEvent("t2", 1, "carol", "c1")}),
  };

  std::vector<storage::CommitResult> results = events().Commit(requests);

  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].status, CommitStatus::kCommitted);
  EXPECT_EQ(results[1].status, CommitStatus::kStreamConflict);
  EXPECT_EQ(results[2].status, CommitStatus::kCommitted);
  EXPECT_EQ(events().UserCursor("alice"), 1);
  EXPECT_EQ(events().UserCursor("bob"), 0);
  EXPECT_EQ(events().UserCursor("carol"), 1);
  EXPECT_FALSE(events().FindOutcome("bob", "b1").has_value());
  EXPECT_TRUE(events().FindOutcome("carol", "c1").has_value());
  ASSERT_EQ(results[2].events.size(), 1u);
  EXPECT_GT(results[2].events[0].position, results[0].events[0].position);
}

TEST_P(EventStore, ReadAllAfterPosition) {
  std::vector<int64_t> positions;
  for (int i = 0; i < 10; ++i) {
    std::string key = "k" + std::to_string(i);
    storage::CommitResult result = CommitOne(
        Request("alice", i + 1, key, {TaskEvent("t" + std::to_string(i), 1, "alice", key)}));
    ASSERT_EQ(result.events.size(), 1u);
    positions.push_back(result.events[0].position);
  }

  std::vector<domain::Event> middle = events().ReadAll(positions[3], 3);
  std::vector<domain::Event> everything = events().ReadAll(0, 100);

  ASSERT_EQ(middle.size(), 3u);
  EXPECT_EQ(middle[0].position, positions[4]);
  EXPECT_EQ(middle[1].position, positions[5]);
  EXPECT_EQ(middle[2].position, positions[6]);
  ASSERT_EQ(everything.size(), 10u);
  for (size_t i = 0; i < everything.size(); ++i) EXPECT_EQ(everything[i].position, positions[i]);
  EXPECT_TRUE(events().ReadAll(positions[9], 10).empty());
  EXPECT_TRUE(events().ReadAll(positions[3], 0).empty());
}

// A transaction of another connection appends an event and stays open while this store's writer
// commits and a reader keeps reading "after the last position it saw". When the late transaction
// commits, the reader must still get its event: no position below one it passed may appear.
TEST_P(EventStore, ReaderNeverSkipsEventThatCommitsLate) {
  const int64_t start = CommitOne(Request("alice", 1, "a1", {TaskEvent("early", 1, "alice", "a1")}))
                            .events.at(0)
                            .position;
  std::unique_ptr<LateWriter> late = backend_->BeginLateWrite(TaskEvent("late", 1, "bob", "b1"));

  std::atomic<bool> other_committed{false};
  std::thread other([&] {
    CommitOne(Request("carol", 1, "c1", {TaskEvent("other", 1, "carol", "c1")}));
    other_committed = true;
  });

  std::vector<domain::Event> seen;
  int64_t after = start;
  auto read_more = [&] {
    for (domain::Event& event : events().ReadAll(after, 100)) {
      after = event.position;
      seen.push_back(std::move(event));
    }
  };
  // Read for a while with the late transaction held open.
  for (auto until = Clock::now() + 300ms; Clock::now() < until;) {
    read_more();
    std::this_thread::sleep_for(10ms);
  }
  const bool late_seen_while_open = std::any_of(
      seen.begin(), seen.end(), [](const domain::Event& e) { return e.entity_id == "late"; });
  const bool other_committed_while_open = other_committed;

  late->Commit();
  other.join();
  for (auto until = Clock::now() + 5s; seen.size() < 2 && Clock::now() < until;) {
    read_more();
    std::this_thread::sleep_for(10ms);
  }

  EXPECT_FALSE(late_seen_while_open);
  if (backend_->SerializesWriters()) {
    EXPECT_FALSE(other_committed_while_open);
  }
  ASSERT_EQ(seen.size(), 2u);
  std::multiset<std::string> streams;
  for (const domain::Event& event : seen) streams.insert(event.entity_id);
  EXPECT_EQ(streams.count("late"), 1u);
  EXPECT_EQ(streams.count("other"), 1u);
  EXPECT_GT(seen[1].position, seen[0].position);
  EXPECT_EQ(events().ReadAll(start, 100).size(), 2u);
}

TEST_P(EventStore, ForgetOutcomesRespectsCutoffAndBatch) {
  std::vector<storage::CommitRequest> requests;
  for (int i = 0; i < 10; ++i) {
    OutcomeStatus status = i % 3 == 0 ? OutcomeStatus::kRejected : OutcomeStatus::kCompleted;
    requests.push_back(Request("alice", i + 1, "k" + std::to_string(i), {}, status, 1000 + i));
  }
  events().Commit(requests);

  // Records completed at 1000..1004 are before the cutoff 1005.
  EXPECT_EQ(events().ForgetOutcomes(1005, 3), 3);
  EXPECT_EQ(events().ForgetOutcomes(1005, 3), 2);
  EXPECT_EQ(events().ForgetOutcomes(1005, 3), 0);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(events().FindOutcome("alice", "k" + std::to_string(i)).has_value(), i >= 5)
        << "key k" << i;
  }
  EXPECT_EQ(events().UserCursor("alice"), 10);
}

TEST_P(EventStore, ForgetOutcomesRemovesLargeBatchExactly) {
  std::vector<storage::CommitRequest> requests;
  for (int i = 0; i < 1200; ++i) {
    requests.push_back(
        Request("alice", i + 1, "k" + std::to_string(i), {}, OutcomeStatus::kCompleted, 10));
  }
  events().Commit(requests);

  EXPECT_EQ(events().ForgetOutcomes(11, 1100), 1100);
  EXPECT_EQ(events().ForgetOutcomes(11, 1100), 100);
  EXPECT_EQ(events().ForgetOutcomes(11, 1100), 0);
}

// Ids and keys with the characters that array literals, JSON and SQL treat specially.
const std::string kOddUser = "odd \"user\", {x}\\ \u00fc";
const std::string kOddKey = "NULL";

TEST_P(EventStore, FindOutcomesMatchesEachCommand) {
  storage::CommitRequest rejected = Request("alice", 2, "k2", {}, OutcomeStatus::kRejected, 2000);
  rejected.outcome->reason = "task not found";
  events().Commit(std::vector<storage::CommitRequest>{
      Request("alice", 1, "k1", {}, OutcomeStatus::kCompleted, 1000), rejected,
      Request("bob", 1, "k1", {}, OutcomeStatus::kCompleted, 3000),
      Request(kOddUser, 1, kOddKey, {}, OutcomeStatus::kCompleted, 4000)});

  const std::vector<storage::CommandKey> keys = {
      {"alice", "k2"}, {"bob", "missing"},  {"alice", "k1"},   {"carol", "k1"},
      {"alice", "k2"}, {kOddUser, kOddKey}, {"alice", kOddKey}};
  std::vector<std::optional<storage::CommandOutcome>> outcomes = events().FindOutcomes(keys);

  ASSERT_EQ(outcomes.size(), keys.size());
  ASSERT_TRUE(outcomes[0].has_value());
  EXPECT_EQ(outcomes[0]->status, OutcomeStatus::kRejected);
  EXPECT_EQ(outcomes[0]->reason, "task not found");
  EXPECT_EQ(outcomes[0]->completed_at_ms, 2000);
  EXPECT_FALSE(outcomes[1].has_value());
  ASSERT_TRUE(outcomes[2].has_value());
  EXPECT_EQ(outcomes[2]->status, OutcomeStatus::kCompleted);
  EXPECT_EQ(outcomes[2]->completed_at_ms, 1000);
  EXPECT_FALSE(outcomes[3].has_value());
  ASSERT_TRUE(outcomes[4].has_value());
  EXPECT_EQ(outcomes[4]->completed_at_ms, 2000);
  ASSERT_TRUE(outcomes[5].has_value());
  EXPECT_EQ(outcomes[5]->completed_at_ms, 4000);
  EXPECT_FALSE(outcomes[6].has_value());
  EXPECT_TRUE(events().FindOutcomes({}).empty());
}

TEST_P(EventStore, UserCursorsMatchEachUser) {
  events().Commit(std::vector<storage::CommitRequest>{
      Request("alice", 1, "a1", {}), Request("alice", 2, "a2", {}), Request("bob", 1, "b1", {}),
      Request(kOddUser, 1, "o1", {}), Request(kOddUser, 2, "o2", {}),
      Request(kOddUser, 3, "o3", {})});

  const std::vector<std::string> users = {"bob", "nobody", "alice", "bob", kOddUser, "NULL"};
  std::vector<int64_t> cursors = events().UserCursors(users);

  EXPECT_EQ(cursors, (std::vector<int64_t>{1, 0, 2, 1, 3, 0}));
  EXPECT_TRUE(events().UserCursors({}).empty());
}

TEST_P(EventStore, ReadStreamsReturnsEachStreamInVersionOrder) {
  domain::Event user_event = TaskEvent("alice", 1, "alice", "k3");
  user_event.entity_type = domain::EntityType::kUser;
  user_event.type = "user-created";
  domain::Event odd_event = TaskEvent(kOddUser, 1, "alice", "k4");
  odd_event.data["notes"] = "with \"quotes\" and \\ backslash";
  events().Commit(std::vector<storage::CommitRequest>{
      Request("alice", 1, "k1",
              {TaskEvent("t1", 1, "alice", "k1"), TaskEvent("t2", 1, "alice", "k1")}),
      Request("alice", 2, "k2",
              {TaskEvent("t1", 2, "alice", "k2"), TaskEvent("t1", 3, "alice", "k2")}),
      Request("alice", 3, "k3", {user_event}), Request("alice", 4, "k4", {odd_event})});

  const std::vector<domain::StreamKey> streams = {{domain::EntityType::kTask, "t2"},
                                                  {domain::EntityType::kTask, "t1"},
                                                  {domain::EntityType::kTask, "missing"},
                                                  {domain::EntityType::kUser, "alice"},
                                                  {domain::EntityType::kUserSettings, "alice"},
                                                  {domain::EntityType::kTask, "alice"},
                                                  {domain::EntityType::kTask, "t1"},
                                                  {domain::EntityType::kTask, kOddUser}};
  std::vector<std::vector<domain::Event>> read = events().ReadStreams(streams);

  ASSERT_EQ(read.size(), streams.size());
  for (size_t i = 0; i < streams.size(); ++i) {
    std::vector<domain::Event> expected = events().ReadStream(streams[i].type, streams[i].id, 0);
    ASSERT_EQ(read[i].size(), expected.size()) << "stream " << i;
    for (size_t j = 0; j < expected.size(); ++j) {
      EXPECT_EQ(read[i][j].id, expected[j].id) << "stream " << i << ", event " << j;
      EXPECT_EQ(read[i][j].entity_type, streams[i].type) << "stream " << i << ", event " << j;
      EXPECT_EQ(read[i][j].entity_id, streams[i].id) << "stream " << i << ", event " << j;
      EXPECT_EQ(read[i][j].version, static_cast<int64_t>(j + 1)) << "stream " << i;
      EXPECT_EQ(read[i][j].position, expected[j].position) << "stream " << i << ", event " << j;
      EXPECT_EQ(read[i][j].data, expected[j].data) << "stream " << i << ", event " << j;
    }
  }
  EXPECT_EQ(read[0].size(), 1u);
  EXPECT_EQ(read[1].size(), 3u);
  EXPECT_TRUE(read[2].empty());
  EXPECT_EQ(read[3].size(), 1u);
  EXPECT_TRUE(read[4].empty());
  EXPECT_TRUE(read[5].empty());
  EXPECT_EQ(read[6].size(), 3u);
  ASSERT_EQ(read[7].size(), 1u);
  EXPECT_EQ(read[7][0].data, odd_event.data);
  EXPECT_TRUE(events().ReadStreams({}).empty());
}

// ---------------------------------------------------------------------------------------------
// Command queue

TEST_P(CommandQueue, EnqueueAssignsUserSeqAcrossBatches) {
  ASSERT_EQ(EnqueueAndWait(commands(),
                           {Command("alice", "a1"), Command("bob", "b1"), Command("alice", "a2")}),
            std::nullopt);
  ASSERT_EQ(EnqueueAndWait(commands(), {Command("bob", "b2"), Command("alice", "a3")}),
            std::nullopt);

  std::map<std::string, int64_t> seq_by_key;
  for (const storage::QueuedCommand& message : LeaseAll(commands(), 5)) {
    seq_by_key[message.idempotency_key] = message.user_seq;
  }

  ASSERT_EQ(seq_by_key.size(), 5u);
  EXPECT_EQ(seq_by_key["a1"], 1);
  EXPECT_EQ(seq_by_key["a2"], 2);
  EXPECT_EQ(seq_by_key["a3"], 3);
  EXPECT_EQ(seq_by_key["b1"], 1);
  EXPECT_EQ(seq_by_key["b2"], 2);
}

TEST_P(CommandQueue, LeaseDeliversStoredFieldsOldestFirst) {
  for (int i = 0; i < 5; ++i) {
    std::string key = "k" + std::to_string(i);
    ASSERT_EQ(
        EnqueueAndWait(commands(), {Command("alice", key, "{\"n\":" + std::to_string(i) + "}")}),
        std::nullopt);
  }

  std::vector<storage::QueuedCommand> first = commands().Lease("w1", 2, 60s, 0ms);

  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].idempotency_key, "k0");
  EXPECT_EQ(first[0].body, "{\"n\":0}");
  EXPECT_EQ(first[0].user_id, "alice");
  EXPECT_EQ(first[0].user_seq, 1);
  EXPECT_EQ(first[0].accepted_at_ms, 1'700'000'000'000);
  EXPECT_EQ(first[0].attempts, 1);
  EXPECT_FALSE(first[0].message_id.empty());
  EXPECT_EQ(first[1].idempotency_key, "k1");
  std::vector<storage::QueuedCommand> rest = commands().Lease("w2", 10, 60s, 0ms);
  ASSERT_EQ(rest.size(), 3u);
  EXPECT_EQ(rest[0].idempotency_key, "k2");
  EXPECT_EQ(rest[2].idempotency_key, "k4");
}

TEST_P(CommandQueue, ConcurrentEnqueueHasNoGapsOrDuplicates) {
  constexpr int kThreads = 8;
  constexpr int kBatchesPerThread = 100;
  const std::array<std::string, 3> users = {"alice", "bob", "carol"};
  std::atomic<int> failures{0};
  std::atomic<int> callbacks{0};
  std::latch start(kThreads);

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int b = 0; b < kBatchesPerThread; ++b) {
        std::vector<storage::NewCommand> batch;
        for (int c = 0; c <= (t + b) % 4; ++c) {
          std::string key = std::to_string(t) + ":" + std::to_string(b) + ":" + std::to_string(c);
          batch.push_back(Command(users[(t + b + c) % users.size()], key));
        }
        // Every other batch is waited for; the rest pile up behind the writer.
        if (b % 2 == 0) {
          failures += EnqueueAndWait(commands(), std::move(batch)).has_value();
          ++callbacks;
        } else {
          commands().Enqueue(std::move(batch), [&](std::optional<std::string> failure) {
            failures += failure.has_value();
            ++callbacks;
          });
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (auto until = Clock::now() + 10s;
       callbacks < kThreads * kBatchesPerThread && Clock::now() < until;) {
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_EQ(callbacks, kThreads * kBatchesPerThread);
  ASSERT_EQ(failures, 0);

  size_t total = 0;
  for (int t = 0; t < kThreads; ++t) {
    for (int b = 0; b < kBatchesPerThread; ++b) total += (t + b) % 4 + 1;
  }
  std::vector<storage::QueuedCommand> leased = LeaseAll(commands(), total);
  ASSERT_EQ(leased.size(), total);

  std::map<std::string, std::vector<const storage::QueuedCommand*>> by_user;
  for (const storage::QueuedCommand& message : leased) by_user[message.user_id].push_back(&message);
  for (auto& [user, messages] : by_user) {
    std::sort(messages.begin(), messages.end(),
              [](auto* a, auto* b) { return a->user_seq < b->user_seq; });
    // Sequence numbers 1..n, without gaps or duplicates.
    for (size_t i = 0; i < messages.size(); ++i) {
      ASSERT_EQ(messages[i]->user_seq, static_cast<int64_t>(i + 1)) << user;
    }
    // One thread's commands keep the order it enqueued them in.
    std::map<std::string, std::pair<int, int>> last_by_thread;
    for (const storage::QueuedCommand* message : messages) {
      std::string thread = message->idempotency_key.substr(0, message->idempotency_key.find(':'));
      int batch = std::stoi(message->idempotency_key.substr(thread.size() + 1));
      int command =
          std::stoi(message->idempotency_key.substr(message->idempotency_key.rfind(':') + 1));
      auto it = last_by_thread.find(thread);
      if (it != last_by_thread.end()) {
        EXPECT_LT(it->second, std::make_pair(batch, command)) << message->idempotency_key;
      }
      last_by_thread[thread] = {batch, command};
    }
  }
}

TEST_P(CommandQueue, EnqueuedCommandsSurviveReopen) {
  ASSERT_EQ(EnqueueAndWait(commands(), {Command("alice", "a1"), Command("alice", "a2")}),
            std::nullopt);

  Reopen();
  std::vector<storage::QueuedCommand> leased = LeaseAll(commands(), 2);
  ASSERT_EQ(EnqueueAndWait(commands(), {Command("alice", "a3")}), std::nullopt);
  std::vector<storage::QueuedCommand> after = LeaseAll(commands(), 1);

  ASSERT_EQ(leased.size(), 2u);
  EXPECT_EQ(leased[0].idempotency_key, "a1");
  EXPECT_EQ(leased[0].user_seq, 1);
  EXPECT_EQ(leased[1].idempotency_key, "a2");
  EXPECT_EQ(leased[1].user_seq, 2);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].user_seq, 3);
}

TEST_P(CommandQueue, ExpiredLeaseIsDeliveredAgain) {
  ASSERT_EQ(EnqueueAndWait(commands(), {Command("alice", "a1")}), std::nullopt);

  std::vector<storage::QueuedCommand> first = commands().Lease("w1", 10, 300ms, 0ms);
  std::vector<storage::QueuedCommand> while_leased = commands().Lease("w2", 10, 300ms, 0ms);
  std::vector<storage::QueuedCommand> again = commands().Lease("w2", 10, 60s, 5s);

  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].attempts, 1);
  EXPECT_TRUE(while_leased.empty());
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].message_id, first[0].message_id);
  EXPECT_EQ(again[0].attempts, 2);
  EXPECT_EQ(again[0].user_seq, 1);
}

TEST_P(CommandQueue, ReleaseDelaysRedelivery) {
  ASSERT_EQ(EnqueueAndWait(commands(), {Command("alice", "a1")}), std::nullopt);
  std::vector<storage::QueuedCommand> first = commands().Lease("w1", 10, 60s, 0ms);
  ASSERT_EQ(first.size(), 1u);

  commands().Release(first[0].message_id, 400ms);
  const auto released_at = Clock::now();
  std::vector<storage::QueuedCommand> too_early = commands().Lease("w1", 10, 60s, 0ms);
  std::vector<storage::QueuedCommand> later = commands().Lease("w1", 10, 60s, 5s);
  const auto waited = Clock::now() - released_at;

  EXPECT_TRUE(too_early.empty());
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].message_id, first[0].message_id);
  EXPECT_EQ(later[0].attempts, 2);
  EXPECT_GE(waited, 350ms);

  commands().Release(later[0].message_id, 0ms);
  std::vector<storage::QueuedCommand> at_once = commands().Lease("w1", 10, 60s, 0ms);
  ASSERT_EQ(at_once.size(), 1u);
  EXPECT_EQ(at_once[0].attempts, 3);
}

TEST_P(CommandQueue, ReleaseAllReleasesTheGivenMessagesOnly) {
  ASSERT_EQ(EnqueueAndWait(commands(),
                           {Command("alice", "a1"), Command("bob", "b1"), Command("carol", "c1")}),
            std::nullopt);
  std::vector<storage::QueuedCommand> leased = LeaseAll(commands(), 3);
  ASSERT_EQ(leased.size(), 3u);

  const std::vector<std::string> released = {leased[0].message_id, "not-a-message-id",
                                             leased[2].message_id};
  commands().ReleaseAll(released, 0ms);
  std::vector<storage::QueuedCommand> again = commands().Lease("w2", 10, 60s, 2s);

  std::set<std::string> ids;
  for (const auto& message : again) {
    ids.insert(message.message_id);
    EXPECT_EQ(message.attempts, 2);
  }
  EXPECT_EQ(ids, (std::set<std::string>{leased[0].message_id, leased[2].message_id}));
  commands().ReleaseAll({}, 0ms);  // nothing to release is not an error
}

TEST_P(CommandQueue, AckRemovesMessages) {
  ASSERT_EQ(EnqueueAndWait(commands(), {Command("alice", "a1"), Command("alice", "a2")}),
            std::nullopt);
  std::vector<storage::QueuedCommand> leased = LeaseAll(commands(), 2);
  ASSERT_EQ(leased.size(), 2u);
  EXPECT_EQ(commands().Depth(), 2);
  EXPECT_TRUE(commands().IsQueued("alice", "a1"));

  std::vector<std::string> ids = Ids(leased);
  commands().Ack(ids);
  commands().Ack(ids);  // acknowledging twice is harmless

  EXPECT_EQ(commands().Depth(), 0);
  EXPECT_FALSE(commands().IsQueued("alice", "a1"));
  EXPECT_FALSE(commands().IsQueued("alice", "a2"));
}

TEST_P(CommandQueue, DeadLetterRemovesAndKeepsMessage) {
  ASSERT_EQ(EnqueueAndWait(commands(), {Command("alice", "poison", "not json")}), std::nullopt);
  std::vector<storage::QueuedCommand> leased = commands().Lease("w1", 10, 200ms, 0ms);
  ASSERT_EQ(leased.size(), 1u);

  commands().DeadLetter(leased[0], "body is not JSON");
  std::vector<storage::QueuedCommand> after_expiry = commands().Lease("w1", 10, 60s, 500ms);

  EXPECT_TRUE(after_expiry.empty());
  EXPECT_EQ(commands().Depth(), 0);
  EXPECT_FALSE(commands().IsQueued("alice", "poison"));
  EXPECT_EQ(backend_->CountCommandDeadLetters(), 1);
}

TEST_P(CommandQueue, FullQueueRejectsWholeBatch) {
  Reopen(OpenOptions{.admission_queue_limit = 5});
  ASSERT_EQ(EnqueueAndWait(commands(), {Command("alice", "a1"), Command("alice", "a2"),
                                        Command("alice", "a3")}),
            std::nullopt);

  std::optional<std::string> rejected = EnqueueAndWait(
      commands(), {Command("alice", "a4"), Command("alice", "a5"), Command("alice", "a6")});
  std::optional<std::string> fits =
      EnqueueAndWait(commands(), {Command("alice", "a7"), Command("alice", "a8")});

  ASSERT_TRUE(rejected.has_value());
  EXPECT_NE(rejected->find("command queue is full"), std::string::npos) << *rejected;
  EXPECT_FALSE(commands().IsQueued("alice", "a4"));
  EXPECT_EQ(fits, std::nullopt);
  EXPECT_EQ(commands().Depth(), 5);

  // Acknowledged messages free their places.
  std::vector<storage::QueuedCommand> leased = commands().Lease("w1", 3, 60s, 0ms);
  ASSERT_EQ(leased.size(), 3u);
  EXPECT_EQ(leased[2].user_seq, 3);  // the rejected batch took no sequence numbers
  commands().Ack(Ids(leased));
  EXPECT_EQ(EnqueueAndWait(commands(), {Command("alice", "a9"), Command("alice", "a10"),
                                        Command("alice", "a11")}),
            std::nullopt);
  std::vector<storage::QueuedCommand> rest = LeaseAll(commands(), 5);
  ASSERT_EQ(rest.size(), 5u);
  EXPECT_EQ(rest[0].user_seq, 4);
  EXPECT_EQ(rest[4].user_seq, 8);
}

TEST_P(CommandQueue, IsQueuedSeparatesUsers) {
  ASSERT_EQ(EnqueueAndWait(commands(), {Command("alice", "same-key")}), std::nullopt);

  EXPECT_TRUE(commands().IsQueued("alice", "same-key"));
  EXPECT_FALSE(commands().IsQueued("bob", "same-key"));
  EXPECT_FALSE(commands().IsQueued("alice", "other-key"));
}

TEST_P(CommandQueue, BlockedLeaseWakesOnEnqueue) {
  auto leased = std::async(std::launch::async, [&] {
    const auto started = Clock::now();
    std::vector<storage::QueuedCommand> messages = commands().Lease("w1", 10, 60s, 5s);
    return std::make_pair(messages.size(), Clock::now() - started);
  });
  std::this_thread::sleep_for(100ms);
  ASSERT_EQ(EnqueueAndWait(commands(), {Command("alice", "a1")}), std::nullopt);

  auto [count, waited] = leased.get();
  EXPECT_EQ(count, 1u);
  EXPECT_LT(waited, 2s);
}

TEST_P(CommandQueue, LeaseWaitsAndReturnsEmptyWhenIdle) {
  const auto started = Clock::now();
  std::vector<storage::QueuedCommand> messages = commands().Lease("w1", 10, 60s, 200ms);

  EXPECT_TRUE(messages.empty());
  EXPECT_GE(Clock::now() - started, 150ms);
}

TEST_P(CommandQueue, ConcurrentLeasersGetDisjointMessages) {
  std::vector<storage::NewCommand> batch;
  for (int i = 0; i < 200; ++i) batch.push_back(Command("alice", "k" + std::to_string(i)));
  ASSERT_EQ(EnqueueAndWait(commands(), std::move(batch)), std::nullopt);

  std::mutex mutex;
  std::vector<std::string> ids;  // guarded by mutex
  std::vector<std::thread> leasers;
  for (int t = 0; t < 4; ++t) {
    leasers.emplace_back([&, t] {
      for (;;) {
        std::vector<storage::QueuedCommand> leased =
            commands().Lease("w" + std::to_string(t), 7, 60s, 0ms);
        if (leased.empty()) return;
        std::lock_guard lock(mutex);
        for (const storage::QueuedCommand& message : leased) ids.push_back(message.message_id);
      }
    });
  }
  for (std::thread& leaser : leasers) leaser.join();

  std::set<std::string> unique(ids.begin(), ids.end());
  EXPECT_EQ(ids.size(), 200u);
  EXPECT_EQ(unique.size(), 200u);
}

// ---------------------------------------------------------------------------------------------
// Event queue

TEST_P(EventQueue, PollReturnsEventsAfterAcknowledgedPosition) {
  std::vector<int64_t> positions;
  for (int i = 0; i < 5; ++i) {
    std::string key = "k" + std::to_string(i);
    positions.push_back(CommitOne(Request("alice", i + 1, key,
                                          {TaskEvent("t" + std::to_string(i), 1, "alice", key)}))
                            .events.at(0)
                            .position);
  }

  std::vector<domain::Event> first = event_queue().Poll("projector", 10, 0ms);
  event_queue().Ack("projector", positions[2]);
  std::vector<domain::Event> rest = event_queue().Poll("projector", 10, 0ms);
  std::vector<domain::Event> limited = event_queue().Poll("other", 2, 0ms);

  ASSERT_EQ(first.size(), 5u);
  for (size_t i = 0; i < first.size(); ++i) EXPECT_EQ(first[i].position, positions[i]);
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[0].position, positions[3]);
  EXPECT_EQ(rest[1].position, positions[4]);
  ASSERT_EQ(limited.size(), 2u);
  EXPECT_EQ(limited[0].position, positions[0]);
}

TEST_P(EventQueue, BlockedPollWakesOnCommit) {
  auto polled = std::async(std::launch::async, [&] {
    const auto started = Clock::now();
    std::vector<domain::Event> events = event_queue().Poll("projector", 10, 5s);
    return std::make_pair(events.size(), Clock::now() - started);
  });
  std::this_thread::sleep_for(100ms);
  CommitOne(Request("alice", 1, "k1", {TaskEvent("t1", 1, "alice", "k1")}));
  event_queue().Notify();

  auto [count, waited] = polled.get();
  EXPECT_EQ(count, 1u);
  EXPECT_LT(waited, 2s);
}

TEST_P(EventQueue, PollWaitsAndReturnsEmptyWhenIdle) {
  const auto started = Clock::now();
  std::vector<domain::Event> events = event_queue().Poll("projector", 10, 200ms);

  EXPECT_TRUE(events.empty());
  EXPECT_GE(Clock::now() - started, 150ms);
}

TEST_P(EventQueue, DeadLetterKeepsEvent) {
  domain::Event event =
      CommitOne(Request("alice", 1, "k1", {TaskEvent("t1", 1, "alice", "k1")})).events.at(0);

  event_queue().DeadLetter(event, "cannot be projected");

  EXPECT_EQ(backend_->CountEventDeadLetters(), 1);
}

// ---------------------------------------------------------------------------------------------
// Read models

TEST_P(ReadModels, WriteStoresRowsAndCheckpoint) {
  storage::ReadModels::Changes changes;
  changes.tasks = {Task("t1", "alice", 7)};
  changes.settings = {domain::SettingsRow{"alice", 5, true, 2}};
  changes.users = {domain::UserRow{"alice", "Alice", "alice@example.com", true, 3}};
  changes.checkpoint = 7;

  read_models().Write(changes);

  std::optional<domain::TaskRow> task = read_models().FindTask("t1");
  ASSERT_TRUE(task.has_value());
  EXPECT_EQ(task->user_id, "alice");
  EXPECT_EQ(task->title, "task t1");
  EXPECT_EQ(task->notes, "notes of t1");
  EXPECT_EQ(task->category, "important");
  EXPECT_EQ(task->order, 70);
  EXPECT_FALSE(task->done);
  EXPECT_EQ(task->version, 1);
  EXPECT_EQ(task->created_position, 7);
  std::optional<domain::SettingsRow> settings = read_models().FindSettings("alice");
  ASSERT_TRUE(settings.has_value());
  EXPECT_EQ(settings->tasks_per_category, 5);
  EXPECT_TRUE(settings->show_done_tasks);
  EXPECT_EQ(settings->version, 2);
  std::optional<domain::UserRow> user = read_models().FindUser("alice");
  ASSERT_TRUE(user.has_value());
  EXPECT_EQ(user->name, "Alice");
  EXPECT_EQ(user->email, "alice@example.com");
  EXPECT_TRUE(user->signed_in);
  EXPECT_EQ(user->version, 3);
  EXPECT_EQ(read_models().Checkpoint(), 7);
  EXPECT_FALSE(read_models().FindTask("t2").has_value());
  EXPECT_FALSE(read_models().FindSettings("bob").has_value());
  EXPECT_FALSE(read_models().FindUser("bob").has_value());
}

TEST_P(ReadModels, FindTasksReturnsOnlyExistingRows) {
  read_models().Write(TaskChanges({Task("t1", "alice", 7), Task("t2", "bob", 8)}, 8));

  std::vector<domain::TaskRow> found =
      read_models().FindTasks({"t2", "missing", "t1", "it's \"quoted\""});

  std::map<std::string, domain::TaskRow> by_id;
  for (const domain::TaskRow& task : found) by_id[task.id] = task;
  EXPECT_EQ(found.size(), 2u);
  ASSERT_EQ(by_id.count("t1"), 1u);
  ASSERT_EQ(by_id.count("t2"), 1u);
  EXPECT_EQ(by_id["t1"].user_id, "alice");
  EXPECT_EQ(by_id["t1"].created_position, 7);
  EXPECT_EQ(by_id["t2"].user_id, "bob");
  EXPECT_TRUE(read_models().FindTasks({}).empty());
}

TEST_P(ReadModels, WriteUpdatesExistingRows) {
  read_models().Write(TaskChanges({Task("t1", "alice", 7)}, 7));
  domain::TaskRow changed = Task("t1", "alice", 7);
  changed.title = "renamed";
  changed.done = true;
  changed.version = 2;

  read_models().Write(TaskChanges({changed}, 9));

  std::optional<domain::TaskRow> task = read_models().FindTask("t1");
  ASSERT_TRUE(task.has_value());
  EXPECT_EQ(task->title, "renamed");
  EXPECT_TRUE(task->done);
  EXPECT_EQ(task->version, 2);
  EXPECT_EQ(read_models().AllTasks("alice").size(), 1u);
  EXPECT_EQ(read_models().Checkpoint(), 9);
}

TEST_P(ReadModels, WriteKeepsLastRowOfEachId) {
  domain::TaskRow odd = Task("t2", "bob", 8);
  odd.title = "quotes \" and \\ backslash, {braces}, NULL, \u00e9t\u00e9 \U0001F600";
  odd.notes = "line one\nline two\ttab";
  domain::TaskRow first = Task("t1", "alice", 7);
  domain::TaskRow last = first;
  last.title = "the later row";
  last.done = true;
  last.version = 2;

  read_models().Write(TaskChanges({first, odd, last, Task("t3", "alice", 9)}, 9));

  std::optional<domain::TaskRow> t1 = read_models().FindTask("t1");
  std::optional<domain::TaskRow> t2 = read_models().FindTask("t2");
  ASSERT_TRUE(t1.has_value());
  ASSERT_TRUE(t2.has_value());
  EXPECT_EQ(t1->title, "the later row");
  EXPECT_TRUE(t1->done);
  EXPECT_EQ(t1->version, 2);
  EXPECT_EQ(t2->title, odd.title);
  EXPECT_EQ(t2->notes, odd.notes);
  EXPECT_EQ(t2->order, odd.order);
  EXPECT_EQ(t2->created_position, 8);
  EXPECT_EQ(read_models().AllTasks("alice").size(), 2u);
}

TEST_P(ReadModels, KeysetPagesNeitherSkipNorRepeatWithInserts) {
  storage::ReadModels::Changes initial;
  for (int i = 1; i <= 25; ++i)
    initial.tasks.push_back(Task("t" + std::to_string(i), "alice", i * 2));
  initial.tasks.push_back(Task("bob-task", "bob", 3));
  read_models().Write(initial);

  std::vector<std::string> walked;
  std::optional<int64_t> after = 0;
  int pages = 0;
  while (after) {
    storage::TaskPage page = read_models().ListTasks("alice", *after, 10);
    for (const domain::TaskRow& task : page.tasks) walked.push_back(task.id);
    after = page.next_after;
    if (++pages == 1) {
      // Between pages: five new tasks (later positions) and a change to a task already listed.
      storage::ReadModels::Changes more;
      for (int i = 26; i <= 30; ++i)
        more.tasks.push_back(Task("t" + std::to_string(i), "alice", i * 2));
      domain::TaskRow renamed = Task("t1", "alice", 2);
      renamed.title = "renamed";
      more.tasks.push_back(renamed);
      read_models().Write(more);
    }
    ASSERT_LT(pages, 10) << "pagination does not end";
  }

  ASSERT_EQ(walked.size(), 30u);
  std::set<std::string> unique(walked.begin(), walked.end());
  EXPECT_EQ(unique.size(), 30u);
  for (int i = 0; i < 30; ++i) EXPECT_EQ(walked[i], "t" + std::to_string(i + 1));
  EXPECT_EQ(pages, 3);
}

TEST_P(ReadModels, ListTasksMarksLastPage) {
  storage::ReadModels::Changes changes;
  for (int i = 1; i <= 20; ++i) changes.tasks.push_back(Task("t" + std::to_string(i), "alice", i));
  read_models().Write(changes);

  storage::TaskPage first = read_models().ListTasks("alice", 0, 10);
  storage::TaskPage second = read_models().ListTasks("alice", *first.next_after, 10);
  storage::TaskPage none = read_models().ListTasks("bob", 0, 10);

  ASSERT_EQ(first.tasks.size(), 10u);
  ASSERT_TRUE(first.next_after.has_value());
  EXPECT_EQ(*first.next_after, 10);
  ASSERT_EQ(second.tasks.size(), 10u);
  EXPECT_EQ(second.tasks[0].created_position, 11);
  EXPECT_FALSE(second.next_after.has_value());  // exactly full: no empty page after it
  EXPECT_TRUE(none.tasks.empty());
  EXPECT_FALSE(none.next_after.has_value());
}

TEST_P(ReadModels, AllTasksInListOrder) {
  read_models().Write(TaskChanges({Task("c", "alice", 30), Task("a", "alice", 10),
                                   Task("b", "alice", 20), Task("x", "bob", 15)}));

  std::vector<domain::TaskRow> tasks = read_models().AllTasks("alice");

  ASSERT_EQ(tasks.size(), 3u);
  EXPECT_EQ(tasks[0].id, "a");
  EXPECT_EQ(tasks[1].id, "b");
  EXPECT_EQ(tasks[2].id, "c");
}

TEST_P(ReadModels, CountOpenTasksPerUserAndLane) {
  auto task = [](const std::string& id, const std::string& user, const std::string& category,
                 bool done, int64_t position) {
    domain::TaskRow row = Task(id, user, position);
    row.category = category;
    row.done = done;
    return row;
  };
  read_models().Write(
      TaskChanges({task("a1", "alice", "normal", false, 1), task("a2", "alice", "normal", false, 2),
                   task("a3", "alice", "normal", true, 3), task("a4", "alice", "fun", false, 4),
                   task("b1", "bob", "normal", false, 5)}));

  EXPECT_EQ(read_models().CountOpenTasks("alice", "normal"), 2);
  EXPECT_EQ(read_models().CountOpenTasks("alice", "fun"), 1);
  EXPECT_EQ(read_models().CountOpenTasks("alice", "critical"), 0);
  EXPECT_EQ(read_models().CountOpenTasks("bob", "normal"), 1);
  EXPECT_EQ(read_models().CountOpenTasks("carol", "normal"), 0);

  // Completing a task and moving one to another lane change the counts.
  read_models().Write(
      TaskChanges({task("a1", "alice", "normal", true, 1), task("a2", "alice", "fun", false, 2)}));
  EXPECT_EQ(read_models().CountOpenTasks("alice", "normal"), 0);
  EXPECT_EQ(read_models().CountOpenTasks("alice", "fun"), 2);

  // Reopening counts the task again.
  read_models().Write(TaskChanges({task("a3", "alice", "normal", false, 3)}));
  EXPECT_EQ(read_models().CountOpenTasks("alice", "normal"), 1);
}

TEST_P(ReadModels, ResetDropsRowsAndCheckpoint) {
  read_models().Write({.tasks = {Task("t1", "alice", 1)},
                       .settings = {domain::SettingsRow{"alice", 5, true, 1}},
                       .users = {domain::UserRow{"alice", "Alice", "a@example.com", true, 1}},
                       .checkpoint = 1});

  read_models().Reset();

  EXPECT_FALSE(read_models().FindTask("t1").has_value());
  EXPECT_FALSE(read_models().FindSettings("alice").has_value());
  EXPECT_FALSE(read_models().FindUser("alice").has_value());
  EXPECT_EQ(read_models().Checkpoint(), 0);
  EXPECT_TRUE(read_models().AllTasks("alice").empty());
}

// ---------------------------------------------------------------------------------------------
// Schema

TEST_P(Schema, MigrateAgainKeepsOneSchema) {
  const std::string migrated = backend_->DescribeSchema();

  backend_->Migrate();
  backend_->Migrate();

  EXPECT_EQ(backend_->DescribeSchema(), migrated);
}

TEST_P(Schema, ConcurrentMigrationsLeaveOneSchema) {
  std::unique_ptr<Backend> fresh = CreateBackend(GetParam());
  constexpr int kMigrators = 4;
  std::latch start(kMigrators);
  std::mutex mutex;
  std::vector<std::string> errors;  // guarded by mutex

  std::vector<std::thread> migrators;
  for (int i = 0; i < kMigrators; ++i) {
    migrators.emplace_back([&] {
      start.arrive_and_wait();
      try {
        fresh->Migrate();
      } catch (const std::exception& error) {
        std::lock_guard lock(mutex);
        errors.push_back(error.what());
      }
    });
  }
  for (std::thread& migrator : migrators) migrator.join();

  EXPECT_TRUE(errors.empty()) << errors.front();
  EXPECT_EQ(fresh->DescribeSchema(), backend_->DescribeSchema());
  StorageSet storage = fresh->Open(OpenOptions{});
  EXPECT_EQ(EnqueueAndWait(*storage.commands, {Command("alice", "a1")}), std::nullopt);
}

// ---------------------------------------------------------------------------------------------
// Cache

TEST_P(Cache, PutGetErase) {
  storage::Cache& cache = *storage_.cache;

  cache.Put("alice:ts", "page", 60s);
  std::optional<std::string> stored = cache.Get("alice:ts");
  cache.Erase("alice:ts");

  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(*stored, "page");
  EXPECT_FALSE(cache.Get("alice:ts").has_value());
  EXPECT_FALSE(cache.Get("bob:ts").has_value());
}

TEST_P(Cache, PutIfNewerKeepsFresherEntry) {
  storage::Cache& cache = *storage_.cache;

  EXPECT_EQ(cache.PutIfNewer("alice:ts", "at 5", 5, 60s), storage::CacheWrite::kStored);
  EXPECT_EQ(cache.PutIfNewer("alice:ts", "at 3", 3, 60s), storage::CacheWrite::kKept);
  EXPECT_EQ(cache.PutIfNewer("alice:ts", "also at 5", 5, 60s), storage::CacheWrite::kKept);
  EXPECT_EQ(cache.Get("alice:ts"), "at 5");
  EXPECT_EQ(cache.PutIfNewer("alice:ts", "at 8", 8, 60s), storage::CacheWrite::kStored);
  EXPECT_EQ(cache.Get("alice:ts"), "at 8");
}

TEST_P(Cache, EntriesBelowTheFloorAreMissed) {
  storage::Cache& cache = *storage_.cache;
  ASSERT_EQ(cache.PutIfNewer("alice:ts", "at 5", 5, 60s), storage::CacheWrite::kStored);
  ASSERT_EQ(cache.PutIfNewer("bob:ts", "at 9", 9, 60s), storage::CacheWrite::kStored);
  cache.Put("carol:ts", "unstamped", 60s);

  ASSERT_TRUE(cache.InvalidateBefore(7));
  ASSERT_TRUE(cache.InvalidateBefore(6));  // never lowers the floor

  EXPECT_FALSE(cache.Get("alice:ts").has_value());
  EXPECT_EQ(cache.Get("bob:ts"), "at 9");
  EXPECT_FALSE(cache.Get("carol:ts").has_value());
  EXPECT_EQ(cache.PutIfNewer("alice:ts", "at 7", 7, 60s), storage::CacheWrite::kStored);
  EXPECT_EQ(cache.Get("alice:ts"), "at 7");
}

// ---------------------------------------------------------------------------------------------
// Live updates

// Positions a handler saw, filled on the backend's thread.
class SeenPositions {
 public:
  void Add(int64_t position) {
    std::lock_guard lock(mutex_);
    positions_.push_back(position);
  }
  std::vector<int64_t> Get() {
    std::lock_guard lock(mutex_);
    return positions_;
  }
  // Waits up to 5 s until `count` positions arrived (delivery may follow Publish).
  std::vector<int64_t> WaitFor(size_t count) {
    for (auto until = Clock::now() + 5s; Get().size() < count && Clock::now() < until;) {
      std::this_thread::sleep_for(1ms);
    }
    return Get();
  }

 private:
  std::mutex mutex_;
  std::vector<int64_t> positions_;  // guarded by mutex_
};

TEST_P(LiveUpdates, PublishReachesEverySubscriberInOrder) {
  storage::LiveUpdates& live = *storage_.live;
  SeenPositions first_seen;
  SeenPositions second_seen;
  auto first = live.Subscribe([&](const storage::LiveUpdate& u) { first_seen.Add(u.position); });
  auto second = live.Subscribe([&](const storage::LiveUpdate& u) { second_seen.Add(u.position); });

  live.Publish({{"alice", 1, "{}"}, {"bob", 2, "{}"}});
  std::vector<int64_t> second_before_reset = second_seen.WaitFor(2);
  second.reset();
  live.Publish({{"alice", 3, "{}"}});
  std::vector<int64_t> first_after = first_seen.WaitFor(3);
  std::this_thread::sleep_for(50ms);  // time for a late delivery to the cancelled handler

  EXPECT_EQ(first_after, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(second_before_reset, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(second_seen.Get(), (std::vector<int64_t>{1, 2}));
}

TEST_P(LiveUpdates, UpdateArrivesWithFields) {
  storage::LiveUpdates& live = *storage_.live;
  std::mutex mutex;
  std::vector<storage::LiveUpdate> seen;  // guarded by mutex
  auto subscription = live.Subscribe([&](const storage::LiveUpdate& update) {
    std::lock_guard lock(mutex);
    seen.push_back(update);
  });
  const std::string task = R"({"entityType":"task","data":{"title":"ünïcode \"quoted\""}})";
  const std::string settings = R"({"entityType":"user-settings","data":{"x":1.50}})";

  live.Publish({{"alice", 7, task}, {"alice", 8, settings}});
  for (auto until = Clock::now() + 5s; Clock::now() < until;) {
    {
      std::lock_guard lock(mutex);
      if (seen.size() >= 2) break;
    }
    std::this_thread::sleep_for(1ms);
  }

  std::lock_guard lock(mutex);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].user_id, "alice");
  EXPECT_EQ(seen[0].position, 7);
  EXPECT_EQ(seen[0].json, task);
  EXPECT_EQ(seen[1].position, 8);
  EXPECT_EQ(seen[1].json, settings);
}

TEST_P(LiveUpdates, HandlerNeverRunsAfterUnsubscribe) {
  storage::LiveUpdates& live = *storage_.live;
  std::atomic<int> calls{0};
  std::atomic<bool> running{false};
  auto subscription = live.Subscribe([&](const storage::LiveUpdate&) {
    running = true;
    ++calls;
    std::this_thread::sleep_for(200us);
    running = false;
  });
  std::atomic<bool> stop{false};
  std::thread publisher([&] {
    while (!stop) live.Publish({{"alice", 1, "{}"}});
  });
  while (calls < 20) std::this_thread::sleep_for(1ms);

  subscription.reset();
  const bool running_after_unsubscribe = running;
  const int calls_after_unsubscribe = calls;
  std::this_thread::sleep_for(50ms);
  stop = true;
  publisher.join();

  EXPECT_FALSE(running_after_unsubscribe);
  EXPECT_EQ(calls, calls_after_unsubscribe);
}

}  // namespace
}  // namespace prism::contract
