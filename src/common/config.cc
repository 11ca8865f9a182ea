#include "common/config.h"

#include <algorithm>
#include <charconv>
#include <functional>
#include <regex>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include "cleaner/cron.h"

namespace prism {
namespace {

using Setter = std::function<void(Config&, const std::string&)>;

struct OptionSpec;
const OptionSpec* Find(std::string_view env);

struct OptionSpec {
  OptionGroup group;
  const char* flag;
  const char* env;
  const char* help;                        // what it sets, with its unit
  std::string (*value_of)(const Config&);  // the current value, as text
  Setter set;
};

[[noreturn]] void Invalid(const OptionSpec& spec, const std::string& value,
                          std::string_view expected) {
  throw ConfigError("invalid " + std::string(spec.env) + "=\"" + value + "\" (--" + spec.flag +
                    "): expected " + std::string(expected));
}

long long ParseInteger(const OptionSpec& spec, const std::string& value, long long min,
                       long long max, std::string_view expected) {
  long long result = 0;
  auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), result);
  if (error != std::errc() || end != value.data() + value.size() || result < min || result > max) {
    Invalid(spec, value, expected);
  }
  return result;
}

bool ParseBool(const OptionSpec& spec, const std::string& value) {
  static const char* kTrue[] = {"1", "true", "TRUE", "True", "yes", "on"};
  static const char* kFalse[] = {"0", "false", "FALSE", "False", "no", "off", ""};
  for (const char* word : kTrue) {
    if (value == word) return true;
  }
  for (const char* word : kFalse) {
    if (value == word) return false;
  }
  Invalid(spec, value, "a boolean (true/false, 1/0)");
}

Duration ParseDurationOption(const OptionSpec& spec, const std::string& value) {
  auto parsed = ParseDuration(value);
  if (!parsed) Invalid(spec, value, "a duration such as 500ms, 15s or 12h");
  return *parsed;
}

// The table of every option. The setter of each entry validates and stores its value.
const std::vector<OptionSpec>& Specs() {
  using G = OptionGroup;
  static const std::vector<OptionSpec> specs = {
      {G::kProcess, "debug", "DEBUG", "log at debug level (boolean)",
       [](const Config& c) { return std::string(c.debug ? "true" : "false"); },
       [](Config& c, const std::string& v) { c.debug = ParseBool(Specs()[0], v); }},
      {G::kHttp, "bind", "PRISM_BIND_ADDRESS", "address the HTTP server listens on",
       [](const Config& c) { return c.bind_address; },
       [](Config& c, const std::string& v) { c.bind_address = v; }},
      {G::kHttp, "port", "PORT", "TCP port of the HTTP API (1-65535)",
       [](const Config& c) { return std::to_string(c.port); },
       [](Config& c, const std::string& v) {
         c.port = static_cast<uint16_t>(
             ParseInteger(*Find("PORT"), v, 1, 65535, "an integer port from 1 to 65535"));
       }},
      {G::kHttp, "http-threads", "PRISM_HTTP_THREADS",
       "threads serving HTTP (count, 0 = one per core)",
       [](const Config& c) { return std::to_string(c.http_threads); },
       [](Config& c, const std::string& v) {
         c.http_threads = static_cast<int>(
             ParseInteger(*Find("PRISM_HTTP_THREADS"), v, 0, 256, "an integer from 0 to 256"));
       }},
      {G::kHttp, "cors-allowed-origins", "CORS_ALLOWED_ORIGINS",
       "regular expression matched against the whole Origin header",
       [](const Config& c) { return c.cors_allowed_origins; },
       [](Config& c, const std::string& v) {
         try {
           std::regex check(v, std::regex::ECMAScript);
         } catch (const std::regex_error&) {
           Invalid(*Find("CORS_ALLOWED_ORIGINS"), v, "a valid regular expression");
         }
         c.cors_allowed_origins = v;
       }},
      {G::kHttp, "web-dir", "PRISM_WEB_DIR",
       "directory of the built web app (empty: web/dist next to the sources)",
       [](const Config& c) { return c.web_dir; },
       [](Config& c, const std::string& v) { c.web_dir = v; }},
      {G::kStream, "stream-port", "STREAM_SERVICE_PORT",
       "TCP port of the stream service when it runs alone (1-65535)",
       [](const Config& c) { return std::to_string(c.stream_port); },
       [](Config& c, const std::string& v) {
         c.stream_port = static_cast<uint16_t>(ParseInteger(
             *Find("STREAM_SERVICE_PORT"), v, 1, 65535, "an integer port from 1 to 65535"));
       }},
      {G::kStream, "stream-keepalive", "STREAM_KEEPALIVE_INTERVAL",
       "interval between keep-alive comments on open streams (duration)",
       [](const Config& c) { return FormatDuration(c.stream_keepalive); },
       [](Config& c, const std::string& v) {
         c.stream_keepalive = ParseDurationOption(*Find("STREAM_KEEPALIVE_INTERVAL"), v);
         if (c.stream_keepalive < std::chrono::milliseconds(10)) {
           Invalid(*Find("STREAM_KEEPALIVE_INTERVAL"), v, "a duration of at least 10ms");
         }
       }},
      {G::kStream, "stream-buffer-bytes", "STREAM_BUFFER_BYTES",
       "bytes queued per stream before a slow client is disconnected (bytes)",
       [](const Config& c) { return std::to_string(c.stream_buffer_bytes); },
       [](Config& c, const std::string& v) {
         c.stream_buffer_bytes = ParseInteger(*Find("STREAM_BUFFER_BYTES"), v, 4096, 1LL << 30,
                                              "an integer from 4096 to 1073741824");
       }},
      {G::kReadSide, "tasks-page-size", "TASKS_PAGE_SIZE",
       "default number of tasks per page of GET /api/tasks (count, 1-1000)",
       [](const Config& c) { return std::to_string(c.tasks_page_size); },
       [](Config& c, const std::string& v) {
         c.tasks_page_size = static_cast<int>(
             ParseInteger(*Find("TASKS_PAGE_SIZE"), v, 1, 1000, "an integer from 1 to 1000"));
       }},
      {G::kReadSide, "num-cached-pages", "NUM_CACHED_PAGES",
       "pages of each user's task list kept in the cache (count, 0-100)",
       [](const Config& c) { return std::to_string(c.num_cached_pages); },
       [](Config& c, const std::string& v) {
         c.num_cached_pages = static_cast<int>(
             ParseInteger(*Find("NUM_CACHED_PAGES"), v, 0, 100, "an integer from 0 to 100"));
       }},
      {G::kReadSide, "tasks-cache-ttl", "TASKS_CACHE_TTL",
       "lifetime of cached task pages (duration)",
       [](const Config& c) { return FormatDuration(c.tasks_cache_ttl); },
       [](Config& c, const std::string& v) {
         c.tasks_cache_ttl = ParseDurationOption(*Find("TASKS_CACHE_TTL"), v);
       }},
      {G::kReadSide, "settings-cache-ttl", "SETTINGS_CACHE_TTL",
       "lifetime of cached user settings (duration)",
       [](const Config& c) { return FormatDuration(c.settings_cache_ttl); },
       [](Config& c, const std::string& v) {
         c.settings_cache_ttl = ParseDurationOption(*Find("SETTINGS_CACHE_TTL"), v);
       }},
      {G::kStorage, "data-dir", "PRISM_DATA_DIR", "directory of the embedded SQLite database",
       [](const Config& c) { return c.data_dir; },
       [](Config& c, const std::string& v) {
         if (v.empty()) Invalid(*Find("PRISM_DATA_DIR"), v, "a directory path");
         c.data_dir = v;
       }},
      {G::kStorage, "database-url", "DATABASE_URL",
       "PostgreSQL connection URL (empty: embedded SQLite)",
       [](const Config& c) { return c.database_url; },
       [](Config& c, const std::string& v) {
         if (!v.empty() && !v.starts_with("postgres://") && !v.starts_with("postgresql://")) {
           Invalid(*Find("DATABASE_URL"), "(hidden)", "a postgres:// or postgresql:// URL");
         }
         c.database_url = v;
       }},
      {G::kStorage, "redis", "REDIS_CONNECTION_STRING",
       "Redis address, redis://host:port or host:port,password=...,ssl=true (empty: in-process)",
       [](const Config& c) { return c.redis_connection_string; },
       [](Config& c, const std::string& v) { c.redis_connection_string = v; }},
      {G::kStorage, "command-queue", "COMMAND_QUEUE", "name of the command queue",
       [](const Config& c) { return c.command_queue; },
       [](Config& c, const std::string& v) { c.command_queue = v; }},
      {G::kStorage, "domain-events-queue", "DOMAIN_EVENTS_QUEUE", "name of the domain-events queue",
       [](const Config& c) { return c.domain_events_queue; },
       [](Config& c, const std::string& v) { c.domain_events_queue = v; }},
      {G::kStorage, "task-events-table", "TASK_EVENTS_TABLE", "name of the task event table",
       [](const Config& c) { return c.task_events_table; },
       [](Config& c, const std::string& v) { c.task_events_table = v; }},
      {G::kStorage, "user-events-table", "USER_EVENTS_TABLE", "name of the user event table",
       [](const Config& c) { return c.user_events_table; },
       [](Config& c, const std::string& v) { c.user_events_table = v; }},
      {G::kStorage, "tasks-table", "TASKS_TABLE", "name of the task read-model table",
       [](const Config& c) { return c.tasks_table; },
       [](Config& c, const std::string& v) { c.tasks_table = v; }},
      {G::kStorage, "users-table", "USERS_TABLE", "name of the user read-model table",
       [](const Config& c) { return c.users_table; },
       [](Config& c, const std::string& v) { c.users_table = v; }},
      {G::kStorage, "settings-table", "SETTINGS_TABLE", "name of the settings read-model table",
       [](const Config& c) { return c.settings_table; },
       [](Config& c, const std::string& v) { c.settings_table = v; }},
      {G::kStorage, "task-updates-channel", "TASK_UPDATES_CHANNEL",
       "pub/sub channel of live task updates",
       [](const Config& c) { return c.task_updates_channel; },
       [](Config& c, const std::string& v) { c.task_updates_channel = v; }},
      {G::kStorage, "settings-updates-channel", "SETTINGS_UPDATES_CHANNEL",
       "pub/sub channel of live settings updates",
       [](const Config& c) { return c.settings_updates_channel; },
       [](Config& c, const std::string& v) { c.settings_updates_channel = v; }},
      {G::kStorage, "admission-queue-limit", "PRISM_ADMISSION_QUEUE_LIMIT",
       "commands waiting in the queue before new batches get 503 (count)",
       [](const Config& c) { return std::to_string(c.admission_queue_limit); },
       [](Config& c, const std::string& v) {
         c.admission_queue_limit = static_cast<int>(ParseInteger(
             *Find("PRISM_ADMISSION_QUEUE_LIMIT"), v, 1, 100'000'000, "a positive integer"));
       }},
      {G::kCleaner, "idempotency-cleaner-schedule", "IDEMPOTENCY_CLEANER_SCHEDULE",
       "cron expression with seconds (six fields) for the idempotency cleaner",
       [](const Config& c) { return c.idempotency_cleaner_schedule; },
       [](Config& c, const std::string& v) {
         std::string why;
         auto schedule = CronSchedule::Parse(v, &why);
         if (!schedule) {
           Invalid(*Find("IDEMPOTENCY_CLEANER_SCHEDULE"), v, "a valid cron expression: " + why);
         }
         auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
         if (!schedule->Next(now)) {
           Invalid(*Find("IDEMPOTENCY_CLEANER_SCHEDULE"), v,
                   "a cron expression that fires at least once in the next eight years");
         }
         c.idempotency_cleaner_schedule = v;
       }},
      {G::kCleaner, "idempotency-retention", "IDEMPOTENCY_RETENTION",
       "how long completed idempotency keys are remembered (duration)",
       [](const Config& c) { return FormatDuration(c.idempotency_retention); },
       [](Config& c, const std::string& v) {
         c.idempotency_retention = ParseDurationOption(*Find("IDEMPOTENCY_RETENTION"), v);
       }},
      {G::kAuth, "auth-mode", "AUTH_MODE",
       "token verification: local, test or oidc (empty: chosen from the other settings)",
       [](const Config& c) { return c.auth_mode; },
       [](Config& c, const std::string& v) {
         if (!v.empty() && v != "local" && v != "test" && v != "oidc") {
           Invalid(*Find("AUTH_MODE"), v, "one of local, test, oidc");
         }
         c.auth_mode = v;
       }},
      {G::kAuth, "auth0-test-mode", "AUTH0_TEST_MODE",
       "accept HS256 tokens signed with TEST_JWT_SECRET (boolean)",
       [](const Config& c) { return std::string(c.auth0_test_mode ? "1" : "0"); },
       [](Config& c, const std::string& v) {
         c.auth0_test_mode = ParseBool(*Find("AUTH0_TEST_MODE"), v);
       }},
      {G::kAuth, "test-jwt-secret", "TEST_JWT_SECRET", "HS256 secret of the test mode (secret)",
       [](const Config&) { return std::string(); },
       [](Config& c, const std::string& v) { c.test_jwt_secret = v; }},
      {G::kAuth, "auth0-domain", "AUTH0_DOMAIN",
       "Auth0 tenant domain, such as example.eu.auth0.com",
       [](const Config& c) { return c.auth0_domain; },
       [](Config& c, const std::string& v) { c.auth0_domain = v; }},
      {G::kAuth, "auth0-audience", "AUTH0_AUDIENCE", "audience that Auth0 tokens must carry",
       [](const Config& c) { return c.auth0_audience; },
       [](Config& c, const std::string& v) { c.auth0_audience = v; }},
      {G::kAuth, "auth-issuer", "AUTH_ISSUER", "OIDC issuer URL that tokens must carry in iss",
       [](const Config& c) { return c.auth_issuer; },
       [](Config& c, const std::string& v) { c.auth_issuer = v; }},
      {G::kAuth, "auth-audience", "AUTH_AUDIENCE", "audience that OIDC tokens must carry in aud",
       [](const Config& c) { return c.auth_audience; },
       [](Config& c, const std::string& v) { c.auth_audience = v; }},
      {G::kAuth, "auth-jwks-url", "AUTH_JWKS_URL",
       "JWKS URL (default: <issuer>/.well-known/jwks.json)",
       [](const Config& c) { return c.auth_jwks_url; },
       [](Config& c, const std::string& v) { c.auth_jwks_url = v; }},
      {G::kAuth, "auth-jwks-file", "AUTH_JWKS_FILE",
       "JWKS read from a file instead of the network, for offline use",
       [](const Config& c) { return c.auth_jwks_file; },
       [](Config& c, const std::string& v) { c.auth_jwks_file = v; }},
      {G::kAuth, "auth-jwks-ca-file", "AUTH_JWKS_CA_FILE",
       "PEM file of extra certificate authorities trusted when fetching the JWKS",
       [](const Config& c) { return c.auth_jwks_ca_file; },
       [](Config& c, const std::string& v) { c.auth_jwks_ca_file = v; }},
      {G::kAuth, "auth-client-id", "AUTH_CLIENT_ID",
       "OAuth client id that the web app signs in with in OIDC mode (public, not a secret)",
       [](const Config& c) { return c.auth_client_id; },
       [](Config& c, const std::string& v) {
         bool printable =
             std::all_of(v.begin(), v.end(), [](char ch) { return ch > ' ' && ch < 127; });
         if (v.size() > 256 || !printable) {
           Invalid(*Find("AUTH_CLIENT_ID"), v,
                   "at most 256 printable ASCII characters without spaces");
         }
         c.auth_client_id = v;
       }},
      {G::kAuth, "auth-signup", "AUTH_SIGNUP", "allow local sign-up (boolean)",
       [](const Config& c) { return std::string(c.auth_signup ? "true" : "false"); },
       [](Config& c, const std::string& v) { c.auth_signup = ParseBool(*Find("AUTH_SIGNUP"), v); }},
  };
  return specs;
}

const OptionSpec* Find(std::string_view env) {
  for (const OptionSpec& spec : Specs()) {
    if (spec.env == env) return &spec;
  }
  return nullptr;
}

bool IsSecret(std::string_view env) {
  return env == "TEST_JWT_SECRET" || env == "DATABASE_URL" || env == "REDIS_CONNECTION_STRING";
}
}  // namespace

OptionSet::OptionSet(CLI::App& app, std::vector<OptionGroup> groups) {
  const auto& specs = Specs();
  for (int i = 0; i < static_cast<int>(specs.size()); ++i) {
    const OptionSpec& spec = specs[i];
    if (std::find(groups.begin(), groups.end(), spec.group) == groups.end()) continue;

    auto entry = std::make_unique<Entry>();
    entry->spec = i;
    const Config defaults;
    std::string default_text = spec.value_of(defaults);
    std::string help = spec.help;
    if (!IsSecret(spec.env) && !default_text.empty()) help += " (default: " + default_text + ")";
    app.add_option(std::string("--") + spec.flag, entry->value, help)->envname(spec.env);
    entries_.push_back(std::move(entry));
  }
}

void OptionSet::Apply(Config& config) const {
  const auto& specs = Specs();
  for (const auto& entry : entries_) {
    const OptionSpec& spec = specs[entry->spec];
    // An option that is neither given as a flag nor in the environment keeps its default.
    if (entry->value.empty()) continue;
    spec.set(config, entry->value);
  }
}

void ValidateConfig(const Config& config) {
  bool oidc = !config.auth0_domain.empty() || !config.auth_issuer.empty();
  if (!config.auth0_domain.empty() && config.auth0_audience.empty()) {
    throw ConfigError("invalid AUTH0_AUDIENCE=\"\": expected an audience when AUTH0_DOMAIN is set");
  }
  if (!config.auth_issuer.empty() && config.auth_audience.empty()) {
    throw ConfigError("invalid AUTH_AUDIENCE=\"\": expected an audience when AUTH_ISSUER is set");
  }
  if (config.auth_mode == "oidc" && !oidc) {
    throw ConfigError(
        "invalid AUTH_MODE=\"oidc\": expected AUTH0_DOMAIN and AUTH0_AUDIENCE, or AUTH_ISSUER and "
        "AUTH_AUDIENCE");
  }
  if (!config.auth_client_id.empty() && !oidc) {
    throw ConfigError("invalid AUTH_CLIENT_ID=\"" + config.auth_client_id +
                      "\": a client id is used only in OIDC mode, so set AUTH_ISSUER and "
                      "AUTH_AUDIENCE (or AUTH0_DOMAIN and AUTH0_AUDIENCE) too, or unset it");
  }
  bool test = config.auth_mode == "test" || (config.auth_mode.empty() && config.auth0_test_mode);
  if (test && config.test_jwt_secret.empty()) {
    throw ConfigError(
        "invalid TEST_JWT_SECRET=\"\": expected a secret when AUTH0_TEST_MODE=1 or AUTH_MODE=test");
  }
}

std::string DescribeConfig(const Config& config) {
  boost::json::object out;
  for (const OptionSpec& spec : Specs()) {
    std::string value = spec.value_of(config);
    if (IsSecret(spec.env)) {
      bool set = spec.env == std::string_view("TEST_JWT_SECRET") ? !config.test_jwt_secret.empty()
                 : spec.env == std::string_view("DATABASE_URL")
                     ? !config.database_url.empty()
                     : !config.redis_connection_string.empty();
      value = set ? "(set)" : "";
    }
    out[spec.env] = value;
  }
  return boost::json::serialize(out);
}

}  // namespace prism
