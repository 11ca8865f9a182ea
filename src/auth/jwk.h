// JSON Web Keys (RFC 7517, RFC 7518 section 6) for RS256 and ES256 signature checks.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/evp.h>
#include <boost/json/object.hpp>

namespace prism::auth {

// Smallest RSA modulus accepted from a JWKS, in bits (RFC 7518 section 3.3 requires 2048).
inline constexpr int kMinRsaBits = 2048;

// One public key of a JWKS.
struct Jwk {
  std::string kid;                // empty when the JWK has none
  std::string alg;                // "RS256" or "ES256": the only algorithm the key is used with
  std::shared_ptr<EVP_PKEY> key;  // public key only
};

// A parsed JWKS. Immutable once built, so one set can be read from many threads.
struct JwkSet {
  std::vector<Jwk> keys;

  // Returns the key whose kid is `kid` and whose algorithm is `alg`, or nullptr. An empty `kid`
  // matches only when the set has exactly one key for `alg`.
  const Jwk* Find(std::string_view kid, std::string_view alg) const;

  // Returns whether any key has this kid, whatever its algorithm.
  bool ContainsKid(std::string_view kid) const;
};

// Converts one JWK into a public key. Accepts kty "RSA" (n, e; at least kMinRsaBits) and kty
// "EC" with crv "P-256" (x, y of 32 bytes, a point on the curve). A key whose "use" is present and
// not "sig", or whose "alg" is present and not the one its type implies, is not accepted.
// Private members such as "d" are ignored. Returns nullopt and sets `error` to a short reason
// otherwise.
std::optional<Jwk> ParseJwk(const boost::json::object& jwk, std::string* error);

// Parses a JWKS document ({"keys": [...]}). Keys that ParseJwk does not accept are left out, and
// when `skipped` is not null one line per such key is appended to it, naming the key's index, kid
// and reason. Throws std::invalid_argument when the document is not JSON or has no "keys" array.
JwkSet ParseJwks(std::string_view document, std::vector<std::string>* skipped = nullptr);

// Exports the public half of an RSA or P-256 key as a JWK with "use": "sig", "alg" and, when not
// empty, "kid". Used by tests and to publish the keys of locally issued tokens. Throws
// std::invalid_argument for any other key type.
boost::json::object PublicJwk(EVP_PKEY* key, std::string_view kid);

}  // namespace prism::auth
