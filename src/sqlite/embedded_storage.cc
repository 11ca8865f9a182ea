#include "sqlite/embedded_storage.h"

#include "inprocess/live_updates.h"
#include "inprocess/memory_cache.h"
#include "sqlite/account_store.h"
#include "sqlite/command_queue.h"
#include "sqlite/database.h"
#include "sqlite/event_queue.h"
#include "sqlite/event_store.h"
#include "sqlite/read_models.h"

namespace prism::sqlite {

EmbeddedStorage OpenEmbeddedStorage(const Config& config) {
  auto database = std::make_shared<Database>(config.data_dir);
  database->Migrate();

  SqliteCommandQueue::Options queue_options;
  queue_options.admission_limit = config.admission_queue_limit;

  auto event_queue = std::make_shared<SqliteEventQueue>(database);
  std::weak_ptr<SqliteEventQueue> weak_queue = event_queue;
  auto notify = [weak_queue] {
    if (auto queue = weak_queue.lock()) queue->Notify();
  };

  EmbeddedStorage storage;
  storage.commands = std::make_shared<SqliteCommandQueue>(database, queue_options);
  storage.events = std::make_shared<SqliteEventStore>(database, notify);
  storage.event_queue = event_queue;
  storage.read_models = std::make_shared<SqliteReadModels>(database);
  storage.cache = std::make_shared<inprocess::MemoryCache>();
  storage.live = std::make_shared<inprocess::InProcessLiveUpdates>();
  storage.accounts = std::make_shared<SqliteAccountStore>(database);
  return storage;
}

void MigrateEmbeddedStorage(const Config& config) {
  Database database(config.data_dir);
  database.Migrate();
}

}  // namespace prism::sqlite
