#include "stream/stream_service.h"

#include <array>
#include <charconv>
#include <deque>
#include <functional>
#include <unordered_map>

#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include "api/api_service.h"
#include "api/responses.h"
#include "common/log.h"
#include "domain/read_model.h"

namespace prism::stream {
namespace {

namespace json = boost::json;
constexpr const char* kComponent = "stream";
constexpr size_t kShardCount = 64;
constexpr std::string_view kKeepAliveFrame = ": keep-alive\n\n";

std::string Frame(int64_t position, std::string_view data) {
  std::string frame;
  frame.reserve(data.size() + 32);
  frame += "id: ";
  frame += std::to_string(position);
  frame += "\ndata: ";
  frame += data;
  frame += "\n\n";
  return frame;
}

std::optional<int64_t> ParsePosition(std::string_view text) {
  int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < 0) return std::nullopt;
  return value;
}

// The resume position a client sent: the Last-Event-ID header, or ?lastEventId= for clients
// that open a new EventSource and so cannot set the header.
std::optional<int64_t> ResumePosition(const http::Request& request) {
  auto header = request.find("Last-Event-ID");
  if (header != request.end()) return ParsePosition(header->value());
  auto url = boost::urls::parse_origin_form(request.target());
  if (!url) return std::nullopt;
  auto params = url->params();
  auto it = params.find("lastEventId");
  if (it == params.end()) return std::nullopt;
  return ParsePosition((*it).value);
}

}  // namespace

// Per-user connections and recent history, sharded by user id so that publishing for one user
// never waits for another user's lock.
struct StreamService::Hub {
  struct Connection {
    std::shared_ptr<http::EventStreamSink> sink;
    bool live = false;                      // snapshot or replay sent; updates go straight out
    int64_t sent_position = 0;              // updates at or below this are already reflected
    int64_t expires_at = 0;                 // the token's "exp" in Unix seconds; 0 for none
    std::vector<storage::LiveUpdate> held;  // updates that arrived before the snapshot was sent
  };

  struct UserState {
    std::vector<std::shared_ptr<Connection>> connections;
    std::deque<storage::LiveUpdate> history;
    int64_t history_floor = 0;  // updates at or below this position may be missing from history
    std::chrono::steady_clock::time_point last_activity;
  };

  struct Shard {
    std::mutex mutex;
    std::unordered_map<std::string, UserState> users;  // guarded by mutex
  };

  std::array<Shard, kShardCount> shards;
  std::atomic<int64_t> forgotten_position{0};
  size_t history_limit = 128;

  Shard& ShardOf(const std::string& user_id) {
    return shards[std::hash<std::string>{}(user_id) % kShardCount];
  }

  // Requires the shard's mutex.
  UserState& UserOf(Shard& shard, const std::string& user_id) {
    auto [it, inserted] = shard.users.try_emplace(user_id);
    if (inserted) it->second.history_floor = forgotten_position.load();
    it->second.last_activity = std::chrono::steady_clock::now();
    return it->second;
  }

  void Publish(const storage::LiveUpdate& update) {
    Shard& shard = ShardOf(update.user_id);
    std::lock_guard lock(shard.mutex);
    UserState& user = UserOf(shard, update.user_id);
    user.history.push_back(update);
    if (user.history.size() > history_limit) {
      user.history_floor = user.history.front().position;
      user.history.pop_front();
    }
    std::string frame;
    for (auto& connection : user.connections) {
      if (!connection->live) {
        connection->held.push_back(update);
        continue;
      }
      if (update.position <= connection->sent_position) continue;
      if (frame.empty()) frame = Frame(update.position, update.json);
      connection->sink->Send(frame);
    }
  }
};

StreamService::StreamService(std::shared_ptr<storage::LiveUpdates> live,
                             std::shared_ptr<storage::ReadModels> read_models,
                             std::shared_ptr<auth::TokenVerifier> verifier, StreamOptions options)
    : live_(std::move(live)),
      read_models_(std::move(read_models)),
      verifier_(std::move(verifier)),
      options_(options),
      hub_(std::make_shared<Hub>()) {
  hub_->history_limit = options_.history_per_user;
}

StreamService::~StreamService() { Stop(); }

void StreamService::Register(http::Router& router) {
  router.AddStream("/stream", [this](http::Request& request, const http::RequestInfo& info) {
    return Accept(request, info);
  });
}

void StreamService::Start() {
  // Updates before this point were never seen here, so no history covers them.
  hub_->forgotten_position = read_models_->Checkpoint();
  std::weak_ptr<Hub> weak_hub = hub_;
  subscription_ = live_->Subscribe([weak_hub](const storage::LiveUpdate& update) {
    if (auto hub = weak_hub.lock()) hub->Publish(update);
  });
  keepalive_thread_ = std::thread([this] { KeepAliveLoop(); });
  log::Info(kComponent, "stream service started",
            {{"keepalive_ms", static_cast<int64_t>(options_.keepalive.count())}});
}

void StreamService::Stop() {
  {
    std::lock_guard lock(stop_mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  stop_signal_.notify_all();
  if (keepalive_thread_.joinable()) keepalive_thread_.join();
  subscription_.reset();

  for (Hub::Shard& shard : hub_->shards) {
    std::vector<std::shared_ptr<http::EventStreamSink>> sinks;
    {
      std::lock_guard lock(shard.mutex);
      for (auto& [user_id, user] : shard.users) {
        for (auto& connection : user.connections) sinks.push_back(connection->sink);
      }
    }
    for (auto& sink : sinks) sink->Close();
  }
  log::Info(kComponent, "stream service stopped");
}

http::StreamDecision StreamService::Accept(http::Request& request, const http::RequestInfo& info) {
  http::StreamDecision decision;
  api::Authentication auth = api::Authenticate(request, *verifier_, true);
  if (!auth.user_id) {
    decision.reject = api::UnauthorizedResponse(request, auth.reason);
    return decision;
  }

  std::string user_id = *auth.user_id;
  int64_t expires_at = auth.expires_at;
  std::optional<int64_t> resume = ResumePosition(request);
  uint64_t request_id = info.request_id;
  std::shared_ptr<Hub> hub = hub_;
  std::shared_ptr<storage::ReadModels> read_models = read_models_;
  std::atomic<int64_t>* open_streams = &open_streams_;

  decision.on_open = [hub, read_models, user_id, expires_at, resume, request_id,
                      open_streams](std::shared_ptr<http::EventStreamSink> sink) {
    auto connection = std::make_shared<Hub::Connection>();
    connection->sink = sink;
    connection->expires_at = expires_at;
    Hub::Shard& shard = hub->ShardOf(user_id);
    ++*open_streams;
    sink->OnClose([hub, &shard, connection, user_id, open_streams] {
      std::lock_guard lock(shard.mutex);
      auto it = shard.users.find(user_id);
      if (it != shard.users.end()) std::erase(it->second.connections, connection);
      --*open_streams;
    });

    // Resume from history when it still covers everything after the client's position.
    {
      std::lock_guard lock(shard.mutex);
      Hub::UserState& user = hub->UserOf(shard, user_id);
      user.connections.push_back(connection);
      if (resume && *resume >= user.history_floor) {
        for (const storage::LiveUpdate& update : user.history) {
          if (update.position > *resume) sink->Send(Frame(update.position, update.json));
        }
        connection->sent_position = *resume;
        connection->live = true;
        log::Debug(kComponent, "stream resumed",
                   {{"user_id", user_id}, {"request_id", request_id}, {"after", *resume}});
        return;
      }
    }

    // Otherwise a snapshot: the checkpoint first, so the rows read after it reflect at least it.
    std::string tasks_frame;
    std::string settings_frame;
    int64_t snapshot_position = 0;
    try {
      snapshot_position = read_models->Checkpoint();
      json::array tasks;
      for (const domain::TaskRow& task : read_models->AllTasks(user_id)) {
        tasks.push_back(domain::TaskToJson(task));
      }
      domain::SettingsRow settings =
          read_models->FindSettings(user_id).value_or(domain::SettingsRow{});
      json::object tasks_message{{"entityType", "task"}, {"data", std::move(tasks)}};
      json::object settings_message{{"entityType", "user-settings"},
                                    {"data", domain::SettingsToJson(settings)}};
      tasks_frame = Frame(snapshot_position, json::serialize(tasks_message));
      settings_frame = Frame(snapshot_position, json::serialize(settings_message));
    } catch (const std::exception& error) {
      log::Error(kComponent, "snapshot failed; closing stream",
                 {{"user_id", user_id}, {"request_id", request_id}, {"error", error.what()}});
      sink->Close();
      return;
    }

    std::lock_guard lock(shard.mutex);
    sink->Send(std::move(tasks_frame));
    sink->Send(std::move(settings_frame));
    for (const storage::LiveUpdate& update : connection->held) {
      if (update.position > snapshot_position) sink->Send(Frame(update.position, update.json));
    }
    connection->held.clear();
    connection->sent_position = snapshot_position;
    connection->live = true;
  };
  return decision;
}

void StreamService::KeepAliveLoop() {
  std::unique_lock stop_lock(stop_mutex_);
  while (!stop_signal_.wait_for(stop_lock, options_.keepalive, [this] { return stopping_; })) {
    stop_lock.unlock();
    int64_t now_unix = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
    KeepAliveTick(std::chrono::steady_clock::now(), now_unix);
    stop_lock.lock();
  }
}

// Sends keep-alives, closes streams whose token has expired, and drops the state of idle users.
void StreamService::KeepAliveTick(std::chrono::steady_clock::time_point now, int64_t now_unix) {
  int64_t expired = 0;
  for (Hub::Shard& shard : hub_->shards) {
    std::lock_guard lock(shard.mutex);
    for (auto it = shard.users.begin(); it != shard.users.end();) {
      Hub::UserState& user = it->second;
      std::erase_if(user.connections, [](const auto& c) { return !c->sink->IsOpen(); });
      for (auto& connection : user.connections) {
        bool has_expired = connection->expires_at != 0 &&
                           now_unix - options_.token_leeway.count() >= connection->expires_at;
        if (has_expired) {
          connection->sink->Close();  // its close callback removes it from the user
          ++expired;
        } else if (connection->live) {
          connection->sink->Send(std::string(kKeepAliveFrame));
        }
      }
      bool idle =
          user.connections.empty() && now - user.last_activity > options_.idle_user_retention;
      if (!idle) {
        ++it;
        continue;
      }
      // Forget the user's history; any later resume below this position gets a snapshot.
      int64_t last = user.history.empty() ? user.history_floor : user.history.back().position;
      int64_t previous = hub_->forgotten_position.load();
      while (last > previous && !hub_->forgotten_position.compare_exchange_weak(previous, last)) {
      }
      it = shard.users.erase(it);
    }
  }
  if (expired > 0)
    log::Info(kComponent, "closed streams whose token expired", {{"count", expired}});
}

}  // namespace prism::stream
