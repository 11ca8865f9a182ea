#include "app/runtime.h"

#include "app/secrets.h"
#include "distributed/failover_event_queue.h"
#include "inprocess/null_cache.h"
#include "postgres/leader_lock.h"
#include "postgres/postgres_storage.h"
#include "redis/redis_storage.h"
#include "sqlite/embedded_storage.h"

namespace prism::app {

namespace {

// Secrets of an embedded deployment, one file each in the data directory.
class DataDirSecrets final : public storage::SecretStore {
 public:
  explicit DataDirSecrets(std::string data_dir) : data_dir_(std::move(data_dir)) {}
  std::string LoadOrCreate(std::string_view name) override {
    return LoadOrCreateSecret(data_dir_, std::string(name));
  }

 private:
  std::string data_dir_;
};

// Both settings or neither: half a distributed backend would split the data between stores.
void CheckBackendSettings(const Config& config) {
  if (config.database_url.empty() == config.redis_connection_string.empty()) return;
  throw ConfigError(
      std::string("the distributed backend needs both DATABASE_URL and REDIS_CONNECTION_STRING, "
                  "but ") +
      (config.database_url.empty() ? "DATABASE_URL" : "REDIS_CONNECTION_STRING") +
      " is not set; unset both to run on embedded storage in PRISM_DATA_DIR");
}

void OpenEmbedded(const Config& config, CacheUse cache_use, Runtime& runtime) {
  sqlite::EmbeddedStorage storage = sqlite::OpenEmbeddedStorage(config);
  runtime.commands = storage.commands;
  runtime.events = storage.events;
  runtime.event_queue = storage.event_queue;
  runtime.read_models = storage.read_models;
  runtime.cache = storage.cache;
  // The in-process cache is refreshed only by a projector in the same process.
  if (cache_use == CacheUse::kNoProjectorInProcess) {
    runtime.cache = std::make_shared<inprocess::NullCache>();
  }
  runtime.live = storage.live;
  runtime.accounts = storage.accounts;
  runtime.secrets = std::make_shared<DataDirSecrets>(config.data_dir);
}

void OpenDistributed(const Config& config, Runtime& runtime) {
  postgres::DistributedPostgres pg = postgres::OpenPostgresStorage(config);
  redis::RedisStorage redis = redis::OpenRedisStorage(config, pg.events);
  runtime.commands = redis.commands;
  runtime.events = pg.events;
  runtime.event_queue =
      std::make_shared<distributed::FailoverEventQueue>(redis.event_queue, pg.event_queue);
  runtime.read_models = pg.read_models;
  runtime.cache = redis.cache;  // shared, and refreshed by the projectors of every process
  runtime.live = redis.live;
  runtime.accounts = pg.accounts;
  runtime.secrets = pg.secrets;
  runtime.relay = redis.relay;
  std::string url = config.database_url;
  runtime.make_projector_lock = [url] {
    return std::make_unique<postgres::AdvisoryLeaderLock>(url, "prism-projector");
  };

  // The command queue lives in Redis: /readyz fails while Redis is unreachable.
  auto commands = redis.commands;
  runtime.readiness.push_back([commands]() -> std::optional<std::string> {
    try {
      commands->Depth();
      return std::nullopt;
    } catch (const std::exception& error) {
      return std::string("command queue: ") + error.what();
    }
  });
}

}  // namespace

std::string EffectiveAuthMode(const Config& config) {
  if (!config.auth_mode.empty()) return config.auth_mode;
  if (config.auth0_test_mode) return "test";
  if (!config.auth0_domain.empty() || !config.auth_issuer.empty()) return "oidc";
  return "local";
}

bool UsesDistributedBackend(const Config& config) {
  CheckBackendSettings(config);
  return !config.database_url.empty();
}

Runtime OpenRuntime(const Config& config, CacheUse cache_use) {
  Runtime runtime;
  if (UsesDistributedBackend(config)) {
    OpenDistributed(config, runtime);
  } else {
    OpenEmbedded(config, cache_use, runtime);
  }

  query::ReadOptions options;
  options.page_size = config.tasks_page_size;
  options.cached_pages = config.num_cached_pages;
  options.tasks_ttl = std::chrono::duration_cast<std::chrono::seconds>(config.tasks_cache_ttl);
  options.settings_ttl =
      std::chrono::duration_cast<std::chrono::seconds>(config.settings_cache_ttl);
  // Every process of a deployment must sign and check page tokens with the same key.
  query::PageTokenCodec codec(runtime.secrets->LoadOrCreate("page-token"));
  runtime.queries = std::make_shared<query::ReadQueries>(runtime.read_models, runtime.cache,
                                                         std::move(codec), options);
  runtime.auth_mode = EffectiveAuthMode(config);
  return runtime;
}

void MigrateStorage(const Config& config) {
  if (UsesDistributedBackend(config)) {
    postgres::MigratePostgresStorage(config);
  } else {
    sqlite::MigrateEmbeddedStorage(config);
  }
}

std::string LocalSigningKey(const Runtime& runtime) {
  return runtime.secrets->LoadOrCreate("token-signing");
}

std::shared_ptr<auth::TokenVerifier> MakeVerifier(const Config& config, const Runtime& runtime) {
  std::optional<std::string> local_secret;
  if (EffectiveAuthMode(config) == "local") local_secret = LocalSigningKey(runtime);
  Config effective = config;
  effective.auth_mode = EffectiveAuthMode(config);
  // MakeVerifierFromConfig puts a cache of verified tokens in front of the verifier.
  return auth::MakeVerifierFromConfig(effective, local_secret);
}

}  // namespace prism::app
