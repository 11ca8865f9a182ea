#include "query/page_token.h"

#include <array>
#include <cstring>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/base64url.h"

namespace prism::query {
namespace {

constexpr uint8_t kFormatVersion = 1;
constexpr size_t kPayloadBytes = 1 + 4 + 8;  // version, page index, after position
constexpr size_t kMacBytes = 16;             // truncated HMAC-SHA256, 128 bits

void PutBigEndian(std::string& out, uint64_t value, int bytes) {
  for (int shift = (bytes - 1) * 8; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((value >> shift) & 0xFF));
  }
}

uint64_t GetBigEndian(std::string_view in, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value = (value << 8) | static_cast<uint8_t>(in[i]);
  return value;
}

std::string Mac(const std::string& key, std::string_view user_id, std::string_view payload) {
  // The user id is length-prefixed so that no (user, payload) pair collides with another.
  std::string input;
  input.reserve(8 + user_id.size() + payload.size());
  PutBigEndian(input, user_id.size(), 8);
  input.append(user_id);
  input.append(payload);

  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest.data(), &length);
  return std::string(reinterpret_cast<const char*>(digest.data()), kMacBytes);
}

}  // namespace

PageTokenCodec::PageTokenCodec(std::string key) : key_(std::move(key)) {}

std::string PageTokenCodec::Encode(std::string_view user_id, const PageCursor& cursor) const {
  std::string payload;
  payload.reserve(kPayloadBytes + kMacBytes);
  payload.push_back(static_cast<char>(kFormatVersion));
  PutBigEndian(payload, cursor.page_index, 4);
  PutBigEndian(payload, static_cast<uint64_t>(cursor.after_position), 8);
  payload += Mac(key_, user_id, payload);
  return Base64UrlEncode(payload);
}

std::optional<PageCursor> PageTokenCodec::Decode(std::string_view user_id,
                                                 std::string_view token) const {
  if (token.size() > 64) return std::nullopt;
  auto bytes = Base64UrlDecode(token);
  if (!bytes || bytes->size() != kPayloadBytes + kMacBytes) return std::nullopt;
  if (static_cast<uint8_t>((*bytes)[0]) != kFormatVersion) return std::nullopt;

  std::string_view payload(bytes->data(), kPayloadBytes);
  std::string expected = Mac(key_, user_id, payload);
  if (CRYPTO_memcmp(expected.data(), bytes->data() + kPayloadBytes, kMacBytes) != 0) {
    return std::nullopt;
  }

  PageCursor cursor;
  cursor.page_index = static_cast<uint32_t>(GetBigEndian(payload.substr(1), 4));
  uint64_t after = GetBigEndian(payload.substr(5), 8);
  if (after > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
  cursor.after_position = static_cast<int64_t>(after);
  return cursor;
}

}  // namespace prism::query
