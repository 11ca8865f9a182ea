// A prism::http::Server on 127.0.0.1 with an ephemeral port, for the HTTP layer's tests.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <thread>

#include <gtest/gtest.h>

#include "common/metrics.h"
#include "http/router.h"
#include "http/server.h"

namespace prism::test {

inline http::ServerOptions LoopbackOptions() {
  http::ServerOptions options;
  options.address = "127.0.0.1";
  options.port = 0;
  options.threads = 2;
  return options;
}

// Starts a server on demand and stops it at the end of the test. Each test gets its own metrics
// registry, so counts do not leak between tests.
class HttpServerFixture : public ::testing::Test {
 protected:
  void StartServer(http::ServerOptions options = LoopbackOptions()) {
    options.metrics = &registry_;
    server_ = std::make_unique<http::Server>(options, router_);
    server_->Start();
  }

  void TearDown() override {
    if (server_) server_->Stop(std::chrono::seconds(2));
  }

  uint16_t port() const { return server_->port(); }

  std::shared_ptr<http::Router> router_ = std::make_shared<http::Router>();
  metrics::Registry registry_;
  std::unique_ptr<http::Server> server_;
};

// Polls `condition` every 10 ms until it holds or `timeout` passes; returns its last value.
inline bool WaitUntil(const std::function<bool()>& condition,
                      std::chrono::milliseconds timeout = std::chrono::seconds(2)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace prism::test
