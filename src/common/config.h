// Configuration of every role: environment variables (the original's names where it had one),
// each also settable as a command-line flag.
//
// Parsing never throws past the caller: an invalid value produces a ConfigError whose message
// names the variable, the value and what is expected, and the process exits with status 2.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/duration.h"

namespace CLI {
class App;
}

namespace prism {

struct Config {
  // Process
  bool debug = false;

  // HTTP
  std::string bind_address = "0.0.0.0";
  uint16_t port = 8080;
  uint16_t stream_port = 8081;
  int http_threads = 0;  // 0: one per core
  std::string cors_allowed_origins = ".*";
  std::string web_dir;  // empty: look next to the executable and in ./web/dist
  Duration stream_keepalive = std::chrono::seconds(30);
  int64_t stream_buffer_bytes = 1 << 20;

  // Read side
  int tasks_page_size = 10;
  int num_cached_pages = 1;
  Duration tasks_cache_ttl = std::chrono::hours(12);
  Duration settings_cache_ttl = std::chrono::hours(4);

  // Storage
  std::string data_dir = "./data";
  std::string database_url;
  std::string redis_connection_string;
  std::string command_queue = "command-queue";
  std::string domain_events_queue = "domain-events";
  std::string task_events_table = "TaskEvents";
  std::string user_events_table = "UserEvents";
  std::string tasks_table = "Tasks";
  std::string users_table = "Users";
  std::string settings_table = "Settings";
  std::string task_updates_channel = "task-updates";
  std::string settings_updates_channel = "settings-updates";
  int admission_queue_limit = 100'000;

  // Idempotency
  std::string idempotency_cleaner_schedule = "0 */5 * * * *";
  Duration idempotency_retention = std::chrono::hours(24);

  // Authentication
  std::string auth_mode;  // "local", "test" or "oidc"; empty: derived from the other settings
  bool auth0_test_mode = false;
  std::string test_jwt_secret;
  std::string auth0_domain;
  std::string auth0_audience;
  std::string auth_issuer;
  std::string auth_audience;
  std::string auth_jwks_url;
  std::string auth_jwks_file;
  std::string auth_jwks_ca_file;
  std::string auth_client_id;  // OAuth client id of the web app, reported by /api/auth/config
  bool auth_signup = true;
};

// An invalid configuration value. what() is the one line printed before exiting with status 2.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Option groups; each role registers the groups it uses, so `prism <role> --help` lists only
// the options that role reads.
enum class OptionGroup { kProcess, kHttp, kStream, kReadSide, kStorage, kCleaner, kAuth };

// Registers the options of `groups` on a CLI11 (sub)command. Values are read from flags, then
// from the environment, then from the defaults, when ApplyOptions runs.
class OptionSet {
 public:
  OptionSet(CLI::App& app, std::vector<OptionGroup> groups);

  OptionSet(const OptionSet&) = delete;
  OptionSet& operator=(const OptionSet&) = delete;

  // Parses every registered option into `config`. Throws ConfigError on an invalid value.
  void Apply(Config& config) const;

 private:
  struct Entry {
    int spec;           // index into the option table
    std::string value;  // filled by CLI11 from the flag or the environment; empty when not given
  };
  std::vector<std::unique_ptr<Entry>> entries_;
};

// Checks cross-option rules after parsing (for example, OIDC needs both issuer and audience).
void ValidateConfig(const Config& config);

// Returns the effective configuration as JSON for the start-up log line, secrets masked.
std::string DescribeConfig(const Config& config);

}  // namespace prism
