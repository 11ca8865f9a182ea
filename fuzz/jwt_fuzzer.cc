// Fuzzes bearer-token parsing and verification: DecodeJws and the verifiers of the three auth
// modes (test and local HS256, OIDC RS256/ES256 with a fixed JWKS), each behind the token cache.
//
// The first input byte picks the form of the rest:
// - even: the rest is a compact token, used as it is;
// - odd: the rest is "<header JSON>\n<payload JSON>", which the target encodes and signs with
//   the HS256 secret, so that the claim checks behind a valid signature are reached too.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

#include <boost/json/serialize.hpp>

#include "auth/jwk.h"
#include "auth/jwt.h"
#include "auth/verifier.h"

namespace {

namespace auth = prism::auth;

constexpr std::string_view kSecret = "fuzz-secret-0123456789abcdef0123";
constexpr int64_t kNow = 1'700'000'000;

[[noreturn]] void Fail(const char* what, std::string_view token) {
  std::fprintf(stderr, "jwt_fuzzer: %s: %.*s\n", what, static_cast<int>(token.size()),
               token.data());
  std::abort();
}

struct Verifiers {
  std::unique_ptr<auth::TokenVerifier> test;
  std::unique_ptr<auth::TokenVerifier> local;
  std::unique_ptr<auth::TokenVerifier> oidc;
  std::unique_ptr<auth::Hs256Key> key;
};

std::string FixedJwks() {
  auth::EvpPkeyPtr rsa = auth::GenerateRsaKey(2048);
  auth::EvpPkeyPtr ec = auth::GenerateP256Key();
  boost::json::array keys;
  keys.push_back(auth::PublicJwk(rsa.get(), "rsa-1"));
  keys.push_back(auth::PublicJwk(ec.get(), "ec-1"));
  return boost::json::serialize(boost::json::object{{"keys", std::move(keys)}});
}

Verifiers& GetVerifiers() {
  static Verifiers* verifiers = [] {
    auto* created = new Verifiers;
    auth::UnixClock now = [] { return kNow; };
    created->test = auth::WithCache(
        auth::MakeHs256Verifier(std::string(kSecret), auth::Hs256Options{.now = now}), 64, now);

    auth::Hs256Options local;
    local.issuer = auth::kLocalIssuer;
    local.audience = auth::kLocalAudience;
    local.require_exp = true;
    local.now = now;
    created->local = auth::WithCache(auth::MakeHs256Verifier(std::string(kSecret), local), 64, now);

    auth::OidcOptions oidc;
    oidc.issuer = "https://issuer.example/";
    oidc.audience = "prism-api";
    std::string jwks = FixedJwks();
    oidc.fetch = [jwks] { return jwks; };
    oidc.now = now;
    created->oidc = auth::WithCache(auth::MakeOidcVerifier(std::move(oidc)), 64, now);

    created->key = std::make_unique<auth::Hs256Key>(kSecret);
    return created;
  }();
  return *verifiers;
}

// Builds "<b64 header>.<b64 payload>.<b64 HS256 MAC>" from "<header>\n<payload>".
std::string SignedToken(std::string_view parts, const auth::Hs256Key& key) {
  size_t newline = parts.find('\n');
  std::string_view header = parts.substr(0, newline);
  std::string_view payload = newline == std::string_view::npos ? "" : parts.substr(newline + 1);
  std::string token = prism::Base64UrlEncode(header) + "." + prism::Base64UrlEncode(payload);
  unsigned char mac[32];
  if (!key.Mac(token, mac)) return token;
  token += ".";
  token += prism::Base64UrlEncode(std::string_view(reinterpret_cast<char*>(mac), sizeof mac));
  return token;
}

void CheckDecode(std::string_view token) {
  auto decoded = auth::DecodeJws(token);
  auto* jws = std::get_if<auth::DecodedJws>(&decoded);
  if (!jws) return;
  if (token.size() > auth::kMaxTokenBytes) Fail("decoded a token above the size limit", token);
  if (!token.starts_with(jws->signing_input)) Fail("signing input is not a token prefix", token);
}

void CheckVerify(auth::TokenVerifier& verifier, std::string_view token) {
  auto first = verifier.Verify(token);
  auto second = verifier.Verify(token);  // the second call may come from the cache
  if (first.index() != second.index()) Fail("cached verdict differs", token);
  if (auto* identity = std::get_if<auth::Identity>(&first)) {
    if (identity->user_id.empty()) Fail("accepted a token without sub", token);
    if (std::get<auth::Identity>(second).user_id != identity->user_id) {
      Fail("cached user id differs", token);
    }
  } else if (std::get<auth::VerifyError>(first).reason.empty()) {
    Fail("rejected without a reason", token);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  Verifiers& verifiers = GetVerifiers();
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);

  std::string token = (data[0] & 1) ? SignedToken(rest, *verifiers.key) : std::string(rest);
  CheckDecode(token);
  CheckVerify(*verifiers.test, token);
  CheckVerify(*verifiers.local, token);
  CheckVerify(*verifiers.oidc, token);
  return 0;
}
