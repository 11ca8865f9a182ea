// Maps a request's method and path to its handler.
//
// Patterns are literal paths ("/api/tasks") or contain `{name}` segments that match one
// non-empty path segment each ("/api/commands/{key}"). Literal paths are found with one hash
// lookup; patterns are then tried in the order they were added. HEAD requests use the GET
// handler of a path (the server drops the body). Configure the router before Server::Start(); it
// is not safe to change while serving.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/beast/http/verb.hpp>

#include "http/server.h"

namespace prism::http {

class Router {
 public:
  // The outcome of matching one request.
  struct Match {
    enum class Kind { kHandler, kStream, kFallback, kMethodNotAllowed, kNotFound };

    Kind kind = Kind::kNotFound;
    const Handler* handler = nullptr;       // kHandler and kFallback
    const StreamHandler* stream = nullptr;  // kStream
    int route_id = -1;                      // index into route_names(), or one of the ids below
    std::string_view allow;                 // kMethodNotAllowed: the Allow header value
  };

  // Route ids of requests that matched no added pattern.
  static constexpr int kUnmatchedRouteId = -1;
  static constexpr int kFallbackRouteId = -2;

  // Adds a handler for `method` on `pattern`. Throws std::invalid_argument when the pattern does
  // not start with '/', has an empty `{}` segment, or already has a handler for that method.
  void Add(boost::beast::http::verb method, std::string pattern, Handler handler);

  // Adds a server-sent-events handler for GET on `pattern`. Same errors as Add().
  void AddStream(std::string pattern, StreamHandler handler);

  // Sets the handler of GET (and HEAD) requests that match no pattern, such as static files.
  void SetFallback(Handler handler);

  // Matches a path (without the query). Fills `params` (cleared first) with the percent-decoded
  // values of `{name}` segments.
  Match Find(boost::beast::http::verb method, std::string_view path,
             std::vector<std::string>& params) const;

  // Route patterns by route id, for metric labels.
  const std::vector<std::string>& route_names() const { return route_names_; }

  // The route label of a route id, including the special ids ("unmatched", "fallback").
  std::string_view RouteName(int route_id) const;

 private:
  struct Segment {
    std::string literal;  // empty for a `{name}` segment
    bool is_param = false;
  };

  struct Route {
    int id = 0;
    std::vector<Segment> segments;  // patterns only
    std::vector<std::pair<boost::beast::http::verb, Handler>> handlers;
    StreamHandler stream;
    std::string allow;  // "GET, POST"
  };

  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
  };

  Route& FindOrAddRoute(const std::string& pattern);
  void AddMethod(Route& route, boost::beast::http::verb method);
  Match MatchRoute(const Route& route, boost::beast::http::verb method) const;
  static bool MatchSegments(const Route& route, std::string_view path,
                            std::vector<std::string>& params);

  std::unordered_map<std::string, Route, StringHash, std::equal_to<>> literal_routes_;
  std::vector<std::pair<std::string, Route>> pattern_routes_;
  std::vector<std::string> route_names_;
  Handler fallback_;
};

}  // namespace prism::http
