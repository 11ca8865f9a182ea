// `GET /stream`: server-sent events with each user's live updates.
//
// On connect a stream gets two snapshot messages (all the user's tasks, then the settings), then
// one message per change of that user's read model. Every message carries an `id:` with the
// global event position it reflects, so a client that reconnects with `Last-Event-ID` (or
// `?lastEventId=`) receives only what it missed, when the per-user history still holds it, and a
// fresh snapshot otherwise.
//
// Expiry: a stream whose token has an "exp" is closed within one keep-alive interval of the
// moment the token stops being accepted, so a revoked or expired session does not keep receiving
// updates. Clients reconnect with a fresh token (the web app renews it before expiry).
//
// Slow clients: each connection has a bounded send buffer (http::ServerOptions); a client whose
// buffer fills is disconnected and will reconnect with its last id. Nothing here blocks the
// projector that publishes the updates.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "auth/verifier.h"
#include "http/router.h"
#include "query/read_queries.h"
#include "storage/interfaces.h"

namespace prism::stream {

struct StreamOptions {
  std::chrono::milliseconds keepalive{30'000};
  size_t history_per_user = 128;  // recent updates kept per user for Last-Event-ID resumption
  std::chrono::minutes idle_user_retention{10};  // history of users without streams is dropped
  // A stream closes once its token would no longer be accepted: at its "exp" plus this leeway
  // (the verifiers' clock-skew allowance), checked on every keep-alive tick.
  std::chrono::seconds token_leeway{60};
};

class StreamService {
 public:
  StreamService(std::shared_ptr<storage::LiveUpdates> live,
                std::shared_ptr<storage::ReadModels> read_models,
                std::shared_ptr<auth::TokenVerifier> verifier, StreamOptions options);
  ~StreamService();

  // Adds GET /stream to the router.
  void Register(http::Router& router);

  // Subscribes to live updates and starts the keep-alive thread.
  void Start();
  // Closes every open stream and stops the keep-alive thread.
  void Stop();

  int64_t open_streams() const { return open_streams_.load(); }

 private:
  struct Hub;
  http::StreamDecision Accept(http::Request& request, const http::RequestInfo& info);
  void KeepAliveLoop();
  void KeepAliveTick(std::chrono::steady_clock::time_point now, int64_t now_unix);

  std::shared_ptr<storage::LiveUpdates> live_;
  std::shared_ptr<storage::ReadModels> read_models_;
  std::shared_ptr<auth::TokenVerifier> verifier_;
  StreamOptions options_;
  std::shared_ptr<Hub> hub_;
  std::unique_ptr<storage::LiveUpdates::Subscription> subscription_;
  std::atomic<int64_t> open_streams_{0};

  std::mutex stop_mutex_;
  std::condition_variable stop_signal_;
  bool stopping_ = false;  // guarded by stop_mutex_
  std::thread keepalive_thread_;
};

}  // namespace prism::stream
