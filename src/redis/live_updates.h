// storage::LiveUpdates over Redis pub/sub.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "inprocess/live_updates.h"
#include "redis/connection.h"
#include "storage/interfaces.h"

namespace prism::redis {

// Publish sends each update to the tasks channel, or to the settings channel when its json has
// "entityType": "user-settings", as {"userId", "position", "json"} (json as a string, so it
// arrives byte for byte). Subscribers of any process receive them on this object's subscriber
// thread, which keeps one connection SUBSCRIBEd to both channels and subscribes again after
// reconnecting (with back-off). Updates published while the subscriber is disconnected are lost,
// as pub/sub keeps nothing; the outage and the recovery are logged.
//
// Thread-safe. Subscribe waits up to client.connect_timeout for the subscription to be active,
// so updates published after it returns reach the handler when Redis is up. Handlers run on the
// subscriber thread, one at a time; once a Subscription's destructor returns, its handler is not
// running and never runs again. A handler may destroy its own subscription.
class RedisLiveUpdates final : public storage::LiveUpdates {
 public:
  struct Options {
    std::string key_prefix;  // prepended to both channel names
    std::string task_channel = "task-updates";
    std::string settings_channel = "settings-updates";
    Client::Options client;
  };

  RedisLiveUpdates(Endpoint endpoint, Options options);
  ~RedisLiveUpdates() override;

  // Throws StorageUnavailable when Redis cannot take the messages.
  void Publish(std::vector<storage::LiveUpdate> updates) override;
  std::unique_ptr<Subscription> Subscribe(Handler handler) override;

  // Whether the subscriber connection is subscribed right now.
  bool Subscribed();

 private:
  void EnsureSubscriberThread();
  void RunSubscriber();
  // Connects, subscribes and reads until stopping or a failure. Returns whether the subscription
  // was active, and the failure.
  std::pair<bool, std::string> ReadMessages();
  void Dispatch(const redisReply* message);
  void SetSubscribed(bool subscribed);

  const Options options_;
  const std::string task_channel_;
  const std::string settings_channel_;
  const Endpoint endpoint_;
  Client client_;  // for PUBLISH
  // The handlers of this process; the subscriber thread publishes each received update to them.
  inprocess::InProcessLiveUpdates local_;

  std::mutex mutex_;  // guards the fields below
  std::condition_variable state_changed_;
  bool subscribed_ = false;
  bool stopping_ = false;
  bool outage_ = false;  // an outage was logged and no resubscription since; subscriber thread only
  std::thread subscriber_thread_;
};

}  // namespace prism::redis
