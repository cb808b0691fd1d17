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
import concurrent.futures
import http.client
import json
import os
import resource
import shutil
import sys
import tempfile
import threading
import time
import urllib.parse

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


def threads_of(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return 0


def upstream_stats(log_path):
    last = None
    with open(log_path) as f:
        for line in f:
            if line.startswith("STATS "):
                last = json.loads(line[6:])
    return last or {}


def post_all(port, path, count, connections):
    """Posts `count` calls over `connections` keep-alive connections; returns how many were acknowledged."""
    per = [count // connections + (1 if i < count % connections else 0) for i in range(connections)]

    def worker(n):
        acked = 0
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for _ in range(n):
            conn.request("POST", path, body=b'{"a":1}', headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            acked += resp.status == 200
        conn.close()
        return acked

    with concurrent.futures.ThreadPoolExecutor(connections) as pool:
        return sum(pool.map(worker, per))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plexus", default=os.path.join(os.path.dirname(HERE), "build", "bin", "plexus"))
    parser.add_argument("--node", default=shutil.which("node"))
    parser.add_argument("--executions", type=int, default=20000)
    parser.add_argument("--upstream-ms", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=32, help="posting connections")
    args = parser.parse_args()
    if not args.node:
        sys.exit("http_in_flight: no node for the upstream (--node)")
    plexus_bin = os.path.abspath(args.plexus)
    raise_fd_limit()

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
                                     "--data", data, "--max-connections-per-client", "0"],
                          os.path.join(work, "plexus.log"), r"plexus listening on [^:]+:(\d+)", cwd=work)
    path = bench.webhook_path(plexus.port, "slow-api")
    db = bench.Db(data)
    idle_rss = plexus.rss_mb()

    peak = {"rss": 0.0, "threads": 0}
    sampling = threading.Event()

    def sample():
        while not sampling.is_set():
            peak["rss"] = max(peak["rss"], plexus.rss_mb())
            peak["threads"] = max(peak["threads"], threads_of(plexus.pid))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.time()
    try:
        acked = post_all(plexus.port, path, args.executions, args.connections)
        posted_in = time.time() - started
        drained_in = db.wait_drained(timeout=600) + posted_in
        time.sleep(0.5)
    finally:
        sampling.set()
        sampler.join()
    after_rss = plexus.rss_mb()
    total, succeeded = db.one("SELECT count(*), coalesce(sum(status = 'succeeded'), 0) FROM executions")
    stats = upstream_stats(upstream.log_path)
    plexus.stop()
    upstream.stop()

    print(f"{args.executions} asynchronous calls, each waiting {args.upstream_ms} ms on the upstream:")
    print(f"  acknowledged {acked} in {posted_in:.1f} s; all ended after {drained_in:.1f} s")
    print(f"  succeeded {succeeded} of {total}")
    print(f"  upstream: most requests open at once {stats.get('most')}, served {stats.get('served')}")
    print(f"  plexus RSS idle {idle_rss:.0f} MB, peak {peak['rss']:.0f} MB, after {after_rss:.0f} MB; "
          f"peak threads {peak['threads']}")


if __name__ == "__main__":
    main()
