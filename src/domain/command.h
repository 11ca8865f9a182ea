// Commands: the catalog of what clients may ask for, and its validation at admission.
// Every function here is pure and may run concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <boost/json/object.hpp>

#include "domain/event.h"

namespace prism::domain {

enum class CommandType {
  kCreateTask,
  kUpdateTask,
  kCompleteTask,
  kReopenTask,
  kLoginUser,
  kLogoutUser,
  kUpdateUserSettings,
};

// Returns the wire name: "create-task", "update-task", "complete-task", "reopen-task",
// "login-user", "logout-user" or "update-user-settings".
std::string_view ToString(CommandType type);
// Parses a wire name; returns false when `text` names no command type.
bool ParseCommandType(std::string_view text, CommandType* out);
// The entity type that a command type must be sent with: task, user or user-settings.
EntityType EntityTypeOf(CommandType type);

// Limits of the catalog. Lengths count Unicode code points; the title is measured after trimming.
inline constexpr std::size_t kMaxTitleLength = 500;
inline constexpr std::size_t kMaxNotesLength = 10'000;
// Not in the original catalog: caps that keep one login from storing an arbitrarily large profile.
inline constexpr std::size_t kMaxNameLength = 256;
inline constexpr std::size_t kMaxEmailLength = 256;
// The largest 32-bit signed integer, so an order fits an INTEGER column of any SQL backend and a
// JavaScript number exactly.
inline constexpr int64_t kMaxOrder = 2'147'483'647;
inline constexpr int64_t kMinTasksPerCategory = 1;
inline constexpr int64_t kMaxTasksPerCategory = 1000;

struct Command {
  std::string idempotency_key;  // empty when the client sent none
  EntityType entity_type = EntityType::kTask;
  CommandType type = CommandType::kCreateTask;
  boost::json::object data;  // normalised: only catalog fields, title trimmed, id lowercase
};

// Why a POST /api/commands body was rejected at admission. `message` goes to the client, e.g.
// "invalid body", "command 2: missing data.id" or
// "command 0: data.title must be 1-500 characters after trimming".
struct AdmissionError {
  std::string message;
};

// Parses and validates a whole batch, which must be a JSON array of commands. Any invalid command
// rejects the whole batch. Never throws: an allocation failure also gives "invalid body".
//
// The message is exactly "invalid body" when the body is not valid JSON (including invalid UTF-8,
// an object with a repeated key, or nesting deeper than kMaxCommandJsonDepth), is not an array,
// holds an element that is not an object, or a command has a field other than idempotencyKey,
// entityType, type and data. Those checks run over the whole batch before any command's content
// is checked. Otherwise the first invalid command gives "command <index>: <detail>", with the
// detail of NormaliseCommandData or of the envelope fields ("missing type", ...).
//
// `idempotencyKey` and `data` may be absent or null. An absent `data` is read as {}, so a command
// that needs fields gets "missing data.<field>". The body size is not limited here: the HTTP layer
// caps it (64 KiB, 413 beyond).
std::variant<std::vector<Command>, AdmissionError> ParseCommandBatch(std::string_view body);

// Validates the `data` of a command of `type` against the catalog and returns its normalised copy
// or the error detail naming the field and the rule ("missing data.id",
// "data.order must be an integer from 0 to 2147483647", ...).
//
// Fields that the catalog does not list for the type are dropped without error, because old
// clients send extra fields (for example a whole task object) and must keep working. Integers must
// be JSON integer literals: 3.0 or 3e0 are rejected like 1.5, so a value that a client rounded is
// never applied silently. Strings must not contain U+0000, which PostgreSQL text cannot store.
// Throws nothing but std::bad_alloc.
std::variant<boost::json::object, std::string> NormaliseCommandData(
    CommandType type, const boost::json::object& data);

// Returns the queue form of a command: {"entityType","type","data"}. The idempotency key is stored
// beside it, not in it.
std::string SerializeCommand(const Command& command);

// Parses and validates a queued command body with the admission rules. The body may also contain
// "idempotencyKey", which then fills Command::idempotency_key. Returns nullopt and sets `error` to
// the reason when the body is not a valid command. Never throws, so that a worker can reject and
// acknowledge a bad queue message instead of stopping.
std::optional<Command> ParseQueuedCommand(std::string_view body, std::string* error);

}  // namespace prism::domain
