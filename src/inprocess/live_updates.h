// In-process fan-out of live updates from the projector to the stream service.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "storage/interfaces.h"

namespace prism::inprocess {

// storage::LiveUpdates for one process. Publish calls every handler synchronously, on the
// publishing thread, in subscription order, with the updates in the order given.
//
// Thread-safe. Once a Subscription's destructor returns, its handler is not running and is never
// called again, even when another thread is publishing at that moment. A handler may destroy its
// own subscription. NOTE: a handler that destroys a different subscription can deadlock with a
// Publish on another thread that is inside that subscription's handler.
class InProcessLiveUpdates final : public storage::LiveUpdates {
 public:
  InProcessLiveUpdates();
  ~InProcessLiveUpdates() override;

  // A handler that throws is logged and skipped; the other handlers still run.
  void Publish(std::vector<storage::LiveUpdate> updates) override;
  std::unique_ptr<Subscription> Subscribe(Handler handler) override;

  size_t SubscriberCount();

 private:
  struct Subscriber;
  struct Registry;
  class SubscriptionHandle;

  // Shared with every subscription handle, so a handle may outlive this object.
  std::shared_ptr<Registry> registry_;
};

}  // namespace prism::inprocess
