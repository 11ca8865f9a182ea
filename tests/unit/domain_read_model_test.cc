#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "domain/decide.h"
#include "domain/read_model.h"

namespace prism::domain {
namespace {

namespace json = boost::json;

const std::string kTaskId = "0190f5a2-7b1c-7def-8abc-0123456789ab";

Event MakeEvent(EntityType entity_type, std::string entity_id, std::string_view type,
                json::object data, int64_t version, int64_t position = 0) {
  Event event;
  event.id = "event-" + std::to_string(version);
  event.entity_id = std::move(entity_id);
  event.entity_type = entity_type;
  event.type = std::string(type);
  event.data = std::move(data);
  event.version = version;
  event.position = position;
  event.user_id = "user-1";
  return event;
}

Event TaskEvent(std::string_view type, json::object data, int64_t version, int64_t position = 0) {
  return MakeEvent(EntityType::kTask, kTaskId, type, std::move(data), version, position);
}

Event Created() {
  return TaskEvent(kTaskCreated,
                   {{"title", "t"}, {"notes", "n"}, {"category", "fun"}, {"order", 2}}, 1, 41);
}

bool SameRow(const TaskRow& a, const TaskRow& b) {
  return a.id == b.id && a.user_id == b.user_id && a.title == b.title && a.notes == b.notes &&
         a.category == b.category && a.order == b.order && a.done == b.done &&
         a.version == b.version && a.created_position == b.created_position;
}

TEST(ReadModel, TaskCreatedFillsRow) {
  TaskRow row;
  EXPECT_EQ(ApplyToTask(row, Created()), ApplyResult::kApplied);
  EXPECT_EQ(row.id, kTaskId);
  EXPECT_EQ(row.user_id, "user-1");
  EXPECT_EQ(row.title, "t");
  EXPECT_EQ(row.notes, "n");
  EXPECT_EQ(row.category, "fun");
  EXPECT_EQ(row.order, 2);
  EXPECT_FALSE(row.done);
  EXPECT_EQ(row.version, 1);
  EXPECT_EQ(row.created_position, 41);
}

TEST(ReadModel, TaskUpdatedMergesGivenFields) {
  TaskRow row;
  ASSERT_EQ(ApplyToTask(row, Created()), ApplyResult::kApplied);
  EXPECT_EQ(ApplyToTask(row, TaskEvent(kTaskUpdated, {{"title", "u"}, {"done", true}}, 2, 50)),
            ApplyResult::kApplied);
  EXPECT_EQ(row.title, "u");
  EXPECT_TRUE(row.done);
  EXPECT_EQ(row.notes, "n");
  EXPECT_EQ(row.category, "fun");
  EXPECT_EQ(row.order, 2);
  EXPECT_EQ(row.version, 2);
  EXPECT_EQ(row.created_position, 41);
}

TEST(ReadModel, TaskCompletedAndReopened) {
  TaskRow row;
  ASSERT_EQ(ApplyToTask(row, Created()), ApplyResult::kApplied);
  EXPECT_EQ(ApplyToTask(row, TaskEvent(kTaskCompleted, {}, 2)), ApplyResult::kApplied);
  EXPECT_TRUE(row.done);
  EXPECT_EQ(ApplyToTask(row, TaskEvent(kTaskReopened, {}, 3)), ApplyResult::kApplied);
  EXPECT_FALSE(row.done);
  EXPECT_EQ(row.version, 3);
}

TEST(ReadModel, OldVersionIsDuplicate) {
  TaskRow row;
  ASSERT_EQ(ApplyToTask(row, Created()), ApplyResult::kApplied);
  ASSERT_EQ(ApplyToTask(row, TaskEvent(kTaskUpdated, {{"title", "u"}}, 2)), ApplyResult::kApplied);
  EXPECT_EQ(ApplyToTask(row, TaskEvent(kTaskUpdated, {{"title", "old"}}, 2)),
            ApplyResult::kDuplicate);
  EXPECT_EQ(ApplyToTask(row, Created()), ApplyResult::kDuplicate);
  EXPECT_EQ(row.title, "u");
  EXPECT_EQ(row.version, 2);
}

TEST(ReadModel, SkippedVersionIsGap) {
  TaskRow row;
  ASSERT_EQ(ApplyToTask(row, Created()), ApplyResult::kApplied);
  EXPECT_EQ(ApplyToTask(row, TaskEvent(kTaskCompleted, {}, 3)), ApplyResult::kGap);
  EXPECT_FALSE(row.done);
  EXPECT_EQ(row.version, 1);
  TaskRow empty;
  EXPECT_EQ(ApplyToTask(empty, TaskEvent(kTaskCompleted, {}, 2)), ApplyResult::kGap);
  EXPECT_EQ(empty.version, 0);
}

TEST(ReadModel, OtherEntityOrStreamIsIgnored) {
  TaskRow row;
  ASSERT_EQ(ApplyToTask(row, Created()), ApplyResult::kApplied);
  EXPECT_EQ(ApplyToTask(row, MakeEvent(EntityType::kUser, "user-1", kUserCreated, {}, 2)),
            ApplyResult::kIgnored);
  EXPECT_EQ(ApplyToTask(row, MakeEvent(EntityType::kTask, "another", kTaskCompleted, {}, 2)),
            ApplyResult::kIgnored);
  EXPECT_EQ(row.version, 1);
  SettingsRow settings;
  EXPECT_EQ(ApplyToSettings(settings, Created()), ApplyResult::kIgnored);
  UserRow user;
  EXPECT_EQ(ApplyToUser(user, Created()), ApplyResult::kIgnored);
}

struct InvalidEventCase {
  std::string name;
  Event event;
  bool after_created;
};

class ReadModelInvalid : public testing::TestWithParam<InvalidEventCase> {};

TEST_P(ReadModelInvalid, LeavesRowUntouched) {
  TaskRow row;
  if (GetParam().after_created) {
    ASSERT_EQ(ApplyToTask(row, Created()), ApplyResult::kApplied);
  }
  TaskRow before = row;
  EXPECT_EQ(ApplyToTask(row, GetParam().event), ApplyResult::kInvalid);
  EXPECT_TRUE(SameRow(row, before));
}

INSTANTIATE_TEST_SUITE_P(
    ReadModel, ReadModelInvalid,
    testing::Values(
        InvalidEventCase{"CreatedWithoutTitle", TaskEvent(kTaskCreated, {{"order", 1}}, 1), false},
        InvalidEventCase{"CreatedTitleNumber", TaskEvent(kTaskCreated, {{"title", 1}}, 1), false},
        InvalidEventCase{"UpdatedAsFirstEvent", TaskEvent(kTaskUpdated, {{"title", "a"}}, 1),
                         false},
        InvalidEventCase{"CreatedTwice", TaskEvent(kTaskCreated, {{"title", "a"}}, 2), true},
        InvalidEventCase{"UpdatedOrderString", TaskEvent(kTaskUpdated, {{"order", "1"}}, 2), true},
        InvalidEventCase{"UpdatedOrderFloat", TaskEvent(kTaskUpdated, {{"order", 1.5}}, 2), true},
        InvalidEventCase{"UpdatedDoneNumber",
                         TaskEvent(kTaskUpdated, {{"title", "ok"}, {"done", 1}}, 2), true},
        InvalidEventCase{"UnknownType", TaskEvent("task-archived", {}, 2), true}),
    [](const testing::TestParamInfo<InvalidEventCase>& info) { return info.param.name; });

TEST(ReadModel, ReplayingStreamTwiceEqualsOnce) {
  std::vector<Event> events = {
      Created(),
      TaskEvent(kTaskUpdated, {{"category", "critical"}}, 2),
      TaskEvent(kTaskCompleted, {}, 3),
      TaskEvent(kTaskUpdated, {{"category", "normal"}, {"done", false}}, 4),
  };
  TaskRow once;
  for (const Event& event : events) ASSERT_EQ(ApplyToTask(once, event), ApplyResult::kApplied);
  TaskRow twice = once;
  for (const Event& event : events) EXPECT_EQ(ApplyToTask(twice, event), ApplyResult::kDuplicate);
  EXPECT_TRUE(SameRow(once, twice));
}

TEST(ReadModel, SettingsEvents) {
  SettingsRow row;
  Event created = MakeEvent(EntityType::kUserSettings, "user-1", kUserSettingsCreated,
                            {{"tasksPerCategory", 3}, {"showDoneTasks", false}}, 1);
  EXPECT_EQ(ApplyToSettings(row, created), ApplyResult::kApplied);
  EXPECT_EQ(row.user_id, "user-1");
  EXPECT_EQ(row.tasks_per_category, 3);
  EXPECT_EQ(ApplyToSettings(row, MakeEvent(EntityType::kUserSettings, "user-1",
                                           kUserSettingsUpdated, {{"tasksPerCategory", 9}}, 2)),
            ApplyResult::kApplied);
  EXPECT_EQ(row.tasks_per_category, 9);
  EXPECT_FALSE(row.show_done_tasks);
  EXPECT_EQ(row.version, 2);
  EXPECT_EQ(ApplyToSettings(row, created), ApplyResult::kDuplicate);
  EXPECT_EQ(ApplyToSettings(row, MakeEvent(EntityType::kUserSettings, "user-1",
                                           kUserSettingsUpdated, {{"showDoneTasks", true}}, 4)),
            ApplyResult::kGap);
  EXPECT_EQ(ApplyToSettings(row, MakeEvent(EntityType::kUserSettings, "user-1",
                                           kUserSettingsUpdated, {{"showDoneTasks", 1}}, 3)),
            ApplyResult::kInvalid);
  EXPECT_EQ(ApplyToSettings(row, MakeEvent(EntityType::kUserSettings, "user-2",
                                           kUserSettingsUpdated, {{"showDoneTasks", true}}, 3)),
            ApplyResult::kIgnored);
  EXPECT_EQ(row.version, 2);
}

TEST(ReadModel, UserEvents) {
  UserRow row;
  EXPECT_EQ(ApplyToUser(row, MakeEvent(EntityType::kUser, "user-1", kUserCreated,
                                       {{"name", "Ada"}, {"email", "a@b.c"}}, 1)),
            ApplyResult::kApplied);
  EXPECT_EQ(row.user_id, "user-1");
  EXPECT_EQ(row.name, "Ada");
  EXPECT_EQ(row.email, "a@b.c");
  EXPECT_TRUE(row.signed_in);
  EXPECT_EQ(ApplyToUser(row, MakeEvent(EntityType::kUser, "user-1", kUserLoggedOut, {}, 2)),
            ApplyResult::kApplied);
  EXPECT_FALSE(row.signed_in);
  EXPECT_EQ(ApplyToUser(row, MakeEvent(EntityType::kUser, "user-1", kUserLoggedIn, {}, 3)),
            ApplyResult::kApplied);
  EXPECT_TRUE(row.signed_in);
  EXPECT_EQ(ApplyToUser(row, MakeEvent(EntityType::kUser, "user-1", kUserLoggedOut, {}, 3)),
            ApplyResult::kDuplicate);
  EXPECT_TRUE(row.signed_in);
  EXPECT_EQ(row.version, 3);
}

TEST(ReadModel, UserLoginBeforeCreatedIsInvalid) {
  UserRow row;
  EXPECT_EQ(ApplyToUser(row, MakeEvent(EntityType::kUser, "user-1", kUserLoggedIn, {}, 1)),
            ApplyResult::kInvalid);
  EXPECT_EQ(row.version, 0);
}

TEST(ReadModel, TaskJsonOmitsEmptyNotesAndFalseDone) {
  TaskRow row;
  row.id = kTaskId;
  row.title = "t";
  EXPECT_EQ(json::serialize(TaskToJson(row)),
            R"({"id":"0190f5a2-7b1c-7def-8abc-0123456789ab","title":"t","category":"normal",)"
            R"("order":0})");
}

TEST(ReadModel, TaskJsonIncludesNotesAndDone) {
  TaskRow row;
  row.id = kTaskId;
  row.title = "t";
  row.notes = "n";
  row.category = "fun";
  row.order = 3;
  row.done = true;
  EXPECT_EQ(json::serialize(TaskToJson(row)),
            R"({"id":"0190f5a2-7b1c-7def-8abc-0123456789ab","title":"t","notes":"n",)"
            R"("category":"fun","order":3,"done":true})");
}

TEST(ReadModel, SettingsJson) {
  SettingsRow row;
  EXPECT_EQ(json::serialize(SettingsToJson(row)),
            R"({"tasksPerCategory":3,"showDoneTasks":false})");
  row.tasks_per_category = 12;
  row.show_done_tasks = true;
  EXPECT_EQ(json::serialize(SettingsToJson(row)),
            R"({"tasksPerCategory":12,"showDoneTasks":true})");
}

TEST(ReadModel, DecidedEventsProjectAfterJsonRoundTrip) {
  CommandEnvelope envelope;
  envelope.user_id = "user-1";
  envelope.command.type = CommandType::kCreateTask;
  envelope.command.data = {{"id", kTaskId}, {"title", "a"}};
  Decision decision = Decide(envelope, {}, DecideContext{});
  ASSERT_EQ(decision.events.size(), 1u);
  Event parsed;
  std::string error;
  ASSERT_TRUE(ParseEvent(Serialize(decision.events[0]), &parsed, &error)) << error;
  TaskRow row;
  EXPECT_EQ(ApplyToTask(row, parsed), ApplyResult::kApplied);
  EXPECT_EQ(row.title, "a");
  EXPECT_EQ(row.notes, "");
  EXPECT_EQ(row.category, "normal");
}

}  // namespace
}  // namespace prism::domain
