// Domain events: the immutable source of truth of every stream.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

namespace prism::domain {

enum class EntityType { kTask, kUser, kUserSettings };

// Returns "task", "user" or "user-settings".
std::string_view ToString(EntityType type);
// Parses the wire name of an entity type; returns false when it is none of the three.
bool ParseEntityType(std::string_view text, EntityType* out);

// A stream: events of one entity type and id. A user's stream and their settings stream share the
// user id, so the type is part of the key.
struct StreamKey {
  EntityType type = EntityType::kTask;
  std::string id;
  auto operator<=>(const StreamKey&) const = default;
};

// One event as stored and delivered. A stream is identified by (entity_type, entity_id), because
// a user's stream and the same user's settings stream share the user id.
struct Event {
  std::string id;         // UUIDv7
  std::string entity_id;  // stream id: task id or user id
  EntityType entity_type = EntityType::kTask;
  std::string type;             // "task-created", "task-updated", ...
  boost::json::object data;     // empty for events without data
  int64_t version = 0;          // 1, 2, 3... within the stream
  int64_t position = 0;         // global commit order; 0 until the store assigns it
  int64_t timestamp_ms = 0;     // when the command was accepted; display and audit only
  std::string user_id;          // who caused it
  std::string idempotency_key;  // the command that caused it
};

// Serialises an event as the JSON object of the wire and queue format:
// {"id","entityId","entityType","type","data"?,"version","position","timestamp","userId",
//  "idempotencyKey"}.
boost::json::object ToJson(const Event& event);
std::string Serialize(const Event& event);

// Parses an event from its JSON form. Returns false and sets `error` when a field is missing or
// has the wrong type; never throws on malformed input.
bool ParseEvent(std::string_view json, Event* out, std::string* error);
bool ParseEvent(const boost::json::value& json, Event* out, std::string* error);

}  // namespace prism::domain
