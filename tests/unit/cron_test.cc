#include "cleaner/cron.h"

#include <bitset>
#include <chrono>
#include <cstdio>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace prism {
namespace {

using Time = CronSchedule::TimePoint;

// Parses "YYYY-MM-DD HH:MM:SS" as UTC.
Time At(const std::string& text) {
  int year = 0;
  unsigned month = 0;
  unsigned day = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  const int parsed =
      std::sscanf(text.c_str(), "%d-%u-%u %d:%d:%d", &year, &month, &day, &hour, &minute, &second);
  EXPECT_EQ(parsed, 6) << text;
  const std::chrono::year_month_day date{std::chrono::year{year}, std::chrono::month{month},
                                         std::chrono::day{day}};
  EXPECT_TRUE(date.ok()) << text;
  return std::chrono::sys_days(date) + std::chrono::hours(hour) + std::chrono::minutes(minute) +
         std::chrono::seconds(second);
}

std::string Format(Time time) {
  const auto day = std::chrono::floor<std::chrono::days>(time);
  const std::chrono::year_month_day date(day);
  const std::chrono::hh_mm_ss clock(time - day);
  char text[32];
  std::snprintf(text, sizeof text, "%04d-%02u-%02u %02d:%02d:%02d", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                static_cast<int>(clock.hours().count()), static_cast<int>(clock.minutes().count()),
                static_cast<int>(clock.seconds().count()));
  return text;
}

CronSchedule ParseOrDie(const std::string& expression) {
  std::string error;
  std::optional<CronSchedule> schedule = CronSchedule::Parse(expression, &error);
  EXPECT_TRUE(schedule.has_value()) << expression << ": " << error;
  if (!schedule) return *CronSchedule::Parse("* * * * * *", nullptr);
  return *schedule;
}

// The next `count` fire times after `start`, formatted; "none" where Next returns nullopt.
std::vector<std::string> Fires(const std::string& expression, const std::string& start, int count) {
  const CronSchedule schedule = ParseOrDie(expression);
  std::vector<std::string> fires;
  Time time = At(start);
  for (int i = 0; i < count; ++i) {
    const std::optional<Time> next = schedule.Next(time);
    if (!next) {
      fires.push_back("none");
      break;
    }
    fires.push_back(Format(*next));
    time = *next;
  }
  return fires;
}

std::string ParseError(const std::string& expression) {
  std::string error;
  const std::optional<CronSchedule> schedule = CronSchedule::Parse(expression, &error);
  EXPECT_FALSE(schedule.has_value()) << expression;
  return error;
}

struct FiresCase {
  std::string expression;
  std::string start;
  std::vector<std::string> expected;
};

void ExpectFires(const std::vector<FiresCase>& cases) {
  for (const FiresCase& c : cases) {
    SCOPED_TRACE("\"" + c.expression + "\" after " + c.start);
    EXPECT_EQ(Fires(c.expression, c.start, static_cast<int>(c.expected.size())), c.expected);
  }
}

// --- Parsing ---------------------------------------------------------------------------------

TEST(CronSchedule, ParsesDefaultSchedule) {
  std::string error;
  const std::optional<CronSchedule> schedule = CronSchedule::Parse("0 */5 * * * *", &error);
  ASSERT_TRUE(schedule.has_value()) << error;
  EXPECT_EQ(schedule->expression(), "0 */5 * * * *");
  EXPECT_TRUE(error.empty());
}

TEST(CronSchedule, DefaultFiresEveryFiveMinutes) {
  ExpectFires({
      {"0 */5 * * * *",
       "2025-06-01 10:00:00",
       {"2025-06-01 10:05:00", "2025-06-01 10:10:00", "2025-06-01 10:15:00"}},
      {"0 */5 * * * *", "2025-06-01 10:57:30", {"2025-06-01 11:00:00", "2025-06-01 11:05:00"}},
      {"0 */5 * * * *", "2025-12-31 23:58:00", {"2026-01-01 00:00:00"}},
  });
}

TEST(CronSchedule, AcceptsTabsAndExtraSpaces) {
  ExpectFires({
      {"  0\t*/5   * * *\t* ", "2025-06-01 10:00:00", {"2025-06-01 10:05:00"}},
  });
}

TEST(CronSchedule, AcceptsNullErrorPointer) {
  EXPECT_FALSE(CronSchedule::Parse("bad", nullptr).has_value());
  EXPECT_TRUE(CronSchedule::Parse("* * * * * *", nullptr).has_value());
}

TEST(CronSchedule, SecondsFieldForms) {
  const std::string start = "2025-06-01 10:00:00";
  ExpectFires({
      {"* * * * * *", start, {"2025-06-01 10:00:01", "2025-06-01 10:00:02"}},
      {"7 * * * * *", start, {"2025-06-01 10:00:07", "2025-06-01 10:01:07"}},
      {"10-12 * * * * *",
       start,
       {"2025-06-01 10:00:10", "2025-06-01 10:00:11", "2025-06-01 10:00:12",
        "2025-06-01 10:01:10"}},
      {"*/20 * * * * *",
       start,
       {"2025-06-01 10:00:20", "2025-06-01 10:00:40", "2025-06-01 10:01:00"}},
      {"10-30/10 * * * * *",
       start,
       {"2025-06-01 10:00:10", "2025-06-01 10:00:20", "2025-06-01 10:00:30",
        "2025-06-01 10:01:10"}},
      {"1,3,59 * * * * *",
       start,
       {"2025-06-01 10:00:01", "2025-06-01 10:00:03", "2025-06-01 10:00:59",
        "2025-06-01 10:01:01"}},
      {"1-2,50/5 * * * * *",
       start,
       {"2025-06-01 10:00:01", "2025-06-01 10:00:02", "2025-06-01 10:00:50", "2025-06-01 10:00:55",
        "2025-06-01 10:01:01"}},
      {"*/60 * * * * *", start, {"2025-06-01 10:01:00", "2025-06-01 10:02:00"}},
      {"07 * * * * *", start, {"2025-06-01 10:00:07"}},
  });
}

TEST(CronSchedule, StepsFromStartValue) {
  ExpectFires({
      {"5/15 * * * * *",
       "2025-06-01 10:00:00",
       {"2025-06-01 10:00:05", "2025-06-01 10:00:20", "2025-06-01 10:00:35", "2025-06-01 10:00:50",
        "2025-06-01 10:01:05"}},
      {"0 0 20/2 * * *",
       "2025-06-01 00:00:00",
       {"2025-06-01 20:00:00", "2025-06-01 22:00:00", "2025-06-02 20:00:00"}},
      {"0 0 0 25/3 * *",
       "2025-06-01 00:00:00",
       {"2025-06-25 00:00:00", "2025-06-28 00:00:00", "2025-07-25 00:00:00", "2025-07-28 00:00:00",
        "2025-07-31 00:00:00", "2025-08-25 00:00:00"}},
  });
}

TEST(CronSchedule, MinutesAndHoursFieldForms) {
  ExpectFires({
      {"0 30 * * * *", "2025-06-01 10:00:00", {"2025-06-01 10:30:00", "2025-06-01 11:30:00"}},
      {"0 0,45 9-10 * * *",
       "2025-06-01 00:00:00",
       {"2025-06-01 09:00:00", "2025-06-01 09:45:00", "2025-06-01 10:00:00", "2025-06-01 10:45:00",
        "2025-06-02 09:00:00"}},
      {"30 15 */6 * * *",
       "2025-06-01 00:00:00",
       {"2025-06-01 00:15:30", "2025-06-01 06:15:30", "2025-06-01 12:15:30", "2025-06-01 18:15:30",
        "2025-06-02 00:15:30"}},
      {"0 0 8-18/5 * * *",
       "2025-06-01 00:00:00",
       {"2025-06-01 08:00:00", "2025-06-01 13:00:00", "2025-06-01 18:00:00",
        "2025-06-02 08:00:00"}},
  });
}

TEST(CronSchedule, MonthFieldForms) {
  ExpectFires({
      {"0 0 0 1 3 *", "2025-06-01 00:00:00", {"2026-03-01 00:00:00", "2027-03-01 00:00:00"}},
      {"0 0 0 1 JAN,jul *",
       "2025-06-01 00:00:00",
       {"2025-07-01 00:00:00", "2026-01-01 00:00:00", "2026-07-01 00:00:00"}},
      {"0 0 0 1 */4 *",
       "2025-06-01 00:00:00",
       {"2025-09-01 00:00:00", "2026-01-01 00:00:00", "2026-05-01 00:00:00"}},
      {"0 0 0 15 feb-apr *",
       "2025-06-01 00:00:00",
       {"2026-02-15 00:00:00", "2026-03-15 00:00:00", "2026-04-15 00:00:00",
        "2027-02-15 00:00:00"}},
  });
}

TEST(CronSchedule, MonthAndDayNamesIgnoreCase) {
  const std::vector<std::string> expected = {"2025-06-02 00:00:00", "2025-06-09 00:00:00"};
  for (const std::string day : {"MON", "mon", "Mon", "mOn", "1"}) {
    SCOPED_TRACE(day);
    EXPECT_EQ(Fires("0 0 0 * * " + day, "2025-06-01 00:00:00", 2), expected);
  }
  for (const std::string month : {"AUG", "aug", "Aug", "8"}) {
    SCOPED_TRACE(month);
    EXPECT_EQ(Fires("0 0 0 1 " + month + " *", "2025-06-01 00:00:00", 1),
              std::vector<std::string>{"2025-08-01 00:00:00"});
  }
}

TEST(CronSchedule, DayOfWeekSundayIsZeroAndSeven) {
  // 2025-06-01 is a Sunday.
  const std::vector<std::string> sundays = {"2025-06-08 00:00:00", "2025-06-15 00:00:00"};
  for (const std::string day : {"0", "7", "SUN", "sun", "0,7", "7-7", "*/7"}) {
    SCOPED_TRACE(day);
    EXPECT_EQ(Fires("0 0 0 * * " + day, "2025-06-01 00:00:00", 2), sundays);
  }
}

TEST(CronSchedule, DayOfWeekRangesAndSteps) {
  // 2025-06-06 is a Friday.
  ExpectFires({
      {"0 0 0 * * 5-7",
       "2025-06-05 00:00:00",
       {"2025-06-06 00:00:00", "2025-06-07 00:00:00", "2025-06-08 00:00:00",
        "2025-06-13 00:00:00"}},
      {"0 0 0 * * MON-FRI",
       "2025-06-06 00:00:00",
       {"2025-06-09 00:00:00", "2025-06-10 00:00:00", "2025-06-11 00:00:00", "2025-06-12 00:00:00",
        "2025-06-13 00:00:00", "2025-06-16 00:00:00"}},
      // `1/2` runs to 7, so it includes Sunday.
      {"0 0 0 * * 1/2",
       "2025-06-01 00:00:00",
       {"2025-06-02 00:00:00", "2025-06-04 00:00:00", "2025-06-06 00:00:00", "2025-06-08 00:00:00",
        "2025-06-09 00:00:00"}},
      {"0 0 0 * * */3",
       "2025-06-01 00:00:00",
       {"2025-06-04 00:00:00", "2025-06-07 00:00:00", "2025-06-08 00:00:00"}},
  });
}

TEST(CronSchedule, QuestionMarkMatchesEveryDay) {
  ExpectFires({
      {"0 0 0 ? * MON", "2025-06-01 00:00:00", {"2025-06-02 00:00:00", "2025-06-09 00:00:00"}},
      {"0 0 0 13 * ?", "2025-06-01 00:00:00", {"2025-06-13 00:00:00", "2025-07-13 00:00:00"}},
      {"0 0 0 ? * ?", "2025-06-01 00:00:00", {"2025-06-02 00:00:00", "2025-06-03 00:00:00"}},
  });
}

// --- Next across boundaries ------------------------------------------------------------------

TEST(CronSchedule, NextIsStrictlyAfter) {
  ExpectFires({
      {"0 0 12 * * *", "2025-06-01 12:00:00", {"2025-06-02 12:00:00"}},
      {"30 * * * * *", "2025-06-01 12:00:30", {"2025-06-01 12:01:30"}},
      {"* * * * * *", "2025-06-01 12:00:30", {"2025-06-01 12:00:31"}},
  });
}

TEST(CronSchedule, NextCrossesBoundaries) {
  ExpectFires({
      {"0 * * * * *", "2025-06-01 10:00:59", {"2025-06-01 10:01:00"}},
      {"15 * * * * *", "2025-06-01 10:59:20", {"2025-06-01 11:00:15"}},
      {"0 0 * * * *", "2025-06-01 23:30:00", {"2025-06-02 00:00:00"}},
      {"0 10 3 * * *", "2025-06-30 04:00:00", {"2025-07-01 03:10:00"}},
      {"59 59 23 * * *", "2025-12-31 23:59:59", {"2026-01-01 23:59:59"}},
      {"* * * * * *", "2025-12-31 23:59:59", {"2026-01-01 00:00:00"}},
      {"0 0 0 1 1 *", "2025-01-01 00:00:00", {"2026-01-01 00:00:00"}},
      {"0 0 0 31 12 *", "2025-06-01 00:00:00", {"2025-12-31 00:00:00", "2026-12-31 00:00:00"}},
      {"0 0 0 * * *", "2025-02-28 12:00:00", {"2025-03-01 00:00:00"}},
      {"0 0 0 * * *", "2024-02-28 12:00:00", {"2024-02-29 00:00:00", "2024-03-01 00:00:00"}},
      // When the hour or minute moves forward, lower fields restart from their first value.
      {"10,20 30,40 5,6 * * *",
       "2025-06-01 05:40:20",
       {"2025-06-01 06:30:10", "2025-06-01 06:30:20", "2025-06-01 06:40:10"}},
      {"10 30,40 5,6 * * *", "2025-06-01 05:45:00", {"2025-06-01 06:30:10"}},
  });
}

TEST(CronSchedule, ThirtyFirstSkipsShortMonths) {
  ExpectFires({
      {"0 0 0 31 * *",
       "2025-01-31 00:00:00",
       {"2025-03-31 00:00:00", "2025-05-31 00:00:00", "2025-07-31 00:00:00", "2025-08-31 00:00:00",
        "2025-10-31 00:00:00", "2025-12-31 00:00:00", "2026-01-31 00:00:00"}},
      {"0 0 0 30,31 * *",
       "2025-02-01 00:00:00",
       {"2025-03-30 00:00:00", "2025-03-31 00:00:00", "2025-04-30 00:00:00",
        "2025-05-30 00:00:00"}},
  });
}

TEST(CronSchedule, LeapDayOnlyInLeapYears) {
  ExpectFires({
      {"0 0 0 29 2 *", "2025-03-01 00:00:00", {"2028-02-29 00:00:00", "2032-02-29 00:00:00"}},
      {"0 0 0 29 2 *", "2024-01-01 00:00:00", {"2024-02-29 00:00:00", "2028-02-29 00:00:00"}},
      // 2000 is a leap year (divisible by 400), 2100 is not (divisible by 100 only).
      {"0 0 0 29 2 *", "1999-01-01 00:00:00", {"2000-02-29 00:00:00"}},
      {"0 0 0 29 2 *", "2096-03-01 00:00:00", {"2104-02-29 00:00:00"}},
  });
}

TEST(CronSchedule, ImpossibleDatesHaveNoNextTime) {
  for (const std::string expression :
       {"0 0 0 30 2 *", "0 0 0 31 2 *", "0 0 0 31 4,6,9,11 *", "* * * 30-31 FEB *"}) {
    SCOPED_TRACE(expression);
    EXPECT_FALSE(ParseOrDie(expression).Next(At("2025-01-01 00:00:00")).has_value());
  }
}

TEST(CronSchedule, ImpossibleDayStillMatchesByWeekday) {
  // Day-of-month 30 never occurs in February, but the day-of-week alternative still does.
  ExpectFires(
      {{"0 0 0 30 2 MON", "2025-01-01 00:00:00", {"2025-02-03 00:00:00", "2025-02-10 00:00:00"}}});
}

// --- Day-of-month and day-of-week ------------------------------------------------------------

TEST(CronSchedule, BothDayFieldsCombineByOr) {
  // July 2025: Fridays are the 4th, 11th, 18th and 25th, and the 13th is a Sunday.
  ExpectFires({
      {"0 0 12 13 * FRI",
       "2025-07-01 00:00:00",
       {"2025-07-04 12:00:00", "2025-07-11 12:00:00", "2025-07-13 12:00:00", "2025-07-18 12:00:00",
        "2025-07-25 12:00:00", "2025-08-01 12:00:00"}},
  });
}

TEST(CronSchedule, DayOfMonthAloneWhenWeekdayUnrestricted) {
  ExpectFires({
      {"0 0 12 13 * *", "2025-07-01 00:00:00", {"2025-07-13 12:00:00", "2025-08-13 12:00:00"}},
  });
}

TEST(CronSchedule, DayOfWeekAloneWhenMonthDayUnrestricted) {
  ExpectFires({
      {"0 0 12 * * FRI",
       "2025-07-01 00:00:00",
       {"2025-07-04 12:00:00", "2025-07-11 12:00:00", "2025-07-18 12:00:00"}},
  });
}

TEST(CronSchedule, StepCountsAsRestricted) {
  // `*/10` is not exactly `*`, so it combines with FRI by OR: days 1, 11, 21, 31 and Fridays.
  ExpectFires({
      {"0 0 0 */10 * FRI",
       "2025-07-01 00:00:00",
       {"2025-07-04 00:00:00", "2025-07-11 00:00:00", "2025-07-18 00:00:00", "2025-07-21 00:00:00",
        "2025-07-25 00:00:00", "2025-07-31 00:00:00", "2025-08-01 00:00:00"}},
  });
}

// --- Errors ----------------------------------------------------------------------------------

struct ErrorCase {
  std::string expression;
  std::string message;  // expected as a substring of the error
};

TEST(CronSchedule, FieldCountErrors) {
  const std::vector<ErrorCase> cases = {
      {"*/5 * * * *", "expected six fields with seconds"},
      {"*/5 * * * *", "for example \"0 */5 * * * *\""},
      {"*/5 * * * *", "but got 5. Add the seconds field in front"},
      {"0 0 0 * * * *", "but got 7"},
      {"*", "but got 1"},
      {"", "but the expression is empty"},
      {"   ", "but the expression is empty"},
      {"", "(seconds minutes hours day-of-month month day-of-week)"},
  };
  for (const ErrorCase& c : cases) {
    SCOPED_TRACE("\"" + c.expression + "\"");
    EXPECT_NE(ParseError(c.expression).find(c.message), std::string::npos)
        << ParseError(c.expression);
  }
}

TEST(CronSchedule, ValueErrors) {
  const std::vector<ErrorCase> cases = {
      {"60 * * * * *", "seconds field \"60\": value 60 is out of range 0-59"},
      {"0 61 * * * *", "minutes field \"61\": value 61 is out of range 0-59"},
      {"0 0 24 * * *", "hours field \"24\": value 24 is out of range 0-23"},
      {"0 0 0 0 * *", "day-of-month field \"0\": value 0 is out of range 1-31"},
      {"0 0 0 32 * *", "day-of-month field \"32\": value 32 is out of range 1-31"},
      {"0 0 0 * 0 *", "month field \"0\": value 0 is out of range 1-12"},
      {"0 0 0 * 13 *", "month field \"13\": value 13 is out of range 1-12"},
      {"0 0 0 * * 8", "day-of-week field \"8\": value 8 is out of range 0-7"},
      {"0 1,61 * * * *", "minutes field \"61\": value 61 is out of range 0-59"},
      {"0 0 1-24 * * *", "hours field \"1-24\": value 24 is out of range 0-23"},
      {"0 0 0 * 0-3 *", "month field \"0-3\": value 0 is out of range 1-12"},
      {"0 70/5 * * * *", "minutes field \"70/5\": value 70 is out of range 0-59"},
      {"99999999999 * * * * *",
       "seconds field \"99999999999\": value 99999999999 is out of range 0-59"},
      {"0 0 x * * *", "hours field \"x\": \"x\" is not a number"},
      {"+5 * * * * *", "seconds field \"+5\": \"+5\" is not a number"},
      {"0 MON * * * *", "minutes field \"MON\": \"MON\" is not a number"},
      {"0 0 0 * FOO *", "month field \"FOO\": \"FOO\" is not a number or a month name (JAN-DEC)"},
      {"0 0 0 * JANUARY *", "month field \"JANUARY\": \"JANUARY\" is not a number or a month"},
      {"0 0 0 * * FUN",
       "day-of-week field \"FUN\": \"FUN\" is not a number or a day name (SUN-SAT)"},
      {"0 0 0 * * JAN", "day-of-week field \"JAN\": \"JAN\" is not a number or a day name"},
      {"0 0 0 L 2 *", "day-of-month field \"L\": \"L\" is not a number"},
      {"0 0 0 1.5 * *", "day-of-month field \"1.5\": \"1.5\" is not a number"},
  };
  for (const ErrorCase& c : cases) {
    SCOPED_TRACE("\"" + c.expression + "\"");
    EXPECT_NE(ParseError(c.expression).find(c.message), std::string::npos)
        << ParseError(c.expression);
  }
}

TEST(CronSchedule, RangeListAndStepErrors) {
  const std::vector<ErrorCase> cases = {
      {"0 0 5-2 * * *", "hours field \"5-2\": range start 5 is after end 2"},
      {"0 0 0 * * FRI-MON", "day-of-week field \"FRI-MON\": range start FRI is after end MON"},
      {"0 0 0 * * 7-1", "day-of-week field \"7-1\": range start 7 is after end 1"},
      {"0 5- * * * *", "minutes field \"5-\": range end is missing"},
      {"0 -5 * * * *", "minutes field \"-5\": range start is missing"},
      {"0 1-2-3 * * * *", "minutes field \"1-2-3\": \"2-3\" is not a number"},
      {"0 *-5 * * * *", "minutes field \"*-5\": \"*\" is not a number"},
      {"0 1,,2 * * * *", "minutes field \"1,,2\": a list item is empty"},
      {"0 1, * * * *", "minutes field \"1,\": a list item is empty"},
      {"0 ,1 * * * *", "minutes field \",1\": a list item is empty"},
      {"*/0 * * * * *", "seconds field \"*/0\": step must be at least 1"},
      {"0 0 1-5/0 * * *", "hours field \"1-5/0\": step must be at least 1"},
      {"0 */ * * * *", "minutes field \"*/\": the step after \"/\" is missing"},
      {"0 /5 * * * *", "minutes field \"/5\": a value or \"*\" is missing before \"/\""},
      {"0 */x * * * *", "minutes field \"*/x\": step \"x\" is not a number"},
      {"0 */-1 * * * *", "minutes field \"*/-1\": step \"-1\" is not a number"},
      {"0 */5/2 * * * *", "minutes field \"*/5/2\": only one \"/\" is allowed"},
      {"0 */61 * * * *", "minutes field \"*/61\": step 61 is out of range 1-60"},
      {"0 0 */25 * * *", "hours field \"*/25\": step 25 is out of range 1-24"},
      {"0 0 0 * */13 *", "month field \"*/13\": step 13 is out of range 1-12"},
      {"0 0 0 * * */9", "day-of-week field \"*/9\": step 9 is out of range 1-8"},
      {"*/99999999999 * * * * *",
       "seconds field \"*/99999999999\": step 99999999999 is out of range 1-60"},
      {"0 0 0 * */MAR *", "month field \"*/MAR\": step \"MAR\" is not a number"},
  };
  for (const ErrorCase& c : cases) {
    SCOPED_TRACE("\"" + c.expression + "\"");
    EXPECT_NE(ParseError(c.expression).find(c.message), std::string::npos)
        << ParseError(c.expression);
  }
}

TEST(CronSchedule, QuestionMarkErrors) {
  const std::vector<ErrorCase> cases = {
      {"? * * * * *",
       "seconds field \"?\": \"?\" is only allowed in the day-of-month and day-of-week fields"},
      {"0 0 ? * * *", "hours field \"?\": \"?\" is only allowed in the day-of-month"},
      {"0 0 0 * ? *", "month field \"?\": \"?\" is only allowed in the day-of-month"},
      {"0 0 1,? * * *", "hours field \"?\": \"?\" is only allowed in the day-of-month"},
      {"0 0 0 ?,1 * *", "day-of-month field \"?\": \"?\" must be the whole field"},
      {"0 0 0 ?/2 * *", "day-of-month field \"?/2\": \"?\" must be the whole field"},
      {"0 0 0 * * ?-5", "day-of-week field \"?-5\": \"?\" is not a number"},
  };
  for (const ErrorCase& c : cases) {
    SCOPED_TRACE("\"" + c.expression + "\"");
    EXPECT_NE(ParseError(c.expression).find(c.message), std::string::npos)
        << ParseError(c.expression);
  }
}

TEST(CronSchedule, ReportsFirstBadField) {
  EXPECT_EQ(ParseError("61 61 * * * *"), "seconds field \"61\": value 61 is out of range 0-59");
}

// --- Randomized comparison with a brute-force reference --------------------------------------

// A field generated together with the set of values it must match, computed independently of
// the parser.
struct GeneratedField {
  std::string text;
  std::set<int> values;
};

struct FieldRange {
  int min;
  int max;
  std::vector<std::string> names;  // names[i] is the value i + names_base
  int names_base;
};

const FieldRange kSecondsRange{0, 59, {}, 0};
const FieldRange kMinutesRange{0, 59, {}, 0};
const FieldRange kHoursRange{0, 23, {}, 0};
const FieldRange kDaysOfMonthRange{1, 31, {}, 0};
const FieldRange kMonthsRange{
    1, 12, {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}, 1};
const FieldRange kDaysOfWeekRange{0, 7, {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}, 0};

class ExpressionGenerator {
 public:
  explicit ExpressionGenerator(uint32_t seed) : random_(seed) {}

  // `wildcard_percent` is the chance that the field is `*` (or `?`, where allowed).
  GeneratedField Field(const FieldRange& range, int wildcard_percent, bool question_mark) {
    if (Percent() < wildcard_percent) {
      const bool use_question_mark = question_mark && Percent() < 30;
      return {use_question_mark ? "?" : "*", Values(range.min, range.max, 1)};
    }

    GeneratedField field;
    const int items = Between(1, 3);
    for (int i = 0; i < items; ++i) {
      const GeneratedField item = Item(range);
      if (i > 0) field.text += ",";
      field.text += item.text;
      field.values.insert(item.values.begin(), item.values.end());
    }
    return field;
  }

  int Between(int low, int high) { return std::uniform_int_distribution(low, high)(random_); }

 private:
  GeneratedField Item(const FieldRange& range) {
    const int count = range.max - range.min + 1;
    const int step = Percent() < 50 ? Between(1, 4) : Between(1, count);
    switch (Between(0, 4)) {
      case 0: {
        const int value = Between(range.min, range.max);
        return {Value(range, value), {value}};
      }
      case 1: {
        const int start = Between(range.min, range.max);
        const int end = Between(start, range.max);
        return {Value(range, start) + "-" + Value(range, end), Values(start, end, 1)};
      }
      case 2:
        return {"*/" + std::to_string(step), Values(range.min, range.max, step)};
      case 3: {
        const int start = Between(range.min, range.max);
        const int end = Between(start, range.max);
        return {Value(range, start) + "-" + Value(range, end) + "/" + std::to_string(step),
                Values(start, end, step)};
      }
      default: {
        const int start = Between(range.min, range.max);
        return {Value(range, start) + "/" + std::to_string(step), Values(start, range.max, step)};
      }
    }
  }

  // A value as a number or, half of the time where the field has names, as a name in random case.
  std::string Value(const FieldRange& range, int value) {
    const int index = value - range.names_base;
    if (index < 0 || index >= static_cast<int>(range.names.size()) || Percent() < 50) {
      return std::to_string(value);
    }
    std::string name = range.names[index];
    for (char& c : name) {
      if (Percent() < 50) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return name;
  }

  static std::set<int> Values(int start, int end, int step) {
    std::set<int> values;
    for (int value = start; value <= end; value += step) values.insert(value);
    return values;
  }

  int Percent() { return Between(0, 99); }

  std::mt19937 random_;
};

// A generated expression with a matcher written independently of CronSchedule.
struct ReferenceSchedule {
  std::string expression;
  std::bitset<64> seconds, minutes, hours, days_of_month, months, days_of_week;
  bool day_of_month_restricted = false;
  bool day_of_week_restricted = false;

  bool MatchesDay(std::chrono::sys_days day) const {
    const std::chrono::year_month_day date(day);
    if (!months[static_cast<unsigned>(date.month())]) return false;

    const bool dom = days_of_month[static_cast<unsigned>(date.day())];
    const unsigned weekday = std::chrono::weekday(day).c_encoding();
    const bool dow = days_of_week[weekday] || (weekday == 0 && days_of_week[7]);
    if (day_of_month_restricted && day_of_week_restricted) return dom || dow;
    if (day_of_month_restricted) return dom;
    if (day_of_week_restricted) return dow;
    return true;
  }

  // Checks every second after `start`, up to `horizon_seconds` later.
  std::optional<Time> BruteForceNext(Time start, int64_t horizon_seconds) const {
    std::chrono::sys_days checked_day{};
    bool day_matches = false;
    for (int64_t s = 1; s <= horizon_seconds; ++s) {
      const Time time = start + std::chrono::seconds(s);
      const auto day = std::chrono::floor<std::chrono::days>(time);
      if (s == 1 || day != checked_day) {
        checked_day = day;
        day_matches = MatchesDay(day);
      }
      const int64_t second_of_day = (time - day).count();
      if (day_matches && hours[second_of_day / 3600] && minutes[second_of_day / 60 % 60] &&
          seconds[second_of_day % 60]) {
        return time;
      }
    }
    return std::nullopt;
  }
};

std::bitset<64> ToBits(const std::set<int>& values) {
  std::bitset<64> bits;
  for (int value : values) bits.set(value);
  return bits;
}

ReferenceSchedule Generate(ExpressionGenerator& generator, int time_wildcard_percent,
                           int day_wildcard_percent) {
  const GeneratedField seconds = generator.Field(kSecondsRange, time_wildcard_percent, false);
  const GeneratedField minutes = generator.Field(kMinutesRange, time_wildcard_percent, false);
  const GeneratedField hours = generator.Field(kHoursRange, time_wildcard_percent, false);
  const GeneratedField dom = generator.Field(kDaysOfMonthRange, day_wildcard_percent, true);
  const GeneratedField months = generator.Field(kMonthsRange, day_wildcard_percent, false);
  const GeneratedField dow = generator.Field(kDaysOfWeekRange, day_wildcard_percent, true);

  ReferenceSchedule reference;
  reference.expression = seconds.text + " " + minutes.text + " " + hours.text + " " + dom.text +
                         " " + months.text + " " + dow.text;
  reference.seconds = ToBits(seconds.values);
  reference.minutes = ToBits(minutes.values);
  reference.hours = ToBits(hours.values);
  reference.days_of_month = ToBits(dom.values);
  reference.months = ToBits(months.values);
  reference.days_of_week = ToBits(dow.values);
  reference.day_of_month_restricted = dom.text != "*" && dom.text != "?";
  reference.day_of_week_restricted = dow.text != "*" && dow.text != "?";
  return reference;
}

Time RandomTime(ExpressionGenerator& generator) {
  // Any second from 2020 to the end of 2030.
  const Time first = At("2020-01-01 00:00:00");
  const Time last = At("2030-12-31 23:59:59");
  const int64_t span = (last - first).count();
  const int64_t offset = static_cast<int64_t>(generator.Between(0, 1'000'000'000)) % span;
  return first + std::chrono::seconds(offset);
}

TEST(CronSchedule, MatchesBruteForceSecondBySecond) {
  // Each case scans up to two days second by second, so days are left mostly unrestricted.
  constexpr int kCases = 150;
  constexpr int64_t kHorizonSeconds = 2 * 24 * 3600;
  ExpressionGenerator generator(20250601);
  int compared = 0;  // cases with a fire time inside the horizon
  for (int i = 0; i < kCases; ++i) {
    const ReferenceSchedule reference = Generate(generator, 30, 80);
    const Time start = RandomTime(generator);
    SCOPED_TRACE("\"" + reference.expression + "\" after " + Format(start));

    const std::optional<Time> expected = reference.BruteForceNext(start, kHorizonSeconds);

    const std::optional<Time> next = ParseOrDie(reference.expression).Next(start);
    if (expected) {
      ++compared;
      ASSERT_TRUE(next.has_value());
      EXPECT_EQ(Format(*next), Format(*expected));
    } else if (next) {
      EXPECT_GT(*next, start + std::chrono::seconds(kHorizonSeconds));
    }
  }
  // Guards the generator: at least half of the cases must fire within the horizon to compare
  // anything.
  EXPECT_GE(compared, kCases / 2);
}

TEST(CronSchedule, MatchesBruteForceDayByDay) {
  // Fixes the time of day so that a day-by-day scan covers the whole eight-year horizon, to test
  // month ends, leap years, the day-of-month and day-of-week rule and the nullopt case.
  constexpr int kCases = 400;
  ExpressionGenerator generator(1234567);
  for (int i = 0; i < kCases; ++i) {
    const ReferenceSchedule reference = Generate(generator, 100, 30);
    const int hour = generator.Between(0, 23);
    const int minute = generator.Between(0, 59);
    const int second = generator.Between(0, 59);
    // The generated time fields are all "*", so the day fields start at offset 6.
    const std::string expression = std::to_string(second) + " " + std::to_string(minute) + " " +
                                   std::to_string(hour) + " " + reference.expression.substr(6);

    // One second before midnight, so the first fire is on the first matching day from `first_day`.
    const auto first_day = std::chrono::floor<std::chrono::days>(RandomTime(generator));
    const Time start = Time(first_day) - std::chrono::seconds(1);
    SCOPED_TRACE("\"" + expression + "\" after " + Format(start));

    std::optional<Time> expected;
    for (int d = 0; d < 8 * 365 && !expected; ++d) {
      const std::chrono::sys_days day = first_day + std::chrono::days(d);
      if (!reference.MatchesDay(day)) continue;
      expected = Time(day) + std::chrono::hours(hour) + std::chrono::minutes(minute) +
                 std::chrono::seconds(second);
    }

    const std::optional<Time> next = ParseOrDie(expression).Next(start);
    if (!expected) {
      EXPECT_FALSE(next.has_value()) << Format(*next);
      continue;
    }
    ASSERT_TRUE(next.has_value());
    EXPECT_EQ(Format(*next), Format(*expected));
  }
}

}  // namespace
}  // namespace prism
