#include "http/event_stream.h"

#include <exception>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>

namespace prism::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

// Write buffers larger than this are released after use instead of kept for the next frames.
// Update frames and keep-alives are far smaller. The snapshot a stream starts with contains the
// user's whole board, so a larger limit would pin a board-sized buffer on every open stream for
// the stream's lifetime.
constexpr size_t kMaxRetainedBufferBytes = 4 * 1024;

// Frees the string's allocation. Assigning std::string() would not: libstdc++ copies a short
// string into the existing allocation and keeps it.
void Release(std::string& buffer) { std::string().swap(buffer); }

}  // namespace

std::string MakeEventStreamHead(std::string_view allowed_origin) {
  std::string head =
      "HTTP/1.1 200 OK\r\n"
      "Content-Type: text/event-stream\r\n"
      "Cache-Control: no-cache\r\n"
      "X-Accel-Buffering: no\r\n"
      "Connection: keep-alive\r\n";
  head += "Date: ";
  head += HttpDateNow();
  head += "\r\n";
  if (!allowed_origin.empty()) {
    head += "Access-Control-Allow-Origin: ";
    head += allowed_origin;
    head += "\r\nVary: Origin\r\n";
  }
  head += "\r\n";
  return head;
}

EventStream::EventStream(std::shared_ptr<ServerCore> core, Socket socket, uint64_t request_id)
    : core_(std::move(core)), stream_(std::move(socket)), request_id_(request_id) {
  core_->metrics->open_connections().Inc();
  core_->metrics->open_streams().Inc();
}

EventStream::~EventStream() { MarkClosed(); }

void EventStream::MarkClosed() {
  if (counted_open_) {
    core_->metrics->open_streams().Dec();
    core_->metrics->open_connections().Dec();
  }
  counted_open_ = false;
  core_->metrics->stream_buffer_bytes().Add(-static_cast<double>(reported_buffer_bytes_));
  reported_buffer_bytes_ = 0;
  core_->connections.Remove(this);
}

void EventStream::Start(std::string head,
                        std::function<void(std::shared_ptr<EventStreamSink>)> on_open) {
  if (core_->stopping) {
    CloseNow("server stopping");
    return;
  }
  Enqueue(std::move(head));
  stream_.expires_never();
  DoRead();
  try {
    on_open(shared_from_this());
  } catch (const std::exception& error) {
    log::Error(kLogComponent, "event stream on_open callback threw an exception",
               {{"request_id", request_id_}, {"error", error.what()}});
    CloseNow("on_open failed");
  }
}

bool EventStream::Send(std::string frame) { return Enqueue(std::move(frame)); }

void EventStream::ReportBufferBytes() {
  if (closed_) return;  // MarkClosed took this stream's bytes off the gauge
  size_t bytes = pending_.capacity() + writing_.capacity();
  core_->metrics->stream_buffer_bytes().Add(static_cast<double>(bytes) -
                                            static_cast<double>(reported_buffer_bytes_));
  reported_buffer_bytes_ = bytes;
}

bool EventStream::Enqueue(std::string bytes) {
  bool schedule_write = false;
  bool overflow = false;
  {
    std::lock_guard lock(mutex_);
    if (!open_.load(std::memory_order_relaxed)) return false;
    // The limit bounds the backlog waiting behind the write in flight. One frame larger than the
    // limit (such as the snapshot of a big board) is still taken while the backlog is small, and
    // its bytes do not count against the frames queued behind it until it is being written. So a
    // client is cut off only when a backlog builds up, and memory per stream stays below twice
    // the limit plus one frame.
    size_t backlog = pending_.size() - oversized_pending_bytes_;
    bool fits = backlog + bytes.size() <= core_->options.stream_buffer_bytes;
    bool oversized = !fits && oversized_pending_bytes_ == 0;
    if (fits || oversized) {
      if (oversized) oversized_pending_bytes_ = bytes.size();
      // Moving a frame in saves copying a large one, such as a snapshot. It is done only when
      // appending would outgrow the buffer kept for reuse, so small frames reuse that buffer.
      if (pending_.empty() && bytes.size() > pending_.capacity()) {
        pending_ = std::move(bytes);
      } else {
        pending_.append(bytes);
      }
      schedule_write = !write_scheduled_;
      write_scheduled_ = true;
    } else {
      overflow = true;
      open_.store(false, std::memory_order_release);
    }
  }
  if (schedule_write) {
    net::post(stream_.get_executor(), [self = shared_from_this()] { self->DoWrite(); });
  }
  if (!overflow) return true;

  core_->metrics->RecordError(HttpMetrics::Error::kStreamBufferFull);
  if (core_->error_log_limiter.Admit("event stream buffer full") >= 0) {
    log::Warn(kLogComponent, "closing event stream: client too slow, buffer full",
              {{"request_id", request_id_}, {"buffer_bytes", core_->options.stream_buffer_bytes}});
  }
  net::post(stream_.get_executor(), [self = shared_from_this()] { self->CloseNow("buffer full"); });
  return false;
}

void EventStream::Close() {
  bool schedule_write = false;
  {
    std::lock_guard lock(mutex_);
    if (close_requested_) return;
    close_requested_ = true;
    open_.store(false, std::memory_order_release);
    schedule_write = !write_scheduled_;
    write_scheduled_ = true;
  }
  // DoWrite flushes what is queued and then closes.
  if (schedule_write) {
    net::post(stream_.get_executor(), [self = shared_from_this()] { self->DoWrite(); });
  }
}

void EventStream::OnClose(std::function<void()> callback) {
  {
    std::lock_guard lock(mutex_);
    if (!callbacks_run_) {
      on_close_.push_back(std::move(callback));
      return;
    }
  }
  callback();
}

void EventStream::Shutdown(bool) {
  net::post(stream_.get_executor(),
            [self = shared_from_this()] { self->CloseNow("server stopping"); });
}

void EventStream::DoRead() {
  stream_.async_read_some(net::buffer(read_buffer_),
                          beast::bind_front_handler(&EventStream::OnRead, shared_from_this()));
}

void EventStream::OnRead(beast::error_code ec, size_t) {
  if (ec) {
    CloseNow("client closed");
    return;
  }
  DoRead();  // a client has nothing to send on a stream; its bytes are discarded
}

void EventStream::DoWrite() {
  if (closed_) return;
  bool close = false;
  {
    std::lock_guard lock(mutex_);
    if (pending_.empty()) {
      write_scheduled_ = false;
      close = close_requested_;
    } else {
      writing_.swap(pending_);
      writing_bytes_ = writing_.size();
      oversized_pending_bytes_ = 0;
      if (pending_.capacity() > kMaxRetainedBufferBytes) Release(pending_);
    }
    ReportBufferBytes();
  }
  if (close) {
    CloseNow("closed by server");
    return;
  }
  if (writing_.empty()) return;
  stream_.expires_after(core_->options.write_timeout);
  net::async_write(stream_, net::buffer(writing_),
                   beast::bind_front_handler(&EventStream::OnWrite, shared_from_this()));
}

void EventStream::OnWrite(beast::error_code ec, size_t) {
  if (ec) {
    CloseNow(ec == beast::error::timeout ? "write timed out" : "write failed");
    return;
  }
  writing_.clear();
  if (writing_.capacity() > kMaxRetainedBufferBytes) Release(writing_);
  {
    std::lock_guard lock(mutex_);
    writing_bytes_ = 0;
    ReportBufferBytes();
  }
  DoWrite();
}

void EventStream::CloseNow(std::string_view reason) {
  if (closed_) return;
  closed_ = true;
  std::vector<std::function<void()>> callbacks;
  {
    std::lock_guard lock(mutex_);
    open_.store(false, std::memory_order_release);
    close_requested_ = true;
    callbacks_run_ = true;
    callbacks.swap(on_close_);
    Release(pending_);
  }
  beast::error_code ec;
  stream_.socket().shutdown(Socket::shutdown_send, ec);
  stream_.close();
  MarkClosed();
  log::Debug(kLogComponent, "event stream closed",
             {{"request_id", request_id_}, {"reason", reason}});

  for (auto& callback : callbacks) {
    try {
      callback();
    } catch (const std::exception& error) {
      log::Error(kLogComponent, "event stream OnClose callback threw an exception",
                 {{"request_id", request_id_}, {"error", error.what()}});
    }
  }
}

}  // namespace prism::http
