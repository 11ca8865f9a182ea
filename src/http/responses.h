// Helpers for building responses, shared by the server and handlers.
#pragma once

#include <string>
#include <string_view>

#include <boost/beast/http/status.hpp>

#include "http/server.h"

namespace prism::http {

// Bodies smaller than this are sent uncompressed: gzip's header and trailer would eat the gain.
inline constexpr size_t kMinGzipBytes = 1024;

// A response with `body` and Content-Type `content_type`, HTTP/1.1.
Response MakeResponse(boost::beast::http::status status, std::string body,
                      std::string_view content_type = "application/json");

// A `{"error": message}` response; `message` is JSON-escaped.
Response MakeErrorResponse(boost::beast::http::status status, std::string_view message);

// Whether the request's Accept-Encoding allows gzip (a `gzip` or `*` coding without q=0).
bool AcceptsGzip(const Request& request);

// Whether a body of this Content-Type (parameters ignored) is worth compressing: text, JSON,
// JavaScript, XML and SVG.
bool IsCompressibleType(std::string_view content_type);

// Replaces the body with bytes that are already gzip-compressed and marks them with
// `Content-Encoding: gzip` and `Vary: Accept-Encoding`, so the server sends them as they are.
// Call it only when AcceptsGzip(request) is true; handlers use it to serve cached gzip bytes of
// hot responses without compressing per request.
void SetPrecompressedGzip(Response& response, std::string gzip_body);

// Adds `token` to the response's Vary header unless it is already listed.
void AddVary(Response& response, std::string_view token);

}  // namespace prism::http
