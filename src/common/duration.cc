#include "common/duration.h"

#include <cstdint>
#include <limits>

namespace prism {
namespace {

struct Unit {
  std::string_view name;
  int64_t nanoseconds;
};

// Longer names first so that "ms" is not read as "m" followed by garbage.
constexpr Unit kUnits[] = {
    {"ns", 1},
    {"us", 1'000},
    {"\xC2\xB5s", 1'000},  // U+00B5 micro sign
    {"\xCE\xBCs", 1'000},  // U+03BC Greek mu
    {"ms", 1'000'000},
    {"s", 1'000'000'000},
    {"m", 60LL * 1'000'000'000},
    {"h", 3600LL * 1'000'000'000},
};

std::optional<int64_t> MatchUnit(std::string_view& rest) {
  const Unit* best = nullptr;
  for (const Unit& unit : kUnits) {
    if (rest.starts_with(unit.name) && (!best || unit.name.size() > best->name.size())) {
      best = &unit;
    }
  }
  if (!best) return std::nullopt;
  rest.remove_prefix(best->name.size());
  return best->nanoseconds;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

std::optional<Duration> ParseDuration(std::string_view text) {
  if (text == "0") return Duration::zero();
  if (text.empty()) return std::nullopt;

  long double total = 0;
  std::string_view rest = text;
  while (!rest.empty()) {
    // One "<number>[.<fraction>]<unit>" element.
    long double value = 0;
    bool any_digit = false;
    while (!rest.empty() && IsDigit(rest.front())) {
      value = value * 10 + (rest.front() - '0');
      rest.remove_prefix(1);
      any_digit = true;
    }
    if (!rest.empty() && rest.front() == '.') {
      rest.remove_prefix(1);
      long double scale = 0.1L;
      while (!rest.empty() && IsDigit(rest.front())) {
        value += (rest.front() - '0') * scale;
        scale /= 10;
        rest.remove_prefix(1);
        any_digit = true;
      }
    }
    if (!any_digit) return std::nullopt;

    auto unit = MatchUnit(rest);
    if (!unit) return std::nullopt;
    total += value * static_cast<long double>(*unit);
    if (total > static_cast<long double>(std::numeric_limits<int64_t>::max())) return std::nullopt;
  }
  return Duration(static_cast<int64_t>(total));
}

std::string FormatDuration(Duration duration) {
  int64_t ns = duration.count();
  if (ns == 0) return "0s";

  std::string out;
  int64_t hours = ns / (3600LL * 1'000'000'000);
  ns %= 3600LL * 1'000'000'000;
  int64_t minutes = ns / (60LL * 1'000'000'000);
  ns %= 60LL * 1'000'000'000;
  if (hours) out += std::to_string(hours) + "h";
  if (minutes) out += std::to_string(minutes) + "m";
  if (ns == 0) return out;
  if (ns % 1'000'000'000 == 0) return out + std::to_string(ns / 1'000'000'000) + "s";
  if (ns % 1'000'000 == 0) return out + std::to_string(ns / 1'000'000) + "ms";
  return out + std::to_string(ns) + "ns";
}

}  // namespace prism
