// The HTTP/1.1 server of every role that speaks HTTP, on Boost.Beast and Asio.
//
// N I/O threads, each running its own io_context (one per core by default); the acceptor hands
// each new connection to the next thread in turn, and one asynchronous session per connection
// serves it on that thread. Keep-alive and pipelined requests are answered in order, one at a
// time. Header, URL and body sizes are limited, and idle and slow clients are disconnected.
//
// Handlers run on their connection's I/O thread and must not block it. A handler may answer
// later, from any thread, through its Responder, so slow work such as durable command admission
// never holds an I/O thread.
//
// Cross-cutting behaviour lives in the server, not in handlers: CORS, gzip request bodies
// (inflated before the handler sees them) and gzip responses, 404/405 for unrouted requests,
// request metrics, and the one 5xx the server makes itself: a 500 when a handler throws.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

namespace prism::metrics {
class Registry;
}

namespace prism::http {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

// Per-request facts the server knows besides the message itself. Owned by the connection and
// valid until the request's Responder is called.
struct RequestInfo {
  uint64_t request_id = 0;  // unique within the process, for logs
  std::string remote_address;
  std::string route;                     // the matched route pattern, for metrics ("/api/tasks")
  std::vector<std::string> path_params;  // percent-decoded values of `{name}` segments, in order
};

// Sends the response of one request. Call it exactly once, from any thread. The server sets
// Content-Length, Date, keep-alive, CORS and gzip itself. A second call is ignored (and logged);
// dropping every copy without calling it sends a 500 (and logs an error).
using Responder = std::function<void(Response)>;

// Handles one request. `request` stays valid (and may be moved from) until `respond` is called.
using Handler = std::function<void(Request& request, const RequestInfo& info, Responder respond)>;

// An open server-sent-events response. Safe to use from any thread.
class EventStreamSink {
 public:
  virtual ~EventStreamSink() = default;

  // Queues bytes (whole SSE frames) for the client. Returns false when the connection is closed
  // or its buffer is full; a full buffer closes the connection (the slow-client policy).
  virtual bool Send(std::string frame) = 0;

  // Closes the connection after the queued bytes are written.
  virtual void Close() = 0;

  virtual bool IsOpen() const = 0;

  // Runs `callback` once when the connection closes, for whatever reason, on the connection's
  // I/O thread; at once (on the calling thread) when it is already closed.
  virtual void OnClose(std::function<void()> callback) = 0;
};

// What a stream handler decided: either reject the request with an ordinary response (for
// example 401), or accept it, after which the server writes the SSE response headers and calls
// `on_open` with the sink (on the connection's I/O thread).
struct StreamDecision {
  std::optional<Response> reject;
  std::function<void(std::shared_ptr<EventStreamSink>)> on_open;
};

using StreamHandler = std::function<StreamDecision(Request& request, const RequestInfo& info)>;

struct ServerOptions {
  std::string address = "0.0.0.0";
  uint16_t port = 8080;
  int threads = 0;                                 // 0: one per core
  size_t max_header_bytes = 16 * 1024;             // larger request heads get 431
  size_t max_target_bytes = 8 * 1024;              // longer request targets (URLs) get 414
  size_t max_body_bytes = 64 * 1024;               // larger bodies, also once inflated, get 413
  std::chrono::milliseconds read_timeout{15'000};  // for a whole request, once it has begun
  std::chrono::milliseconds keep_alive_timeout{60'000};  // idle time allowed between requests
  std::chrono::milliseconds write_timeout{30'000};       // for one write to a client
  size_t stream_buffer_bytes = 1 << 20;                  // queued, unwritten bytes per event stream
  std::string cors_allowed_origins = ".*";               // ECMAScript regex for the whole Origin
  metrics::Registry* metrics = nullptr;                  // nullptr: metrics::Registry::Default()
};

class Router;

class Server {
 public:
  // Throws std::invalid_argument when cors_allowed_origins is not a valid regular expression.
  // The router must not change after Start().
  Server(ServerOptions options, std::shared_ptr<Router> router);

  // Stops the server (with the default grace) if it is running.
  ~Server();

  // Binds and starts the I/O threads. Throws std::system_error naming the address when the
  // port cannot be bound.
  void Start();

  // Stops accepting and closes idle connections and event streams, lets in-flight requests
  // finish for up to `grace`, then closes everything and joins the I/O threads. Must not be
  // called from a handler (it would wait for its own thread).
  void Stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

  uint16_t port() const;  // the bound port (useful with port 0 in tests)

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace prism::http
