-- POST /v1/consents with one analytics decision for a new device id per request:
-- "<BENCH_PREFIX>-<thread>-<counter>" is unique across threads and across wrk runs.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local next_thread = 0
function setup(thread)
  thread:set("thread_no", next_thread)
  next_thread = next_thread + 1
end

local counter = 0
local prefix = os.getenv("BENCH_PREFIX")
local headers = {
  ["Content-Type"] = "application/json",
  ["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN"),
}

function request()
  counter = counter + 1
  local device = prefix .. "-" .. (thread_no or 0) .. "-" .. counter
  local body = '{"subject":{"type":"device_id","value":"' .. device .. '"},' ..
    '"decisions":[{"purpose":"analytics","granted":true}],"channel":"api","method":"api"}'
  return wrk.format("POST", "/v1/consents", headers, body)
end
