#include "postgres/postgres_storage.h"

#include "postgres/account_store.h"
#include "postgres/command_queue.h"
#include "postgres/event_queue.h"
#include "postgres/event_store.h"
#include "postgres/read_models.h"
#include "postgres/schema.h"

namespace prism::postgres {

DistributedPostgres OpenPostgresStorage(const Config& config, PoolOptions pool_options) {
  auto pool = std::make_shared<ConnectionPool>(config.database_url, pool_options);
  MigrateSchema(*pool);

  PostgresCommandQueue::Options queue_options;
  queue_options.admission_limit = config.admission_queue_limit;

  auto event_queue = std::make_shared<PostgresEventQueue>(pool);
  std::weak_ptr<PostgresEventQueue> weak_queue = event_queue;
  auto notify = [weak_queue] {
    if (auto queue = weak_queue.lock()) queue->Notify();
  };

  DistributedPostgres storage;
  storage.commands = std::make_shared<PostgresCommandQueue>(pool, queue_options);
  storage.events = std::make_shared<PostgresEventStore>(pool, notify);
  storage.event_queue = event_queue;
  storage.read_models = std::make_shared<PostgresReadModels>(pool);
  storage.accounts = std::make_shared<PostgresAccountStore>(pool);
  storage.secrets = std::make_shared<PostgresSecretStore>(pool);
  return storage;
}

void MigratePostgresStorage(const Config& config) {
  ConnectionPool pool(config.database_url, PoolOptions{.max_connections = 1});
  MigrateSchema(pool);
}

}  // namespace prism::postgres
