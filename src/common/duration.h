// Durations written in Go's syntax ("500ms", "15s", "1h30m", "1.5h").
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace prism {

using Duration = std::chrono::nanoseconds;

// Parses a Go duration: a sequence of decimal numbers, each with an optional fraction and a unit
// (ns, us, µs, ms, s, m, h), such as "300ms" or "2h45m". "0" alone is allowed. Returns nullopt
// for anything else, including a sign, a missing unit or an overflow.
std::optional<Duration> ParseDuration(std::string_view text);

// Formats a duration the way Go prints it, for help text and logs ("12h0m0s" is written "12h").
std::string FormatDuration(Duration duration);

}  // namespace prism
