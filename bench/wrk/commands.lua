-- POST /api/commands with BATCH create-task commands per request (BATCH from the environment),
-- each connection as its own user, so per-user ordering is exercised across many users.
local tokens = {}
for line in io.lines(os.getenv("TOKENS_FILE")) do
  tokens[#tokens + 1] = line
end
local batch = tonumber(os.getenv("BATCH") or "1")
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("thread_index", counter)
end

function init(args)
  sent = 0
  local commands = {}
  for i = 1, batch do
    commands[i] = '{"entityType":"task","type":"create-task","data":{"title":"load ' .. i ..
      '","category":"normal","order":' .. i .. '}}'
  end
  body = "[" .. table.concat(commands, ",") .. "]"
end

function request()
  sent = sent + 1
  local token = tokens[((thread_index * 7919 + sent) % #tokens) + 1]
  return wrk.format("POST", "/api/commands", {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
  }, body)
end

function done(summary, latency, requests)
  io.write(string.format("status_errors=%d\n", summary.errors.status))
end
