// `prism domain`: turns queued commands into events.
//
// Each round leases a batch of commands, decides every command against the current state of the
// streams it touches, and commits the outcomes, events and cursor advances in one call to the
// event store (one transaction on SQLite). A user's commands are applied strictly in admission
// order: see domain/ordering.h for the sequence-number rule that the store enforces.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "storage/interfaces.h"

namespace prism::workers {

struct DomainWorkerOptions {
  std::string consumer = "domain";
  size_t batch_size = 512;
  // A batch takes milliseconds; the lease only bounds how long commands leased by a worker that
  // died wait before another worker (or the restarted one) takes them over.
  std::chrono::milliseconds lease{5'000};
  std::chrono::milliseconds poll_wait{200};
  std::chrono::milliseconds out_of_order_delay{20};
  int max_attempts = 20;  // deliveries before a message that keeps failing is dead-lettered
};

class DomainWorker {
 public:
  DomainWorker(std::shared_ptr<storage::CommandQueue> queue,
               std::shared_ptr<storage::EventStore> store,
               std::shared_ptr<storage::EventQueue> events,
               std::shared_ptr<storage::ReadModels> read_models, DomainWorkerOptions options);
  ~DomainWorker();

  void Start();
  // Finishes the batch in hand, then returns.
  void Stop();

  // Leases and processes one batch; returns how many messages it handled. Used by Start's thread
  // and by tests that drive the worker step by step.
  size_t RunOnce(std::chrono::milliseconds wait);

 private:
  class Batch;
  struct Round;
  void Loop();
  void SelectNext(const std::vector<storage::QueuedCommand>& messages, Batch& batch, Round& round);
  void DecideAll(Batch& batch, Round& round);
  void CommitAndAck(Round& round);

  std::shared_ptr<storage::CommandQueue> queue_;
  std::shared_ptr<storage::EventStore> store_;
  std::shared_ptr<storage::EventQueue> events_;
  std::shared_ptr<storage::ReadModels> read_models_;
  DomainWorkerOptions options_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace prism::workers
