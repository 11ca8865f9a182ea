// Bearer token verification: which tokens are accepted, and the user id they carry.
//
// Three modes, chosen by the configuration:
// - test: HS256 tokens signed with TEST_JWT_SECRET; only "sub" is required.
// - local: HS256 tokens that this deployment issued itself, with kLocalIssuer and kLocalAudience.
// - OIDC: RS256 or ES256 tokens signed by a key of the issuer's JWKS.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "common/config.h"

namespace prism::auth {

// The authenticated caller.
struct Identity {
  std::string user_id;     // the "sub" claim
  int64_t expires_at = 0;  // the "exp" claim in Unix seconds; 0 when the token has none
};

// A rejected token. `reason` is one of the kReason* constants below: short, free of token
// content, and safe to send in a 401 body.
struct VerifyError {
  std::string reason;
};

inline constexpr std::string_view kReasonMissingToken = "missing token";
inline constexpr std::string_view kReasonMalformed = "malformed token";
inline constexpr std::string_view kReasonTooLarge = "token too large";
inline constexpr std::string_view kReasonAlgorithm = "algorithm not allowed";
inline constexpr std::string_view kReasonUnknownKid = "unknown key id";
inline constexpr std::string_view kReasonSignature = "invalid signature";
inline constexpr std::string_view kReasonExpired = "token expired";
inline constexpr std::string_view kReasonNotYetValid = "token not yet valid";
inline constexpr std::string_view kReasonIssuer = "wrong issuer";
inline constexpr std::string_view kReasonAudience = "wrong audience";
inline constexpr std::string_view kReasonMissingSub = "missing sub";
inline constexpr std::string_view kReasonMissingExp = "missing exp";

class TokenVerifier {
 public:
  virtual ~TokenVerifier() = default;

  // Checks a compact JWS (without the "Bearer " prefix) and returns the caller's identity, or
  // the reason it is rejected. Thread-safe. Never throws for bad tokens.
  //
  // Claim checks common to every mode: a present "exp", "nbf" or "iat" must be a number, the
  // token is expired once now - leeway >= exp, and not yet valid while nbf or iat is later than
  // now + leeway. "sub" must be a non-empty string. A header with "crit" is rejected.
  virtual std::variant<Identity, VerifyError> Verify(std::string_view token) = 0;
};

// Current time in Unix seconds. Injectable for tests; an empty function means the system clock.
using UnixClock = std::function<int64_t()>;
// Monotonic time for rate limits. Injectable for tests; empty means std::chrono::steady_clock.
using SteadyClock = std::function<std::chrono::steady_clock::time_point()>;
// Returns a JWKS document, or throws std::exception with a message naming the source.
using JwksSource = std::function<std::string()>;

// "iss" and "aud" of the tokens that local accounts mode issues and accepts.
inline constexpr std::string_view kLocalIssuer = "prism";
inline constexpr std::string_view kLocalAudience = "prism-api";

struct Hs256Options {
  std::string issuer;    // when not empty, "iss" must equal it
  std::string audience;  // when not empty, "aud" (string or array) must contain it
  bool require_exp = false;
  std::chrono::seconds leeway{60};
  UnixClock now;
};

// Accepts HS256 tokens signed with `secret`, and only those: every other "alg" is rejected.
// Throws std::invalid_argument when `secret` is empty.
std::unique_ptr<TokenVerifier> MakeHs256Verifier(std::string secret, Hs256Options options);

struct OidcOptions {
  std::string issuer;    // "iss" must equal it; required
  std::string audience;  // "aud" must contain it; required
  // Sources of the JWKS, in order of precedence: `fetch` when set, then `jwks_file`, then
  // `jwks_url`. An empty `jwks_url` defaults to the issuer without its trailing slash plus
  // "/.well-known/jwks.json".
  // NOTE: that default is where Auth0 serves its JWKS. OpenID Connect Discovery (the jwks_uri
  // of "/.well-known/openid-configuration") is not read, so other providers need jwks_url.
  std::string jwks_url;
  std::string jwks_file;
  JwksSource fetch;
  // PEM file of CAs trusted for `jwks_url` in addition to the system store.
  std::string ca_file;
  std::chrono::seconds leeway{60};
  // Minimum time between two JWKS fetches, whatever their outcome.
  std::chrono::seconds refresh_interval{60};
  std::chrono::milliseconds fetch_timeout{5000};
  UnixClock now;
  SteadyClock steady_now;
};

// Accepts RS256 and ES256 tokens signed by a key of the JWKS, with "iss" equal to the issuer, "aud"
// containing the audience and "exp" present. Any other "alg" (HS256 included, so a public key can
// never serve as an HMAC secret) is rejected, and so is a JWK whose "use" is not "sig".
//
// Fetches the JWKS before returning; a failure is logged and the fetch is retried on the first
// token that needs a key. A token whose "kid" is not in the current set triggers one refetch, at
// most once per `refresh_interval` across all threads. Threads that arrive during a fetch wait for
// it instead of fetching again, so Verify can block for up to `fetch_timeout`, but only for a
// token whose key is missing from the current set. Throws std::invalid_argument when the issuer or
// audience is empty or the JWKS URL is not allowed (see CheckJwksUrl).
std::unique_ptr<TokenVerifier> MakeOidcVerifier(OidcOptions options);

// Wraps `inner` with a cache from token bytes to the identity it returned, so that a token seen
// again skips the signature check. Only accepted tokens are cached. An entry lasts until the
// token's "exp" (the inner verifier's leeway is not extended), or kNoExpiryCacheSeconds for a
// token without "exp". At most `max_entries` tokens are kept in 16 shards with one mutex each;
// a full shard first drops its expired entries, then an arbitrary one. `max_entries` 0 returns
// `inner` unchanged. Thread-safe when `inner` is.
inline constexpr int64_t kNoExpiryCacheSeconds = 300;
std::unique_ptr<TokenVerifier> WithCache(std::unique_ptr<TokenVerifier> inner,
                                         std::size_t max_entries, UnixClock now = {});

enum class AuthMode { kLocal, kTest, kOidc };

// Returns the mode that the configuration selects: AUTH_MODE when set, otherwise test when
// AUTH0_TEST_MODE is on, OIDC when AUTH0_DOMAIN or AUTH_ISSUER is set, and local otherwise.
// Throws ConfigError for an unknown AUTH_MODE.
AuthMode ResolveAuthMode(const prism::Config& config);

// Entries of the cache that MakeVerifierFromConfig puts in front of every verifier.
inline constexpr std::size_t kDefaultCacheEntries = 10'000;

// Builds the verifier of ResolveAuthMode(config), wrapped in WithCache(kDefaultCacheEntries).
// - test: HS256 with config.test_jwt_secret.
// - local: HS256 with `local_secret`, kLocalIssuer, kLocalAudience and "exp" required.
// - OIDC: issuer and audience from AUTH_ISSUER and AUTH_AUDIENCE when AUTH_ISSUER is set,
//   otherwise "https://<AUTH0_DOMAIN>/" and AUTH0_AUDIENCE; the JWKS from AUTH_JWKS_FILE, else
//   AUTH_JWKS_URL, else "https://<AUTH0_DOMAIN>/.well-known/jwks.json" (or the issuer's).
// Throws ConfigError when the mode lacks its secret, issuer, audience or `local_secret`, or when
// the JWKS URL is not allowed. For OIDC it fetches the JWKS first (see MakeOidcVerifier).
std::unique_ptr<TokenVerifier> MakeVerifierFromConfig(const prism::Config& config,
                                                      std::optional<std::string> local_secret);

}  // namespace prism::auth
