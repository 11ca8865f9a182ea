#include "distributed/failover_event_queue.h"

#include "common/log.h"
#include "common/metrics.h"

namespace prism::distributed {

namespace {

constexpr std::string_view kComponent = "events-queue";

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

metrics::Gauge& FallbackGauge() {
  static metrics::Gauge& gauge =
      metrics::Registry::Default()
          .AddGauge("prism_events_queue_fallback",
                    "1 while projections read the event store because the events queue is down")
          .WithLabels({});
  return gauge;
}

}  // namespace

FailoverEventQueue::FailoverEventQueue(std::shared_ptr<storage::EventQueue> primary,
                                       std::shared_ptr<storage::EventQueue> fallback,
                                       std::chrono::milliseconds probe_interval)
    : primary_(std::move(primary)),
      fallback_(std::move(fallback)),
      probe_interval_(probe_interval) {}

std::vector<domain::Event> FailoverEventQueue::Poll(std::string_view consumer, size_t max,
                                                    std::chrono::milliseconds wait) {
  if (on_fallback_ && NowMs() < next_probe_ms_) return PollFallback(consumer, max, wait);

  try {
    // A probe must not wait: the fallback may have events ready meanwhile.
    auto events = primary_->Poll(consumer, max, on_fallback_ ? std::chrono::milliseconds(0) : wait);
    if (on_fallback_.exchange(false)) {
      FallbackGauge().Set(0);
      log::Info(kComponent, "events queue is back; reading from it again");
    }
    return events;
  } catch (const storage::StorageUnavailable& error) {
    SwitchToFallback(error);
    return PollFallback(consumer, max, wait);
  }
}

std::vector<domain::Event> FailoverEventQueue::PollFallback(std::string_view consumer, size_t max,
                                                            std::chrono::milliseconds wait) {
  return fallback_->Poll(consumer, max, wait);
}

void FailoverEventQueue::SwitchToFallback(const std::exception& error) {
  next_probe_ms_ = NowMs() + probe_interval_.count();
  if (!on_fallback_.exchange(true)) {
    FallbackGauge().Set(1);
    log::Warn(kComponent, "events queue unavailable; catching up from the event store",
              {{"error", error.what()}});
  }
}

void FailoverEventQueue::Ack(std::string_view consumer, int64_t position) {
  // The fallback's acknowledgement is the one that must not be lost: it is where a later
  // outage resumes. A failure of the primary's is logged and left to the next batch.
  fallback_->Ack(consumer, position);
  if (on_fallback_) return;
  try {
    primary_->Ack(consumer, position);
  } catch (const storage::StorageUnavailable& error) {
    SwitchToFallback(error);
  }
}

void FailoverEventQueue::DeadLetter(const domain::Event& event, std::string_view reason) {
  // The event store's dead letters are durable whatever state the queue is in.
  fallback_->DeadLetter(event, reason);
}

void FailoverEventQueue::Notify() {
  primary_->Notify();
  fallback_->Notify();
}

}  // namespace prism::distributed
