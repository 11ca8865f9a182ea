#include "http/router.h"

#include <stdexcept>

#include <boost/url/pct_string_view.hpp>

namespace prism::http {
namespace {

namespace beast_http = boost::beast::http;

bool IsPattern(std::string_view pattern) { return pattern.find('{') != std::string_view::npos; }

// Splits "/a/b/c" into {"a", "b", "c"}; "/" gives one empty segment.
std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> segments;
  path.remove_prefix(1);
  while (true) {
    size_t slash = path.find('/');
    segments.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return segments;
}

std::string DecodeSegment(std::string_view segment) {
  auto encoded = boost::urls::make_pct_string_view(segment);
  if (!encoded) return std::string(segment);  // invalid escapes: pass the text through as sent
  return encoded->decode();
}

}  // namespace

void Router::Add(beast_http::verb method, std::string pattern, Handler handler) {
  Route& route = FindOrAddRoute(pattern);
  AddMethod(route, method);
  route.handlers.emplace_back(method, std::move(handler));
}

void Router::AddStream(std::string pattern, StreamHandler handler) {
  Route& route = FindOrAddRoute(pattern);
  AddMethod(route, beast_http::verb::get);
  route.stream = std::move(handler);
}

void Router::SetFallback(Handler handler) { fallback_ = std::move(handler); }

Router::Route& Router::FindOrAddRoute(const std::string& pattern) {
  if (pattern.empty() || pattern.front() != '/') {
    throw std::invalid_argument("route pattern must start with '/': " + pattern);
  }
  if (auto it = literal_routes_.find(pattern); it != literal_routes_.end()) return it->second;
  for (auto& [existing, route] : pattern_routes_) {
    if (existing == pattern) return route;
  }

  Route route;
  route.id = static_cast<int>(route_names_.size());
  if (!IsPattern(pattern)) {
    route_names_.push_back(pattern);
    return literal_routes_.emplace(pattern, std::move(route)).first->second;
  }
  for (std::string_view text : SplitPath(pattern)) {
    bool is_param = text.size() >= 2 && text.front() == '{' && text.back() == '}';
    if (text == "{}" || (!is_param && IsPattern(text))) {
      throw std::invalid_argument("invalid parameter segment in route pattern: " + pattern);
    }
    route.segments.push_back(Segment{is_param ? std::string() : std::string(text), is_param});
  }
  route_names_.push_back(pattern);
  pattern_routes_.emplace_back(pattern, std::move(route));
  return pattern_routes_.back().second;
}

void Router::AddMethod(Route& route, beast_http::verb method) {
  bool taken = route.stream && method == beast_http::verb::get;
  for (const auto& [existing, handler] : route.handlers) taken = taken || existing == method;
  if (taken) {
    throw std::invalid_argument("route " + route_names_[route.id] + " already has a " +
                                std::string(beast_http::to_string(method)) + " handler");
  }
  if (!route.allow.empty()) route.allow += ", ";
  route.allow += beast_http::to_string(method);
}

Router::Match Router::Find(beast_http::verb method, std::string_view path,
                           std::vector<std::string>& params) const {
  params.clear();
  if (auto it = literal_routes_.find(path); it != literal_routes_.end()) {
    return MatchRoute(it->second, method);
  }
  for (const auto& [pattern, route] : pattern_routes_) {
    if (MatchSegments(route, path, params)) return MatchRoute(route, method);
  }

  Match match;
  bool reads = method == beast_http::verb::get || method == beast_http::verb::head;
  if (fallback_ && reads) {
    match.kind = Match::Kind::kFallback;
    match.handler = &fallback_;
    match.route_id = kFallbackRouteId;
  }
  return match;
}

Router::Match Router::MatchRoute(const Route& route, beast_http::verb method) const {
  Match match;
  match.route_id = route.id;
  bool head = method == beast_http::verb::head;
  if ((method == beast_http::verb::get) && route.stream) {
    match.kind = Match::Kind::kStream;
    match.stream = &route.stream;
    return match;
  }
  for (const auto& [route_method, handler] : route.handlers) {
    if (route_method == method || (head && route_method == beast_http::verb::get)) {
      match.kind = Match::Kind::kHandler;
      match.handler = &handler;
      return match;
    }
  }
  match.kind = Match::Kind::kMethodNotAllowed;
  match.allow = route.allow;
  return match;
}

bool Router::MatchSegments(const Route& route, std::string_view path,
                           std::vector<std::string>& params) {
  if (path.empty() || path.front() != '/') return false;
  path.remove_prefix(1);
  params.clear();
  for (size_t i = 0; i < route.segments.size(); ++i) {
    size_t slash = path.find('/');
    bool last = i + 1 == route.segments.size();
    if (last != (slash == std::string_view::npos)) return false;
    std::string_view text = path.substr(0, slash);

    const Segment& segment = route.segments[i];
    if (segment.is_param) {
      if (text.empty()) return false;
      params.push_back(DecodeSegment(text));
    } else if (text != segment.literal) {
      return false;
    }
    if (!last) path.remove_prefix(slash + 1);
  }
  return true;
}

std::string_view Router::RouteName(int route_id) const {
  if (route_id >= 0 && static_cast<size_t>(route_id) < route_names_.size()) {
    return route_names_[route_id];
  }
  return route_id == kFallbackRouteId ? "fallback" : "unmatched";
}

}  // namespace prism::http
