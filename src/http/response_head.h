// Serializes a response's status line and header fields (internal to prism_http).
//
// Beast's serializer walks nested buffer sequences for every write. On small responses that cost
// about a seventh of the server's CPU time (perf, 4.5 KB JSON bodies), so the head is written into
// one reused string instead and sent with the body in one gather write.
#pragma once

#include <string>
#include <string_view>

#include "http/server.h"

namespace prism::http {

// What the server adds to or decides about a response besides the handler's fields.
struct ResponseFraming {
  unsigned version = 11;            // 10 or 11, as the request
  bool close = false;               // the connection closes after this response
  std::string_view allowed_origin;  // non-empty: Access-Control-Allow-Origin and Vary: Origin
  bool vary_accept_encoding = false;
  std::string_view date;  // the Date value, unless the handler set one
};

// Whether a response with this status never has a body (1xx, 204, 304).
bool StatusHasNoBody(unsigned status);

// Appends the status line and header of `response`, ending with the empty line, to `out`.
// Content-Length always equals the body size (none for 1xx, 204 and 304), and Connection follows
// `framing.close`. The handler's own Content-Length, Transfer-Encoding, Connection and Keep-Alive
// fields are dropped, so a handler cannot break the framing. Vary values are merged into one
// field.
void SerializeResponseHead(const Response& response, const ResponseFraming& framing,
                           std::string& out);

}  // namespace prism::http
