// Folding events into aggregate state (declared in decide.h).
#include <boost/json/value.hpp>

#include "domain/decide.h"

namespace prism::domain {

namespace json = boost::json;

namespace {

void ReadString(const json::object& data, std::string_view key, std::string& out) {
  const json::value* value = data.if_contains(key);
  if (value && value->is_string()) out = std::string(value->get_string());
}

void ReadInteger(const json::object& data, std::string_view key, int64_t& out) {
  const json::value* value = data.if_contains(key);
  if (value && value->is_int64()) out = value->get_int64();
}

void ReadBool(const json::object& data, std::string_view key, bool& out) {
  const json::value* value = data.if_contains(key);
  if (value && value->is_bool()) out = value->get_bool();
}

// Whether the event is the next one for a state of `type` at `version`; see Fold's contract.
bool IsNext(const Event& event, EntityType type, int64_t version) {
  return event.entity_type == type && event.version > version;
}

}  // namespace

void Fold(TaskState& state, const Event& event) {
  if (!IsNext(event, EntityType::kTask, state.version)) return;
  state.version = event.version;
  if (event.type == kTaskCreated) {
    state.exists = true;
    state.owner = event.user_id;
    state.done = false;
  }
  if (event.type == kTaskCreated || event.type == kTaskUpdated) {
    ReadString(event.data, "title", state.title);
    ReadString(event.data, "notes", state.notes);
    ReadString(event.data, "category", state.category);
    ReadInteger(event.data, "order", state.order);
    ReadBool(event.data, "done", state.done);
  } else if (event.type == kTaskCompleted) {
    state.done = true;
  } else if (event.type == kTaskReopened) {
    state.done = false;
  }
}

void Fold(UserState& state, const Event& event) {
  if (!IsNext(event, EntityType::kUser, state.version)) return;
  state.version = event.version;
  if (event.type == kUserCreated) {
    state.exists = true;
    state.signed_in = true;  // a user is created by their first login
    ReadString(event.data, "name", state.name);
    ReadString(event.data, "email", state.email);
  } else if (event.type == kUserLoggedIn) {
    state.signed_in = true;
  } else if (event.type == kUserLoggedOut) {
    state.signed_in = false;
  }
}

void Fold(SettingsState& state, const Event& event) {
  if (!IsNext(event, EntityType::kUserSettings, state.version)) return;
  state.version = event.version;
  if (event.type == kUserSettingsCreated) state.exists = true;
  if (event.type == kUserSettingsCreated || event.type == kUserSettingsUpdated) {
    ReadInteger(event.data, "tasksPerCategory", state.tasks_per_category);
    ReadBool(event.data, "showDoneTasks", state.show_done_tasks);
  }
}

}  // namespace prism::domain
