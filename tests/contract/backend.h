// Storage backends under the contract test suite. Each backend registers a factory; every test of
// storage_contract_test.cc runs once per registered backend, on a fresh, empty store.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "domain/event.h"
#include "storage/interfaces.h"

namespace prism::contract {

// One open set of storage objects. Releasing every pointer closes the store.
struct StorageSet {
  std::shared_ptr<storage::CommandQueue> commands;
  std::shared_ptr<storage::EventStore> events;
  std::shared_ptr<storage::EventQueue> event_queue;
  std::shared_ptr<storage::ReadModels> read_models;
  std::shared_ptr<storage::Cache> cache;
  std::shared_ptr<storage::LiveUpdates> live;
};

struct OpenOptions {
  int admission_queue_limit = 100'000;
};

// A write transaction on a connection of its own that has appended one event and not committed
// yet. Destroying it without Commit() rolls the transaction back.
class LateWriter {
 public:
  virtual ~LateWriter() = default;
  virtual void Commit() = 0;
};

// One fresh store of a backend (a temporary directory, a scratch database...), removed when the
// object is destroyed.
class Backend {
 public:
  virtual ~Backend() = default;

  // Opens the store, creating its schema when missing. Opening again after every object of the
  // previous set was released reopens the same data.
  virtual StorageSet Open(const OpenOptions& options) = 0;

  // Runs the backend's schema migration with connections of its own, as `prism init` does.
  virtual void Migrate() = 0;

  // A text that equals for two stores exactly when their schemas are equal.
  virtual std::string DescribeSchema() = 0;

  // Begins a transaction on a connection of its own, appends `event` and leaves it uncommitted.
  // Call it while the open set is idle, because it may wait for a write that is already running.
  virtual std::unique_ptr<LateWriter> BeginLateWrite(const domain::Event& event) = 0;

  // True when the backend admits one writer at a time, so a commit waits for a late writer.
  virtual bool SerializesWriters() const = 0;

  // Rows kept in the dead-letter stores of the command queue and of the event queue.
  virtual int64_t CountCommandDeadLetters() = 0;
  virtual int64_t CountEventDeadLetters() = 0;
};

using BackendFactory = std::function<std::unique_ptr<Backend>()>;

// Adds a backend under `name`; returns true so a file can register at static initialisation:
//   const bool registered = RegisterBackend("sqlite", [] { return ...; });
bool RegisterBackend(std::string name, BackendFactory factory);

// Names of the registered backends, in registration order.
std::vector<std::string> BackendNames();

// A fresh store of the named backend. Throws std::out_of_range for an unknown name.
std::unique_ptr<Backend> CreateBackend(const std::string& name);

}  // namespace prism::contract
