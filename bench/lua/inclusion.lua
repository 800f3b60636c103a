-- GET /v1/ledger/proofs/inclusion?seq=<random 1..BENCH_LEAVES>: an audit path for a random
-- event of the tree (no credentials, as the log serves it to anyone).
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local next_thread = 0
function setup(thread)
  thread:set("thread_no", next_thread)
  next_thread = next_thread + 1
end

local leaves = 1

function init(args)
  leaves = tonumber(os.getenv("BENCH_LEAVES"))
  math.randomseed(7919 * ((thread_no or 0) + 1))
end

function request()
  return wrk.format("GET", "/v1/ledger/proofs/inclusion?seq=" .. math.random(1, leaves))
end
