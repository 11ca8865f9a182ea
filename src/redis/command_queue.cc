#include "redis/command_queue.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <utility>

namespace prism::redis {

namespace {

using storage::StorageUnavailable;

constexpr std::string_view kComponent = "command-queue";
constexpr std::string_view kGroup = "workers";
constexpr std::string_view kQueueFull = "command queue is full";

// KEYS[1] stream. ARGV: group, key base, admission limit, command count, then per command user,
// idempotency key, accepted_at_ms, body. Returns 1 when queued, 0 when the queue is full, and
// the user id when a user's sequence counter is missing (nothing is queued then).
const Script kEnqueueScript(R"lua(
local stream = KEYS[1]
local base = ARGV[2]
local count = tonumber(ARGV[4])
for i = 0, count - 1 do
  local user = ARGV[5 + 4 * i]
  if redis.call('EXISTS', base .. ':seq:' .. user) == 0 then return user end
end
if redis.call('EXISTS', stream) == 0 then
  redis.call('XGROUP', 'CREATE', stream, ARGV[1], '0', 'MKSTREAM')
end
if redis.call('XLEN', stream) + count > tonumber(ARGV[3]) then
  return 0
end
for i = 0, count - 1 do
  local user = ARGV[5 + 4 * i]
  local key = ARGV[6 + 4 * i]
  local seq = redis.call('INCR', base .. ':seq:' .. user)
  redis.call('XADD', stream, '*', 'u', user, 's', seq, 'k', key, 'a', ARGV[7 + 4 * i],
             'b', ARGV[8 + 4 * i])
  redis.call('HINCRBY', base .. ':queued:' .. user, key, 1)
end
return 1
)lua");

// KEYS[1] stream, KEYS[2] lease deadlines. ARGV: group, consumer, max, lease ms.
// Returns [ms until the nearest deadline or -1, newest id, then id, attempts, fields per message].
const Script kLeaseScript(R"lua(
local stream = KEYS[1]
local leases = KEYS[2]
local group = ARGV[1]
local consumer = ARGV[2]
local max = tonumber(ARGV[3])
local lease_ms = tonumber(ARGV[4])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
if redis.call('EXISTS', stream) == 0 then
  redis.call('XGROUP', 'CREATE', stream, group, '0', 'MKSTREAM')
end
local out = {-1, '0-0'}
local leased = 0
local expired = redis.call('ZRANGEBYSCORE', leases, '-inf', now, 'LIMIT', 0, max)
for _, id in ipairs(expired) do
  local claimed = redis.call('XCLAIM', stream, group, consumer, 0, id)
  local entry = claimed[1]
  if entry and entry[2] then
    local pending = redis.call('XPENDING', stream, group, id, id, 1)
    redis.call('ZADD', leases, now + lease_ms, id)
    out[#out + 1] = id
    out[#out + 1] = pending[1][4]
    out[#out + 1] = entry[2]
    leased = leased + 1
  else
    redis.call('ZREM', leases, id)
    redis.call('XACK', stream, group, id)
  end
end
if leased < max then
  local read = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', max - leased,
                          'STREAMS', stream, '>')
  if read then
    for _, entry in ipairs(read[1][2]) do
      redis.call('ZADD', leases, now + lease_ms, entry[1])
      out[#out + 1] = entry[1]
      out[#out + 1] = 1
      out[#out + 1] = entry[2]
      leased = leased + 1
    end
  end
end
if leased == 0 then
  local first = redis.call('ZRANGE', leases, 0, 0, 'WITHSCORES')
  if first[2] then out[1] = math.max(0, tonumber(first[2]) - now) end
  local last = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)
  if last[1] then out[2] = last[1][1] end
end
return out
)lua");

// KEYS[1] stream, KEYS[2] lease deadlines, KEYS[3] dead-letter stream. ARGV: group, key base,
// id count n, n ids, then the fields of a dead-letter entry (none for Ack). Acknowledges and
// deletes each id, and drops its idempotency key from :queued. Returns how many entries were
// deleted.
const Script kRemoveScript(R"lua(
local stream = KEYS[1]
local base = ARGV[2]
local count = tonumber(ARGV[3])
if #ARGV > 3 + count then
  local fields = {}
  for i = 4 + count, #ARGV do fields[#fields + 1] = ARGV[i] end
  redis.call('XADD', KEYS[3], '*', unpack(fields))
end
local removed = 0
for i = 4, 3 + count do
  local id = ARGV[i]
  local entry = redis.call('XRANGE', stream, id, id)
  if entry[1] then
    local fields = entry[1][2]
    local user, key
    for j = 1, #fields, 2 do
      if fields[j] == 'u' then user = fields[j + 1] elseif fields[j] == 'k' then key = fields[j + 1] end
    end
    if user and key then
      local queued = base .. ':queued:' .. user
      if redis.call('HINCRBY', queued, key, -1) <= 0 then redis.call('HDEL', queued, key) end
    end
    removed = removed + redis.call('XDEL', stream, id)
  end
  redis.call('XACK', stream, ARGV[1], id)
  redis.call('ZREM', KEYS[2], id)
end
return removed
)lua");

// KEYS[1] lease deadlines. ARGV: id, delay ms. Moves the deadline of a leased id.
const Script kReleaseScript(R"lua(
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local due = now + tonumber(ARGV[1])
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], 'XX', due, ARGV[i])
end
return #ARGV - 1
)lua");

void RunCallback(const storage::CommandQueue::EnqueueCallback& done,
                 std::optional<std::string> failure) {
  try {
    done(std::move(failure));
  } catch (const std::exception& error) {
    log::Error(kComponent, "enqueue callback threw", {{"error", error.what()}});
  }
}

int64_t ToInt(const std::optional<std::string>& text) {
  int64_t value = 0;
  if (text) std::from_chars(text->data(), text->data() + text->size(), value);
  return value;
}

// Orders stream ids numerically: <ms>-<seq>.
bool IdLess(const std::string& a, const std::string& b) {
  auto split = [](const std::string& id) {
    size_t dash = id.find('-');
    return std::make_pair(std::stoull(id.substr(0, dash)), std::stoull(id.substr(dash + 1)));
  };
  return split(a) < split(b);
}

Client::Options WithScripts(Client::Options options) {
  options.scripts = {&kEnqueueScript, &kLeaseScript, &kRemoveScript, &kReleaseScript};
  return options;
}

}  // namespace

RedisCommandQueue::RedisCommandQueue(Endpoint endpoint, Options options)
    : options_(std::move(options)),
      stream_(options_.key_prefix + options_.stream),
      client_(std::move(endpoint), WithScripts(options_.client), std::string(kComponent)) {
  writer_ = std::thread([this] { RunWriter(); });
}

RedisCommandQueue::~RedisCommandQueue() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  writer_wakeup_.notify_all();
  writer_.join();
}

// ---------------------------------------------------------------------------------------------
// Admission

void RedisCommandQueue::Enqueue(std::vector<storage::NewCommand> batch, EnqueueCallback done) {
  const auto size = static_cast<int64_t>(batch.size());
  std::optional<std::string> rejection;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      rejection = "command queue is shutting down";
    } else if (waiting_commands_ + size > options_.admission_limit) {
      rejection = std::string(kQueueFull);
    } else {
      waiting_commands_ += size;
      pending_.push_back(PendingBatch{std::move(batch), std::move(done)});
    }
  }
  if (rejection) {
    RunCallback(done, rejection);
    return;
  }
  writer_wakeup_.notify_one();
}

void RedisCommandQueue::RunWriter() {
  for (;;) {
    std::vector<PendingBatch> group;
    int64_t group_commands = 0;
    {
      std::unique_lock lock(mutex_);
      writer_wakeup_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
      if (pending_.empty()) return;  // stopping, with nothing left to send
      while (!pending_.empty() && group.size() < options_.max_group_batches) {
        group_commands += static_cast<int64_t>(pending_.front().commands.size());
        group.push_back(std::move(pending_.front()));
        pending_.pop_front();
      }
    }

    std::vector<std::optional<std::string>> failures = SendGroup(group);
    {
      std::lock_guard lock(mutex_);
      waiting_commands_ -= group_commands;
    }
    for (size_t i = 0; i < group.size(); ++i) RunCallback(group[i].done, failures[i]);
  }
}

// Sends one EVALSHA per batch in one pipeline and returns each batch's failure. When the
// connection fails midway, the batches without a reply are reported failed, although Redis may
// have applied them; a retry with the same idempotency key is then processed once.
std::vector<std::optional<std::string>> RedisCommandQueue::SendGroup(
    const std::vector<PendingBatch>& group) {
  std::vector<std::optional<std::string>> failures(group.size());
  std::vector<size_t> sent;  // indexes into `group` of the batches in the pipeline
  size_t replied = 0;
  try {
    Client::Handle connection = client_.Acquire();
    EnsureCounters(*connection, group, failures);
    for (size_t i = 0; i < group.size(); ++i) {
      if (failures[i]) continue;
      connection->AppendEval(kEnqueueScript, {stream_}, EnqueueArgs(group[i]));
      sent.push_back(i);
    }
    bool script_missing = false;
    std::vector<size_t> unseeded;  // batches whose user's counter vanished since EnsureCounters
    for (; replied < sent.size(); ++replied) {
      Reply reply = connection->Read();
      std::optional<std::string>& failure = failures[sent[replied]];
      if (IsError(reply.get(), "NOSCRIPT")) {
        script_missing = true;
        failure = "command queue unavailable: the enqueue script was not loaded";
      } else if (IsError(reply.get())) {
        failure = "command queue unavailable: " + ReplyText(reply.get());
      } else if (reply->type == REDIS_REPLY_STRING) {
        unseeded.push_back(sent[replied]);
      } else if (ReplyInteger(reply.get()) == 0) {
        failure = std::string(kQueueFull);
      }
    }
    // NOTE: a counter lost between EnsureCounters and the pipeline (Redis lost its data just then)
    // lets later batches of that user in this pipeline go before the earlier ones sent here.
    if (!unseeded.empty()) seeded_users_.clear();
    for (size_t index : unseeded) failures[index] = SendSeeded(*connection, group[index]);
    // The server lost its script cache (SCRIPT FLUSH, or a restart between two connects). The
    // batches above failed as a whole; loading the script lets their retries through.
    if (script_missing) connection->Run({"SCRIPT", "LOAD", kEnqueueScript.source});
  } catch (const StorageUnavailable& error) {
    seeded_users_.clear();
    long suppressed = failure_log_.Admit("enqueue");
    if (suppressed >= 0) {
      log::Error(kComponent, "enqueue failed",
                 {{"error", error.what()},
                  {"batches", sent.size() - replied},
                  {"suppressed", suppressed}});
    }
    for (size_t i = 0; i < group.size(); ++i) {
      bool answered = std::find(sent.begin(), sent.begin() + replied, i) != sent.begin() + replied;
      if (!answered && !failures[i]) {
        failures[i] = std::string("command queue unavailable: ") + error.what();
      }
    }
  }
  return failures;
}

// Checks, in one pipeline, that the users of the group not seen since the last failure have
// sequence counters, and creates the missing ones. Creating them before the batches are sent
// keeps each user's batches in the order they came.
void RedisCommandQueue::EnsureCounters(Connection& connection,
                                       const std::vector<PendingBatch>& group,
                                       std::vector<std::optional<std::string>>& failures) {
  constexpr size_t kMaxRememberedUsers = 100'000;
  if (seeded_users_.size() > kMaxRememberedUsers) seeded_users_.clear();

  std::vector<std::string> unknown;
  for (const PendingBatch& batch : group) {
    for (const storage::NewCommand& command : batch.commands) {
      if (seeded_users_.contains(command.user_id)) continue;
      if (std::find(unknown.begin(), unknown.end(), command.user_id) != unknown.end()) continue;
      unknown.push_back(command.user_id);
    }
  }
  for (const std::string& user_id : unknown) {
    connection.Append({"EXISTS", stream_ + ":seq:" + user_id});
  }
  // Every reply is read before SeedCounter uses the connection again.
  std::vector<bool> exists;
  for (size_t i = 0; i < unknown.size(); ++i) {
    exists.push_back(ReplyInteger(connection.Read().get()) == 1);
  }

  std::map<std::string, std::string> seed_failures;
  for (size_t i = 0; i < unknown.size(); ++i) {
    std::optional<std::string> failure;
    if (!exists[i]) failure = SeedCounter(connection, unknown[i]);
    if (failure) {
      seed_failures[unknown[i]] = *failure;
    } else {
      seeded_users_.insert(unknown[i]);
    }
  }
  if (seed_failures.empty()) return;

  for (size_t i = 0; i < group.size(); ++i) {
    for (const storage::NewCommand& command : group[i].commands) {
      auto found = seed_failures.find(command.user_id);
      if (found != seed_failures.end()) failures[i] = found->second;
    }
  }
}

// Creates the missing sequence counters of the batch's users at their cursors in the event store,
// then sends the batch again. Starting at zero instead would give new commands numbers the store
// has already applied, and it would drop them as duplicates.
std::optional<std::string> RedisCommandQueue::SendSeeded(Connection& connection,
                                                         const PendingBatch& batch) {
  for (size_t attempt = 0; attempt <= batch.commands.size(); ++attempt) {
    Reply reply = connection.Eval(kEnqueueScript, {stream_}, EnqueueArgs(batch));
    if (IsError(reply.get())) return "command queue unavailable: " + ReplyText(reply.get());
    if (reply->type != REDIS_REPLY_STRING) {
      if (ReplyInteger(reply.get()) == 0) return std::string(kQueueFull);
      return std::nullopt;
    }
    if (auto failure = SeedCounter(connection, ReplyText(reply.get()))) return failure;
  }
  return std::string("command queue unavailable: sequence counters vanished while seeding");
}

std::optional<std::string> RedisCommandQueue::SeedCounter(Connection& connection,
                                                          const std::string& user_id) {
  int64_t cursor = 0;
  if (options_.user_cursor) {
    try {
      cursor = options_.user_cursor(user_id);
    } catch (const StorageUnavailable& error) {
      return std::string("command queue unavailable: reading the user's position failed: ") +
             error.what();
    }
  }
  Reply seeded = connection.Run({"SET", stream_ + ":seq:" + user_id, std::to_string(cursor), "NX"});
  ExpectOk(seeded.get(), "SET");
  if (seeded->type == REDIS_REPLY_STATUS) {
    log::Info(kComponent, "sequence counter created from the event store",
              {{"user_id", user_id}, {"cursor", cursor}});
  }
  return std::nullopt;
}

std::vector<std::string> RedisCommandQueue::EnqueueArgs(const PendingBatch& batch) const {
  std::vector<std::string> args = {std::string(kGroup), stream_,
                                   std::to_string(options_.admission_limit),
                                   std::to_string(batch.commands.size())};
  for (const storage::NewCommand& command : batch.commands) {
    args.push_back(command.user_id);
    args.push_back(command.idempotency_key);
    args.push_back(std::to_string(command.accepted_at_ms));
    args.push_back(command.body);
  }
  return args;
}

// ---------------------------------------------------------------------------------------------
// Delivery

std::vector<storage::QueuedCommand> RedisCommandQueue::Lease(std::string_view consumer, size_t max,
                                                             std::chrono::milliseconds lease,
                                                             std::chrono::milliseconds wait) {
  using std::chrono::milliseconds;
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    LeaseResult result = TryLease(consumer, max, lease);
    if (!result.messages.empty() || max == 0) return std::move(result.messages);
    auto remaining =
        std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    if (remaining <= milliseconds(0)) return {};
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return {};
    }
    milliseconds block = std::min(remaining, milliseconds(1000));
    if (result.next_deadline_ms >= 0)
      block = std::min(block, milliseconds(result.next_deadline_ms));
    WaitForNew(result.last_id, std::max(block, milliseconds(1)));
  }
}

RedisCommandQueue::LeaseResult RedisCommandQueue::TryLease(std::string_view consumer, size_t max,
                                                           std::chrono::milliseconds lease) {
  LeaseResult result;
  if (max == 0) return result;
  Reply reply = client_.With([&](Connection& connection) {
    return connection.Eval(kLeaseScript, {stream_, stream_ + ":leases"},
                           {std::string(kGroup), std::string(consumer), std::to_string(max),
                            std::to_string(lease.count())});
  });
  ExpectOk(reply.get(), "lease");
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2) {
    throw StorageUnavailable("redis lease returned an unexpected reply");
  }
  result.next_deadline_ms = ReplyInteger(reply->element[0]);
  result.last_id = ReplyText(reply->element[1]);
  for (size_t i = 2; i + 2 < reply->elements; i += 3) {
    const redisReply* fields = reply->element[i + 2];
    storage::QueuedCommand command;
    command.message_id = ReplyText(reply->element[i]);
    command.attempts = static_cast<int>(ReplyInteger(reply->element[i + 1]));
    command.user_id = FieldOf(fields, "u").value_or("");
    command.user_seq = ToInt(FieldOf(fields, "s"));
    command.idempotency_key = FieldOf(fields, "k").value_or("");
    command.accepted_at_ms = ToInt(FieldOf(fields, "a"));
    command.body = FieldOf(fields, "b").value_or("");
    result.messages.push_back(std::move(command));
  }
  std::sort(result.messages.begin(), result.messages.end(),
            [](const auto& a, const auto& b) { return IdLess(a.message_id, b.message_id); });
  return result;
}

void RedisCommandQueue::WaitForNew(const std::string& last_id, std::chrono::milliseconds block) {
  Client::Handle connection = client_.Acquire();
  connection->SetTimeout(block + connection->command_timeout());
  Reply reply = connection->Run({"XREAD", "COUNT", "1", "BLOCK", std::to_string(block.count()),
                                 "STREAMS", stream_, last_id.empty() ? "0-0" : last_id});
  connection->SetTimeout(connection->command_timeout());
  ExpectOk(reply.get(), "XREAD");
}

void RedisCommandQueue::Ack(std::span<const std::string> message_ids) {
  std::vector<std::string> args = {std::string(kGroup), stream_, "0"};
  for (const std::string& id : message_ids) {
    if (IsStreamId(id)) args.push_back(id);
  }
  if (args.size() == 3) return;
  args[2] = std::to_string(args.size() - 3);
  Reply reply = client_.With([&](Connection& connection) {
    return connection.Eval(kRemoveScript, {stream_, stream_ + ":leases", stream_ + ":dead"}, args);
  });
  ExpectOk(reply.get(), "ack");
}

void RedisCommandQueue::ReleaseAll(std::span<const std::string> message_ids,
                                   std::chrono::milliseconds delay) {
  std::vector<std::string> args = {std::to_string(std::max<int64_t>(delay.count(), 0))};
  for (const std::string& id : message_ids) {
    if (IsStreamId(id)) args.push_back(id);
  }
  if (args.size() == 1) return;
  Reply reply = client_.With([&](Connection& connection) {
    return connection.Eval(kReleaseScript, {stream_ + ":leases"}, args);
  });
  ExpectOk(reply.get(), "release");
}

void RedisCommandQueue::DeadLetter(const storage::QueuedCommand& message, std::string_view reason) {
  const bool valid_id = IsStreamId(message.message_id);
  std::vector<std::string> args = {std::string(kGroup), stream_, valid_id ? "1" : "0"};
  if (valid_id) args.push_back(message.message_id);
  const std::vector<std::pair<std::string, std::string>> fields = {
      {"message_id", message.message_id},
      {"user_id", message.user_id},
      {"user_seq", std::to_string(message.user_seq)},
      {"idempotency_key", message.idempotency_key},
      {"accepted_at_ms", std::to_string(message.accepted_at_ms)},
      {"body", message.body},
      {"attempts", std::to_string(message.attempts)},
      {"reason", std::string(reason)},
      {"dead_at_ms", std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count())}};
  for (const auto& [name, value] : fields) {
    args.push_back(name);
    args.push_back(value);
  }
  Reply reply = client_.With([&](Connection& connection) {
    return connection.Eval(kRemoveScript, {stream_, stream_ + ":leases", stream_ + ":dead"}, args);
  });
  ExpectOk(reply.get(), "dead-letter");
  log::Warn(kComponent, "command dead-lettered",
            {{"message_id", message.message_id},
             {"user_id", message.user_id},
             {"idempotency_key", message.idempotency_key},
             {"attempts", message.attempts},
             {"reason", reason}});
}

// ---------------------------------------------------------------------------------------------
// Inspection

bool RedisCommandQueue::IsQueued(std::string_view user_id, std::string_view idempotency_key) {
  Reply reply = client_.With([&](Connection& connection) {
    return connection.Run(
        {"HEXISTS", stream_ + ":queued:" + std::string(user_id), std::string(idempotency_key)});
  });
  ExpectOk(reply.get(), "HEXISTS");
  return ReplyInteger(reply.get()) == 1;
}

int64_t RedisCommandQueue::Depth() {
  Reply reply = client_.With([&](Connection& connection) {
    return connection.Run({"XLEN", stream_});
  });
  ExpectOk(reply.get(), "XLEN");
  return ReplyInteger(reply.get());
}

int64_t RedisCommandQueue::DeadLetterCount() {
  Reply reply = client_.With([&](Connection& connection) {
    return connection.Run({"XLEN", stream_ + ":dead"});
  });
  ExpectOk(reply.get(), "XLEN");
  return ReplyInteger(reply.get());
}

}  // namespace prism::redis
