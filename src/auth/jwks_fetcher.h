// Downloads a JWKS document over HTTPS (or plain HTTP on loopback) with a deadline and a size
// limit.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace prism::auth {

struct JwksFetchOptions {
  // PEM file of CA certificates trusted in addition to the system store; empty: system store only.
  std::string ca_file;
  // Deadline of the whole fetch: name resolution, connect, TLS handshake, request and response.
  std::chrono::milliseconds timeout{5000};
  // Largest response body accepted, in bytes.
  std::size_t max_body_bytes = 1024 * 1024;
};

// A failed fetch. what() names the URL and the cause, and never contains response bodies.
class JwksFetchError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Returns why `url` may not be fetched, or nullopt when it may. Accepted: https:// URLs, and
// http:// URLs whose host is localhost, 127.0.0.0/8 or ::1. Plain HTTP stays on loopback because
// only tests and a sidecar on the same machine can serve keys without TLS and still be trusted.
std::optional<std::string> CheckJwksUrl(std::string_view url);

// Sends GET `url` and returns the body of a 200 response. HTTPS checks the server certificate
// against the system store plus `options.ca_file`, and the host name against the certificate.
// Redirects are not followed. For http:// URLs every resolved address must be on loopback.
//
// Throws JwksFetchError when CheckJwksUrl rejects the URL, on any network or TLS error, on a
// status other than 200, on a body above `options.max_body_bytes`, and when `options.timeout`
// passes. Blocks the calling thread for at most about `options.timeout`. Thread-safe: each call
// has its own connection and event loop.
std::string FetchJwks(std::string_view url, const JwksFetchOptions& options);

}  // namespace prism::auth
