// Aggregates and decisions: the state of each stream, folded from its events, and the rules that
// turn one command into new events or a rejection.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/command.h"
#include "domain/event.h"
#include "domain/ids.h"

namespace prism::domain {

// Event type names, as stored in Event::type.
inline constexpr std::string_view kTaskCreated = "task-created";
inline constexpr std::string_view kTaskUpdated = "task-updated";
inline constexpr std::string_view kTaskCompleted = "task-completed";
inline constexpr std::string_view kTaskReopened = "task-reopened";
inline constexpr std::string_view kUserCreated = "user-created";
inline constexpr std::string_view kUserLoggedIn = "user-logged-in";
inline constexpr std::string_view kUserLoggedOut = "user-logged-out";
inline constexpr std::string_view kUserSettingsCreated = "user-settings-created";
inline constexpr std::string_view kUserSettingsUpdated = "user-settings-updated";

// The state of a task stream. `version` is the last folded stream version (0: no events).
struct TaskState {
  bool exists = false;
  std::string owner;  // user id of the task-created event
  std::string title, notes, category = "normal";
  int64_t order = 0;
  bool done = false;
  int64_t version = 0;
};

struct UserState {
  bool exists = false;
  std::string name, email;
  bool signed_in = false;
  int64_t version = 0;
};

struct SettingsState {
  bool exists = false;
  int64_t tasks_per_category = 3;
  bool show_done_tasks = false;
  int64_t version = 0;
};

// Fold one event of the state's stream into it. Folding is idempotent by version: an event whose
// version is <= state.version is skipped, so folding a stream twice equals folding it once.
// Otherwise state.version becomes event.version, also for an event type that the fold does not
// know, because the next append must still get the next version. Callers pass a stream's events
// in version order (EventStore::ReadStream does), so versions are not checked for gaps. Events of
// another entity type are skipped, and data fields of the wrong type are ignored. Throws nothing
// but std::bad_alloc.
void Fold(TaskState& state, const Event& event);
void Fold(UserState& state, const Event& event);
void Fold(SettingsState& state, const Event& event);

// A queued command with what the API recorded at admission.
struct CommandEnvelope {
  std::string user_id;          // the token's sub
  int64_t user_seq = 0;         // per-user admission sequence number (see ordering.h)
  std::string idempotency_key;  // the key the command is recorded under
  int64_t accepted_at_ms = 0;   // becomes every event's timestamp
  Command command;
};

// Returns the streams whose state Decide needs for the command, to be folded into LoadedState.
//   create-task: the task data.id, or none without data.id (a new id is made);
//   update-task, complete-task, reopen-task: the task data.id;
//   login-user: the user's user and user-settings streams;
//   logout-user: the user stream;
//   update-user-settings: the user-settings stream.
// A task command without a valid data.id needs none, because Decide rejects it.
std::vector<StreamKey> StreamsToLoad(const CommandEnvelope& envelope);

// The folded state of the streams from StreamsToLoad. A stream missing from `tasks`, or a nullopt
// user or settings, is read as a stream without events.
struct LoadedState {
  std::map<StreamKey, TaskState> tasks;
  std::optional<UserState> user;
  std::optional<SettingsState> settings;
};

struct DecideContext {
  // Number of the user's open tasks in a category: the default order of a new task (end of the
  // lane). When empty, the default order is 0.
  // NOTE: a count read from a read model that lags the event store can give two quick creates in
  // one lane the same order. Count from state that includes the user's earlier commands if that
  // matters.
  std::function<int64_t(std::string_view category)> open_tasks_in_lane;
  // Makes the id of a task created without data.id, then the id of each event, in that order.
  std::function<std::string()> new_id = NewUuidV7;
};

// Events to append (empty when there is nothing to change), or the reason of a rejection.
struct Decision {
  std::vector<Event> events;
  std::optional<std::string> rejection;
};

// Decides a command against the loaded state. Pure apart from the context's functions, so calls
// may run concurrently. Malformed input gives a rejection, not an exception. It throws only
// std::bad_alloc or what a context function throws (a failed read-model query behind
// open_tasks_in_lane), and the caller should retry the command then.
//
// Each event gets a new id, entity_id and entity_type of its stream, version = the stream's
// version + 1 (+ 2 for a second event on one stream), timestamp_ms = accepted_at_ms, the envelope's
// user_id, and its idempotency_key (the command's own key when the envelope has none). Position
// stays 0 for the store to assign.
//
// Rejections and their reasons:
//   "invalid command: <detail>"    data that fails NormaliseCommandData, an entity type that does
//                                  not match the type, or an empty user id;
//   "task <id> not found"          update, complete or reopen of a task that does not exist or
//                                  that belongs to another user. Both cases share the text, so a
//                                  caller cannot learn whether another user's task id exists;
//   "task <id> already exists"     create-task with the id of an existing task, whoever owns it.
//                                  This reveals existence only to a caller who already holds the
//                                  id, and it is the only honest reason for the rejection;
//   "user <id> not found"          logout-user before the user's first login-user, because a
//                                  user stream must start with user-created.
// No events and no rejection: complete-task of a done task, reopen-task of an open task.
//
// update-task emits task-updated with exactly the given fields, also when they equal the state,
// plus done: false when the task is done, category is given and done is not (moving a done task
// into a category reopens it, even into its own category). create-task defaults: notes "",
// category "normal", order open_tasks_in_lane(category). login-user emits user-created
// {name, email} (each "" when not given) and, unless the settings stream exists, user-settings-
// created {tasksPerCategory: 3, showDoneTasks: false}; when the user exists it emits
// user-logged-in. logout-user emits user-logged-out even when the user is already signed out.
// update-user-settings on a settings stream without events first emits user-settings-created with
// the defaults, then user-settings-updated with the given fields, so the created event always
// means "defaults" and the update carries exactly what the client sent.
Decision Decide(const CommandEnvelope& envelope, const LoadedState& state,
                const DecideContext& context);

}  // namespace prism::domain
