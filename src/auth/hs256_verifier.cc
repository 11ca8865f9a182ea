#include <stdexcept>
#include <utility>

#include "auth/claims.h"
#include "auth/jwt.h"
#include "auth/verifier.h"

namespace prism::auth {

namespace {

class Hs256Verifier final : public TokenVerifier {
 public:
  Hs256Verifier(std::string secret, Hs256Options options)
      : key_(secret), options_(std::move(options)) {}

  std::variant<Identity, VerifyError> Verify(std::string_view token) override {
    std::variant<DecodedJws, VerifyError> decoded = DecodeForVerify(token);
    if (auto* error = std::get_if<VerifyError>(&decoded)) return std::move(*error);
    const DecodedJws& jws = std::get<DecodedJws>(decoded);

    if (jws.header.at("alg").get_string() != "HS256") {
      return VerifyError{std::string(kReasonAlgorithm)};
    }
    if (!VerifyHs256(jws.signing_input, jws.signature, key_)) {
      return VerifyError{std::string(kReasonSignature)};
    }

    ClaimRules rules;
    rules.issuer = options_.issuer;
    rules.audience = options_.audience;
    rules.require_exp = options_.require_exp;
    rules.leeway_seconds = options_.leeway.count();
    rules.now = UnixNow(options_.now);
    return CheckClaims(jws.payload, rules);
  }

 private:
  const Hs256Key key_;
  const Hs256Options options_;
};

}  // namespace

std::unique_ptr<TokenVerifier> MakeHs256Verifier(std::string secret, Hs256Options options) {
  if (secret.empty()) throw std::invalid_argument("an HS256 verifier needs a non-empty secret");
  return std::make_unique<Hs256Verifier>(std::move(secret), std::move(options));
}

}  // namespace prism::auth
