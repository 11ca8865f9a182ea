#include "app/runtime.h"

#include "app/secrets.h"
#include "inprocess/null_cache.h"
#include "sqlite/embedded_storage.h"

namespace prism::app {
std::string EffectiveAuthMode(const Config& config) {
  if (!config.auth_mode.empty()) return config.auth_mode;
  if (config.auth0_test_mode) return "test";
  if (!config.auth0_domain.empty() || !config.auth_issuer.empty()) return "oidc";
  return "local";
}

Runtime OpenRuntime(const Config& config, CacheUse cache_use) {
  // NOTE: only the embedded backend exists so far; DATABASE_URL and REDIS_CONNECTION_STRING are
  // rejected below rather than silently ignored.
  if (!config.database_url.empty() || !config.redis_connection_string.empty()) {
    throw std::runtime_error(
        "DATABASE_URL and REDIS_CONNECTION_STRING are not supported yet; unset them to run on "
        "embedded storage in PRISM_DATA_DIR");
  }

  sqlite::EmbeddedStorage storage = sqlite::OpenEmbeddedStorage(config);
  Runtime runtime;
  runtime.commands = storage.commands;
  runtime.events = storage.events;
  runtime.event_queue = storage.event_queue;
  runtime.read_models = storage.read_models;
  runtime.cache = storage.cache;
  if (cache_use == CacheUse::kNoProjectorInProcess) {
    runtime.cache = std::make_shared<inprocess::NullCache>();
  }
  runtime.live = storage.live;
  runtime.accounts = storage.accounts;

  query::ReadOptions options;
  options.page_size = config.tasks_page_size;
  options.cached_pages = config.num_cached_pages;
  options.tasks_ttl = std::chrono::duration_cast<std::chrono::seconds>(config.tasks_cache_ttl);
  options.settings_ttl =
      std::chrono::duration_cast<std::chrono::seconds>(config.settings_cache_ttl);
  query::PageTokenCodec codec(LoadOrCreateSecret(config.data_dir, "page-token"));
  runtime.queries = std::make_shared<query::ReadQueries>(runtime.read_models, runtime.cache,
                                                         std::move(codec), options);
  runtime.auth_mode = EffectiveAuthMode(config);
  return runtime;
}

std::string LocalSigningKey(const Config& config) {
  return LoadOrCreateSecret(config.data_dir, "token-signing");
}

std::shared_ptr<auth::TokenVerifier> MakeVerifier(const Config& config) {
  std::optional<std::string> local_secret;
  if (EffectiveAuthMode(config) == "local") local_secret = LocalSigningKey(config);
  Config effective = config;
  effective.auth_mode = EffectiveAuthMode(config);
  // MakeVerifierFromConfig puts a cache of verified tokens in front of the verifier.
  return auth::MakeVerifierFromConfig(effective, local_secret);
}

}  // namespace prism::app
