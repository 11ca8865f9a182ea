#include "workers/domain_worker.h"

#include <algorithm>
#include <map>
#include <set>

#include "common/log.h"
#include "common/metrics.h"
#include "domain/command.h"
#include "domain/decide.h"
#include "domain/ordering.h"
#include "workers/retry_loop.h"

namespace prism::workers {
namespace {

constexpr const char* kComponent = "domain";

bool Precedes(const storage::QueuedCommand& a, const storage::QueuedCommand& b) {
  if (a.user_id != b.user_id) return a.user_id < b.user_id;
  return a.user_seq < b.user_seq;
}

}  // namespace

// The state one round builds up: stream states and cursors loaded once and advanced by every
// decision, so the commands of one user in the same batch see each other's events.
class DomainWorker::Batch {
 public:
  Batch(storage::EventStore& store, storage::ReadModels& read_models)
      : store_(store), read_models_(read_models) {}

  // Reads the cursors of every user of `messages` in one call to the store.
  void LoadCursors(const std::vector<storage::QueuedCommand>& messages) {
    std::set<std::string> missing;
    for (const storage::QueuedCommand& message : messages) {
      if (!cursors_.contains(message.user_id)) missing.insert(message.user_id);
    }
    const std::vector<std::string> user_ids(missing.begin(), missing.end());
    std::vector<int64_t> cursors = store_.UserCursors(user_ids);
    for (size_t i = 0; i < user_ids.size(); ++i) cursors_.emplace(user_ids[i], cursors.at(i));
  }

  // Reads the idempotency records and the streams that deciding `envelopes` needs, in one call
  // to the store each, so Decide makes no round trip of its own for them.
  void Prefetch(const std::vector<const domain::CommandEnvelope*>& envelopes) {
    std::vector<storage::CommandKey> keys;
    std::set<domain::StreamKey> streams;
    for (const domain::CommandEnvelope* envelope : envelopes) {
      keys.push_back({envelope->user_id, envelope->idempotency_key});
      for (domain::StreamKey& stream : domain::StreamsToLoad(*envelope)) {
        streams.insert(std::move(stream));
      }
    }
    std::vector<std::optional<storage::CommandOutcome>> outcomes = store_.FindOutcomes(keys);
    for (size_t i = 0; i < keys.size(); ++i) {
      recorded_keys_[{keys[i].user_id, keys[i].idempotency_key}] = outcomes.at(i).has_value();
    }
    const std::vector<domain::StreamKey> stream_list(streams.begin(), streams.end());
    std::vector<std::vector<domain::Event>> events = store_.ReadStreams(stream_list);
    for (size_t i = 0; i < stream_list.size(); ++i) Fill(stream_list[i], events.at(i));
  }

  // Decides one command whose sequence number is next for its user; returns the commit request.
  storage::CommitRequest Decide(const storage::QueuedCommand& message,
                                const domain::CommandEnvelope& envelope) {
    storage::CommitRequest request = MakeRequest(message);
    auto key = std::make_pair(message.user_id, message.idempotency_key);
    if (decided_keys_.contains(key) || HasOutcome(key)) {
      return request;  // a repeated key: only the cursor advances
    }
    decided_keys_.insert(key);

    domain::LoadedState state = Load(envelope);
    domain::DecideContext context;
    context.open_tasks_in_lane = [&](std::string_view category) {
      return OpenTasksInLane(message.user_id, category);
    };
    domain::Decision decision = domain::Decide(envelope, state, context);

    storage::CommandOutcome outcome;
    outcome.completed_at_ms = NowMs();
    if (decision.rejection) {
      outcome.status = storage::OutcomeStatus::kRejected;
      outcome.reason = *decision.rejection;
    } else {
      outcome.status = storage::OutcomeStatus::kCompleted;
    }
    Remember(decision.events);
    request.outcome = outcome;
    request.events = std::move(decision.events);
    return request;
  }

  // A command that cannot be parsed is rejected with the reason, so the user's later commands
  // are not blocked behind it.
  storage::CommitRequest Reject(const storage::QueuedCommand& message, std::string reason) {
    storage::CommitRequest request = MakeRequest(message);
    decided_keys_.insert({message.user_id, message.idempotency_key});
    storage::CommandOutcome outcome;
    outcome.status = storage::OutcomeStatus::kRejected;
    outcome.reason = std::move(reason);
    outcome.completed_at_ms = NowMs();
    request.outcome = outcome;
    return request;
  }

  int64_t& Cursor(const std::string& user_id) {
    auto it = cursors_.find(user_id);
    if (it == cursors_.end()) it = cursors_.emplace(user_id, store_.UserCursor(user_id)).first;
    return it->second;
  }

 private:
  static int64_t NowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  storage::CommitRequest MakeRequest(const storage::QueuedCommand& message) {
    storage::CommitRequest request;
    request.user_id = message.user_id;
    request.user_seq = message.user_seq;
    request.idempotency_key = message.idempotency_key;
    return request;
  }

  // Whether the store has an outcome for the key: from Prefetch, or read now when Prefetch did
  // not cover the key.
  bool HasOutcome(const std::pair<std::string, std::string>& key) {
    auto it = recorded_keys_.find(key);
    if (it != recorded_keys_.end()) return it->second;
    return store_.FindOutcome(key.first, key.second).has_value();
  }

  // Folds a stream read by Prefetch into the state cache of its type.
  void Fill(const domain::StreamKey& key, const std::vector<domain::Event>& events) {
    switch (key.type) {
      case domain::EntityType::kTask:
        FoldInto(tasks_, key, events);
        break;
      case domain::EntityType::kUser:
        FoldInto(users_, key, events);
        break;
      case domain::EntityType::kUserSettings:
        FoldInto(settings_, key, events);
        break;
    }
  }

  template <typename State>
  static void FoldInto(std::map<domain::StreamKey, State>& cache, const domain::StreamKey& key,
                       const std::vector<domain::Event>& events) {
    auto [it, inserted] = cache.try_emplace(key);
    if (!inserted) return;  // already loaded, and maybe advanced by this batch's decisions
    for (const domain::Event& event : events) domain::Fold(it->second, event);
  }

  // Reads a stream that Prefetch did not cover.
  template <typename State>
  State& LoadStream(std::map<domain::StreamKey, State>& cache, const domain::StreamKey& key) {
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
    State state;
    for (const domain::Event& event : store_.ReadStream(key.type, key.id, 0)) {
      domain::Fold(state, event);
    }
    return cache.emplace(key, std::move(state)).first->second;
  }

  domain::LoadedState Load(const domain::CommandEnvelope& envelope) {
    domain::LoadedState state;
    for (const domain::StreamKey& key : domain::StreamsToLoad(envelope)) {
      switch (key.type) {
        case domain::EntityType::kTask:
          state.tasks[key] = LoadStream(tasks_, key);
          break;
        case domain::EntityType::kUser:
          state.user = LoadStream(users_, key);
          break;
        case domain::EntityType::kUserSettings:
          state.settings = LoadStream(settings_, key);
          break;
      }
    }
    return state;
  }

  void Remember(const std::vector<domain::Event>& events) {
    for (const domain::Event& event : events) {
      domain::StreamKey key{event.entity_type, event.entity_id};
      switch (event.entity_type) {
        case domain::EntityType::kTask:
          domain::Fold(tasks_[key], event);
          if (event.type == "task-created") {
            const auto* category = event.data.if_contains("category");
            if (category && category->is_string()) {
              ++lane_additions_[{event.user_id, std::string(category->get_string())}];
            }
          }
          break;
        case domain::EntityType::kUser:
          domain::Fold(users_[key], event);
          break;
        case domain::EntityType::kUserSettings:
          domain::Fold(settings_[key], event);
          break;
      }
    }
  }

  // The read model's count, read once per lane and round, plus the tasks this round created in
  // the lane. NOTE: the read model may lag the event store by the events not yet projected.
  // Clients that care about exact placement send `order` themselves.
  int64_t OpenTasksInLane(const std::string& user_id, std::string_view category) {
    auto lane = std::make_pair(user_id, std::string(category));
    auto counted = lane_counts_.find(lane);
    if (counted == lane_counts_.end()) {
      counted = lane_counts_.emplace(lane, read_models_.CountOpenTasks(user_id, category)).first;
    }
    auto added = lane_additions_.find(lane);
    int64_t additions = added == lane_additions_.end() ? 0 : added->second;
    return counted->second + additions;
  }

  storage::EventStore& store_;
  storage::ReadModels& read_models_;
  std::map<domain::StreamKey, domain::TaskState> tasks_;
  std::map<domain::StreamKey, domain::UserState> users_;
  std::map<domain::StreamKey, domain::SettingsState> settings_;
  std::map<std::string, int64_t> cursors_;
  std::set<std::pair<std::string, std::string>> decided_keys_;
  std::map<std::pair<std::string, std::string>, int64_t> lane_counts_;
  // (user, idempotency key) -> whether the store had an outcome for it when Prefetch ran
  std::map<std::pair<std::string, std::string>, bool> recorded_keys_;
  std::map<std::pair<std::string, std::string>, int64_t> lane_additions_;
};

// The state of one round, from selecting its commands to acknowledging them.
struct DomainWorker::Round {
  std::vector<const storage::QueuedCommand*> next;  // next in their user's order, in batch order
  std::vector<storage::CommitRequest> requests;     // one per element of `next`
  std::vector<bool> poison;                         // one per element of `next`: unparsable
  std::vector<std::string> acks;                    // message ids to acknowledge
  std::vector<std::string> too_early;  // message ids that wait for an earlier command of the user
  std::vector<std::string> retries;    // message ids that lost a race with a concurrent commit
};

DomainWorker::DomainWorker(std::shared_ptr<storage::CommandQueue> queue,
                           std::shared_ptr<storage::EventStore> store,
                           std::shared_ptr<storage::EventQueue> events,
                           std::shared_ptr<storage::ReadModels> read_models,
                           DomainWorkerOptions options)
    : queue_(std::move(queue)),
      store_(std::move(store)),
      events_(std::move(events)),
      read_models_(std::move(read_models)),
      options_(std::move(options)) {}

DomainWorker::~DomainWorker() { Stop(); }

void DomainWorker::Start() {
  log::Info(kComponent, "domain worker starting", {{"consumer", options_.consumer}});
  thread_ = std::thread([this] { Loop(); });
}

void DomainWorker::Stop() {
  stopping_ = true;
  if (thread_.joinable()) {
    thread_.join();
    log::Info(kComponent, "domain worker stopped", {{"consumer", options_.consumer}});
  }
}

void DomainWorker::Loop() {
  RunUntilStopped(stopping_, kComponent, [this] { RunOnce(options_.poll_wait); });
}

size_t DomainWorker::RunOnce(std::chrono::milliseconds wait) {
  static metrics::Gauge& depth =
      metrics::Registry::Default()
          .AddGauge("prism_command_queue_depth", "Commands queued or leased, not yet processed")
          .WithLabels({});
  std::vector<storage::QueuedCommand> messages =
      queue_->Lease(options_.consumer, options_.batch_size, options_.lease, wait);
  // Counting the queue is a scan, so the gauge is refreshed at most twice a second.
  static std::atomic<int64_t> next_depth_ms{0};
  auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now().time_since_epoch())
                    .count();
  int64_t due_ms = next_depth_ms.load();
  if (now_ms >= due_ms && next_depth_ms.compare_exchange_strong(due_ms, now_ms + 500)) {
    depth.Set(static_cast<double>(queue_->Depth()));
  }
  if (messages.empty()) return 0;
  std::stable_sort(messages.begin(), messages.end(), Precedes);

  Batch batch(*store_, *read_models_);
  Round round;
  SelectNext(messages, batch, round);
  DecideAll(batch, round);
  CommitAndAck(round);
  return messages.size();
}

// Picks the commands that are next in their user's order, acknowledges those already applied
// and releases those that arrived before an earlier command of their user.
void DomainWorker::SelectNext(const std::vector<storage::QueuedCommand>& messages, Batch& batch,
                              Round& round) {
  batch.LoadCursors(messages);
  for (const storage::QueuedCommand& message : messages) {
    int64_t& cursor = batch.Cursor(message.user_id);
    switch (domain::CheckSequence(cursor, message.user_seq)) {
      case domain::SequenceVerdict::kAlreadyApplied:
        round.acks.push_back(message.message_id);
        continue;
      case domain::SequenceVerdict::kTooEarly:
        round.too_early.push_back(message.message_id);
        continue;
      case domain::SequenceVerdict::kApply:
        break;
    }
    round.next.push_back(&message);
    cursor = message.user_seq;
  }
  if (!round.too_early.empty()) queue_->ReleaseAll(round.too_early, options_.out_of_order_delay);
}

// Parses every selected command, reads the state they need in a few queries, then decides them
// in order. A command that cannot be parsed is rejected and later dead-lettered.
void DomainWorker::DecideAll(Batch& batch, Round& round) {
  std::vector<std::optional<domain::CommandEnvelope>> envelopes(round.next.size());
  std::vector<std::string> errors(round.next.size());
  std::vector<const domain::CommandEnvelope*> parsed;
  for (size_t i = 0; i < round.next.size(); ++i) {
    const storage::QueuedCommand& message = *round.next[i];
    std::optional<domain::Command> command = domain::ParseQueuedCommand(message.body, &errors[i]);
    if (!command) continue;
    envelopes[i] =
        domain::CommandEnvelope{message.user_id, message.user_seq, message.idempotency_key,
                                message.accepted_at_ms, std::move(*command)};
    parsed.push_back(&*envelopes[i]);
  }
  batch.Prefetch(parsed);

  for (size_t i = 0; i < round.next.size(); ++i) {
    const storage::QueuedCommand& message = *round.next[i];
    if (envelopes[i]) {
      round.requests.push_back(batch.Decide(message, *envelopes[i]));
    } else {
      log::Error(kComponent, "rejecting unreadable command",
                 {{"message_id", message.message_id},
                  {"user_id", message.user_id},
                  {"idempotency_key", message.idempotency_key},
                  {"error", errors[i]}});
      round.requests.push_back(batch.Reject(message, "invalid command: " + errors[i]));
    }
    round.poison.push_back(!envelopes[i]);
  }
}

// Commits outcomes, events and cursors, then acknowledges what is durable.
void DomainWorker::CommitAndAck(Round& round) {
  std::vector<storage::CommitResult> results = store_->Commit(round.requests);
  bool any_committed = false;
  for (size_t i = 0; i < results.size(); ++i) {
    const storage::QueuedCommand& message = *round.next[i];
    switch (results[i].status) {
      case storage::CommitStatus::kCommitted:
        any_committed = true;
        if (round.poison[i]) {
          queue_->DeadLetter(message, round.requests[i].outcome->reason);
        } else {
          round.acks.push_back(message.message_id);
        }
        break;
      case storage::CommitStatus::kAlreadyApplied:
        round.acks.push_back(message.message_id);
        break;
      case storage::CommitStatus::kStreamConflict:
      case storage::CommitStatus::kOutOfOrder:
        log::Debug(kComponent, "command retried after a concurrent write",
                   {{"message_id", message.message_id}, {"user_id", message.user_id}});
        round.retries.push_back(message.message_id);
        break;
    }
  }
  if (!round.retries.empty()) queue_->ReleaseAll(round.retries, std::chrono::milliseconds(0));
  if (!round.acks.empty()) queue_->Ack(round.acks);
  if (any_committed) events_->Notify();
}

}  // namespace prism::workers
