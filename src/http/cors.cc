#include "http/cors.h"

#include <stdexcept>

#include <boost/beast/http/field.hpp>

namespace prism::http {

namespace beast_http = boost::beast::http;

CorsPolicy::CorsPolicy(const std::string& allowed_origins) {
  allow_all_ = allowed_origins == ".*";
  try {
    regex_ = std::regex(allowed_origins, std::regex::ECMAScript | std::regex::optimize);
  } catch (const std::regex_error& error) {
    throw std::invalid_argument("invalid CORS_ALLOWED_ORIGINS regular expression \"" +
                                allowed_origins + "\": " + error.what());
  }
}

bool CorsPolicy::IsAllowed(std::string_view origin) const {
  if (allow_all_) return true;

  std::string key(origin);
  {
    std::lock_guard lock(mutex_);
    if (auto it = cache_.find(key); it != cache_.end()) return it->second;
  }

  // Origins come from clients; the regex runs outside the lock so a slow match blocks no one.
  bool allowed = std::regex_match(key, regex_);
  std::lock_guard lock(mutex_);
  if (cache_.size() >= kMaxCachedOrigins) cache_.clear();
  cache_.emplace(std::move(key), allowed);
  return allowed;
}

Response CorsPolicy::MakePreflightResponse(bool origin_allowed) {
  Response response(beast_http::status::no_content, 11);
  if (!origin_allowed) return response;
  response.set(beast_http::field::access_control_allow_methods, kCorsAllowedMethods);
  response.set(beast_http::field::access_control_allow_headers, kCorsAllowedHeaders);
  response.set(beast_http::field::access_control_max_age, kCorsMaxAgeSeconds);
  return response;
}

}  // namespace prism::http
