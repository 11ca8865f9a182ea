#include "workers/projector.h"

#include <algorithm>
#include <map>
#include <set>

#include <boost/json.hpp>

#include "common/log.h"
#include "common/metrics.h"
#include "workers/retry_loop.h"

namespace prism::workers {
namespace {

constexpr const char* kComponent = "projector";
// Users whose cached-page boundary the projector remembers (an estimated 100 bytes each).
constexpr size_t kMaxUsersWithCachedUntil = 100000;
namespace json = boost::json;

// Projection progress for /metrics, looked up once.
struct ProjectorGauges {
  metrics::Gauge& applied_position =
      Single("prism_projector_applied_position", "Global position of the last event applied");
  metrics::Gauge& lag_events =
      Single("prism_projector_lag_events", "Committed events not yet applied to the read models");
  metrics::Gauge& lag_seconds =
      Single("prism_projector_lag_seconds",
             "Age of the last applied event while events are waiting, 0 when caught up");
  metrics::Counter& applied = metrics::Registry::Default()
                                  .AddCounter("prism_projector_events_total", "Events applied")
                                  .WithLabels({});

  static metrics::Gauge& Single(const char* name, const char* help) {
    return metrics::Registry::Default().AddGauge(name, help).WithLabels({});
  }
};

ProjectorGauges& Gauges() {
  static ProjectorGauges gauges;
  return gauges;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// Rows touched by one batch, loaded once, with the live updates they produce.
class Projector::Batch {
 public:
  // With `collect_updates` false (rebuilds), no live-update messages are built.
  Batch(storage::ReadModels& read_models, storage::EventStore& store, storage::EventQueue& queue,
        ProjectorStats& stats, bool collect_updates)
      : read_models_(read_models),
        store_(store),
        queue_(queue),
        stats_(stats),
        collect_updates_(collect_updates) {}

  // Loads the rows of every task that `events` touch with one read, so that Apply() finds them in
  // memory instead of reading them one at a time.
  void LoadTasks(const std::vector<domain::Event>& events) {
    std::vector<std::string> ids;
    for (const domain::Event& event : events) {
      if (event.entity_type != domain::EntityType::kTask) continue;
      // Inserting the default row now also removes duplicates; found rows replace it below.
      if (tasks_.try_emplace(event.entity_id).second) ids.push_back(event.entity_id);
    }
    for (domain::TaskRow& row : read_models_.FindTasks(ids)) {
      std::string id = row.id;
      tasks_[id] = std::move(row);
    }
  }

  void Apply(const domain::Event& event) {
    switch (event.entity_type) {
      case domain::EntityType::kTask:
        ApplyTask(event);
        break;
      case domain::EntityType::kUserSettings:
        ApplySettings(event);
        break;
      case domain::EntityType::kUser:
        ApplyUser(event);
        break;
    }
  }

  storage::ReadModels::Changes TakeChanges(std::optional<int64_t> checkpoint) {
    storage::ReadModels::Changes changes;
    for (auto& [id, row] : tasks_) {
      if (dirty_tasks_.contains(id)) changes.tasks.push_back(row);
    }
    for (auto& [id, row] : settings_) {
      if (dirty_settings_.contains(id)) changes.settings.push_back(row);
    }
    for (auto& [id, row] : users_) {
      if (dirty_users_.contains(id)) changes.users.push_back(row);
    }
    changes.checkpoint = checkpoint;
    return changes;
  }

  std::vector<storage::LiveUpdate> TakeUpdates() { return std::move(updates_); }
  const std::map<std::string, UserChanges>& affected_users() const { return affected_users_; }

 private:
  template <typename Row, typename ApplyFn>
  domain::ApplyResult ApplyWithGapFill(Row& row, const domain::Event& event, ApplyFn apply) {
    domain::ApplyResult result = apply(row, event);
    if (result != domain::ApplyResult::kGap) return result;

    // A gap: read the missing events from the store and apply them in order first.
    log::Warn(kComponent, "filling a gap from the event store",
              {{"entity_id", event.entity_id},
               {"have_version", row.version},
               {"event_version", event.version}});
    for (const domain::Event& missing :
         store_.ReadStream(event.entity_type, event.entity_id, row.version)) {
      if (missing.version >= event.version) break;
      if (apply(row, missing) == domain::ApplyResult::kApplied) OnApplied(missing, row);
    }
    return apply(row, event);
  }

  template <typename Row>
  void Reject(const domain::Event& event, domain::ApplyResult result) {
    const char* reason = result == domain::ApplyResult::kGap ? "version gap could not be filled"
                                                             : "event data is invalid";
    log::Error(kComponent, "dead-lettering event",
               {{"event_id", event.id}, {"position", event.position}, {"reason", reason}});
    queue_.DeadLetter(event, reason);
    ++stats_.dead_lettered;
  }

  void ApplyTask(const domain::Event& event) {
    domain::TaskRow& row = LoadTask(event.entity_id);
    auto result = ApplyWithGapFill(row, event, [](domain::TaskRow& r, const domain::Event& e) {
      return domain::ApplyToTask(r, e);
    });
    if (result == domain::ApplyResult::kApplied) {
      OnApplied(event, row);
    } else if (result == domain::ApplyResult::kInvalid || result == domain::ApplyResult::kGap) {
      Reject<domain::TaskRow>(event, result);
    }
  }

  void ApplySettings(const domain::Event& event) {
    domain::SettingsRow& row = LoadSettings(event.entity_id);
    auto result = ApplyWithGapFill(row, event, [](domain::SettingsRow& r, const domain::Event& e) {
      return domain::ApplyToSettings(r, e);
    });
    if (result == domain::ApplyResult::kApplied) {
      OnApplied(event, row);
    } else if (result == domain::ApplyResult::kInvalid || result == domain::ApplyResult::kGap) {
      Reject<domain::SettingsRow>(event, result);
    }
  }

  void ApplyUser(const domain::Event& event) {
    domain::UserRow& row = LoadUser(event.entity_id);
    auto result = ApplyWithGapFill(row, event, [](domain::UserRow& r, const domain::Event& e) {
      return domain::ApplyToUser(r, e);
    });
    if (result == domain::ApplyResult::kApplied) {
      dirty_users_.insert(event.entity_id);
    } else if (result == domain::ApplyResult::kInvalid || result == domain::ApplyResult::kGap) {
      Reject<domain::UserRow>(event, result);
    }
  }

  void OnApplied(const domain::Event& event, const domain::TaskRow& row) {
    dirty_tasks_.insert(row.id);
    std::optional<int64_t>& first = affected_users_[row.user_id].first_task_position;
    first = std::min(first.value_or(row.created_position), row.created_position);
    if (!collect_updates_) return;
    json::object message;
    message["entityType"] = "task";
    message["data"] = json::array{domain::TaskToJson(row)};
    updates_.push_back({row.user_id, event.position, json::serialize(message)});
  }

  void OnApplied(const domain::Event& event, const domain::SettingsRow& row) {
    dirty_settings_.insert(row.user_id);
    affected_users_[row.user_id].settings = true;
    if (!collect_updates_) return;
    json::object message;
    message["entityType"] = "user-settings";
    message["data"] = domain::SettingsToJson(row);
    updates_.push_back({row.user_id, event.position, json::serialize(message)});
  }

  void OnApplied(const domain::Event&, const domain::UserRow& row) {
    dirty_users_.insert(row.user_id);
  }

  domain::TaskRow& LoadTask(const std::string& id) {
    auto it = tasks_.find(id);
    if (it != tasks_.end()) return it->second;
    domain::TaskRow row = read_models_.FindTask(id).value_or(domain::TaskRow{});
    return tasks_.emplace(id, std::move(row)).first->second;
  }

  domain::SettingsRow& LoadSettings(const std::string& user_id) {
    auto it = settings_.find(user_id);
    if (it != settings_.end()) return it->second;
    domain::SettingsRow row;
    if (auto found = read_models_.FindSettings(user_id)) row = *found;
    row.user_id = user_id;
    return settings_.emplace(user_id, std::move(row)).first->second;
  }

  domain::UserRow& LoadUser(const std::string& user_id) {
    auto it = users_.find(user_id);
    if (it != users_.end()) return it->second;
    domain::UserRow row;
    if (auto found = read_models_.FindUser(user_id)) row = *found;
    row.user_id = user_id;
    return users_.emplace(user_id, std::move(row)).first->second;
  }

  storage::ReadModels& read_models_;
  storage::EventStore& store_;
  storage::EventQueue& queue_;
  ProjectorStats& stats_;
  bool collect_updates_;
  std::map<std::string, domain::TaskRow> tasks_;
  std::map<std::string, domain::SettingsRow> settings_;
  std::map<std::string, domain::UserRow> users_;
  std::set<std::string> dirty_tasks_;
  std::set<std::string> dirty_settings_;
  std::set<std::string> dirty_users_;
  std::map<std::string, UserChanges> affected_users_;
  std::vector<storage::LiveUpdate> updates_;
};

Projector::Projector(std::shared_ptr<storage::EventQueue> queue,
                     std::shared_ptr<storage::EventStore> store,
                     std::shared_ptr<storage::ReadModels> read_models,
                     std::shared_ptr<query::ReadQueries> queries,
                     std::shared_ptr<storage::LiveUpdates> live, ProjectorOptions options)
    : queue_(std::move(queue)),
      store_(std::move(store)),
      read_models_(std::move(read_models)),
      queries_(std::move(queries)),
      live_(std::move(live)),
      options_(std::move(options)) {
  Gauges();  // registers the metrics, so /metrics lists them before the first event
}

Projector::~Projector() { Stop(); }

void Projector::Start() {
  log::Info(kComponent, "projector starting", {{"consumer", options_.consumer}});
  thread_ = std::thread([this] { Loop(); });
}

void Projector::Stop() {
  stopping_ = true;
  if (thread_.joinable()) {
    thread_.join();
    log::Info(kComponent, "projector stopped", {{"consumer", options_.consumer}});
  }
}

void Projector::Loop() {
  RunUntilStopped(stopping_, kComponent, [this] { RunOnce(options_.poll_wait); });
}

size_t Projector::RunOnce(std::chrono::milliseconds wait) {
  if (options_.refresh_cache && queries_) RaiseCacheFloor();
  std::vector<domain::Event> events = queue_->Poll(options_.consumer, options_.batch_size, wait);
  if (events.empty()) {
    Gauges().lag_events.Set(0);
    Gauges().lag_seconds.Set(0);
    return 0;
  }
  Apply(events);
  Gauges().applied.Inc(events.size());
  queue_->Ack(options_.consumer, events.back().position);
  return events.size();
}

void Projector::Apply(const std::vector<domain::Event>& events) {
  if (events.empty()) return;

  // Apply to rows in memory, then write rows and checkpoint in one transaction.
  Batch batch(*read_models_, *store_, *queue_, stats_, options_.publish_live_updates && live_);
  batch.LoadTasks(events);
  for (const domain::Event& event : events) batch.Apply(event);
  int64_t checkpoint = events.back().position;
  read_models_->Write(batch.TakeChanges(checkpoint));

  // Derived state after the durable write: caches, then live updates.
  if (options_.refresh_cache && queries_) RefreshCache(batch.affected_users(), checkpoint);
  if (options_.publish_live_updates && live_) live_->Publish(batch.TakeUpdates());

  stats_.applied_position = checkpoint;
  stats_.applied_events += static_cast<int64_t>(events.size());
  stats_.last_event_timestamp_ms = events.back().timestamp_ms;
  if (options_.publish_live_updates) UpdateLagMetrics(checkpoint, events.back().timestamp_ms);
}

void Projector::RefreshCache(const std::map<std::string, UserChanges>& users, int64_t checkpoint) {
  bool reached = true;
  for (const auto& [user_id, changes] : users) {
    query::ReadQueries::RefreshScope scope;
    scope.tasks =
        changes.first_task_position && TouchesCachedPages(user_id, *changes.first_task_position);
    scope.settings = changes.settings;
    if (!scope.tasks && !scope.settings) continue;

    std::optional<int64_t> cached_until;
    reached = queries_->Refresh(user_id, checkpoint, scope, &cached_until) && reached;
    if (!scope.tasks) continue;
    if (!cached_until) {
      cached_until_.erase(user_id);
    } else {
      // Forgetting every user at the cap keeps the memory bounded, and costs each one refresh.
      if (cached_until_.size() >= kMaxUsersWithCachedUntil) cached_until_.clear();
      cached_until_[user_id] = *cached_until;
    }
  }
  if (reached) return;
  if (cache_floor_pending_ == 0) {
    log::Warn(kComponent, "cache refresh failed; older entries are invalidated once it is back",
              {{"position", checkpoint}});
  }
  cache_floor_pending_ = checkpoint;
}

bool Projector::TouchesCachedPages(const std::string& user_id, int64_t first_task_position) const {
  auto known = cached_until_.find(user_id);
  return known == cached_until_.end() || first_task_position <= known->second;
}

void Projector::RaiseCacheFloor() {
  // A projector that starts cannot know whether its predecessor refreshed the cache after its
  // last write, so it invalidates everything older than the checkpoint it resumes from.
  if (!cache_floor_checked_) {
    cache_floor_pending_ = std::max(cache_floor_pending_, read_models_->Checkpoint());
    cache_floor_checked_ = true;
  }
  if (cache_floor_pending_ == 0) return;
  if (!queries_->InvalidateCacheBefore(cache_floor_pending_)) return;
  log::Info(kComponent, "cache entries older than the checkpoint are invalidated",
            {{"position", cache_floor_pending_}});
  cache_floor_pending_ = 0;
}

void Projector::UpdateLagMetrics(int64_t applied, int64_t applied_timestamp_ms) {
  ProjectorGauges& gauges = Gauges();
  int64_t behind = std::max<int64_t>(0, store_->HeadPosition() - applied);
  gauges.applied_position.Set(static_cast<double>(applied));
  gauges.lag_events.Set(static_cast<double>(behind));
  double age = behind > 0 ? (NowMs() - applied_timestamp_ms) / 1000.0 : 0.0;
  gauges.lag_seconds.Set(std::max(0.0, age));
}

}  // namespace prism::workers
