// Building HTTP responses the way every API route answers: JSON bodies, `{"error": ...}` for
// failures, and the statuses that storage and authentication failures map to.
#pragma once

#include <string>
#include <string_view>

#include "http/server.h"

namespace prism::api {

// A response with a JSON body, keeping the request's HTTP version and keep-alive choice.
http::Response JsonResponse(const http::Request& request, unsigned status, std::string body);

// {"error": message}
http::Response ErrorResponse(const http::Request& request, unsigned status,
                             std::string_view message);

// 503 with Retry-After, for a dependency that cannot serve the request now.
http::Response UnavailableResponse(const http::Request& request, std::string_view message,
                                   int retry_after_seconds = 1);

// 401 with WWW-Authenticate, naming the short reason.
http::Response UnauthorizedResponse(const http::Request& request, std::string_view reason);

}  // namespace prism::api
