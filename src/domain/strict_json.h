// A JSON parser for untrusted input that is stricter than boost::json::parse.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

namespace prism::domain {

// Nesting depth that command bodies are parsed with. A valid command needs 3 levels (batch array,
// command, data); the rest leaves room for extra fields that old clients nest inside `data`.
inline constexpr std::size_t kMaxCommandJsonDepth = 32;

// Parses one JSON document like boost::json::parse, with standard JSON only, UTF-8 validated
// (lone surrogate escapes are rejected too), and at most `max_depth` levels of nesting. It also
// rejects an object that repeats a key, which boost::json::parse (Boost 1.81) accepts by keeping
// the last value, so that a client and this parser never read different values for one field.
//
// Numbers keep Boost's mapping: integers that fit int64 or uint64 become those kinds, anything
// else (fractions, exponents, integers beyond 64 bits) becomes a double, +-Infinity on overflow.
// Returns nullopt and sets `error` on failure. Never throws, because it catches std::exception
// (allocation failure) as well. basic_parser keeps its own stack instead of recursing, so deep
// nesting cannot exhaust the call stack.
std::optional<boost::json::value> ParseStrictJson(std::string_view text, std::size_t max_depth,
                                                  std::string* error);

}  // namespace prism::domain
