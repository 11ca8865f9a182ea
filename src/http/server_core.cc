#include "http/server_core.h"

#include <ctime>
#include <string>

namespace prism::http {
namespace {

namespace beast_http = boost::beast::http;

std::atomic<uint64_t> next_metrics_instance_id{1};

// Route ids start at kPreflightRouteId; this shifts them to vector indexes.
size_t RouteIndex(int route_id) {
  return static_cast<size_t>(route_id - HttpMetrics::kPreflightRouteId);
}

std::string RouteLabel(const Router& router, int route_id) {
  if (route_id == HttpMetrics::kPreflightRouteId) return "preflight";
  return std::string(router.RouteName(route_id));
}

std::string_view MethodLabel(beast_http::verb method) {
  return method == beast_http::verb::unknown ? "OTHER" : beast_http::to_string(method);
}

constexpr const char* kErrorReasons[] = {
    "read_timeout",       "bad_request",          "header_too_large",  "target_too_long",
    "body_too_large",     "bad_content_encoding", "handler_exception", "handler_dropped_responder",
    "stream_buffer_full", "accept_failed",
};
static_assert(std::size(kErrorReasons) == static_cast<size_t>(HttpMetrics::Error::kCount));

}  // namespace

void ConnectionRegistry::Add(Connection* connection, std::weak_ptr<Connection> handle) {
  std::lock_guard lock(mutex_);
  connections_.emplace(connection, std::move(handle));
}

void ConnectionRegistry::Remove(Connection* connection) {
  std::lock_guard lock(mutex_);
  connections_.erase(connection);
  if (connections_.empty()) empty_.notify_all();
}

void ConnectionRegistry::ShutdownAll(bool force) {
  std::vector<std::shared_ptr<Connection>> live;
  {
    std::lock_guard lock(mutex_);
    live.reserve(connections_.size());
    for (auto& [pointer, handle] : connections_) {
      if (auto connection = handle.lock()) live.push_back(std::move(connection));
    }
  }
  for (auto& connection : live) connection->Shutdown(force);
}

bool ConnectionRegistry::WaitUntilEmpty(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  return empty_.wait_until(lock, deadline, [this] { return connections_.empty(); });
}

HttpMetrics::HttpMetrics(metrics::Registry& registry, const Router& router)
    : instance_id_(next_metrics_instance_id.fetch_add(1)),
      router_(router),
      requests_(registry.AddCounter("prism_http_requests_total",
                                    "HTTP requests answered, by route, method and status.",
                                    {"route", "method", "status"})),
      open_connections_(registry
                            .AddGauge("prism_http_open_connections",
                                      "Open HTTP connections, event streams included.")
                            .WithLabels({})),
      open_streams_(registry.AddGauge("prism_http_open_streams", "Open server-sent-event streams.")
                        .WithLabels({})),
      stream_buffer_bytes_(
          registry
              .AddGauge("prism_http_stream_buffer_bytes",
                        "Bytes allocated for the send buffers of open event streams, as of each "
                        "stream's last write.")
              .WithLabels({})) {
  auto& durations = registry.AddHistogram(
      "prism_http_request_duration_seconds",
      "Time from a request's last byte read to its response's last byte written, by route.",
      {"route"}, metrics::LatencyBuckets());
  int route_count = static_cast<int>(router.route_names().size());
  for (int id = kPreflightRouteId; id < route_count; ++id) {
    durations_.push_back(&durations.WithLabels({RouteLabel(router, id)}));
  }

  auto& errors = registry.AddCounter(
      "prism_http_errors_total",
      "Requests and connections the server rejected or cut short, by reason.", {"reason"});
  for (const char* reason : kErrorReasons) errors_.push_back(&errors.WithLabels({reason}));
}

void HttpMetrics::RecordRequest(int route_id, beast_http::verb method, unsigned status,
                                double seconds) {
  RequestCounter(route_id, method, status).Inc();
  size_t index = RouteIndex(route_id);
  if (index < durations_.size()) durations_[index]->Observe(seconds);
}

metrics::Counter& HttpMetrics::RequestCounter(int route_id, beast_http::verb method,
                                              unsigned status) {
  // Packs (server, route, method, status) into one key of a per-thread cache, so that counting a
  // request takes no lock once each combination has been seen on a thread.
  thread_local std::unordered_map<uint64_t, metrics::Counter*> cache;
  uint64_t key = (instance_id_ << 44) | (static_cast<uint64_t>(RouteIndex(route_id)) << 24) |
                 (static_cast<uint64_t>(method) << 12) | (status & 0xfff);
  auto it = cache.find(key);
  if (it != cache.end()) return *it->second;

  metrics::Counter& counter = requests_.WithLabels(
      {RouteLabel(router_, route_id), std::string(MethodLabel(method)), std::to_string(status)});
  cache.emplace(key, &counter);
  return counter;
}

ServerCore::ServerCore(ServerOptions server_options, std::shared_ptr<Router> server_router)
    : options(std::move(server_options)),
      router(std::move(server_router)),
      cors(options.cors_allowed_origins) {}

std::string_view HttpDateNow() {
  thread_local std::time_t cached_second = -1;
  thread_local char text[40];
  thread_local size_t length = 0;

  std::time_t now = std::time(nullptr);
  if (now != cached_second) {
    std::tm parts{};
    gmtime_r(&now, &parts);
    length = std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &parts);
    cached_second = now;
  }
  return {text, length};
}

}  // namespace prism::http
