// Six-field cron expressions with seconds: "sec min hour day-of-month month day-of-week".
//
// Hand-written because no Debian package parses cron expressions for C++.
// Times are UTC: a schedule names UTC wall-clock times, and no time zone or daylight saving time
// applies.
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
  //
  // Fields are separated by whitespace, and there must be exactly six: seconds (0-59),
  // minutes (0-59), hours (0-23), day-of-month (1-31), month (1-12) and day-of-week (0-7).
  // `a/n` means every n-th value from a to the field's maximum, which is 7 for day-of-week, so
  // `1/2` includes Sunday. A step must be between 1 and the number of values of its field, and a
  // range must not wrap around (`FRI-MON` is invalid).
  // `?` alone in the day-of-month or day-of-week field means the same as `*`, as in Quartz.
  // It is invalid in any other field or inside a list, range or step.
  static std::optional<CronSchedule> Parse(std::string_view expression, std::string* error);

  // Returns the first time strictly after `after` (UTC, whole seconds) that matches, or nullopt
  // when none exists in the next eight years (for example "0 0 0 30 2 *").
  // Day-of-month and day-of-week combine as in Vixie cron: when both are restricted (neither is
  // `*`), a day matches if either matches.
  // A field is restricted unless it is exactly `*` or `?`, so `*/2` counts as restricted here.
  // Vixie cron differs: it treats every field that starts with `*` as unrestricted.
  // Checks whole months, days, hours and minutes at a time, so it never scans second by second.
  std::optional<TimePoint> Next(TimePoint after) const;

  // The expression as given to Parse, for logs.
  const std::string& expression() const { return expression_; }

 private:
  bool DayMatches(std::chrono::sys_days day) const;

  // Returns the first matching time of day at or after hour:minute:second, or nullopt when none
  // is left in the day.
  std::optional<std::chrono::seconds> FirstTimeOfDay(int hour, int minute, int second) const;

  std::string expression_;
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
