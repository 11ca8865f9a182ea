#include "redis/redis_storage.h"

#include <stdexcept>
#include <utility>

#include "redis/cache.h"
#include "redis/command_queue.h"
#include "redis/live_updates.h"

namespace prism::redis {

namespace {

Endpoint ParseEndpoint(const Config& config) {
  if (config.redis_connection_string.empty()) {
    throw ConfigError("REDIS_CONNECTION_STRING is missing; expected redis://host:port");
  }
  try {
    return ParseConnectionString(config.redis_connection_string);
  } catch (const std::invalid_argument& error) {
    throw ConfigError(error.what());
  }
}

}  // namespace

RedisStorage OpenRedisStorage(const Config& config, std::shared_ptr<storage::EventStore> events,
                              const RedisStorageOptions& options) {
  const Endpoint endpoint = ParseEndpoint(config);

  RedisCommandQueue::Options queue;
  queue.stream = config.command_queue;
  queue.key_prefix = options.key_prefix;
  queue.admission_limit = config.admission_queue_limit;
  queue.user_cursor = [events](std::string_view user_id) { return events->UserCursor(user_id); };

  OutboxRelay::Options relay;
  relay.stream = config.domain_events_queue;
  relay.key_prefix = options.key_prefix;

  RedisCache::Options cache;
  cache.key_prefix = options.key_prefix;

  RedisLiveUpdates::Options live;
  live.key_prefix = options.key_prefix;
  live.task_channel = config.task_updates_channel;
  live.settings_channel = config.settings_updates_channel;

  auto event_queue = std::make_shared<RedisEventQueue>(endpoint, std::move(events), relay);
  RedisStorage storage;
  storage.commands = std::make_shared<RedisCommandQueue>(endpoint, queue);
  storage.relay = std::shared_ptr<OutboxRelay>(event_queue, &event_queue->relay());
  storage.event_queue = event_queue;
  storage.cache = std::make_shared<RedisCache>(endpoint, cache);
  storage.live = std::make_shared<RedisLiveUpdates>(endpoint, live);
  return storage;
}

}  // namespace prism::redis
