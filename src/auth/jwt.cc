#include "auth/jwt.h"

#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/params.h>
#include <openssl/rsa.h>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_stack.hpp>

namespace prism::auth {

namespace json = boost::json;

namespace {

constexpr std::size_t kHs256Bytes = 32;
constexpr std::size_t kP256CoordinateBytes = 32;
constexpr std::size_t kEs256SignatureBytes = 2 * kP256CoordinateBytes;

// A basic_parser handler that builds the document on a value_stack, as boost::json::parser does,
// and counts the members of the top-level object as written. The built object merges repeated
// keys, so a smaller object than that count reveals a repeated key without a second pass.
class ObjectBuilder {
 public:
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();

  json::value_stack stack;
  std::size_t top_level_members = 0;

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) {
    ++depth_;
    return true;
  }
  bool on_object_end(std::size_t n, json::error_code&) {
    if (--depth_ == 0) top_level_members = n;
    stack.push_object(n);
    return true;
  }
  bool on_array_begin(json::error_code&) {
    ++depth_;
    return true;
  }
  bool on_array_end(std::size_t n, json::error_code&) {
    --depth_;
    stack.push_array(n);
    return true;
  }
  bool on_key_part(json::string_view part, std::size_t, json::error_code&) {
    stack.push_chars(part);
    return true;
  }
  bool on_key(json::string_view part, std::size_t, json::error_code&) {
    stack.push_key(part);
    return true;
  }
  bool on_string_part(json::string_view part, std::size_t, json::error_code&) {
    stack.push_chars(part);
    return true;
  }
  bool on_string(json::string_view part, std::size_t, json::error_code&) {
    stack.push_string(part);
    return true;
  }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(int64_t value, json::string_view, json::error_code&) {
    stack.push_int64(value);
    return true;
  }
  bool on_uint64(uint64_t value, json::string_view, json::error_code&) {
    stack.push_uint64(value);
    return true;
  }
  bool on_double(double value, json::string_view, json::error_code&) {
    stack.push_double(value);
    return true;
  }
  bool on_bool(bool value, json::error_code&) {
    stack.push_bool(value);
    return true;
  }
  bool on_null(json::error_code&) {
    stack.push_null();
    return true;
  }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  int depth_ = 0;
};

// Parses `text` as one JSON object without repeated top-level keys.
std::optional<json::object> ParseObject(std::string_view text) {
  json::basic_parser<ObjectBuilder> parser(json::parse_options{});
  parser.handler().stack.reset();
  json::error_code ec;
  std::size_t consumed = parser.write_some(false, text.data(), text.size(), ec);
  if (ec || consumed != text.size()) return std::nullopt;

  json::value value = parser.handler().stack.release();
  if (!value.is_object()) return std::nullopt;
  if (value.get_object().size() != parser.handler().top_level_members) return std::nullopt;
  return std::move(value.get_object());
}

// Decodes one base64url part into a JSON object.
std::optional<json::object> DecodeObjectPart(std::string_view part) {
  std::optional<std::string> text = Base64UrlDecode(part);
  if (!text) return std::nullopt;
  return ParseObject(*text);
}

[[noreturn]] void ThrowOpenSslError(const char* what) {
  unsigned long code = ERR_get_error();
  std::array<char, 256> text{};
  ERR_error_string_n(code, text.data(), text.size());
  ERR_clear_error();
  throw std::runtime_error(std::string(what) + " failed: " + text.data());
}

// SHA-256, fetched once: an implicit fetch on every signature check costs a lock and a lookup.
const EVP_MD* Sha256() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

struct EcdsaSigFree {
  void operator()(ECDSA_SIG* sig) const { ECDSA_SIG_free(sig); }
};
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, EcdsaSigFree>;

bool IsP256(EVP_PKEY* key) {
  if (!EVP_PKEY_is_a(key, "EC")) return false;
  std::array<char, 64> name{};
  std::size_t length = 0;
  if (!EVP_PKEY_get_group_name(key, name.data(), name.size(), &length)) return false;
  return OBJ_txt2nid(name.data()) == NID_X9_62_prime256v1;
}

std::string SigningInput(std::string_view alg, const json::object& claims, std::string_view kid) {
  json::object header{{"alg", alg}, {"typ", "JWT"}};
  if (!kid.empty()) header["kid"] = kid;
  return Base64UrlEncode(json::serialize(header)) + "." + Base64UrlEncode(json::serialize(claims));
}

EVP_MAC* HmacAlgorithm() {
  static EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  return mac;
}

std::string HmacSha256(std::string_view data, std::string_view secret) {
  unsigned char mac[kHs256Bytes];
  if (!Hs256Key(secret).Mac(data, mac)) ThrowOpenSslError("HMAC-SHA-256");
  return std::string(reinterpret_cast<const char*>(mac), kHs256Bytes);
}

// Signs with SHA-256 and `key`; RSA keys use PKCS #1 v1.5 padding, EC keys return DER.
std::string DigestSign(std::string_view data, EVP_PKEY* key) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pkey_ctx = nullptr;
  if (!ctx || EVP_DigestSignInit(ctx.get(), &pkey_ctx, Sha256(), nullptr, key) != 1) {
    ThrowOpenSslError("EVP_DigestSignInit");
  }
  if (EVP_PKEY_is_a(key, "RSA") && EVP_PKEY_CTX_set_rsa_padding(pkey_ctx, RSA_PKCS1_PADDING) != 1) {
    ThrowOpenSslError("EVP_PKEY_CTX_set_rsa_padding");
  }
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  std::size_t length = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &length, bytes, data.size()) != 1) {
    ThrowOpenSslError("EVP_DigestSign");
  }
  std::string signature(length, '\0');
  auto* out = reinterpret_cast<unsigned char*>(signature.data());
  if (EVP_DigestSign(ctx.get(), out, &length, bytes, data.size()) != 1) {
    ThrowOpenSslError("EVP_DigestSign");
  }
  signature.resize(length);
  return signature;
}

bool DigestVerify(std::string_view data, std::string_view signature, EVP_PKEY* key) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pkey_ctx = nullptr;
  bool ok = ctx && EVP_DigestVerifyInit(ctx.get(), &pkey_ctx, Sha256(), nullptr, key) == 1;
  if (ok && EVP_PKEY_is_a(key, "RSA")) {
    ok = EVP_PKEY_CTX_set_rsa_padding(pkey_ctx, RSA_PKCS1_PADDING) == 1;
  }
  ok = ok && EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                              signature.size(), reinterpret_cast<const unsigned char*>(data.data()),
                              data.size()) == 1;
  // A failed check leaves errors on this thread's queue; they carry nothing the caller needs.
  if (!ok) ERR_clear_error();
  return ok;
}

// Converts an ECDSA signature from DER to JOSE's fixed-width r || s.
std::string DerToJose(std::string_view der) {
  const auto* cursor = reinterpret_cast<const unsigned char*>(der.data());
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &cursor, static_cast<long>(der.size())));
  if (!sig) ThrowOpenSslError("d2i_ECDSA_SIG");

  std::string jose(kEs256SignatureBytes, '\0');
  auto* out = reinterpret_cast<unsigned char*>(jose.data());
  if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), out, kP256CoordinateBytes) < 0 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), out + kP256CoordinateBytes, kP256CoordinateBytes) <
          0) {
    ThrowOpenSslError("BN_bn2binpad");
  }
  return jose;
}

// Converts JOSE's r || s (64 bytes) to DER for OpenSSL. Returns nullopt on a wrong length.
std::optional<std::string> JoseToDer(std::string_view jose) {
  if (jose.size() != kEs256SignatureBytes) return std::nullopt;
  const auto* bytes = reinterpret_cast<const unsigned char*>(jose.data());
  BIGNUM* r = BN_bin2bn(bytes, kP256CoordinateBytes, nullptr);
  BIGNUM* s = BN_bin2bn(bytes + kP256CoordinateBytes, kP256CoordinateBytes, nullptr);
  EcdsaSigPtr sig(ECDSA_SIG_new());
  if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return std::nullopt;
  }
  // ECDSA_SIG_set0 took ownership of r and s.
  int length = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (length <= 0) return std::nullopt;
  std::string der(static_cast<std::size_t>(length), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_ECDSA_SIG(sig.get(), &out) != length) return std::nullopt;
  return der;
}

}  // namespace

std::variant<DecodedJws, DecodeError> DecodeJws(std::string_view token) {
  if (token.size() > kMaxTokenBytes) return DecodeError::kTooLarge;

  std::size_t first_dot = token.find('.');
  if (first_dot == std::string_view::npos) return DecodeError::kMalformed;
  std::size_t second_dot = token.find('.', first_dot + 1);
  if (second_dot == std::string_view::npos) return DecodeError::kMalformed;
  if (token.find('.', second_dot + 1) != std::string_view::npos) return DecodeError::kMalformed;

  std::optional<json::object> header = DecodeObjectPart(token.substr(0, first_dot));
  if (!header) return DecodeError::kMalformed;
  std::optional<json::object> payload =
      DecodeObjectPart(token.substr(first_dot + 1, second_dot - first_dot - 1));
  if (!payload) return DecodeError::kMalformed;
  std::optional<std::string> signature = Base64UrlDecode(token.substr(second_dot + 1));
  if (!signature) return DecodeError::kMalformed;

  return DecodedJws{std::move(*header), std::move(*payload), token.substr(0, second_dot),
                    std::move(*signature)};
}

std::string SignHs256(const json::object& claims, std::string_view secret, std::string_view kid) {
  std::string input = SigningInput("HS256", claims, kid);
  return input + "." + Base64UrlEncode(HmacSha256(input, secret));
}

std::string SignRs256(const json::object& claims, EVP_PKEY* key, std::string_view kid) {
  if (!key || !EVP_PKEY_is_a(key, "RSA")) {
    throw std::invalid_argument("RS256 signing needs an RSA private key");
  }
  std::string input = SigningInput("RS256", claims, kid);
  return input + "." + Base64UrlEncode(DigestSign(input, key));
}

std::string SignEs256(const json::object& claims, EVP_PKEY* key, std::string_view kid) {
  if (!key || !IsP256(key)) throw std::invalid_argument("ES256 signing needs a P-256 private key");
  std::string input = SigningInput("ES256", claims, kid);
  return input + "." + Base64UrlEncode(DerToJose(DigestSign(input, key)));
}

Hs256Key::Hs256Key(std::string_view secret) : keyed_(EVP_MAC_CTX_new(HmacAlgorithm())) {
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  if (!keyed_ || EVP_MAC_init(keyed_, reinterpret_cast<const unsigned char*>(secret.data()),
                              secret.size(), params) != 1) {
    EVP_MAC_CTX_free(keyed_);
    ThrowOpenSslError("EVP_MAC_init");
  }
}

Hs256Key::~Hs256Key() { EVP_MAC_CTX_free(keyed_); }

bool Hs256Key::Mac(std::string_view data, unsigned char (&out)[32]) const {
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_dup(keyed_);
  std::size_t length = 0;
  bool ok = ctx &&
            EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(data.data()), data.size()) &&
            EVP_MAC_final(ctx, out, &length, sizeof out) && length == sizeof out;
  EVP_MAC_CTX_free(ctx);
  if (!ok) ERR_clear_error();
  return ok;
}

bool VerifyHs256(std::string_view signing_input, std::string_view signature, const Hs256Key& key) {
  unsigned char expected[kHs256Bytes];
  if (signature.size() != kHs256Bytes || !key.Mac(signing_input, expected)) return false;
  return CRYPTO_memcmp(expected, signature.data(), kHs256Bytes) == 0;
}

bool VerifyHs256(std::string_view signing_input, std::string_view signature,
                 std::string_view secret) {
  try {
    return VerifyHs256(signing_input, signature, Hs256Key(secret));
  } catch (const std::runtime_error&) {
    return false;
  }
}

bool VerifyRs256(std::string_view signing_input, std::string_view signature, EVP_PKEY* key) {
  if (!key || !EVP_PKEY_is_a(key, "RSA")) return false;
  return DigestVerify(signing_input, signature, key);
}

bool VerifyEs256(std::string_view signing_input, std::string_view signature, EVP_PKEY* key) {
  if (!key || !EVP_PKEY_is_a(key, "EC")) return false;
  std::optional<std::string> der = JoseToDer(signature);
  if (!der) return false;
  return DigestVerify(signing_input, *der, key);
}

EvpPkeyPtr GenerateRsaKey(unsigned bits) {
  EvpPkeyPtr key(EVP_RSA_gen(bits));
  if (!key) ThrowOpenSslError("EVP_RSA_gen");
  return key;
}

EvpPkeyPtr GenerateP256Key() {
  EvpPkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) ThrowOpenSslError("EVP_EC_gen");
  return key;
}

}  // namespace prism::auth
