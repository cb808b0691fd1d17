#!/usr/bin/env python3
"""A legitimate caller's latency while Plexus is flooded with hostile
connections (issue 10, item 7). Not run by CI; its figures go in the README.

    python3 bench/attack.py --build build-bench            # every attack, 20 s each
    python3 bench/attack.py --build build --only slowloris --seconds 30
    python3 bench/attack.py --build build --spread 40      # the flood from 40 addresses

It starts `plexus serve` from BUILD on 127.0.0.1 (port 0), then for each
attack: opens the flood from 127.0.0.2 (or 127.0.0.2 … 127.0.0.N+1 with
--spread N, so the per-address cap does not apply), keeps it up (a
connection the server closes is opened again, as a real attacker would),
and meanwhile a caller on 127.0.0.1 posts to a webhook, one new connection
per call, 20 calls a second. Prints the caller's p50 / p99 / max and its
failures (no reply within 10 s counts as one), and the server's threads.

Attacks (as in the issue): slowloris (2,000 connections, a header byte a
second each), silent (1,100 connections that send nothing), idle (5,000
keep-alive connections that sent one request and then nothing).
"""

import argparse
import http.client
import os
import re
import resource
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ATTACKS = {"slowloris": 2000, "silent": 1100, "idle": 5000}


class Flood(threading.Thread):
    """Keeps `count` hostile connections of one kind open."""

    def __init__(self, kind, count, port, sources):
        super().__init__(daemon=True)
        self.kind, self.count, self.port, self.sources = kind, count, port, sources
        self.stop = threading.Event()
        self.sel = selectors.DefaultSelector()
        self.open = set()
        self.opened = 0
        self.refused = 0

    def connect(self, n):
        source = self.sources[n % len(self.sources)]
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((source, 0))
            s.settimeout(1)
            s.connect(("127.0.0.1", self.port))
            s.setblocking(False)
            if self.kind == "idle":
                s.send(b"GET /healthz HTTP/1.1\r\nHost: flood\r\n\r\n")
            elif self.kind == "slowloris":
                s.send(b"GET /healthz HTTP/1.1\r\n")
        except OSError:
            s.close()
            self.refused += 1
            return
        self.sel.register(s, selectors.EVENT_READ)
        self.open.add(s)
        self.opened += 1

    def drop(self, s):
        self.sel.unregister(s)
        self.open.discard(s)
        s.close()

    def run(self):
        n = 0
        last_byte = time.time()
        while not self.stop.is_set():
            # Reopen what the server closed, a few hundred at a time.
            for _ in range(min(300, self.count - len(self.open))):
                self.connect(n)
                n += 1
            for key, _ in self.sel.select(timeout=0.1):
                try:
                    data = key.fileobj.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    self.drop(key.fileobj)
            if self.kind == "slowloris" and time.time() - last_byte >= 1:
                last_byte = time.time()
                for s in list(self.open):
                    try:
                        s.send(b"X")
                    except OSError:
                        self.drop(s)
        for s in list(self.open):
            self.drop(s)


def threads_of(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


def legit_calls(port, path, seconds, pid):
    latencies, failures, most_threads = [], 0, 0
    end = time.time() + seconds
    while time.time() < end:
        start = time.time()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("POST", path, body=b'{"renderId": 1}', headers={"Content-Type": "application/json"})
            ok = conn.getresponse().status == 200
            conn.close()
        except OSError:
            ok = False
        elapsed = time.time() - start
        latencies.append(elapsed if ok else 10.0)
        failures += 0 if ok else 1
        most_threads = max(most_threads, threads_of(pid))
        time.sleep(max(0, 0.05 - elapsed))
    latencies.sort()
    return {"calls": len(latencies), "failures": failures, "p50Ms": 1000 * statistics.median(latencies),
            "p99Ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
            "maxMs": 1000 * latencies[-1], "threads": most_threads}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", required=True, help="build dir with bin/plexus and plugins/")
    parser.add_argument("--seconds", type=int, default=20, help="seconds per attack (default 20)")
    parser.add_argument("--only", action="append", choices=sorted(ATTACKS), help="run only these (repeatable)")
    parser.add_argument("--spread", type=int, default=1, help="flood from this many addresses (default 1)")
    parser.add_argument("--flag", action="append", default=[], help="extra plexus serve flag, e.g. --flag=--max-connections-per-client=0")
    args = parser.parse_args()
    args.build = os.path.abspath(args.build)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    sources = [f"127.0.0.{2 + i}" for i in range(args.spread)]

    work = tempfile.mkdtemp(prefix="plexus-attack-")
    log_path = os.path.join(work, "plexus.log")
    extra = []
    for f in args.flag:
        extra += f.split("=", 1)
    argv = [os.path.join(args.build, "bin", "plexus"), "serve", "--host", "127.0.0.1", "--port", "0",
            "--integrations", os.path.join(HERE, "..", "integrations"), "--plugins",
            os.path.join(args.build, "plugins"), "--data", os.path.join(work, "data")] + extra
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLEXUS_")}
    with open(log_path, "w") as log:
        server = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=work)
    try:
        port = None
        for _ in range(600):
            m = re.search(r"listening on [^:]+:(\d+)", open(log_path).read())
            if m:
                port = int(m.group(1))
                break
            time.sleep(0.05)
        if port is None:
            raise RuntimeError(f"plexus did not start; see {log_path}")
        time.sleep(1)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/api/instances")
        import json
        instances = json.loads(conn.getresponse().read())
        path = next(urllib.parse.urlparse(i["webhookUrl"]).path for i in instances
                    if i["integration"] == "render-status" and "webhookUrl" in i)

        print(f"plexus {args.build} pid {server.pid}, flood from {len(sources)} address(es), "
              f"{args.seconds} s each, flags {' '.join(extra) or '(defaults)'}")
        print(f"{'attack':24} {'calls':>6} {'fail':>5} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'threads':>8} {'flood open':>10}")
        base = legit_calls(port, path, 5, server.pid)
        print(f"{'none':24} {base['calls']:6} {base['failures']:5} {base['p50Ms']:8.1f} {base['p99Ms']:8.1f} "
              f"{base['maxMs']:8.1f} {base['threads']:8}")
        for kind in args.only or ["slowloris", "silent", "idle"]:
            flood = Flood(kind, ATTACKS[kind], port, sources)
            flood.start()
            time.sleep(2)
            r = legit_calls(port, path, args.seconds, server.pid)
            still_open = len(flood.open)
            flood.stop.set()
            flood.join()
            label = f"{kind} ({ATTACKS[kind]})"
            print(f"{label:24} {r['calls']:6} {r['failures']:5} {r['p50Ms']:8.1f} {r['p99Ms']:8.1f} "
                  f"{r['maxMs']:8.1f} {r['threads']:8} {still_open:10}", flush=True)
            time.sleep(3)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


if __name__ == "__main__":
    main()
