// `prism projector`: applies domain events to the read models, refreshes the cached pages of
// the users they concern and publishes live updates.
//
// Events are applied by stream version: an event already applied is skipped, a gap is filled
// from the event store before going on, and nothing is dropped as stale. Read-model rows and the
// checkpoint are written in one transaction, so a crash repeats at most work that is skipped as
// duplicate on the next run.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>

#include "query/read_queries.h"
#include "storage/interfaces.h"

namespace prism::workers {

struct ProjectorOptions {
  std::string consumer = "projector";
  size_t batch_size = 1024;
  std::chrono::milliseconds poll_wait{200};
  bool publish_live_updates = true;  // off for rebuilds
  bool refresh_cache = true;
};

// Figures for /metrics.
struct ProjectorStats {
  std::atomic<int64_t> applied_position{0};
  std::atomic<int64_t> applied_events{0};
  std::atomic<int64_t> last_event_timestamp_ms{0};
  std::atomic<int64_t> dead_lettered{0};
};

class Projector {
 public:
  Projector(std::shared_ptr<storage::EventQueue> queue, std::shared_ptr<storage::EventStore> store,
            std::shared_ptr<storage::ReadModels> read_models,
            std::shared_ptr<query::ReadQueries> queries, std::shared_ptr<storage::LiveUpdates> live,
            ProjectorOptions options);
  ~Projector();

  void Start();
  void Stop();

  // Polls and applies one batch of events; returns how many it received.
  size_t RunOnce(std::chrono::milliseconds wait);

  // Applies a batch of events (from the queue or from a replay); exposed for rebuild and tests.
  void Apply(const std::vector<domain::Event>& events);

  const ProjectorStats& stats() const { return stats_; }

 private:
  // What one batch changed for a user, which decides the cache entries to refresh.
  struct UserChanges {
    std::optional<int64_t> first_task_position;  // lowest created_position of a changed task
    bool settings = false;
  };

  class Batch;
  void Loop();
  void UpdateLagMetrics(int64_t applied, int64_t applied_timestamp_ms);
  // Refreshes the users' cache entries that the changes may affect. When the cache cannot be
  // reached, it records that entries older than `checkpoint` must be invalidated once it can.
  void RefreshCache(const std::map<std::string, UserChanges>& users, int64_t checkpoint);
  // Whether a change to tasks at or after `first_task_position` may alter the user's cached pages.
  bool TouchesCachedPages(const std::string& user_id, int64_t first_task_position) const;
  // Raises the cache's floor when an invalidation is owed. Called on every poll until it works.
  void RaiseCacheFloor();

  std::shared_ptr<storage::EventQueue> queue_;
  std::shared_ptr<storage::EventStore> store_;
  std::shared_ptr<storage::ReadModels> read_models_;
  std::shared_ptr<query::ReadQueries> queries_;
  std::shared_ptr<storage::LiveUpdates> live_;
  ProjectorOptions options_;
  ProjectorStats stats_;
  int64_t cache_floor_pending_ = 0;   // stamp still owed to InvalidateCacheBefore, or 0
  bool cache_floor_checked_ = false;  // whether the floor owed at start-up has been computed
  // user id -> created_position of the last task on the user's last cached page, for users whose
  // list goes on past the cached pages. Tasks are never deleted, so a changed task after that
  // position leaves the cached pages (tokens included) as they are, and their refresh is skipped.
  // A task inserted before it can only lower the true value, so a remembered one stays safe.
  std::unordered_map<std::string, int64_t> cached_until_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace prism::workers
