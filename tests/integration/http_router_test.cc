// Router matching without a server.
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "http/router.h"

namespace prism::test {
namespace {

namespace beast_http = boost::beast::http;
using http::Router;
using Kind = Router::Match::Kind;
using Verb = beast_http::verb;

void Ignore(http::Request&, const http::RequestInfo&, http::Responder) {}

TEST(HttpRouter, MatchesLiteralAndPatternRoutes) {
  Router router;
  router.Add(Verb::get, "/api/tasks", Ignore);
  router.Add(Verb::get, "/api/commands/{key}", Ignore);
  std::vector<std::string> params;

  Router::Match literal = router.Find(Verb::get, "/api/tasks", params);
  EXPECT_EQ(literal.kind, Kind::kHandler);
  EXPECT_EQ(router.RouteName(literal.route_id), "/api/tasks");
  EXPECT_TRUE(params.empty());

  Router::Match pattern = router.Find(Verb::get, "/api/commands/abc%2Fdef", params);
  EXPECT_EQ(pattern.kind, Kind::kHandler);
  EXPECT_EQ(router.RouteName(pattern.route_id), "/api/commands/{key}");
  ASSERT_EQ(params.size(), 1u);
  EXPECT_EQ(params[0], "abc/def");
}

TEST(HttpRouter, ReportsMethodNotAllowedWithAllow) {
  Router router;
  router.Add(Verb::post, "/api/commands", Ignore);
  router.AddStream("/api/commands",
                   [](http::Request&, const http::RequestInfo&) { return http::StreamDecision{}; });
  std::vector<std::string> params;

  Router::Match match = router.Find(Verb::delete_, "/api/commands", params);

  EXPECT_EQ(match.kind, Kind::kMethodNotAllowed);
  EXPECT_EQ(match.allow, "POST, GET");
}

TEST(HttpRouter, UsesFallbackOnlyForReads) {
  Router router;
  router.SetFallback(Ignore);
  std::vector<std::string> params;

  EXPECT_EQ(router.Find(Verb::get, "/anything", params).kind, Kind::kFallback);
  EXPECT_EQ(router.Find(Verb::head, "/anything", params).kind, Kind::kFallback);
  EXPECT_EQ(router.Find(Verb::post, "/anything", params).kind, Kind::kNotFound);
}

TEST(HttpRouter, HeadUsesGetHandler) {
  Router router;
  router.Add(Verb::get, "/healthz", Ignore);
  std::vector<std::string> params;

  EXPECT_EQ(router.Find(Verb::head, "/healthz", params).kind, Kind::kHandler);
}

TEST(HttpRouter, RejectsDuplicateAndInvalidPatterns) {
  Router router;
  router.Add(Verb::get, "/api/tasks", Ignore);

  EXPECT_THROW(router.Add(Verb::get, "/api/tasks", Ignore), std::invalid_argument);
  EXPECT_THROW(router.Add(Verb::get, "api/tasks", Ignore), std::invalid_argument);
  EXPECT_THROW(router.Add(Verb::get, "/api/{}", Ignore), std::invalid_argument);
  EXPECT_THROW(router.Add(Verb::get, "/api/x{key}", Ignore), std::invalid_argument);
}

TEST(HttpRouter, PatternNeedsEverySegment) {
  Router router;
  router.Add(Verb::get, "/users/{user}/tasks", Ignore);
  std::vector<std::string> params;

  EXPECT_EQ(router.Find(Verb::get, "/users/u1/tasks", params).kind, Kind::kHandler);
  EXPECT_EQ(router.Find(Verb::get, "/users/u1", params).kind, Kind::kNotFound);
  EXPECT_EQ(router.Find(Verb::get, "/users//tasks", params).kind, Kind::kNotFound);
  EXPECT_EQ(router.Find(Verb::get, "/users/u1/tasks/x", params).kind, Kind::kNotFound);
}

}  // namespace
}  // namespace prism::test
