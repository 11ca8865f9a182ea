#include "common/log.h"

#include <spdlog/sinks/stdout_sinks.h>

namespace prism::log {
namespace {

constexpr const char* kPattern =
    R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","component":"%n",%v})";

std::mutex registry_mutex;
spdlog::level::level_enum current_level = spdlog::level::info;

}  // namespace

std::string Field::Quote(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out.push_back('"');
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buffer[8];
          std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
          out += buffer;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
  return out;
}

void Init(bool debug) {
  std::lock_guard lock(registry_mutex);
  current_level = debug ? spdlog::level::debug : spdlog::level::info;
  spdlog::set_pattern(kPattern, spdlog::pattern_time_type::utc);
  spdlog::set_level(current_level);
  spdlog::flush_on(spdlog::level::info);
}

std::shared_ptr<spdlog::logger> Get(std::string_view component) {
  std::string name(component);
  if (auto existing = spdlog::get(name)) return existing;

  std::lock_guard lock(registry_mutex);
  if (auto existing = spdlog::get(name)) return existing;
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>(name, sink);
  logger->set_pattern(kPattern, spdlog::pattern_time_type::utc);
  logger->set_level(current_level);
  logger->flush_on(spdlog::level::info);
  spdlog::register_logger(logger);
  return logger;
}

std::string Body(std::string_view message, Fields fields) {
  std::string out = "\"msg\":" + Field::Quote(message);
  for (const Field& field : fields) {
    out += ',';
    out += Field::Quote(field.key);
    out += ':';
    out += field.value;
  }
  return out;
}

long RateLimiter::Admit(std::string_view key) {
  auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  Slot& slot = slots_[std::string(key)];
  if (slot.last != std::chrono::steady_clock::time_point{} && now - slot.last < interval_) {
    ++slot.suppressed;
    return -1;
  }
  long suppressed = slot.suppressed;
  slot.last = now;
  slot.suppressed = 0;
  return suppressed;
}

}  // namespace prism::log
