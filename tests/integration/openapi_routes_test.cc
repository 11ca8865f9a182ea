// Checks that docs/openapi.json and the routes the server registers name the same paths and
// methods, so neither can change without the other.
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "accounts/account_service.h"
#include "api/api_service.h"
#include "http/router.h"
#include "stream/stream_service.h"

namespace prism {
namespace {

namespace verbs = boost::beast::http;

constexpr std::pair<verbs::verb, const char*> kMethods[] = {
    {verbs::verb::get, "get"},        {verbs::verb::post, "post"},   {verbs::verb::put, "put"},
    {verbs::verb::delete_, "delete"}, {verbs::verb::patch, "patch"},
};

boost::json::object LoadSpec() {
  std::ifstream file(PRISM_SOURCE_DIR "/docs/openapi.json");
  std::stringstream text;
  text << file.rdbuf();
  return boost::json::parse(text.str()).as_object();
}

// Every route `prism serve` registers, from the components that register them.
http::Router ServeRouter() {
  http::Router router;
  api::RegisterApiRoutes(router, api::ApiDependencies{}, Config{});
  stream::StreamService stream(nullptr, nullptr, nullptr, {});
  stream.Register(router);
  accounts::AccountService accounts(nullptr, "key", {});
  accounts.Register(router);
  return router;
}

// Replaces `{name}` segments with a sample value, to match the pattern.
std::string SamplePath(std::string pattern) {
  size_t open;
  while ((open = pattern.find('{')) != std::string::npos) {
    pattern.replace(open, pattern.find('}', open) - open + 1, "sample");
  }
  return pattern;
}

std::set<std::string> ServedMethods(const http::Router& router, const std::string& pattern) {
  std::set<std::string> methods;
  std::vector<std::string> params;
  for (auto [verb, name] : kMethods) {
    auto match = router.Find(verb, SamplePath(pattern), params);
    if (match.kind == http::Router::Match::Kind::kHandler ||
        match.kind == http::Router::Match::Kind::kStream) {
      methods.insert(name);
    }
  }
  return methods;
}

TEST(OpenApi, EveryRouteIsDescribed) {
  boost::json::object paths = LoadSpec().at("paths").as_object();
  http::Router router = ServeRouter();
  for (const std::string& route : router.route_names()) {
    ASSERT_TRUE(paths.contains(route)) << route << " is served but missing from openapi.json";
    std::set<std::string> described;
    for (const auto& [method, operation] : paths.at(route).as_object()) {
      described.insert(std::string(method));
    }
    EXPECT_EQ(ServedMethods(router, route), described) << "methods of " << route;
  }
}

TEST(OpenApi, EveryDescribedPathIsServed) {
  boost::json::object paths = LoadSpec().at("paths").as_object();
  http::Router router = ServeRouter();
  std::set<std::string> routes(router.route_names().begin(), router.route_names().end());
  for (const auto& [path, operations] : paths) {
    EXPECT_TRUE(routes.contains(std::string(path)))
        << path << " is described in openapi.json but not served";
  }
}

TEST(OpenApi, DescriptionIsVersion31) { EXPECT_EQ(LoadSpec().at("openapi").as_string(), "3.1.0"); }

}  // namespace
}  // namespace prism
