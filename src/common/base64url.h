// Base64url without padding (RFC 4648, section 5), as used in tokens and JWS.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace prism {

std::string Base64UrlEncode(std::string_view bytes);

// Returns nullopt for characters outside the alphabet, padding, or an impossible length.
std::optional<std::string> Base64UrlDecode(std::string_view text);

}  // namespace prism
