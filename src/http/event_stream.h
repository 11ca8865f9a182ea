// An accepted server-sent-events response (internal to prism_http).
//
// The response is close-delimited: the head has no Content-Length and no chunked coding, and the
// body is the raw frames until either side closes (valid HTTP/1.1, read the same way by browsers'
// EventSource and by nginx and HAProxy in front). Frames from Send() are appended to one bounded
// buffer and written by one async_write at a time, so frames queued meanwhile are coalesced.
// A pending read on the socket detects the client going away.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

#include "http/server_core.h"

namespace prism::http {

// The response head of an accepted stream, with CORS headers when `allowed_origin` is set.
std::string MakeEventStreamHead(std::string_view allowed_origin);

class EventStream : public Connection,
                    public EventStreamSink,
                    public std::enable_shared_from_this<EventStream> {
 public:
  EventStream(std::shared_ptr<ServerCore> core, Socket socket, uint64_t request_id);
  ~EventStream() override;

  // Queues `head`, starts watching for the client closing, then calls `on_open`. Call on the
  // socket's executor.
  void Start(std::string head, std::function<void(std::shared_ptr<EventStreamSink>)> on_open);

  bool Send(std::string frame) override;
  void Close() override;
  bool IsOpen() const override { return open_.load(std::memory_order_acquire); }
  void OnClose(std::function<void()> callback) override;

  void Shutdown(bool force) override;

 private:
  // Appends bytes under the lock, or moves them in when nothing is queued and they would not fit
  // the buffer kept for reuse. Returns false (and closes) when the buffer would overflow.
  bool Enqueue(std::string bytes);
  void DoRead();
  void OnRead(boost::beast::error_code ec, size_t bytes);
  void DoWrite();
  void OnWrite(boost::beast::error_code ec, size_t bytes);
  void CloseNow(std::string_view reason);
  void MarkClosed();  // leaves the open-stream gauges and the registry; idempotent
  // Sets this stream's share of the stream-buffer gauge to the capacity of pending_ and
  // writing_. Call on the executor, with mutex_ held.
  void ReportBufferBytes();

  std::shared_ptr<ServerCore> core_;
  Stream stream_;
  const uint64_t request_id_;
  std::atomic<bool> open_{true};
  bool closed_ = false;               // executor only: CloseNow ran
  bool counted_open_ = true;          // executor only (and the destructor): counted in the gauges
  std::string writing_;               // executor only: the bytes of the write in flight
  size_t reported_buffer_bytes_ = 0;  // executor only: this stream's share of the gauge
  char read_buffer_[64];              // executor only: bytes a client sends are discarded

  std::mutex mutex_;
  std::string pending_;                 // guarded by mutex_
  size_t writing_bytes_ = 0;            // guarded by mutex_: writing_.size()
  size_t oversized_pending_bytes_ = 0;  // guarded by mutex_: an oversized frame at pending_'s head
  bool write_scheduled_ = false;        // guarded by mutex_
  bool close_requested_ = false;        // guarded by mutex_
  bool callbacks_run_ = false;          // guarded by mutex_
  std::vector<std::function<void()>> on_close_;  // guarded by mutex_
};

}  // namespace prism::http
