// The embedded storage of `prism serve`: every storage interface on one SQLite file, plus the
// in-process cache and live-update fan-out.
#pragma once

#include <memory>

#include "common/config.h"
#include "storage/accounts.h"
#include "storage/interfaces.h"

namespace prism::sqlite {

// One set of storage objects sharing one database. The objects keep the database open until the
// last of them is destroyed. Destroy the command queue before exiting: its destructor commits
// the batches already handed to it.
struct EmbeddedStorage {
  std::shared_ptr<storage::CommandQueue> commands;
  std::shared_ptr<storage::EventStore> events;
  std::shared_ptr<storage::EventQueue> event_queue;
  std::shared_ptr<storage::ReadModels> read_models;
  std::shared_ptr<storage::Cache> cache;
  std::shared_ptr<storage::LiveUpdates> live;
  std::shared_ptr<storage::AccountStore> accounts;
};

// Opens (creating when missing) <config.data_dir>/prism.db, migrates its schema and builds the
// storage objects. The event store wakes the event queue's pollers after each commit, so callers
// need not call EventQueue::Notify(). Reads config.data_dir and config.admission_queue_limit.
// Throws StorageUnavailable when the file cannot be opened or migrated.
EmbeddedStorage OpenEmbeddedStorage(const Config& config);

// Creates or migrates the schema of <config.data_dir>/prism.db and closes it (`prism init`).
// Safe to run again and while other processes use the file. Throws StorageUnavailable.
void MigrateEmbeddedStorage(const Config& config);

}  // namespace prism::sqlite
