-- POST /v1/vault/decrypt for the newsletter purpose, cycling through vault tokens of subjects
-- that granted it (BENCH_TOKENS_FILE, one token per line), so every answer should be a 200.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local next_thread = 0
function setup(thread)
  thread:set("thread_no", next_thread)
  next_thread = next_thread + 1
end

local tokens, count, counter = {}, 0, 0
local headers = {
  ["Content-Type"] = "application/json",
  ["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN"),
}

function init(args)
  for line in io.lines(os.getenv("BENCH_TOKENS_FILE")) do
    if #line > 0 then
      count = count + 1
      tokens[count] = line
    end
  end
  counter = (thread_no or 0) * 101
end

function request()
  counter = counter + 1
  local body = '{"token":"' .. tokens[(counter % count) + 1] .. '","purpose":"newsletter"}'
  return wrk.format("POST", "/v1/vault/decrypt", headers, body)
end
