#include "auth/claims.h"

#include <chrono>
#include <cmath>
#include <limits>
#include <optional>
#include <string>

namespace prism::auth {

namespace json = boost::json;

namespace {

VerifyError Reject(std::string_view reason) { return VerifyError{std::string(reason)}; }

// Reads a NumericDate claim into `date` (nullopt when absent). Fractions are truncated toward
// negative infinity and values beyond int64 are clamped. Returns false when the claim is present
// but not a finite number.
bool ReadNumericDate(const json::object& payload, std::string_view name,
                     std::optional<int64_t>* date) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  const json::value* value = payload.if_contains(name);
  date->reset();
  if (!value) return true;
  if (value->is_int64()) {
    *date = value->get_int64();
  } else if (value->is_uint64()) {
    *date = value->get_uint64() > static_cast<uint64_t>(kMax)
                ? kMax
                : static_cast<int64_t>(value->get_uint64());
  } else if (value->is_double() && std::isfinite(value->get_double())) {
    // 2^63 is exactly representable as a double, so these comparisons are exact.
    double seconds = std::floor(value->get_double());
    if (seconds >= 0x1p63) {
      *date = kMax;
    } else if (seconds < -0x1p63) {
      *date = kMin;
    } else {
      *date = static_cast<int64_t>(seconds);
    }
  } else {
    return false;
  }
  return true;
}

// Returns whether "aud" names `audience`: as the string itself or as one element of an array.
// Sets `malformed` when "aud" is neither a string nor an array of strings.
bool AudienceMatches(const json::object& payload, std::string_view audience, bool* malformed) {
  const json::value* aud = payload.if_contains("aud");
  if (!aud) return false;
  if (aud->is_string()) return aud->get_string() == audience;
  if (!aud->is_array()) {
    *malformed = true;
    return false;
  }
  bool found = false;
  for (const json::value& entry : aud->get_array()) {
    if (!entry.is_string()) {
      *malformed = true;
      return false;
    }
    found = found || entry.get_string() == audience;
  }
  return found;
}

std::optional<VerifyError> CheckTimes(const json::object& payload, const ClaimRules& rules,
                                      std::optional<int64_t>* exp) {
  std::optional<int64_t> nbf;
  std::optional<int64_t> iat;
  if (!ReadNumericDate(payload, "exp", exp) || !ReadNumericDate(payload, "nbf", &nbf) ||
      !ReadNumericDate(payload, "iat", &iat)) {
    return Reject(kReasonMalformed);
  }
  if (!*exp && rules.require_exp) return Reject(kReasonMissingExp);

  // Written so that no sum can overflow: now and leeway are small, the claims are not.
  if (*exp && rules.now - rules.leeway_seconds >= **exp) return Reject(kReasonExpired);
  int64_t latest_start = rules.now + rules.leeway_seconds;
  if ((nbf && *nbf > latest_start) || (iat && *iat > latest_start)) {
    return Reject(kReasonNotYetValid);
  }
  return std::nullopt;
}

}  // namespace

std::variant<DecodedJws, VerifyError> DecodeForVerify(std::string_view token) {
  if (token.empty()) return Reject(kReasonMissingToken);

  std::variant<DecodedJws, DecodeError> decoded = DecodeJws(token);
  if (auto* error = std::get_if<DecodeError>(&decoded)) {
    return Reject(*error == DecodeError::kTooLarge ? kReasonTooLarge : kReasonMalformed);
  }
  DecodedJws& jws = std::get<DecodedJws>(decoded);

  const json::value* alg = jws.header.if_contains("alg");
  const json::value* kid = jws.header.if_contains("kid");
  if (!alg || !alg->is_string() || (kid && !kid->is_string()) || jws.header.contains("crit")) {
    return Reject(kReasonMalformed);
  }
  return std::move(jws);
}

std::variant<Identity, VerifyError> CheckClaims(const json::object& payload,
                                                const ClaimRules& rules) {
  std::optional<int64_t> exp;
  if (std::optional<VerifyError> error = CheckTimes(payload, rules, &exp)) return *error;

  if (!rules.issuer.empty()) {
    const json::value* iss = payload.if_contains("iss");
    if (!iss || !iss->is_string() || iss->get_string() != rules.issuer) {
      return Reject(kReasonIssuer);
    }
  }
  if (!rules.audience.empty()) {
    bool malformed = false;
    bool matches = AudienceMatches(payload, rules.audience, &malformed);
    if (malformed) return Reject(kReasonMalformed);
    if (!matches) return Reject(kReasonAudience);
  }

  const json::value* sub = payload.if_contains("sub");
  if (!sub || (sub->is_string() && sub->get_string().empty())) return Reject(kReasonMissingSub);
  if (!sub->is_string()) return Reject(kReasonMalformed);
  return Identity{std::string(sub->get_string()), exp.value_or(0)};
}

int64_t UnixNow(const UnixClock& clock) {
  if (clock) return clock();
  auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::seconds>(since_epoch).count();
}

}  // namespace prism::auth
