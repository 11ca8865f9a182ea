// The storage interfaces every service role depends on. The embedded (SQLite) backend and the
// distributed (PostgreSQL + Redis) backend implement them; nothing above them knows which runs.
//
// Thread safety: every method may be called from any thread unless its comment says otherwise.
// Errors: methods throw StorageUnavailable when the backend cannot do the work; they never throw
// for data they were given (that is validated above them).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "storage/types.h"

namespace prism::storage {

// Durable queue of admitted commands. Delivery is at least once, with a lease: a leased message
// that is not acknowledged before its lease expires is delivered again.
class CommandQueue {
 public:
  virtual ~CommandQueue() = default;

  // Appends a batch atomically and durably, giving each command the next sequence number of its
  // user in batch order. `done` runs once, on a backend thread, with nullopt when the whole batch
  // is durable or with the reason nothing of it was queued (backend down, queue full).
  using EnqueueCallback = std::function<void(std::optional<std::string> failure)>;
  virtual void Enqueue(std::vector<NewCommand> batch, EnqueueCallback done) = 0;

  // Leases up to `max` messages that are not leased by anyone else, oldest first. Blocks up to
  // `wait` when none is ready. `consumer` names the caller in logs and lease records.
  virtual std::vector<QueuedCommand> Lease(std::string_view consumer, size_t max,
                                           std::chrono::milliseconds lease,
                                           std::chrono::milliseconds wait) = 0;

  // Removes delivered messages for good.
  virtual void Ack(std::span<const std::string> message_ids) = 0;

  // Makes leased messages available again after `delay` (used when they arrived out of order or
  // lost a race with another worker's commit), in one round trip.
  virtual void ReleaseAll(std::span<const std::string> message_ids,
                          std::chrono::milliseconds delay) = 0;
  // Releases one leased message, as ReleaseAll does.
  void Release(const std::string& message_id, std::chrono::milliseconds delay) {
    ReleaseAll(std::span<const std::string>(&message_id, 1), delay);
  }

  // Moves a message that can never be processed to the dead-letter store, with the reason.
  virtual void DeadLetter(const QueuedCommand& message, std::string_view reason) = 0;

  // Whether a command of the user with this key is still queued (for GET /api/commands/{key}).
  virtual bool IsQueued(std::string_view user_id, std::string_view idempotency_key) = 0;

  // Messages waiting or leased, for /metrics and back-pressure.
  virtual int64_t Depth() = 0;
};

// The event store, with the idempotency records and the outbox committed beside the events.
class EventStore {
 public:
  virtual ~EventStore() = default;

  // Commits each request atomically and in order; one result per request. Requests may share a
  // transaction for throughput, but a failed check in one never affects another.
  virtual std::vector<CommitResult> Commit(std::span<const CommitRequest> requests) = 0;

  // Events of one stream with version > after_version, in version order.
  virtual std::vector<domain::Event> ReadStream(domain::EntityType type, std::string_view id,
                                                int64_t after_version) = 0;

  // Up to `max` events with position > after_position, in position order. Never skips an event
  // that commits later with a lower position: only gap-free positions are returned.
  virtual std::vector<domain::Event> ReadAll(int64_t after_position, size_t max) = 0;

  // Highest gap-free position (0 when empty).
  virtual int64_t HeadPosition() = 0;

  // The outcome of a user's command, or nullopt when no record exists (never seen, or forgotten).
  virtual std::optional<CommandOutcome> FindOutcome(std::string_view user_id,
                                                    std::string_view idempotency_key) = 0;

  // The user's last applied command sequence number (0 when none).
  virtual int64_t UserCursor(std::string_view user_id) = 0;

  // Batch forms of the reads above, for the domain worker, which loads the state of a whole
  // leased batch before deciding it. Element i of the result belongs to element i of the input,
  // and inputs may repeat. These defaults call the single-item method once per element, and a
  // backend may override them to read everything in one query.

  // The outcome of each command, as FindOutcome returns it.
  virtual std::vector<std::optional<CommandOutcome>> FindOutcomes(
      std::span<const CommandKey> commands) {
    std::vector<std::optional<CommandOutcome>> outcomes;
    outcomes.reserve(commands.size());
    for (const CommandKey& command : commands) {
      outcomes.push_back(FindOutcome(command.user_id, command.idempotency_key));
    }
    return outcomes;
  }

  // The cursor of each user, as UserCursor returns it.
  virtual std::vector<int64_t> UserCursors(std::span<const std::string> user_ids) {
    std::vector<int64_t> cursors;
    cursors.reserve(user_ids.size());
    for (const std::string& user_id : user_ids) cursors.push_back(UserCursor(user_id));
    return cursors;
  }

  // Every event of each stream, in version order, as ReadStream(type, id, 0) returns them.
  virtual std::vector<std::vector<domain::Event>> ReadStreams(
      std::span<const domain::StreamKey> streams) {
    std::vector<std::vector<domain::Event>> events;
    events.reserve(streams.size());
    for (const domain::StreamKey& stream : streams) {
      events.push_back(ReadStream(stream.type, stream.id, 0));
    }
    return events;
  }

  // Deletes up to `batch` completed or rejected idempotency records that completed before
  // `cutoff_ms`; returns how many it removed. Pending commands have no record, so are never hit.
  virtual int64_t ForgetOutcomes(int64_t cutoff_ms, int64_t batch) = 0;
};

// Events published from the outbox, delivered to the projector at least once, in position order
// within a stream.
class EventQueue {
 public:
  virtual ~EventQueue() = default;

  // Blocks up to `wait` for events after the consumer's acknowledged position.
  virtual std::vector<domain::Event> Poll(std::string_view consumer, size_t max,
                                          std::chrono::milliseconds wait) = 0;

  // Marks every polled event up to and including `position` as processed by the consumer.
  virtual void Ack(std::string_view consumer, int64_t position) = 0;

  // Keeps an event that could not be projected for inspection.
  virtual void DeadLetter(const domain::Event& event, std::string_view reason) = 0;

  // Wakes pollers after a commit (in-process backends); a no-op elsewhere.
  virtual void Notify() {}
};

// The read models: tasks, users and settings, with the projector's checkpoint.
class ReadModels {
 public:
  virtual ~ReadModels() = default;

  // Rows to upsert and the checkpoint to store, written in one transaction.
  struct Changes {
    std::vector<domain::TaskRow> tasks;
    std::vector<domain::SettingsRow> settings;
    std::vector<domain::UserRow> users;
    std::optional<int64_t> checkpoint;  // projector's position after these changes
  };
  virtual void Write(const Changes& changes) = 0;

  virtual std::optional<domain::TaskRow> FindTask(std::string_view task_id) = 0;

  // The tasks among the distinct `task_ids` that exist, in no particular order; ids without a row
  // are left out. This default calls FindTask once per id, and a backend may override it to read
  // them all in one query.
  virtual std::vector<domain::TaskRow> FindTasks(const std::vector<std::string>& task_ids) {
    std::vector<domain::TaskRow> tasks;
    for (const std::string& id : task_ids) {
      if (std::optional<domain::TaskRow> task = FindTask(id)) tasks.push_back(std::move(*task));
    }
    return tasks;
  }

  virtual std::optional<domain::SettingsRow> FindSettings(std::string_view user_id) = 0;
  virtual std::optional<domain::UserRow> FindUser(std::string_view user_id) = 0;

  // Up to `limit` tasks of the user with created_position > after, in created_position order.
  virtual TaskPage ListTasks(std::string_view user_id, int64_t after, int limit) = 0;

  // Every task of the user, in list order (stream snapshots).
  virtual std::vector<domain::TaskRow> AllTasks(std::string_view user_id) = 0;

  // Number of the user's tasks in `category` that are not done: the default order of a new task.
  // Backends count them from an index of open tasks, without reading the rows.
  virtual int64_t CountOpenTasks(std::string_view user_id, std::string_view category) = 0;

  virtual int64_t Checkpoint() = 0;

  // Drops every row and the checkpoint (for rebuild).
  virtual void Reset() = 0;
};

// Cached responses for the hot read path: the serialised first pages of each user's list
// (`<userId>:ts`) and the user's settings (`<userId>:us`). Values are opaque bytes.
// The result of a conditional cache write.
enum class CacheWrite {
  kStored,  // the value is in the cache
  kKept,    // not stored, and no older entry is left: a fresher one was kept, or none is

  kFailed,  // the cache could not be reached; nothing is known about the entry
};

class Cache {
 public:
  virtual ~Cache() = default;
  virtual std::optional<std::string> Get(const std::string& key) = 0;
  virtual void Put(const std::string& key, std::string value, std::chrono::seconds ttl) = 0;

  // Stores the value only when no entry exists or the existing entry's stamp is lower, atomically.
  // Readers that fill the cache on a miss pass the read-model checkpoint they read BEFORE reading
  // the data, and the projector passes the checkpoint after its write, so a slow reader can never
  // overwrite a fresher entry with stale data.
  virtual CacheWrite PutIfNewer(const std::string& key, std::string value, int64_t stamp,
                                std::chrono::seconds ttl) = 0;
  virtual void Erase(const std::string& key) = 0;

  // Makes every entry stored with a stamp below `stamp` (or with none) count as absent from now
  // on, for every process sharing the cache. The floor only rises. A writer whose refresh failed
  // calls this once the cache is back, so entries that missed the refresh are not served again.
  // Returns false when the cache could not be reached.
  virtual bool InvalidateBefore(int64_t stamp) = 0;
};

// A message for the open streams of one user.
struct LiveUpdate {
  std::string user_id;
  int64_t position = 0;  // the event position, resumable with Last-Event-ID
  std::string json;      // {"entityType": ..., "data": ...}
};

// Fan-out of live updates from the projector to the stream service.
class LiveUpdates {
 public:
  virtual ~LiveUpdates() = default;
  virtual void Publish(std::vector<LiveUpdate> updates) = 0;

  // Calls `handler` for every update published from now on, until the returned handle is
  // destroyed. The handler runs on a backend thread and must not block. Delivery may happen after
  // Publish returns (the Redis backend delivers through pub/sub).
  using Handler = std::function<void(const LiveUpdate&)>;
  class Subscription {
   public:
    virtual ~Subscription() = default;
  };
  virtual std::unique_ptr<Subscription> Subscribe(Handler handler) = 0;
};

}  // namespace prism::storage
