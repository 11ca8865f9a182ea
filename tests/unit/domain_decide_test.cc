#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "domain/command.h"
#include "domain/decide.h"

namespace prism::domain {
namespace {

namespace json = boost::json;

constexpr std::string_view kUser = "user-1";
constexpr std::string_view kOther = "user-2";
const std::string kTaskId = "0190f5a2-7b1c-7def-8abc-0123456789ab";

// Deterministic ids: "id-1", "id-2", ... in the order Decide requests them.
struct Counter {
  std::shared_ptr<int> next = std::make_shared<int>(0);
  std::string operator()() const { return "id-" + std::to_string(++*next); }
};

DecideContext Context(int64_t lane_count = 0, std::string* lane_asked = nullptr) {
  DecideContext context;
  context.new_id = Counter{};
  context.open_tasks_in_lane = [lane_count, lane_asked](std::string_view category) {
    if (lane_asked) *lane_asked = std::string(category);
    return lane_count;
  };
  return context;
}

CommandEnvelope Envelope(CommandType type, json::object data, std::string_view user = kUser) {
  CommandEnvelope envelope;
  envelope.user_id = std::string(user);
  envelope.user_seq = 1;
  envelope.idempotency_key = "key-1";
  envelope.accepted_at_ms = 1700000000123;
  envelope.command.entity_type = EntityTypeOf(type);
  envelope.command.type = type;
  envelope.command.data = std::move(data);
  return envelope;
}

Event MakeEvent(EntityType entity_type, std::string entity_id, std::string_view type,
                json::object data, int64_t version, std::string_view user = kUser) {
  Event event;
  event.id = "event-" + std::to_string(version);
  event.entity_id = std::move(entity_id);
  event.entity_type = entity_type;
  event.type = std::string(type);
  event.data = std::move(data);
  event.version = version;
  event.user_id = std::string(user);
  return event;
}

// A task of `owner` at version 1 (created), or 2 when `done` (created, completed).
TaskState ExistingTask(bool done = false, std::string_view owner = kUser) {
  TaskState task;
  Fold(task,
       MakeEvent(EntityType::kTask, kTaskId, kTaskCreated,
                 {{"title", "t"}, {"notes", ""}, {"category", "normal"}, {"order", 0}}, 1, owner));
  if (done) Fold(task, MakeEvent(EntityType::kTask, kTaskId, kTaskCompleted, {}, 2, owner));
  return task;
}

LoadedState WithTask(const TaskState& task) {
  LoadedState state;
  state.tasks[StreamKey{EntityType::kTask, kTaskId}] = task;
  return state;
}

std::string Data(const Event& event) { return json::serialize(event.data); }

// ---- create-task ----

TEST(DomainDecide, CreateTaskFillsDefaults) {
  std::string lane;
  Decision decision =
      Decide(Envelope(CommandType::kCreateTask, {{"title", "Buy milk"}}), {}, Context(4, &lane));
  ASSERT_FALSE(decision.rejection.has_value()) << *decision.rejection;
  ASSERT_EQ(decision.events.size(), 1u);
  const Event& event = decision.events[0];
  EXPECT_EQ(event.entity_id, "id-1");
  EXPECT_EQ(event.id, "id-2");
  EXPECT_EQ(event.entity_type, EntityType::kTask);
  EXPECT_EQ(event.type, "task-created");
  EXPECT_EQ(Data(event), R"({"title":"Buy milk","notes":"","category":"normal","order":4})");
  EXPECT_EQ(event.version, 1);
  EXPECT_EQ(event.position, 0);
  EXPECT_EQ(event.timestamp_ms, 1700000000123);
  EXPECT_EQ(event.user_id, "user-1");
  EXPECT_EQ(event.idempotency_key, "key-1");
  EXPECT_EQ(lane, "normal");
}

TEST(DomainDecide, CreateTaskAsksLaneOfItsCategory) {
  std::string lane;
  Decision decision =
      Decide(Envelope(CommandType::kCreateTask, {{"title", "a"}, {"category", "fun"}}), {},
             Context(9, &lane));
  ASSERT_EQ(decision.events.size(), 1u);
  EXPECT_EQ(lane, "fun");
  EXPECT_EQ(decision.events[0].data.at("order").as_int64(), 9);
}

TEST(DomainDecide, CreateTaskKeepsGivenFields) {
  std::string lane = "not asked";
  Decision decision = Decide(Envelope(CommandType::kCreateTask, {{"id", kTaskId},
                                                                 {"title", "a"},
                                                                 {"notes", "n"},
                                                                 {"category", "critical"},
                                                                 {"order", 2}}),
                             {}, Context(9, &lane));
  ASSERT_EQ(decision.events.size(), 1u);
  EXPECT_EQ(decision.events[0].entity_id, kTaskId);
  EXPECT_EQ(decision.events[0].id, "id-1");
  EXPECT_EQ(Data(decision.events[0]),
            R"({"title":"a","notes":"n","category":"critical","order":2})");
  EXPECT_EQ(lane, "not asked");
}

TEST(DomainDecide, CreateTaskWithoutLaneFunctionUsesZero) {
  DecideContext context;
  Decision decision = Decide(Envelope(CommandType::kCreateTask, {{"title", "a"}}), {}, context);
  ASSERT_EQ(decision.events.size(), 1u);
  EXPECT_EQ(decision.events[0].data.at("order").as_int64(), 0);
  EXPECT_TRUE(IsUuid(decision.events[0].entity_id));
  EXPECT_TRUE(IsUuid(decision.events[0].id));
}

TEST(DomainDecide, CreateTaskNormalisesRawData) {
  Decision decision =
      Decide(Envelope(CommandType::kCreateTask,
                      {{"title", "  a  "}, {"id", "0190F5A2-7B1C-7DEF-8ABC-0123456789AB"}}),
             {}, Context());
  ASSERT_EQ(decision.events.size(), 1u);
  EXPECT_EQ(decision.events[0].entity_id, kTaskId);
  EXPECT_EQ(decision.events[0].data.at("title").as_string(), "a");
}

TEST(DomainDecide, CreateTaskRejectsOwnExistingId) {
  Decision decision = Decide(Envelope(CommandType::kCreateTask, {{"id", kTaskId}, {"title", "a"}}),
                             WithTask(ExistingTask()), Context());
  EXPECT_TRUE(decision.events.empty());
  EXPECT_EQ(decision.rejection.value_or(""), "task " + kTaskId + " already exists");
}

TEST(DomainDecide, CreateTaskRejectsOtherUsersExistingId) {
  Decision decision = Decide(Envelope(CommandType::kCreateTask, {{"id", kTaskId}, {"title", "a"}}),
                             WithTask(ExistingTask(false, kOther)), Context());
  EXPECT_TRUE(decision.events.empty());
  EXPECT_EQ(decision.rejection.value_or(""), "task " + kTaskId + " already exists");
}

// ---- update-task ----

TEST(DomainDecide, UpdateTaskCarriesOnlyGivenFields) {
  Decision decision =
      Decide(Envelope(CommandType::kUpdateTask, {{"id", kTaskId}, {"title", "new"}, {"order", 5}}),
             WithTask(ExistingTask()), Context());
  ASSERT_EQ(decision.events.size(), 1u);
  EXPECT_EQ(decision.events[0].type, "task-updated");
  EXPECT_EQ(Data(decision.events[0]), R"({"title":"new","order":5})");
  EXPECT_EQ(decision.events[0].version, 2);
  EXPECT_EQ(decision.events[0].entity_id, kTaskId);
}

TEST(DomainDecide, UpdateTaskEmitsEvenWhenValuesEqual) {
  Decision decision = Decide(Envelope(CommandType::kUpdateTask, {{"id", kTaskId}, {"title", "t"}}),
                             WithTask(ExistingTask()), Context());
  ASSERT_EQ(decision.events.size(), 1u);
  EXPECT_EQ(Data(decision.events[0]), R"({"title":"t"})");
}

TEST(DomainDecide, MovingDoneTaskReopensIt) {
  Decision decision =
      Decide(Envelope(CommandType::kUpdateTask, {{"id", kTaskId}, {"category", "fun"}}),
             WithTask(ExistingTask(true)), Context());
  ASSERT_EQ(decision.events.size(), 1u);
  EXPECT_EQ(Data(decision.events[0]), R"({"category":"fun","done":false})");
  EXPECT_EQ(decision.events[0].version, 3);
}

TEST(DomainDecide, MovingDoneTaskWithDoneGivenKeepsDone) {
  Decision decision = Decide(
      Envelope(CommandType::kUpdateTask, {{"id", kTaskId}, {"category", "fun"}, {"done", true}}),
      WithTask(ExistingTask(true)), Context());
  ASSERT_EQ(decision.events.size(), 1u);
  EXPECT_EQ(Data(decision.events[0]), R"({"category":"fun","done":true})");
}

TEST(DomainDecide, MovingOpenTaskAddsNoDone) {
  Decision decision =
      Decide(Envelope(CommandType::kUpdateTask, {{"id", kTaskId}, {"category", "fun"}}),
             WithTask(ExistingTask(false)), Context());
  ASSERT_EQ(decision.events.size(), 1u);
  EXPECT_EQ(Data(decision.events[0]), R"({"category":"fun"})");
}

TEST(DomainDecide, RetitlingDoneTaskKeepsItDone) {
  Decision decision = Decide(Envelope(CommandType::kUpdateTask, {{"id", kTaskId}, {"title", "x"}}),
                             WithTask(ExistingTask(true)), Context());
  ASSERT_EQ(decision.events.size(), 1u);
  EXPECT_EQ(Data(decision.events[0]), R"({"title":"x"})");
}

// ---- complete-task, reopen-task ----

TEST(DomainDecide, CompleteOpenTask) {
  Decision decision = Decide(Envelope(CommandType::kCompleteTask, {{"id", kTaskId}}),
                             WithTask(ExistingTask()), Context());
  ASSERT_EQ(decision.events.size(), 1u);
  EXPECT_EQ(decision.events[0].type, "task-completed");
  EXPECT_TRUE(decision.events[0].data.empty());
  EXPECT_EQ(decision.events[0].version, 2);
}

TEST(DomainDecide, CompleteDoneTaskChangesNothing) {
  Decision decision = Decide(Envelope(CommandType::kCompleteTask, {{"id", kTaskId}}),
                             WithTask(ExistingTask(true)), Context());
  EXPECT_TRUE(decision.events.empty());
  EXPECT_FALSE(decision.rejection.has_value());
}

TEST(DomainDecide, ReopenDoneTask) {
  Decision decision = Decide(Envelope(CommandType::kReopenTask, {{"id", kTaskId}}),
                             WithTask(ExistingTask(true)), Context());
  ASSERT_EQ(decision.events.size(), 1u);
  EXPECT_EQ(decision.events[0].type, "task-reopened");
  EXPECT_TRUE(decision.events[0].data.empty());
  EXPECT_EQ(decision.events[0].version, 3);
}

TEST(DomainDecide, ReopenOpenTaskChangesNothing) {
  Decision decision = Decide(Envelope(CommandType::kReopenTask, {{"id", kTaskId}}),
                             WithTask(ExistingTask(false)), Context());
  EXPECT_TRUE(decision.events.empty());
  EXPECT_FALSE(decision.rejection.has_value());
}

// ---- rejections of task commands ----

struct RejectionCase {
  std::string name;
  CommandType type;
  json::object data;
  bool task_exists;
  std::string owner;
};

class DomainDecideTaskRejection : public testing::TestWithParam<RejectionCase> {};

TEST_P(DomainDecideTaskRejection, SaysNotFound) {
  const RejectionCase& c = GetParam();
  LoadedState state = c.task_exists ? WithTask(ExistingTask(false, c.owner)) : LoadedState{};
  Decision decision = Decide(Envelope(c.type, c.data), state, Context());
  EXPECT_TRUE(decision.events.empty());
  EXPECT_EQ(decision.rejection.value_or(""), "task " + kTaskId + " not found");
}

INSTANTIATE_TEST_SUITE_P(
    DomainDecide, DomainDecideTaskRejection,
    testing::Values(
        RejectionCase{"UpdateMissing",
                      CommandType::kUpdateTask,
                      {{"id", kTaskId}, {"done", true}},
                      false,
                      ""},
        RejectionCase{"UpdateForeign",
                      CommandType::kUpdateTask,
                      {{"id", kTaskId}, {"done", true}},
                      true,
                      std::string(kOther)},
        RejectionCase{"CompleteMissing", CommandType::kCompleteTask, {{"id", kTaskId}}, false, ""},
        RejectionCase{"CompleteForeign",
                      CommandType::kCompleteTask,
                      {{"id", kTaskId}},
                      true,
                      std::string(kOther)},
        RejectionCase{"ReopenMissing", CommandType::kReopenTask, {{"id", kTaskId}}, false, ""},
        RejectionCase{"ReopenForeign",
                      CommandType::kReopenTask,
                      {{"id", kTaskId}},
                      true,
                      std::string(kOther)}),
    [](const testing::TestParamInfo<RejectionCase>& info) { return info.param.name; });

// ---- login-user, logout-user ----

TEST(DomainDecide, FirstLoginCreatesUserAndSettings) {
  Decision decision =
      Decide(Envelope(CommandType::kLoginUser, {{"name", "Ada"}, {"email", "ada@example.org"}}), {},
             Context());
  ASSERT_EQ(decision.events.size(), 2u);
  const Event& user = decision.events[0];
  EXPECT_EQ(user.type, "user-created");
  EXPECT_EQ(user.entity_type, EntityType::kUser);
  EXPECT_EQ(user.entity_id, "user-1");
  EXPECT_EQ(user.version, 1);
  EXPECT_EQ(Data(user), R"({"name":"Ada","email":"ada@example.org"})");
  const Event& settings = decision.events[1];
  EXPECT_EQ(settings.type, "user-settings-created");
  EXPECT_EQ(settings.entity_type, EntityType::kUserSettings);
  EXPECT_EQ(settings.entity_id, "user-1");
  EXPECT_EQ(settings.version, 1);
  EXPECT_EQ(Data(settings), R"({"tasksPerCategory":3,"showDoneTasks":false})");
  EXPECT_NE(user.id, settings.id);
}

TEST(DomainDecide, FirstLoginWithoutProfileUsesEmptyStrings) {
  Decision decision = Decide(Envelope(CommandType::kLoginUser, {}), {}, Context());
  ASSERT_EQ(decision.events.size(), 2u);
  EXPECT_EQ(Data(decision.events[0]), R"({"name":"","email":""})");
}

TEST(DomainDecide, FirstLoginKeepsExistingSettings) {
  LoadedState state;
  SettingsState settings;
  Fold(settings, MakeEvent(EntityType::kUserSettings, "user-1", kUserSettingsCreated,
                           {{"tasksPerCategory", 3}, {"showDoneTasks", false}}, 1));
  state.settings = settings;
  Decision decision = Decide(Envelope(CommandType::kLoginUser, {}), state, Context());
  ASSERT_EQ(decision.events.size(), 1u);
  EXPECT_EQ(decision.events[0].type, "user-created");
}

TEST(DomainDecide, LaterLoginLogsIn) {
  LoadedState state;
  UserState user;
  Fold(user,
       MakeEvent(EntityType::kUser, "user-1", kUserCreated, {{"name", ""}, {"email", ""}}, 1));
  Fold(user, MakeEvent(EntityType::kUser, "user-1", kUserLoggedOut, {}, 2));
  state.user = user;
  Decision decision =
      Decide(Envelope(CommandType::kLoginUser, {{"name", "New"}}), state, Context());
  ASSERT_EQ(decision.events.size(), 1u);
  EXPECT_EQ(decision.events[0].type, "user-logged-in");
  EXPECT_EQ(decision.events[0].version, 3);
  EXPECT_TRUE(decision.events[0].data.empty());
}

TEST(DomainDecide, LogoutLogsOut) {
  LoadedState state;
  UserState user;
  Fold(user, MakeEvent(EntityType::kUser, "user-1", kUserCreated, {}, 1));
  state.user = user;
  Decision decision = Decide(Envelope(CommandType::kLogoutUser, {}), state, Context());
  ASSERT_EQ(decision.events.size(), 1u);
  EXPECT_EQ(decision.events[0].type, "user-logged-out");
  EXPECT_EQ(decision.events[0].entity_type, EntityType::kUser);
  EXPECT_EQ(decision.events[0].version, 2);
}

TEST(DomainDecide, LogoutWhenSignedOutStillLogsOut) {
  LoadedState state;
  UserState user;
  Fold(user, MakeEvent(EntityType::kUser, "user-1", kUserCreated, {}, 1));
  Fold(user, MakeEvent(EntityType::kUser, "user-1", kUserLoggedOut, {}, 2));
  state.user = user;
  Decision decision = Decide(Envelope(CommandType::kLogoutUser, {}), state, Context());
  ASSERT_EQ(decision.events.size(), 1u);
  EXPECT_EQ(decision.events[0].version, 3);
}

TEST(DomainDecide, LogoutOfUnknownUserIsRejected) {
  Decision decision = Decide(Envelope(CommandType::kLogoutUser, {}), {}, Context());
  EXPECT_TRUE(decision.events.empty());
  EXPECT_EQ(decision.rejection.value_or(""), "user user-1 not found");
}

// ---- update-user-settings ----

TEST(DomainDecide, SettingsUpdateCarriesGivenFields) {
  LoadedState state;
  SettingsState settings;
  Fold(settings, MakeEvent(EntityType::kUserSettings, "user-1", kUserSettingsCreated,
                           {{"tasksPerCategory", 3}, {"showDoneTasks", false}}, 1));
  state.settings = settings;
  Decision decision = Decide(Envelope(CommandType::kUpdateUserSettings, {{"showDoneTasks", true}}),
                             state, Context());
  ASSERT_EQ(decision.events.size(), 1u);
  EXPECT_EQ(decision.events[0].type, "user-settings-updated");
  EXPECT_EQ(decision.events[0].entity_type, EntityType::kUserSettings);
  EXPECT_EQ(decision.events[0].entity_id, "user-1");
  EXPECT_EQ(decision.events[0].version, 2);
  EXPECT_EQ(Data(decision.events[0]), R"({"showDoneTasks":true})");
}

TEST(DomainDecide, FirstSettingsUpdateCreatesDefaultsFirst) {
  Decision decision =
      Decide(Envelope(CommandType::kUpdateUserSettings, {{"tasksPerCategory", 10}}), {}, Context());
  ASSERT_EQ(decision.events.size(), 2u);
  EXPECT_EQ(decision.events[0].type, "user-settings-created");
  EXPECT_EQ(decision.events[0].version, 1);
  EXPECT_EQ(Data(decision.events[0]), R"({"tasksPerCategory":3,"showDoneTasks":false})");
  EXPECT_EQ(decision.events[1].type, "user-settings-updated");
  EXPECT_EQ(decision.events[1].version, 2);
  EXPECT_EQ(Data(decision.events[1]), R"({"tasksPerCategory":10})");
  EXPECT_NE(decision.events[0].id, decision.events[1].id);
}

// ---- malformed commands reaching Decide ----

TEST(DomainDecide, MissingIdIsRejected) {
  Decision decision = Decide(Envelope(CommandType::kUpdateTask, {{"title", "x"}}), {}, Context());
  EXPECT_TRUE(decision.events.empty());
  EXPECT_EQ(decision.rejection.value_or(""), "invalid command: missing data.id");
}

TEST(DomainDecide, WrongFieldTypeIsRejected) {
  Decision decision = Decide(
      Envelope(CommandType::kCreateTask, {{"title", "x"}, {"order", "first"}}), {}, Context());
  EXPECT_EQ(decision.rejection.value_or(""),
            "invalid command: data.order must be an integer from 0 to 2147483647");
}

TEST(DomainDecide, MismatchedEntityTypeIsRejected) {
  CommandEnvelope envelope = Envelope(CommandType::kCompleteTask, {{"id", kTaskId}});
  envelope.command.entity_type = EntityType::kUser;
  Decision decision = Decide(envelope, WithTask(ExistingTask()), Context());
  EXPECT_EQ(decision.rejection.value_or(""),
            "invalid command: entityType must be task for type complete-task");
}

TEST(DomainDecide, EmptyUserIdIsRejected) {
  Decision decision = Decide(Envelope(CommandType::kLoginUser, {}, ""), {}, Context());
  EXPECT_TRUE(decision.events.empty());
  EXPECT_EQ(decision.rejection.value_or(""), "invalid command: missing user id");
}

TEST(DomainDecide, OutOfRangeCommandTypeIsRejected) {
  CommandEnvelope envelope = Envelope(CommandType::kCreateTask, {{"title", "x"}});
  envelope.command.type = static_cast<CommandType>(99);
  Decision decision = Decide(envelope, {}, Context());
  EXPECT_TRUE(decision.events.empty());
  EXPECT_TRUE(decision.rejection.has_value());
  EXPECT_TRUE(StreamsToLoad(envelope).empty());
}

TEST(DomainDecide, CommandKeyIsUsedWhenEnvelopeHasNone) {
  CommandEnvelope envelope = Envelope(CommandType::kLoginUser, {});
  envelope.idempotency_key.clear();
  envelope.command.idempotency_key = "from-command";
  Decision decision = Decide(envelope, {}, Context());
  ASSERT_EQ(decision.events.size(), 2u);
  EXPECT_EQ(decision.events[0].idempotency_key, "from-command");
  EXPECT_EQ(decision.events[1].idempotency_key, "from-command");
}

// ---- StreamsToLoad ----

TEST(DomainStreams, ListsStreamsPerCommand) {
  using Keys = std::vector<StreamKey>;
  StreamKey task{EntityType::kTask, kTaskId};
  StreamKey user{EntityType::kUser, "user-1"};
  StreamKey settings{EntityType::kUserSettings, "user-1"};
  EXPECT_EQ(StreamsToLoad(Envelope(CommandType::kCreateTask, {{"title", "a"}})), Keys{});
  EXPECT_EQ(StreamsToLoad(Envelope(CommandType::kCreateTask, {{"title", "a"}, {"id", kTaskId}})),
            Keys{task});
  EXPECT_EQ(StreamsToLoad(Envelope(CommandType::kUpdateTask, {{"id", kTaskId}, {"done", true}})),
            Keys{task});
  EXPECT_EQ(StreamsToLoad(Envelope(CommandType::kCompleteTask, {{"id", kTaskId}})), Keys{task});
  EXPECT_EQ(StreamsToLoad(Envelope(CommandType::kReopenTask, {{"id", kTaskId}})), Keys{task});
  EXPECT_EQ(StreamsToLoad(Envelope(CommandType::kLoginUser, {})), (Keys{user, settings}));
  EXPECT_EQ(StreamsToLoad(Envelope(CommandType::kLogoutUser, {})), Keys{user});
  EXPECT_EQ(StreamsToLoad(Envelope(CommandType::kUpdateUserSettings, {{"showDoneTasks", true}})),
            Keys{settings});
}

TEST(DomainStreams, MalformedTaskCommandNeedsNoStream) {
  EXPECT_TRUE(StreamsToLoad(Envelope(CommandType::kCompleteTask, {})).empty());
  EXPECT_TRUE(StreamsToLoad(Envelope(CommandType::kCompleteTask, {{"id", 5}})).empty());
}

TEST(DomainStreams, UppercaseIdIsLoadedLowercase) {
  std::vector<StreamKey> keys = StreamsToLoad(
      Envelope(CommandType::kCompleteTask, {{"id", "0190F5A2-7B1C-7DEF-8ABC-0123456789AB"}}));
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0].id, kTaskId);
}

// ---- Fold ----

std::vector<Event> TaskStream() {
  return {
      MakeEvent(EntityType::kTask, kTaskId, kTaskCreated,
                {{"title", "t"}, {"notes", "n"}, {"category", "fun"}, {"order", 4}}, 1),
      MakeEvent(EntityType::kTask, kTaskId, kTaskUpdated, {{"title", "t2"}, {"order", 6}}, 2),
      MakeEvent(EntityType::kTask, kTaskId, kTaskCompleted, {}, 3),
      MakeEvent(EntityType::kTask, kTaskId, kTaskUpdated,
                {{"category", "critical"}, {"done", false}}, 4),
      MakeEvent(EntityType::kTask, kTaskId, kTaskCompleted, {}, 5),
      MakeEvent(EntityType::kTask, kTaskId, kTaskReopened, {}, 6),
      MakeEvent(EntityType::kTask, kTaskId, kTaskUpdated, {{"notes", ""}}, 7),
  };
}

bool SameTask(const TaskState& a, const TaskState& b) {
  return a.exists == b.exists && a.owner == b.owner && a.title == b.title && a.notes == b.notes &&
         a.category == b.category && a.order == b.order && a.done == b.done &&
         a.version == b.version;
}

TEST(DomainFold, TaskEventsInOrder) {
  TaskState task;
  std::vector<Event> events = TaskStream();
  Fold(task, events[0]);
  EXPECT_TRUE(task.exists);
  EXPECT_EQ(task.owner, "user-1");
  EXPECT_EQ(task.title, "t");
  EXPECT_EQ(task.notes, "n");
  EXPECT_EQ(task.category, "fun");
  EXPECT_EQ(task.order, 4);
  EXPECT_FALSE(task.done);
  Fold(task, events[1]);
  EXPECT_EQ(task.title, "t2");
  EXPECT_EQ(task.order, 6);
  EXPECT_EQ(task.category, "fun");
  Fold(task, events[2]);
  EXPECT_TRUE(task.done);
  Fold(task, events[3]);
  EXPECT_EQ(task.category, "critical");
  EXPECT_FALSE(task.done);
  Fold(task, events[4]);
  Fold(task, events[5]);
  EXPECT_FALSE(task.done);
  Fold(task, events[6]);
  EXPECT_EQ(task.notes, "");
  EXPECT_EQ(task.version, 7);
}

TEST(DomainFold, TaskStreamTwiceEqualsOnce) {
  TaskState once;
  TaskState twice;
  for (const Event& event : TaskStream()) Fold(once, event);
  for (int round = 0; round < 2; ++round) {
    for (const Event& event : TaskStream()) Fold(twice, event);
  }
  EXPECT_TRUE(SameTask(once, twice));
}

TEST(DomainFold, RepeatedEventIsSkipped) {
  TaskState task;
  std::vector<Event> events = TaskStream();
  Fold(task, events[0]);
  Fold(task, events[1]);
  Fold(task, events[1]);
  Fold(task, events[0]);  // an older version must not reset the title
  EXPECT_EQ(task.title, "t2");
  EXPECT_EQ(task.version, 2);
}

TEST(DomainFold, OtherEntityTypeIsSkipped) {
  TaskState task;
  Fold(task, MakeEvent(EntityType::kUser, "user-1", kUserCreated, {}, 1));
  EXPECT_FALSE(task.exists);
  EXPECT_EQ(task.version, 0);
  UserState user;
  Fold(user, MakeEvent(EntityType::kUserSettings, "user-1", kUserSettingsCreated, {}, 1));
  EXPECT_EQ(user.version, 0);
  SettingsState settings;
  Fold(settings, MakeEvent(EntityType::kUser, "user-1", kUserCreated, {}, 1));
  EXPECT_EQ(settings.version, 0);
}

TEST(DomainFold, UnknownEventTypeAdvancesVersion) {
  TaskState task = ExistingTask();
  Fold(task, MakeEvent(EntityType::kTask, kTaskId, "task-archived", {{"title", "zzz"}}, 2));
  EXPECT_EQ(task.version, 2);
  EXPECT_EQ(task.title, "t");
}

TEST(DomainFold, WrongDataTypesAreIgnored) {
  TaskState task = ExistingTask();
  Fold(task, MakeEvent(EntityType::kTask, kTaskId, kTaskUpdated,
                       {{"title", 5}, {"order", "x"}, {"done", "yes"}, {"notes", "ok"}}, 2));
  EXPECT_EQ(task.title, "t");
  EXPECT_EQ(task.order, 0);
  EXPECT_FALSE(task.done);
  EXPECT_EQ(task.notes, "ok");
  EXPECT_EQ(task.version, 2);
}

TEST(DomainFold, UserEvents) {
  UserState user;
  Fold(user, MakeEvent(EntityType::kUser, "user-1", kUserCreated,
                       {{"name", "Ada"}, {"email", "a@b.c"}}, 1));
  EXPECT_TRUE(user.exists);
  EXPECT_TRUE(user.signed_in);
  EXPECT_EQ(user.name, "Ada");
  EXPECT_EQ(user.email, "a@b.c");
  Fold(user, MakeEvent(EntityType::kUser, "user-1", kUserLoggedOut, {}, 2));
  EXPECT_FALSE(user.signed_in);
  Fold(user, MakeEvent(EntityType::kUser, "user-1", kUserLoggedIn, {}, 3));
  EXPECT_TRUE(user.signed_in);
  Fold(user, MakeEvent(EntityType::kUser, "user-1", kUserLoggedOut, {}, 2));
  EXPECT_TRUE(user.signed_in);
  EXPECT_EQ(user.version, 3);
}

TEST(DomainFold, SettingsEvents) {
  SettingsState settings;
  Fold(settings, MakeEvent(EntityType::kUserSettings, "user-1", kUserSettingsCreated,
                           {{"tasksPerCategory", 3}, {"showDoneTasks", false}}, 1));
  EXPECT_TRUE(settings.exists);
  EXPECT_EQ(settings.tasks_per_category, 3);
  Fold(settings, MakeEvent(EntityType::kUserSettings, "user-1", kUserSettingsUpdated,
                           {{"tasksPerCategory", 7}}, 2));
  EXPECT_EQ(settings.tasks_per_category, 7);
  EXPECT_FALSE(settings.show_done_tasks);
  Fold(settings, MakeEvent(EntityType::kUserSettings, "user-1", kUserSettingsUpdated,
                           {{"showDoneTasks", true}}, 3));
  EXPECT_TRUE(settings.show_done_tasks);
  EXPECT_EQ(settings.tasks_per_category, 7);
  SettingsState twice = settings;
  Fold(twice, MakeEvent(EntityType::kUserSettings, "user-1", kUserSettingsUpdated,
                        {{"showDoneTasks", false}}, 3));
  EXPECT_TRUE(twice.show_done_tasks);
  EXPECT_EQ(twice.version, 3);
}

TEST(DomainFold, DecidedEventsFoldToCommandResult) {
  TaskState task;
  LoadedState state;
  DecideContext context = Context();
  auto apply = [&](CommandType type, json::object data) {
    Decision decision = Decide(Envelope(type, std::move(data)), state, context);
    for (const Event& event : decision.events) Fold(task, event);
    state = WithTask(task);
  };
  apply(CommandType::kCreateTask, {{"id", kTaskId}, {"title", "a"}, {"category", "fun"}});
  apply(CommandType::kCompleteTask, {{"id", kTaskId}});
  apply(CommandType::kUpdateTask, {{"id", kTaskId}, {"category", "normal"}});
  EXPECT_EQ(task.category, "normal");
  EXPECT_FALSE(task.done);
  EXPECT_EQ(task.version, 3);
}

}  // namespace
}  // namespace prism::domain
