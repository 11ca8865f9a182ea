// The Prism API routes: queries served from the read side, command admission into the durable
// command queue, command outcomes, and the operational endpoints.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "auth/verifier.h"
#include "common/config.h"
#include "http/router.h"
#include "query/read_queries.h"
#include "storage/interfaces.h"

namespace prism::api {

// A dependency check for /readyz: returns nullopt when the dependency answers, or its name and
// the failure.
using ReadinessCheck = std::function<std::optional<std::string>()>;

struct ApiDependencies {
  std::shared_ptr<storage::CommandQueue> commands;
  std::shared_ptr<storage::EventStore> events;
  std::shared_ptr<query::ReadQueries> queries;
  std::shared_ptr<storage::ReadModels> read_models;  // optional; its checkpoint is in /metrics
  std::shared_ptr<auth::TokenVerifier> verifier;
  std::vector<ReadinessCheck> readiness;
  std::string auth_mode;  // "local", "test" or "oidc", reported by /api/auth/config
};

// Registers every API route on the router: /api/tasks, /api/settings, /api/commands,
// /api/commands/{key}, /api/auth/config, /healthz, /readyz and /metrics.
void RegisterApiRoutes(http::Router& router, ApiDependencies dependencies, const Config& config);

// Registers /healthz, /readyz (503 naming the first failing check) and /metrics, for processes
// that serve no API routes, such as `prism stream`.
void RegisterHealthRoutes(http::Router& router, std::vector<ReadinessCheck> readiness);

// Returns the user id of a request's bearer token, or the reason it was rejected (for a 401).
// Accepts `Authorization: Bearer <JWT>` and, when `allow_query_token`, `?token=<JWT>`.
struct Authentication {
  std::optional<std::string> user_id;
  std::string reason;
  int64_t expires_at = 0;  // the token's "exp" in Unix seconds; 0 when it has none
};
Authentication Authenticate(const http::Request& request, auth::TokenVerifier& verifier,
                            bool allow_query_token);

}  // namespace prism::api
