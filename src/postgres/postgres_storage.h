// The distributed storage of `prism` on PostgreSQL: every storage interface except the cache and
// the live-update fan-out, which belong to Redis or the in-process implementations.
#pragma once

#include <memory>

#include "common/config.h"
#include "postgres/connection.h"
#include "storage/accounts.h"
#include "storage/interfaces.h"
#include "storage/secrets.h"

namespace prism::postgres {

// One set of storage objects sharing one connection pool. Destroy the command queue before
// exiting: its destructor commits the batches already handed to it.
struct DistributedPostgres {
  std::shared_ptr<storage::CommandQueue> commands;
  std::shared_ptr<storage::EventStore> events;
  std::shared_ptr<storage::EventQueue> event_queue;
  std::shared_ptr<storage::ReadModels> read_models;
  std::shared_ptr<storage::AccountStore> accounts;
  std::shared_ptr<storage::SecretStore> secrets;  // e.g. secrets->LoadOrCreate("jwt-signing")
};

// Connects to config.database_url (postgres:// or postgresql://), migrates the schema and builds
// the storage objects. The event store wakes this process's event-queue pollers after each
// commit. Reads config.database_url and config.admission_queue_limit. Throws StorageUnavailable
// (without the password in the message) when the URL is invalid or the database unreachable.
DistributedPostgres OpenPostgresStorage(const Config& config, PoolOptions pool_options = {});

// Creates or migrates the schema at config.database_url (`prism init`). Safe to run from several
// processes at once. Throws StorageUnavailable.
void MigratePostgresStorage(const Config& config);

}  // namespace prism::postgres
