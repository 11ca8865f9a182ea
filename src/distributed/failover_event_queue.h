// An events queue that falls back to reading the event store by position while its primary queue
// (Redis Streams in the distributed backend) is unavailable, so projections keep catching up
// through an outage of the queue.
//
// Acknowledgements go to both queues, so the fallback always resumes at the consumer's position.
// While on the fallback, the primary is probed every `probe_interval`; the first successful poll
// switches back. The consumer may see an event twice around a switch; the projector skips events
// it has already applied, by stream version.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>

#include "storage/interfaces.h"

namespace prism::distributed {

class FailoverEventQueue final : public storage::EventQueue {
 public:
  FailoverEventQueue(std::shared_ptr<storage::EventQueue> primary,
                     std::shared_ptr<storage::EventQueue> fallback,
                     std::chrono::milliseconds probe_interval = std::chrono::seconds(5));

  std::vector<domain::Event> Poll(std::string_view consumer, size_t max,
                                  std::chrono::milliseconds wait) override;
  void Ack(std::string_view consumer, int64_t position) override;
  void DeadLetter(const domain::Event& event, std::string_view reason) override;
  void Notify() override;

  // Whether polls currently go to the fallback (for tests and /metrics).
  bool OnFallback() const { return on_fallback_.load(); }

 private:
  std::vector<domain::Event> PollFallback(std::string_view consumer, size_t max,
                                          std::chrono::milliseconds wait);
  void SwitchToFallback(const std::exception& error);

  std::shared_ptr<storage::EventQueue> primary_;
  std::shared_ptr<storage::EventQueue> fallback_;
  std::chrono::milliseconds probe_interval_;
  std::atomic<bool> on_fallback_{false};
  std::atomic<int64_t> next_probe_ms_{0};
};

}  // namespace prism::distributed
