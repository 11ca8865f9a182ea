// Server-sent-event streams: headers, ordering, the slow-client policy, close notification.
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "http/responses.h"
#include "integration/http_test_server.h"
#include "support/http_client.h"

namespace prism::test {
namespace {

namespace beast_http = boost::beast::http;
using http::EventStreamSink;
using http::Request;
using http::RequestInfo;
using http::StreamDecision;
using std::chrono::milliseconds;

std::string Frame(int id, std::string_view data) {
  return "id: " + std::to_string(id) + "\ndata: " + std::string(data) + "\n\n";
}

// Accepts every stream on /stream and keeps its sinks in the order they opened.
class EventStreamTest : public HttpServerFixture {
 protected:
  void StartStreamServer(http::ServerOptions options = LoopbackOptions()) {
    router_->AddStream("/stream", [this](Request& request, const RequestInfo&) {
      StreamDecision decision;
      if (request.target().find("token=bad") != std::string_view::npos) {
        decision.reject =
            http::MakeErrorResponse(beast_http::status::unauthorized, "invalid token");
        return decision;
      }
      decision.on_open = [this](std::shared_ptr<EventStreamSink> sink) {
        std::lock_guard lock(sinks_mutex_);
        sinks_.push_back(std::move(sink));
      };
      return decision;
    });
    StartServer(options);
  }

  // Waits for the n-th stream (counting from 0) to open and returns its sink.
  std::shared_ptr<EventStreamSink> Sink(size_t index) {
    bool opened = WaitUntil([&] {
      std::lock_guard lock(sinks_mutex_);
      return sinks_.size() > index;
    });
    if (!opened) return nullptr;
    std::lock_guard lock(sinks_mutex_);
    return sinks_[index];
  }

  // The value of prism_http_stream_buffer_bytes, or -1 when /metrics does not list it.
  double StreamBufferBytes() {
    const std::string name = "prism_http_stream_buffer_bytes ";
    std::string text = registry_.RenderPrometheus();
    size_t line = text.find("\n" + name);
    if (line == std::string::npos) return -1;
    return std::stod(text.substr(line + 1 + name.size()));
  }

  std::mutex sinks_mutex_;
  std::vector<std::shared_ptr<EventStreamSink>> sinks_;
};

TEST_F(EventStreamTest, SendsEventStreamHeaders) {
  StartStreamServer();

  SseClient client("127.0.0.1", port(), "/stream");

  EXPECT_EQ(client.status_line(), "HTTP/1.1 200 OK");
  EXPECT_EQ(client.Header("Content-Type"), "text/event-stream");
  EXPECT_EQ(client.Header("Cache-Control"), "no-cache");
  EXPECT_EQ(client.Header("X-Accel-Buffering"), "no");
  EXPECT_EQ(client.Header("Connection"), "keep-alive");
  EXPECT_FALSE(client.Header("Content-Length").has_value());
  EXPECT_FALSE(client.Header("Transfer-Encoding").has_value());
}

TEST_F(EventStreamTest, DeliversFramesInOrder) {
  StartStreamServer();
  SseClient client("127.0.0.1", port(), "/stream");
  auto sink = Sink(0);
  ASSERT_NE(sink, nullptr);

  for (int i = 1; i <= 200; ++i) EXPECT_TRUE(sink->Send(Frame(i, "event " + std::to_string(i))));

  for (int i = 1; i <= 200; ++i) {
    auto event = client.ReadEvent();
    ASSERT_TRUE(event.has_value()) << "event " << i;
    EXPECT_EQ(event->id, std::to_string(i));
    EXPECT_EQ(event->data, "event " + std::to_string(i));
  }
}

TEST_F(EventStreamTest, RejectedStreamGetsOrdinaryResponse) {
  StartStreamServer();

  Response response =
      Send("127.0.0.1", port(), MakeRequest(beast_http::verb::get, "/stream?token=bad"));

  EXPECT_EQ(response.result(), beast_http::status::unauthorized);
  EXPECT_EQ(response.body(), R"({"error":"invalid token"})");
}

TEST_F(EventStreamTest, AllowedOriginGetsCorsHeaders) {
  StartStreamServer();

  SseClient client("127.0.0.1", port(), "/stream", {{"Origin", "http://localhost:5173"}});

  EXPECT_EQ(client.Header("Access-Control-Allow-Origin"), "http://localhost:5173");
}

TEST_F(EventStreamTest, DisconnectsSlowClientAndKeepsOthers) {
  http::ServerOptions options = LoopbackOptions();
  options.stream_buffer_bytes = 64 * 1024;
  StartStreamServer(options);
  SseClient slow("127.0.0.1", port(), "/stream");
  slow.connection().SetReceiveBufferBytes(4096);
  auto slow_sink = Sink(0);
  SseClient healthy("127.0.0.1", port(), "/stream");
  auto healthy_sink = Sink(1);
  ASSERT_NE(slow_sink, nullptr);
  ASSERT_NE(healthy_sink, nullptr);

  // The slow client never reads: once the socket buffers are full, the server's queue fills too.
  std::string payload(1024, 'x');
  int sent = 0;
  int healthy_sent = 0;
  bool overflowed = false;
  for (int i = 0; i < 200'000 && !overflowed; ++i) {
    overflowed = !slow_sink->Send(Frame(i, payload));
    if (!overflowed) ++sent;
    if (i % 1000 == 0) {
      EXPECT_TRUE(healthy_sink->Send(Frame(++healthy_sent, "still here")));
    }
  }
  EXPECT_TRUE(healthy_sink->Send(Frame(++healthy_sent, "after")));

  EXPECT_TRUE(overflowed);
  EXPECT_GT(sent, 0);
  EXPECT_TRUE(WaitUntil([&] { return !slow_sink->IsOpen(); }));
  EXPECT_FALSE(slow_sink->Send(Frame(0, "too late")));
  EXPECT_TRUE(slow.connection().WaitForClose(std::chrono::seconds(10)));
  for (int i = 1; i <= healthy_sent; ++i) {
    auto event = healthy.ReadEvent();
    ASSERT_TRUE(event.has_value()) << "event " << i;
    EXPECT_EQ(event->id, std::to_string(i));
  }
  EXPECT_TRUE(healthy_sink->IsOpen());
}

TEST_F(EventStreamTest, OnCloseFiresWhenClientDisconnects) {
  StartStreamServer();
  auto client = std::make_unique<SseClient>("127.0.0.1", port(), "/stream");
  auto sink = Sink(0);
  ASSERT_NE(sink, nullptr);
  std::promise<void> closed;
  sink->OnClose([&closed] { closed.set_value(); });

  client.reset();

  EXPECT_EQ(closed.get_future().wait_for(std::chrono::seconds(2)), std::future_status::ready);
  EXPECT_FALSE(sink->IsOpen());
  EXPECT_FALSE(sink->Send(Frame(1, "nobody listens")));
}

TEST_F(EventStreamTest, OnCloseAfterCloseRunsAtOnce) {
  StartStreamServer();
  SseClient client("127.0.0.1", port(), "/stream");
  auto sink = Sink(0);
  ASSERT_NE(sink, nullptr);
  std::promise<void> closed;
  sink->OnClose([&closed] { closed.set_value(); });
  sink->Close();
  ASSERT_EQ(closed.get_future().wait_for(std::chrono::seconds(2)), std::future_status::ready);

  bool ran = false;
  sink->OnClose([&ran] { ran = true; });

  EXPECT_TRUE(ran);
}

TEST_F(EventStreamTest, CloseFlushesQueuedFrames) {
  StartStreamServer();
  SseClient client("127.0.0.1", port(), "/stream");
  auto sink = Sink(0);
  ASSERT_NE(sink, nullptr);

  sink->Send(Frame(1, "one"));
  sink->Send(Frame(2, "two"));
  sink->Close();
  auto first = client.ReadEvent();
  auto second = client.ReadEvent();

  ASSERT_TRUE(first.has_value());
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->data, "two");
  EXPECT_FALSE(sink->IsOpen());
  EXPECT_TRUE(client.connection().WaitForClose(std::chrono::seconds(2)));
}

TEST_F(EventStreamTest, StopClosesStreams) {
  StartStreamServer();
  SseClient client("127.0.0.1", port(), "/stream");
  auto sink = Sink(0);
  ASSERT_NE(sink, nullptr);
  std::promise<void> closed;
  sink->OnClose([&closed] { closed.set_value(); });

  auto start = std::chrono::steady_clock::now();
  server_->Stop(std::chrono::seconds(5));
  auto stop_duration = std::chrono::steady_clock::now() - start;

  EXPECT_LT(stop_duration, milliseconds(1000));
  EXPECT_EQ(closed.get_future().wait_for(std::chrono::seconds(1)), std::future_status::ready);
  EXPECT_TRUE(client.connection().WaitForClose(std::chrono::seconds(1)));
}

TEST_F(EventStreamTest, CountsOpenStreams) {
  StartStreamServer();
  auto first = std::make_unique<SseClient>("127.0.0.1", port(), "/stream");
  SseClient second("127.0.0.1", port(), "/stream");
  ASSERT_NE(Sink(1), nullptr);

  bool two_open = WaitUntil([&] {
    return registry_.RenderPrometheus().find("prism_http_open_streams 2") != std::string::npos;
  });
  first.reset();
  bool one_open = WaitUntil([&] {
    return registry_.RenderPrometheus().find("prism_http_open_streams 1") != std::string::npos;
  });

  EXPECT_TRUE(two_open) << registry_.RenderPrometheus();
  EXPECT_TRUE(one_open) << registry_.RenderPrometheus();
}

// A stream starts with a snapshot of the user's whole board. Its buffer must not stay allocated
// for the rest of the stream's life, or every open stream pins a board-sized buffer.
TEST_F(EventStreamTest, ReleasesLargeBufferAfterWrite) {
  StartStreamServer();
  SseClient client("127.0.0.1", port(), "/stream");
  auto sink = Sink(0);
  ASSERT_NE(sink, nullptr);

  std::string snapshot(20 * 1024, 's');  // its frame's capacity stays below 64 KiB
  ASSERT_TRUE(sink->Send(Frame(1, snapshot)));
  auto first = client.ReadEvent();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->data.size(), snapshot.size());
  ASSERT_TRUE(sink->Send(Frame(2, "update")));
  auto second = client.ReadEvent();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->data, "update");

  bool released =
      WaitUntil([&] { return StreamBufferBytes() >= 0 && StreamBufferBytes() <= 8192; });
  EXPECT_TRUE(released) << "prism_http_stream_buffer_bytes " << StreamBufferBytes();
}

TEST_F(EventStreamTest, StreamBufferGaugeDropsOnClose) {
  StartStreamServer();
  auto client = std::make_unique<SseClient>("127.0.0.1", port(), "/stream");
  auto sink = Sink(0);
  ASSERT_NE(sink, nullptr);
  ASSERT_TRUE(sink->Send(Frame(1, "event")));
  ASSERT_TRUE(client->ReadEvent().has_value());

  bool counted = WaitUntil([&] { return StreamBufferBytes() > 0; });
  client.reset();
  bool dropped = WaitUntil([&] { return StreamBufferBytes() == 0; });

  EXPECT_TRUE(counted) << "prism_http_stream_buffer_bytes " << StreamBufferBytes();
  EXPECT_TRUE(dropped) << "prism_http_stream_buffer_bytes " << StreamBufferBytes();
}

TEST_F(EventStreamTest, SendIsSafeFromManyThreads) {
  StartStreamServer();
  SseClient client("127.0.0.1", port(), "/stream");
  auto sink = Sink(0);
  ASSERT_NE(sink, nullptr);

  constexpr int kThreads = 4;
  constexpr int kFramesPerThread = 250;
  std::vector<std::thread> senders;
  for (int t = 0; t < kThreads; ++t) {
    senders.emplace_back([&sink, t] {
      for (int i = 0; i < kFramesPerThread; ++i) sink->Send(Frame(t, std::to_string(i)));
    });
  }
  for (auto& sender : senders) sender.join();

  std::vector<int> next(kThreads, 0);
  for (int n = 0; n < kThreads * kFramesPerThread; ++n) {
    auto event = client.ReadEvent();
    ASSERT_TRUE(event.has_value()) << "event " << n;
    int thread = std::stoi(event->id);
    EXPECT_EQ(event->data, std::to_string(next[thread])) << "thread " << thread;
    ++next[thread];
  }
}

}  // namespace
}  // namespace prism::test
