// Values passed across the storage interfaces.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "domain/event.h"
#include "domain/read_model.h"

namespace prism::storage {

// A backend could not do its work (database down, disk full, lock timeout). Callers answer
// 503 or retry with back-off; the message is for logs and may name the backend, never a secret.
class StorageUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A command as the API admits it, before the queue assigns its sequence number.
struct NewCommand {
  std::string user_id;
  std::string idempotency_key;
  int64_t accepted_at_ms = 0;
  std::string body;  // the command's JSON: {"entityType","type","data"}, already validated
};

// A command as the queue delivers it.
struct QueuedCommand {
  std::string message_id;  // queue-specific id used to acknowledge
  std::string user_id;
  int64_t user_seq = 0;  // per-user admission sequence: 1, 2, 3... without gaps
  std::string idempotency_key;
  int64_t accepted_at_ms = 0;
  std::string body;
  int attempts = 0;  // deliveries so far, including this one
};

// The idempotency record's key of a command: the user and the key it was admitted with.
struct CommandKey {
  std::string user_id;
  std::string idempotency_key;
  auto operator<=>(const CommandKey&) const = default;
};

enum class OutcomeStatus { kPending, kCompleted, kRejected };

struct CommandOutcome {
  OutcomeStatus status = OutcomeStatus::kPending;
  std::string reason;  // set when rejected
  int64_t completed_at_ms = 0;
};

// Everything one command produced, committed atomically: the idempotency record, the advance of
// the user's command cursor and the events with their outbox entries.
struct CommitRequest {
  std::string user_id;
  int64_t user_seq = 0;  // must be the user's cursor + 1
  std::string idempotency_key;
  // nullopt when the key was already processed: only the cursor advances.
  std::optional<CommandOutcome> outcome;
  std::vector<domain::Event> events;  // versions set by the caller; positions by the store
};

enum class CommitStatus {
  kCommitted,
  kStreamConflict,  // an event's version was taken by another writer; reload and decide again
  kAlreadyApplied,  // user_seq <= cursor: a redelivered command, nothing written
  kOutOfOrder,      // user_seq > cursor + 1: an earlier command of the user is not done yet
};

struct CommitResult {
  CommitStatus status = CommitStatus::kCommitted;
  std::vector<domain::Event> events;  // with positions, when committed
};

// One page of a user's tasks in list order, plus the key to continue after it.
struct TaskPage {
  std::vector<domain::TaskRow> tasks;
  std::optional<int64_t> next_after;  // created_position of the last task; nullopt on last page
};

}  // namespace prism::storage
