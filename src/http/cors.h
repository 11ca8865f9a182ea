// Cross-origin resource sharing: which origins may call the API, and the headers that tell
// browsers.
//
// An allowed Origin gets `Access-Control-Allow-Origin: <origin>` and `Vary: Origin` on every
// response (the server writes them while serializing). A preflight (OPTIONS) gets 204 with the
// allowed methods and headers and `Access-Control-Max-Age: 86400`. A disallowed origin gets no CORS
// headers at all, and its preflight a plain 204, so the browser blocks the actual request; the
// server itself never rejects a request for its Origin, since non-browser clients send any Origin
// they like.
#pragma once

#include <mutex>
#include <regex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "http/server.h"

namespace prism::http {

// Methods and request headers a preflight allows. Besides Authorization, Content-Type and Accept,
// Last-Event-ID is allowed so that event-stream clients that resume with a request header (the
// EventSource polyfills) pass a preflight, and Content-Encoding so that the web app may send
// gzip-compressed command bodies.
inline constexpr std::string_view kCorsAllowedMethods = "GET, POST, OPTIONS";
inline constexpr std::string_view kCorsAllowedHeaders =
    "Authorization, Content-Type, Accept, Last-Event-ID, Content-Encoding";
inline constexpr std::string_view kCorsMaxAgeSeconds = "86400";

class CorsPolicy {
 public:
  // `allowed_origins` is an ECMAScript regular expression that must match the whole Origin.
  // Throws std::invalid_argument naming the expression when it does not compile.
  explicit CorsPolicy(const std::string& allowed_origins);

  // Whether `origin` matches. Results are cached per origin string (at most kMaxCachedOrigins,
  // then the cache starts over), so the regular expression runs once per distinct origin.
  // Thread-safe.
  bool IsAllowed(std::string_view origin) const;

  // The 204 response to a preflight: the allowed methods, headers and max age when
  // `origin_allowed`, else nothing. The server adds Access-Control-Allow-Origin and Vary as on
  // every response.
  static Response MakePreflightResponse(bool origin_allowed);

  static constexpr size_t kMaxCachedOrigins = 1024;

 private:
  bool allow_all_ = false;  // the expression is ".*": no regex, no cache
  std::regex regex_;
  mutable std::mutex mutex_;
  mutable std::unordered_map<std::string, bool> cache_;  // guarded by mutex_
};

}  // namespace prism::http
