#include "api/api_service.h"

#include <chrono>

#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include "api/responses.h"
#include "common/log.h"
#include "common/metrics.h"
#include "domain/command.h"
#include "domain/ids.h"

namespace prism::api {
namespace {

namespace json = boost::json;
namespace http_proto = boost::beast::http;
constexpr const char* kComponent = "api";
constexpr int kMaxPageSize = 1000;

// Counters of the admission and authentication paths, looked up once.
struct ApiCounters {
  metrics::Counter& batches_rejected =
      Single("prism_commands_rejected_total", "Command batches rejected at admission (400)");
  metrics::Counter& batches_unavailable =
      Single("prism_commands_unavailable_total",
             "Command batches answered 503 because nothing queued them");
  metrics::Counter& commands_accepted =
      Single("prism_commands_accepted_total", "Commands durably queued (202)");
  metrics::Counter& tokens_rejected =
      Single("prism_auth_rejected_total", "Requests rejected for a missing or invalid token");

  static metrics::Counter& Single(const char* name, const char* help) {
    return metrics::Registry::Default().AddCounter(name, help).WithLabels({});
  }
};

ApiCounters& Counters() {
  static ApiCounters counters;
  return counters;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Shared state of the route handlers.
struct Api {
  ApiDependencies deps;
  Config config;
  log::RateLimiter storage_errors{std::chrono::seconds(10)};

  void LogStorageError(const char* operation, const std::exception& error, uint64_t request_id) {
    long suppressed = storage_errors.Admit(operation);
    if (suppressed < 0) return;
    log::Error(kComponent, "storage unavailable",
               {{"operation", operation},
                {"error", error.what()},
                {"request_id", request_id},
                {"suppressed", suppressed}});
  }
};

// Parses `pageSize`: an integer >= 1, values above the maximum are capped.
std::optional<int> ParsePageSize(std::string_view text) {
  if (text.empty() || text.size() > 18) return std::nullopt;
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  if (value < 1) return std::nullopt;
  return static_cast<int>(std::min<int64_t>(value, kMaxPageSize));
}

void HandleTasks(Api& api, http::Request& request, const http::RequestInfo& info,
                 http::Responder respond) {
  Authentication auth = Authenticate(request, *api.deps.verifier, false);
  if (!auth.user_id) return respond(UnauthorizedResponse(request, auth.reason));

  auto url = boost::urls::parse_origin_form(request.target());
  if (!url) return respond(ErrorResponse(request, 400, "invalid query string"));

  int page_size = api.deps.queries->options().page_size;
  std::optional<query::PageCursor> cursor;
  auto params = url->params();
  if (auto it = params.find("pageSize"); it != params.end()) {
    auto parsed = ParsePageSize((*it).value);
    if (!parsed) return respond(ErrorResponse(request, 400, "invalid page size"));
    page_size = *parsed;
  }
  if (auto it = params.find("pageToken"); it != params.end() && !(*it).value.empty()) {
    cursor = api.deps.queries->DecodeToken(*auth.user_id, (*it).value);
    if (!cursor) return respond(ErrorResponse(request, 400, "invalid page token"));
  }

  try {
    std::string body = api.deps.queries->TasksPage(*auth.user_id, cursor, page_size);
    respond(JsonResponse(request, 200, std::move(body)));
  } catch (const storage::StorageUnavailable& error) {
    api.LogStorageError("list tasks", error, info.request_id);
    respond(UnavailableResponse(request, "task list is unavailable, retry later"));
  }
}

void HandleSettings(Api& api, http::Request& request, const http::RequestInfo& info,
                    http::Responder respond) {
  Authentication auth = Authenticate(request, *api.deps.verifier, false);
  if (!auth.user_id) return respond(UnauthorizedResponse(request, auth.reason));
  try {
    respond(JsonResponse(request, 200, api.deps.queries->Settings(*auth.user_id)));
  } catch (const storage::StorageUnavailable& error) {
    api.LogStorageError("read settings", error, info.request_id);
    respond(UnavailableResponse(request, "settings are unavailable, retry later"));
  }
}

void HandleCommands(Api& api, http::Request& request, const http::RequestInfo& info,
                    http::Responder respond) {
  Authentication auth = Authenticate(request, *api.deps.verifier, false);
  if (!auth.user_id) return respond(UnauthorizedResponse(request, auth.reason));

  auto parsed = domain::ParseCommandBatch(request.body());
  if (auto* error = std::get_if<domain::AdmissionError>(&parsed)) {
    Counters().batches_rejected.Inc();
    return respond(ErrorResponse(request, 400, error->message));
  }
  auto& commands = std::get<std::vector<domain::Command>>(parsed);

  // Give every command its key, then queue the batch durably before answering 202.
  json::array keys;
  std::vector<storage::NewCommand> batch;
  batch.reserve(commands.size());
  int64_t now = NowMs();
  for (domain::Command& command : commands) {
    if (command.idempotency_key.empty()) command.idempotency_key = domain::NewIdempotencyKey();
    keys.emplace_back(command.idempotency_key);
    batch.push_back(
        {*auth.user_id, command.idempotency_key, now, domain::SerializeCommand(command)});
  }
  json::object body;
  body["idempotencyKeys"] = std::move(keys);
  std::string accepted = json::serialize(body);
  if (batch.empty()) return respond(JsonResponse(request, 202, std::move(accepted)));

  size_t count = batch.size();
  auto shared_request = std::make_shared<http::Request>(std::move(request));
  api.deps.commands->Enqueue(
      std::move(batch),
      [&api, shared_request, respond = std::move(respond), count, accepted = std::move(accepted),
       request_id = info.request_id, user_id = *auth.user_id](std::optional<std::string> failure) {
        if (failure) {
          long suppressed = api.storage_errors.Admit("enqueue");
          if (suppressed >= 0) {
            log::Warn(kComponent, "command batch not queued",
                      {{"reason", *failure},
                       {"request_id", request_id},
                       {"user_id", user_id},
                       {"suppressed", suppressed}});
          }
          Counters().batches_unavailable.Inc();
          return respond(
              UnavailableResponse(*shared_request, "command queue unavailable: " + *failure));
        }
        Counters().commands_accepted.Inc(count);
        respond(JsonResponse(*shared_request, 202, accepted));
      });
}

void HandleCommandStatus(Api& api, http::Request& request, const http::RequestInfo& info,
                         http::Responder respond) {
  Authentication auth = Authenticate(request, *api.deps.verifier, false);
  if (!auth.user_id) return respond(UnauthorizedResponse(request, auth.reason));
  const std::string& key = info.path_params.at(0);
  if (!domain::IsValidIdempotencyKey(key)) {
    return respond(ErrorResponse(request, 404, "command not found"));
  }

  try {
    json::object body;
    if (auto outcome = api.deps.events->FindOutcome(*auth.user_id, key)) {
      bool rejected = outcome->status == storage::OutcomeStatus::kRejected;
      body["status"] = rejected ? "rejected" : "completed";
      if (rejected) body["reason"] = outcome->reason;
    } else if (api.deps.commands->IsQueued(*auth.user_id, key)) {
      body["status"] = "pending";
    } else {
      return respond(ErrorResponse(request, 404, "command not found"));
    }
    respond(JsonResponse(request, 200, json::serialize(body)));
  } catch (const storage::StorageUnavailable& error) {
    api.LogStorageError("command status", error, info.request_id);
    respond(UnavailableResponse(request, "command status is unavailable, retry later"));
  }
}

void HandleReady(Api& api, http::Request& request, const http::RequestInfo&,
                 http::Responder respond) {
  for (const ReadinessCheck& check : api.deps.readiness) {
    if (auto failure = check()) {
      return respond(ErrorResponse(request, 503, "not ready: " + *failure));
    }
  }
  respond(JsonResponse(request, 200, R"({"status":"ready"})"));
}

void HandleMetrics(Api& api, http::Request& request, http::Responder respond) {
  // The head of the event store, read at scrape time, so that it can be compared with the
  // projector's applied position (prism_projector_applied_position) and the checkpoint below.
  static metrics::Gauge& head =
      metrics::Registry::Default()
          .AddGauge("prism_event_store_head_position", "Highest committed event position")
          .WithLabels({});
  // The read models' checkpoint, read from storage so that any API replica reports how far the
  // projectors of the whole deployment have come, whichever process runs them.
  static metrics::Gauge& checkpoint =
      metrics::Registry::Default()
          .AddGauge("prism_read_model_checkpoint", "Event position the read models include")
          .WithLabels({});
  try {
    head.Set(static_cast<double>(api.deps.events->HeadPosition()));
    if (api.deps.read_models) {
      checkpoint.Set(static_cast<double>(api.deps.read_models->Checkpoint()));
    }
  } catch (const storage::StorageUnavailable& error) {
    api.LogStorageError("read head position", error, 0);
  }
  http::Response response{http_proto::status::ok, request.version()};
  response.set(http_proto::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
  response.keep_alive(request.keep_alive());
  response.body() = metrics::RenderPrometheus();
  response.prepare_payload();
  respond(std::move(response));
}

void HandleAuthConfig(Api& api, http::Request& request, http::Responder respond) {
  json::object body;
  body["mode"] = api.deps.auth_mode;
  body["signup"] = api.config.auth_signup;
  if (api.deps.auth_mode == "oidc") {
    body["issuer"] = !api.config.auth_issuer.empty() ? api.config.auth_issuer
                                                     : "https://" + api.config.auth0_domain + "/";
    body["audience"] =
        !api.config.auth_audience.empty() ? api.config.auth_audience : api.config.auth0_audience;
    if (!api.config.auth_client_id.empty()) body["clientId"] = api.config.auth_client_id;
  }
  respond(JsonResponse(request, 200, json::serialize(body)));
}

}  // namespace

Authentication Authenticate(const http::Request& request, auth::TokenVerifier& verifier,
                            bool allow_query_token) {
  std::string_view token;
  std::string query_token;  // owns a percent-decoded ?token= value
  auto header = request.find(http_proto::field::authorization);
  if (header != request.end()) {
    std::string_view value = header->value();
    constexpr std::string_view kScheme = "Bearer ";
    if (value.size() <= kScheme.size() ||
        !boost::beast::iequals(value.substr(0, kScheme.size()), kScheme)) {
      return {std::nullopt, "malformed authorization header"};
    }
    token = value.substr(kScheme.size());
  } else if (allow_query_token) {
    auto url = boost::urls::parse_origin_form(request.target());
    if (url) {
      auto params = url->params();
      if (auto it = params.find("token"); it != params.end()) {
        query_token = (*it).value;
        token = query_token;
      }
    }
  }
  if (token.empty()) return {std::nullopt, "missing token"};

  auto result = verifier.Verify(token);
  if (auto* error = std::get_if<auth::VerifyError>(&result)) {
    Counters().tokens_rejected.Inc();
    return {std::nullopt, error->reason};
  }
  const auto& identity = std::get<auth::Identity>(result);
  return {identity.user_id, {}, identity.expires_at};
}

void RegisterApiRoutes(http::Router& router, ApiDependencies dependencies, const Config& config) {
  auto api = std::make_shared<Api>();
  api->deps = std::move(dependencies);
  api->config = config;
  using http_proto::verb;

  router.Add(verb::get, "/api/tasks", [api](auto& request, auto& info, auto respond) {
    HandleTasks(*api, request, info, std::move(respond));
  });
  router.Add(verb::get, "/api/settings", [api](auto& request, auto& info, auto respond) {
    HandleSettings(*api, request, info, std::move(respond));
  });
  router.Add(verb::post, "/api/commands", [api](auto& request, auto& info, auto respond) {
    HandleCommands(*api, request, info, std::move(respond));
  });
  router.Add(verb::get, "/api/commands/{key}", [api](auto& request, auto& info, auto respond) {
    HandleCommandStatus(*api, request, info, std::move(respond));
  });
  router.Add(verb::get, "/api/auth/config", [api](auto& request, auto&, auto respond) {
    HandleAuthConfig(*api, request, std::move(respond));
  });
  router.Add(verb::get, "/healthz", [](auto& request, auto&, auto respond) {
    respond(JsonResponse(request, 200, R"({"status":"ok"})"));
  });
  router.Add(verb::get, "/readyz", [api](auto& request, auto& info, auto respond) {
    HandleReady(*api, request, info, std::move(respond));
  });
  router.Add(verb::get, "/metrics", [api](auto& request, auto&, auto respond) {
    HandleMetrics(*api, request, std::move(respond));
  });
}

void RegisterHealthRoutes(http::Router& router, std::vector<ReadinessCheck> readiness) {
  using http_proto::verb;
  auto checks = std::make_shared<std::vector<ReadinessCheck>>(std::move(readiness));
  router.Add(verb::get, "/healthz", [](auto& request, auto&, auto respond) {
    respond(JsonResponse(request, 200, R"({"status":"ok"})"));
  });
  router.Add(verb::get, "/readyz", [checks](auto& request, auto&, auto respond) {
    for (const ReadinessCheck& check : *checks) {
      if (auto failure = check()) {
        return respond(ErrorResponse(request, 503, "not ready: " + *failure));
      }
    }
    respond(JsonResponse(request, 200, R"({"status":"ready"})"));
  });
  router.Add(verb::get, "/metrics", [](auto& request, auto&, auto respond) {
    http::Response response{http_proto::status::ok, request.version()};
    response.set(http_proto::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    response.keep_alive(request.keep_alive());
    response.body() = metrics::RenderPrometheus();
    response.prepare_payload();
    respond(std::move(response));
  });
}

}  // namespace prism::api
