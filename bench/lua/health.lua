-- GET /health with wrk's default request; only the report is added.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
