#include "auth/jwks_fetcher.h"

#include <exception>
#include <utility>
#include <variant>
#include <vector>

#include <openssl/ssl.h>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

namespace prism::auth {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using SteadyTime = std::chrono::steady_clock::time_point;

namespace {

// Largest response header accepted, in bytes. Identity providers send a few hundred bytes.
constexpr std::uint32_t kMaxHeaderBytes = 16 * 1024;

struct Target {
  bool https = true;
  std::string host;         // name or address, IPv6 without brackets
  std::string port;         // decimal
  std::string host_header;  // host and port as written in the URL
  std::string path;         // path and query
};

bool IsLoopbackHost(const std::string& host) {
  if (beast::iequals(host, "localhost")) return true;
  boost::system::error_code ec;
  asio::ip::address address = asio::ip::make_address(host, ec);
  return !ec && address.is_loopback();
}

// Parses and checks a JWKS URL. Returns the target or the reason it is rejected.
std::variant<Target, std::string> ParseTarget(std::string_view url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return std::string("not a valid absolute URL");
  boost::urls::url_view view = *parsed;

  Target target;
  if (view.scheme_id() == boost::urls::scheme::https) {
    target.https = true;
  } else if (view.scheme_id() == boost::urls::scheme::http) {
    target.https = false;
  } else {
    return std::string("the scheme must be https");
  }
  if (view.host_type() == boost::urls::host_type::none || view.encoded_host().empty()) {
    return std::string("the URL has no host");
  }

  // RFC 3986 requires a path after an authority to be empty or start with "/". Boost.URL 1.81
  // does not enforce it and parses "http://127.0.0.1.example/" as host 127.0.0.1 with path
  // ".example/", which would send the request to a different host than the URL names.
  if (!view.encoded_path().empty() && !view.encoded_path().starts_with('/')) {
    return std::string("the host is not a valid name or address");
  }

  target.host = view.host_address();
  target.port = view.has_port() ? std::string(view.port()) : (target.https ? "443" : "80");
  target.host_header = view.encoded_host_and_port();
  target.path = view.encoded_target().empty() ? "/" : std::string(view.encoded_target());
  if (!target.https && !IsLoopbackHost(target.host)) {
    return std::string("plain http is allowed only for localhost, 127.0.0.0/8 and ::1; use https");
  }
  return target;
}

ssl::context MakeTlsContext(const std::string& ca_file) {
  ssl::context context(ssl::context::tls_client);
  boost::system::error_code ec;
  context.set_default_verify_paths(ec);
  if (ec) throw JwksFetchError("loading the system CA store failed: " + ec.message());
  if (!ca_file.empty()) {
    context.load_verify_file(ca_file, ec);
    if (ec) throw JwksFetchError("loading CA file \"" + ca_file + "\" failed: " + ec.message());
  }
  context.set_verify_mode(ssl::verify_peer);
  SSL_CTX_set_min_proto_version(context.native_handle(), TLS1_2_VERSION);
  return context;
}

// Sets SNI (names only; RFC 6066 forbids addresses) and the certificate host name check.
void PrepareTls(beast::ssl_stream<beast::tcp_stream>& stream, const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  if (ec && !SSL_set_tlsext_host_name(stream.native_handle(), host.c_str())) {
    throw JwksFetchError("setting the TLS server name failed");
  }
  stream.set_verify_callback(ssl::host_name_verification(host));
}

// Resolved addresses that may be used: all for https, loopback only for plain http, so that a
// name such as localhost cannot be pointed elsewhere.
std::vector<tcp::endpoint> UsableEndpoints(const tcp::resolver::results_type& results, bool https) {
  std::vector<tcp::endpoint> endpoints;
  for (const auto& entry : results) {
    if (https || entry.endpoint().address().is_loopback()) endpoints.push_back(entry.endpoint());
  }
  if (endpoints.empty()) throw JwksFetchError("the host resolved to no usable address");
  return endpoints;
}

template <class Stream>
asio::awaitable<std::string> Exchange(Stream& stream, const Target& target,
                                      std::size_t max_body_bytes) {
  http::request<http::empty_body> request(http::verb::get, target.path, 11);
  request.set(http::field::host, target.host_header);
  request.set(http::field::user_agent, "prism-jwks-fetcher");
  request.set(http::field::accept, "application/json");
  request.set(http::field::connection, "close");
  co_await http::async_write(stream, request, asio::use_awaitable);

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.header_limit(kMaxHeaderBytes);
  parser.body_limit(max_body_bytes);
  co_await http::async_read(stream, buffer, parser, asio::use_awaitable);

  unsigned status = parser.get().result_int();
  if (status != 200) throw JwksFetchError("the server returned status " + std::to_string(status));
  co_return std::move(parser.get().body());
}

asio::awaitable<std::string> DoFetch(Target target, ssl::context* tls, std::size_t max_body_bytes,
                                     SteadyTime deadline) {
  auto executor = co_await asio::this_coro::executor;
  tcp::resolver resolver(executor);
  auto results = co_await resolver.async_resolve(target.host, target.port, asio::use_awaitable);
  std::vector<tcp::endpoint> endpoints = UsableEndpoints(results, target.https);

  beast::tcp_stream tcp_stream(executor);
  tcp_stream.expires_at(deadline);
  co_await tcp_stream.async_connect(endpoints, asio::use_awaitable);
  if (!tls) co_return co_await Exchange(tcp_stream, target, max_body_bytes);

  beast::ssl_stream<beast::tcp_stream> tls_stream(std::move(tcp_stream), *tls);
  PrepareTls(tls_stream, target.host);
  co_await tls_stream.async_handshake(ssl::stream_base::client, asio::use_awaitable);
  co_return co_await Exchange(tls_stream, target, max_body_bytes);
}

}  // namespace

std::optional<std::string> CheckJwksUrl(std::string_view url) {
  auto target = ParseTarget(url);
  if (auto* error = std::get_if<std::string>(&target)) return std::move(*error);
  return std::nullopt;
}

std::string FetchJwks(std::string_view url, const JwksFetchOptions& options) {
  std::string prefix = "JWKS fetch from " + std::string(url) + " failed: ";
  auto parsed = ParseTarget(url);
  if (auto* error = std::get_if<std::string>(&parsed)) throw JwksFetchError(prefix + *error);
  Target& target = std::get<Target>(parsed);

  std::optional<ssl::context> tls;
  try {
    if (target.https) tls.emplace(MakeTlsContext(options.ca_file));
  } catch (const JwksFetchError& e) {
    throw JwksFetchError(prefix + e.what());
  }

  // The stream's expiry bounds connect, handshake and I/O; run_until also bounds name resolution.
  // The results outlive the io_context, whose destructor drops an unfinished coroutine.
  SteadyTime deadline = std::chrono::steady_clock::now() + options.timeout;
  bool done = false;
  std::exception_ptr failure;
  std::string body;
  asio::io_context io;
  asio::co_spawn(
      io, DoFetch(std::move(target), tls ? &*tls : nullptr, options.max_body_bytes, deadline),
      [&](std::exception_ptr error, std::string result) {
        done = true;
        failure = error;
        body = std::move(result);
      });
  io.run_until(deadline);

  if (!done) {
    throw JwksFetchError(prefix + "timed out after " + std::to_string(options.timeout.count()) +
                         " ms");
  }
  if (failure) {
    try {
      std::rethrow_exception(failure);
    } catch (const boost::system::system_error& e) {
      bool timed_out = e.code() == beast::error::timeout;
      throw JwksFetchError(
          prefix + (timed_out ? "timed out after " + std::to_string(options.timeout.count()) + " ms"
                              : e.code().message()));
    } catch (const std::exception& e) {
      throw JwksFetchError(prefix + e.what());
    }
  }
  return body;
}

}  // namespace prism::auth
