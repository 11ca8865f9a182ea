// PostgreSQL array literals for passing many values as one $n::text[] parameter.
#pragma once

#include <string>
#include <string_view>

namespace prism::postgres {

// Formats the projected texts of `items` as a PostgreSQL array literal for a $n::text[]
// parameter, such as {"a","b\"c"}. Every element is double-quoted with " and \ escaped, so
// commas, braces, spaces and the word NULL stay plain text.
template <typename Range, typename Project>
std::string TextArray(const Range& items, Project project) {
  std::string literal = "{";
  for (const auto& item : items) {
    if (literal.size() > 1) literal += ',';
    literal += '"';
    for (char c : std::string_view(project(item))) {
      if (c == '"' || c == '\\') literal += '\\';
      literal += c;
    }
    literal += '"';
  }
  literal += '}';
  return literal;
}

}  // namespace prism::postgres
