// Structured JSON logging on spdlog.
//
// Every line is one JSON object: {"ts", "level", "component", "msg", ...fields}.
// Components get their own named logger so the "component" field comes from spdlog itself.
#pragma once

#include <chrono>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include <spdlog/spdlog.h>

namespace prism::log {

// One key/value field of a log line. Values are written as JSON strings, numbers or booleans.
struct Field {
  Field(std::string_view k, std::string_view v) : key(k), value(Quote(v)) {}
  Field(std::string_view k, const std::string& v) : key(k), value(Quote(v)) {}
  Field(std::string_view k, const char* v) : key(k), value(Quote(v)) {}
  Field(std::string_view k, bool v) : key(k), value(v ? "true" : "false") {}
  template <typename N>
  requires std::is_arithmetic_v<N> Field(std::string_view k, N v)
      : key(k), value(std::to_string(v)) {}

  static std::string Quote(std::string_view text);

  std::string_view key;
  std::string value;  // already JSON-encoded
};

using Fields = std::initializer_list<Field>;

// Sets up the default sink (stderr, JSON lines). Debug level when `debug` is true.
void Init(bool debug);

// Returns the logger of a component ("api", "domain", "projector", ...), creating it on first use.
std::shared_ptr<spdlog::logger> Get(std::string_view component);

// Builds the JSON body of a line: "msg" plus the fields, without the surrounding braces.
std::string Body(std::string_view message, Fields fields);

inline void Info(std::string_view component, std::string_view message, Fields fields = {}) {
  Get(component)->info(Body(message, fields));
}
inline void Debug(std::string_view component, std::string_view message, Fields fields = {}) {
  auto logger = Get(component);
  if (logger->should_log(spdlog::level::debug)) logger->debug(Body(message, fields));
}
inline void Warn(std::string_view component, std::string_view message, Fields fields = {}) {
  Get(component)->warn(Body(message, fields));
}
inline void Error(std::string_view component, std::string_view message, Fields fields = {}) {
  Get(component)->error(Body(message, fields));
}

// Lets a repeated message through at most once per interval per key, and reports how many
// were suppressed on the next line that gets through. Thread-safe.
class RateLimiter {
 public:
  explicit RateLimiter(std::chrono::steady_clock::duration interval) : interval_(interval) {}

  // Returns the number of suppressed repeats (>= 0) when the line may be logged, or -1.
  long Admit(std::string_view key);

 private:
  struct Slot {
    std::chrono::steady_clock::time_point last{};
    long suppressed = 0;
  };
  std::chrono::steady_clock::duration interval_;
  std::mutex mutex_;
  std::unordered_map<std::string, Slot> slots_;  // guarded by mutex_
};

}  // namespace prism::log
