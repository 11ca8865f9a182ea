#include "http/session.h"

#include <array>
#include <atomic>
#include <exception>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/read.hpp>

#include "http/event_stream.h"
#include "http/gzip.h"
#include "http/response_head.h"
#include "http/responses.h"

namespace prism::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace beast_http = boost::beast::http;
using tcp = net::ip::tcp;

// Bytes read at once while waiting for the next request on a kept-alive connection.
constexpr size_t kIdleReadBytes = 8 * 1024;
// After rejecting a request whose bytes were not all read, the server drains at most this much
// for at most kLingerTimeout, so the client reads the error instead of a connection reset.
constexpr size_t kMaxLingerBytes = 256 * 1024;
constexpr std::chrono::seconds kLingerTimeout{2};
constexpr size_t kMaxLoggedCodingBytes = 40;
constexpr std::string_view kContinueResponse = "HTTP/1.1 100 Continue\r\n\r\n";

// The session whose handler is running on this thread, so that a Responder called from inside
// the handler stores the response directly instead of posting it.
thread_local const HttpSession* handling_session = nullptr;

// Shared by all copies of one request's Responder. Delivers the first response, and turns a
// Responder dropped without being called into a 500.
class PendingResponse {
 public:
  PendingResponse(std::shared_ptr<HttpSession> session, uint64_t request_id,
                  std::shared_ptr<ServerCore> core)
      : session_(std::move(session)), request_id_(request_id), core_(std::move(core)) {}

  ~PendingResponse() {
    if (answered_.load(std::memory_order_relaxed)) return;
    core_->metrics->RecordError(HttpMetrics::Error::kHandlerDroppedResponder);
    LogError("handler dropped its responder without calling it; sending 500");
    session_->DeliverResponse(
        request_id_,
        MakeErrorResponse(beast_http::status::internal_server_error, "internal server error"));
  }

  void Answer(Response response) {
    if (answered_.exchange(true)) {
      LogError("responder called more than once; the later response is ignored");
      return;
    }
    session_->DeliverResponse(request_id_, std::move(response));
  }

  // Records that the server itself sent the response (after the handler threw).
  void MarkAnswered() { answered_.store(true); }

 private:
  void LogError(std::string_view message) {
    long suppressed = core_->error_log_limiter.Admit(message);
    if (suppressed < 0) return;
    log::Error(kLogComponent, message, {{"request_id", request_id_}, {"suppressed", suppressed}});
  }

  std::shared_ptr<HttpSession> session_;
  uint64_t request_id_;
  std::shared_ptr<ServerCore> core_;
  std::atomic<bool> answered_{false};
};

// Returns the path of an origin-form ("/a?b") or absolute-form ("http://h/a?b") request target,
// or an empty view for any other form.
std::string_view TargetPath(std::string_view target) {
  if (!target.starts_with('/')) {
    size_t scheme_end = target.find("://");
    if (scheme_end == std::string_view::npos) return {};
    size_t slash = target.find('/', scheme_end + 3);
    if (slash == std::string_view::npos) return "/";
    target.remove_prefix(slash);
  }
  return target.substr(0, target.find_first_of("?#"));
}

// Whether a request head that exceeded the header limit did so because of its request line
// ("GET <target> HTTP/1.1"), which deserves 414 rather than 431. The parser consumes the request
// line from the buffer as soon as it is complete, so the buffer cannot tell. The partial message
// can: Beast sets its target once the line is parsed, and never to an empty one.
bool RequestLineTooLong(const Request& partial, size_t max_target_bytes) {
  std::string_view target = partial.target();
  return target.empty() || target.size() > max_target_bytes;
}

bool IsParseError(beast::error_code ec) {
  return &ec.category() == &beast_http::make_error_code(beast_http::error::bad_method).category();
}

}  // namespace

HttpSession::HttpSession(std::shared_ptr<ServerCore> core, Socket socket)
    : core_(std::move(core)),
      stream_(std::move(socket)),
      buffer_(core_->options.max_header_bytes + core_->options.max_body_bytes + kIdleReadBytes) {
  core_->metrics->open_connections().Inc();
}

HttpSession::~HttpSession() { MarkClosed(); }

void HttpSession::MarkClosed() {
  if (counted_open_) core_->metrics->open_connections().Dec();
  counted_open_ = false;
  core_->connections.Remove(this);  // Stop waits for open sockets, not for late Responders
}

void HttpSession::Start() {
  if (core_->stopping) {
    CloseSocket();
    return;
  }
  beast::error_code ec;
  auto endpoint = stream_.socket().remote_endpoint(ec);
  if (!ec) info_.remote_address = endpoint.address().to_string();
  DoReadRequest();
}

void HttpSession::Shutdown(bool force) {
  net::post(stream_.get_executor(), [self = shared_from_this(), force] {
    switch (self->state_) {
      case State::kClosed:
        return;
      case State::kHandling:
      case State::kWriting:
        // The response goes out with `Connection: close` (the server is stopping).
        if (force) self->CloseSocket();
        return;
      case State::kReading:
        if (force || !self->parser_ || !self->parser_->got_some()) self->CloseSocket();
        return;
      case State::kIdle:
        self->CloseSocket();
        return;
    }
  });
}

void HttpSession::DeliverResponse(uint64_t request_id, Response response) {
  if (handling_session == this) {
    OnResponse(request_id, std::move(response));
    return;
  }
  if (core_->stopped) return;  // no I/O thread is left to write it
  net::post(stream_.get_executor(),
            [self = shared_from_this(), request_id, response = std::move(response)]() mutable {
              self->OnResponse(request_id, std::move(response));
            });
}

// --- Reading ---------------------------------------------------------------------------------

void HttpSession::DoReadRequest() {
  state_ = State::kReading;
  parser_.emplace();
  parser_->header_limit(static_cast<uint32_t>(core_->options.max_header_bytes));
  parser_->body_limit(core_->options.max_body_bytes);
  read_deadline_ = std::chrono::steady_clock::now() + core_->options.read_timeout;

  // Usually the whole head is already buffered (read while idle, or pipelined): parse it here
  // rather than through another asynchronous operation.
  if (buffer_.size() > 0) {
    beast::error_code ec;
    size_t used = parser_->put(buffer_.data(), ec);
    buffer_.consume(used);
    if (ec != beast_http::error::need_more) {
      OnReadHeader(ec, used);
      return;
    }
  }
  stream_.expires_at(read_deadline_);
  beast_http::async_read_header(
      stream_, buffer_, *parser_,
      beast::bind_front_handler(&HttpSession::OnReadHeader, shared_from_this()));
}

void HttpSession::OnReadHeader(beast::error_code ec, size_t) {
  if (ec) {
    RejectUnreadable(ec);
    return;
  }
  const Request& request = parser_->get();
  if (request.target().size() > core_->options.max_target_bytes) {
    core_->metrics->RecordError(HttpMetrics::Error::kTargetTooLong);
    SendError(beast_http::status::uri_too_long, "request target too long", true);
    return;
  }
  if (parser_->is_done()) {
    HandleRequest();
    return;
  }
  if (!beast::iequals(request[beast_http::field::expect], "100-continue")) {
    DoReadBody();
    return;
  }
  stream_.expires_at(read_deadline_);
  net::async_write(stream_, net::buffer(kContinueResponse),
                   [self = shared_from_this()](beast::error_code write_ec, size_t) {
                     if (write_ec) {
                       self->CloseSocket();
                       return;
                     }
                     self->DoReadBody();
                   });
}

void HttpSession::DoReadBody() {
  stream_.expires_at(read_deadline_);
  beast_http::async_read(stream_, buffer_, *parser_,
                         beast::bind_front_handler(&HttpSession::OnReadBody, shared_from_this()));
}

void HttpSession::OnReadBody(beast::error_code ec, size_t) {
  if (ec) {
    RejectUnreadable(ec);
    return;
  }
  HandleRequest();
}

void HttpSession::DoWaitForRequest() {
  state_ = State::kIdle;
  stream_.expires_after(core_->options.keep_alive_timeout);
  stream_.async_read_some(
      buffer_.prepare(kIdleReadBytes),
      beast::bind_front_handler(&HttpSession::OnRequestBytes, shared_from_this()));
}

void HttpSession::OnRequestBytes(beast::error_code ec, size_t bytes) {
  if (ec) {
    CloseSocket();  // the client closed, the idle timeout passed, or the server is stopping
    return;
  }
  buffer_.commit(bytes);
  DoReadRequest();
}

void HttpSession::RejectUnreadable(beast::error_code ec) {
  if (state_ == State::kClosed || ec == net::error::operation_aborted) return;
  if (ec == beast_http::error::end_of_stream || ec == beast_http::error::partial_message) {
    CloseSocket();
    return;
  }
  if (ec == beast::error::timeout) {
    if (parser_ && parser_->got_some()) {
      core_->metrics->RecordError(HttpMetrics::Error::kReadTimeout);
    }
    CloseSocket();
    return;
  }
  if (ec == beast_http::error::header_limit) {
    if (RequestLineTooLong(parser_->get(), core_->options.max_target_bytes)) {
      core_->metrics->RecordError(HttpMetrics::Error::kTargetTooLong);
      SendError(beast_http::status::uri_too_long, "request target too long", true);
    } else {
      core_->metrics->RecordError(HttpMetrics::Error::kHeaderTooLarge);
      SendError(beast_http::status::request_header_fields_too_large,
                "request header fields too large", true);
    }
    return;
  }
  if (ec == beast_http::error::body_limit) {
    core_->metrics->RecordError(HttpMetrics::Error::kBodyTooLarge);
    SendError(beast_http::status::payload_too_large, "request body too large", true);
    return;
  }
  if (IsParseError(ec)) {
    core_->metrics->RecordError(HttpMetrics::Error::kBadRequest);
    SendError(beast_http::status::bad_request, "malformed HTTP request", true);
    return;
  }
  CloseSocket();  // a reset or another transport error: the client is gone, so no response
}

// --- Handling --------------------------------------------------------------------------------

void HttpSession::HandleRequest() {
  state_ = State::kHandling;
  request_start_ = std::chrono::steady_clock::now();
  Request& request = parser_->get();
  method_ = request.method();
  version_ = request.version() == 10 ? 10 : 11;
  keep_alive_ = request.keep_alive();
  accepts_gzip_ = AcceptsGzip(request);
  linger_on_close_ = false;
  info_.request_id = core_->next_request_id.fetch_add(1, std::memory_order_relaxed);
  ResolveOrigin(request);

  if (method_ == beast_http::verb::options) {
    route_id_ = HttpMetrics::kPreflightRouteId;
    info_.route = "preflight";
    OnResponse(info_.request_id, CorsPolicy::MakePreflightResponse(!allowed_origin_.empty()));
    return;
  }

  std::string_view path = TargetPath(request.target());
  if (path.empty()) {
    route_id_ = Router::kUnmatchedRouteId;
    info_.route = core_->router->RouteName(route_id_);
    OnResponse(info_.request_id,
               MakeErrorResponse(beast_http::status::bad_request, "invalid request target"));
    return;
  }

  Router::Match match = core_->router->Find(method_, path, info_.path_params);
  route_id_ = match.route_id;
  info_.route = core_->router->RouteName(route_id_);
  switch (match.kind) {
    case Router::Match::Kind::kNotFound:
      OnResponse(info_.request_id, MakeErrorResponse(beast_http::status::not_found, "not found"));
      return;
    case Router::Match::Kind::kMethodNotAllowed: {
      Response response =
          MakeErrorResponse(beast_http::status::method_not_allowed, "method not allowed");
      response.set(beast_http::field::allow, match.allow);
      OnResponse(info_.request_id, std::move(response));
      return;
    }
    case Router::Match::Kind::kStream:
      OpenEventStream(*match.stream);
      return;
    case Router::Match::Kind::kHandler:
    case Router::Match::Kind::kFallback:
      if (DecodeBody(request)) CallHandler(*match.handler);
      return;
  }
}

void HttpSession::ResolveOrigin(const Request& request) {
  allowed_origin_.clear();
  auto header = request.find(beast_http::field::origin);
  if (header == request.end()) return;
  std::string_view origin = header->value();
  if (origin != last_origin_) {
    last_origin_.assign(origin);
    last_origin_allowed_ = core_->cors.IsAllowed(origin);
  }
  if (last_origin_allowed_) allowed_origin_.assign(origin);
}

bool HttpSession::DecodeBody(Request& request) {
  auto header = request.find(beast_http::field::content_encoding);
  if (header == request.end()) return true;
  std::string_view coding = header->value();
  if (request.body().empty() || beast::iequals(coding, "identity")) {
    request.erase(beast_http::field::content_encoding);
    return true;
  }
  if (!beast::iequals(coding, "gzip") && !beast::iequals(coding, "x-gzip")) {
    core_->metrics->RecordError(HttpMetrics::Error::kBadEncoding);
    std::string message = "unsupported content encoding: ";
    message += coding.substr(0, kMaxLoggedCodingBytes);
    SendError(beast_http::status::unsupported_media_type, message, false);
    return false;
  }

  std::string inflated;
  switch (GzipDecompress(request.body(), core_->options.max_body_bytes, inflated)) {
    case GunzipStatus::kOk:
      break;
    case GunzipStatus::kTooLarge:
      core_->metrics->RecordError(HttpMetrics::Error::kBodyTooLarge);
      SendError(beast_http::status::payload_too_large, "request body too large", false);
      return false;
    case GunzipStatus::kInvalid:
      core_->metrics->RecordError(HttpMetrics::Error::kBadEncoding);
      SendError(beast_http::status::bad_request, "invalid gzip body", false);
      return false;
  }
  request.body() = std::move(inflated);
  request.erase(beast_http::field::content_encoding);
  request.content_length(request.body().size());
  return true;
}

void HttpSession::CallHandler(const Handler& handler) {
  auto pending = std::make_shared<PendingResponse>(shared_from_this(), info_.request_id, core_);
  std::string failure;
  handler_running_ = true;
  handling_session = this;
  try {
    handler(parser_->get(), info_,
            [pending](Response response) { pending->Answer(std::move(response)); });
  } catch (const std::exception& error) {
    failure = error.what();
  } catch (...) {
    failure = "unknown exception";
  }
  handling_session = nullptr;
  handler_running_ = false;

  if (!failure.empty()) {
    core_->metrics->RecordError(HttpMetrics::Error::kHandlerException);
    LogError("handler threw an exception", failure);
    if (!response_ready_ && state_ == State::kHandling) {
      pending->MarkAnswered();
      response_ =
          MakeErrorResponse(beast_http::status::internal_server_error, "internal server error");
      response_ready_ = true;
    }
  }
  if (response_ready_) {
    response_ready_ = false;
    FinishResponse();
    DoWrite();
  }
}

void HttpSession::OpenEventStream(const StreamHandler& handler) {
  StreamDecision decision;
  std::string failure;
  try {
    decision = handler(parser_->get(), info_);
  } catch (const std::exception& error) {
    failure = error.what();
  } catch (...) {
    failure = "unknown exception";
  }
  if (failure.empty() && !decision.reject && !decision.on_open) {
    failure = "stream handler accepted the stream without an on_open callback";
  }
  if (!failure.empty()) {
    core_->metrics->RecordError(HttpMetrics::Error::kHandlerException);
    LogError("stream handler failed", failure);
    OnResponse(info_.request_id, MakeErrorResponse(beast_http::status::internal_server_error,
                                                   "internal server error"));
    return;
  }
  if (decision.reject) {
    OnResponse(info_.request_id, std::move(*decision.reject));
    return;
  }

  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - request_start_).count();
  core_->metrics->RecordRequest(route_id_, method_, 200, seconds);
  state_ = State::kClosed;  // the event stream owns the socket from here on
  MarkClosed();
  auto event_stream =
      std::make_shared<EventStream>(core_, stream_.release_socket(), info_.request_id);
  core_->connections.Add(event_stream.get(), event_stream);
  event_stream->Start(MakeEventStreamHead(allowed_origin_), std::move(decision.on_open));
}

void HttpSession::OnResponse(uint64_t request_id, Response response) {
  if (state_ != State::kHandling || request_id != info_.request_id || response_ready_) {
    return;  // a response was sent already (the server's 500 after an exception), or closed
  }
  response_ = std::move(response);
  if (handler_running_) {
    response_ready_ = true;  // CallHandler writes it once the handler returns
    return;
  }
  FinishResponse();
  DoWrite();
}

void HttpSession::SendError(beast_http::status status, std::string_view message,
                            bool input_left_unread) {
  if (state_ != State::kHandling) {
    // No complete request: use what the parser has parsed for the log, CORS and metrics.
    request_start_ = std::chrono::steady_clock::now();
    info_.request_id = core_->next_request_id.fetch_add(1, std::memory_order_relaxed);
    route_id_ = Router::kUnmatchedRouteId;
    info_.route = core_->router->RouteName(route_id_);
    method_ = beast_http::verb::get;
    version_ = 11;
    accepts_gzip_ = false;
    allowed_origin_.clear();
    if (parser_ && parser_->is_header_done()) {
      method_ = parser_->get().method();
      ResolveOrigin(parser_->get());
    }
    state_ = State::kHandling;
  }
  if (input_left_unread) {
    keep_alive_ = false;
    linger_on_close_ = true;
  }
  response_ = MakeErrorResponse(status, message);
  FinishResponse();
  DoWrite();
}

// --- Writing ---------------------------------------------------------------------------------

void HttpSession::FinishResponse() {
  bool vary_accept_encoding = CompressResponse();
  close_after_write_ = !keep_alive_ || core_->stopping.load(std::memory_order_relaxed);

  ResponseFraming framing;
  framing.version = version_;
  framing.close = close_after_write_;
  framing.allowed_origin = allowed_origin_;
  framing.vary_accept_encoding = vary_accept_encoding;
  framing.date = HttpDateNow();
  head_.clear();
  SerializeResponseHead(response_, framing, head_);
}

bool HttpSession::CompressResponse() {
  if (response_.body().size() < kMinGzipBytes) return false;
  if (response_.find(beast_http::field::content_encoding) != response_.end()) return false;
  if (!IsCompressibleType(response_[beast_http::field::content_type])) return false;
  if (!accepts_gzip_) return true;

  std::string compressed = GzipCompress(response_.body());
  if (compressed.size() < response_.body().size()) {
    response_.body() = std::move(compressed);
    response_.set(beast_http::field::content_encoding, "gzip");
  }
  return true;
}

void HttpSession::DoWrite() {
  state_ = State::kWriting;
  bool send_body = method_ != beast_http::verb::head && !StatusHasNoBody(response_.result_int());
  std::array<net::const_buffer, 2> buffers = {
      net::buffer(head_), send_body ? net::buffer(response_.body()) : net::const_buffer()};
  stream_.expires_after(core_->options.write_timeout);
  net::async_write(stream_, buffers,
                   beast::bind_front_handler(&HttpSession::OnWrite, shared_from_this()));
}

void HttpSession::OnWrite(beast::error_code ec, size_t) {
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - request_start_).count();
  core_->metrics->RecordRequest(route_id_, method_, response_.result_int(), seconds);
  if (ec) {
    CloseSocket();
    return;
  }
  if (close_after_write_ || core_->stopping.load(std::memory_order_relaxed)) {
    if (linger_on_close_) {
      DoLingeringClose();
    } else {
      CloseSocket();
    }
    return;
  }

  response_ = Response();
  parser_.reset();
  if (buffer_.size() > 0) {
    DoReadRequest();  // a pipelined request is already buffered
  } else {
    DoWaitForRequest();
  }
}

void HttpSession::DoLingeringClose() {
  state_ = State::kIdle;  // Stop may close it at once
  beast::error_code ec;
  stream_.socket().shutdown(Socket::shutdown_send, ec);
  buffer_.clear();
  lingered_bytes_ = 0;
  stream_.expires_after(kLingerTimeout);
  stream_.async_read_some(
      buffer_.prepare(kIdleReadBytes),
      beast::bind_front_handler(&HttpSession::OnLingerRead, shared_from_this()));
}

void HttpSession::OnLingerRead(beast::error_code ec, size_t bytes) {
  lingered_bytes_ += bytes;
  if (ec || lingered_bytes_ > kMaxLingerBytes) {
    CloseSocket();
    return;
  }
  stream_.async_read_some(
      buffer_.prepare(kIdleReadBytes),
      beast::bind_front_handler(&HttpSession::OnLingerRead, shared_from_this()));
}

void HttpSession::CloseSocket() {
  state_ = State::kClosed;
  MarkClosed();
  beast::error_code ec;
  stream_.socket().shutdown(Socket::shutdown_send, ec);
  stream_.close();
}

void HttpSession::LogError(std::string_view message, std::string_view detail) {
  std::string key(message);
  key += info_.route;
  long suppressed = core_->error_log_limiter.Admit(key);
  if (suppressed < 0) return;
  log::Error(kLogComponent, message,
             {{"request_id", info_.request_id},
              {"route", info_.route},
              {"remote_address", info_.remote_address},
              {"error", detail},
              {"suppressed", suppressed}});
}

}  // namespace prism::http
