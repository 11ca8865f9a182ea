// Steps that every verifier shares: decoding, header rules and registered claim checks
// (RFC 7519 section 4.1).
#pragma once

#include <cstdint>
#include <string_view>
#include <variant>

#include <boost/json/object.hpp>

#include "auth/jwt.h"
#include "auth/verifier.h"

namespace prism::auth {

// Decodes `token`, mapping DecodeJws failures to kReasonTooLarge or kReasonMalformed and an empty
// token to kReasonMissingToken. Also rejects, as malformed, a header with "crit" (no extension is
// understood here, so RFC 7515 section 4.1.11 requires rejection), a non-string "alg" or "kid".
std::variant<DecodedJws, VerifyError> DecodeForVerify(std::string_view token);

struct ClaimRules {
  std::string_view issuer;    // empty: "iss" not checked
  std::string_view audience;  // empty: "aud" not checked
  bool require_exp = false;
  int64_t leeway_seconds = 0;
  int64_t now = 0;  // Unix seconds
};

// Checks the claims of a token whose signature is already verified. A present "exp", "nbf" or
// "iat" must be a number (kReasonMalformed otherwise); the token is expired once
// now - leeway >= exp, and not yet valid while nbf or iat > now + leeway. "sub" must be a
// non-empty string. Returns the identity on success.
std::variant<Identity, VerifyError> CheckClaims(const boost::json::object& payload,
                                                const ClaimRules& rules);

// Returns clock() when set, otherwise the system clock, in Unix seconds.
int64_t UnixNow(const UnixClock& clock);

}  // namespace prism::auth
