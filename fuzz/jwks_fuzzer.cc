// Fuzzes the JWKS document parser (ParseJwks and, through it, ParseJwk), which reads what an
// OIDC issuer serves. The only exception it may throw is std::invalid_argument.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "auth/jwk.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view document(reinterpret_cast<const char*>(data), size);
  try {
    std::vector<std::string> skipped;
    prism::auth::JwkSet set = prism::auth::ParseJwks(document, &skipped);
    for (const prism::auth::Jwk& jwk : set.keys) {
      if (!jwk.key) __builtin_trap();  // an accepted key must carry a public key
      set.Find(jwk.kid, jwk.alg);
    }
  } catch (const std::invalid_argument&) {
    // A document that is not JSON or has no "keys" array.
  }
  return 0;
}
