// Fuzzes the HTTP request path without sockets: the bytes go through the Beast request parser
// with the server's limits, then the router and the API handlers of `prism serve`, on embedded
// storage in a temporary directory.
//
// The command queue is an in-memory stand-in that accepts every batch at once, so that admitted
// commands neither grow the database nor wait for a commit. A request must get exactly one
// response and never a 5xx: a handler that throws, drops its responder or responds with a 5xx to
// any input aborts the run.
//
// NOTE: the session's own steps are not reached here: the 414/431 choice, gzip request bodies,
// CORS and response compression (see src/http/session.cc). Account routes are not registered,
// because every login would spend an Argon2id hash.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "api/api_service.h"
#include "auth/verifier.h"
#include "common/config.h"
#include "http/router.h"
#include "query/read_queries.h"
#include "sqlite/embedded_storage.h"

namespace {

namespace beast_http = boost::beast::http;
namespace http = prism::http;

// Limits of http::ServerOptions' defaults.
constexpr uint32_t kMaxHeaderBytes = 16 * 1024;
constexpr uint64_t kMaxBodyBytes = 64 * 1024;
// The HS256 secret of the test-mode verifier; the seed corpus carries tokens signed with it.
constexpr std::string_view kTestSecret = "fuzz-secret-0123456789abcdef0123";

// Accepts every batch at once and discards it.
class AcceptingQueue final : public prism::storage::CommandQueue {
 public:
  void Enqueue(std::vector<prism::storage::NewCommand> batch, EnqueueCallback done) override {
    done(std::nullopt);
  }
  std::vector<prism::storage::QueuedCommand> Lease(std::string_view, size_t,
                                                   std::chrono::milliseconds,
                                                   std::chrono::milliseconds) override {
    return {};
  }
  void Ack(std::span<const std::string>) override {}
  void ReleaseAll(std::span<const std::string>, std::chrono::milliseconds) override {}
  void DeadLetter(const prism::storage::QueuedCommand&, std::string_view) override {}
  bool IsQueued(std::string_view, std::string_view) override { return false; }
  int64_t Depth() override { return 0; }
};

struct Fixture {
  std::filesystem::path data_dir;
  prism::sqlite::EmbeddedStorage storage;
  http::Router router;
};

void RemoveDataDir();

Fixture& GetFixture() {
  static Fixture* fixture = [] {
    auto* created = new Fixture;
    char pattern[] = "/tmp/prism-http-fuzz-XXXXXX";
    if (!mkdtemp(pattern)) std::abort();
    created->data_dir = pattern;
    std::atexit(RemoveDataDir);

    prism::Config config;
    config.data_dir = created->data_dir.string();
    created->storage = prism::sqlite::OpenEmbeddedStorage(config);

    prism::api::ApiDependencies dependencies;
    dependencies.commands = std::make_shared<AcceptingQueue>();
    dependencies.events = created->storage.events;
    dependencies.queries = std::make_shared<prism::query::ReadQueries>(
        created->storage.read_models, created->storage.cache,
        prism::query::PageTokenCodec("fuzz-page-token-key-0123456789abcdef"),
        prism::query::ReadOptions{});
    dependencies.verifier =
        prism::auth::MakeHs256Verifier(std::string(kTestSecret), prism::auth::Hs256Options{});
    dependencies.auth_mode = "test";
    prism::api::RegisterApiRoutes(created->router, std::move(dependencies), config);
    return created;
  }();
  return *fixture;
}

void RemoveDataDir() {
  std::error_code ignored;
  std::filesystem::remove_all(GetFixture().data_dir, ignored);
}

[[noreturn]] void Fail(const char* what, const http::Request& request, const std::string& detail) {
  std::fprintf(stderr, "http_request_fuzzer: %s on %s %s: %s\n", what,
               std::string(request.method_string()).c_str(), std::string(request.target()).c_str(),
               detail.c_str());
  std::abort();
}

// Parses one request with the server's limits; nullopt when the server would reject the bytes
// before routing (400, 413, 431) or needs more of them.
std::optional<http::Request> ParseRequest(std::string_view bytes) {
  beast_http::request_parser<beast_http::string_body> parser;
  parser.header_limit(kMaxHeaderBytes);
  parser.body_limit(kMaxBodyBytes);
  parser.eager(true);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
  if (!ec && !parser.is_done()) parser.put_eof(ec);
  if (ec || !parser.is_done()) return std::nullopt;
  return parser.release();
}

// Routes the request the way HttpSession::HandleRequest does and checks the single response.
void Dispatch(http::Request& request) {
  std::string_view target = request.target();
  if (!target.starts_with('/')) return;  // the session responds 400 or routes absolute forms
  std::string_view path = target.substr(0, target.find_first_of("?#"));

  http::RequestInfo info;
  info.request_id = 1;
  http::Router::Match match = GetFixture().router.Find(request.method(), path, info.path_params);
  if (match.kind != http::Router::Match::Kind::kHandler &&
      match.kind != http::Router::Match::Kind::kFallback) {
    return;
  }

  auto responses = std::make_shared<int>(0);
  auto status = std::make_shared<unsigned>(0);
  auto body = std::make_shared<std::string>();
  http::Request copy = request;  // for messages: the handler may move the request
  try {
    (*match.handler)(request, info, [responses, status, body](http::Response response) {
      ++*responses;
      *status = response.result_int();
      *body = response.body();
    });
  } catch (const std::exception& error) {
    Fail("handler threw", copy, error.what());
  }
  if (*responses != 1) Fail("handler did not respond exactly once", copy, "");
  if (*status >= 500) Fail("5xx response", copy, std::to_string(*status) + " " + *body);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::optional<http::Request> request =
      ParseRequest(std::string_view(reinterpret_cast<const char*>(data), size));
  if (request) Dispatch(*request);
  return 0;
}
