// The per-user ordering rule (domain/ordering.h), checked by simulation. Several workers take a
// user's commands, with duplicates, from a pool in random order. They interleave their reads and
// commits against one store with optimistic checks, and must end in the state of in-order
// processing.
#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "domain/decide.h"
#include "domain/ordering.h"

namespace prism::domain {
namespace {

namespace json = boost::json;

constexpr std::string_view kUser = "user-1";

// ---- CheckSequence ----

TEST(Ordering, NextSequenceIsApplied) {
  EXPECT_EQ(CheckSequence(0, 1), SequenceVerdict::kApply);
  EXPECT_EQ(CheckSequence(41, 42), SequenceVerdict::kApply);
}

TEST(Ordering, OldSequenceIsAlreadyApplied) {
  EXPECT_EQ(CheckSequence(5, 5), SequenceVerdict::kAlreadyApplied);
  EXPECT_EQ(CheckSequence(5, 1), SequenceVerdict::kAlreadyApplied);
}

TEST(Ordering, LaterSequenceIsTooEarly) {
  EXPECT_EQ(CheckSequence(0, 2), SequenceVerdict::kTooEarly);
  EXPECT_EQ(CheckSequence(5, 100), SequenceVerdict::kTooEarly);
}

TEST(Ordering, InvalidSequenceIsAlreadyApplied) {
  EXPECT_EQ(CheckSequence(0, 0), SequenceVerdict::kAlreadyApplied);
  EXPECT_EQ(CheckSequence(0, -3), SequenceVerdict::kAlreadyApplied);
}

TEST(Ordering, ExtremeValuesDoNotOverflow) {
  EXPECT_EQ(CheckSequence(INT64_MAX - 1, INT64_MAX), SequenceVerdict::kApply);
  EXPECT_EQ(CheckSequence(INT64_MAX, INT64_MAX), SequenceVerdict::kAlreadyApplied);
  EXPECT_EQ(CheckSequence(INT64_MIN, INT64_MAX), SequenceVerdict::kTooEarly);
}

// ---- Simulation harness ----

// An in-memory event store of one user: the folded state of every stream, the user's cursor
// and, for the naive rule, the set of applied sequence numbers. Commits are atomic and checked
// optimistically. Streams are kept folded, not as event lists, because the simulation reads them
// far more often than it writes them.
class FakeStore {
 public:
  int64_t cursor() const { return cursor_; }
  bool WasApplied(int64_t user_seq) const { return applied_.count(user_seq) > 0; }

  int64_t Version(const StreamKey& key) const {
    if (key.type == EntityType::kUser) return user_.version;
    if (key.type == EntityType::kUserSettings) return settings_.version;
    auto it = tasks_.find(key);
    return it == tasks_.end() ? 0 : it->second.version;
  }

  LoadedState Load(const std::vector<StreamKey>& keys) const {
    LoadedState state;
    for (const StreamKey& key : keys) {
      if (key.type == EntityType::kUser) {
        state.user = user_;
      } else if (key.type == EntityType::kUserSettings) {
        state.settings = settings_;
      } else if (auto it = tasks_.find(key); it != tasks_.end()) {
        state.tasks[key] = it->second;
      }
    }
    return state;
  }

  int64_t OpenTasksIn(std::string_view category) const {
    int64_t count = 0;
    for (const auto& [key, task] : tasks_) {
      if (task.exists && !task.done && task.category == category) ++count;
    }
    return count;
  }

  // Appends `events` and moves the cursor to `user_seq`, all or nothing. Fails when an event's
  // version is not its stream's next version, and also when the cursor is not `expected_cursor` or
  // `user_seq` does not follow it (sequence rule) or, without an expected cursor (naive rule), when
  // `user_seq` was applied.
  bool Commit(std::optional<int64_t> expected_cursor, int64_t user_seq,
              const std::vector<Event>& events) {
    if (expected_cursor && (cursor_ != *expected_cursor || user_seq != cursor_ + 1)) return false;
    if (!expected_cursor && WasApplied(user_seq)) return false;
    std::map<StreamKey, int64_t> next;
    for (const Event& event : events) {
      StreamKey key{event.entity_type, event.entity_id};
      auto [it, inserted] = next.try_emplace(key, Version(key));
      if (event.version != it->second + 1) return false;
      it->second = event.version;
    }
    for (const Event& event : events) {
      if (event.entity_type == EntityType::kUser) {
        Fold(user_, event);
      } else if (event.entity_type == EntityType::kUserSettings) {
        Fold(settings_, event);
      } else {
        Fold(tasks_[StreamKey{event.entity_type, event.entity_id}], event);
      }
    }
    applied_.insert(user_seq);
    cursor_ = std::max(cursor_, user_seq);
    return true;
  }

  // A readable dump of every stream's state, for comparing runs.
  std::string Describe() const {
    std::ostringstream out;
    for (const auto& [key, t] : tasks_) {
      out << "task " << key.id << " exists=" << t.exists << " title=" << t.title
          << " notes=" << t.notes << " category=" << t.category << " order=" << t.order
          << " done=" << t.done << " owner=" << t.owner << " version=" << t.version << "\n";
    }
    out << "user exists=" << user_.exists << " signed_in=" << user_.signed_in
        << " name=" << user_.name << " version=" << user_.version << "\n";
    out << "settings exists=" << settings_.exists
        << " per_category=" << settings_.tasks_per_category
        << " show_done=" << settings_.show_done_tasks << " version=" << settings_.version << "\n";
    return out.str();
  }

 private:
  std::map<StreamKey, TaskState> tasks_;
  UserState user_;
  SettingsState settings_;
  std::set<int64_t> applied_;
  int64_t cursor_ = 0;
};

std::vector<Event> DecideAgainst(const FakeStore& store, const CommandEnvelope& envelope) {
  DecideContext context;
  context.open_tasks_in_lane = [&store](std::string_view category) {
    return store.OpenTasksIn(category);
  };
  context.new_id = [] { return std::string("event-id"); };  // ids are not compared
  return Decide(envelope, store.Load(StreamsToLoad(envelope)), context).events;
}

// The reference: every command once, in admission order, by one worker.
std::string ProcessInOrder(const std::vector<CommandEnvelope>& commands) {
  FakeStore store;
  for (const CommandEnvelope& envelope : commands) {
    EXPECT_TRUE(store.Commit(store.cursor(), envelope.user_seq, DecideAgainst(store, envelope)));
  }
  return store.Describe();
}

enum class Rule { kSequence, kNaive };

// One simulated worker. Each Step does one observable operation, so the scheduler can interleave
// workers between a read and the commit that depends on it.
class Worker {
 public:
  Worker(Rule rule, FakeStore& store, std::vector<const CommandEnvelope*>& pool,
         std::mt19937_64& random)
      : rule_(rule), store_(store), pool_(pool), random_(random) {}

  bool idle() const { return phase_ == Phase::kIdle; }

  void Step() {
    switch (phase_) {
      case Phase::kIdle:
        Take();
        break;
      case Phase::kCheck:
        Check();
        break;
      case Phase::kLoad:
        Load();
        break;
      case Phase::kCommit:
        Commit();
        break;
    }
  }

 private:
  enum class Phase { kIdle, kCheck, kLoad, kCommit };

  void Take() {
    if (pool_.empty()) return;
    size_t index = random_() % pool_.size();
    message_ = pool_[index];
    pool_.erase(pool_.begin() + static_cast<std::ptrdiff_t>(index));
    phase_ = Phase::kCheck;
  }

  void Check() {
    if (rule_ == Rule::kNaive) {
      phase_ = store_.WasApplied(message_->user_seq) ? Phase::kIdle : Phase::kLoad;
      return;
    }
    cursor_ = store_.cursor();
    switch (CheckSequence(cursor_, message_->user_seq)) {
      case SequenceVerdict::kApply:
        phase_ = Phase::kLoad;
        break;
      case SequenceVerdict::kAlreadyApplied:
        phase_ = Phase::kIdle;
        break;  // acknowledge
      case SequenceVerdict::kTooEarly:
        Release();
        break;
    }
  }

  void Release() {
    size_t index = pool_.empty() ? 0 : random_() % (pool_.size() + 1);
    pool_.insert(pool_.begin() + static_cast<std::ptrdiff_t>(index), message_);
    phase_ = Phase::kIdle;
  }

  void Load() {
    events_ = DecideAgainst(store_, *message_);
    phase_ = Phase::kCommit;
  }

  void Commit() {
    std::optional<int64_t> expected_cursor;
    if (rule_ == Rule::kSequence) expected_cursor = cursor_;
    bool committed = store_.Commit(expected_cursor, message_->user_seq, events_);
    phase_ = committed ? Phase::kIdle : Phase::kCheck;  // a conflict retries from the check
  }

  Rule rule_;
  FakeStore& store_;
  std::vector<const CommandEnvelope*>& pool_;
  std::mt19937_64& random_;
  Phase phase_ = Phase::kIdle;
  const CommandEnvelope* message_ = nullptr;
  int64_t cursor_ = 0;
  std::vector<Event> events_;
};

struct SimulationResult {
  std::string state;
  int64_t cursor = 0;
  bool drained = false;
};

// Runs `workers` workers over a pool holding every command once plus random duplicates, in
// random order, until the pool is empty and every worker is idle.
SimulationResult Simulate(Rule rule, const std::vector<CommandEnvelope>& commands, int workers,
                          std::mt19937_64& random) {
  std::vector<const CommandEnvelope*> pool;
  for (const CommandEnvelope& envelope : commands) {
    pool.push_back(&envelope);
    while (random() % 4 == 0) pool.push_back(&envelope);
  }
  std::shuffle(pool.begin(), pool.end(), random);

  FakeStore store;
  std::vector<Worker> team;
  team.reserve(workers);
  for (int i = 0; i < workers; ++i) team.emplace_back(rule, store, pool, random);

  SimulationResult result;
  constexpr int kMaxSteps = 200000;
  for (int step = 0; step < kMaxSteps; ++step) {
    bool all_idle = std::all_of(team.begin(), team.end(), [](const Worker& w) { return w.idle(); });
    if (pool.empty() && all_idle) {
      result.drained = true;
      break;
    }
    team[random() % team.size()].Step();
  }
  result.state = store.Describe();
  result.cursor = store.cursor();
  return result;
}

// ---- Command generation ----

const std::vector<std::string> kTaskIds = {
    "0190f5a2-7b1c-7def-8abc-000000000001",
    "0190f5a2-7b1c-7def-8abc-000000000002",
    "0190f5a2-7b1c-7def-8abc-000000000003",
};
const std::vector<std::string> kCategories = {"critical", "fun", "important", "normal"};

class CommandGenerator {
 public:
  explicit CommandGenerator(std::mt19937_64& random) : random_(random) {}

  std::vector<CommandEnvelope> Sequence(int count) {
    std::vector<CommandEnvelope> commands;
    for (int i = 0; i < count; ++i) {
      CommandEnvelope envelope;
      envelope.user_id = std::string(kUser);
      envelope.user_seq = i + 1;
      envelope.idempotency_key = "key-" + std::to_string(i + 1);
      envelope.accepted_at_ms = 1700000000000 + i;
      envelope.command = Next();
      commands.push_back(std::move(envelope));
    }
    return commands;
  }

 private:
  bool Chance(int percent) { return static_cast<int>(random_() % 100) < percent; }
  const std::string& Pick(const std::vector<std::string>& items) {
    return items[random_() % items.size()];
  }

  Command Make(CommandType type, json::object data) {
    Command command;
    command.type = type;
    command.entity_type = EntityTypeOf(type);
    command.data = std::move(data);
    return command;
  }

  Command Next() {
    const std::string& id = Pick(kTaskIds);
    switch (random_() % 10) {
      case 0:
      case 1:
        return Create(id);
      case 2:
      case 3:
      case 4:
        return Update(id);
      case 5:
        return Make(CommandType::kCompleteTask, {{"id", id}});
      case 6:
        return Make(CommandType::kReopenTask, {{"id", id}});
      case 7:
        return Settings();
      case 8:
        return Make(CommandType::kLoginUser, {{"name", "n"}});
      default:
        return Make(CommandType::kLogoutUser, {});
    }
  }

  Command Create(const std::string& id) {
    json::object data{{"id", id}, {"title", "title-" + std::to_string(random_() % 100)}};
    if (Chance(50)) data["category"] = Pick(kCategories);
    if (Chance(30)) data["order"] = static_cast<int64_t>(random_() % 10);
    return Make(CommandType::kCreateTask, std::move(data));
  }

  Command Update(const std::string& id) {
    json::object data{{"id", id}};
    while (data.size() == 1) {
      if (Chance(40)) data["title"] = "title-" + std::to_string(random_() % 100);
      if (Chance(25)) data["notes"] = "notes-" + std::to_string(random_() % 100);
      if (Chance(40)) data["category"] = Pick(kCategories);
      if (Chance(25)) data["order"] = static_cast<int64_t>(random_() % 10);
      if (Chance(25)) data["done"] = Chance(50);
    }
    return Make(CommandType::kUpdateTask, std::move(data));
  }

  Command Settings() {
    json::object data;
    while (data.empty()) {
      if (Chance(60)) data["tasksPerCategory"] = static_cast<int64_t>(1 + random_() % 20);
      if (Chance(60)) data["showDoneTasks"] = Chance(50);
    }
    return Make(CommandType::kUpdateUserSettings, std::move(data));
  }

  std::mt19937_64& random_;
};

constexpr int kCases = 2000;
constexpr int kMaxCommands = 12;  // per case; with duplicates a pool holds up to about 20 messages
// The naive rule diverges in most cases, so fewer are enough to show that the harness can fail.
constexpr int kNaiveCases = 300;

TEST(Ordering, ConcurrentWorkersMatchInOrderProcessing) {
  std::mt19937_64 random(20240611);
  CommandGenerator generator(random);
  for (int c = 0; c < kCases; ++c) {
    std::vector<CommandEnvelope> commands =
        generator.Sequence(1 + static_cast<int>(random() % kMaxCommands));
    int workers = 2 + static_cast<int>(random() % 3);
    std::string expected = ProcessInOrder(commands);

    SimulationResult result = Simulate(Rule::kSequence, commands, workers, random);
    ASSERT_TRUE(result.drained) << "case " << c << " did not finish";
    ASSERT_EQ(result.cursor, static_cast<int64_t>(commands.size())) << "case " << c;
    ASSERT_EQ(result.state, expected) << "case " << c << " with " << workers << " workers";
  }
}

TEST(Ordering, NaiveArrivalOrderDiverges) {
  std::mt19937_64 random(20240611);
  CommandGenerator generator(random);
  int diverged = 0;
  for (int c = 0; c < kNaiveCases; ++c) {
    std::vector<CommandEnvelope> commands =
        generator.Sequence(1 + static_cast<int>(random() % kMaxCommands));
    int workers = 2 + static_cast<int>(random() % 3);
    std::string expected = ProcessInOrder(commands);

    SimulationResult result = Simulate(Rule::kNaive, commands, workers, random);
    ASSERT_TRUE(result.drained) << "case " << c << " did not finish";
    if (result.state != expected) ++diverged;
  }
  // The harness must be able to fail: arrival-order processing breaks in many generated cases.
  EXPECT_GT(diverged, kNaiveCases / 10);
}

}  // namespace
}  // namespace prism::domain
