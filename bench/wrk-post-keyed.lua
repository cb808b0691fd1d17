-- wrk script: as wrk-post.lua, each request with a new Idempotency-Key
-- (a per-thread prefix and a counter), so every request is admitted as a
-- fresh key. KEYED=false (wrk-post-dynamic.lua) sends the same requests
-- without the header, through the same request() callback: the callback
-- costs wrk some Lua per request, on the same 2 cores as the server, so a
-- fair comparison pays it on both sides.
local counter = 0
prefix = prefix or "0"  -- set per thread by setup()

function setup(thread)
  thread:set("prefix", tostring(math.random(1, 1e9)))
end

keyed = (keyed == nil) and true or keyed

function request()
  counter = counter + 1
  local headers = {["Content-Type"] = "application/json"}
  if keyed then headers["Idempotency-Key"] = prefix .. "-" .. counter end
  return wrk.format("POST", nil, headers, '{"renderId":51266,"status":"done"}')
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "durationUs": %d, "connectErrors": %d, "readErrors": %d, ' ..
    '"writeErrors": %d, "statusErrors": %d, "timeouts": %d, "p50Us": %d, "p99Us": %d, "maxUs": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
