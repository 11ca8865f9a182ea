#include "redis/event_queue.h"

#include <algorithm>
#include <utility>

namespace prism::redis {

namespace {

using storage::StorageUnavailable;

constexpr std::string_view kComponent = "event-queue";
constexpr const char* kReader = "reader";

// KEYS[1] stream, KEYS[2] last relayed position. ARGV: count, then position and event per event,
// in position order. Appends each event whose position is above the last relayed one; events at
// or below it were appended by this or another relay already. Positions may skip numbers: a
// transaction that rolled back had taken them from the sequence. Such a hole below a committed
// position is final, because appends are serialised (see PostgresEventStore), so appending past
// it skips no event. Returns [last relayed position, appended count].
const Script kAppendScript(R"lua(
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
local appended = 0
for i = 0, tonumber(ARGV[1]) - 1 do
  local position = tonumber(ARGV[2 + 2 * i])
  if position > last then
    local added = redis.pcall('XADD', KEYS[1], ARGV[2 + 2 * i] .. '-0', 'e', ARGV[3 + 2 * i])
    if type(added) == 'table' and added.err then break end
    last = position
    appended = appended + 1
  end
end
if appended > 0 then redis.call('SET', KEYS[2], last) end
return {last, appended}
)lua");

// The lowest position a group still needs: its oldest pending entry, or the one after the last
// delivered. Shared by the scripts below.
constexpr std::string_view kGroupInfo = R"lua(
local function position_of(id)
  return tonumber(string.match(id, '^(%d+)'))
end
local function groups_of(stream)
  local out = {}
  for _, flat in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
    local info = {}
    for i = 1, #flat, 2 do info[flat[i]] = flat[i + 1] end
    out[#out + 1] = info
  end
  return out
end
)lua";

// KEYS[1] stream. Trims entries every group acknowledged; returns how many were removed.
const Script kTrimScript(std::string(kGroupInfo) + R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local keep = nil
for _, info in ipairs(groups_of(KEYS[1])) do
  local needed
  if info['pending'] > 0 then
    needed = position_of(redis.call('XPENDING', KEYS[1], info['name'])[2])
  else
    needed = position_of(info['last-delivered-id']) + 1
  end
  if keep == nil or needed < keep then keep = needed end
end
if keep == nil then return 0 end
return redis.call('XTRIM', KEYS[1], 'MINID', keep .. '-0')
)lua");

// KEYS[1] stream. ARGV: group, position. Acknowledges the group's entries up to the position and
// moves its last delivered id there when it is behind.
const Script kAckScript(std::string(kGroupInfo) + R"lua(
local last_id = ARGV[2] .. '-0'
local acked = 0
while true do
  local pending = redis.call('XPENDING', KEYS[1], ARGV[1], '-', last_id, 100)
  if #pending == 0 then break end
  local ids = {}
  for i, entry in ipairs(pending) do ids[i] = entry[1] end
  local count = redis.call('XACK', KEYS[1], ARGV[1], unpack(ids))
  acked = acked + count
  if count == 0 then break end
end
for _, info in ipairs(groups_of(KEYS[1])) do
  if info['name'] == ARGV[1] and position_of(info['last-delivered-id']) < tonumber(ARGV[2]) then
    redis.call('XGROUP', 'SETID', KEYS[1], ARGV[1], last_id)
  end
end
return acked
)lua");

Client::Options WithScripts(Client::Options options) {
  options.scripts = {&kAppendScript, &kTrimScript, &kAckScript};
  return options;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Outbox relay

OutboxRelay::OutboxRelay(Endpoint endpoint, std::shared_ptr<storage::EventStore> events,
                         Options options)
    : options_(std::move(options)),
      stream_(options_.key_prefix + options_.stream),
      events_(std::move(events)),
      client_(std::move(endpoint), WithScripts(options_.client), "outbox-relay") {}

OutboxRelay::~OutboxRelay() {
  {
    std::lock_guard lock(thread_mutex_);
    stopping_ = true;
  }
  wakeup_.notify_all();
  if (thread_.joinable()) thread_.join();
}

int64_t OutboxRelay::RelayOnce() {
  std::lock_guard lock(relay_mutex_);
  return client_.With([&](Connection& connection) -> int64_t {
    if (last_relayed_ < 0) {
      Reply reply = connection.Run({"GET", stream_ + ":relayed"});
      ExpectOk(reply.get(), "GET");
      last_relayed_ = ReplyInteger(reply.get());
    }
    std::vector<domain::Event> events = events_->ReadAll(last_relayed_, options_.batch);
    if (events.empty()) return 0;

    std::vector<std::string> args = {std::to_string(events.size())};
    for (const domain::Event& event : events) {
      args.push_back(std::to_string(event.position));
      args.push_back(domain::Serialize(event));
    }
    Reply reply = connection.Eval(kAppendScript, {stream_, stream_ + ":relayed"}, args);
    ExpectOk(reply.get(), "relay");
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
      throw StorageUnavailable("redis relay returned an unexpected reply");
    }
    // The stored position may be lower than ours after Redis lost data; follow it either way.
    last_relayed_ = ReplyInteger(reply->element[0]);
    const int64_t appended = ReplyInteger(reply->element[1]);

    auto now = std::chrono::steady_clock::now();
    if (now - last_trim_ >= options_.trim_interval) {
      last_trim_ = now;
      TrimAcknowledged(connection);
    }
    return appended;
  });
}

void OutboxRelay::TrimAcknowledged(Connection& connection) {
  Reply reply = connection.Eval(kTrimScript, {stream_}, {});
  if (IsError(reply.get())) {
    log::Warn(kComponent, "trimming the events stream failed", {{"error", ReplyText(reply.get())}});
  }
}

void OutboxRelay::Start() {
  std::lock_guard lock(thread_mutex_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { Run(); });
}

void OutboxRelay::Wake() {
  {
    std::lock_guard lock(thread_mutex_);
    ++wakeups_;
  }
  wakeup_.notify_all();
}

void OutboxRelay::Run() {
  log::Info(kComponent, "outbox relay started", {{"stream", stream_}});
  bool failing = false;  // logged once per change, not once per attempt
  for (;;) {
    uint64_t seen;
    {
      std::lock_guard lock(thread_mutex_);
      if (stopping_) break;
      seen = wakeups_;
    }
    int64_t appended = 0;
    try {
      appended = RelayOnce();
      if (failing) log::Info(kComponent, "relaying events again", {{"stream", stream_}});
      failing = false;
    } catch (const StorageUnavailable& error) {
      if (!failing) {
        log::Error(kComponent, "relaying events failed; retrying until it works",
                   {{"stream", stream_}, {"error", error.what()}});
      }
      failing = true;
    }
    if (appended > 0) continue;
    std::unique_lock lock(thread_mutex_);
    wakeup_.wait_for(lock, options_.interval, [&] { return stopping_ || wakeups_ != seen; });
  }
  log::Info(kComponent, "outbox relay stopped", {{"stream", stream_}});
}

// ---------------------------------------------------------------------------------------------
// Event queue

RedisEventQueue::RedisEventQueue(Endpoint endpoint, std::shared_ptr<storage::EventStore> events,
                                 OutboxRelay::Options options)
    : stream_(options.key_prefix + options.stream),
      relay_interval_(options.interval),
      relay_(std::make_shared<OutboxRelay>(endpoint, std::move(events), options)),
      client_(std::move(endpoint), WithScripts(options.client), std::string(kComponent)) {}

std::vector<domain::Event> RedisEventQueue::Poll(std::string_view consumer, size_t max,
                                                 std::chrono::milliseconds wait) {
  using std::chrono::milliseconds;
  if (max == 0) return {};
  const std::string group(consumer);
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    std::vector<domain::Event> events = ReadGroup(group, max, "0", milliseconds(-1));
    if (events.size() < max) {
      std::vector<domain::Event> fresh =
          ReadGroup(group, max - events.size(), ">", milliseconds(-1));
      events.insert(events.end(), fresh.begin(), fresh.end());
    }
    if (!events.empty()) return events;
    if (relay_->RelayOnce() > 0) continue;

    auto remaining =
        std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    if (remaining <= milliseconds(0)) return {};
    milliseconds block = std::max(std::min(remaining, relay_interval_), milliseconds(1));
    events = ReadGroup(group, max, ">", block);
    if (!events.empty()) return events;
  }
}

// XREADGROUP from `from` ("0": the reader's pending entries, ">": new ones); blocks up to `block`
// when it is not negative.
std::vector<domain::Event> RedisEventQueue::ReadGroup(const std::string& group, size_t max,
                                                      const char* from,
                                                      std::chrono::milliseconds block) {
  Client::Handle connection = client_.Acquire();
  EnsureGroup(*connection, group);
  std::vector<std::string> args = {"XREADGROUP", "GROUP", group,
                                   kReader,      "COUNT", std::to_string(max)};
  if (block.count() >= 0) {
    args.push_back("BLOCK");
    args.push_back(std::to_string(block.count()));
    connection->SetTimeout(block + connection->command_timeout());
  }
  args.push_back("STREAMS");
  args.push_back(stream_);
  args.push_back(from);
  Reply reply = connection->Run(args);
  if (block.count() >= 0) connection->SetTimeout(connection->command_timeout());
  if (IsError(reply.get(), "NOGROUP")) {
    // The stream or the group was deleted; the next Poll creates it again.
    std::lock_guard lock(mutex_);
    groups_.erase(group);
    return {};
  }
  ExpectOk(reply.get(), "XREADGROUP");

  std::vector<domain::Event> events;
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) return events;
  const redisReply* entries = reply->element[0]->element[1];
  std::vector<std::string> unreadable;
  for (size_t i = 0; i < entries->elements; ++i) {
    const redisReply* entry = entries->element[i];
    std::string id = ReplyText(entry->element[0]);
    std::optional<std::string> payload = FieldOf(entry->element[1], "e");
    domain::Event event;
    std::string error;
    if (!payload) {
      unreadable.push_back(id);  // trimmed while pending
    } else if (!domain::ParseEvent(*payload, &event, &error)) {
      log::Error(kComponent, "unreadable event in the stream; skipped",
                 {{"id", id}, {"error", error}});
      unreadable.push_back(id);
    } else {
      events.push_back(std::move(event));
    }
  }
  if (!unreadable.empty()) {
    std::vector<std::string> ack = {"XACK", stream_, group};
    ack.insert(ack.end(), unreadable.begin(), unreadable.end());
    ExpectOk(connection->Run(ack).get(), "XACK");
  }
  return events;
}

void RedisEventQueue::EnsureGroup(Connection& connection, const std::string& group) {
  {
    std::lock_guard lock(mutex_);
    if (groups_.count(group)) return;
  }
  Reply reply = connection.Run({"XGROUP", "CREATE", stream_, group, "0", "MKSTREAM"});
  if (!IsError(reply.get(), "BUSYGROUP")) ExpectOk(reply.get(), "XGROUP CREATE");
  std::lock_guard lock(mutex_);
  groups_.insert(group);
}

void RedisEventQueue::Ack(std::string_view consumer, int64_t position) {
  const std::string group(consumer);
  client_.With([&](Connection& connection) {
    EnsureGroup(connection, group);
    Reply reply = connection.Eval(kAckScript, {stream_}, {group, std::to_string(position)});
    ExpectOk(reply.get(), "ack");
  });
}

void RedisEventQueue::DeadLetter(const domain::Event& event, std::string_view reason) {
  client_.With([&](Connection& connection) {
    Reply reply =
        connection.Run({"XADD", stream_ + ":dead", "*", "event_id", event.id, "position",
                        std::to_string(event.position), "event", domain::Serialize(event), "reason",
                        std::string(reason), "dead_at_ms", std::to_string(NowMs())});
    ExpectOk(reply.get(), "dead-letter XADD");
  });
  log::Warn(kComponent, "event dead-lettered",
            {{"event_id", event.id}, {"position", event.position}, {"reason", reason}});
}

void RedisEventQueue::Notify() { relay_->Wake(); }

int64_t RedisEventQueue::DeadLetterCount() {
  Reply reply = client_.With([&](Connection& connection) {
    return connection.Run({"XLEN", stream_ + ":dead"});
  });
  ExpectOk(reply.get(), "XLEN");
  return ReplyInteger(reply.get());
}

}  // namespace prism::redis
