#include "inprocess/live_updates.h"

#include <algorithm>
#include <utility>

#include "common/log.h"

namespace prism::inprocess {

namespace {

constexpr std::string_view kComponent = "live-updates";

}  // namespace

struct InProcessLiveUpdates::Subscriber {
  explicit Subscriber(Handler h) : handler(std::move(h)) {}

  // Held while the handler runs and while the subscription is cancelled, so cancelling waits for
  // a running call. Recursive, so a handler can cancel its own subscription.
  std::recursive_mutex mutex;
  bool active = true;  // guarded by mutex
  Handler handler;
};

struct InProcessLiveUpdates::Registry {
  std::mutex mutex;  // guards subscribers
  std::vector<std::shared_ptr<Subscriber>> subscribers;
};

class InProcessLiveUpdates::SubscriptionHandle final : public Subscription {
 public:
  SubscriptionHandle(std::shared_ptr<Registry> registry, std::shared_ptr<Subscriber> subscriber)
      : registry_(std::move(registry)), subscriber_(std::move(subscriber)) {}

  ~SubscriptionHandle() override {
    {
      std::lock_guard lock(subscriber_->mutex);
      subscriber_->active = false;
    }
    std::lock_guard lock(registry_->mutex);
    auto& list = registry_->subscribers;
    list.erase(std::remove(list.begin(), list.end(), subscriber_), list.end());
  }

 private:
  std::shared_ptr<Registry> registry_;
  std::shared_ptr<Subscriber> subscriber_;
};

InProcessLiveUpdates::InProcessLiveUpdates() : registry_(std::make_shared<Registry>()) {}

InProcessLiveUpdates::~InProcessLiveUpdates() = default;

void InProcessLiveUpdates::Publish(std::vector<storage::LiveUpdate> updates) {
  if (updates.empty()) return;
  std::vector<std::shared_ptr<Subscriber>> snapshot;
  {
    std::lock_guard lock(registry_->mutex);
    snapshot = registry_->subscribers;
  }
  for (const std::shared_ptr<Subscriber>& subscriber : snapshot) {
    std::lock_guard lock(subscriber->mutex);
    for (const storage::LiveUpdate& update : updates) {
      if (!subscriber->active) break;
      try {
        subscriber->handler(update);
      } catch (const std::exception& error) {
        log::Error(
            kComponent, "live update handler threw",
            {{"user_id", update.user_id}, {"position", update.position}, {"error", error.what()}});
      }
    }
  }
}

std::unique_ptr<storage::LiveUpdates::Subscription> InProcessLiveUpdates::Subscribe(
    Handler handler) {
  auto subscriber = std::make_shared<Subscriber>(std::move(handler));
  {
    std::lock_guard lock(registry_->mutex);
    registry_->subscribers.push_back(subscriber);
  }
  return std::make_unique<SubscriptionHandle>(registry_, std::move(subscriber));
}

size_t InProcessLiveUpdates::SubscriberCount() {
  std::lock_guard lock(registry_->mutex);
  return registry_->subscribers.size();
}

}  // namespace prism::inprocess
