// Rows of the read models, and the pure rules that fold events into them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "domain/event.h"

namespace prism::domain {

// One task as the API lists it, plus what the projector needs to apply events idempotently.
struct TaskRow {
  std::string id;
  std::string user_id;
  std::string title;
  std::string notes;
  std::string category = "normal";
  int64_t order = 0;
  bool done = false;
  int64_t version = 0;           // last applied stream version
  int64_t created_position = 0;  // position of task-created: the stable list order
};

struct SettingsRow {
  std::string user_id;
  int64_t tasks_per_category = 3;
  bool show_done_tasks = false;
  int64_t version = 0;
};

struct UserRow {
  std::string user_id;
  std::string name;
  std::string email;
  bool signed_in = false;
  int64_t version = 0;
};

// What happened when an event was offered to a row.
enum class ApplyResult {
  kApplied,    // version was row.version + 1; the row changed (or stayed equal for no-op data)
  kDuplicate,  // version <= row.version; already applied, skipped silently
  kGap,        // version > row.version + 1; the missing events must be read from the store first
  kIgnored,    // the event does not concern this kind of row, or belongs to another row's stream
  kInvalid,    // the event's data is malformed for its type; the row is untouched
};

// Folds one event into a row, by stream version. `row` must be default-constructed (version 0)
// for a stream that has no row yet. Never throws on malformed data.
//
// Version 1 must be the stream's created event (task-created, user-settings-created,
// user-created) and a created event must be version 1; anything else is kInvalid, as are an
// unknown event type and a data field of the wrong JSON type. task-created sets id, user_id,
// title, notes, category, order and created_position (= event.position); task-updated,
// user-settings-updated merge only the fields given. user-created, like user-logged-in, marks the
// user signed in.
ApplyResult ApplyToTask(TaskRow& row, const Event& event);
ApplyResult ApplyToSettings(SettingsRow& row, const Event& event);
ApplyResult ApplyToUser(UserRow& row, const Event& event);

// The wire form of a task: {"id","title","notes"?,"category","order","done"?}. `notes` is
// omitted when empty and `done` when false; `order` is always present.
boost::json::object TaskToJson(const TaskRow& task);
// {"tasksPerCategory": n, "showDoneTasks": b}
boost::json::object SettingsToJson(const SettingsRow& settings);

}  // namespace prism::domain
