#include <stdexcept>
#include <utility>

#include "auth/verifier.h"

namespace prism::auth {

namespace {

std::unique_ptr<TokenVerifier> MakeTestVerifier(const Config& config) {
  if (config.test_jwt_secret.empty()) {
    throw ConfigError(
        "invalid TEST_JWT_SECRET=\"\": expected a secret when AUTH0_TEST_MODE=1 or AUTH_MODE=test");
  }
  return MakeHs256Verifier(config.test_jwt_secret, Hs256Options{});
}

std::unique_ptr<TokenVerifier> MakeLocalVerifier(std::optional<std::string> local_secret) {
  if (!local_secret || local_secret->empty()) {
    throw ConfigError("local accounts mode needs the token signing key from the data directory");
  }
  Hs256Options options;
  options.issuer = kLocalIssuer;
  options.audience = kLocalAudience;
  options.require_exp = true;
  return MakeHs256Verifier(std::move(*local_secret), std::move(options));
}

OidcOptions OidcOptionsFromConfig(const Config& config) {
  OidcOptions options;
  if (!config.auth_issuer.empty()) {
    options.issuer = config.auth_issuer;
    options.audience = config.auth_audience;
  } else if (!config.auth0_domain.empty()) {
    options.issuer = "https://" + config.auth0_domain + "/";
    options.audience = config.auth0_audience;
    options.jwks_url = "https://" + config.auth0_domain + "/.well-known/jwks.json";
  }
  if (options.issuer.empty() || options.audience.empty()) {
    throw ConfigError(
        "invalid AUTH_MODE=\"oidc\": expected AUTH0_DOMAIN and AUTH0_AUDIENCE, or AUTH_ISSUER and "
        "AUTH_AUDIENCE");
  }
  if (!config.auth_jwks_url.empty()) options.jwks_url = config.auth_jwks_url;
  options.jwks_file = config.auth_jwks_file;
  options.ca_file = config.auth_jwks_ca_file;
  return options;
}

std::unique_ptr<TokenVerifier> MakeOidcVerifierFromConfig(const Config& config) {
  // Names the setting that the JWKS URL came from, for the error message.
  auto [name, value] =
      !config.auth_jwks_url.empty() ? std::pair{"AUTH_JWKS_URL", config.auth_jwks_url}
      : !config.auth_issuer.empty() ? std::pair{"AUTH_ISSUER", config.auth_issuer}
                                    : std::pair{"AUTH0_DOMAIN", config.auth0_domain};
  try {
    return MakeOidcVerifier(OidcOptionsFromConfig(config));
  } catch (const std::invalid_argument& e) {
    throw ConfigError(std::string("invalid ") + name + "=\"" + value + "\": " + e.what());
  }
}

}  // namespace

AuthMode ResolveAuthMode(const Config& config) {
  if (config.auth_mode == "local") return AuthMode::kLocal;
  if (config.auth_mode == "test") return AuthMode::kTest;
  if (config.auth_mode == "oidc") return AuthMode::kOidc;
  if (!config.auth_mode.empty()) {
    throw ConfigError("invalid AUTH_MODE=\"" + config.auth_mode +
                      "\": expected one of local, test, oidc");
  }
  if (config.auth0_test_mode) return AuthMode::kTest;
  if (!config.auth0_domain.empty() || !config.auth_issuer.empty()) return AuthMode::kOidc;
  return AuthMode::kLocal;
}

std::unique_ptr<TokenVerifier> MakeVerifierFromConfig(const Config& config,
                                                      std::optional<std::string> local_secret) {
  std::unique_ptr<TokenVerifier> verifier;
  switch (ResolveAuthMode(config)) {
    case AuthMode::kTest:
      verifier = MakeTestVerifier(config);
      break;
    case AuthMode::kLocal:
      verifier = MakeLocalVerifier(std::move(local_secret));
      break;
    case AuthMode::kOidc:
      verifier = MakeOidcVerifierFromConfig(config);
      break;
  }
  return WithCache(std::move(verifier), kDefaultCacheEntries);
}

}  // namespace prism::auth
