#include <cstdint>
#include <random>
#include <string>
#include <variant>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "domain/command.h"

namespace prism::domain {
namespace {

namespace json = boost::json;

// Returns the admission error of `body`, or "accepted" when the batch is valid.
std::string ErrorOf(std::string_view body) {
  auto result = ParseCommandBatch(body);
  if (auto* error = std::get_if<AdmissionError>(&result)) return error->message;
  return "accepted";
}

std::vector<Command> Accept(std::string_view body) {
  auto result = ParseCommandBatch(body);
  if (auto* error = std::get_if<AdmissionError>(&result)) {
    ADD_FAILURE() << "rejected: " << error->message << "\nbody: " << body;
    return {};
  }
  return std::get<std::vector<Command>>(result);
}

// A one-command batch body.
std::string One(std::string_view entity_type, std::string_view type, json::value data) {
  json::object command{{"entityType", entity_type}, {"type", type}};
  if (!data.is_null()) command["data"] = data;
  return json::serialize(json::array{command});
}

std::string Task(std::string_view type, json::value data) { return One("task", type, data); }

std::string Repeat(std::string_view unit, size_t count) {
  std::string out;
  for (size_t i = 0; i < count; ++i) out += unit;
  return out;
}

constexpr std::string_view kId = "0190f5a2-7b1c-7def-8abc-0123456789ab";

// ---- Valid commands ----

struct ValidCase {
  std::string name;
  std::string body;
  EntityType entity_type;
  CommandType type;
  std::string normalised_data;  // serialised JSON object
};

class CommandValid : public testing::TestWithParam<ValidCase> {};

TEST_P(CommandValid, IsAcceptedAndNormalised) {
  const ValidCase& c = GetParam();
  std::vector<Command> commands = Accept(c.body);
  ASSERT_EQ(commands.size(), 1u);
  EXPECT_EQ(commands[0].entity_type, c.entity_type);
  EXPECT_EQ(commands[0].type, c.type);
  EXPECT_EQ(json::serialize(commands[0].data), c.normalised_data);
  EXPECT_EQ(commands[0].idempotency_key, "");
}

TEST_P(CommandValid, SurvivesQueueRoundTrip) {
  const ValidCase& c = GetParam();
  std::vector<Command> commands = Accept(c.body);
  ASSERT_EQ(commands.size(), 1u);
  std::string error;
  std::optional<Command> queued = ParseQueuedCommand(SerializeCommand(commands[0]), &error);
  ASSERT_TRUE(queued.has_value()) << error;
  EXPECT_EQ(queued->entity_type, c.entity_type);
  EXPECT_EQ(queued->type, c.type);
  EXPECT_EQ(json::serialize(queued->data), c.normalised_data);
}

const std::string kTitle500 = Repeat("\xC3\xA9", 500);          // 500 code points, 1000 bytes
const std::string kEmoji500 = Repeat("\xF0\x9F\x98\x80", 500);  // 500 code points, 2000 bytes
const std::string kNotes10000 = Repeat("\xE2\x82\xAC", 10000);
const std::string kName256 = Repeat("n", 256);

INSTANTIATE_TEST_SUITE_P(
    Command, CommandValid,
    testing::Values(
        ValidCase{"CreateMinimal", Task("create-task", {{"title", "Buy milk"}}), EntityType::kTask,
                  CommandType::kCreateTask, R"({"title":"Buy milk"})"},
        ValidCase{"CreateTrimsTitle", Task("create-task", {{"title", " \t Buy milk \n"}}),
                  EntityType::kTask, CommandType::kCreateTask, R"({"title":"Buy milk"})"},
        ValidCase{"CreateTrimsUnicodeSpace",
                  Task("create-task", {{"title",
                                        "\xE3\x80\x80\xC2\xA0Tea\xC2\xA0time\xE2\x80\xA8"
                                        "\xEF\xBB\xBF"}}),
                  EntityType::kTask, CommandType::kCreateTask, "{\"title\":\"Tea\xC2\xA0time\"}"},
        ValidCase{"CreateFull",
                  Task("create-task", {{"title", "a"},
                                       {"notes", "n"},
                                       {"category", "critical"},
                                       {"order", 7},
                                       {"id", "0190F5A2-7B1C-7DEF-8ABC-0123456789AB"}}),
                  EntityType::kTask, CommandType::kCreateTask,
                  R"({"id":"0190f5a2-7b1c-7def-8abc-0123456789ab","title":"a","notes":"n",)"
                  R"("category":"critical","order":7})"},
        ValidCase{"CreateDropsUnknownFields",
                  Task("create-task", {{"title", "a"},
                                       {"done", true},
                                       {"userId", "someone"},
                                       {"nested", {{"deep", json::array{1, 2.5, nullptr}}}},
                                       {"huge", 1e300}}),
                  EntityType::kTask, CommandType::kCreateTask, R"({"title":"a"})"},
        ValidCase{"CreateTitle500TwoByte", Task("create-task", {{"title", kTitle500}}),
                  EntityType::kTask, CommandType::kCreateTask, "{\"title\":\"" + kTitle500 + "\"}"},
        ValidCase{"CreateTitle500Emoji", Task("create-task", {{"title", kEmoji500}}),
                  EntityType::kTask, CommandType::kCreateTask, "{\"title\":\"" + kEmoji500 + "\"}"},
        ValidCase{"CreateTitle500PaddedBySpaces",
                  Task("create-task", {{"title", "   " + Repeat("a", 500) + "   "}}),
                  EntityType::kTask, CommandType::kCreateTask,
                  "{\"title\":\"" + Repeat("a", 500) + "\"}"},
        ValidCase{"CreateNotes10000", Task("create-task", {{"title", "a"}, {"notes", kNotes10000}}),
                  EntityType::kTask, CommandType::kCreateTask,
                  "{\"title\":\"a\",\"notes\":\"" + kNotes10000 + "\"}"},
        ValidCase{"CreateNotesEmpty", Task("create-task", {{"title", "a"}, {"notes", ""}}),
                  EntityType::kTask, CommandType::kCreateTask, R"({"title":"a","notes":""})"},
        ValidCase{"CreateOrderZero", Task("create-task", {{"title", "a"}, {"order", 0}}),
                  EntityType::kTask, CommandType::kCreateTask, R"({"title":"a","order":0})"},
        ValidCase{"CreateOrderMax", Task("create-task", {{"title", "a"}, {"order", 2147483647}}),
                  EntityType::kTask, CommandType::kCreateTask,
                  R"({"title":"a","order":2147483647})"},
        ValidCase{"CreateOrderNegativeZero",
                  R"([{"entityType":"task","type":"create-task","data":{"title":"a","order":-0}}])",
                  EntityType::kTask, CommandType::kCreateTask, R"({"title":"a","order":0})"},
        ValidCase{"CreateEachCategory", Task("create-task", {{"title", "a"}, {"category", "fun"}}),
                  EntityType::kTask, CommandType::kCreateTask, R"({"title":"a","category":"fun"})"},
        ValidCase{
            "CreateImportant", Task("create-task", {{"title", "a"}, {"category", "important"}}),
            EntityType::kTask, CommandType::kCreateTask, R"({"title":"a","category":"important"})"},
        ValidCase{"CreateNormal", Task("create-task", {{"title", "a"}, {"category", "normal"}}),
                  EntityType::kTask, CommandType::kCreateTask,
                  R"({"title":"a","category":"normal"})"},
        ValidCase{"UpdateTitle", Task("update-task", {{"id", kId}, {"title", " b "}}),
                  EntityType::kTask, CommandType::kUpdateTask,
                  R"({"id":"0190f5a2-7b1c-7def-8abc-0123456789ab","title":"b"})"},
        ValidCase{"UpdateEveryField",
                  Task("update-task", {{"id", kId},
                                       {"title", "t"},
                                       {"notes", ""},
                                       {"category", "fun"},
                                       {"order", 3},
                                       {"done", false}}),
                  EntityType::kTask, CommandType::kUpdateTask,
                  R"({"id":"0190f5a2-7b1c-7def-8abc-0123456789ab","title":"t","notes":"",)"
                  R"("category":"fun","order":3,"done":false})"},
        ValidCase{"UpdateDoneOnly", Task("update-task", {{"id", kId}, {"done", true}}),
                  EntityType::kTask, CommandType::kUpdateTask,
                  R"({"id":"0190f5a2-7b1c-7def-8abc-0123456789ab","done":true})"},
        ValidCase{"Complete", Task("complete-task", {{"id", kId}, {"extra", 1}}), EntityType::kTask,
                  CommandType::kCompleteTask, R"({"id":"0190f5a2-7b1c-7def-8abc-0123456789ab"})"},
        ValidCase{"Reopen", Task("reopen-task", {{"id", kId}}), EntityType::kTask,
                  CommandType::kReopenTask, R"({"id":"0190f5a2-7b1c-7def-8abc-0123456789ab"})"},
        ValidCase{"LoginWithoutData", One("user", "login-user", nullptr), EntityType::kUser,
                  CommandType::kLoginUser, "{}"},
        ValidCase{"LoginWithProfile",
                  One("user", "login-user", {{"name", kName256}, {"email", "a@b.c"}}),
                  EntityType::kUser, CommandType::kLoginUser,
                  "{\"name\":\"" + kName256 + "\",\"email\":\"a@b.c\"}"},
        ValidCase{"LogoutWithoutData", One("user", "logout-user", nullptr), EntityType::kUser,
                  CommandType::kLogoutUser, "{}"},
        ValidCase{"LogoutDropsData", One("user", "logout-user", {{"reason", "bye"}}),
                  EntityType::kUser, CommandType::kLogoutUser, "{}"},
        ValidCase{"LogoutNullData", R"([{"entityType":"user","type":"logout-user","data":null}])",
                  EntityType::kUser, CommandType::kLogoutUser, "{}"},
        ValidCase{"SettingsMin",
                  One("user-settings", "update-user-settings", {{"tasksPerCategory", 1}}),
                  EntityType::kUserSettings, CommandType::kUpdateUserSettings,
                  R"({"tasksPerCategory":1})"},
        ValidCase{"SettingsMax",
                  One("user-settings", "update-user-settings",
                      {{"tasksPerCategory", 1000}, {"showDoneTasks", true}}),
                  EntityType::kUserSettings, CommandType::kUpdateUserSettings,
                  R"({"tasksPerCategory":1000,"showDoneTasks":true})"},
        ValidCase{"SettingsShowDoneOnly",
                  One("user-settings", "update-user-settings", {{"showDoneTasks", false}}),
                  EntityType::kUserSettings, CommandType::kUpdateUserSettings,
                  R"({"showDoneTasks":false})"}),
    [](const testing::TestParamInfo<ValidCase>& info) { return info.param.name; });

// ---- Invalid commands: the exact message ----

struct InvalidCase {
  std::string name;
  std::string body;
  std::string message;
};

class CommandInvalid : public testing::TestWithParam<InvalidCase> {};

TEST_P(CommandInvalid, IsRejectedWithMessage) {
  EXPECT_EQ(ErrorOf(GetParam().body), GetParam().message) << GetParam().body;
}

const std::string kTitleRule = "command 0: data.title must be 1-500 characters after trimming";
const std::string kOrderRule = "command 0: data.order must be an integer from 0 to 2147483647";
const std::string kPerCategoryRule =
    "command 0: data.tasksPerCategory must be an integer from 1 to 1000";
const std::string kCategoryRule =
    "command 0: data.category must be one of critical, fun, important, normal";
const std::string kKeyRule =
    "command 0: idempotencyKey must be 1-128 printable ASCII characters without spaces";

std::string CreateWith(std::string_view raw_field) {
  return R"([{"entityType":"task","type":"create-task","data":{"title":"a",)" +
         std::string(raw_field) + "}}]";
}

std::string Settings(std::string_view raw_data) {
  return R"([{"entityType":"user-settings","type":"update-user-settings","data":)" +
         std::string(raw_data) + "}]";
}

INSTANTIATE_TEST_SUITE_P(
    Command, CommandInvalid,
    testing::Values(
        // create-task
        InvalidCase{"CreateNoData", One("task", "create-task", nullptr),
                    "command 0: missing data.title"},
        InvalidCase{"CreateEmptyData", Task("create-task", json::object{}),
                    "command 0: missing data.title"},
        InvalidCase{"CreateTitleNumber", Task("create-task", {{"title", 5}}),
                    "command 0: data.title must be a string"},
        InvalidCase{"CreateTitleNull", Task("create-task", {{"title", nullptr}}),
                    "command 0: data.title must be a string"},
        InvalidCase{"CreateTitleEmpty", Task("create-task", {{"title", ""}}), kTitleRule},
        InvalidCase{"CreateTitleBlank", Task("create-task", {{"title", " \t\n\xE3\x80\x80"}}),
                    kTitleRule},
        InvalidCase{"CreateTitle501", Task("create-task", {{"title", Repeat("a", 501)}}),
                    kTitleRule},
        InvalidCase{"CreateTitle501TwoByte",
                    Task("create-task", {{"title", kTitle500 + "\xC3\xA9"}}), kTitleRule},
        InvalidCase{"CreateTitleNul", Task("create-task", {{"title", std::string("a\0b", 3)}}),
                    "command 0: data.title must not contain U+0000"},
        InvalidCase{"CreateNotesNumber", Task("create-task", {{"title", "a"}, {"notes", 1}}),
                    "command 0: data.notes must be a string"},
        InvalidCase{"CreateNotesNull", CreateWith(R"("notes":null)"),
                    "command 0: data.notes must be a string"},
        InvalidCase{"CreateNotes10001",
                    Task("create-task", {{"title", "a"}, {"notes", kNotes10000 + "x"}}),
                    "command 0: data.notes must be at most 10000 characters"},
        InvalidCase{"CreateNotesNul", CreateWith(R"("notes":"\u0000")"),
                    "command 0: data.notes must not contain U+0000"},
        InvalidCase{"CreateCategoryUnknown", CreateWith(R"("category":"urgent")"), kCategoryRule},
        InvalidCase{"CreateCategoryCase", CreateWith(R"("category":"Normal")"), kCategoryRule},
        InvalidCase{"CreateCategoryNumber", CreateWith(R"("category":1)"), kCategoryRule},
        InvalidCase{"CreateOrderNegative", CreateWith(R"("order":-1)"), kOrderRule},
        InvalidCase{"CreateOrderTooLarge", CreateWith(R"("order":2147483648)"), kOrderRule},
        InvalidCase{"CreateOrderFraction", CreateWith(R"("order":1.5)"), kOrderRule},
        InvalidCase{"CreateOrderWholeFloat", CreateWith(R"("order":3.0)"), kOrderRule},
        InvalidCase{"CreateOrderExponent", CreateWith(R"("order":1e2)"), kOrderRule},
        InvalidCase{"CreateOrderOverflowsDouble", CreateWith(R"("order":1e400)"), kOrderRule},
        InvalidCase{"CreateOrderNegativeHuge", CreateWith(R"("order":-1e400)"), kOrderRule},
        InvalidCase{"CreateOrderTwoToThe64", CreateWith(R"("order":18446744073709551616)"),
                    kOrderRule},
        InvalidCase{"CreateOrderUint64Max", CreateWith(R"("order":18446744073709551615)"),
                    kOrderRule},
        InvalidCase{"CreateOrderInt64Min", CreateWith(R"("order":-9223372036854775808)"),
                    kOrderRule},
        InvalidCase{"CreateOrderString", CreateWith(R"("order":"3")"), kOrderRule},
        InvalidCase{"CreateOrderBool", CreateWith(R"("order":true)"), kOrderRule},
        InvalidCase{"CreateIdNotUuid", CreateWith(R"("id":"task-1")"),
                    "command 0: data.id must be a UUID"},
        InvalidCase{"CreateIdNumber", CreateWith(R"("id":12)"),
                    "command 0: data.id must be a UUID"},
        // update-task
        InvalidCase{"UpdateNoId", Task("update-task", {{"title", "a"}}),
                    "command 0: missing data.id"},
        InvalidCase{"UpdateBadId", Task("update-task", {{"id", "x"}, {"title", "a"}}),
                    "command 0: data.id must be a UUID"},
        InvalidCase{"UpdateNothing", Task("update-task", {{"id", kId}}),
                    "command 0: data must contain at least one of title, notes, category, "
                    "order, done"},
        InvalidCase{"UpdateOnlyUnknown", Task("update-task", {{"id", kId}, {"colour", "red"}}),
                    "command 0: data must contain at least one of title, notes, category, "
                    "order, done"},
        InvalidCase{"UpdateDoneString", Task("update-task", {{"id", kId}, {"done", "yes"}}),
                    "command 0: data.done must be a boolean"},
        InvalidCase{"UpdateDoneNumber", Task("update-task", {{"id", kId}, {"done", 1}}),
                    "command 0: data.done must be a boolean"},
        InvalidCase{"UpdateTitleBlank", Task("update-task", {{"id", kId}, {"title", "  "}}),
                    kTitleRule},
        InvalidCase{"UpdateTitle501",
                    Task("update-task", {{"id", kId}, {"title", Repeat("b", 501)}}), kTitleRule},
        InvalidCase{"UpdateNotes10001",
                    Task("update-task", {{"id", kId}, {"notes", Repeat("n", 10001)}}),
                    "command 0: data.notes must be at most 10000 characters"},
        InvalidCase{"UpdateCategory", Task("update-task", {{"id", kId}, {"category", "later"}}),
                    kCategoryRule},
        InvalidCase{"UpdateOrderNegative", Task("update-task", {{"id", kId}, {"order", -1}}),
                    kOrderRule},
        // complete-task, reopen-task
        InvalidCase{"CompleteNoData", One("task", "complete-task", nullptr),
                    "command 0: missing data.id"},
        InvalidCase{"CompleteBadId", Task("complete-task", {{"id", "{" + std::string(kId) + "}"}}),
                    "command 0: data.id must be a UUID"},
        InvalidCase{"ReopenNoId", Task("reopen-task", json::object{}),
                    "command 0: missing data.id"},
        InvalidCase{"ReopenIdNull", Task("reopen-task", {{"id", nullptr}}),
                    "command 0: data.id must be a UUID"},
        // login-user, logout-user
        InvalidCase{"LoginNameNumber", One("user", "login-user", {{"name", 5}}),
                    "command 0: data.name must be a string"},
        InvalidCase{"LoginName257", One("user", "login-user", {{"name", Repeat("n", 257)}}),
                    "command 0: data.name must be at most 256 characters"},
        InvalidCase{"LoginEmailArray", One("user", "login-user", {{"email", json::array{}}}),
                    "command 0: data.email must be a string"},
        InvalidCase{"LoginEmail257", One("user", "login-user", {{"email", Repeat("e", 257)}}),
                    "command 0: data.email must be at most 256 characters"},
        InvalidCase{"LogoutDataString", One("user", "logout-user", "x"),
                    "command 0: data must be an object"},
        // update-user-settings
        InvalidCase{"SettingsNoData", One("user-settings", "update-user-settings", nullptr),
                    "command 0: data must contain at least one of tasksPerCategory, "
                    "showDoneTasks"},
        InvalidCase{"SettingsOnlyUnknown", Settings(R"({"theme":"dark"})"),
                    "command 0: data must contain at least one of tasksPerCategory, "
                    "showDoneTasks"},
        InvalidCase{"SettingsPerCategoryZero", Settings(R"({"tasksPerCategory":0})"),
                    kPerCategoryRule},
        InvalidCase{"SettingsPerCategory1001", Settings(R"({"tasksPerCategory":1001})"),
                    kPerCategoryRule},
        InvalidCase{"SettingsPerCategoryFloat", Settings(R"({"tasksPerCategory":2.5})"),
                    kPerCategoryRule},
        InvalidCase{"SettingsPerCategoryHuge", Settings(R"({"tasksPerCategory":1e400})"),
                    kPerCategoryRule},
        InvalidCase{"SettingsPerCategoryString", Settings(R"({"tasksPerCategory":"3"})"),
                    kPerCategoryRule},
        InvalidCase{"SettingsShowDoneString", Settings(R"({"showDoneTasks":"true"})"),
                    "command 0: data.showDoneTasks must be a boolean"},
        InvalidCase{"SettingsShowDoneNull", Settings(R"({"showDoneTasks":null})"),
                    "command 0: data.showDoneTasks must be a boolean"},
        // envelope fields
        InvalidCase{"MissingEntityType", R"([{"type":"create-task","data":{"title":"a"}}])",
                    "command 0: missing entityType"},
        InvalidCase{"UnknownEntityType", One("tasks", "create-task", {{"title", "a"}}),
                    "command 0: entityType must be one of task, user, user-settings"},
        InvalidCase{"EntityTypeNumber", R"([{"entityType":1,"type":"create-task"}])",
                    "command 0: entityType must be one of task, user, user-settings"},
        InvalidCase{"MissingType", R"([{"entityType":"task","data":{"title":"a"}}])",
                    "command 0: missing type"},
        InvalidCase{"UnknownType", Task("delete-task", {{"id", kId}}),
                    "command 0: type must be one of create-task, update-task, complete-task, "
                    "reopen-task, login-user, logout-user, update-user-settings"},
        InvalidCase{"TypeWrongCase", Task("Create-Task", {{"title", "a"}}),
                    "command 0: type must be one of create-task, update-task, complete-task, "
                    "reopen-task, login-user, logout-user, update-user-settings"},
        InvalidCase{"TaskTypeOnUser", One("user", "create-task", {{"title", "a"}}),
                    "command 0: entityType must be task for type create-task"},
        InvalidCase{"LoginOnTask", One("task", "login-user", nullptr),
                    "command 0: entityType must be user for type login-user"},
        InvalidCase{"LogoutOnSettings", One("user-settings", "logout-user", nullptr),
                    "command 0: entityType must be user for type logout-user"},
        InvalidCase{"SettingsOnUser",
                    One("user", "update-user-settings", {{"showDoneTasks", true}}),
                    "command 0: entityType must be user-settings for type update-user-settings"},
        InvalidCase{"DataArray", R"([{"entityType":"task","type":"create-task","data":[]}])",
                    "command 0: data must be an object"},
        InvalidCase{"KeyNumber",
                    R"([{"idempotencyKey":7,"entityType":"user","type":"logout-user"}])",
                    "command 0: idempotencyKey must be a string"},
        InvalidCase{"KeyEmpty",
                    R"([{"idempotencyKey":"","entityType":"user","type":"logout-user"}])",
                    kKeyRule},
        InvalidCase{"KeySpace",
                    R"([{"idempotencyKey":"a b","entityType":"user","type":"logout-user"}])",
                    kKeyRule},
        InvalidCase{"KeyNonAscii",
                    R"([{"idempotencyKey":"caf\u00e9","entityType":"user","type":"logout-user"}])",
                    kKeyRule},
        InvalidCase{"Key129",
                    "[{\"idempotencyKey\":\"" + Repeat("k", 129) +
                        R"(","entityType":"user","type":"logout-user"}])",
                    kKeyRule},
        // invalid body
        InvalidCase{"EmptyBody", "", "invalid body"},
        InvalidCase{"Truncated", "[{", "invalid body"},
        InvalidCase{"Object", R"({"entityType":"user","type":"logout-user"})", "invalid body"},
        InvalidCase{"String", R"("x")", "invalid body"},
        InvalidCase{"Null", "null", "invalid body"},
        InvalidCase{"ElementNumber", "[1]", "invalid body"},
        InvalidCase{"ElementArray", "[[]]", "invalid body"},
        InvalidCase{"ElementNull", "[null]", "invalid body"},
        InvalidCase{"UnknownTopLevelField",
                    R"([{"entityType":"user","type":"logout-user","userId":"x"}])", "invalid body"},
        InvalidCase{"UnknownFieldInLaterCommandWins",
                    R"([{"entityType":"task","type":"create-task","data":{}},)"
                    R"({"entityType":"user","type":"logout-user","extra":1}])",
                    "invalid body"},
        InvalidCase{"TrailingData", "[] []", "invalid body"},
        InvalidCase{"TrailingComma", R"([{"entityType":"user","type":"logout-user"},])",
                    "invalid body"},
        InvalidCase{"Comment", "[/* c */]", "invalid body"},
        InvalidCase{"SingleQuotes", "[{'type':'logout-user'}]", "invalid body"},
        InvalidCase{"NaNLiteral", CreateWith(R"("order":NaN)"), "invalid body"},
        InvalidCase{"DuplicateTopLevelKey",
                    R"([{"entityType":"user","type":"logout-user","type":"login-user"}])",
                    "invalid body"},
        InvalidCase{"DuplicateDataKey", CreateWith(R"("title":"b")"), "invalid body"},
        InvalidCase{"DuplicateKeyViaEscape", CreateWith(R"("\u0074itle":"b")"), "invalid body"},
        InvalidCase{"DuplicateKeyInUnknownField", CreateWith(R"("x":{"a":1,"a":2})"),
                    "invalid body"},
        InvalidCase{"InvalidUtf8Byte", CreateWith("\"notes\":\"\xFF\""), "invalid body"},
        InvalidCase{"InvalidUtf8Sequence", CreateWith("\"notes\":\"\xC3\x28\""), "invalid body"},
        InvalidCase{"OverlongUtf8", CreateWith("\"notes\":\"\xC0\xAF\""), "invalid body"},
        InvalidCase{"EncodedSurrogate", CreateWith("\"notes\":\"\xED\xA0\x80\""), "invalid body"},
        InvalidCase{"LoneSurrogateEscape", CreateWith(R"("notes":"\ud800")"), "invalid body"},
        InvalidCase{"InvalidUtf8InKey", CreateWith("\"\xFE\":1"), "invalid body"},
        InvalidCase{"TruncatedUtf8", "[{\"entityType\":\"user\",\"type\":\"logout-user\"}]\xE2",
                    "invalid body"}),
    [](const testing::TestParamInfo<InvalidCase>& info) { return info.param.name; });

// ---- Batches and hostile input ----

TEST(Command, ErrorNamesIndexOfInvalidCommand) {
  std::string body = R"([{"entityType":"user","type":"logout-user"},)"
                     R"({"entityType":"user","type":"logout-user"},)"
                     R"({"entityType":"task","type":"complete-task","data":{}}])";
  EXPECT_EQ(ErrorOf(body), "command 2: missing data.id");
}

TEST(Command, FirstInvalidCommandIsReported) {
  std::string body = R"([{"entityType":"task","type":"create-task","data":{"title":""}},)"
                     R"({"entityType":"task","type":"complete-task","data":{}}])";
  EXPECT_EQ(ErrorOf(body), kTitleRule);
}

TEST(Command, EmptyArrayIsEmptyBatch) {
  auto result = ParseCommandBatch("[]");
  ASSERT_TRUE(std::holds_alternative<std::vector<Command>>(result));
  EXPECT_TRUE(std::get<std::vector<Command>>(result).empty());
}

TEST(Command, WhitespaceAroundBodyIsAllowed) { EXPECT_EQ(Accept(" \n[ ]\r\n ").size(), 0u); }

TEST(Command, IdempotencyKeyIsEchoed) {
  std::string key = "~!" + Repeat("k", 126);
  std::vector<Command> commands =
      Accept("[{\"idempotencyKey\":\"" + key + R"(","entityType":"user","type":"logout-user"}])");
  ASSERT_EQ(commands.size(), 1u);
  EXPECT_EQ(commands[0].idempotency_key, key);
}

TEST(Command, NullIdempotencyKeyIsAbsent) {
  std::vector<Command> commands =
      Accept(R"([{"idempotencyKey":null,"entityType":"user","type":"logout-user"}])");
  ASSERT_EQ(commands.size(), 1u);
  EXPECT_EQ(commands[0].idempotency_key, "");
}

TEST(Command, ThousandCommandBatchKeepsOrder) {
  json::array batch;
  for (int i = 0; i < 1000; ++i) {
    batch.push_back(json::object{{"idempotencyKey", "key-" + std::to_string(i)},
                                 {"entityType", "task"},
                                 {"type", "create-task"},
                                 {"data", {{"title", "task " + std::to_string(i)}}}});
  }
  std::vector<Command> commands = Accept(json::serialize(batch));
  ASSERT_EQ(commands.size(), 1000u);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(commands[i].idempotency_key, "key-" + std::to_string(i));
    EXPECT_EQ(commands[i].data.at("title").as_string(), "task " + std::to_string(i));
  }
}

TEST(Command, ThousandCommandBatchWithOneInvalidIsRejected) {
  json::array batch;
  for (int i = 0; i < 1000; ++i) {
    json::object data{{"title", i == 999 ? "" : "t"}};
    batch.push_back(json::object{{"entityType", "task"}, {"type", "create-task"}, {"data", data}});
  }
  EXPECT_EQ(ErrorOf(json::serialize(batch)),
            "command 999: data.title must be 1-500 characters after trimming");
}

TEST(Command, DeepArrayNestingIsInvalidBody) {
  std::string body = Repeat("[", 10000) + Repeat("]", 10000);
  EXPECT_EQ(ErrorOf(body), "invalid body");
}

TEST(Command, DeepNestingInsideDataIsInvalidBody) {
  std::string nested = Repeat(R"({"a":)", 10000) + "1" + Repeat("}", 10000);
  EXPECT_EQ(ErrorOf(CreateWith("\"x\":" + nested)), "invalid body");
}

TEST(Command, UnclosedDeepNestingIsInvalidBody) {
  EXPECT_EQ(ErrorOf(Repeat("[", 100000)), "invalid body");
}

TEST(Command, NestingWithinLimitIsAccepted) {
  // 3 levels of command structure plus 29 inside an ignored field reach the limit of 32.
  std::string nested = Repeat("[", 29) + Repeat("]", 29);
  std::vector<Command> commands = Accept(CreateWith("\"x\":" + nested));
  ASSERT_EQ(commands.size(), 1u);
  EXPECT_FALSE(commands[0].data.contains("x"));
  EXPECT_EQ(ErrorOf(CreateWith("\"x\":[" + nested + "]")), "invalid body");
}

TEST(Command, SameKeyInSiblingObjectsIsAllowed) {
  std::string body = R"([{"entityType":"task","type":"create-task","data":{"title":"a"}},)"
                     R"({"entityType":"task","type":"create-task","data":{"title":"a"}}])";
  EXPECT_EQ(Accept(body).size(), 2u);
}

TEST(Command, SameKeyInNestedObjectIsAllowed) {
  std::vector<Command> commands = Accept(CreateWith(R"("x":{"title":{"title":1}})"));
  ASSERT_EQ(commands.size(), 1u);
  EXPECT_EQ(commands[0].data.at("title").as_string(), "a");
}

TEST(Command, ManyDistinctKeysAreAccepted) {
  std::string fields;
  for (int i = 0; i < 5000; ++i) fields += "\"k" + std::to_string(i) + "\":0,";
  fields += "\"k0x\":1";
  EXPECT_EQ(Accept(CreateWith(fields)).size(), 1u);
  EXPECT_EQ(ErrorOf(CreateWith(fields + ",\"k4999\":1")), "invalid body");
}

TEST(Command, RandomBytesNeverCrash) {
  std::mt19937 random(12345);
  std::string valid = Task("create-task", {{"title", "Buy milk"}, {"order", 3}});
  for (int i = 0; i < 5000; ++i) {
    std::string body = valid;
    int flips = 1 + static_cast<int>(random() % 4);
    for (int j = 0; j < flips; ++j) body[random() % body.size()] = static_cast<char>(random());
    auto result = ParseCommandBatch(body);
    std::string error;
    ParseQueuedCommand(body, &error);
    if (auto* commands = std::get_if<std::vector<Command>>(&result)) {
      for (const Command& command : *commands) {
        EXPECT_TRUE(ParseQueuedCommand(SerializeCommand(command), &error).has_value()) << error;
      }
    }
  }
}

// ---- Queue form ----

TEST(Command, SerializeWritesQueueForm) {
  Command command;
  command.idempotency_key = "k1";
  command.entity_type = EntityType::kTask;
  command.type = CommandType::kCompleteTask;
  command.data = {{"id", kId}};
  EXPECT_EQ(SerializeCommand(command), R"({"entityType":"task","type":"complete-task",)"
                                       R"("data":{"id":"0190f5a2-7b1c-7def-8abc-0123456789ab"}})");
}

TEST(Command, QueuedCommandMayCarryKey) {
  std::string error;
  auto command = ParseQueuedCommand(
      R"({"idempotencyKey":"k9","entityType":"user","type":"logout-user","data":{}})", &error);
  ASSERT_TRUE(command.has_value()) << error;
  EXPECT_EQ(command->idempotency_key, "k9");
  EXPECT_EQ(command->type, CommandType::kLogoutUser);
}

struct QueuedErrorCase {
  std::string name;
  std::string body;
  std::string error;
};

class CommandQueued : public testing::TestWithParam<QueuedErrorCase> {};

TEST_P(CommandQueued, RejectsBadMessage) {
  std::string error;
  EXPECT_FALSE(ParseQueuedCommand(GetParam().body, &error).has_value());
  EXPECT_EQ(error.substr(0, GetParam().error.size()), GetParam().error) << error;
}

INSTANTIATE_TEST_SUITE_P(
    Command, CommandQueued,
    testing::Values(
        QueuedErrorCase{"NotJson", "not json", "queued command is not valid JSON: "},
        QueuedErrorCase{"Empty", "", "queued command is not valid JSON: "},
        QueuedErrorCase{"DuplicateKey", R"({"type":"a","type":"b"})",
                        "queued command is not valid JSON: duplicate key in object"},
        QueuedErrorCase{"Array", "[]", "invalid queued command: command is not a JSON object"},
        QueuedErrorCase{"UnknownField", R"({"entityType":"user","type":"logout-user","x":1})",
                        "invalid queued command: unknown command field \"x\""},
        QueuedErrorCase{"MissingId", R"({"entityType":"task","type":"complete-task","data":{}})",
                        "invalid queued command: missing data.id"},
        QueuedErrorCase{"WrongEntity", R"({"entityType":"task","type":"logout-user"})",
                        "invalid queued command: entityType must be user for type logout-user"},
        QueuedErrorCase{"DeepNesting", Repeat("[", 5000), "queued command is not valid JSON: "}),
    [](const testing::TestParamInfo<QueuedErrorCase>& info) { return info.param.name; });

TEST(Command, TypeNamesRoundTrip) {
  for (CommandType type :
       {CommandType::kCreateTask, CommandType::kUpdateTask, CommandType::kCompleteTask,
        CommandType::kReopenTask, CommandType::kLoginUser, CommandType::kLogoutUser,
        CommandType::kUpdateUserSettings}) {
    CommandType parsed = CommandType::kCreateTask;
    ASSERT_TRUE(ParseCommandType(ToString(type), &parsed)) << ToString(type);
    EXPECT_EQ(parsed, type);
  }
  EXPECT_EQ(ToString(CommandType::kUpdateUserSettings), "update-user-settings");
  EXPECT_EQ(EntityTypeOf(CommandType::kLogoutUser), EntityType::kUser);
  EXPECT_EQ(EntityTypeOf(CommandType::kUpdateUserSettings), EntityType::kUserSettings);
}

}  // namespace
}  // namespace prism::domain
