-- wrk script: as wrk-post.lua, each request with a new Idempotency-Key
-- (thread id and a counter), so every request is admitted as a fresh key.
-- The request() callback costs wrk some Lua per request: compare the
-- server's CPU per request too, which that does not touch.
local counter = 0
prefix = prefix or "0"  -- set per thread by setup()

function setup(thread)
  thread:set("prefix", tostring(math.random(1, 1e9)))
end

function request()
  counter = counter + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/json",
                                  ["Idempotency-Key"] = prefix .. "-" .. counter},
                    '{"renderId":51266,"status":"done"}')
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "durationUs": %d, "connectErrors": %d, "readErrors": %d, ' ..
    '"writeErrors": %d, "statusErrors": %d, "timeouts": %d, "p50Us": %d, "p99Us": %d, "maxUs": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
