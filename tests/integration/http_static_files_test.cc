// The static web app handler behind a real server: content types, caching, SPA fallback and
// path traversal.
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "http/gzip.h"
#include "http/responses.h"
#include "http/static_files.h"
#include "integration/http_test_server.h"
#include "support/http_client.h"

namespace prism::test {
namespace {

namespace beast_http = boost::beast::http;
namespace fs = std::filesystem;
using Verb = beast_http::verb;

constexpr std::string_view kIndex = "<!doctype html><title>Prism Plan</title>";

class StaticFilesTest : public HttpServerFixture {
 protected:
  void SetUp() override {
    std::random_device random;
    root_ = fs::temp_directory_path() / ("prism-static-" + std::to_string(random()));
    fs::create_directories(root_ / "assets");
    fs::create_directories(root_.parent_path() / (root_.filename().string() + "-secret"));
    Write("index.html", std::string(kIndex));
    Write("assets/app-3f2a1b.js", std::string(5000, 'a') + "console.log(1);");
    Write("assets/app-3f2a1b.mjs", "export {};");
    Write("assets/style-99aa.css", "body{}");
    Write("assets/font-1.woff2", "wOF2");
    Write("assets/app-3f2a1b.js.map", "{}");
    Write("icon.svg", "<svg/>");
    Write("logo.png", "\x89PNG");
    Write("favicon.ico", "ico");
    Write("manifest.webmanifest", "{}");
    Write("config.json", "{}");
    Write("robots.txt", "User-agent: *");
    std::ofstream(root_.string() + "-secret/passwd") << "root:x:0:0";

    router_->Add(Verb::get, "/api/tasks",
                 [](Request&, const http::RequestInfo&, http::Responder respond) {
                   respond(http::MakeResponse(beast_http::status::ok, "[]"));
                 });
    router_->SetFallback(http::MakeStaticFileHandler(root_.string()));
    StartServer();
  }

  void TearDown() override {
    HttpServerFixture::TearDown();
    fs::remove_all(root_);
    fs::remove_all(root_.string() + "-secret");
  }

  void Write(const std::string& relative, const std::string& content) {
    std::ofstream(root_ / relative, std::ios::binary) << content;
  }

  Response Get(const std::string& target, std::string_view accept_encoding = {}) {
    Request request = MakeRequest(Verb::get, target);
    if (!accept_encoding.empty()) request.set(beast_http::field::accept_encoding, accept_encoding);
    return Send("127.0.0.1", port(), request);
  }

  fs::path root_;
};

TEST_F(StaticFilesTest, ServesIndexAtRoot) {
  Response response = Get("/");

  EXPECT_EQ(response.result(), beast_http::status::ok);
  EXPECT_EQ(response.body(), kIndex);
  EXPECT_EQ(response[beast_http::field::content_type], "text/html; charset=utf-8");
  EXPECT_EQ(response[beast_http::field::cache_control], "no-cache");
}

TEST_F(StaticFilesTest, SetsContentTypeByExtension) {
  const std::pair<std::string, std::string> cases[] = {
      {"/index.html", "text/html; charset=utf-8"},
      {"/assets/app-3f2a1b.js", "text/javascript; charset=utf-8"},
      {"/assets/app-3f2a1b.mjs", "text/javascript; charset=utf-8"},
      {"/assets/style-99aa.css", "text/css; charset=utf-8"},
      {"/icon.svg", "image/svg+xml"},
      {"/logo.png", "image/png"},
      {"/favicon.ico", "image/x-icon"},
      {"/config.json", "application/json"},
      {"/manifest.webmanifest", "application/manifest+json"},
      {"/assets/font-1.woff2", "font/woff2"},
      {"/robots.txt", "text/plain; charset=utf-8"},
      {"/assets/app-3f2a1b.js.map", "application/json"},
  };
  for (const auto& [path, type] : cases) {
    Response response = Get(path);
    EXPECT_EQ(response.result(), beast_http::status::ok) << path;
    EXPECT_EQ(response[beast_http::field::content_type], type) << path;
  }
}

TEST_F(StaticFilesTest, CachesHashedAssetsForever) {
  Response asset = Get("/assets/style-99aa.css");
  Response root_file = Get("/robots.txt");

  EXPECT_EQ(asset[beast_http::field::cache_control], "public, max-age=31536000, immutable");
  EXPECT_EQ(root_file[beast_http::field::cache_control], "no-cache");
}

TEST_F(StaticFilesTest, FallsBackToIndexForClientRoutes) {
  Response board = Get("/board/123?view=week");
  Response settings = Get("/settings");

  EXPECT_EQ(board.result(), beast_http::status::ok);
  EXPECT_EQ(board.body(), kIndex);
  EXPECT_EQ(board[beast_http::field::cache_control], "no-cache");
  EXPECT_EQ(settings.body(), kIndex);
}

TEST_F(StaticFilesTest, MissingFileWithExtensionGets404) {
  Response response = Get("/assets/app-000000.js");

  EXPECT_EQ(response.result(), beast_http::status::not_found);
}

TEST_F(StaticFilesTest, RejectsPathTraversal) {
  std::string secret = "/../" + root_.filename().string() + "-secret/passwd";
  const std::string targets[] = {
      secret,
      "/assets/../../" + root_.filename().string() + "-secret/passwd",
      "/%2e%2e/" + root_.filename().string() + "-secret/passwd",
      "/assets/%2E%2E/index.html",
      "/..",
      "/assets/..%2findex.html",
  };
  for (const std::string& target : targets) {
    Response response = Get(target);
    EXPECT_EQ(response.result(), beast_http::status::not_found) << target;
    EXPECT_EQ(response.body().find("root:x"), std::string::npos) << target;
  }
}

TEST_F(StaticFilesTest, ApiRoutesWinOverFallback) {
  Response api = Get("/api/tasks");
  Response post = Send("127.0.0.1", port(), MakeRequest(Verb::post, "/board", "{}"));

  EXPECT_EQ(api.body(), "[]");
  EXPECT_EQ(post.result(), beast_http::status::not_found);
}

TEST_F(StaticFilesTest, ServesPrecompressedGzip) {
  Response compressed = Get("/assets/app-3f2a1b.js", "gzip, deflate");
  Response plain = Get("/assets/app-3f2a1b.js");
  std::string inflated;
  auto status = http::GzipDecompress(compressed.body(), 1 << 20, inflated);

  EXPECT_EQ(compressed[beast_http::field::content_encoding], "gzip");
  EXPECT_EQ(compressed[beast_http::field::vary], "Accept-Encoding");
  EXPECT_EQ(status, http::GunzipStatus::kOk);
  EXPECT_EQ(inflated, plain.body());
  EXPECT_EQ(plain[beast_http::field::content_encoding], "");
  EXPECT_EQ(plain[beast_http::field::vary], "Accept-Encoding");
}

TEST_F(StaticFilesTest, AnswersMatchingETagWith304) {
  Response first = Get("/index.html");
  std::string etag(first[beast_http::field::etag]);
  ASSERT_FALSE(etag.empty());
  Request revalidate = MakeRequest(Verb::get, "/index.html");
  revalidate.set(beast_http::field::if_none_match, etag);
  Request stale = MakeRequest(Verb::get, "/index.html");
  stale.set(beast_http::field::if_none_match, "\"something-else\"");

  Response not_modified = Send("127.0.0.1", port(), revalidate);
  Response full = Send("127.0.0.1", port(), stale);

  EXPECT_EQ(not_modified.result(), beast_http::status::not_modified);
  EXPECT_TRUE(not_modified.body().empty());
  EXPECT_EQ(not_modified[beast_http::field::etag], etag);
  EXPECT_EQ(full.result(), beast_http::status::ok);
}

TEST(StaticFilesMissingRoot, ServesNotFound) {
  auto handler = http::MakeStaticFileHandler("/nonexistent/prism-web-dist");
  Request request = MakeRequest(Verb::get, "/");
  std::optional<Response> answer;

  handler(request, http::RequestInfo{}, [&answer](Response response) { answer = response; });

  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->result(), beast_http::status::not_found);
}

}  // namespace
}  // namespace prism::test
