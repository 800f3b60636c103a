-- POST /v1/vault/encrypt: seal one e-mail address under a seeded subject's key, cycling through
-- the seeded subject ids (BENCH_IDS_FILE, one id per line); each wrk thread starts elsewhere.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local next_thread = 0
function setup(thread)
  thread:set("thread_no", next_thread)
  next_thread = next_thread + 1
end

local ids, count, counter = {}, 0, 0
local headers = {
  ["Content-Type"] = "application/json",
  ["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN"),
}

function init(args)
  for line in io.lines(os.getenv("BENCH_IDS_FILE")) do
    if #line > 0 then
      count = count + 1
      ids[count] = line
    end
  end
  counter = (thread_no or 0) * 7919
end

function request()
  counter = counter + 1
  local id = ids[(counter % count) + 1]
  local body = '{"subject_id":"' .. id .. '","field":"email","value":"person-' .. counter ..
    '@example.org"}'
  return wrk.format("POST", "/v1/vault/encrypt", headers, body)
end
