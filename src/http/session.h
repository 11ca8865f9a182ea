// One HTTP/1.1 connection: reads requests one at a time, routes them, writes the responses in
// order (internal to prism_http).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "http/server_core.h"

namespace prism::http {

class HttpSession : public Connection, public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(std::shared_ptr<ServerCore> core, Socket socket);
  ~HttpSession() override;

  // Starts reading; call on the socket's executor.
  void Start();

  void Shutdown(bool force) override;

  // Hands in the response to request `request_id`, from any thread. Ignored when that request
  // already has a response or the connection is closed.
  void DeliverResponse(uint64_t request_id, Response response);

 private:
  enum class State { kReading, kIdle, kHandling, kWriting, kClosed };

  // Reading.
  void DoReadRequest();
  void OnReadHeader(boost::beast::error_code ec, size_t bytes);
  void DoReadBody();
  void OnReadBody(boost::beast::error_code ec, size_t bytes);
  void DoWaitForRequest();
  void OnRequestBytes(boost::beast::error_code ec, size_t bytes);
  void RejectUnreadable(boost::beast::error_code ec);

  // Handling.
  void HandleRequest();
  void ResolveOrigin(const Request& request);
  bool DecodeBody(Request& request);
  void CallHandler(const Handler& handler);
  void OpenEventStream(const StreamHandler& handler);
  void OnResponse(uint64_t request_id, Response response);
  void SendError(boost::beast::http::status status, std::string_view message,
                 bool input_left_unread);

  // Writing.
  void FinishResponse();
  bool CompressResponse();  // returns whether the response varies by Accept-Encoding
  void DoWrite();
  void OnWrite(boost::beast::error_code ec, size_t bytes);
  void DoLingeringClose();
  void OnLingerRead(boost::beast::error_code ec, size_t bytes);
  void CloseSocket();
  void MarkClosed();  // leaves the open-connection gauge and registry; idempotent
  void LogError(std::string_view message, std::string_view detail);

  std::shared_ptr<ServerCore> core_;
  Stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  Response response_;
  std::string head_;  // the serialized status line and header of response_
  RequestInfo info_;
  State state_ = State::kReading;
  bool counted_open_ = true;  // still counted in the open-connection gauge and registry

  // The request being handled.
  boost::beast::http::verb method_ = boost::beast::http::verb::get;
  unsigned version_ = 11;  // the response mirrors the request's HTTP version (1.0 or 1.1)
  int route_id_ = Router::kUnmatchedRouteId;
  bool keep_alive_ = false;
  bool accepts_gzip_ = false;
  bool handler_running_ = false;  // a handler is on the stack: its response waits for it to return
  bool response_ready_ = false;
  bool close_after_write_ = false;
  bool linger_on_close_ = false;  // unread request bytes may follow: drain them before closing
  std::string allowed_origin_;    // empty unless the request's Origin is allowed
  std::chrono::steady_clock::time_point request_start_;
  std::chrono::steady_clock::time_point read_deadline_;  // for the whole request being read

  // The Origin seen last on this connection and whether it is allowed. A browser sends the same
  // Origin on every request, so CorsPolicy runs once per connection.
  std::string last_origin_;
  bool last_origin_allowed_ = false;
  size_t lingered_bytes_ = 0;
};

}  // namespace prism::http
