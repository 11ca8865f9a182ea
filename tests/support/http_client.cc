#include "support/http_client.h"

#include <sstream>
#include <system_error>

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

namespace prism::test {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace beast_http = boost::beast::http;
using tcp = net::ip::tcp;
using boost::system::error_code;

constexpr uint32_t kMaxResponseHeaderBytes = 64 * 1024;

}  // namespace

Request MakeRequest(beast_http::verb method, std::string target, std::string body) {
  Request request(method, target, 11);
  request.set(beast_http::field::host, "127.0.0.1");
  request.body() = std::move(body);
  return request;
}

RawConnection::RawConnection(const std::string& host, uint16_t port,
                             std::chrono::milliseconds timeout)
    : socket_(io_), description_(host + ":" + std::to_string(port)), timeout_(timeout) {
  tcp::resolver resolver(io_);
  error_code ec;
  auto endpoints = resolver.resolve(host, std::to_string(port), ec);
  if (ec) throw std::system_error(ec, "resolve " + description_);
  ec = Run(timeout, [&](auto done) {
    net::async_connect(socket_, endpoints,
                       [done](error_code connect_ec, const tcp::endpoint&) { done(connect_ec); });
  });
  if (ec) throw std::system_error(ec, "connect to " + description_);
}

RawConnection::~RawConnection() { Close(); }

template <typename Start>
error_code RawConnection::Run(std::chrono::milliseconds timeout, Start start) {
  std::optional<error_code> result;
  start([&result](error_code ec) { result = ec; });
  io_.restart();
  io_.run_for(timeout);
  if (result) return *result;

  error_code ignored;
  socket_.cancel(ignored);
  io_.restart();
  io_.run();
  return net::error::timed_out;
}

void RawConnection::Write(std::string_view bytes) {
  error_code ec = TryWrite(bytes);
  if (ec) throw std::system_error(ec, "write to " + description_);
}

error_code RawConnection::TryWrite(std::string_view bytes) {
  return Run(timeout_, [&](auto done) {
    net::async_write(socket_, net::buffer(bytes), [done](error_code ec, size_t) { done(ec); });
  });
}

std::optional<Response> RawConnection::ReadResponse(std::chrono::milliseconds timeout,
                                                    bool head_request) {
  beast_http::response_parser<beast_http::string_body> parser;
  parser.header_limit(kMaxResponseHeaderBytes);
  parser.body_limit(boost::none);
  parser.skip(head_request);
  error_code ec = Run(timeout, [&](auto done) {
    beast_http::async_read(socket_, buffer_, parser,
                           [done](error_code read_ec, size_t) { done(read_ec); });
  });
  if (ec) return std::nullopt;
  return parser.release();
}

std::optional<std::string> RawConnection::ReadLine(std::chrono::milliseconds timeout) {
  // Asio's read_until would copy a Beast flat_buffer, so lines are split here.
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    std::string_view buffered(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    size_t newline = buffered.find('\n');
    if (newline != std::string_view::npos) {
      std::string line(buffered.substr(0, newline));
      buffer_.consume(newline + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      return line;
    }

    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left <= std::chrono::milliseconds(0)) return std::nullopt;
    size_t bytes = 0;
    error_code ec = Run(left, [&](auto done) {
      socket_.async_read_some(buffer_.prepare(16 * 1024),
                              [&bytes, done](error_code read_ec, size_t n) {
                                bytes = n;
                                done(read_ec);
                              });
    });
    buffer_.commit(bytes);
    if (ec) return std::nullopt;
  }
}

bool RawConnection::WaitForClose(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left <= std::chrono::milliseconds(0)) return false;
    buffer_.clear();
    error_code ec = Run(left, [&](auto done) {
      socket_.async_read_some(buffer_.prepare(64 * 1024),
                              [done](error_code read_ec, size_t) { done(read_ec); });
    });
    if (ec == net::error::timed_out) return false;
    if (ec) return true;  // end of stream, reset, or another error: the connection is gone
  }
}

std::string RawConnection::ReadUntilClose(std::chrono::milliseconds timeout) {
  std::string received(static_cast<const char*>(buffer_.data().data()), buffer_.size());
  buffer_.clear();
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left <= std::chrono::milliseconds(0)) return received;
    size_t bytes = 0;
    error_code ec = Run(left, [&](auto done) {
      socket_.async_read_some(buffer_.prepare(64 * 1024),
                              [&bytes, done](error_code read_ec, size_t n) {
                                bytes = n;
                                done(read_ec);
                              });
    });
    buffer_.commit(bytes);
    received.append(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    buffer_.clear();
    if (ec) return received;
  }
}

void RawConnection::SetReceiveBufferBytes(int bytes) {
  error_code ec;
  socket_.set_option(net::socket_base::receive_buffer_size(bytes), ec);
  if (ec) throw std::system_error(ec, "set SO_RCVBUF on " + description_);
}

void RawConnection::Close() {
  error_code ec;
  socket_.close(ec);
}

HttpClient::HttpClient(const std::string& host, uint16_t port, std::chrono::milliseconds timeout)
    : connection_(host, port, timeout),
      host_(host + ":" + std::to_string(port)),
      timeout_(timeout) {}

Response HttpClient::Send(Request request) {
  request.set(beast_http::field::host, host_);
  if (!request.body().empty() || request.method() == beast_http::verb::post) {
    request.prepare_payload();
  }
  std::string bytes;
  {
    // Serializing into a string first keeps Write() the one place that deals with timeouts.
    std::ostringstream out;
    out << request;
    bytes = std::move(out).str();
  }
  connection_.Write(bytes);
  auto response = connection_.ReadResponse(timeout_, request.method() == beast_http::verb::head);
  if (!response) {
    throw std::system_error(make_error_code(std::errc::connection_aborted),
                            "no response from " + host_ + " to " + std::string(request.target()));
  }
  return std::move(*response);
}

Response Send(const std::string& host, uint16_t port, Request request,
              std::chrono::milliseconds timeout) {
  HttpClient client(host, port, timeout);
  return client.Send(std::move(request));
}

SseClient::SseClient(const std::string& host, uint16_t port, const std::string& target,
                     const std::vector<std::pair<std::string, std::string>>& headers,
                     std::chrono::milliseconds timeout)
    : connection_(host, port, timeout) {
  std::string head = "GET " + target + " HTTP/1.1\r\nHost: " + host + ":" + std::to_string(port) +
                     "\r\nAccept: text/event-stream\r\n";
  for (const auto& [name, value] : headers) head += name + ": " + value + "\r\n";
  head += "\r\n";
  connection_.Write(head);

  auto status = connection_.ReadLine(timeout);
  if (!status) {
    throw std::system_error(make_error_code(std::errc::connection_aborted),
                            "no response head for GET " + target);
  }
  status_line_ = std::move(*status);
  while (auto line = connection_.ReadLine(timeout)) {
    if (line->empty()) return;
    header_lines_.push_back(std::move(*line));
  }
  throw std::system_error(make_error_code(std::errc::connection_aborted),
                          "incomplete response head for GET " + target);
}

std::optional<std::string> SseClient::Header(std::string_view name) const {
  for (const std::string& line : header_lines_) {
    size_t colon = line.find(':');
    if (colon == std::string::npos || !beast::iequals(line.substr(0, colon), name)) continue;
    size_t start = line.find_first_not_of(' ', colon + 1);
    return start == std::string::npos ? std::string() : line.substr(start);
  }
  return std::nullopt;
}

std::optional<SseEvent> SseClient::ReadEvent(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  SseEvent event;
  bool has_field = false;
  bool has_data = false;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left <= std::chrono::milliseconds(0)) return std::nullopt;
    auto line = connection_.ReadLine(left);
    if (!line) return std::nullopt;
    if (line->empty()) {
      if (has_field) return event;
      continue;
    }
    if (line->front() == ':') continue;  // a comment, such as a keep-alive

    size_t colon = line->find(':');
    std::string field = line->substr(0, colon);
    std::string value;
    if (colon != std::string::npos) {
      value = line->substr(colon + 1);
      if (!value.empty() && value.front() == ' ') value.erase(0, 1);
    }
    has_field = true;
    if (field == "data") {
      if (has_data) event.data += '\n';
      event.data += value;
      has_data = true;
    } else if (field == "id") {
      event.id = value;
    } else if (field == "event") {
      event.event = value;
    }
  }
}

}  // namespace prism::test
