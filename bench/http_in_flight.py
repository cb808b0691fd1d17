#!/usr/bin/env python3
"""Many executions waiting on a slow API at once (issue 11).

Posts --executions (20,000) asynchronous webhook calls to an integration
whose step is `http.request` to an upstream that answers after
--upstream-ms (1,000), then waits until every execution has ended. Samples
the server's RSS and threads all along and reads the upstream's most
requests open at once.

    python3 bench/http_in_flight.py --plexus build/bin/plexus

Target (issue 11): 20,000 such calls in flight, RSS < 400 MB, every one
succeeded. Needs node (Node.js) for the upstream (--node, else PATH).
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402

UPSTREAM_JS = r"""
const http = require('http');
const delay = parseInt(process.argv[2], 10);
let open = 0, most = 0, served = 0;
const server = http.createServer((req, res) => {
  open++; most = Math.max(most, open);
  req.resume();
  req.on('end', () => setTimeout(() => {
    res.writeHead(200, {'Content-Type': 'application/json'});
    res.end('{"ok":true}');
    open--; served++;
  }, delay));
});
server.keepAliveTimeout = 60000;
server.maxConnections = 100000;
server.listen(0, '127.0.0.1', 4096, () => console.log('upstream listening on 127.0.0.1:' + server.address().port));
setInterval(() => console.log('STATS ' + JSON.stringify({open, most, served})), 500);
"""

INTEGRATION = """name: Slow API
trigger: {{ webhook: {{}} }}
steps:
  - name: call
    component: http
    action: request
    inputs: {{ url: "http://127.0.0.1:{port}/api", timeoutMs: 120000 }}
  - name: done
    component: json
    action: value
    inputs: {{ value: "{{{{ steps.call.results.status }}}}" }}
"""


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def upstream_stats(log_path):
    last = None
    with open(log_path) as f:
        for line in f:
            if line.startswith("STATS "):
                last = json.loads(line[6:])
    return last or {}


def post_all(client, url, count, connections):
    """Posts exactly `count` calls with bench_load_client; returns its report."""
    out = subprocess.run([client, "--url", url, "--connections", str(connections), "--calls", str(count),
                          "--duration", "600", "--timeout", "120"], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plexus", default=os.path.join(os.path.dirname(HERE), "build", "bin", "plexus"))
    parser.add_argument("--node", default=shutil.which("node"))
    parser.add_argument("--executions", type=int, default=20000)
    parser.add_argument("--upstream-ms", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=64, help="posting connections")
    parser.add_argument("--max-outbound-connections", type=int, help="plexus's flag (default: its own, 4096)")
    args = parser.parse_args()
    if not args.node:
        sys.exit("http_in_flight: no node for the upstream (--node)")
    plexus_bin = os.path.abspath(args.plexus)
    client = os.path.join(os.path.dirname(plexus_bin), "bench_load_client")
    if not os.path.exists(client):
        sys.exit(f"http_in_flight: no {client} (configure with -DPLEXUS_BUILD_BENCH=ON)")
    raise_fd_limit()  # inherited by the upstream and the server

    work = tempfile.mkdtemp(prefix="plexus-in-flight-")
    with open(os.path.join(work, "upstream.js"), "w") as f:
        f.write(UPSTREAM_JS)
    upstream = bench.Server("upstream", [args.node, "upstream.js", str(args.upstream_ms)],
                            os.path.join(work, "upstream.log"), r"upstream listening on [^:]+:(\d+)", cwd=work)
    integrations = os.path.join(work, "integrations")
    os.makedirs(integrations)
    with open(os.path.join(integrations, "slow-api.yaml"), "w") as f:
        f.write(INTEGRATION.format(port=upstream.port))
    data = os.path.join(work, "data")
    plexus = bench.Server("plexus", [plexus_bin, "serve", "--host", "127.0.0.1", "--port", "0",
                                     "--integrations", integrations,
                                     "--plugins", os.path.join(os.path.dirname(os.path.dirname(plexus_bin)), "plugins"),
                                     "--data", data, "--max-connections-per-client", "0"] +
                          (["--max-outbound-connections", str(args.max_outbound_connections)]
                           if args.max_outbound_connections else []),
                          os.path.join(work, "plexus.log"), r"plexus listening on [^:]+:(\d+)", cwd=work)
    path = bench.webhook_path(plexus.port, "slow-api")
    db = bench.Db(data)
    idle_rss = plexus.rss_mb()

    # The upstream alone first, at the concurrency Plexus will use: the
    # floor any client of it could reach (it must not be the limit).
    concurrency = args.max_outbound_connections or 4096
    alone = post_all(client, f"http://127.0.0.1:{upstream.port}/api", args.executions, concurrency)
    print(f"upstream alone, {concurrency} connections: {args.executions} calls in {alone['seconds']:.1f} s "
          f"({alone['failures']} failures)", flush=True)

    peak = {"rss": 0.0, "threads": 0}
    sampling = threading.Event()

    def sample():
        while not sampling.is_set():
            peak["rss"] = max(peak["rss"], plexus.rss_mb())
            peak["threads"] = max(peak["threads"], plexus.threads())
            time.sleep(0.1)

    sampler = threading.Thread(target=sample)
    sampler.start()
    cpu_before = plexus.cpu_seconds()
    started = time.time()
    try:
        posted = post_all(client, f"http://127.0.0.1:{plexus.port}{path}", args.executions, args.connections)
        acked = posted["calls"]
        posted_in = time.time() - started
        drained_in = db.wait_drained(timeout=600) + posted_in
        time.sleep(0.5)
    finally:
        sampling.set()
        sampler.join()
    after_rss = plexus.rss_mb()
    cpu = plexus.cpu_seconds() - cpu_before
    total, succeeded = db.one("SELECT count(*), coalesce(sum(status = 'succeeded'), 0) FROM executions")
    stats = upstream_stats(upstream.log_path)
    stats["served"] = stats.get("served", 0) - alone["calls"]
    plexus.stop()
    upstream.stop()

    print(f"{args.executions} asynchronous calls, each waiting {args.upstream_ms} ms on the upstream:")
    print(f"  acknowledged {acked} in {posted_in:.1f} s; all ended after {drained_in:.1f} s")
    print(f"  succeeded {succeeded} of {total}")
    print(f"  upstream: most requests open at once (its own run included) {stats.get('most')}, served {stats.get('served')}")
    print(f"  plexus RSS idle {idle_rss:.0f} MB, peak {peak['rss']:.0f} MB, after {after_rss:.0f} MB; "
          f"peak threads {peak['threads']}")
    print(f"  plexus CPU {cpu:.1f} s ({1e6 * cpu / args.executions:.0f} us per execution)")


if __name__ == "__main__":
    main()
