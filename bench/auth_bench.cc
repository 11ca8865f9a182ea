// Cost of verifying one bearer token: HS256 (test and local modes), RS256 and ES256 (OIDC) and a
// cache hit in front of RS256. Run: prism_auth_bench [--benchmark_filter=...].
//
// Tokens carry claims shaped like an Auth0 access token (about 300 bytes of payload). The OIDC
// verifiers read their JWKS from an in-memory source, so no network is involved.
#include <chrono>
#include <ctime>
#include <memory>
#include <string>

#include <benchmark/benchmark.h>
#include <boost/json.hpp>

#include "auth/jwk.h"
#include "auth/jwt.h"
#include "auth/verifier.h"

namespace {

namespace auth = prism::auth;
namespace json = boost::json;

constexpr const char* kSecret = "benchmark-secret-of-32-bytes-abc";
constexpr const char* kIssuer = "https://tenant.eu.auth0.com/";
constexpr const char* kAudience = "https://prism.example/api";

json::object Claims() {
  int64_t now = std::time(nullptr);
  return {{"iss", kIssuer},
          {"sub", "auth0|64f1c2d3e4b5a69788990011"},
          {"aud", {kAudience, "https://tenant.eu.auth0.com/userinfo"}},
          {"iat", now},
          {"exp", now + 3600},
          {"azp", "k3J9sVd0aQeXo1L2m3N4b5V6c7X8z9A0"},
          {"scope", "openid profile email"}};
}

// Keys and verifiers shared by every benchmark; RSA key generation takes tens of milliseconds.
struct Fixture {
  Fixture()
      : rsa(auth::GenerateRsaKey(2048)),
        ec(auth::GenerateP256Key()),
        hs256_token(auth::SignHs256(Claims(), kSecret)),
        rs256_token(auth::SignRs256(Claims(), rsa.get(), "rsa-1")),
        es256_token(auth::SignEs256(Claims(), ec.get(), "ec-1")) {
    hs256 = auth::MakeHs256Verifier(kSecret, auth::Hs256Options{});

    std::string jwks = json::serialize(json::object{
        {"keys", {auth::PublicJwk(rsa.get(), "rsa-1"), auth::PublicJwk(ec.get(), "ec-1")}}});
    auth::OidcOptions options;
    options.issuer = kIssuer;
    options.audience = kAudience;
    options.fetch = [jwks] { return jwks; };
    oidc = auth::MakeOidcVerifier(options);
    cached_oidc = auth::WithCache(auth::MakeOidcVerifier(options), auth::kDefaultCacheEntries);
  }

  auth::EvpPkeyPtr rsa;
  auth::EvpPkeyPtr ec;
  std::string hs256_token;
  std::string rs256_token;
  std::string es256_token;
  std::unique_ptr<auth::TokenVerifier> hs256;
  std::unique_ptr<auth::TokenVerifier> oidc;
  std::unique_ptr<auth::TokenVerifier> cached_oidc;
};

Fixture& Shared() {
  static Fixture fixture;
  return fixture;
}

void RunVerify(benchmark::State& state, auth::TokenVerifier& verifier, const std::string& token) {
  for (auto _ : state) {
    auto result = verifier.Verify(token);
    if (!std::holds_alternative<auth::Identity>(result)) {
      state.SkipWithError(std::get<auth::VerifyError>(result).reason.c_str());
      break;
    }
    benchmark::DoNotOptimize(result);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_DecodeJws(benchmark::State& state) {
  const std::string& token = Shared().rs256_token;
  for (auto _ : state) benchmark::DoNotOptimize(auth::DecodeJws(token));
  state.SetItemsProcessed(state.iterations());
}

void BM_VerifyHs256(benchmark::State& state) {
  RunVerify(state, *Shared().hs256, Shared().hs256_token);
}

void BM_VerifyRs256(benchmark::State& state) {
  RunVerify(state, *Shared().oidc, Shared().rs256_token);
}

void BM_VerifyEs256(benchmark::State& state) {
  RunVerify(state, *Shared().oidc, Shared().es256_token);
}

void BM_VerifyCachedRs256(benchmark::State& state) {
  RunVerify(state, *Shared().cached_oidc, Shared().rs256_token);
}

BENCHMARK(BM_DecodeJws);
BENCHMARK(BM_VerifyHs256)->Threads(1)->Threads(2);
BENCHMARK(BM_VerifyRs256)->Threads(1)->Threads(2);
BENCHMARK(BM_VerifyEs256);
BENCHMARK(BM_VerifyCachedRs256)->Threads(1)->Threads(2);

}  // namespace

BENCHMARK_MAIN();
