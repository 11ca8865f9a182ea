// Compact JWS (RFC 7515) parsing, signing and signature checks for JWTs (RFC 7519).
//
// Written on OpenSSL 3 EVP rather than libjwt, because libjwt does not parse a JWKS and EVP
// already covers HS256, RS256 and ES256.
//
// Base64url (no padding, canonical only) comes from common/base64url.h, included here.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

#include <openssl/evp.h>
#include <boost/json/object.hpp>

#include "common/base64url.h"

namespace prism::auth {

// Largest token accepted, in bytes: 8 KiB.
inline constexpr std::size_t kMaxTokenBytes = 8 * 1024;

// Owning pointer to an OpenSSL key.
struct EvpPkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyFree>;

// The parts of a compact JWS.
struct DecodedJws {
  boost::json::object header;
  boost::json::object payload;
  std::string_view signing_input;  // "<header>.<payload>" as sent; points into the token
  std::string signature;           // decoded bytes; empty for an unsigned token
};

enum class DecodeError {
  kTooLarge,   // more than kMaxTokenBytes
  kMalformed,  // not three base64url parts of JSON objects
};

// Splits and decodes a compact JWS without checking its signature.
//
// Returns kTooLarge above kMaxTokenBytes. Returns kMalformed unless the token has exactly three
// dot-separated parts, each canonical unpadded base64url, and the first two decode to JSON
// objects with no repeated top-level key. Boost 1.81 alone would keep the last value of a
// repeated key, and another parser might keep the first, so a repeated "alg" or "sub" is
// rejected rather than read one way here and another way elsewhere.
// `signing_input` points into `token`, which must outlive the result. Never throws.
std::variant<DecodedJws, DecodeError> DecodeJws(std::string_view token);

// An HMAC-SHA-256 key prepared once: each MAC then starts from a copy of the keyed state instead
// of hashing the key again, which halves the cost of an HS256 check.
class Hs256Key {
 public:
  // Throws std::runtime_error when OpenSSL fails.
  explicit Hs256Key(std::string_view secret);
  ~Hs256Key();

  Hs256Key(const Hs256Key&) = delete;
  Hs256Key& operator=(const Hs256Key&) = delete;

  // Writes the 32-byte MAC of `data` to `out`. Returns false when OpenSSL fails (out of memory).
  // Thread-safe: the keyed state is only read.
  bool Mac(std::string_view data, unsigned char (&out)[32]) const;

 private:
  EVP_MAC_CTX* keyed_;  // initialised with the key; never modified after construction
};

// Signing. Each returns a compact token whose header is {"alg", "typ": "JWT"} plus "kid" when
// `kid` is not empty. RS256 and ES256 throw std::invalid_argument when `key` is not a private
// key of the right type (RSA; EC on P-256), and std::runtime_error when OpenSSL fails.
std::string SignHs256(const boost::json::object& claims, std::string_view secret,
                      std::string_view kid = {});
std::string SignRs256(const boost::json::object& claims, EVP_PKEY* key, std::string_view kid = {});
std::string SignEs256(const boost::json::object& claims, EVP_PKEY* key, std::string_view kid = {});

// Signature checks over `signing_input`. Each returns false for a wrong signature, a signature of
// the wrong length or a key of the wrong type, and never throws. The ES256 signature is the JOSE
// form: r and s as 32-byte big-endian integers, concatenated. The HS256 comparison takes constant
// time. Thread-safe, including with one `key` shared between threads.
bool VerifyHs256(std::string_view signing_input, std::string_view signature, const Hs256Key& key);
bool VerifyHs256(std::string_view signing_input, std::string_view signature,
                 std::string_view secret);
bool VerifyRs256(std::string_view signing_input, std::string_view signature, EVP_PKEY* key);
bool VerifyEs256(std::string_view signing_input, std::string_view signature, EVP_PKEY* key);

// Generates a key for tests, benchmarks and locally issued tokens. Throws std::runtime_error
// when OpenSSL fails.
EvpPkeyPtr GenerateRsaKey(unsigned bits = 2048);
EvpPkeyPtr GenerateP256Key();

}  // namespace prism::auth
