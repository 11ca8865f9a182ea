#include "app/roles.h"

#include <sys/resource.h>

#include <cstdio>
#include <filesystem>

#include "accounts/account_service.h"
#include "api/api_service.h"
#include "api/responses.h"
#include "app/runtime.h"
#include "app/shutdown.h"
#include "cleaner/cron.h"
#include "cleaner/idempotency_cleaner.h"
#include "common/log.h"
#include "http/router.h"
#include "http/server.h"
#include "http/static_files.h"
#include "redis/event_queue.h"
#include "storage/leader.h"
#include "stream/stream_service.h"
#include "workers/domain_worker.h"
#include "workers/projector.h"

namespace prism::app {
namespace {

constexpr auto kShutdownGrace = std::chrono::seconds(8);

// Raises the soft open-file limit to the hard limit, because every open stream holds a socket.
void RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  rlim_t previous = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) == 0) {
    log::Info(
        "process", "raised the open-file limit",
        {{"from", static_cast<int64_t>(previous)}, {"to", static_cast<int64_t>(limit.rlim_cur)}});
  }
}

http::ServerOptions ServerOptionsFrom(const Config& config, uint16_t port) {
  http::ServerOptions options;
  options.address = config.bind_address;
  options.port = port;
  options.threads = config.http_threads;
  options.cors_allowed_origins = config.cors_allowed_origins;
  options.stream_buffer_bytes = static_cast<size_t>(config.stream_buffer_bytes);
  return options;
}

// The built web app: PRISM_WEB_DIR, else web/dist under the working directory.
std::string WebDirectory(const Config& config) {
  if (!config.web_dir.empty()) return config.web_dir;
  return "web/dist";
}

// Serves the web app for paths outside the API, and a JSON 404 for unknown API paths, so a
// mistyped API call never gets the app's HTML with status 200.
http::Handler WebAppFallback(const std::string& web_dir) {
  http::Handler files = http::MakeStaticFileHandler(web_dir);
  return [files](http::Request& request, const http::RequestInfo& info, http::Responder respond) {
    std::string_view target = request.target();
    std::string_view path = target.substr(0, target.find('?'));
    if (path == "/api" || path.starts_with("/api/") || path.starts_with("/stream")) {
      return respond(api::ErrorResponse(request, 404, "not found"));
    }
    files(request, info, std::move(respond));
  };
}

// The checks behind /readyz: the event store responds, and so does every other dependency the
// runtime lists (the distributed backend's Redis).
std::vector<api::ReadinessCheck> ReadinessChecksOf(const Runtime& runtime) {
  std::vector<api::ReadinessCheck> checks;
  auto events = runtime.events;
  checks.push_back([events]() -> std::optional<std::string> {
    try {
      events->HeadPosition();
      return std::nullopt;
    } catch (const std::exception& error) {
      return std::string("storage: ") + error.what();
    }
  });
  for (const api::ReadinessCheck& check : runtime.readiness) checks.push_back(check);
  return checks;
}

api::ApiDependencies ApiDependenciesOf(const Runtime& runtime,
                                       std::shared_ptr<auth::TokenVerifier> verifier) {
  api::ApiDependencies deps;
  deps.commands = runtime.commands;
  deps.events = runtime.events;
  deps.queries = runtime.queries;
  deps.read_models = runtime.read_models;
  deps.verifier = std::move(verifier);
  deps.auth_mode = runtime.auth_mode;
  deps.readiness = ReadinessChecksOf(runtime);
  return deps;
}

std::unique_ptr<cleaner::IdempotencyCleaner> MakeCleaner(const Config& config,
                                                         const Runtime& runtime) {
  std::string why;
  auto schedule = CronSchedule::Parse(config.idempotency_cleaner_schedule, &why);
  cleaner::IdempotencyCleaner::Options options;
  return std::make_unique<cleaner::IdempotencyCleaner>(runtime.events, *schedule,
                                                       config.idempotency_retention, options);
}

// The account endpoints exist only in local mode, where this deployment issues the tokens.
std::unique_ptr<accounts::AccountService> MakeAccountService(const Config& config,
                                                             const Runtime& runtime) {
  if (runtime.auth_mode != "local") return nullptr;
  accounts::AccountOptions options;
  options.signup_enabled = config.auth_signup;
  return std::make_unique<accounts::AccountService>(runtime.accounts, LocalSigningKey(runtime),
                                                    options);
}

// Logs a start-up failure in both forms: JSON for log collectors, one plain line for a person.
// Exits 2 for an invalid configuration, like the option parser, and 1 for anything else.
int StartupFailed(const char* role, const std::exception& error) {
  log::Error(role, "start-up failed", {{"error", error.what()}});
  std::fprintf(stderr, "prism %s: %s\n", role, error.what());
  return dynamic_cast<const ConfigError*>(&error) != nullptr ? 2 : 1;
}

int WaitAndLog(const char* role) {
  int signal_number = WaitForShutdownSignal();
  log::Info(role, "stopping", {{"signal", signal_number}});
  return signal_number;
}

// Runs the projector only while this process is the projector leader of the deployment, so one
// projector applies events at a time and the others wait to take over within a second.
void RunWhileLeader(std::unique_ptr<storage::LeaderLock> lock,
                    const std::function<std::unique_ptr<workers::Projector>()>& make_projector) {
  constexpr auto kCheckInterval = std::chrono::milliseconds(500);
  std::unique_ptr<workers::Projector> projector;
  bool reported_standby = false;
  bool check_failing = false;
  while (!WaitForShutdownSignalFor(kCheckInterval)) {
    try {
      if (projector && !lock->StillHeld()) {
        log::Warn("projector", "lost leadership; waiting to take over again");
        projector->Stop();
        projector.reset();
      }
      if (!projector && lock->TryAcquire()) {
        log::Info("projector", "became the leader; applying events");
        projector = make_projector();
        projector->Start();
        reported_standby = false;
      } else if (!projector && !reported_standby) {
        log::Info("projector", "another projector is the leader; waiting to take over");
        reported_standby = true;
      }
      if (check_failing) log::Info("projector", "leadership check works again");
      check_failing = false;
    } catch (const storage::StorageUnavailable& error) {
      // Logged once per outage; the loop retries every check interval.
      if (!check_failing) {
        log::Warn("projector", "leadership check failed; retrying", {{"error", error.what()}});
      }
      check_failing = true;
    }
  }
  log::Info("projector", "stopping");
  if (projector) projector->Stop();
  lock->Release();
}

}  // namespace

int RunServe(const Config& config) {
  log::Info("serve", "starting", {{"version", PRISM_VERSION}, {"config", DescribeConfig(config)}});
  auto started = std::chrono::steady_clock::now();
  try {
    RaiseOpenFileLimit();
    Runtime runtime = OpenRuntime(config);
    auto verifier = MakeVerifier(config, runtime);

    workers::DomainWorker domain(runtime.commands, runtime.events, runtime.event_queue,
                                 runtime.read_models, {});
    workers::Projector projector(runtime.event_queue, runtime.events, runtime.read_models,
                                 runtime.queries, runtime.live, {});
    auto cleaner = MakeCleaner(config, runtime);

    stream::StreamOptions stream_options;
    stream_options.keepalive =
        std::chrono::duration_cast<std::chrono::milliseconds>(config.stream_keepalive);
    stream::StreamService stream(runtime.live, runtime.read_models, verifier, stream_options);

    auto router = std::make_shared<http::Router>();
    api::RegisterApiRoutes(*router, ApiDependenciesOf(runtime, verifier), config);
    stream.Register(*router);
    std::unique_ptr<accounts::AccountService> accounts = MakeAccountService(config, runtime);
    if (accounts) accounts->Register(*router);
    std::string web_dir = WebDirectory(config);
    if (std::filesystem::exists(web_dir + "/index.html")) {
      router->SetFallback(WebAppFallback(web_dir));
    } else {
      log::Warn("serve", "web app not found; serving the API only", {{"web_dir", web_dir}});
    }
    http::Server server(ServerOptionsFrom(config, config.port), router);

    stream.Start();
    projector.Start();
    domain.Start();
    cleaner->Start();
    server.Start();
    auto startup_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - started)
                          .count();
    log::Info("serve", "ready",
              {{"port", static_cast<int64_t>(server.port())},
               {"auth_mode", runtime.auth_mode},
               {"startup_ms", static_cast<int64_t>(startup_ms)}});

    WaitAndLog("serve");
    server.Stop(kShutdownGrace);
    stream.Stop();
    domain.Stop();
    projector.Stop();
    cleaner->Stop();
    log::Info("serve", "stopped");
    return 0;
  } catch (const std::exception& error) {
    return StartupFailed("serve", error);
  }
}

int RunApi(const Config& config) {
  log::Info("api", "starting", {{"version", PRISM_VERSION}, {"config", DescribeConfig(config)}});
  try {
    RaiseOpenFileLimit();
    Runtime runtime = OpenRuntime(config, CacheUse::kNoProjectorInProcess);
    auto router = std::make_shared<http::Router>();
    api::RegisterApiRoutes(*router, ApiDependenciesOf(runtime, MakeVerifier(config, runtime)),
                           config);
    std::unique_ptr<accounts::AccountService> accounts = MakeAccountService(config, runtime);
    if (accounts) accounts->Register(*router);
    http::Server server(ServerOptionsFrom(config, config.port), router);
    server.Start();
    log::Info("api", "ready", {{"port", static_cast<int64_t>(server.port())}});
    WaitAndLog("api");
    server.Stop(kShutdownGrace);
    log::Info("api", "stopped");
    return 0;
  } catch (const std::exception& error) {
    return StartupFailed("api", error);
  }
}

int RunDomain(const Config& config) {
  log::Info("domain", "starting", {{"version", PRISM_VERSION}, {"config", DescribeConfig(config)}});
  try {
    Runtime runtime = OpenRuntime(config);
    workers::DomainWorker domain(runtime.commands, runtime.events, runtime.event_queue,
                                 runtime.read_models, {});
    // The relay moves committed events from the outbox to the events queue right away.
    if (runtime.relay) runtime.relay->Start();
    domain.Start();
    log::Info("domain", "ready");
    WaitAndLog("domain");
    domain.Stop();
    log::Info("domain", "stopped");
    return 0;
  } catch (const std::exception& error) {
    return StartupFailed("domain", error);
  }
}

int RunProjector(const Config& config) {
  log::Info("projector", "starting",
            {{"version", PRISM_VERSION}, {"config", DescribeConfig(config)}});
  try {
    Runtime runtime = OpenRuntime(config);
    auto make_projector = [&runtime] {
      return std::make_unique<workers::Projector>(runtime.event_queue, runtime.events,
                                                  runtime.read_models, runtime.queries,
                                                  runtime.live, workers::ProjectorOptions{});
    };
    if (!runtime.make_projector_lock) {
      auto projector = make_projector();
      projector->Start();
      log::Info("projector", "ready");
      WaitAndLog("projector");
      projector->Stop();
    } else {
      RunWhileLeader(runtime.make_projector_lock(), make_projector);
    }
    log::Info("projector", "stopped");
    return 0;
  } catch (const std::exception& error) {
    return StartupFailed("projector", error);
  }
}

int RunStream(const Config& config) {
  log::Info("stream", "starting", {{"version", PRISM_VERSION}, {"config", DescribeConfig(config)}});
  // On embedded storage live updates travel in-process only, so a stream process apart from the
  // projector would never receive any: it needs the distributed backend's pub/sub.
  if (config.redis_connection_string.empty() || config.database_url.empty()) {
    std::fprintf(stderr,
                 "prism stream: a separate stream process needs DATABASE_URL and "
                 "REDIS_CONNECTION_STRING (the distributed backend); `prism serve` includes the "
                 "stream on embedded storage\n");
    return 2;
  }
  try {
    RaiseOpenFileLimit();
    Runtime runtime = OpenRuntime(config, CacheUse::kNoProjectorInProcess);
    stream::StreamOptions stream_options;
    stream_options.keepalive =
        std::chrono::duration_cast<std::chrono::milliseconds>(config.stream_keepalive);
    stream::StreamService stream(runtime.live, runtime.read_models, MakeVerifier(config, runtime),
                                 stream_options);

    auto router = std::make_shared<http::Router>();
    stream.Register(*router);
    api::RegisterHealthRoutes(*router, ReadinessChecksOf(runtime));
    http::Server server(ServerOptionsFrom(config, config.stream_port), router);
    stream.Start();
    server.Start();
    log::Info("stream", "ready", {{"port", static_cast<int64_t>(server.port())}});
    WaitAndLog("stream");
    server.Stop(kShutdownGrace);
    stream.Stop();
    log::Info("stream", "stopped");
    return 0;
  } catch (const std::exception& error) {
    return StartupFailed("stream", error);
  }
}

int RunCleaner(const Config& config) {
  log::Info("cleaner", "starting",
            {{"version", PRISM_VERSION}, {"config", DescribeConfig(config)}});
  try {
    Runtime runtime = OpenRuntime(config);
    auto cleaner = MakeCleaner(config, runtime);
    cleaner->Start();
    WaitAndLog("cleaner");
    cleaner->Stop();
    return 0;
  } catch (const std::exception& error) {
    return StartupFailed("cleaner", error);
  }
}

int RunInit(const Config& config) {
  log::Info("init", "starting", {{"version", PRISM_VERSION}, {"config", DescribeConfig(config)}});
  try {
    MigrateStorage(config);
    log::Info("init", "storage is ready");
    return 0;
  } catch (const std::exception& error) {
    return StartupFailed("init", error);
  }
}

int RunRebuild(const Config& config) {
  log::Info("rebuild", "starting",
            {{"version", PRISM_VERSION}, {"config", DescribeConfig(config)}});
  try {
    Runtime runtime = OpenRuntime(config);
    workers::ProjectorOptions options;
    options.publish_live_updates = false;
    options.refresh_cache = false;
    workers::Projector projector(runtime.event_queue, runtime.events, runtime.read_models, nullptr,
                                 nullptr, options);

    auto started = std::chrono::steady_clock::now();
    runtime.read_models->Reset();
    int64_t position = 0;
    int64_t replayed = 0;
    int64_t head = runtime.events->HeadPosition();
    // Events per read and per read-model commit. Each commit writes every page it changed to the
    // WAL, and the checkpoint copies it back. With random task ids nearly every upsert changes a
    // different leaf of the tasks primary-key index, so larger commits rewrite far fewer pages.
    // On bench/run.py's P6 store of 1,000,000 events, 32,768 instead of 4,096 wrote 3.2 times
    // fewer bytes and raised the peak resident memory from 27 MB to 74 MB.
    constexpr size_t kReplayBatch = 32768;
    while (true) {
      std::vector<domain::Event> events = runtime.events->ReadAll(position, kReplayBatch);
      if (events.empty()) break;
      projector.Apply(events);
      position = events.back().position;
      replayed += static_cast<int64_t>(events.size());
      if (replayed % (kReplayBatch * 64) < kReplayBatch) {
        log::Info("rebuild", "progress",
                  {{"events", replayed}, {"position", position}, {"head", head}});
      }
    }
    // Cached pages were built from the read models before the reset; a shared cache must not
    // serve them any longer.
    if (runtime.cache && !runtime.cache->InvalidateBefore(runtime.read_models->Checkpoint())) {
      log::Warn("rebuild", "the cache could not be invalidated; its entries expire by their TTL");
    }
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    log::Info("rebuild", "done",
              {{"events", replayed},
               {"seconds", seconds},
               {"events_per_second", seconds > 0 ? replayed / seconds : 0.0}});
    std::printf("rebuild: replayed %lld events in %.2f s (%.0f events/s)\n",
                static_cast<long long>(replayed), seconds, seconds > 0 ? replayed / seconds : 0.0);
    return 0;
  } catch (const std::exception& error) {
    return StartupFailed("rebuild", error);
  }
}

}  // namespace prism::app
