// Boost.JSON is the JSON library of the whole back end: it parses and serialises fast enough that
// no second library is needed for the hot paths.
#include "domain/command.h"

#include <array>
#include <exception>
#include <span>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "domain/ids.h"
#include "domain/strict_json.h"
#include "domain/text.h"

namespace prism::domain {

namespace json = boost::json;

namespace {

constexpr std::string_view kInvalidBody = "invalid body";

// The kinds of data fields in the catalog, each with its own type and limit check.
enum class FieldKind {
  kId,
  kTitle,
  kNotes,
  kCategory,
  kOrder,
  kDone,
  kName,
  kEmail,
  kTasksPerCategory,
  kShowDoneTasks,
};

struct FieldRule {
  std::string_view name;
  FieldKind kind;
  bool required;
};

// The data fields of one command type. When `any_of_message` is set, at least one field must be
// given and that is the error detail otherwise.
struct CommandRule {
  CommandType type;
  std::string_view name;
  EntityType entity_type;
  std::span<const FieldRule> fields;
  std::string_view any_of_message;
};

constexpr FieldRule kCreateTaskFields[] = {
    {"id", FieldKind::kId, false},       {"title", FieldKind::kTitle, true},
    {"notes", FieldKind::kNotes, false}, {"category", FieldKind::kCategory, false},
    {"order", FieldKind::kOrder, false},
};
constexpr FieldRule kUpdateTaskFields[] = {
    {"id", FieldKind::kId, true},        {"title", FieldKind::kTitle, false},
    {"notes", FieldKind::kNotes, false}, {"category", FieldKind::kCategory, false},
    {"order", FieldKind::kOrder, false}, {"done", FieldKind::kDone, false},
};
constexpr FieldRule kTaskIdFields[] = {{"id", FieldKind::kId, true}};
constexpr FieldRule kLoginFields[] = {
    {"name", FieldKind::kName, false},
    {"email", FieldKind::kEmail, false},
};
constexpr FieldRule kSettingsFields[] = {
    {"tasksPerCategory", FieldKind::kTasksPerCategory, false},
    {"showDoneTasks", FieldKind::kShowDoneTasks, false},
};

const std::array<CommandRule, 7> kCommandRules = {{
    {CommandType::kCreateTask, "create-task", EntityType::kTask, kCreateTaskFields, ""},
    {CommandType::kUpdateTask, "update-task", EntityType::kTask, kUpdateTaskFields,
     "data must contain at least one of title, notes, category, order, done"},
    {CommandType::kCompleteTask, "complete-task", EntityType::kTask, kTaskIdFields, ""},
    {CommandType::kReopenTask, "reopen-task", EntityType::kTask, kTaskIdFields, ""},
    {CommandType::kLoginUser, "login-user", EntityType::kUser, kLoginFields, ""},
    {CommandType::kLogoutUser, "logout-user", EntityType::kUser, {}, ""},
    {CommandType::kUpdateUserSettings, "update-user-settings", EntityType::kUserSettings,
     kSettingsFields, "data must contain at least one of tasksPerCategory, showDoneTasks"},
}};

const CommandRule& RuleOf(CommandType type) {
  for (const CommandRule& rule : kCommandRules) {
    if (rule.type == type) return rule;
  }
  return kCommandRules[0];
}

bool IsCategory(std::string_view text) {
  return text == "critical" || text == "fun" || text == "important" || text == "normal";
}

std::string FieldPath(std::string_view name) { return "data." + std::string(name); }

// Checks a string field for its type, NUL and maximum length; returns the error detail or "".
std::string CheckText(std::string_view name, const json::value& value, std::size_t max_length) {
  if (!value.is_string()) return FieldPath(name) + " must be a string";
  std::string_view text = value.get_string();
  if (text.find('\0') != std::string_view::npos) {
    return FieldPath(name) + " must not contain U+0000";
  }
  if (CountCodePoints(text) > max_length) {
    return FieldPath(name) + " must be at most " + std::to_string(max_length) + " characters";
  }
  return "";
}

// Reads an integer in [min, max]. Only JSON integer literals qualify: Boost.JSON gives fractions,
// exponents and integers beyond 64 bits (2^64, 1e400) the double kind, and those are rejected.
std::string CheckInteger(std::string_view name, const json::value& value, int64_t min,
                         int64_t max) {
  bool in_range = value.is_int64() && value.get_int64() >= min && value.get_int64() <= max;
  if (in_range) return "";
  return FieldPath(name) + " must be an integer from " + std::to_string(min) + " to " +
         std::to_string(max);
}

std::string CheckBool(std::string_view name, const json::value& value) {
  return value.is_bool() ? "" : FieldPath(name) + " must be a boolean";
}

std::string CheckTitle(const json::value& value, json::object& out) {
  if (!value.is_string()) return "data.title must be a string";
  std::string_view title = TrimWhitespace(value.get_string());
  std::size_t length = CountCodePoints(title);
  if (length < 1 || length > kMaxTitleLength) {
    return "data.title must be 1-500 characters after trimming";
  }
  if (title.find('\0') != std::string_view::npos) return "data.title must not contain U+0000";
  out["title"] = title;
  return "";
}

std::string CheckId(const json::value& value, json::object& out) {
  if (!value.is_string() || !IsUuid(value.get_string())) return "data.id must be a UUID";
  out["id"] = LowercaseUuid(value.get_string());  // so one task never has two stream ids
  return "";
}

// Checks one given field and copies its normalised value to `out`; returns the error detail or "".
std::string CheckField(const FieldRule& rule, const json::value& value, json::object& out) {
  std::string error;
  switch (rule.kind) {
    case FieldKind::kId:
      return CheckId(value, out);
    case FieldKind::kTitle:
      return CheckTitle(value, out);
    case FieldKind::kNotes:
      error = CheckText(rule.name, value, kMaxNotesLength);
      break;
    case FieldKind::kName:
      error = CheckText(rule.name, value, kMaxNameLength);
      break;
    case FieldKind::kEmail:
      error = CheckText(rule.name, value, kMaxEmailLength);
      break;
    case FieldKind::kCategory:
      if (!value.is_string() || !IsCategory(value.get_string())) {
        error = "data.category must be one of critical, fun, important, normal";
      }
      break;
    case FieldKind::kOrder:
      error = CheckInteger(rule.name, value, 0, kMaxOrder);
      break;
    case FieldKind::kTasksPerCategory:
      error = CheckInteger(rule.name, value, kMinTasksPerCategory, kMaxTasksPerCategory);
      break;
    case FieldKind::kDone:
    case FieldKind::kShowDoneTasks:
      error = CheckBool(rule.name, value);
      break;
  }
  if (error.empty()) out[rule.name] = value;
  return error;
}

// A command that failed a check. `shape` marks the failures that admission reports only as
// "invalid body"; `detail` always names the problem (for queue messages and logs).
struct CommandIssue {
  bool shape = false;
  std::string detail;
};

std::optional<CommandIssue> CheckShape(const json::value& value) {
  const json::object* object = value.if_object();
  if (!object) return CommandIssue{true, "command is not a JSON object"};
  for (const auto& field : *object) {
    std::string_view key = field.key();
    if (key != "idempotencyKey" && key != "entityType" && key != "type" && key != "data") {
      return CommandIssue{true, "unknown command field \"" + std::string(key) + "\""};
    }
  }
  return std::nullopt;
}

// Whether an optional envelope field is present; null counts as absent.
const json::value* Present(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value && !value->is_null() ? value : nullptr;
}

std::string ReadIdempotencyKey(const json::object& object, Command* out) {
  const json::value* key = Present(object, "idempotencyKey");
  if (!key) return "";
  if (!key->is_string()) return "idempotencyKey must be a string";
  if (!IsValidIdempotencyKey(key->get_string())) {
    return "idempotencyKey must be 1-128 printable ASCII characters without spaces";
  }
  out->idempotency_key = std::string(key->get_string());
  return "";
}

std::string ReadTypes(const json::object& object, Command* out) {
  const json::value* entity = Present(object, "entityType");
  if (!entity) return "missing entityType";
  if (!entity->is_string() || !ParseEntityType(entity->get_string(), &out->entity_type)) {
    return "entityType must be one of task, user, user-settings";
  }
  const json::value* type = Present(object, "type");
  if (!type) return "missing type";
  if (!type->is_string() || !ParseCommandType(type->get_string(), &out->type)) {
    return "type must be one of create-task, update-task, complete-task, reopen-task, "
           "login-user, logout-user, update-user-settings";
  }
  if (EntityTypeOf(out->type) != out->entity_type) {
    return "entityType must be " + std::string(ToString(EntityTypeOf(out->type))) + " for type " +
           std::string(ToString(out->type));
  }
  return "";
}

// Validates the envelope and data of one command whose shape passed CheckShape.
std::optional<CommandIssue> ReadCommand(const json::object& object, Command* out) {
  std::string error = ReadIdempotencyKey(object, out);
  if (error.empty()) error = ReadTypes(object, out);
  if (!error.empty()) return CommandIssue{false, error};

  json::object empty;
  const json::value* data = Present(object, "data");
  if (data && !data->is_object()) return CommandIssue{false, "data must be an object"};
  auto normalised = NormaliseCommandData(out->type, data ? data->get_object() : empty);
  if (auto* detail = std::get_if<std::string>(&normalised)) return CommandIssue{false, *detail};
  out->data = std::move(std::get<json::object>(normalised));
  return std::nullopt;
}

std::variant<std::vector<Command>, AdmissionError> ParseBatchOrThrow(std::string_view body) {
  std::string parse_error;
  std::optional<json::value> parsed = ParseStrictJson(body, kMaxCommandJsonDepth, &parse_error);
  if (!parsed || !parsed->is_array()) return AdmissionError{std::string(kInvalidBody)};
  const json::array& items = parsed->get_array();

  // Shape first, so a malformed body is "invalid body" wherever its fault sits in the array.
  for (const json::value& item : items) {
    if (CheckShape(item)) return AdmissionError{std::string(kInvalidBody)};
  }

  std::vector<Command> commands;
  commands.reserve(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    Command command;
    if (auto issue = ReadCommand(items[i].get_object(), &command)) {
      return AdmissionError{"command " + std::to_string(i) + ": " + issue->detail};
    }
    commands.push_back(std::move(command));
  }
  return commands;
}

}  // namespace

std::string_view ToString(CommandType type) { return RuleOf(type).name; }

bool ParseCommandType(std::string_view text, CommandType* out) {
  for (const CommandRule& rule : kCommandRules) {
    if (rule.name == text) {
      *out = rule.type;
      return true;
    }
  }
  return false;
}

EntityType EntityTypeOf(CommandType type) { return RuleOf(type).entity_type; }

std::variant<json::object, std::string> NormaliseCommandData(CommandType type,
                                                             const json::object& data) {
  const CommandRule& rule = RuleOf(type);
  json::object out;
  for (const FieldRule& field : rule.fields) {
    const json::value* value = data.if_contains(field.name);
    if (!value) {
      if (field.required) return "missing " + FieldPath(field.name);
      continue;
    }
    std::string error = CheckField(field, *value, out);
    if (!error.empty()) return error;
  }
  if (!rule.any_of_message.empty()) {
    bool has_optional = false;
    for (const FieldRule& field : rule.fields)
      has_optional |= !field.required && out.contains(field.name);
    if (!has_optional) return std::string(rule.any_of_message);
  }
  return out;
}

std::variant<std::vector<Command>, AdmissionError> ParseCommandBatch(std::string_view body) {
  try {
    return ParseBatchOrThrow(body);
  } catch (const std::exception&) {
    // Only allocation failures can throw here; the client cannot tell those from a bad body.
    return AdmissionError{std::string(kInvalidBody)};
  }
}

std::string SerializeCommand(const Command& command) {
  json::object out;
  out["entityType"] = ToString(command.entity_type);
  out["type"] = ToString(command.type);
  out["data"] = command.data;
  return json::serialize(out);
}

std::optional<Command> ParseQueuedCommand(std::string_view body, std::string* error) {
  try {
    std::string parse_error;
    std::optional<json::value> parsed = ParseStrictJson(body, kMaxCommandJsonDepth, &parse_error);
    if (!parsed) {
      *error = "queued command is not valid JSON: " + parse_error;
      return std::nullopt;
    }
    std::optional<CommandIssue> issue = CheckShape(*parsed);
    Command command;
    if (!issue) issue = ReadCommand(parsed->get_object(), &command);
    if (issue) {
      *error = "invalid queued command: " + issue->detail;
      return std::nullopt;
    }
    return command;
  } catch (const std::exception& e) {
    *error = std::string("queued command could not be parsed: ") + e.what();
    return std::nullopt;
  }
}

}  // namespace prism::domain
