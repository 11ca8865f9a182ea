-- GET requests where each connection uses the bearer token of its own user.
-- The tokens come from the file named by the TOKENS_FILE environment variable, one per line.
-- With DELAY_MS set, each connection waits that many milliseconds before each request, which
-- caps the rate at connections * 1000 / DELAY_MS requests per second.
local tokens = {}
for line in io.lines(os.getenv("TOKENS_FILE")) do
  tokens[#tokens + 1] = line
end
local counter = 0
local delay_ms = tonumber(os.getenv("DELAY_MS") or "0")

if delay_ms > 0 then
  function delay()
    return delay_ms
  end
end

function setup(thread)
  counter = counter + 1
  thread:set("thread_index", counter)
end

function init(args)
  connection_index = 0
end

function request()
  connection_index = connection_index + 1
  local token = tokens[((thread_index * 7919 + connection_index) % #tokens) + 1]
  return wrk.format("GET", wrk.path, { ["Authorization"] = "Bearer " .. token })
end
