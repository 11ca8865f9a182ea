#include "domain/decide.h"

#include <utility>

#include <boost/json/value.hpp>

namespace prism::domain {

namespace json = boost::json;

namespace {

constexpr int64_t kDefaultTasksPerCategory = 3;
constexpr bool kDefaultShowDoneTasks = false;

Decision Reject(std::string reason) {
  Decision decision;
  decision.rejection = std::move(reason);
  return decision;
}

std::string StringOr(const json::object& data, std::string_view key, std::string_view fallback) {
  const json::value* value = data.if_contains(key);
  return std::string(value && value->is_string() ? std::string_view(value->get_string())
                                                 : fallback);
}

// Builds the events of one decision with the envelope's common fields.
class EventSink {
 public:
  EventSink(const CommandEnvelope& envelope, const DecideContext& context)
      : envelope_(envelope), context_(context) {}

  void Emit(EntityType type, const std::string& entity_id, std::string_view event_type,
            json::object data, int64_t version) {
    Event event;
    event.id = NewId();
    event.entity_id = entity_id;
    event.entity_type = type;
    event.type = std::string(event_type);
    event.data = std::move(data);
    event.version = version;
    event.timestamp_ms = envelope_.accepted_at_ms;
    event.user_id = envelope_.user_id;
    event.idempotency_key = envelope_.idempotency_key.empty() ? envelope_.command.idempotency_key
                                                              : envelope_.idempotency_key;
    decision_.events.push_back(std::move(event));
  }

  std::string NewId() const { return context_.new_id ? context_.new_id() : NewUuidV7(); }
  Decision Take() { return std::move(decision_); }

 private:
  const CommandEnvelope& envelope_;
  const DecideContext& context_;
  Decision decision_;
};

const TaskState& FindTask(const LoadedState& state, const std::string& id) {
  static const TaskState kNoEvents;
  auto it = state.tasks.find(StreamKey{EntityType::kTask, id});
  return it == state.tasks.end() ? kNoEvents : it->second;
}

Decision DecideCreateTask(const json::object& data, const LoadedState& state,
                          const DecideContext& context, EventSink& sink) {
  std::string id = data.contains("id") ? StringOr(data, "id", "") : sink.NewId();
  const TaskState& task = FindTask(state, id);
  if (task.exists || task.version > 0) return Reject("task " + id + " already exists");

  std::string category = StringOr(data, "category", "normal");
  int64_t order = 0;
  if (const json::value* given = data.if_contains("order")) {
    order = given->as_int64();
  } else if (context.open_tasks_in_lane) {
    order = context.open_tasks_in_lane(category);
  }
  json::object created;
  created["title"] = StringOr(data, "title", "");
  created["notes"] = StringOr(data, "notes", "");
  created["category"] = category;
  created["order"] = order;
  sink.Emit(EntityType::kTask, id, kTaskCreated, std::move(created), task.version + 1);
  return sink.Take();
}

Decision DecideTaskChange(const CommandEnvelope& envelope, const json::object& data,
                          const LoadedState& state, EventSink& sink) {
  std::string id = StringOr(data, "id", "");
  const TaskState& task = FindTask(state, id);
  // Another user's task gets the same reason as a missing one, so its existence stays hidden.
  if (!task.exists || task.owner != envelope.user_id) return Reject("task " + id + " not found");

  int64_t next = task.version + 1;
  switch (envelope.command.type) {
    case CommandType::kCompleteTask:
      if (!task.done) sink.Emit(EntityType::kTask, id, kTaskCompleted, {}, next);
      break;
    case CommandType::kReopenTask:
      if (task.done) sink.Emit(EntityType::kTask, id, kTaskReopened, {}, next);
      break;
    default: {
      json::object changes;
      for (const auto& field : data) {
        if (field.key() != "id") changes[field.key()] = field.value();
      }
      if (task.done && changes.contains("category") && !changes.contains("done")) {
        changes["done"] = false;  // moving a done task into a category reopens it
      }
      sink.Emit(EntityType::kTask, id, kTaskUpdated, std::move(changes), next);
    }
  }
  return sink.Take();
}

json::object DefaultSettings() {
  json::object settings;
  settings["tasksPerCategory"] = kDefaultTasksPerCategory;
  settings["showDoneTasks"] = kDefaultShowDoneTasks;
  return settings;
}

Decision DecideLogin(const CommandEnvelope& envelope, const json::object& data,
                     const LoadedState& state, EventSink& sink) {
  UserState user = state.user.value_or(UserState{});
  SettingsState settings = state.settings.value_or(SettingsState{});
  const std::string& user_id = envelope.user_id;
  if (user.exists) {
    sink.Emit(EntityType::kUser, user_id, kUserLoggedIn, {}, user.version + 1);
    return sink.Take();
  }
  json::object created;
  created["name"] = StringOr(data, "name", "");
  created["email"] = StringOr(data, "email", "");
  sink.Emit(EntityType::kUser, user_id, kUserCreated, std::move(created), user.version + 1);
  if (!settings.exists) {
    sink.Emit(EntityType::kUserSettings, user_id, kUserSettingsCreated, DefaultSettings(),
              settings.version + 1);
  }
  return sink.Take();
}

Decision DecideLogout(const CommandEnvelope& envelope, const LoadedState& state, EventSink& sink) {
  UserState user = state.user.value_or(UserState{});
  if (!user.exists) return Reject("user " + envelope.user_id + " not found");
  sink.Emit(EntityType::kUser, envelope.user_id, kUserLoggedOut, {}, user.version + 1);
  return sink.Take();
}

Decision DecideSettings(const CommandEnvelope& envelope, const json::object& data,
                        const LoadedState& state, EventSink& sink) {
  SettingsState settings = state.settings.value_or(SettingsState{});
  int64_t next = settings.version + 1;
  if (!settings.exists) {
    sink.Emit(EntityType::kUserSettings, envelope.user_id, kUserSettingsCreated, DefaultSettings(),
              next++);
  }
  sink.Emit(EntityType::kUserSettings, envelope.user_id, kUserSettingsUpdated, data, next);
  return sink.Take();
}

// The command's data normalised by the catalog rules, or the rejection of a malformed command.
std::variant<json::object, std::string> CheckEnvelope(const CommandEnvelope& envelope) {
  const Command& command = envelope.command;
  if (envelope.user_id.empty()) return "invalid command: missing user id";
  if (command.entity_type != EntityTypeOf(command.type)) {
    return "invalid command: entityType must be " +
           std::string(ToString(EntityTypeOf(command.type))) + " for type " +
           std::string(ToString(command.type));
  }
  auto normalised = NormaliseCommandData(command.type, command.data);
  if (auto* detail = std::get_if<std::string>(&normalised)) return "invalid command: " + *detail;
  return normalised;
}

}  // namespace

std::vector<StreamKey> StreamsToLoad(const CommandEnvelope& envelope) {
  const Command& command = envelope.command;
  const std::string& user_id = envelope.user_id;
  switch (command.type) {
    case CommandType::kLoginUser:
      return {{EntityType::kUser, user_id}, {EntityType::kUserSettings, user_id}};
    case CommandType::kLogoutUser:
      return {{EntityType::kUser, user_id}};
    case CommandType::kUpdateUserSettings:
      return {{EntityType::kUserSettings, user_id}};
    default:
      break;
  }
  const json::value* id = command.data.if_contains("id");
  if (!id || !id->is_string() || !IsUuid(id->get_string())) return {};
  return {{EntityType::kTask, LowercaseUuid(id->get_string())}};
}

Decision Decide(const CommandEnvelope& envelope, const LoadedState& state,
                const DecideContext& context) {
  auto checked = CheckEnvelope(envelope);
  if (auto* reason = std::get_if<std::string>(&checked)) return Reject(*reason);
  const json::object& data = std::get<json::object>(checked);

  EventSink sink(envelope, context);
  switch (envelope.command.type) {
    case CommandType::kCreateTask:
      return DecideCreateTask(data, state, context, sink);
    case CommandType::kUpdateTask:
    case CommandType::kCompleteTask:
    case CommandType::kReopenTask:
      return DecideTaskChange(envelope, data, state, sink);
    case CommandType::kLoginUser:
      return DecideLogin(envelope, data, state, sink);
    case CommandType::kLogoutUser:
      return DecideLogout(envelope, state, sink);
    case CommandType::kUpdateUserSettings:
      return DecideSettings(envelope, data, state, sink);
  }
  return Reject("invalid command: unknown type");
}

}  // namespace prism::domain
