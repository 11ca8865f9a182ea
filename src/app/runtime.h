// Builds the storage, read side and authentication every role shares from the configuration.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "auth/verifier.h"
#include "common/config.h"
#include "query/read_queries.h"
#include "storage/accounts.h"
#include "storage/interfaces.h"
#include "storage/leader.h"
#include "storage/secrets.h"

namespace prism::redis {
class OutboxRelay;
}

namespace prism::app {

struct Runtime {
  std::shared_ptr<storage::CommandQueue> commands;
  std::shared_ptr<storage::EventStore> events;
  std::shared_ptr<storage::EventQueue> event_queue;
  std::shared_ptr<storage::ReadModels> read_models;
  std::shared_ptr<storage::Cache> cache;
  std::shared_ptr<storage::LiveUpdates> live;
  std::shared_ptr<storage::AccountStore> accounts;
  std::shared_ptr<query::ReadQueries> queries;
  std::string auth_mode;  // the effective mode: "local", "test" or "oidc"

  std::shared_ptr<storage::SecretStore> secrets;  // keys every process of the deployment shares

  // Distributed backend only: the outbox relay to the events queue (started by the domain role),
  // and the leadership that lets one projector of the deployment run at a time.
  std::shared_ptr<redis::OutboxRelay> relay;
  std::function<std::unique_ptr<storage::LeaderLock>()> make_projector_lock;

  // Extra checks for /readyz beyond the event store, each returning the failure or nullopt.
  std::vector<std::function<std::optional<std::string>()>> readiness;
};

// Whether the process runs its own projector. On embedded storage the cache lives in the
// process, so a process whose cache no projector of its own refreshes must not cache at all.
enum class CacheUse { kProjectorInProcess, kNoProjectorInProcess };

// Whether DATABASE_URL and REDIS_CONNECTION_STRING select the distributed backend. Throws
// ConfigError when only one of them is set.
bool UsesDistributedBackend(const Config& config);

// Opens the configured backend, running migrations first. Throws std::runtime_error (or
// storage::StorageUnavailable) naming what failed.
Runtime OpenRuntime(const Config& config, CacheUse cache_use = CacheUse::kProjectorInProcess);

// The authentication mode the configuration selects: AUTH_MODE when set, otherwise "test" with
// AUTH0_TEST_MODE, "oidc" with an issuer or Auth0 domain, and "local" otherwise.
std::string EffectiveAuthMode(const Config& config);

// Creates or migrates the configured backend's schema (`prism init`).
void MigrateStorage(const Config& config);

// Returns the HS256 key that local-mode tokens are signed and verified with.
std::string LocalSigningKey(const Runtime& runtime);

// Builds the token verifier of the effective mode, with a cache of verified tokens.
std::shared_ptr<auth::TokenVerifier> MakeVerifier(const Config& config, const Runtime& runtime);

}  // namespace prism::app
