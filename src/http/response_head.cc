#include "http/response_head.h"

#include <charconv>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/rfc7230.hpp>

namespace prism::http {
namespace {

namespace beast = boost::beast;
namespace beast_http = boost::beast::http;
using Field = beast_http::field;

void AppendNumber(std::string& out, uint64_t value) {
  char digits[24];
  auto result = std::to_chars(digits, digits + sizeof digits, value);
  out.append(digits, result.ptr);
}

void AppendField(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += ": ";
  out += value;
  out += "\r\n";
}

bool ListsToken(std::string_view list, std::string_view token) {
  for (std::string_view listed : beast_http::token_list(list)) {
    if (beast::iequals(listed, token)) return true;
  }
  return false;
}

// Writes one Vary field: the handler's values plus the tokens the server needs.
void AppendVary(std::string& out, const Response& response, bool origin, bool accept_encoding) {
  std::string_view separator;
  size_t start = out.size();
  out += "Vary: ";
  bool has_origin = false;
  bool has_accept_encoding = false;
  for (auto it = response.find(Field::vary); it != response.end() && it->name() == Field::vary;
       ++it) {
    out += separator;
    out += it->value();
    separator = ", ";
    has_origin = has_origin || ListsToken(it->value(), "Origin");
    has_accept_encoding = has_accept_encoding || ListsToken(it->value(), "Accept-Encoding");
  }
  if (origin && !has_origin) {
    out += separator;
    out += "Origin";
    separator = ", ";
  }
  if (accept_encoding && !has_accept_encoding) {
    out += separator;
    out += "Accept-Encoding";
    separator = ", ";
  }
  if (separator.empty()) {
    out.resize(start);  // nothing varies after all
  } else {
    out += "\r\n";
  }
}

}  // namespace

bool StatusHasNoBody(unsigned status) { return status < 200 || status == 204 || status == 304; }

void SerializeResponseHead(const Response& response, const ResponseFraming& framing,
                           std::string& out) {
  out += framing.version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  AppendNumber(out, response.result_int());
  out += ' ';
  out += response.reason();
  out += "\r\n";

  bool has_date = false;
  bool cors = !framing.allowed_origin.empty();
  for (const auto& field : response) {
    switch (field.name()) {
      case Field::content_length:
      case Field::transfer_encoding:
      case Field::connection:
      case Field::keep_alive:
      case Field::vary:
        continue;
      case Field::access_control_allow_origin:
        if (cors) continue;  // the server's decision wins
        break;
      case Field::date:
        has_date = true;
        break;
      default:
        break;
    }
    AppendField(out, field.name_string(), field.value());
  }

  if (cors) AppendField(out, "Access-Control-Allow-Origin", framing.allowed_origin);
  AppendVary(out, response, cors, framing.vary_accept_encoding);
  if (!has_date) AppendField(out, "Date", framing.date);
  if (!StatusHasNoBody(response.result_int())) {
    out += "Content-Length: ";
    AppendNumber(out, response.body().size());
    out += "\r\n";
  }
  if (framing.close && framing.version == 11) out += "Connection: close\r\n";
  if (!framing.close && framing.version == 10) out += "Connection: keep-alive\r\n";
  out += "\r\n";
}

}  // namespace prism::http
