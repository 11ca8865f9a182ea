#include <atomic>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include <unistd.h>

#include <gtest/gtest.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <boost/json.hpp>

#include "auth/jwk.h"
#include "auth/jwks_fetcher.h"
#include "auth/jwt.h"
#include "auth/verifier.h"

namespace prism::auth {
namespace {

namespace json = boost::json;

constexpr int64_t kNow = 1'700'000'000;
constexpr const char* kSecret = "test-secret-of-thirty-two-bytes!";
constexpr const char* kIssuer = "https://issuer.test/";
constexpr const char* kAudience = "prism-api-test";

// Builds a compact token from raw JSON texts and signature bytes, for inputs that the signing
// functions cannot produce.
std::string RawToken(std::string_view header, std::string_view payload,
                     std::string_view signature = "") {
  return Base64UrlEncode(header) + "." + Base64UrlEncode(payload) + "." +
         Base64UrlEncode(signature);
}

// Signs raw header and payload texts with HS256, computing the MAC with OpenSSL's HMAC so that
// the check does not rely on the code under test.
std::string RawHs256Token(std::string_view header, std::string_view payload,
                          std::string_view secret) {
  std::string input = Base64UrlEncode(header) + "." + Base64UrlEncode(payload);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &mac_length);
  return input + "." +
         Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(mac), mac_length));
}

std::string ReasonOf(const std::variant<Identity, VerifyError>& result) {
  if (const auto* error = std::get_if<VerifyError>(&result)) return error->reason;
  return "accepted";
}

std::string UserOf(const std::variant<Identity, VerifyError>& result) {
  if (const auto* identity = std::get_if<Identity>(&result)) return identity->user_id;
  return "rejected: " + std::get<VerifyError>(result).reason;
}

std::string PublicKeyPem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(size));
  BIO_free(bio);
  return pem;
}

// ---------------------------------------------------------------------------------------------
// Base64url

TEST(Base64Url, RoundTripsEveryLengthUpToSix) {
  std::string bytes = "\x00\xff\x10\x80\x7f\xfe";
  for (std::size_t length = 0; length <= bytes.size(); ++length) {
    std::string input = bytes.substr(0, length);
    std::optional<std::string> decoded = Base64UrlDecode(Base64UrlEncode(input));
    ASSERT_TRUE(decoded.has_value()) << "length " << length;
    EXPECT_EQ(*decoded, input) << "length " << length;
  }
}

TEST(Base64Url, UsesUrlAlphabetWithoutPadding) {
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_EQ(Base64UrlEncode("a"), "YQ");
}

TEST(Base64Url, RejectsPadding) {
  EXPECT_FALSE(Base64UrlDecode("YQ==").has_value());
  EXPECT_FALSE(Base64UrlDecode("YQ=").has_value());
  EXPECT_FALSE(Base64UrlDecode("=").has_value());
}

TEST(Base64Url, RejectsBytesOutsideAlphabet) {
  EXPECT_FALSE(Base64UrlDecode("+_8").has_value());
  EXPECT_FALSE(Base64UrlDecode("-/8").has_value());
  EXPECT_FALSE(Base64UrlDecode("YQ ").has_value());
  EXPECT_FALSE(Base64UrlDecode(std::string_view("Y\0", 2)).has_value());
  EXPECT_FALSE(Base64UrlDecode("Y\xc3\xa9").has_value());
}

TEST(Base64Url, RejectsImpossibleLength) { EXPECT_FALSE(Base64UrlDecode("YWJjZ").has_value()); }

TEST(Base64Url, RejectsNonZeroUnusedBits) {
  ASSERT_TRUE(Base64UrlDecode("YQ").has_value());
  EXPECT_FALSE(Base64UrlDecode("YR").has_value());
}

// ---------------------------------------------------------------------------------------------
// DecodeJws

TEST(DecodeJws, ReturnsHeaderPayloadAndSignature) {
  std::string token = RawToken(R"({"alg":"HS256"})", R"({"sub":"u1","n":[1,2]})", "sig");
  auto decoded = DecodeJws(token);
  ASSERT_TRUE(std::holds_alternative<DecodedJws>(decoded));
  const DecodedJws& jws = std::get<DecodedJws>(decoded);
  EXPECT_EQ(jws.header.at("alg").as_string(), "HS256");
  EXPECT_EQ(jws.payload.at("sub").as_string(), "u1");
  EXPECT_EQ(jws.signature, "sig");
  EXPECT_EQ(jws.signing_input, token.substr(0, token.rfind('.')));
}

TEST(DecodeJws, RejectsWrongNumberOfParts) {
  std::string header = Base64UrlEncode(R"({"alg":"HS256"})");
  std::string payload = Base64UrlEncode(R"({"sub":"u1"})");
  EXPECT_EQ(std::get<DecodeError>(DecodeJws(header + "." + payload)), DecodeError::kMalformed);
  EXPECT_EQ(std::get<DecodeError>(DecodeJws(header + "." + payload + ".c2ln.c2ln")),
            DecodeError::kMalformed);
  EXPECT_EQ(std::get<DecodeError>(DecodeJws("abc")), DecodeError::kMalformed);
}

TEST(DecodeJws, RejectsInvalidBase64) {
  std::string token = RawToken(R"({"alg":"HS256"})", R"({"sub":"u1"})", "sig");
  EXPECT_EQ(std::get<DecodeError>(DecodeJws(token + "=")), DecodeError::kMalformed);
  EXPECT_EQ(std::get<DecodeError>(DecodeJws("*" + token)), DecodeError::kMalformed);
}

TEST(DecodeJws, RejectsInvalidJson) {
  auto decoded = DecodeJws(RawToken(R"({"alg":"HS256"})", R"({"sub":"u1",})"));
  EXPECT_EQ(std::get<DecodeError>(decoded), DecodeError::kMalformed);
  decoded = DecodeJws(RawToken(R"({"alg":"HS256"} x)", R"({"sub":"u1"})"));
  EXPECT_EQ(std::get<DecodeError>(decoded), DecodeError::kMalformed);
}

TEST(DecodeJws, RejectsNonObjectHeaderOrPayload) {
  EXPECT_EQ(std::get<DecodeError>(DecodeJws(RawToken(R"(["HS256"])", R"({"sub":"u1"})"))),
            DecodeError::kMalformed);
  EXPECT_EQ(std::get<DecodeError>(DecodeJws(RawToken(R"({"alg":"HS256"})", R"("u1")"))),
            DecodeError::kMalformed);
}

TEST(DecodeJws, RejectsRepeatedTopLevelKey) {
  auto decoded = DecodeJws(RawToken(R"({"alg":"HS256"})", R"({"sub":"u1","sub":"u2"})"));
  EXPECT_EQ(std::get<DecodeError>(decoded), DecodeError::kMalformed);
  decoded = DecodeJws(RawToken(R"({"alg":"none","alg":"HS256"})", R"({"sub":"u1"})"));
  EXPECT_EQ(std::get<DecodeError>(decoded), DecodeError::kMalformed);
  // An escaped spelling of the same key is the same key.
  decoded = DecodeJws(RawToken(R"({"alg":"HS256"})", R"({"sub":"u1","s\u0075b":"u2"})"));
  EXPECT_EQ(std::get<DecodeError>(decoded), DecodeError::kMalformed);
}

TEST(DecodeJws, AllowsRepeatedKeyInNestedObject) {
  // Only top-level keys carry meaning here, so nested objects are not checked.
  auto decoded = DecodeJws(RawToken(R"({"alg":"HS256"})", R"({"sub":"u1","x":{"a":1,"a":2}})"));
  EXPECT_TRUE(std::holds_alternative<DecodedJws>(decoded));
}

TEST(DecodeJws, AllowsSameKeyInDifferentObjects) {
  auto decoded = DecodeJws(RawToken(R"({"alg":"HS256"})", R"({"sub":"u1","x":{"sub":"u2"}})"));
  EXPECT_TRUE(std::holds_alternative<DecodedJws>(decoded));
}

// Returns a token of exactly `size` bytes with a padded payload and an arbitrary signature.
std::string TokenOfSize(std::size_t size) {
  std::string header = Base64UrlEncode(R"({"alg":"HS256"})");
  // Base64url turns 3 bytes into 4, so the payload text needs about 3/4 of the token size.
  std::size_t first = size * 3 / 4 > 64 ? size * 3 / 4 - 64 : 0;
  for (std::size_t filler = first; filler < size; ++filler) {
    std::string payload =
        Base64UrlEncode(R"({"sub":"u1","pad":")" + std::string(filler, 'x') + "\"}");
    for (std::size_t signature_bytes = 0; signature_bytes < 4; ++signature_bytes) {
      std::string token =
          header + "." + payload + "." + Base64UrlEncode(std::string(signature_bytes, 's'));
      if (token.size() == size) return token;
    }
  }
  throw std::logic_error("no token of the requested size");
}

TEST(DecodeJws, AcceptsExactly8KiB) {
  std::string token = TokenOfSize(kMaxTokenBytes);
  ASSERT_EQ(token.size(), kMaxTokenBytes);
  EXPECT_TRUE(std::holds_alternative<DecodedJws>(DecodeJws(token)));
}

TEST(DecodeJws, RejectsOneByteOver8KiB) {
  std::string token = TokenOfSize(kMaxTokenBytes + 1);
  ASSERT_EQ(token.size(), kMaxTokenBytes + 1);
  EXPECT_EQ(std::get<DecodeError>(DecodeJws(token)), DecodeError::kTooLarge);
}

// ---------------------------------------------------------------------------------------------
// Signing and signature checks

// Keys are generated once: RSA generation takes tens of milliseconds.
class Keys : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rsa_ = GenerateRsaKey(2048).release();
    other_rsa_ = GenerateRsaKey(2048).release();
    ec_ = GenerateP256Key().release();
    other_ec_ = GenerateP256Key().release();
  }
  static void TearDownTestSuite() {
    for (EVP_PKEY* key : {rsa_, other_rsa_, ec_, other_ec_}) EVP_PKEY_free(key);
  }

  static std::string InputOf(const std::string& token) { return token.substr(0, token.rfind('.')); }
  static std::string SignatureOf(const std::string& token) {
    return *Base64UrlDecode(token.substr(token.rfind('.') + 1));
  }

  static inline EVP_PKEY* rsa_ = nullptr;
  static inline EVP_PKEY* other_rsa_ = nullptr;
  static inline EVP_PKEY* ec_ = nullptr;
  static inline EVP_PKEY* other_ec_ = nullptr;
};

using Signing = Keys;

TEST_F(Signing, Hs256MatchesOpenSslHmac) {
  json::object claims{{"sub", "u1"}};
  std::string token = SignHs256(claims, kSecret);
  std::string header = *Base64UrlDecode(token.substr(0, token.find('.')));
  EXPECT_EQ(token, RawHs256Token(header, json::serialize(claims), kSecret));
}

TEST_F(Signing, Hs256VerifiesOnlyWithSameSecret) {
  std::string token = SignHs256({{"sub", "u1"}}, kSecret);
  EXPECT_TRUE(VerifyHs256(InputOf(token), SignatureOf(token), kSecret));
  EXPECT_FALSE(VerifyHs256(InputOf(token), SignatureOf(token), "other secret"));
  EXPECT_FALSE(VerifyHs256(InputOf(token) + "x", SignatureOf(token), kSecret));
  EXPECT_FALSE(VerifyHs256(InputOf(token), SignatureOf(token).substr(1), kSecret));
}

TEST_F(Signing, HeaderCarriesAlgTypAndKid) {
  std::string token = SignRs256({{"sub", "u1"}}, rsa_, "key-1");
  auto jws = std::get<DecodedJws>(DecodeJws(token));
  EXPECT_EQ(jws.header.at("alg").as_string(), "RS256");
  EXPECT_EQ(jws.header.at("typ").as_string(), "JWT");
  EXPECT_EQ(jws.header.at("kid").as_string(), "key-1");
  EXPECT_FALSE(std::get<DecodedJws>(DecodeJws(SignHs256({}, kSecret))).header.contains("kid"));
}

TEST_F(Signing, Rs256VerifiesOnlyWithSigningKey) {
  std::string token = SignRs256({{"sub", "u1"}}, rsa_);
  EXPECT_EQ(SignatureOf(token).size(), 256u);
  EXPECT_TRUE(VerifyRs256(InputOf(token), SignatureOf(token), rsa_));
  EXPECT_FALSE(VerifyRs256(InputOf(token), SignatureOf(token), other_rsa_));
  EXPECT_FALSE(VerifyRs256(InputOf(token) + "x", SignatureOf(token), rsa_));
  EXPECT_FALSE(VerifyRs256(InputOf(token), SignatureOf(token), ec_));
}

TEST_F(Signing, Es256SignatureIsRawRAndS) {
  std::string token = SignEs256({{"sub", "u1"}}, ec_);
  EXPECT_EQ(SignatureOf(token).size(), 64u);
  EXPECT_TRUE(VerifyEs256(InputOf(token), SignatureOf(token), ec_));
  EXPECT_FALSE(VerifyEs256(InputOf(token), SignatureOf(token), other_ec_));
  EXPECT_FALSE(VerifyEs256(InputOf(token) + "x", SignatureOf(token), ec_));
  EXPECT_FALSE(VerifyEs256(InputOf(token), SignatureOf(token), rsa_));
}

TEST_F(Signing, Es256RejectsWrongLengthSignature) {
  std::string token = SignEs256({{"sub", "u1"}}, ec_);
  std::string signature = SignatureOf(token);
  EXPECT_FALSE(VerifyEs256(InputOf(token), signature.substr(0, 63), ec_));
  EXPECT_FALSE(VerifyEs256(InputOf(token), signature + "\x01", ec_));
  EXPECT_FALSE(VerifyEs256(InputOf(token), std::string(64, '\0'), ec_));
}

TEST_F(Signing, RejectsKeyOfWrongType) {
  EXPECT_THROW(SignRs256({}, ec_), std::invalid_argument);
  EXPECT_THROW(SignEs256({}, rsa_), std::invalid_argument);
  EXPECT_THROW(SignRs256({}, nullptr), std::invalid_argument);
}

// ---------------------------------------------------------------------------------------------
// JWK and JWKS

using JwkParsing = Keys;

TEST_F(JwkParsing, RoundTripsRsaKey) {
  std::string error;
  std::optional<Jwk> jwk = ParseJwk(PublicJwk(rsa_, "r1"), &error);
  ASSERT_TRUE(jwk.has_value()) << error;
  EXPECT_EQ(jwk->kid, "r1");
  EXPECT_EQ(jwk->alg, "RS256");
  std::string token = SignRs256({{"sub", "u1"}}, rsa_);
  EXPECT_TRUE(VerifyRs256(InputOf(token), SignatureOf(token), jwk->key.get()));
}

TEST_F(JwkParsing, RoundTripsP256Key) {
  std::string error;
  std::optional<Jwk> jwk = ParseJwk(PublicJwk(ec_, "e1"), &error);
  ASSERT_TRUE(jwk.has_value()) << error;
  EXPECT_EQ(jwk->alg, "ES256");
  std::string token = SignEs256({{"sub", "u1"}}, ec_);
  EXPECT_TRUE(VerifyEs256(InputOf(token), SignatureOf(token), jwk->key.get()));
}

TEST_F(JwkParsing, RejectsUseOtherThanSig) {
  json::object jwk = PublicJwk(rsa_, "r1");
  jwk["use"] = "enc";
  std::string error;
  EXPECT_FALSE(ParseJwk(jwk, &error).has_value());
  EXPECT_EQ(error, "use is not sig");
  jwk.erase("use");
  EXPECT_TRUE(ParseJwk(jwk, &error).has_value());
}

TEST_F(JwkParsing, RejectsAlgNotMatchingKeyType) {
  json::object jwk = PublicJwk(rsa_, "r1");
  jwk["alg"] = "HS256";
  std::string error;
  EXPECT_FALSE(ParseJwk(jwk, &error).has_value());
  jwk["alg"] = "ES256";
  EXPECT_FALSE(ParseJwk(jwk, &error).has_value());
}

TEST_F(JwkParsing, RejectsSymmetricKey) {
  std::string error;
  json::object jwk{{"kty", "oct"}, {"k", Base64UrlEncode(kSecret)}, {"kid", "s1"}};
  EXPECT_FALSE(ParseJwk(jwk, &error).has_value());
  EXPECT_EQ(error, "unsupported kty");
}

TEST_F(JwkParsing, RejectsRsaKeyShorterThan2048Bits) {
  EvpPkeyPtr small = GenerateRsaKey(1024);
  std::string error;
  EXPECT_FALSE(ParseJwk(PublicJwk(small.get(), "small"), &error).has_value());
  EXPECT_EQ(error, "RSA key shorter than 2048 bits");
}

TEST_F(JwkParsing, RejectsPointNotOnCurve) {
  json::object jwk = PublicJwk(ec_, "e1");
  std::string y = *Base64UrlDecode(jwk.at("y").as_string());
  y[31] = static_cast<char>(y[31] ^ 1);
  jwk["y"] = Base64UrlEncode(y);
  std::string error;
  EXPECT_FALSE(ParseJwk(jwk, &error).has_value());
  EXPECT_EQ(error, "invalid P-256 point");
}

TEST_F(JwkParsing, RejectsOtherCurveAndShortCoordinates) {
  json::object jwk = PublicJwk(ec_, "e1");
  jwk["crv"] = "P-384";
  std::string error;
  EXPECT_FALSE(ParseJwk(jwk, &error).has_value());
  jwk = PublicJwk(ec_, "e1");
  jwk["x"] = Base64UrlEncode(std::string(31, 'x'));
  EXPECT_FALSE(ParseJwk(jwk, &error).has_value());
}

TEST_F(JwkParsing, JwksSkipsUnusableKeysAndReportsThem) {
  json::object enc = PublicJwk(other_rsa_, "enc-key");
  enc["use"] = "enc";
  json::array keys{PublicJwk(rsa_, "r1"), enc, "not an object", PublicJwk(ec_, "e1")};
  std::vector<std::string> skipped;
  JwkSet set = ParseJwks(json::serialize(json::object{{"keys", keys}}), &skipped);
  ASSERT_EQ(set.keys.size(), 2u);
  EXPECT_NE(set.Find("r1", "RS256"), nullptr);
  EXPECT_NE(set.Find("e1", "ES256"), nullptr);
  EXPECT_EQ(set.Find("r1", "ES256"), nullptr);
  EXPECT_EQ(set.Find("enc-key", "RS256"), nullptr);
  ASSERT_EQ(skipped.size(), 2u);
  EXPECT_EQ(skipped[0], "key 1 (kid \"enc-key\"): use is not sig");
  EXPECT_EQ(skipped[1], "key 2 (kid \"\"): not an object");
}

TEST_F(JwkParsing, EmptyKidMatchesSingleKey) {
  JwkSet one = ParseJwks(json::serialize(json::object{{"keys", {PublicJwk(rsa_, "r1")}}}));
  EXPECT_NE(one.Find("", "RS256"), nullptr);
  JwkSet two = ParseJwks(json::serialize(
      json::object{{"keys", {PublicJwk(rsa_, "r1"), PublicJwk(other_rsa_, "r2")}}}));
  EXPECT_EQ(two.Find("", "RS256"), nullptr);
}

TEST(Jwks, RejectsDocumentWithoutKeysArray) {
  EXPECT_THROW(ParseJwks("not json"), std::invalid_argument);
  EXPECT_THROW(ParseJwks("[]"), std::invalid_argument);
  EXPECT_THROW(ParseJwks(R"({"keys": {}})"), std::invalid_argument);
  EXPECT_NO_THROW(ParseJwks(R"({"keys": []})"));
}

// ---------------------------------------------------------------------------------------------
// HS256 verifier: test mode and local mode

class Hs256Verification : public ::testing::Test {
 protected:
  std::unique_ptr<TokenVerifier> TestMode() {
    Hs256Options options;
    options.now = [this] { return now_; };
    return MakeHs256Verifier(kSecret, options);
  }
  std::unique_ptr<TokenVerifier> LocalMode() {
    Hs256Options options;
    options.issuer = kLocalIssuer;
    options.audience = kLocalAudience;
    options.require_exp = true;
    options.now = [this] { return now_; };
    return MakeHs256Verifier(kSecret, options);
  }
  static json::object LocalClaims() {
    return {{"sub", "u1"}, {"iss", kLocalIssuer}, {"aud", kLocalAudience}, {"exp", kNow + 600}};
  }

  int64_t now_ = kNow;
};

TEST_F(Hs256Verification, AcceptsTokenWithOnlySub) {
  auto result = TestMode()->Verify(SignHs256({{"sub", "user-42"}}, kSecret));
  ASSERT_EQ(UserOf(result), "user-42");
  EXPECT_EQ(std::get<Identity>(result).expires_at, 0);
}

TEST_F(Hs256Verification, ReturnsExpiry) {
  auto result = TestMode()->Verify(SignHs256({{"sub", "u1"}, {"exp", kNow + 10}}, kSecret));
  ASSERT_TRUE(std::holds_alternative<Identity>(result));
  EXPECT_EQ(std::get<Identity>(result).expires_at, kNow + 10);
}

TEST_F(Hs256Verification, RejectsEmptyToken) {
  EXPECT_EQ(ReasonOf(TestMode()->Verify("")), "missing token");
}

TEST_F(Hs256Verification, RejectsMalformedToken) {
  EXPECT_EQ(ReasonOf(TestMode()->Verify("abc.def")), "malformed token");
  EXPECT_EQ(ReasonOf(TestMode()->Verify("Bearer abc.def.ghi")), "malformed token");
}

TEST_F(Hs256Verification, RejectsWrongSecret) {
  auto result = TestMode()->Verify(SignHs256({{"sub", "u1"}}, "another secret"));
  EXPECT_EQ(ReasonOf(result), "invalid signature");
}

TEST_F(Hs256Verification, RejectsTamperedPayload) {
  std::string token = SignHs256({{"sub", "u1"}}, kSecret);
  std::string forged = RawToken(R"({"alg":"HS256","typ":"JWT"})", R"({"sub":"u2"})");
  forged = forged.substr(0, forged.rfind('.')) + token.substr(token.rfind('.'));
  EXPECT_EQ(ReasonOf(TestMode()->Verify(forged)), "invalid signature");
}

TEST_F(Hs256Verification, RejectsExpiredTokenBeyondLeeway) {
  auto verifier = TestMode();
  EXPECT_EQ(ReasonOf(verifier->Verify(SignHs256({{"sub", "u1"}, {"exp", kNow - 61}}, kSecret))),
            "token expired");
  EXPECT_EQ(ReasonOf(verifier->Verify(SignHs256({{"sub", "u1"}, {"exp", kNow - 60}}, kSecret))),
            "token expired");
  EXPECT_EQ(ReasonOf(verifier->Verify(SignHs256({{"sub", "u1"}, {"exp", kNow - 59}}, kSecret))),
            "accepted");
}

TEST_F(Hs256Verification, RejectsNotBeforeInFutureBeyondLeeway) {
  auto verifier = TestMode();
  EXPECT_EQ(ReasonOf(verifier->Verify(SignHs256({{"sub", "u1"}, {"nbf", kNow + 61}}, kSecret))),
            "token not yet valid");
  EXPECT_EQ(ReasonOf(verifier->Verify(SignHs256({{"sub", "u1"}, {"nbf", kNow + 60}}, kSecret))),
            "accepted");
}

TEST_F(Hs256Verification, RejectsIssuedAtInFutureBeyondLeeway) {
  auto verifier = TestMode();
  EXPECT_EQ(ReasonOf(verifier->Verify(SignHs256({{"sub", "u1"}, {"iat", kNow + 61}}, kSecret))),
            "token not yet valid");
  EXPECT_EQ(ReasonOf(verifier->Verify(SignHs256({{"sub", "u1"}, {"iat", kNow - 5}}, kSecret))),
            "accepted");
}

TEST_F(Hs256Verification, AcceptsFractionalExp) {
  auto result = TestMode()->Verify(SignHs256({{"sub", "u1"}, {"exp", kNow + 10.75}}, kSecret));
  ASSERT_TRUE(std::holds_alternative<Identity>(result));
  EXPECT_EQ(std::get<Identity>(result).expires_at, kNow + 10);
}

TEST_F(Hs256Verification, RejectsNonNumericTimes) {
  auto verifier = TestMode();
  EXPECT_EQ(ReasonOf(verifier->Verify(SignHs256({{"sub", "u1"}, {"exp", "never"}}, kSecret))),
            "malformed token");
  EXPECT_EQ(ReasonOf(verifier->Verify(SignHs256({{"sub", "u1"}, {"exp", nullptr}}, kSecret))),
            "malformed token");
  EXPECT_EQ(ReasonOf(verifier->Verify(SignHs256({{"sub", "u1"}, {"nbf", true}}, kSecret))),
            "malformed token");
  EXPECT_EQ(ReasonOf(verifier->Verify(SignHs256({{"sub", "u1"}, {"iat", "1"}}, kSecret))),
            "malformed token");
}

TEST_F(Hs256Verification, RejectsMissingSub) {
  EXPECT_EQ(ReasonOf(TestMode()->Verify(SignHs256({{"name", "x"}}, kSecret))), "missing sub");
}

TEST_F(Hs256Verification, RejectsEmptySub) {
  EXPECT_EQ(ReasonOf(TestMode()->Verify(SignHs256({{"sub", ""}}, kSecret))), "missing sub");
}

TEST_F(Hs256Verification, RejectsNonStringSub) {
  EXPECT_EQ(ReasonOf(TestMode()->Verify(SignHs256({{"sub", 42}}, kSecret))), "malformed token");
  EXPECT_EQ(ReasonOf(TestMode()->Verify(SignHs256({{"sub", {"u1"}}}, kSecret))), "malformed token");
}

TEST_F(Hs256Verification, RejectsAlgNone) {
  auto verifier = TestMode();
  EXPECT_EQ(ReasonOf(verifier->Verify(RawToken(R"({"alg":"none"})", R"({"sub":"u1"})"))),
            "algorithm not allowed");
  // Signed with the secret as well: the header alone decides, and "none" is never allowed.
  EXPECT_EQ(
      ReasonOf(verifier->Verify(RawHs256Token(R"({"alg":"none"})", R"({"sub":"u1"})", kSecret))),
      "algorithm not allowed");
}

TEST_F(Hs256Verification, RejectsOtherAlgorithms) {
  auto verifier = TestMode();
  for (const char* alg : {"HS384", "HS512", "RS256", "ES256", "hs256"}) {
    std::string header = std::string(R"({"alg":")") + alg + "\"}";
    EXPECT_EQ(ReasonOf(verifier->Verify(RawHs256Token(header, R"({"sub":"u1"})", kSecret))),
              "algorithm not allowed")
        << alg;
  }
}

TEST_F(Hs256Verification, RejectsMissingOrNonStringAlg) {
  auto verifier = TestMode();
  EXPECT_EQ(
      ReasonOf(verifier->Verify(RawHs256Token(R"({"typ":"JWT"})", R"({"sub":"u1"})", kSecret))),
      "malformed token");
  EXPECT_EQ(
      ReasonOf(verifier->Verify(RawHs256Token(R"({"alg":["HS256"]})", R"({"sub":"u1"})", kSecret))),
      "malformed token");
}

TEST_F(Hs256Verification, RejectsCriticalHeader) {
  std::string token =
      RawHs256Token(R"({"alg":"HS256","crit":["exp"]})", R"({"sub":"u1"})", kSecret);
  EXPECT_EQ(ReasonOf(TestMode()->Verify(token)), "malformed token");
}

TEST_F(Hs256Verification, RejectsRepeatedClaim) {
  std::string token = RawHs256Token(R"({"alg":"HS256"})", R"({"sub":"u1","sub":"admin"})", kSecret);
  EXPECT_EQ(ReasonOf(TestMode()->Verify(token)), "malformed token");
}

TEST_F(Hs256Verification, RejectsTokenOver8KiB) {
  std::string token = SignHs256({{"sub", "u1"}, {"pad", std::string(7000, 'x')}}, kSecret);
  ASSERT_GT(token.size(), kMaxTokenBytes);
  EXPECT_EQ(ReasonOf(TestMode()->Verify(token)), "token too large");
}

TEST_F(Hs256Verification, ConcurrentChecksAgree) {
  // One verifier shares its keyed HMAC state between threads.
  auto verifier = TestMode();
  std::string good = SignHs256({{"sub", "u1"}}, kSecret);
  std::string bad = SignHs256({{"sub", "u1"}}, "another secret");
  std::atomic<int> mismatches = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        if (ReasonOf(verifier->Verify(good)) != "accepted") ++mismatches;
        if (ReasonOf(verifier->Verify(bad)) != "invalid signature") ++mismatches;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST_F(Hs256Verification, RejectsEmptySecretAtConstruction) {
  EXPECT_THROW(MakeHs256Verifier("", Hs256Options{}), std::invalid_argument);
}

TEST_F(Hs256Verification, LocalModeAcceptsIssuedToken) {
  EXPECT_EQ(UserOf(LocalMode()->Verify(SignHs256(LocalClaims(), kSecret))), "u1");
}

TEST_F(Hs256Verification, LocalModeRequiresExp) {
  json::object claims = LocalClaims();
  claims.erase("exp");
  EXPECT_EQ(ReasonOf(LocalMode()->Verify(SignHs256(claims, kSecret))), "missing exp");
}

TEST_F(Hs256Verification, LocalModeRejectsWrongIssuer) {
  json::object claims = LocalClaims();
  claims["iss"] = "someone-else";
  EXPECT_EQ(ReasonOf(LocalMode()->Verify(SignHs256(claims, kSecret))), "wrong issuer");
  claims.erase("iss");
  EXPECT_EQ(ReasonOf(LocalMode()->Verify(SignHs256(claims, kSecret))), "wrong issuer");
}

TEST_F(Hs256Verification, LocalModeRejectsWrongAudience) {
  json::object claims = LocalClaims();
  claims["aud"] = "other-api";
  EXPECT_EQ(ReasonOf(LocalMode()->Verify(SignHs256(claims, kSecret))), "wrong audience");
  claims.erase("aud");
  EXPECT_EQ(ReasonOf(LocalMode()->Verify(SignHs256(claims, kSecret))), "wrong audience");
}

TEST_F(Hs256Verification, AudienceMayBeArray) {
  json::object claims = LocalClaims();
  claims["aud"] = {"other-api", kLocalAudience};
  EXPECT_EQ(ReasonOf(LocalMode()->Verify(SignHs256(claims, kSecret))), "accepted");
  claims["aud"] = {"other-api"};
  EXPECT_EQ(ReasonOf(LocalMode()->Verify(SignHs256(claims, kSecret))), "wrong audience");
  claims["aud"] = {kLocalAudience, 7};
  EXPECT_EQ(ReasonOf(LocalMode()->Verify(SignHs256(claims, kSecret))), "malformed token");
}

// ---------------------------------------------------------------------------------------------
// OIDC verifier with an injected JWKS source and clocks

class OidcVerification : public Keys {
 protected:
  void SetUp() override { jwks_ = JwksOf({PublicJwk(rsa_, "rsa-1"), PublicJwk(ec_, "ec-1")}); }

  static std::string JwksOf(json::array keys) {
    return json::serialize(json::object{{"keys", std::move(keys)}});
  }

  OidcOptions Options() {
    OidcOptions options;
    options.issuer = kIssuer;
    options.audience = kAudience;
    options.fetch = [this] {
      ++fetches_;
      std::lock_guard lock(jwks_mutex_);
      if (fail_fetch_) throw std::runtime_error("connection refused");
      return jwks_;
    };
    options.now = [this] { return now_.load(); };
    options.steady_now = [this] {
      return std::chrono::steady_clock::time_point(std::chrono::seconds(steady_seconds_.load()));
    };
    return options;
  }

  void SetJwks(std::string jwks) {
    std::lock_guard lock(jwks_mutex_);
    jwks_ = std::move(jwks);
  }

  static json::object Claims() {
    return {{"sub", "auth0|123"}, {"iss", kIssuer}, {"aud", kAudience}, {"exp", kNow + 600}};
  }

  std::atomic<int> fetches_ = 0;
  std::atomic<int64_t> now_ = kNow;
  std::atomic<int64_t> steady_seconds_ = 1000;
  std::mutex jwks_mutex_;
  std::string jwks_;         // guarded by jwks_mutex_
  bool fail_fetch_ = false;  // guarded by jwks_mutex_
};

TEST_F(OidcVerification, FetchesJwksAtStart) {
  auto verifier = MakeOidcVerifier(Options());
  EXPECT_EQ(fetches_.load(), 1);
}

TEST_F(OidcVerification, AcceptsRs256Token) {
  auto result = MakeOidcVerifier(Options())->Verify(SignRs256(Claims(), rsa_, "rsa-1"));
  ASSERT_EQ(UserOf(result), "auth0|123");
  EXPECT_EQ(std::get<Identity>(result).expires_at, kNow + 600);
}

TEST_F(OidcVerification, AcceptsEs256Token) {
  auto result = MakeOidcVerifier(Options())->Verify(SignEs256(Claims(), ec_, "ec-1"));
  EXPECT_EQ(UserOf(result), "auth0|123");
}

TEST_F(OidcVerification, AcceptsAudienceArray) {
  json::object claims = Claims();
  claims["aud"] = {"https://issuer.test/userinfo", kAudience};
  EXPECT_EQ(ReasonOf(MakeOidcVerifier(Options())->Verify(SignRs256(claims, rsa_, "rsa-1"))),
            "accepted");
}

TEST_F(OidcVerification, RejectsWrongIssuer) {
  json::object claims = Claims();
  claims["iss"] = "https://issuer.test";  // no trailing slash: must match exactly
  EXPECT_EQ(ReasonOf(MakeOidcVerifier(Options())->Verify(SignRs256(claims, rsa_, "rsa-1"))),
            "wrong issuer");
}

TEST_F(OidcVerification, RejectsWrongAudience) {
  json::object claims = Claims();
  claims["aud"] = "another-api";
  EXPECT_EQ(ReasonOf(MakeOidcVerifier(Options())->Verify(SignRs256(claims, rsa_, "rsa-1"))),
            "wrong audience");
}

TEST_F(OidcVerification, RequiresExp) {
  json::object claims = Claims();
  claims.erase("exp");
  EXPECT_EQ(ReasonOf(MakeOidcVerifier(Options())->Verify(SignRs256(claims, rsa_, "rsa-1"))),
            "missing exp");
}

TEST_F(OidcVerification, RejectsExpiredToken) {
  json::object claims = Claims();
  claims["exp"] = kNow - 61;
  EXPECT_EQ(ReasonOf(MakeOidcVerifier(Options())->Verify(SignRs256(claims, rsa_, "rsa-1"))),
            "token expired");
}

TEST_F(OidcVerification, RejectsNotYetValidToken) {
  json::object claims = Claims();
  claims["nbf"] = kNow + 120;
  EXPECT_EQ(ReasonOf(MakeOidcVerifier(Options())->Verify(SignRs256(claims, rsa_, "rsa-1"))),
            "token not yet valid");
}

TEST_F(OidcVerification, RejectsTokenSignedByAnotherKey) {
  auto verifier = MakeOidcVerifier(Options());
  EXPECT_EQ(ReasonOf(verifier->Verify(SignRs256(Claims(), other_rsa_, "rsa-1"))),
            "invalid signature");
  EXPECT_EQ(ReasonOf(verifier->Verify(SignEs256(Claims(), other_ec_, "ec-1"))),
            "invalid signature");
}

TEST_F(OidcVerification, RejectsHs256SignedWithPublicKeyAsSecret) {
  auto verifier = MakeOidcVerifier(Options());
  std::string pem = PublicKeyPem(rsa_);
  EXPECT_EQ(ReasonOf(verifier->Verify(SignHs256(Claims(), pem, "rsa-1"))), "algorithm not allowed");
  std::string jwk_text = json::serialize(PublicJwk(rsa_, "rsa-1"));
  EXPECT_EQ(ReasonOf(verifier->Verify(SignHs256(Claims(), jwk_text, "rsa-1"))),
            "algorithm not allowed");
  EXPECT_EQ(fetches_.load(), 1);
}

TEST_F(OidcVerification, RejectsAlgNone) {
  std::string token = RawToken(R"({"alg":"none","kid":"rsa-1"})", json::serialize(Claims()));
  EXPECT_EQ(ReasonOf(MakeOidcVerifier(Options())->Verify(token)), "algorithm not allowed");
}

TEST_F(OidcVerification, RejectsKidUsedWithOtherAlgorithm) {
  auto verifier = MakeOidcVerifier(Options());
  // An ES256 token naming the RSA key: the kid is known, so no refetch happens either.
  EXPECT_EQ(ReasonOf(verifier->Verify(SignEs256(Claims(), ec_, "rsa-1"))), "algorithm not allowed");
  EXPECT_EQ(fetches_.load(), 1);
}

TEST_F(OidcVerification, RejectsTokenOver8KiB) {
  json::object claims = Claims();
  claims["pad"] = std::string(7000, 'x');
  EXPECT_EQ(ReasonOf(MakeOidcVerifier(Options())->Verify(SignRs256(claims, rsa_, "rsa-1"))),
            "token too large");
}

TEST_F(OidcVerification, RejectsMissingSub) {
  json::object claims = Claims();
  claims.erase("sub");
  EXPECT_EQ(ReasonOf(MakeOidcVerifier(Options())->Verify(SignRs256(claims, rsa_, "rsa-1"))),
            "missing sub");
}

TEST_F(OidcVerification, UnknownKidRefetchesOnceThenRejects) {
  auto verifier = MakeOidcVerifier(Options());
  ASSERT_EQ(fetches_.load(), 1);
  steady_seconds_ += 120;  // past the rate limit of the start fetch

  EXPECT_EQ(ReasonOf(verifier->Verify(SignRs256(Claims(), other_rsa_, "rsa-2"))), "unknown key id");
  EXPECT_EQ(fetches_.load(), 2);
  EXPECT_EQ(ReasonOf(verifier->Verify(SignRs256(Claims(), other_rsa_, "rsa-3"))), "unknown key id");
  EXPECT_EQ(fetches_.load(), 2);
}

TEST_F(OidcVerification, RefetchesAtMostOncePerMinute) {
  auto verifier = MakeOidcVerifier(Options());
  std::string token = SignRs256(Claims(), other_rsa_, "rsa-2");

  // The start fetch counts: a miss 59 s later does not fetch.
  steady_seconds_ += 59;
  EXPECT_EQ(ReasonOf(verifier->Verify(token)), "unknown key id");
  EXPECT_EQ(fetches_.load(), 1);

  steady_seconds_ += 1;
  EXPECT_EQ(ReasonOf(verifier->Verify(token)), "unknown key id");
  EXPECT_EQ(fetches_.load(), 2);

  steady_seconds_ += 59;
  EXPECT_EQ(ReasonOf(verifier->Verify(token)), "unknown key id");
  EXPECT_EQ(fetches_.load(), 2);

  steady_seconds_ += 1;
  EXPECT_EQ(ReasonOf(verifier->Verify(token)), "unknown key id");
  EXPECT_EQ(fetches_.load(), 3);
}

TEST_F(OidcVerification, AcceptsRotatedKeyAfterRefetch) {
  auto verifier = MakeOidcVerifier(Options());
  steady_seconds_ += 60;
  SetJwks(JwksOf({PublicJwk(rsa_, "rsa-1"), PublicJwk(other_rsa_, "rsa-2")}));

  EXPECT_EQ(UserOf(verifier->Verify(SignRs256(Claims(), other_rsa_, "rsa-2"))), "auth0|123");
  EXPECT_EQ(fetches_.load(), 2);
  EXPECT_EQ(UserOf(verifier->Verify(SignRs256(Claims(), other_rsa_, "rsa-2"))), "auth0|123");
  EXPECT_EQ(fetches_.load(), 2);
}

TEST_F(OidcVerification, RetriesFailedStartFetchOnFirstUse) {
  {
    std::lock_guard lock(jwks_mutex_);
    fail_fetch_ = true;
  }
  auto verifier = MakeOidcVerifier(Options());
  EXPECT_EQ(fetches_.load(), 1);
  {
    std::lock_guard lock(jwks_mutex_);
    fail_fetch_ = false;
  }

  EXPECT_EQ(UserOf(verifier->Verify(SignRs256(Claims(), rsa_, "rsa-1"))), "auth0|123");
  EXPECT_EQ(fetches_.load(), 2);
}

TEST_F(OidcVerification, KeepsKeysWhenRefetchFails) {
  auto verifier = MakeOidcVerifier(Options());
  steady_seconds_ += 60;
  {
    std::lock_guard lock(jwks_mutex_);
    fail_fetch_ = true;
  }
  EXPECT_EQ(ReasonOf(verifier->Verify(SignRs256(Claims(), other_rsa_, "rsa-2"))), "unknown key id");
  EXPECT_EQ(fetches_.load(), 2);
  EXPECT_EQ(ReasonOf(verifier->Verify(SignRs256(Claims(), rsa_, "rsa-1"))), "accepted");
}

TEST_F(OidcVerification, KeepsKeysWhenRefetchReturnsInvalidJwks) {
  auto verifier = MakeOidcVerifier(Options());
  steady_seconds_ += 60;
  SetJwks("<html>maintenance</html>");
  EXPECT_EQ(ReasonOf(verifier->Verify(SignRs256(Claims(), other_rsa_, "rsa-2"))), "unknown key id");
  EXPECT_EQ(ReasonOf(verifier->Verify(SignRs256(Claims(), rsa_, "rsa-1"))), "accepted");
}

TEST_F(OidcVerification, IgnoresKeysNotForSignatures) {
  json::object enc = PublicJwk(other_rsa_, "rsa-enc");
  enc["use"] = "enc";
  SetJwks(JwksOf({PublicJwk(rsa_, "rsa-1"), enc}));
  auto verifier = MakeOidcVerifier(Options());
  EXPECT_EQ(ReasonOf(verifier->Verify(SignRs256(Claims(), other_rsa_, "rsa-enc"))),
            "unknown key id");
}

TEST_F(OidcVerification, TokenWithoutKidUsesSingleKey) {
  auto verifier = MakeOidcVerifier(Options());
  EXPECT_EQ(UserOf(verifier->Verify(SignRs256(Claims(), rsa_))), "auth0|123");

  SetJwks(JwksOf({PublicJwk(rsa_, "rsa-1"), PublicJwk(other_rsa_, "rsa-2")}));
  steady_seconds_ += 60;
  auto two_keys = MakeOidcVerifier(Options());
  EXPECT_EQ(ReasonOf(two_keys->Verify(SignRs256(Claims(), rsa_))), "unknown key id");
}

TEST_F(OidcVerification, ConcurrentMissesShareOneFetch) {
  OidcOptions options = Options();
  JwksSource counted = options.fetch;
  options.fetch = [counted] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return counted();
  };
  auto verifier = MakeOidcVerifier(options);
  steady_seconds_ += 60;
  std::string token = SignRs256(Claims(), other_rsa_, "rsa-2");

  std::vector<std::thread> threads;
  std::atomic<int> unknown = 0;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      if (ReasonOf(verifier->Verify(token)) == "unknown key id") ++unknown;
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(unknown.load(), 8);
  EXPECT_EQ(fetches_.load(), 2);
}

TEST_F(OidcVerification, RejectsMissingIssuerOrAudience) {
  OidcOptions options = Options();
  options.issuer.clear();
  EXPECT_THROW(MakeOidcVerifier(options), std::invalid_argument);
  options = Options();
  options.audience.clear();
  EXPECT_THROW(MakeOidcVerifier(options), std::invalid_argument);
}

TEST_F(OidcVerification, RejectsPlainHttpJwksUrlOffLoopback) {
  OidcOptions options = Options();
  options.fetch = nullptr;
  options.jwks_url = "http://issuer.test/.well-known/jwks.json";
  EXPECT_THROW(MakeOidcVerifier(options), std::invalid_argument);
  options.jwks_url.clear();
  options.issuer = "http://issuer.test/";
  EXPECT_THROW(MakeOidcVerifier(options), std::invalid_argument);
}

TEST_F(OidcVerification, ReadsJwksFile) {
  std::filesystem::path path = std::filesystem::temp_directory_path() /
                               ("prism-auth-jwks-" + std::to_string(::getpid()) + ".json");
  std::ofstream(path) << jwks_;
  OidcOptions options = Options();
  options.fetch = nullptr;
  options.jwks_file = path.string();
  auto verifier = MakeOidcVerifier(options);
  EXPECT_EQ(UserOf(verifier->Verify(SignEs256(Claims(), ec_, "ec-1"))), "auth0|123");
  std::filesystem::remove(path);
}

// ---------------------------------------------------------------------------------------------
// Cache

// Accepts tokens of the form "ok:<user>:<exp>" and counts its calls.
class CountingVerifier : public TokenVerifier {
 public:
  explicit CountingVerifier(std::atomic<int>* calls) : calls_(calls) {}

  std::variant<Identity, VerifyError> Verify(std::string_view token) override {
    ++*calls_;
    if (!token.starts_with("ok:")) return VerifyError{"invalid signature"};
    std::size_t colon = token.find(':', 3);
    return Identity{std::string(token.substr(3, colon - 3)),
                    std::stoll(std::string(token.substr(colon + 1)))};
  }

 private:
  std::atomic<int>* calls_;
};

class VerifierCache : public ::testing::Test {
 protected:
  std::unique_ptr<TokenVerifier> Make(std::size_t max_entries) {
    return WithCache(std::make_unique<CountingVerifier>(&calls_), max_entries,
                     [this] { return now_; });
  }

  std::atomic<int> calls_ = 0;
  int64_t now_ = kNow;
};

TEST_F(VerifierCache, ReturnsCachedIdentityWithoutCallingInner) {
  auto verifier = Make(100);
  std::string token = "ok:u1:" + std::to_string(kNow + 100);
  EXPECT_EQ(UserOf(verifier->Verify(token)), "u1");
  auto second = verifier->Verify(token);
  EXPECT_EQ(UserOf(second), "u1");
  EXPECT_EQ(std::get<Identity>(second).expires_at, kNow + 100);
  EXPECT_EQ(calls_.load(), 1);
}

TEST_F(VerifierCache, ExpiresEntryAtExp) {
  auto verifier = Make(100);
  std::string token = "ok:u1:" + std::to_string(kNow + 100);
  verifier->Verify(token);
  now_ = kNow + 99;
  verifier->Verify(token);
  EXPECT_EQ(calls_.load(), 1);
  now_ = kNow + 100;
  verifier->Verify(token);
  EXPECT_EQ(calls_.load(), 2);
}

TEST_F(VerifierCache, KeepsTokenWithoutExpForFiveMinutes) {
  auto verifier = Make(100);
  verifier->Verify("ok:u1:0");
  now_ = kNow + kNoExpiryCacheSeconds - 1;
  verifier->Verify("ok:u1:0");
  EXPECT_EQ(calls_.load(), 1);
  now_ = kNow + kNoExpiryCacheSeconds;
  verifier->Verify("ok:u1:0");
  EXPECT_EQ(calls_.load(), 2);
}

TEST_F(VerifierCache, DoesNotCacheRejections) {
  auto verifier = Make(100);
  EXPECT_EQ(ReasonOf(verifier->Verify("bad")), "invalid signature");
  EXPECT_EQ(ReasonOf(verifier->Verify("bad")), "invalid signature");
  EXPECT_EQ(calls_.load(), 2);
}

TEST_F(VerifierCache, DoesNotCacheAlreadyExpiredIdentity) {
  auto verifier = Make(100);
  std::string token = "ok:u1:" + std::to_string(kNow - 10);
  verifier->Verify(token);
  verifier->Verify(token);
  EXPECT_EQ(calls_.load(), 2);
}

TEST_F(VerifierCache, StaysWithinMaxEntries) {
  constexpr int kMaxEntries = 64;
  constexpr int kTokens = 1000;
  auto verifier = Make(kMaxEntries);
  for (int i = 0; i < kTokens; ++i)
    verifier->Verify("ok:u" + std::to_string(i) + ":" + std::to_string(kNow + 100));
  calls_ = 0;
  for (int i = 0; i < kTokens; ++i)
    verifier->Verify("ok:u" + std::to_string(i) + ":" + std::to_string(kNow + 100));
  // At most kMaxEntries of the tokens can still be cached, so every other one is verified again.
  EXPECT_GE(calls_.load(), kTokens - kMaxEntries);
}

TEST_F(VerifierCache, ZeroEntriesDisablesCache) {
  auto verifier = Make(0);
  std::string token = "ok:u1:" + std::to_string(kNow + 100);
  verifier->Verify(token);
  verifier->Verify(token);
  EXPECT_EQ(calls_.load(), 2);
}

TEST_F(VerifierCache, CachesRealHs256Verification) {
  Hs256Options options;
  options.now = [this] { return now_; };
  auto verifier = WithCache(MakeHs256Verifier(kSecret, options), 10, [this] { return now_; });
  std::string token = SignHs256({{"sub", "u1"}, {"exp", kNow + 100}}, kSecret);
  EXPECT_EQ(UserOf(verifier->Verify(token)), "u1");
  EXPECT_EQ(UserOf(verifier->Verify(token)), "u1");
  now_ = kNow + 100;  // cached entry gone; the inner verifier's leeway still accepts the token
  EXPECT_EQ(UserOf(verifier->Verify(token)), "u1");
  now_ = kNow + 160;
  EXPECT_EQ(ReasonOf(verifier->Verify(token)), "token expired");
}

// ---------------------------------------------------------------------------------------------
// Configuration

TEST(AuthConfig, ResolvesMode) {
  Config config;
  EXPECT_EQ(ResolveAuthMode(config), AuthMode::kLocal);
  config.auth_issuer = kIssuer;
  EXPECT_EQ(ResolveAuthMode(config), AuthMode::kOidc);
  config.auth0_test_mode = true;
  EXPECT_EQ(ResolveAuthMode(config), AuthMode::kTest);
  config.auth_mode = "local";
  EXPECT_EQ(ResolveAuthMode(config), AuthMode::kLocal);
  config = Config{};
  config.auth0_domain = "tenant.eu.auth0.com";
  EXPECT_EQ(ResolveAuthMode(config), AuthMode::kOidc);
  config.auth_mode = "ldap";
  EXPECT_THROW(ResolveAuthMode(config), ConfigError);
}

TEST(AuthConfig, TestModeUsesTestSecret) {
  Config config;
  config.auth0_test_mode = true;
  config.test_jwt_secret = kSecret;
  auto verifier = MakeVerifierFromConfig(config, std::nullopt);
  EXPECT_EQ(UserOf(verifier->Verify(SignHs256({{"sub", "u1"}}, kSecret))), "u1");
  config.test_jwt_secret.clear();
  EXPECT_THROW(MakeVerifierFromConfig(config, std::nullopt), ConfigError);
}

TEST(AuthConfig, LocalModeNeedsSecret) {
  Config config;
  EXPECT_THROW(MakeVerifierFromConfig(config, std::nullopt), ConfigError);
  auto verifier = MakeVerifierFromConfig(config, std::string(kSecret));
  json::object claims{{"sub", "u1"},
                      {"iss", kLocalIssuer},
                      {"aud", kLocalAudience},
                      {"exp", std::time(nullptr) + 600}};
  EXPECT_EQ(UserOf(verifier->Verify(SignHs256(claims, kSecret))), "u1");
  // A test-mode token (no iss, aud or exp) is not a local token.
  EXPECT_EQ(ReasonOf(verifier->Verify(SignHs256({{"sub", "u1"}}, kSecret))), "missing exp");
}

TEST(AuthConfig, OidcModeRejectsPlainHttpJwksUrl) {
  Config config;
  config.auth_issuer = kIssuer;
  config.auth_audience = kAudience;
  config.auth_jwks_url = "http://issuer.test/jwks.json";
  try {
    MakeVerifierFromConfig(config, std::nullopt);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("AUTH_JWKS_URL"), std::string::npos) << e.what();
  }
}

TEST(AuthConfig, OidcModeNeedsAudience) {
  Config config;
  config.auth_mode = "oidc";
  config.auth_issuer = kIssuer;
  EXPECT_THROW(MakeVerifierFromConfig(config, std::nullopt), ConfigError);
}

TEST_F(OidcVerification, ConfigReadsJwksFile) {
  std::filesystem::path path = std::filesystem::temp_directory_path() /
                               ("prism-auth-config-jwks-" + std::to_string(::getpid()) + ".json");
  std::ofstream(path) << jwks_;
  Config config;
  config.auth_issuer = kIssuer;
  config.auth_audience = kAudience;
  config.auth_jwks_file = path.string();
  auto verifier = MakeVerifierFromConfig(config, std::nullopt);
  json::object claims = Claims();
  claims["exp"] = std::time(nullptr) + 600;
  EXPECT_EQ(UserOf(verifier->Verify(SignRs256(claims, rsa_, "rsa-1"))), "auth0|123");
  std::filesystem::remove(path);
}

// ---------------------------------------------------------------------------------------------
// JWKS URL rules

TEST(JwksUrl, AcceptsHttps) {
  EXPECT_EQ(CheckJwksUrl("https://tenant.eu.auth0.com/.well-known/jwks.json"), std::nullopt);
}

TEST(JwksUrl, AcceptsPlainHttpOnLoopback) {
  EXPECT_EQ(CheckJwksUrl("http://127.0.0.1:9000/jwks.json"), std::nullopt);
  EXPECT_EQ(CheckJwksUrl("http://127.5.6.7/jwks.json"), std::nullopt);
  EXPECT_EQ(CheckJwksUrl("http://localhost:9000/jwks.json"), std::nullopt);
  EXPECT_EQ(CheckJwksUrl("http://[::1]:9000/jwks.json"), std::nullopt);
}

TEST(JwksUrl, RejectsPlainHttpElsewhere) {
  EXPECT_NE(CheckJwksUrl("http://issuer.test/jwks.json"), std::nullopt);
  EXPECT_NE(CheckJwksUrl("http://10.0.0.1/jwks.json"), std::nullopt);
}

TEST(JwksUrl, RejectsOtherSchemesAndNonUrls) {
  EXPECT_NE(CheckJwksUrl("ftp://issuer.test/jwks.json"), std::nullopt);
  EXPECT_NE(CheckJwksUrl("file:///etc/jwks.json"), std::nullopt);
  EXPECT_NE(CheckJwksUrl("issuer.test/jwks.json"), std::nullopt);
  EXPECT_NE(CheckJwksUrl(""), std::nullopt);
}

TEST(JwksUrl, RejectsHostWithAddressPrefix) {
  // Boost.URL 1.81 alone would read these as host 127.0.0.1 or 1.2.3.4 with a relative path.
  EXPECT_NE(CheckJwksUrl("http://127.0.0.1.nip.test/jwks.json"), std::nullopt);
  EXPECT_NE(CheckJwksUrl("https://1.2.3.4x/jwks.json"), std::nullopt);
}

TEST(JwksUrl, FetchRejectsDisallowedUrlWithoutConnecting) {
  JwksFetchOptions options;
  options.timeout = std::chrono::milliseconds(100);
  EXPECT_THROW(FetchJwks("http://issuer.test/jwks.json", options), JwksFetchError);
}

}  // namespace
}  // namespace prism::auth
