// Fuzzes the page-token decoder of GET /api/tasks. A forged token must never decode, and a token
// the codec encodes must decode to the same cursor, for the same user only.
//
// Input: "<user id>\n<token>". The bytes after the newline are also read as a cursor to encode.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "query/page_token.h"

namespace {

using prism::query::PageCursor;
using prism::query::PageTokenCodec;

const PageTokenCodec& Codec() {
  static const PageTokenCodec codec("fuzz-page-token-key-0123456789abcdef");
  return codec;
}

PageCursor CursorFrom(std::string_view bytes) {
  unsigned char raw[12] = {};
  std::memcpy(raw, bytes.data(), bytes.size() < sizeof raw ? bytes.size() : sizeof raw);
  PageCursor cursor;
  std::memcpy(&cursor.page_index, raw, 4);
  uint64_t after = 0;
  std::memcpy(&after, raw + 4, 8);
  cursor.after_position = static_cast<int64_t>(after & INT64_MAX);
  return cursor;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t newline = input.find('\n');
  std::string_view user = input.substr(0, newline);
  std::string_view token = newline == std::string_view::npos ? "" : input.substr(newline + 1);

  auto cursor = Codec().Decode(user, token);
  if (cursor && cursor->after_position < 0) std::abort();

  PageCursor original = CursorFrom(token);
  std::string encoded = Codec().Encode(user, original);
  auto decoded = Codec().Decode(user, encoded);
  if (!decoded) std::abort();
  if (decoded->after_position != original.after_position) std::abort();
  if (decoded->page_index != original.page_index) std::abort();
  std::string other_user(user);
  other_user += 'x';
  if (Codec().Decode(other_user, encoded)) std::abort();
  return 0;
}
