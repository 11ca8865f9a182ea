#include "domain/read_model.h"

#include <boost/json/value.hpp>

#include "domain/decide.h"

namespace prism::domain {

namespace json = boost::json;

namespace {

// Copies data[key] into `out` when present; false when present with another JSON type.
bool MergeString(const json::object& data, std::string_view key, std::string& out) {
  const json::value* value = data.if_contains(key);
  if (!value) return true;
  if (!value->is_string()) return false;
  out = std::string(value->get_string());
  return true;
}

bool MergeInteger(const json::object& data, std::string_view key, int64_t& out) {
  const json::value* value = data.if_contains(key);
  if (!value) return true;
  if (!value->is_int64()) return false;
  out = value->get_int64();
  return true;
}

bool MergeBool(const json::object& data, std::string_view key, bool& out) {
  const json::value* value = data.if_contains(key);
  if (!value) return true;
  if (!value->is_bool()) return false;
  out = value->get_bool();
  return true;
}

// The version checks shared by every row kind. Returns nullopt when the event is the row's next
// one. A stream starts with its created event at version 1, and only there.
std::optional<ApplyResult> CheckVersion(const Event& event, EntityType type, int64_t row_version,
                                        bool row_matches, bool is_created) {
  if (event.entity_type != type || !row_matches) return ApplyResult::kIgnored;
  if (event.version <= row_version) return ApplyResult::kDuplicate;
  if (event.version - 1 > row_version) return ApplyResult::kGap;
  if (is_created != (event.version == 1)) return ApplyResult::kInvalid;
  return std::nullopt;
}

bool MergeTaskFields(const json::object& data, TaskRow& row) {
  return MergeString(data, "title", row.title) && MergeString(data, "notes", row.notes) &&
         MergeString(data, "category", row.category) && MergeInteger(data, "order", row.order) &&
         MergeBool(data, "done", row.done);
}

bool ChangeTask(const Event& event, TaskRow& row) {
  if (event.type == kTaskCreated) {
    row.id = event.entity_id;
    row.user_id = event.user_id;
    row.created_position = event.position;
    row.done = false;
    return event.data.contains("title") && MergeTaskFields(event.data, row);
  }
  if (event.type == kTaskUpdated) return MergeTaskFields(event.data, row);
  if (event.type == kTaskCompleted || event.type == kTaskReopened) {
    row.done = event.type == kTaskCompleted;
    return true;
  }
  return false;
}

bool ChangeSettings(const Event& event, SettingsRow& row) {
  if (event.type != kUserSettingsCreated && event.type != kUserSettingsUpdated) return false;
  row.user_id = event.entity_id;
  return MergeInteger(event.data, "tasksPerCategory", row.tasks_per_category) &&
         MergeBool(event.data, "showDoneTasks", row.show_done_tasks);
}

bool ChangeUser(const Event& event, UserRow& row) {
  row.user_id = event.entity_id;
  if (event.type == kUserCreated) {
    row.signed_in = true;
    return MergeString(event.data, "name", row.name) && MergeString(event.data, "email", row.email);
  }
  if (event.type == kUserLoggedIn || event.type == kUserLoggedOut) {
    row.signed_in = event.type == kUserLoggedIn;
    return true;
  }
  return false;
}

// Applies `change` to a copy so that an invalid event leaves the row untouched.
template <typename Row, typename Change>
ApplyResult ApplyChange(Row& row, const Event& event, Change change) {
  Row next = row;
  if (!change(event, next)) return ApplyResult::kInvalid;
  next.version = event.version;
  row = std::move(next);
  return ApplyResult::kApplied;
}

}  // namespace

ApplyResult ApplyToTask(TaskRow& row, const Event& event) {
  bool matches = row.version == 0 || row.id == event.entity_id;
  if (auto result = CheckVersion(event, EntityType::kTask, row.version, matches,
                                 event.type == kTaskCreated)) {
    return *result;
  }
  return ApplyChange(row, event, ChangeTask);
}

ApplyResult ApplyToSettings(SettingsRow& row, const Event& event) {
  bool matches = row.version == 0 || row.user_id == event.entity_id;
  if (auto result = CheckVersion(event, EntityType::kUserSettings, row.version, matches,
                                 event.type == kUserSettingsCreated)) {
    return *result;
  }
  return ApplyChange(row, event, ChangeSettings);
}

ApplyResult ApplyToUser(UserRow& row, const Event& event) {
  bool matches = row.version == 0 || row.user_id == event.entity_id;
  if (auto result = CheckVersion(event, EntityType::kUser, row.version, matches,
                                 event.type == kUserCreated)) {
    return *result;
  }
  return ApplyChange(row, event, ChangeUser);
}

json::object TaskToJson(const TaskRow& task) {
  json::object out;
  out["id"] = task.id;
  out["title"] = task.title;
  if (!task.notes.empty()) out["notes"] = task.notes;
  out["category"] = task.category;
  out["order"] = task.order;
  if (task.done) out["done"] = true;
  return out;
}

json::object SettingsToJson(const SettingsRow& settings) {
  json::object out;
  out["tasksPerCategory"] = settings.tasks_per_category;
  out["showDoneTasks"] = settings.show_done_tasks;
  return out;
}

}  // namespace prism::domain
