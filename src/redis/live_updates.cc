#include "redis/live_updates.h"

#include <poll.h>

#include <algorithm>
#include <utility>

#include <boost/json.hpp>

#include "common/log.h"

namespace prism::redis {

namespace {

using storage::StorageUnavailable;

constexpr std::string_view kComponent = "live-updates";
constexpr int kPollMs = 100;  // how often the subscriber thread checks for stopping

bool IsSettingsUpdate(const std::string& json) {
  boost::system::error_code error;
  boost::json::value value = boost::json::parse(json, error);
  if (error || !value.is_object()) return false;
  const boost::json::value* type = value.as_object().if_contains("entityType");
  return type != nullptr && type->is_string() && type->as_string() == "user-settings";
}

std::string Encode(const storage::LiveUpdate& update) {
  boost::json::object message;
  message["userId"] = update.user_id;
  message["position"] = update.position;
  message["json"] = update.json;
  return boost::json::serialize(message);
}

bool Decode(std::string_view text, storage::LiveUpdate* out) {
  boost::system::error_code error;
  boost::json::value value = boost::json::parse(text, error);
  if (error || !value.is_object()) return false;
  const boost::json::object& message = value.as_object();
  const boost::json::value* user = message.if_contains("userId");
  const boost::json::value* position = message.if_contains("position");
  const boost::json::value* json = message.if_contains("json");
  if (!user || !user->is_string() || !position || !position->is_int64() || !json ||
      !json->is_string()) {
    return false;
  }
  out->user_id = std::string(user->as_string());
  out->position = position->as_int64();
  out->json = std::string(json->as_string());
  return true;
}

}  // namespace

RedisLiveUpdates::RedisLiveUpdates(Endpoint endpoint, Options options)
    : options_(std::move(options)),
      task_channel_(options_.key_prefix + options_.task_channel),
      settings_channel_(options_.key_prefix + options_.settings_channel),
      endpoint_(endpoint),
      client_(std::move(endpoint), options_.client, std::string(kComponent)) {}

RedisLiveUpdates::~RedisLiveUpdates() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  state_changed_.notify_all();
  if (subscriber_thread_.joinable()) subscriber_thread_.join();
}

void RedisLiveUpdates::Publish(std::vector<storage::LiveUpdate> updates) {
  if (updates.empty()) return;
  client_.With([&](Connection& connection) {
    for (const storage::LiveUpdate& update : updates) {
      connection.Append({"PUBLISH",
                         IsSettingsUpdate(update.json) ? settings_channel_ : task_channel_,
                         Encode(update)});
    }
    for (size_t i = 0; i < updates.size(); ++i) ExpectOk(connection.Read().get(), "PUBLISH");
  });
}

std::unique_ptr<storage::LiveUpdates::Subscription> RedisLiveUpdates::Subscribe(Handler handler) {
  std::unique_ptr<Subscription> subscription = local_.Subscribe(std::move(handler));
  EnsureSubscriberThread();
  {
    std::unique_lock lock(mutex_);
    if (!state_changed_.wait_for(lock, options_.client.connect_timeout,
                                 [&] { return subscribed_ || stopping_; })) {
      log::Warn(kComponent, "subscribed while Redis is unreachable; updates arrive once it is back",
                {{"server", client_.Describe()}});
    }
  }
  return subscription;
}

bool RedisLiveUpdates::Subscribed() {
  std::lock_guard lock(mutex_);
  return subscribed_;
}

void RedisLiveUpdates::EnsureSubscriberThread() {
  std::lock_guard lock(mutex_);
  if (subscriber_thread_.joinable() || stopping_) return;
  subscriber_thread_ = std::thread([this] { RunSubscriber(); });
}

void RedisLiveUpdates::SetSubscribed(bool subscribed) {
  {
    std::lock_guard lock(mutex_);
    subscribed_ = subscribed;
  }
  state_changed_.notify_all();
}

void RedisLiveUpdates::RunSubscriber() {
  auto backoff = options_.client.backoff_min;
  for (;;) {
    auto [was_subscribed, failure] = ReadMessages();
    std::unique_lock lock(mutex_);
    if (stopping_) return;
    if (was_subscribed) backoff = options_.client.backoff_min;
    if (!outage_) {
      log::Error(kComponent, "subscriber lost Redis; updates are missed until it resubscribes",
                 {{"server", client_.Describe()}, {"error", failure}});
      outage_ = true;
    }
    state_changed_.wait_for(lock, backoff, [&] { return stopping_; });
    if (stopping_) return;
    backoff = std::min(backoff * 2, options_.client.backoff_max);
  }
}

std::pair<bool, std::string> RedisLiveUpdates::ReadMessages() {
  bool subscribed = false;
  try {
    Connection connection(endpoint_, options_.client.connect_timeout,
                          options_.client.command_timeout);
    connection.Append({"SUBSCRIBE", task_channel_, settings_channel_});
    for (int confirmed = 0; confirmed < 2; ++confirmed) {
      Reply reply = connection.Read();
      ExpectOk(reply.get(), "SUBSCRIBE");
    }
    subscribed = true;
    SetSubscribed(true);
    log::Info(
        kComponent,
        outage_ ? "resubscribed to live updates after an outage" : "subscribed to live updates",
        {{"server", client_.Describe()}, {"channels", task_channel_ + "," + settings_channel_}});
    outage_ = false;

    redisContext* context = connection.context();
    for (;;) {
      {
        std::lock_guard lock(mutex_);
        if (stopping_) break;
      }
      void* raw = nullptr;
      if (redisGetReplyFromReader(context, &raw) != REDIS_OK) connection.Fail("reading a message");
      if (raw != nullptr) {
        Reply reply(static_cast<redisReply*>(raw));
        Dispatch(reply.get());
        continue;
      }
      pollfd descriptor{context->fd, POLLIN, 0};
      int ready = poll(&descriptor, 1, kPollMs);
      if (ready < 0 && errno != EINTR) connection.Fail("poll");
      if (ready > 0 && redisBufferRead(context) != REDIS_OK) connection.Fail("reading a message");
    }
    SetSubscribed(false);
    return {subscribed, ""};
  } catch (const StorageUnavailable& error) {
    SetSubscribed(false);
    return {subscribed, error.what()};
  }
}

void RedisLiveUpdates::Dispatch(const redisReply* message) {
  // ["message", channel, payload]
  if (message->type != REDIS_REPLY_ARRAY || message->elements != 3 ||
      ReplyText(message->element[0]) != "message") {
    return;
  }
  storage::LiveUpdate update;
  if (!Decode(ReplyText(message->element[2]), &update)) {
    log::Warn(kComponent, "unreadable live update skipped",
              {{"channel", ReplyText(message->element[1])}});
    return;
  }
  // The in-process fan-out runs each handler on this thread and logs a handler that throws.
  std::vector<storage::LiveUpdate> updates;
  updates.push_back(std::move(update));
  local_.Publish(std::move(updates));
}

}  // namespace prism::redis
