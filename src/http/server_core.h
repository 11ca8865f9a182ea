// State shared by the server, its sessions and its event streams (internal to prism_http).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/asio/basic_stream_socket.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/http/verb.hpp>

#include "common/log.h"
#include "common/metrics.h"
#include "http/cors.h"
#include "http/router.h"
#include "http/server.h"

namespace prism::http {

inline constexpr std::string_view kLogComponent = "http";

// Sockets and streams bound to the concrete io_context executor rather than any_io_executor:
// the type-erased executor cost about a tenth of the server's CPU time on small requests.
using Executor = boost::asio::io_context::executor_type;
using Socket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, Executor>;
using Stream = boost::beast::basic_stream<boost::asio::ip::tcp, Executor>;

// A live connection that Server::Stop can shut down.
class Connection {
 public:
  virtual ~Connection() = default;

  // Closes the connection soon, from any thread. Without `force`, an idle connection closes at
  // once and a busy one after its current response; event streams always close at once.
  virtual void Shutdown(bool force) = 0;
};

// The open connections of one server, so that Stop can reach them and wait for them to close.
// A connection removes itself when it closes its socket (its object may live on a little longer,
// held by a Responder).
class ConnectionRegistry {
 public:
  void Add(Connection* connection, std::weak_ptr<Connection> handle);
  void Remove(Connection* connection);  // idempotent

  // Calls Shutdown(force) on every live connection (outside the lock).
  void ShutdownAll(bool force);

  // Waits until no connection is left or `deadline` passes; returns whether none is left.
  bool WaitUntilEmpty(std::chrono::steady_clock::time_point deadline);

 private:
  std::mutex mutex_;
  std::condition_variable empty_;
  std::unordered_map<Connection*, std::weak_ptr<Connection>> connections_;  // guarded by mutex_
};

// The server's metric series, looked up once so that recording a request takes no lock.
class HttpMetrics {
 public:
  // Route id of OPTIONS requests, to which the server responds itself.
  static constexpr int kPreflightRouteId = -3;

  // Reasons counted in prism_http_errors_total.
  enum class Error {
    kReadTimeout,
    kBadRequest,
    kHeaderTooLarge,
    kTargetTooLong,
    kBodyTooLarge,
    kBadEncoding,
    kHandlerException,
    kHandlerDroppedResponder,
    kStreamBufferFull,
    kAcceptFailed,
    kCount,
  };

  HttpMetrics(metrics::Registry& registry, const Router& router);

  // Counts one request whose response was written (or failed to be), and its latency.
  void RecordRequest(int route_id, boost::beast::http::verb method, unsigned status,
                     double seconds);

  void RecordError(Error error) { errors_[static_cast<size_t>(error)]->Inc(); }

  metrics::Gauge& open_connections() { return open_connections_; }
  metrics::Gauge& open_streams() { return open_streams_; }
  metrics::Gauge& stream_buffer_bytes() { return stream_buffer_bytes_; }

 private:
  metrics::Counter& RequestCounter(int route_id, boost::beast::http::verb method, unsigned status);

  const uint64_t instance_id_;  // distinguishes servers in the per-thread counter cache
  const Router& router_;
  metrics::CounterFamily& requests_;
  std::vector<metrics::Histogram*> durations_;  // by route_id - kPreflightRouteId
  std::vector<metrics::Counter*> errors_;       // by Error
  metrics::Gauge& open_connections_;
  metrics::Gauge& open_streams_;
  metrics::Gauge& stream_buffer_bytes_;
};

struct ServerCore {
  ServerCore(ServerOptions server_options, std::shared_ptr<Router> server_router);

  // One io_context per I/O thread. Sessions keep the core alive, so a Responder called after
  // Server::Stop never touches a destroyed io_context.
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts;

  const ServerOptions options;
  const std::shared_ptr<Router> router;
  const CorsPolicy cors;
  std::unique_ptr<HttpMetrics> metrics;  // set by Server::Start, before any connection
  ConnectionRegistry connections;
  log::RateLimiter error_log_limiter{std::chrono::seconds(10)};

  std::atomic<bool> stopping{false};  // Stop has begun: no new keep-alive
  std::atomic<bool> stopped{false};   // the I/O threads are gone: late responses are dropped
  std::atomic<uint64_t> next_request_id{1};
};

// The current time as an HTTP date ("Tue, 15 Nov 1994 08:12:31 GMT"), formatted once per second
// per thread.
std::string_view HttpDateNow();

}  // namespace prism::http
