#include "cleaner/cron.h"

namespace prism {

// NOTE: placeholder until the parser lands; accepts nothing.
std::optional<CronSchedule> CronSchedule::Parse(std::string_view expression, std::string* error) {
  if (error) *error = "cron parsing is not implemented";
  return std::nullopt;
}

std::optional<CronSchedule::TimePoint> CronSchedule::Next(TimePoint after) const {
  return std::nullopt;
}

}  // namespace prism
