// Synchronous HTTP clients for integration tests, on Boost.Beast.
//
// Every operation has a timeout, so a server that hangs fails the test instead of hanging it.
// Failures throw std::system_error, whose message names the operation and the target.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/verb.hpp>

#include "http/server.h"

namespace prism::test {

using http::Request;
using http::Response;

inline constexpr std::chrono::milliseconds kDefaultTimeout{5000};

// A request with Host set; Content-Length is set from the body when it is sent.
Request MakeRequest(boost::beast::http::verb method, std::string target, std::string body = {});

// A plain TCP connection for sending arbitrary (also malformed) bytes and reading raw replies.
class RawConnection {
 public:
  // Connects to host:port. Throws std::system_error when the connection fails.
  RawConnection(const std::string& host, uint16_t port,
                std::chrono::milliseconds timeout = kDefaultTimeout);
  ~RawConnection();

  // Writes all of `bytes`. Throws std::system_error on failure or timeout.
  void Write(std::string_view bytes);

  // Writes all of `bytes` and returns the error instead of throwing (for writes that may fail
  // because the server closed the connection).
  boost::system::error_code TryWrite(std::string_view bytes);

  // Reads one HTTP response. nullopt when the connection closes first or the timeout passes.
  // Pass `head_request` for the response to a HEAD request, which has no body.
  std::optional<Response> ReadResponse(std::chrono::milliseconds timeout = kDefaultTimeout,
                                       bool head_request = false);

  // Reads one line (without its "\n" or "\r\n"). nullopt when the connection closes or the
  // timeout passes first.
  std::optional<std::string> ReadLine(std::chrono::milliseconds timeout = kDefaultTimeout);

  // Reads and discards until the server closes the connection (end of stream or reset). Returns
  // false when it is still open after `timeout`.
  bool WaitForClose(std::chrono::milliseconds timeout = kDefaultTimeout);

  // Everything buffered or received until the server closes the connection or the timeout
  // passes.
  std::string ReadUntilClose(std::chrono::milliseconds timeout = kDefaultTimeout);

  // Shrinks the kernel's receive buffer (SO_RCVBUF), so a client that stops reading pushes back
  // on the server sooner.
  void SetReceiveBufferBytes(int bytes);

  void Close();

  boost::asio::ip::tcp::socket& socket() { return socket_; }

 private:
  template <typename Start>
  boost::system::error_code Run(std::chrono::milliseconds timeout, Start start);

  boost::asio::io_context io_;
  boost::asio::ip::tcp::socket socket_;
  boost::beast::flat_buffer buffer_;
  std::string description_;  // "host:port", for error messages
  std::chrono::milliseconds timeout_;
};

// A keep-alive HTTP/1.1 connection that sends requests one after another.
class HttpClient {
 public:
  HttpClient(const std::string& host, uint16_t port,
             std::chrono::milliseconds timeout = kDefaultTimeout);

  // Sends `request` (setting Host and Content-Length) and reads its response. Throws
  // std::system_error when the connection fails, closes early or times out.
  Response Send(Request request);

  RawConnection& connection() { return connection_; }

 private:
  RawConnection connection_;
  std::string host_;
  std::chrono::milliseconds timeout_;
};

// Sends one request on a new connection and returns the response. Throws like HttpClient::Send.
Response Send(const std::string& host, uint16_t port, Request request,
              std::chrono::milliseconds timeout = kDefaultTimeout);

// One server-sent event.
struct SseEvent {
  std::string id;
  std::string event;
  std::string data;  // "data:" lines joined with "\n"
};

// A server-sent-events client: sends a GET, reads the response head, then reads events.
class SseClient {
 public:
  // Connects, sends GET `target` with `headers` and reads the response head (status and header
  // lines). Throws std::system_error when that fails.
  SseClient(const std::string& host, uint16_t port, const std::string& target,
            const std::vector<std::pair<std::string, std::string>>& headers = {},
            std::chrono::milliseconds timeout = kDefaultTimeout);

  // The status line ("HTTP/1.1 200 OK") and the header lines as sent.
  const std::string& status_line() const { return status_line_; }
  const std::vector<std::string>& header_lines() const { return header_lines_; }

  // The value of the first header named `name` (case-insensitive), or nullopt.
  std::optional<std::string> Header(std::string_view name) const;

  // Reads the next event, skipping comment lines (": keep-alive"). nullopt when the connection
  // closes or the timeout passes first.
  std::optional<SseEvent> ReadEvent(std::chrono::milliseconds timeout = kDefaultTimeout);

  RawConnection& connection() { return connection_; }

 private:
  RawConnection connection_;
  std::string status_line_;
  std::vector<std::string> header_lines_;
};

}  // namespace prism::test
