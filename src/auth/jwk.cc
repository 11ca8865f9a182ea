#include "auth/jwk.h"

#include <array>
#include <stdexcept>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <boost/json/parse.hpp>

#include "common/base64url.h"

namespace prism::auth {

namespace json = boost::json;

namespace {

constexpr std::size_t kP256CoordinateBytes = 32;
constexpr unsigned char kUncompressedPointTag = 0x04;

struct BignumFree {
  void operator()(BIGNUM* bn) const { BN_free(bn); }
};
using BignumPtr = std::unique_ptr<BIGNUM, BignumFree>;

struct ParamBldFree {
  void operator()(OSSL_PARAM_BLD* bld) const { OSSL_PARAM_BLD_free(bld); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* params) const { OSSL_PARAM_free(params); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* ctx) const { EVP_PKEY_CTX_free(ctx); }
};
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;

std::string_view StringMember(const json::object& object, std::string_view name) {
  const json::value* value = object.if_contains(name);
  if (!value || !value->is_string()) return {};
  return value->get_string();
}

// Returns the decoded bytes of a base64url member, or nullopt when absent or invalid.
std::optional<std::string> BytesMember(const json::object& object, std::string_view name) {
  std::string_view text = StringMember(object, name);
  if (text.empty()) return std::nullopt;
  return Base64UrlDecode(text);
}

BignumPtr ToBignum(std::string_view bytes) {
  return BignumPtr(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                             static_cast<int>(bytes.size()), nullptr));
}

// Builds a public key of `type` ("RSA" or "EC") from OSSL_PARAMs and checks it. Returns nullptr
// when OpenSSL rejects the parameters.
std::shared_ptr<EVP_PKEY> KeyFromParams(const char* type, OSSL_PARAM_BLD* builder) {
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(builder));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    ERR_clear_error();
    return nullptr;
  }
  std::shared_ptr<EVP_PKEY> key(raw, EVP_PKEY_free);

  PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    ERR_clear_error();
    return nullptr;
  }
  return key;
}

std::shared_ptr<EVP_PKEY> ParseRsaKey(const json::object& jwk, std::string* error) {
  std::optional<std::string> n = BytesMember(jwk, "n");
  std::optional<std::string> e = BytesMember(jwk, "e");
  if (!n || !e) {
    *error = "missing or invalid n or e";
    return nullptr;
  }
  BignumPtr modulus = ToBignum(*n);
  BignumPtr exponent = ToBignum(*e);
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> builder(OSSL_PARAM_BLD_new());
  if (!modulus || !exponent || !builder ||
      !OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_N, modulus.get()) ||
      !OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_E, exponent.get())) {
    *error = "out of memory";
    return nullptr;
  }
  std::shared_ptr<EVP_PKEY> key = KeyFromParams("RSA", builder.get());
  if (!key) {
    *error = "invalid RSA key";
    return nullptr;
  }
  if (EVP_PKEY_get_bits(key.get()) < kMinRsaBits) {
    *error = "RSA key shorter than 2048 bits";
    return nullptr;
  }
  return key;
}

std::shared_ptr<EVP_PKEY> ParseP256Key(const json::object& jwk, std::string* error) {
  if (StringMember(jwk, "crv") != "P-256") {
    *error = "unsupported curve";
    return nullptr;
  }
  std::optional<std::string> x = BytesMember(jwk, "x");
  std::optional<std::string> y = BytesMember(jwk, "y");
  if (!x || !y || x->size() != kP256CoordinateBytes || y->size() != kP256CoordinateBytes) {
    *error = "missing or invalid x or y";
    return nullptr;
  }
  std::string point(1, static_cast<char>(kUncompressedPointTag));
  point += *x;
  point += *y;

  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> builder(OSSL_PARAM_BLD_new());
  if (!builder ||
      !OSSL_PARAM_BLD_push_utf8_string(builder.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1",
                                       0) ||
      !OSSL_PARAM_BLD_push_octet_string(builder.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                        point.size())) {
    *error = "out of memory";
    return nullptr;
  }
  std::shared_ptr<EVP_PKEY> key = KeyFromParams("EC", builder.get());
  if (!key) *error = "invalid P-256 point";
  return key;
}

std::string EncodeBignumParam(EVP_PKEY* key, const char* name, int width) {
  BIGNUM* raw = nullptr;
  if (!EVP_PKEY_get_bn_param(key, name, &raw)) {
    ERR_clear_error();
    throw std::invalid_argument(std::string("key has no ") + name + " parameter");
  }
  BignumPtr value(raw);
  int size = width > 0 ? width : BN_num_bytes(value.get());
  std::string bytes(static_cast<std::size_t>(size), '\0');
  BN_bn2binpad(value.get(), reinterpret_cast<unsigned char*>(bytes.data()), size);
  return Base64UrlEncode(bytes);
}

}  // namespace

const Jwk* JwkSet::Find(std::string_view kid, std::string_view alg) const {
  const Jwk* only_match = nullptr;
  int alg_matches = 0;
  for (const Jwk& jwk : keys) {
    if (jwk.alg != alg) continue;
    if (!kid.empty() && jwk.kid == kid) return &jwk;
    only_match = &jwk;
    ++alg_matches;
  }
  return kid.empty() && alg_matches == 1 ? only_match : nullptr;
}

bool JwkSet::ContainsKid(std::string_view kid) const {
  for (const Jwk& jwk : keys) {
    if (jwk.kid == kid) return true;
  }
  return false;
}

std::optional<Jwk> ParseJwk(const json::object& jwk, std::string* error) {
  const json::value* use = jwk.if_contains("use");
  if (use && !(use->is_string() && use->get_string() == "sig")) {
    *error = "use is not sig";
    return std::nullopt;
  }

  std::string_view kty = StringMember(jwk, "kty");
  std::string_view alg = kty == "RSA" ? "RS256" : kty == "EC" ? "ES256" : "";
  if (alg.empty()) {
    *error = "unsupported kty";
    return std::nullopt;
  }
  const json::value* declared_alg = jwk.if_contains("alg");
  if (declared_alg && !(declared_alg->is_string() && declared_alg->get_string() == alg)) {
    *error = "unsupported alg";
    return std::nullopt;
  }

  std::shared_ptr<EVP_PKEY> key = kty == "RSA" ? ParseRsaKey(jwk, error) : ParseP256Key(jwk, error);
  if (!key) return std::nullopt;
  return Jwk{std::string(StringMember(jwk, "kid")), std::string(alg), std::move(key)};
}

JwkSet ParseJwks(std::string_view document, std::vector<std::string>* skipped) {
  json::error_code ec;
  json::value root = json::parse(document, ec);
  if (ec) throw std::invalid_argument("JWKS is not valid JSON: " + ec.message());
  const json::value* keys = root.is_object() ? root.get_object().if_contains("keys") : nullptr;
  if (!keys || !keys->is_array()) throw std::invalid_argument("JWKS has no \"keys\" array");

  JwkSet set;
  const json::array& entries = keys->get_array();
  for (std::size_t i = 0; i < entries.size(); ++i) {
    std::string error = "not an object";
    std::optional<Jwk> jwk;
    if (entries[i].is_object()) jwk = ParseJwk(entries[i].get_object(), &error);
    if (jwk) {
      set.keys.push_back(std::move(*jwk));
      continue;
    }
    if (skipped) {
      std::string kid(entries[i].is_object() ? StringMember(entries[i].get_object(), "kid") : "");
      skipped->push_back("key " + std::to_string(i) + " (kid \"" + kid + "\"): " + error);
    }
  }
  return set;
}

json::object PublicJwk(EVP_PKEY* key, std::string_view kid) {
  json::object jwk;
  if (key && EVP_PKEY_is_a(key, "RSA")) {
    jwk = {{"kty", "RSA"},
           {"use", "sig"},
           {"alg", "RS256"},
           {"n", EncodeBignumParam(key, OSSL_PKEY_PARAM_RSA_N, 0)},
           {"e", EncodeBignumParam(key, OSSL_PKEY_PARAM_RSA_E, 0)}};
  } else if (key && EVP_PKEY_is_a(key, "EC")) {
    std::array<char, 64> group{};
    std::size_t length = 0;
    if (!EVP_PKEY_get_group_name(key, group.data(), group.size(), &length) ||
        std::string_view(group.data(), length) != "prime256v1") {
      throw std::invalid_argument("only P-256 EC keys can be exported as a JWK");
    }
    int width = static_cast<int>(kP256CoordinateBytes);
    jwk = {{"kty", "EC"},
           {"use", "sig"},
           {"alg", "ES256"},
           {"crv", "P-256"},
           {"x", EncodeBignumParam(key, OSSL_PKEY_PARAM_EC_PUB_X, width)},
           {"y", EncodeBignumParam(key, OSSL_PKEY_PARAM_EC_PUB_Y, width)}};
  } else {
    throw std::invalid_argument("only RSA and P-256 EC keys can be exported as a JWK");
  }
  if (!kid.empty()) jwk["kid"] = kid;
  return jwk;
}

}  // namespace prism::auth
