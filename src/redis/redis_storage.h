// The Redis parts of the distributed backend, built from the configuration.
#pragma once

#include <memory>
#include <string>

#include "common/config.h"
#include "redis/event_queue.h"
#include "storage/interfaces.h"

namespace prism::redis {

struct RedisStorage {
  std::shared_ptr<storage::CommandQueue> commands;
  std::shared_ptr<storage::EventQueue> event_queue;
  std::shared_ptr<storage::Cache> cache;
  std::shared_ptr<storage::LiveUpdates> live;
  // The event queue's outbox relay. Poll relays on its own when idle; call relay->Start() in the
  // process that commits events (the domain worker) so events reach the stream at once.
  std::shared_ptr<OutboxRelay> relay;
};

struct RedisStorageOptions {
  // Prepended to every key and channel, so several deployments or test runs share one server.
  std::string key_prefix;
};

// Builds the objects on config.redis_connection_string, config.command_queue,
// config.domain_events_queue, config.task_updates_channel, config.settings_updates_channel and
// config.admission_queue_limit; the event queue relays from `events`. Connects lazily, so it
// succeeds while Redis is down; operations then throw StorageUnavailable. Throws ConfigError
// naming REDIS_CONNECTION_STRING when it is missing or invalid.
RedisStorage OpenRedisStorage(const Config& config, std::shared_ptr<storage::EventStore> events,
                              const RedisStorageOptions& options = {});

}  // namespace prism::redis
