#include "api/responses.h"

#include <boost/json.hpp>

namespace prism::api {

namespace http_proto = boost::beast::http;

http::Response JsonResponse(const http::Request& request, unsigned status, std::string body) {
  http::Response response{static_cast<http_proto::status>(status), request.version()};
  response.set(http_proto::field::content_type, "application/json");
  response.set(http_proto::field::cache_control, "no-store");
  response.keep_alive(request.keep_alive());
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

http::Response ErrorResponse(const http::Request& request, unsigned status,
                             std::string_view message) {
  boost::json::object body;
  body["error"] = message;
  return JsonResponse(request, status, boost::json::serialize(body));
}

http::Response UnavailableResponse(const http::Request& request, std::string_view message,
                                   int retry_after_seconds) {
  http::Response response = ErrorResponse(request, 503, message);
  response.set(http_proto::field::retry_after, std::to_string(retry_after_seconds));
  return response;
}

http::Response UnauthorizedResponse(const http::Request& request, std::string_view reason) {
  http::Response response = ErrorResponse(request, 401, reason);
  response.set(http_proto::field::www_authenticate, "Bearer");
  return response;
}

}  // namespace prism::api
