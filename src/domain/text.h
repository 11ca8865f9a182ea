// UTF-8 text rules of the command catalog: length in code points and whitespace trimming.
#pragma once

#include <cstddef>
#include <string_view>

namespace prism::domain {

// Number of Unicode code points in `text`, which must be valid UTF-8 (as every string from
// ParseStrictJson is): it counts the bytes that do not continue a multi-byte sequence.
std::size_t CountCodePoints(std::string_view text);

// Whether `code_point` is whitespace that titles are trimmed of. The set is the one that
// JavaScript's String.prototype.trim removes: tab, LF, VT, FF, CR, space, U+00A0, U+1680, U+2000
// to U+200A, U+2028, U+2029, U+202F, U+205F, U+3000 and U+FEFF. So a title that a browser client
// trimmed stays unchanged here.
bool IsTrimmedWhitespace(char32_t code_point);

// Returns `text` without leading and trailing IsTrimmedWhitespace code points. `text` must be
// valid UTF-8.
std::string_view TrimWhitespace(std::string_view text);

}  // namespace prism::domain
