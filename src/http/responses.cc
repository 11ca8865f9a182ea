#include "http/responses.h"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

namespace prism::http {
namespace {

namespace beast = boost::beast;
namespace beast_http = boost::beast::http;

bool IsZeroQuality(const beast_http::param_list& params) {
  for (const auto& [name, value] : params) {
    if (beast::iequals(name, "q")) {
      return value.find_first_not_of("0.") == std::string_view::npos;
    }
  }
  return false;
}

}  // namespace

Response MakeResponse(beast_http::status status, std::string body, std::string_view content_type) {
  Response response(status, 11);
  response.set(beast_http::field::content_type, content_type);
  response.body() = std::move(body);
  return response;
}

Response MakeErrorResponse(beast_http::status status, std::string_view message) {
  std::string body = "{\"error\":";
  body += boost::json::serialize(boost::json::string(message));
  body += '}';
  return MakeResponse(status, std::move(body));
}

bool AcceptsGzip(const Request& request) {
  auto header = request.find(beast_http::field::accept_encoding);
  if (header == request.end()) return false;
  for (const auto& [coding, params] : beast_http::ext_list(header->value())) {
    if (beast::iequals(coding, "gzip") || coding == "*") return !IsZeroQuality(params);
  }
  return false;
}

bool IsCompressibleType(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  if (type.starts_with("text/")) return true;
  return type == "application/json" || type == "application/javascript" ||
         type == "application/xml" || type == "application/manifest+json" ||
         type == "image/svg+xml" || type.ends_with("+json") || type.ends_with("+xml");
}

void SetPrecompressedGzip(Response& response, std::string gzip_body) {
  response.body() = std::move(gzip_body);
  response.set(beast_http::field::content_encoding, "gzip");
  AddVary(response, "Accept-Encoding");
}

void AddVary(Response& response, std::string_view token) {
  auto header = response.find(beast_http::field::vary);
  if (header == response.end()) {
    response.set(beast_http::field::vary, token);
    return;
  }
  for (std::string_view listed : beast_http::token_list(header->value())) {
    if (beast::iequals(listed, token)) return;
  }
  std::string value(header->value());
  value += ", ";
  value += token;
  response.set(beast_http::field::vary, value);
}

}  // namespace prism::http
