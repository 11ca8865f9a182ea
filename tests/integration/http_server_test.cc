// The HTTP server end to end: routing, limits, encodings, CORS, timeouts, handler threading and
// shutdown, over real sockets on 127.0.0.1.
#include <atomic>
#include <cstdio>
#include <future>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>

#include <gtest/gtest.h>

#include "http/gzip.h"
#include "http/responses.h"
#include "integration/http_test_server.h"
#include "support/http_client.h"

namespace prism::test {
namespace {

namespace beast_http = boost::beast::http;
using http::MakeErrorResponse;
using http::MakeResponse;
using http::Request;
using http::RequestInfo;
using http::Responder;
using http::Response;
using std::chrono::milliseconds;
using Status = beast_http::status;
using Verb = beast_http::verb;

// Responds with the request's method, its body and the path parameters.
void Echo(Request& request, const RequestInfo& info, Responder respond) {
  std::string body = std::string(beast_http::to_string(request.method())) + " " + request.body();
  for (const std::string& param : info.path_params) body += " [" + param + "]";
  respond(MakeResponse(Status::ok, body, "text/plain"));
}

std::string JsonOfSize(size_t bytes) {
  std::string body = "{\"data\":\"";
  while (body.size() + 2 < bytes) body += "abcdefgh"[body.size() % 8];
  body += "\"}";
  return body;
}

class HttpServerTest : public HttpServerFixture {};

// --- Routing ---------------------------------------------------------------------------------

TEST_F(HttpServerTest, RoutesRequestToHandler) {
  router_->Add(Verb::get, "/api/tasks", Echo);
  StartServer();

  Response response = Send("127.0.0.1", port(), MakeRequest(Verb::get, "/api/tasks?pageSize=3"));

  EXPECT_EQ(response.result(), Status::ok);
  EXPECT_EQ(response.body(), "GET ");
  EXPECT_EQ(response[beast_http::field::content_type], "text/plain");
  EXPECT_FALSE(response[beast_http::field::date].empty());
}

TEST_F(HttpServerTest, UnknownPathGets404) {
  router_->Add(Verb::get, "/api/tasks", Echo);
  StartServer();

  Response response = Send("127.0.0.1", port(), MakeRequest(Verb::get, "/api/nothing"));

  EXPECT_EQ(response.result(), Status::not_found);
  EXPECT_EQ(response.body(), R"({"error":"not found"})");
  EXPECT_EQ(response[beast_http::field::content_type], "application/json");
}

TEST_F(HttpServerTest, WrongMethodGets405WithAllow) {
  router_->Add(Verb::get, "/api/commands", Echo);
  router_->Add(Verb::post, "/api/commands", Echo);
  StartServer();

  Response response = Send("127.0.0.1", port(), MakeRequest(Verb::put, "/api/commands", "x"));

  EXPECT_EQ(response.result(), Status::method_not_allowed);
  EXPECT_EQ(response[beast_http::field::allow], "GET, POST");
}

TEST_F(HttpServerTest, PassesDecodedPathParams) {
  router_->Add(Verb::get, "/api/commands/{key}", Echo);
  router_->Add(Verb::get, "/api/users/{user}/items/{item}", Echo);
  StartServer();

  Response single = Send("127.0.0.1", port(), MakeRequest(Verb::get, "/api/commands/k%20one"));
  Response two = Send("127.0.0.1", port(), MakeRequest(Verb::get, "/api/users/u1/items/i2?x=1"));
  Response missing = Send("127.0.0.1", port(), MakeRequest(Verb::get, "/api/commands/"));
  Response deeper = Send("127.0.0.1", port(), MakeRequest(Verb::get, "/api/commands/a/b"));

  EXPECT_EQ(single.body(), "GET  [k one]");
  EXPECT_EQ(two.body(), "GET  [u1] [i2]");
  EXPECT_EQ(missing.result(), Status::not_found);
  EXPECT_EQ(deeper.result(), Status::not_found);
}

TEST_F(HttpServerTest, LiteralRouteWinsOverPattern) {
  router_->Add(Verb::get, "/api/commands/{key}", Echo);
  router_->Add(Verb::get, "/api/commands/latest",
               [](Request&, const RequestInfo& info, Responder respond) {
                 respond(MakeResponse(Status::ok, "literal " + info.route, "text/plain"));
               });
  StartServer();

  Response response = Send("127.0.0.1", port(), MakeRequest(Verb::get, "/api/commands/latest"));

  EXPECT_EQ(response.body(), "literal /api/commands/latest");
}

TEST_F(HttpServerTest, HeadRequestGetsHeadersWithoutBody) {
  router_->Add(Verb::get, "/api/tasks", [](Request&, const RequestInfo&, Responder respond) {
    respond(MakeResponse(Status::ok, "hello", "text/plain"));
  });
  StartServer();
  HttpClient client("127.0.0.1", port());

  Response head = client.Send(MakeRequest(Verb::head, "/api/tasks"));
  Response get = client.Send(MakeRequest(Verb::get, "/api/tasks"));

  EXPECT_EQ(head.result(), Status::ok);
  EXPECT_EQ(head[beast_http::field::content_length], "5");
  EXPECT_TRUE(head.body().empty());
  EXPECT_EQ(get.body(), "hello");
}

// --- Connections -----------------------------------------------------------------------------

TEST_F(HttpServerTest, ServesSeveralRequestsOnOneConnection) {
  router_->Add(Verb::post, "/echo", Echo);
  StartServer();
  HttpClient client("127.0.0.1", port());

  for (int i = 0; i < 5; ++i) {
    Response response = client.Send(MakeRequest(Verb::post, "/echo", std::to_string(i)));
    EXPECT_EQ(response.body(), "POST " + std::to_string(i));
    EXPECT_TRUE(response.keep_alive());
  }
}

TEST_F(HttpServerTest, AnswersPipelinedRequestsInOrder) {
  router_->Add(Verb::post, "/echo", Echo);
  StartServer();
  RawConnection connection("127.0.0.1", port());

  std::string requests;
  for (int i = 0; i < 3; ++i) {
    requests += "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n" + std::to_string(i);
  }
  connection.Write(requests);

  for (int i = 0; i < 3; ++i) {
    auto response = connection.ReadResponse();
    ASSERT_TRUE(response.has_value()) << "response " << i;
    EXPECT_EQ(response->body(), "POST " + std::to_string(i));
  }
}

TEST_F(HttpServerTest, ClosesConnectionWhenRequested) {
  router_->Add(Verb::get, "/", Echo);
  StartServer();
  RawConnection connection("127.0.0.1", port());

  connection.Write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  auto response = connection.ReadResponse();

  ASSERT_TRUE(response.has_value());
  EXPECT_FALSE(response->keep_alive());
  EXPECT_TRUE(connection.WaitForClose(milliseconds(1000)));
}

TEST_F(HttpServerTest, KeepsHttp10ConnectionAliveOnRequest) {
  router_->Add(Verb::get, "/", Echo);
  StartServer();
  RawConnection connection("127.0.0.1", port());

  connection.Write("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  auto first = connection.ReadResponse();
  connection.Write("GET / HTTP/1.0\r\n\r\n");
  auto second = connection.ReadResponse();

  ASSERT_TRUE(first.has_value());
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(first->version(), 10u);
  EXPECT_TRUE(first->keep_alive());
  EXPECT_FALSE(second->keep_alive());
}

TEST_F(HttpServerTest, DisconnectsSlowlorisClient) {
  router_->Add(Verb::get, "/", Echo);
  http::ServerOptions options = LoopbackOptions();
  options.read_timeout = milliseconds(1000);
  StartServer(options);
  RawConnection connection("127.0.0.1", port());

  // One byte of a never-ending header every 250 ms: the request never completes.
  std::string trickle = "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  auto start = std::chrono::steady_clock::now();
  bool closed = false;
  for (char byte : trickle) {
    if (connection.TryWrite(std::string_view(&byte, 1))) {
      closed = true;
      break;
    }
    if (connection.WaitForClose(milliseconds(250))) {
      closed = true;
      break;
    }
  }
  auto elapsed = std::chrono::steady_clock::now() - start;

  EXPECT_TRUE(closed);
  EXPECT_GE(elapsed, milliseconds(900));
  EXPECT_LT(elapsed, milliseconds(3000));
}

TEST_F(HttpServerTest, ClosesIdleKeepAliveConnection) {
  router_->Add(Verb::get, "/", Echo);
  http::ServerOptions options = LoopbackOptions();
  options.keep_alive_timeout = milliseconds(500);
  StartServer(options);
  HttpClient client("127.0.0.1", port());

  Response response = client.Send(MakeRequest(Verb::get, "/"));
  auto start = std::chrono::steady_clock::now();
  bool closed = client.connection().WaitForClose(milliseconds(3000));
  auto elapsed = std::chrono::steady_clock::now() - start;

  EXPECT_EQ(response.result(), Status::ok);
  EXPECT_TRUE(closed);
  EXPECT_GE(elapsed, milliseconds(400));
}

TEST_F(HttpServerTest, AnswersExpectContinue) {
  router_->Add(Verb::post, "/echo", Echo);
  StartServer();
  RawConnection connection("127.0.0.1", port());

  connection.Write(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  auto interim = connection.ReadLine();
  ASSERT_TRUE(interim.has_value());
  EXPECT_EQ(*interim, "HTTP/1.1 100 Continue");
  connection.ReadLine();  // the blank line that ends the interim response
  connection.Write("hello");
  auto response = connection.ReadResponse();

  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->body(), "POST hello");
}

// --- Limits and malformed input ----------------------------------------------------------------

TEST_F(HttpServerTest, AcceptsBodyAtLimit) {
  router_->Add(Verb::post, "/echo", [](Request& request, const RequestInfo&, Responder respond) {
    respond(MakeResponse(Status::ok, std::to_string(request.body().size()), "text/plain"));
  });
  StartServer();

  Response response =
      Send("127.0.0.1", port(), MakeRequest(Verb::post, "/echo", std::string(64 * 1024, 'x')));

  EXPECT_EQ(response.result(), Status::ok);
  EXPECT_EQ(response.body(), "65536");
}

TEST_F(HttpServerTest, RejectsOversizedBody) {
  router_->Add(Verb::post, "/echo", Echo);
  StartServer();

  Response response =
      Send("127.0.0.1", port(), MakeRequest(Verb::post, "/echo", std::string(64 * 1024 + 1, 'x')));

  EXPECT_EQ(response.result(), Status::payload_too_large);
  EXPECT_EQ(response.body(), R"({"error":"request body too large"})");
  EXPECT_FALSE(response.keep_alive());
}

TEST_F(HttpServerTest, RejectsOversizedChunkedBody) {
  router_->Add(Verb::post, "/echo", Echo);
  StartServer();
  RawConnection connection("127.0.0.1", port());

  std::string chunk(40 * 1024, 'x');
  char size_line[32];
  std::snprintf(size_line, sizeof size_line, "%zx\r\n", chunk.size());
  std::string request = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  request += size_line + chunk + "\r\n" + size_line + chunk + "\r\n0\r\n\r\n";
  connection.TryWrite(request);
  auto response = connection.ReadResponse();

  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->result(), Status::payload_too_large);
}

TEST_F(HttpServerTest, RejectsOversizedHeaders) {
  router_->Add(Verb::get, "/", Echo);
  StartServer();
  RawConnection connection("127.0.0.1", port());

  std::string request = "GET / HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 40; ++i)
    request += "X-Filler-" + std::to_string(i) + ": " + std::string(500, 'y') + "\r\n";
  request += "\r\n";
  connection.TryWrite(request);
  auto response = connection.ReadResponse();

  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->result(), Status::request_header_fields_too_large);
  EXPECT_EQ(response->body(), R"({"error":"request header fields too large"})");
}

TEST_F(HttpServerTest, OneHeaderLineLongerThanTargetLimitGets431) {
  router_->Add(Verb::get, "/", Echo);
  StartServer();
  RawConnection connection("127.0.0.1", port());

  // One 17 KiB header line: longer than the target limit (8 KiB) and the header limit (16 KiB).
  // The short request line is parsed first, so this is a header problem, not a URL one.
  connection.TryWrite("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(17 * 1024, 'y') +
                      "\r\n\r\n");
  auto response = connection.ReadResponse();

  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->result(), Status::request_header_fields_too_large);
}

TEST_F(HttpServerTest, RejectsLongTarget) {
  router_->Add(Verb::get, "/", Echo);
  StartServer();

  Response within_header_limit =
      Send("127.0.0.1", port(), MakeRequest(Verb::get, "/?q=" + std::string(9 * 1024, 'a')));
  Response beyond_header_limit =
      Send("127.0.0.1", port(), MakeRequest(Verb::get, "/?q=" + std::string(20 * 1024, 'a')));

  EXPECT_EQ(within_header_limit.result(), Status::uri_too_long);
  EXPECT_EQ(beyond_header_limit.result(), Status::uri_too_long);
}

TEST_F(HttpServerTest, MalformedRequestGets400) {
  router_->Add(Verb::get, "/", Echo);
  StartServer();
  RawConnection connection("127.0.0.1", port());

  connection.Write("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: banana\r\n\r\n");
  auto response = connection.ReadResponse();

  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->result(), Status::bad_request);
  EXPECT_TRUE(connection.WaitForClose(milliseconds(3000)));
}

TEST_F(HttpServerTest, GarbageGets400) {
  router_->Add(Verb::get, "/", Echo);
  StartServer();
  RawConnection connection("127.0.0.1", port());

  connection.Write(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 15));
  auto response = connection.ReadResponse();

  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->result(), Status::bad_request);
}

// --- Content encodings -------------------------------------------------------------------------

TEST_F(HttpServerTest, InflatesGzipRequestBody) {
  router_->Add(Verb::post, "/echo", Echo);
  StartServer();
  Request request = MakeRequest(Verb::post, "/echo", http::GzipCompress("[1,2,3]"));
  request.set(beast_http::field::content_encoding, "gzip");

  Response response = Send("127.0.0.1", port(), request);

  EXPECT_EQ(response.result(), Status::ok);
  EXPECT_EQ(response.body(), "POST [1,2,3]");
}

TEST_F(HttpServerTest, RejectsInvalidGzipBody) {
  router_->Add(Verb::post, "/echo", Echo);
  StartServer();
  std::string truncated = http::GzipCompress(std::string(2000, 'a'));
  truncated.resize(truncated.size() / 2);
  Request garbage = MakeRequest(Verb::post, "/echo", "not gzip at all");
  garbage.set(beast_http::field::content_encoding, "gzip");
  Request cut = MakeRequest(Verb::post, "/echo", truncated);
  cut.set(beast_http::field::content_encoding, "gzip");

  Response garbage_response = Send("127.0.0.1", port(), garbage);
  Response cut_response = Send("127.0.0.1", port(), cut);

  EXPECT_EQ(garbage_response.result(), Status::bad_request);
  EXPECT_EQ(garbage_response.body(), R"({"error":"invalid gzip body"})");
  EXPECT_EQ(cut_response.result(), Status::bad_request);
}

TEST_F(HttpServerTest, RejectsGzipBomb) {
  router_->Add(Verb::post, "/echo", Echo);
  StartServer();
  std::string bomb = http::GzipCompress(std::string(10 * 1024 * 1024, '\0'), 9);
  ASSERT_LT(bomb.size(), 64u * 1024);
  Request request = MakeRequest(Verb::post, "/echo", bomb);
  request.set(beast_http::field::content_encoding, "gzip");

  Response response = Send("127.0.0.1", port(), request);

  EXPECT_EQ(response.result(), Status::payload_too_large);
  EXPECT_EQ(response.body(), R"({"error":"request body too large"})");
}

TEST_F(HttpServerTest, RejectsUnknownContentEncoding) {
  router_->Add(Verb::post, "/echo", Echo);
  StartServer();
  Request request = MakeRequest(Verb::post, "/echo", "xyz");
  request.set(beast_http::field::content_encoding, "br");

  Response response = Send("127.0.0.1", port(), request);

  EXPECT_EQ(response.result(), Status::unsupported_media_type);
  EXPECT_EQ(response.body(), R"({"error":"unsupported content encoding: br"})");
}

TEST_F(HttpServerTest, CompressesLargeResponseWhenAccepted) {
  std::string body = JsonOfSize(4500);
  router_->Add(Verb::get, "/api/tasks", [body](Request&, const RequestInfo&, Responder respond) {
    respond(MakeResponse(Status::ok, body));
  });
  StartServer();
  Request request = MakeRequest(Verb::get, "/api/tasks");
  request.set(beast_http::field::accept_encoding, "br, gzip;q=0.8");

  Response response = Send("127.0.0.1", port(), request);
  std::string inflated;
  auto status = http::GzipDecompress(response.body(), 1 << 20, inflated);

  EXPECT_EQ(response[beast_http::field::content_encoding], "gzip");
  EXPECT_EQ(response[beast_http::field::vary], "Accept-Encoding");
  EXPECT_LT(response.body().size(), body.size());
  EXPECT_EQ(status, http::GunzipStatus::kOk);
  EXPECT_EQ(inflated, body);
}

TEST_F(HttpServerTest, SendsIdentityWhenGzipNotAccepted) {
  std::string body = JsonOfSize(4500);
  router_->Add(Verb::get, "/api/tasks", [body](Request&, const RequestInfo&, Responder respond) {
    respond(MakeResponse(Status::ok, body));
  });
  StartServer();
  Request no_gzip = MakeRequest(Verb::get, "/api/tasks");
  no_gzip.set(beast_http::field::accept_encoding, "gzip;q=0, identity");

  Response plain = Send("127.0.0.1", port(), MakeRequest(Verb::get, "/api/tasks"));
  Response no_gzip_response = Send("127.0.0.1", port(), no_gzip);

  EXPECT_EQ(plain.body(), body);
  EXPECT_EQ(plain[beast_http::field::content_encoding], "");
  EXPECT_EQ(plain[beast_http::field::vary], "Accept-Encoding");
  EXPECT_EQ(no_gzip_response.body(), body);
}

TEST_F(HttpServerTest, SkipsGzipForSmallOrIncompressibleBodies) {
  router_->Add(Verb::get, "/small", [](Request&, const RequestInfo&, Responder respond) {
    respond(MakeResponse(Status::ok, JsonOfSize(500)));
  });
  router_->Add(Verb::get, "/image", [](Request&, const RequestInfo&, Responder respond) {
    respond(MakeResponse(Status::ok, std::string(4000, 'p'), "image/png"));
  });
  StartServer();
  Request small = MakeRequest(Verb::get, "/small");
  small.set(beast_http::field::accept_encoding, "gzip");
  Request image = MakeRequest(Verb::get, "/image");
  image.set(beast_http::field::accept_encoding, "gzip");

  Response small_response = Send("127.0.0.1", port(), small);
  Response image_response = Send("127.0.0.1", port(), image);

  EXPECT_EQ(small_response[beast_http::field::content_encoding], "");
  EXPECT_EQ(image_response[beast_http::field::content_encoding], "");
  EXPECT_EQ(image_response.body().size(), 4000u);
}

TEST_F(HttpServerTest, SendsPrecompressedGzipAsIs) {
  std::string body = JsonOfSize(4500);
  std::string cached_gzip = http::GzipCompress(body, 9);
  router_->Add(Verb::get, "/api/tasks",
               [body, cached_gzip](Request& request, const RequestInfo&, Responder respond) {
                 Response response = MakeResponse(Status::ok, body);
                 if (http::AcceptsGzip(request)) http::SetPrecompressedGzip(response, cached_gzip);
                 respond(std::move(response));
               });
  StartServer();
  Request request = MakeRequest(Verb::get, "/api/tasks");
  request.set(beast_http::field::accept_encoding, "gzip");

  Response response = Send("127.0.0.1", port(), request);

  EXPECT_EQ(response[beast_http::field::content_encoding], "gzip");
  EXPECT_EQ(response.body(), cached_gzip);
}

// --- CORS ------------------------------------------------------------------------------------

class HttpCorsTest : public HttpServerFixture {
 protected:
  void SetUp() override {
    router_->Add(Verb::get, "/api/tasks", Echo);
    http::ServerOptions options = LoopbackOptions();
    options.cors_allowed_origins = R"(https://app\.example\.com|http://localhost:\d+)";
    StartServer(options);
  }

  Response Get(const std::string& origin) {
    Request request = MakeRequest(Verb::get, "/api/tasks");
    request.set(beast_http::field::origin, origin);
    return Send("127.0.0.1", port(), request);
  }

  Response Preflight(const std::string& origin) {
    Request request = MakeRequest(Verb::options, "/api/tasks");
    request.set(beast_http::field::origin, origin);
    request.set(beast_http::field::access_control_request_method, "POST");
    request.set(beast_http::field::access_control_request_headers, "authorization");
    return Send("127.0.0.1", port(), request);
  }
};

TEST_F(HttpCorsTest, AllowedOriginGetsCorsHeaders) {
  Response first = Get("https://app.example.com");
  Response other = Get("http://localhost:5173");

  EXPECT_EQ(first[beast_http::field::access_control_allow_origin], "https://app.example.com");
  EXPECT_EQ(first[beast_http::field::vary], "Origin");
  EXPECT_EQ(other[beast_http::field::access_control_allow_origin], "http://localhost:5173");
}

TEST_F(HttpCorsTest, DisallowedOriginGetsNoCorsHeaders) {
  Response evil = Get("https://evil.example.org");
  Response suffix = Get("https://app.example.com.evil.org");

  EXPECT_EQ(evil.result(), Status::ok);
  EXPECT_EQ(evil.count(beast_http::field::access_control_allow_origin), 0u);
  EXPECT_EQ(suffix.count(beast_http::field::access_control_allow_origin), 0u);
}

TEST_F(HttpCorsTest, PreflightFromAllowedOriginGets204) {
  Response response = Preflight("https://app.example.com");

  EXPECT_EQ(response.result(), Status::no_content);
  EXPECT_EQ(response[beast_http::field::access_control_allow_origin], "https://app.example.com");
  EXPECT_EQ(response[beast_http::field::access_control_allow_methods], "GET, POST, OPTIONS");
  EXPECT_EQ(response[beast_http::field::access_control_allow_headers],
            "Authorization, Content-Type, Accept, Last-Event-ID, Content-Encoding");
  EXPECT_EQ(response[beast_http::field::access_control_max_age], "86400");
  EXPECT_EQ(response.count(beast_http::field::content_length), 0u);
}

TEST_F(HttpCorsTest, PreflightFromDisallowedOriginGetsBare204) {
  Response response = Preflight("https://evil.example.org");

  EXPECT_EQ(response.result(), Status::no_content);
  EXPECT_EQ(response.count(beast_http::field::access_control_allow_origin), 0u);
  EXPECT_EQ(response.count(beast_http::field::access_control_allow_methods), 0u);
}

TEST_F(HttpCorsTest, ErrorResponsesCarryCorsHeaders) {
  Request request = MakeRequest(Verb::get, "/missing");
  request.set(beast_http::field::origin, "https://app.example.com");

  Response response = Send("127.0.0.1", port(), request);

  EXPECT_EQ(response.result(), Status::not_found);
  EXPECT_EQ(response[beast_http::field::access_control_allow_origin], "https://app.example.com");
}

TEST(HttpServerOptions, InvalidCorsRegexThrows) {
  http::ServerOptions options = LoopbackOptions();
  options.cors_allowed_origins = "https://(unclosed";

  EXPECT_THROW(http::Server(options, std::make_shared<http::Router>()), std::invalid_argument);
}

// --- Handlers --------------------------------------------------------------------------------

TEST_F(HttpServerTest, AcceptsAnswerFromAnotherThread) {
  std::vector<std::thread> workers;
  std::mutex workers_mutex;
  router_->Add(Verb::get, "/slow", [&](Request&, const RequestInfo&, Responder respond) {
    std::lock_guard lock(workers_mutex);
    workers.emplace_back([respond] {
      std::this_thread::sleep_for(milliseconds(50));
      respond(MakeResponse(Status::ok, "late", "text/plain"));
    });
  });
  StartServer();
  HttpClient client("127.0.0.1", port());

  Response first = client.Send(MakeRequest(Verb::get, "/slow"));
  Response second = client.Send(MakeRequest(Verb::get, "/slow"));

  EXPECT_EQ(first.body(), "late");
  EXPECT_EQ(second.body(), "late");
  for (auto& worker : workers) worker.join();
}

TEST_F(HttpServerTest, HandlerExceptionGets500) {
  router_->Add(Verb::get, "/boom", [](Request&, const RequestInfo&, Responder) {
    throw std::runtime_error("secret detail that must not reach the client");
  });
  StartServer();
  HttpClient client("127.0.0.1", port());

  Response response = client.Send(MakeRequest(Verb::get, "/boom"));
  Response again = client.Send(MakeRequest(Verb::get, "/boom"));

  EXPECT_EQ(response.result(), Status::internal_server_error);
  EXPECT_EQ(response.body(), R"({"error":"internal server error"})");
  EXPECT_EQ(again.result(), Status::internal_server_error);
}

TEST_F(HttpServerTest, DroppedResponderGets500) {
  router_->Add(Verb::get, "/forgetful", [](Request&, const RequestInfo&, Responder) {});
  StartServer();

  Response response = Send("127.0.0.1", port(), MakeRequest(Verb::get, "/forgetful"));

  EXPECT_EQ(response.result(), Status::internal_server_error);
}

TEST_F(HttpServerTest, SecondAnswerIsIgnored) {
  router_->Add(Verb::get, "/twice", [](Request&, const RequestInfo&, Responder respond) {
    respond(MakeResponse(Status::ok, "first", "text/plain"));
    respond(MakeResponse(Status::ok, "second", "text/plain"));
  });
  StartServer();
  HttpClient client("127.0.0.1", port());

  Response response = client.Send(MakeRequest(Verb::get, "/twice"));
  Response next = client.Send(MakeRequest(Verb::get, "/twice"));

  EXPECT_EQ(response.body(), "first");
  EXPECT_EQ(next.body(), "first");
}

TEST_F(HttpServerTest, GivesEachRequestItsOwnId) {
  std::mutex ids_mutex;
  std::set<uint64_t> ids;
  router_->Add(Verb::get, "/", [&](Request&, const RequestInfo& info, Responder respond) {
    {
      std::lock_guard lock(ids_mutex);
      ids.insert(info.request_id);
    }
    respond(MakeResponse(Status::ok, info.remote_address, "text/plain"));
  });
  StartServer();
  HttpClient client("127.0.0.1", port());

  Response response = client.Send(MakeRequest(Verb::get, "/"));
  client.Send(MakeRequest(Verb::get, "/"));
  Send("127.0.0.1", port(), MakeRequest(Verb::get, "/"));

  EXPECT_EQ(response.body(), "127.0.0.1");
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids.count(0), 0u);
}

// --- Shutdown --------------------------------------------------------------------------------

TEST_F(HttpServerTest, StopWaitsForInFlightRequest) {
  std::promise<void> handler_started;
  std::thread worker;
  router_->Add(Verb::get, "/slow", [&](Request&, const RequestInfo&, Responder respond) {
    worker = std::thread([respond] {
      std::this_thread::sleep_for(milliseconds(300));
      respond(MakeResponse(Status::ok, "done", "text/plain"));
    });
    handler_started.set_value();
  });
  StartServer();
  auto client = std::async(std::launch::async, [port = port()] {
    return Send("127.0.0.1", port, MakeRequest(Verb::get, "/slow"));
  });
  handler_started.get_future().wait();

  auto start = std::chrono::steady_clock::now();
  server_->Stop(std::chrono::seconds(5));
  auto stop_duration = std::chrono::steady_clock::now() - start;
  Response response = client.get();
  worker.join();

  EXPECT_GE(stop_duration, milliseconds(200));
  EXPECT_LT(stop_duration, milliseconds(3000));
  EXPECT_EQ(response.body(), "done");
  EXPECT_FALSE(response.keep_alive());
}

TEST_F(HttpServerTest, StopClosesIdleConnectionsAtOnce) {
  router_->Add(Verb::get, "/", Echo);
  StartServer();
  HttpClient client("127.0.0.1", port());
  client.Send(MakeRequest(Verb::get, "/"));

  auto start = std::chrono::steady_clock::now();
  server_->Stop(std::chrono::seconds(5));
  auto stop_duration = std::chrono::steady_clock::now() - start;

  EXPECT_LT(stop_duration, milliseconds(1000));
  EXPECT_TRUE(client.connection().WaitForClose(milliseconds(1000)));
  EXPECT_THROW(RawConnection("127.0.0.1", port(), milliseconds(500)), std::system_error);
}

TEST_F(HttpServerTest, StopClosesRequestsPastGrace) {
  std::promise<void> handler_started;
  std::shared_ptr<Responder> kept_responder;
  router_->Add(Verb::get, "/never", [&](Request&, const RequestInfo&, Responder respond) {
    kept_responder = std::make_shared<Responder>(std::move(respond));  // never called in time
    handler_started.set_value();
  });
  StartServer();
  RawConnection connection("127.0.0.1", port());
  connection.Write("GET /never HTTP/1.1\r\nHost: x\r\n\r\n");
  handler_started.get_future().wait();

  auto start = std::chrono::steady_clock::now();
  server_->Stop(milliseconds(200));
  auto stop_duration = std::chrono::steady_clock::now() - start;

  EXPECT_LT(stop_duration, milliseconds(2000));
  EXPECT_TRUE(connection.WaitForClose(milliseconds(1000)));
  (*kept_responder)(MakeResponse(Status::ok, "too late", "text/plain"));  // dropped without a crash
}

TEST_F(HttpServerTest, BindFailureNamesAddress) {
  router_->Add(Verb::get, "/", Echo);
  StartServer();
  http::ServerOptions options = LoopbackOptions();
  options.port = port();
  options.metrics = &registry_;
  http::Server second(options, router_);

  try {
    second.Start();
    FAIL() << "Start on a busy port did not throw";
  } catch (const std::system_error& error) {
    EXPECT_NE(std::string(error.what()).find("127.0.0.1:" + std::to_string(port())),
              std::string::npos)
        << error.what();
  }
}

// --- Metrics ---------------------------------------------------------------------------------

TEST_F(HttpServerTest, RecordsRequestMetrics) {
  router_->Add(Verb::get, "/api/tasks", Echo);
  StartServer();
  HttpClient client("127.0.0.1", port());
  for (int i = 0; i < 3; ++i) client.Send(MakeRequest(Verb::get, "/api/tasks"));
  client.Send(MakeRequest(Verb::get, "/nowhere"));

  auto rendered = [&] { return registry_.RenderPrometheus(); };
  bool counted = WaitUntil([&] {
    std::string text = rendered();
    return text.find(
               R"(prism_http_requests_total{route="/api/tasks",method="GET",status="200"} 3)") !=
               std::string::npos &&
           text.find(R"(method="GET",status="404"} 1)") != std::string::npos;
  });
  std::string text = rendered();

  EXPECT_TRUE(counted) << text;
  EXPECT_NE(
      text.find(R"(prism_http_requests_total{route="unmatched",method="GET",status="404"} 1)"),
      std::string::npos);
  EXPECT_NE(text.find(R"(prism_http_request_duration_seconds_count{route="/api/tasks"} 3)"),
            std::string::npos);
  EXPECT_NE(text.find("prism_http_open_connections 1"), std::string::npos);
}

TEST_F(HttpServerTest, CountsRejectionsByReason) {
  router_->Add(Verb::post, "/echo", Echo);
  StartServer();
  Send("127.0.0.1", port(), MakeRequest(Verb::post, "/echo", std::string(70 * 1024, 'x')));

  bool counted = WaitUntil([&] {
    return registry_.RenderPrometheus().find(
               R"(prism_http_errors_total{reason="body_too_large"} 1)") != std::string::npos;
  });

  EXPECT_TRUE(counted) << registry_.RenderPrometheus();
}

}  // namespace
}  // namespace prism::test
