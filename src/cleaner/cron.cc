#include "cleaner/cron.h"

#include <array>
#include <cctype>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace prism {
namespace {

constexpr std::string_view kFieldOrder = "seconds minutes hours day-of-month month day-of-week";
constexpr std::string_view kExample = "0 */5 * * * *";

// Searching this far ahead covers eight whole years, whatever the leap years.
constexpr std::chrono::days kHorizon{8 * 366};

constexpr std::array<std::string_view, 12> kMonthNames = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                          "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr std::array<std::string_view, 7> kDayNames = {"SUN", "MON", "TUE", "WED",
                                                       "THU", "FRI", "SAT"};

// The syntax and value range of one of the six fields.
struct FieldSpec {
  std::string_view name;
  int min = 0;
  int max = 0;
  std::span<const std::string_view> names = {};  // names[i] is the name of value i + names_base
  int names_base = 0;
  std::string_view names_hint = {};  // how the names are described in errors
  bool accepts_question_mark = false;
};

constexpr FieldSpec kSeconds{.name = "seconds", .min = 0, .max = 59};
constexpr FieldSpec kMinutes{.name = "minutes", .min = 0, .max = 59};
constexpr FieldSpec kHours{.name = "hours", .min = 0, .max = 23};
constexpr FieldSpec kDaysOfMonth{
    .name = "day-of-month", .min = 1, .max = 31, .accepts_question_mark = true};
constexpr FieldSpec kMonths{.name = "month",
                            .min = 1,
                            .max = 12,
                            .names = kMonthNames,
                            .names_base = 1,
                            .names_hint = "a month name (JAN-DEC)"};
constexpr FieldSpec kDaysOfWeek{.name = "day-of-week",
                                .min = 0,
                                .max = 7,
                                .names = kDayNames,
                                .names_base = 0,
                                .names_hint = "a day name (SUN-SAT)",
                                .accepts_question_mark = true};

constexpr std::string_view kQuestionMarkFieldsOnly =
    "\"?\" is only allowed in the day-of-month and day-of-week fields";

// Numbers with more digits than this are out of range in every field, and would overflow an int.
constexpr size_t kMaxDigits = 9;

bool IsBlank(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

bool IsAllDigits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(a[i])) != b[i]) return false;
  }
  return true;
}

std::vector<std::string_view> SplitFields(std::string_view expression) {
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (i < expression.size()) {
    while (i < expression.size() && IsBlank(expression[i])) ++i;
    const size_t start = i;
    while (i < expression.size() && !IsBlank(expression[i])) ++i;
    if (i > start) fields.push_back(expression.substr(start, i - start));
  }
  return fields;
}

std::string FieldCountError(size_t count) {
  std::string message = "expected six fields with seconds (" + std::string(kFieldOrder) +
                        "), for example \"" + std::string(kExample) + "\"";
  if (count == 0) return message + ", but the expression is empty";
  message += ", but got " + std::to_string(count);
  if (count == 5) message += ". Add the seconds field in front";
  return message;
}

// Parses the text of one field into a bit mask of its values (bit v set when v matches).
// On failure stores `<field> field "<bad part>": <problem>` in `error`.
class FieldParser {
 public:
  FieldParser(const FieldSpec& spec, std::string* error) : spec_(spec), error_(error) {}

  std::optional<uint64_t> Parse(std::string_view text) {
    if (text == "?") {
      if (spec_.accepts_question_mark) return RangeMask(spec_.min, spec_.max, 1);
      item_ = text;
      return Fail(kQuestionMarkFieldsOnly);
    }

    uint64_t mask = 0;
    size_t start = 0;
    while (true) {
      const size_t comma = text.find(',', start);
      item_ = text.substr(start, comma == std::string_view::npos ? comma : comma - start);
      if (item_.empty()) {
        item_ = text;
        return Fail("a list item is empty");
      }

      const std::optional<uint64_t> item_mask = ParseItem();
      if (!item_mask) return std::nullopt;
      mask |= *item_mask;

      if (comma == std::string_view::npos) return mask;
      start = comma + 1;
    }
  }

 private:
  // Parses `item_`: a base (`*`, a value or a range `a-b`) with an optional step `/n`.
  std::optional<uint64_t> ParseItem() {
    const size_t slash = item_.find('/');
    const bool has_step = slash != std::string_view::npos;
    const std::optional<std::pair<int, int>> bounds = ParseBase(item_.substr(0, slash), has_step);
    if (!bounds) return std::nullopt;

    int step = 1;
    if (has_step) {
      const std::optional<int> parsed_step = ParseStep(item_.substr(slash + 1));
      if (!parsed_step) return std::nullopt;
      step = *parsed_step;
    }
    return RangeMask(bounds->first, bounds->second, step);
  }

  // Returns the first and last value that the base of an item covers.
  std::optional<std::pair<int, int>> ParseBase(std::string_view base, bool has_step) {
    if (base == "*") return std::pair(spec_.min, spec_.max);
    if (base.empty()) return Fail("a value or \"*\" is missing before \"/\"");
    if (base == "?") {
      if (!spec_.accepts_question_mark) return Fail(kQuestionMarkFieldsOnly);
      return Fail("\"?\" must be the whole field, not part of a list or step");
    }

    const size_t dash = base.find('-');
    if (dash == std::string_view::npos) {
      const std::optional<int> value = ParseValue(base, "value");
      if (!value) return std::nullopt;
      // `a/n` runs from a to the field's maximum. A plain `a` is that value alone.
      return std::pair(*value, has_step ? spec_.max : *value);
    }
    return ParseRange(base.substr(0, dash), base.substr(dash + 1));
  }

  std::optional<std::pair<int, int>> ParseRange(std::string_view start_text,
                                                std::string_view end_text) {
    const std::optional<int> start = ParseValue(start_text, "range start");
    if (!start) return std::nullopt;
    const std::optional<int> end = ParseValue(end_text, "range end");
    if (!end) return std::nullopt;

    if (*start > *end) {
      return Fail("range start " + std::string(start_text) + " is after end " +
                  std::string(end_text));
    }
    return std::pair(*start, *end);
  }

  std::optional<int> ParseStep(std::string_view text) {
    if (text.empty()) return Fail("the step after \"/\" is missing");
    if (text.find('/') != std::string_view::npos) return Fail("only one \"/\" is allowed");
    if (!IsAllDigits(text)) return Fail("step \"" + std::string(text) + "\" is not a number");

    const int count = spec_.max - spec_.min + 1;
    const std::string range = " is out of range 1-" + std::to_string(count);
    if (text.size() > kMaxDigits) return Fail("step " + std::string(text) + range);
    const int step = std::stoi(std::string(text));
    if (step < 1) return Fail("step must be at least 1");
    if (step > count) return Fail("step " + std::to_string(step) + range);
    return step;
  }

  // Parses a number or, in the month and day-of-week fields, a name. `role` names the part of
  // the item that the text is ("value", "range start" or "range end").
  std::optional<int> ParseValue(std::string_view text, std::string_view role) {
    if (text.empty()) return Fail(std::string(role) + " is missing");

    for (size_t i = 0; i < spec_.names.size(); ++i) {
      if (EqualsIgnoringCase(text, spec_.names[i])) return static_cast<int>(i) + spec_.names_base;
    }

    if (!IsAllDigits(text)) {
      std::string problem = "\"" + std::string(text) + "\" is not a number";
      if (!spec_.names_hint.empty()) problem += " or " + std::string(spec_.names_hint);
      return Fail(problem);
    }

    const std::string range =
        " is out of range " + std::to_string(spec_.min) + "-" + std::to_string(spec_.max);
    if (text.size() > kMaxDigits) return Fail("value " + std::string(text) + range);
    const int value = std::stoi(std::string(text));
    if (value < spec_.min || value > spec_.max) {
      return Fail("value " + std::to_string(value) + range);
    }
    return value;
  }

  static uint64_t RangeMask(int start, int end, int step) {
    uint64_t mask = 0;
    for (int value = start; value <= end; value += step) mask |= uint64_t{1} << value;
    return mask;
  }

  // Stores the error for the current item and returns nullopt, whatever the caller's type.
  std::nullopt_t Fail(std::string_view problem) {
    if (error_ != nullptr) {
      *error_ = std::string(spec_.name) + " field \"" + std::string(item_) +
                "\": " + std::string(problem);
    }
    return std::nullopt;
  }

  const FieldSpec& spec_;
  std::string* error_;
  std::string_view item_;  // the list item being parsed, quoted in errors
};

// Returns the smallest index >= `from` whose bit is set, or -1 when there is none.
template <size_t N>
int FirstSetFrom(const std::bitset<N>& bits, int from) {
  for (int i = from; i < static_cast<int>(N); ++i) {
    if (bits[i]) return i;
  }
  return -1;
}

std::chrono::sys_days FirstDayOfNextMonth(const std::chrono::year_month_day& date,
                                          const std::bitset<13>& months) {
  int year = static_cast<int>(date.year());
  int month = FirstSetFrom(months, static_cast<int>(static_cast<unsigned>(date.month())) + 1);
  if (month < 0) {
    ++year;
    month = FirstSetFrom(months, 1);
  }
  return std::chrono::sys_days(std::chrono::year{year} /
                               std::chrono::month{static_cast<unsigned>(month)} / 1);
}

}  // namespace

std::optional<CronSchedule> CronSchedule::Parse(std::string_view expression, std::string* error) {
  const std::vector<std::string_view> fields = SplitFields(expression);
  if (fields.size() != 6) {
    if (error != nullptr) *error = FieldCountError(fields.size());
    return std::nullopt;
  }

  static constexpr const FieldSpec* kSpecs[6] = {&kSeconds,     &kMinutes, &kHours,
                                                 &kDaysOfMonth, &kMonths,  &kDaysOfWeek};
  std::array<uint64_t, 6> masks{};
  for (size_t i = 0; i < fields.size(); ++i) {
    const std::optional<uint64_t> mask = FieldParser(*kSpecs[i], error).Parse(fields[i]);
    if (!mask) return std::nullopt;
    masks[i] = *mask;
  }

  CronSchedule schedule;
  schedule.expression_ = std::string(expression);
  schedule.seconds_ = std::bitset<60>(masks[0]);
  schedule.minutes_ = std::bitset<60>(masks[1]);
  schedule.hours_ = std::bitset<24>(masks[2]);
  schedule.days_of_month_ = std::bitset<32>(masks[3]);
  schedule.months_ = std::bitset<13>(masks[4]);
  // Day 7 is another name for Sunday (0).
  const uint64_t sunday = (masks[5] >> 7) & 1;
  schedule.days_of_week_ = std::bitset<7>(masks[5] | sunday);

  schedule.day_of_month_restricted_ = fields[3] != "*" && fields[3] != "?";
  schedule.day_of_week_restricted_ = fields[5] != "*" && fields[5] != "?";
  return schedule;
}

bool CronSchedule::DayMatches(std::chrono::sys_days day) const {
  const std::chrono::year_month_day date(day);
  const bool day_of_month_matches = days_of_month_[static_cast<unsigned>(date.day())];
  const bool day_of_week_matches = days_of_week_[std::chrono::weekday(day).c_encoding()];

  // An unrestricted field has every bit set, so AND reduces to the other field alone.
  if (day_of_month_restricted_ && day_of_week_restricted_) {
    return day_of_month_matches || day_of_week_matches;
  }
  return day_of_month_matches && day_of_week_matches;
}

std::optional<std::chrono::seconds> CronSchedule::FirstTimeOfDay(int hour, int minute,
                                                                 int second) const {
  while (true) {
    const int h = FirstSetFrom(hours_, hour);
    if (h < 0) return std::nullopt;
    if (h != hour) {
      minute = 0;
      second = 0;
    }

    const int m = FirstSetFrom(minutes_, minute);
    if (m < 0) {
      hour = h + 1;
      minute = 0;
      second = 0;
      continue;
    }
    if (m != minute) second = 0;

    const int s = FirstSetFrom(seconds_, second);
    if (s < 0) {
      hour = h;
      minute = m + 1;
      second = 0;
      continue;
    }
    return std::chrono::hours(h) + std::chrono::minutes(m) + std::chrono::seconds(s);
  }
}

std::optional<CronSchedule::TimePoint> CronSchedule::Next(TimePoint after) const {
  const TimePoint start = after + std::chrono::seconds(1);
  std::chrono::sys_days day = std::chrono::floor<std::chrono::days>(start);
  const std::chrono::sys_days last_day = day + kHorizon;

  // The search starts at the time of day of `start`, and at midnight on every later day.
  const std::chrono::hh_mm_ss time_of_day(start - day);
  int hour = static_cast<int>(time_of_day.hours().count());
  int minute = static_cast<int>(time_of_day.minutes().count());
  int second = static_cast<int>(time_of_day.seconds().count());

  while (day <= last_day) {
    const std::chrono::year_month_day date(day);
    if (!months_[static_cast<unsigned>(date.month())]) {
      day = FirstDayOfNextMonth(date, months_);
    } else if (!DayMatches(day)) {
      day += std::chrono::days(1);
    } else if (auto time = FirstTimeOfDay(hour, minute, second)) {
      return TimePoint(day) + *time;
    } else {
      day += std::chrono::days(1);
    }
    hour = 0;
    minute = 0;
    second = 0;
  }
  return std::nullopt;
}

}  // namespace prism
