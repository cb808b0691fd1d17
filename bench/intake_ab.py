#!/usr/bin/env python3
"""Async intake of two builds side by side (A/B), alternating rounds so both
see the same machine: did a change cost intake throughput?

    python3 bench/intake_ab.py --a /path/to/main/build --b build-bench --runs 5

Each round starts `plexus serve` from one build on a fresh data folder and
runs bench.py's measure_async (wrk -t2 -c64 for --duration s, after a
warm-up) against the bench-intake webhook; prints each round and the
medians. With --keyed-b, B's requests each carry a new Idempotency-Key and
A's the same requests without it, both through wrk's per-request Lua
callback (A and B may then be the same build: what a key costs). Both builds need bin/plexus and plugins/; wrk must be installed.
Use builds made with the same CMAKE_BUILD_TYPE.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a", required=True, help="build dir A (e.g. main's)")
    parser.add_argument("--b", required=True, help="build dir B (e.g. this branch's)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--keyed-b", action="store_true",
                        help="B's requests each carry a new Idempotency-Key (wrk-post-keyed.lua)")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="plexus-intake-ab-")
    results = {"A": [], "B": []}
    for n in range(args.runs):
        for label, build in (("A", args.a), ("B", args.b)) if n % 2 == 0 else (("B", args.b), ("A", args.a)):
            run = argparse.Namespace(build=os.path.abspath(build), workers=None, http_threads=None,
                                     connections=args.connections, duration=args.duration,
                                     wrk_script=(None if not args.keyed_b else
                                                 "wrk-post-keyed.lua" if label == "B" else "wrk-post-dynamic.lua"))
            data = os.path.join(work, f"data-{label}-{n}")
            plexus = bench.start_plexus(run, f"plexus-{label}-{n}", os.path.join(bench.HERE, "integrations"), data, work)
            try:
                time.sleep(2)
                path = bench.webhook_path(plexus.port, "bench-intake")
                r = bench.measure_async(run, bench.Db(data), f"http://127.0.0.1:{plexus.port}{path}", plexus)
            finally:
                plexus.stop()
            results[label].append(r)
            print(f"round {n + 1} {label}: {r['rps']:8.0f} req/s  p50 {r['p50Ms']:.2f} ms  p99 {r['p99Ms']:.2f} ms  "
                  f"{r['cpuUsPerRequest']:.0f} us CPU/req  failures {r['failures']}", flush=True)
    for label in ("A", "B"):
        rs = results[label]
        print(f"median {label}: {statistics.median(r['rps'] for r in rs):8.0f} req/s  "
              f"p99 {statistics.median(r['p99Ms'] for r in rs):.2f} ms  "
              f"{statistics.median(r['cpuUsPerRequest'] for r in rs):.0f} us CPU/req")
    a = statistics.median(r["rps"] for r in results["A"])
    b = statistics.median(r["rps"] for r in results["B"])
    print(f"B/A throughput: {100 * b / a:.1f}%")


if __name__ == "__main__":
    bench.atexit.register(bench.stop_all)
    main()
