// Six-field cron expressions with seconds: "sec min hour day-of-month month day-of-week".
//
// Hand-written because no Debian package parses cron expressions for C++.
#pragma once

#include <bitset>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace prism {

class CronSchedule {
 public:
  using TimePoint = std::chrono::sys_seconds;

  // Parses an expression. Each field accepts `*`, a number, a range `a-b`, a step `*/n` or
  // `a-b/n` or `a/n`, and comma-separated lists of these. Months accept JAN-DEC and days of week
  // SUN-SAT (0 and 7 are Sunday), case-insensitive. On failure returns nullopt and, when `error`
  // is not null, stores a message naming the field and what is wrong with it.
  static std::optional<CronSchedule> Parse(std::string_view expression, std::string* error);

  // Returns the first time strictly after `after` (UTC, whole seconds) that matches, or nullopt
  // when none exists in the next eight years (for example "0 0 0 30 2 *").
  // Day-of-month and day-of-week combine as in Vixie cron: when both are restricted (neither is
  // `*`), a day matches if either matches.
  std::optional<TimePoint> Next(TimePoint after) const;

 private:
  std::bitset<60> seconds_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_of_month_;  // 1..31
  std::bitset<13> months_;         // 1..12
  std::bitset<7> days_of_week_;    // 0..6, Sunday is 0
  bool day_of_month_restricted_ = false;
  bool day_of_week_restricted_ = false;
};

}  // namespace prism
