-- GET requests where each connection uses the bearer token of its own user.
-- The tokens come from the file named by the TOKENS_FILE environment variable, one per line.
local tokens = {}
for line in io.lines(os.getenv("TOKENS_FILE")) do
  tokens[#tokens + 1] = line
end
local counter = 0

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
