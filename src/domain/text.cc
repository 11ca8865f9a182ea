#include "domain/text.h"

#include <cstdint>

namespace prism::domain {

namespace {

bool IsContinuationByte(char c) { return (static_cast<uint8_t>(c) & 0xC0) == 0x80; }

// Decodes the code point of valid UTF-8 that starts at `text[0]`; sets `length` to its bytes.
char32_t DecodeAt(std::string_view text, std::size_t* length) {
  auto byte = [&](std::size_t i) { return static_cast<uint8_t>(text[i]); };
  uint8_t lead = byte(0);
  std::size_t size = 4;
  char32_t code_point = lead & 0x07;
  if (lead < 0x80) {
    size = 1;
    code_point = lead;
  } else if (lead < 0xE0) {
    size = 2;
    code_point = lead & 0x1F;
  } else if (lead < 0xF0) {
    size = 3;
    code_point = lead & 0x0F;
  }
  if (size > text.size()) {  // truncated input: treat the byte as one unit
    size = 1;
    code_point = lead;
  }
  for (std::size_t i = 1; i < size; ++i) code_point = (code_point << 6) | (byte(i) & 0x3F);
  *length = size;
  return code_point;
}

}  // namespace

std::size_t CountCodePoints(std::string_view text) {
  std::size_t count = 0;
  for (char c : text) {
    if (!IsContinuationByte(c)) ++count;
  }
  return count;
}

bool IsTrimmedWhitespace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000 || c == 0xFEFF;
}

std::string_view TrimWhitespace(std::string_view text) {
  while (!text.empty()) {
    std::size_t length = 0;
    if (!IsTrimmedWhitespace(DecodeAt(text, &length))) break;
    text.remove_prefix(length);
  }
  while (!text.empty()) {
    std::size_t start = text.size() - 1;
    while (start > 0 && IsContinuationByte(text[start])) --start;
    std::size_t length = 0;
    if (!IsTrimmedWhitespace(DecodeAt(text.substr(start), &length))) break;
    text.remove_suffix(text.size() - start);
  }
  return text;
}

}  // namespace prism::domain
