// The HTTP/1.1 server of every role that speaks HTTP, on Boost.Beast and Asio.
//
// One io_context run by N threads (one per core by default), one asynchronous session per
// connection, keep-alive, limits on header and body sizes and timeouts for idle and slow clients.
// Handlers run on the session's strand; a handler may answer later (from any thread) through its
// Responder, so slow work such as durable command admission never blocks an I/O thread.
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

namespace prism::http {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

// Per-request facts the server knows besides the message itself.
struct RequestInfo {
  uint64_t request_id = 0;  // unique within the process, for logs
  std::string remote_address;
  std::string route;        // the matched route pattern, for metrics ("/api/tasks")
  std::vector<std::string> path_params;  // values of `{name}` segments, in order
};

// Sends the response of one request. Must be called exactly once; safe from any thread.
using Responder = std::function<void(Response)>;

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

  // Runs `callback` once when the connection closes, for whatever reason.
  virtual void OnClose(std::function<void()> callback) = 0;
};

// What a stream handler decided: either reject the request with an ordinary response (for
// example 401), or accept it, after which the server writes the SSE response headers and calls
// `on_open` with the sink.
struct StreamDecision {
  std::optional<Response> reject;
  std::function<void(std::shared_ptr<EventStreamSink>)> on_open;
};

using StreamHandler = std::function<StreamDecision(Request& request, const RequestInfo& info)>;

struct ServerOptions {
  std::string address = "0.0.0.0";
  uint16_t port = 8080;
  int threads = 0;                              // 0: one per core
  size_t max_header_bytes = 16 * 1024;          // larger request heads get 431
  size_t max_body_bytes = 64 * 1024;            // larger bodies get 413
  std::chrono::seconds read_timeout{15};        // slow or idle clients are disconnected
  std::chrono::seconds keep_alive_timeout{60};  // idle keep-alive connections are closed
  size_t stream_buffer_bytes = 1 << 20;         // per open event stream
  std::string cors_allowed_origins = ".*";      // regular expression for the whole Origin
};

class Router;

class Server {
 public:
  Server(ServerOptions options, std::shared_ptr<Router> router);
  ~Server();

  // Binds and starts the I/O threads. Throws std::system_error naming the address when the
  // port cannot be bound.
  void Start();

  // Stops accepting, lets in-flight requests finish for up to `grace`, then closes everything.
  void Stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

  uint16_t port() const;  // the bound port (useful with port 0 in tests)

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace prism::http
