-- Shared by every wrk script: print the run's figures as one JSON line for bench.run to read.
-- Latencies are in microseconds; "err_status" counts non-2xx/3xx answers.

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p90_us":%d,' ..
    '"p99_us":%d,"mean_us":%d,"max_us":%d,"err_connect":%d,"err_read":%d,' ..
    '"err_write":%d,"err_status":%d,"err_timeout":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    math.floor(latency:percentile(50)), math.floor(latency:percentile(90)),
    math.floor(latency:percentile(99)), math.floor(latency.mean), math.floor(latency.max),
    e.connect, e.read, e.write, e.status, e.timeout))
end
