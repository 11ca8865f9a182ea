#include "domain/event.h"

#include <boost/json.hpp>

namespace prism::domain {

namespace json = boost::json;

std::string_view ToString(EntityType type) {
  switch (type) {
    case EntityType::kTask:
      return "task";
    case EntityType::kUser:
      return "user";
    case EntityType::kUserSettings:
      return "user-settings";
  }
  return "task";
}

bool ParseEntityType(std::string_view text, EntityType* out) {
  if (text == "task") {
    *out = EntityType::kTask;
  } else if (text == "user") {
    *out = EntityType::kUser;
  } else if (text == "user-settings") {
    *out = EntityType::kUserSettings;
  } else {
    return false;
  }
  return true;
}

json::object ToJson(const Event& event) {
  json::object out;
  out["id"] = event.id;
  out["entityId"] = event.entity_id;
  out["entityType"] = ToString(event.entity_type);
  out["type"] = event.type;
  if (!event.data.empty()) out["data"] = event.data;
  out["version"] = event.version;
  out["position"] = event.position;
  out["timestamp"] = event.timestamp_ms;
  out["userId"] = event.user_id;
  out["idempotencyKey"] = event.idempotency_key;
  return out;
}

std::string Serialize(const Event& event) { return json::serialize(ToJson(event)); }

namespace {

bool ReadString(const json::object& object, std::string_view key, std::string* out,
                std::string* error) {
  const json::value* value = object.if_contains(key);
  if (!value || !value->is_string()) {
    *error = "event field \"" + std::string(key) + "\" is missing or not a string";
    return false;
  }
  *out = std::string(value->get_string());
  return true;
}

bool ReadInteger(const json::object& object, std::string_view key, int64_t* out,
                 std::string* error) {
  const json::value* value = object.if_contains(key);
  if (!value || !value->is_int64()) {
    if (value && value->is_uint64() && value->get_uint64() <= INT64_MAX) {
      *out = static_cast<int64_t>(value->get_uint64());
      return true;
    }
    *error = "event field \"" + std::string(key) + "\" is missing or not an integer";
    return false;
  }
  *out = value->get_int64();
  return true;
}

}  // namespace

bool ParseEvent(const json::value& value, Event* out, std::string* error) {
  const json::object* object = value.if_object();
  if (!object) {
    *error = "event is not a JSON object";
    return false;
  }
  std::string entity_type;
  if (!ReadString(*object, "id", &out->id, error) ||
      !ReadString(*object, "entityId", &out->entity_id, error) ||
      !ReadString(*object, "entityType", &entity_type, error) ||
      !ReadString(*object, "type", &out->type, error) ||
      !ReadInteger(*object, "version", &out->version, error) ||
      !ReadInteger(*object, "position", &out->position, error) ||
      !ReadInteger(*object, "timestamp", &out->timestamp_ms, error) ||
      !ReadString(*object, "userId", &out->user_id, error) ||
      !ReadString(*object, "idempotencyKey", &out->idempotency_key, error)) {
    return false;
  }
  if (!ParseEntityType(entity_type, &out->entity_type)) {
    *error = "event entityType \"" + entity_type + "\" is not task, user or user-settings";
    return false;
  }
  out->data.clear();
  if (const json::value* data = object->if_contains("data"); data && !data->is_null()) {
    if (!data->is_object()) {
      *error = "event field \"data\" is not an object";
      return false;
    }
    out->data = data->get_object();
  }
  return true;
}

bool ParseEvent(std::string_view text, Event* out, std::string* error) {
  json::error_code code;
  json::parse_options options;
  options.max_depth = 16;
  json::value value = json::parse(text, code, {}, options);
  if (code) {
    *error = "event is not valid JSON: " + code.message();
    return false;
  }
  return ParseEvent(value, out, error);
}

}  // namespace prism::domain
