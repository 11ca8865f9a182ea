#include <fstream>
#include <iterator>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

#include "auth/claims.h"
#include "auth/jwk.h"
#include "auth/jwks_fetcher.h"
#include "auth/jwt.h"
#include "auth/verifier.h"
#include "common/log.h"

namespace prism::auth {

namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

constexpr std::string_view kLogComponent = "auth";
// Maximum length of a kid copied into a log line, because the kid comes from an unauthenticated
// token.
constexpr std::size_t kMaxLoggedKidBytes = 64;
// Largest JWKS file read, in bytes; the same limit as a fetched JWKS.
constexpr std::size_t kMaxJwksFileBytes = 1024 * 1024;

VerifyError Reject(std::string_view reason) { return VerifyError{std::string(reason)}; }

bool IsKnownKid(const JwkSet& keys, std::string_view kid) {
  return !kid.empty() && keys.ContainsKid(kid);
}

std::string ReadJwksFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw std::runtime_error("opening JWKS file \"" + path + "\" failed");
  std::string document;
  document.resize(kMaxJwksFileBytes + 1);
  file.read(document.data(), static_cast<std::streamsize>(document.size()));
  if (file.bad()) throw std::runtime_error("reading JWKS file \"" + path + "\" failed");
  document.resize(static_cast<std::size_t>(file.gcount()));
  if (document.size() > kMaxJwksFileBytes) {
    throw std::runtime_error("JWKS file \"" + path + "\" is larger than 1 MiB");
  }
  return document;
}

std::string DefaultJwksUrl(std::string issuer) {
  while (!issuer.empty() && issuer.back() == '/') issuer.pop_back();
  return issuer + "/.well-known/jwks.json";
}

class OidcVerifier final : public TokenVerifier {
 public:
  OidcVerifier(OidcOptions options, JwksSource source, std::string source_name)
      : options_(std::move(options)),
        source_(std::move(source)),
        source_name_(std::move(source_name)),
        keys_(std::make_shared<const JwkSet>()) {}

  // Fetches the first key set. A failure leaves the set empty and does not start the rate limit,
  // so the first token that needs a key fetches again.
  void LoadAtStart() {
    std::lock_guard lock(refresh_mutex_);
    if (FetchAndInstall()) last_fetch_ = SteadyNow();
  }

  std::variant<Identity, VerifyError> Verify(std::string_view token) override {
    std::variant<DecodedJws, VerifyError> decoded = DecodeForVerify(token);
    if (auto* error = std::get_if<VerifyError>(&decoded)) return std::move(*error);
    const DecodedJws& jws = std::get<DecodedJws>(decoded);

    std::string_view alg = jws.header.at("alg").get_string();
    if (alg != "RS256" && alg != "ES256") return Reject(kReasonAlgorithm);
    const boost::json::value* kid_value = jws.header.if_contains("kid");
    std::string_view kid = kid_value ? std::string_view(kid_value->get_string()) : "";

    // A kid that is known but bound to the other algorithm needs no refetch.
    std::shared_ptr<const JwkSet> keys = CurrentKeys();
    const Jwk* jwk = keys->Find(kid, alg);
    if (!jwk && !IsKnownKid(*keys, kid)) {
      keys = RefreshAfterMiss(keys, kid);
      jwk = keys->Find(kid, alg);
    }
    if (!jwk) return Reject(IsKnownKid(*keys, kid) ? kReasonAlgorithm : kReasonUnknownKid);

    bool valid = alg == "RS256" ? VerifyRs256(jws.signing_input, jws.signature, jwk->key.get())
                                : VerifyEs256(jws.signing_input, jws.signature, jwk->key.get());
    if (!valid) return Reject(kReasonSignature);
    return CheckClaims(jws.payload, Rules());
  }

 private:
  ClaimRules Rules() const {
    ClaimRules rules;
    rules.issuer = options_.issuer;
    rules.audience = options_.audience;
    rules.require_exp = true;
    rules.leeway_seconds = options_.leeway.count();
    rules.now = UnixNow(options_.now);
    return rules;
  }

  SteadyTime SteadyNow() const {
    return options_.steady_now ? options_.steady_now() : std::chrono::steady_clock::now();
  }

  std::shared_ptr<const JwkSet> CurrentKeys() const {
    std::lock_guard lock(keys_mutex_);
    return keys_;
  }

  // Fetches the JWKS again after a token named a key missing from `seen`, unless another thread
  // replaced `seen` meanwhile or the last fetch is less than refresh_interval old. Returns the
  // key set to use.
  std::shared_ptr<const JwkSet> RefreshAfterMiss(const std::shared_ptr<const JwkSet>& seen,
                                                 std::string_view kid) {
    std::lock_guard lock(refresh_mutex_);
    std::shared_ptr<const JwkSet> current = CurrentKeys();
    if (current != seen) return current;

    SteadyTime now = SteadyNow();
    if (last_fetch_ && now - *last_fetch_ < options_.refresh_interval) return current;
    last_fetch_ = now;

    log::Info(kLogComponent, "fetching the JWKS for an unknown key id",
              {{"source", source_name_}, {"kid", kid.substr(0, kMaxLoggedKidBytes)}});
    FetchAndInstall();
    return CurrentKeys();
  }

  // Fetches and parses the JWKS and installs it when it parses. Logs every failure and every
  // skipped key. Returns whether a new set was installed. The caller holds refresh_mutex_.
  bool FetchAndInstall() {
    std::string document;
    try {
      document = source_();
    } catch (const std::exception& e) {
      log::Warn(kLogComponent, "JWKS fetch failed",
                {{"source", source_name_}, {"error", e.what()}});
      return false;
    }

    std::vector<std::string> skipped;
    std::shared_ptr<const JwkSet> keys;
    try {
      keys = std::make_shared<const JwkSet>(ParseJwks(document, &skipped));
    } catch (const std::invalid_argument& e) {
      log::Warn(kLogComponent, "JWKS rejected", {{"source", source_name_}, {"error", e.what()}});
      return false;
    }
    for (const std::string& reason : skipped) {
      log::Warn(kLogComponent, "JWK skipped", {{"source", source_name_}, {"key", reason}});
    }
    log::Info(kLogComponent, "JWKS loaded",
              {{"source", source_name_}, {"keys", keys->keys.size()}, {"skipped", skipped.size()}});

    std::lock_guard lock(keys_mutex_);
    keys_ = std::move(keys);
    return true;
  }

  const OidcOptions options_;
  const JwksSource source_;
  const std::string source_name_;  // URL or path, for log lines

  mutable std::mutex keys_mutex_;
  std::shared_ptr<const JwkSet> keys_;  // guarded by keys_mutex_; never null

  // Held for the whole of a fetch, so that threads missing a key wait for the fetch in progress
  // instead of starting their own.
  std::mutex refresh_mutex_;
  std::optional<SteadyTime> last_fetch_;  // guarded by refresh_mutex_
};

}  // namespace

std::unique_ptr<TokenVerifier> MakeOidcVerifier(OidcOptions options) {
  if (options.issuer.empty()) throw std::invalid_argument("OIDC verification needs an issuer");
  if (options.audience.empty()) throw std::invalid_argument("OIDC verification needs an audience");

  JwksSource source;
  std::string source_name;
  if (options.fetch) {
    source = options.fetch;
    source_name = options.jwks_url.empty() ? "injected JWKS source" : options.jwks_url;
  } else if (!options.jwks_file.empty()) {
    source = [path = options.jwks_file] { return ReadJwksFile(path); };
    source_name = options.jwks_file;
  } else {
    if (options.jwks_url.empty()) options.jwks_url = DefaultJwksUrl(options.issuer);
    if (std::optional<std::string> error = CheckJwksUrl(options.jwks_url)) {
      throw std::invalid_argument("JWKS URL \"" + options.jwks_url +
                                  "\" is not allowed: " + *error);
    }
    JwksFetchOptions fetch_options;
    fetch_options.ca_file = options.ca_file;
    fetch_options.timeout = options.fetch_timeout;
    source = [url = options.jwks_url, fetch_options] { return FetchJwks(url, fetch_options); };
    source_name = options.jwks_url;
  }

  auto verifier =
      std::make_unique<OidcVerifier>(std::move(options), std::move(source), std::move(source_name));
  verifier->LoadAtStart();
  return verifier;
}

}  // namespace prism::auth
