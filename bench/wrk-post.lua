-- wrk script: POST a small JSON body; at the end print one line
-- "BENCH {json}" with the counts and latencies bench.py reads.
-- No response() callback: it would cost wrk a Lua call per reply.
-- wrk counts replies with status >= 400 in errors.status.
wrk.method = "POST"
wrk.body = '{"renderId":51266,"status":"done"}'
wrk.headers["Content-Type"] = "application/json"

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "durationUs": %d, "connectErrors": %d, "readErrors": %d, ' ..
    '"writeErrors": %d, "statusErrors": %d, "timeouts": %d, "p50Us": %d, "p99Us": %d, "maxUs": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
