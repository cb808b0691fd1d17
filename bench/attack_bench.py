#!/usr/bin/env python3
"""A legitimate caller's latency under connection-exhaustion attacks (issue 10, item 7).

Against a running `plexus serve`, for each attack in turn (2,000 slowloris
connections sending a header byte a second, 1,100 silent connections, 5,000
idle keep-alive connections), the attacker holds its connections from
--attacker-address while a legitimate caller from the default address posts
to a webhook, one call after another, for --duration seconds. Prints p50,
p99 and max latency and the calls not answered within --timeout.

  python3 bench/attack_bench.py http://127.0.0.1:8080 [--pid PID] [--api-token T]

Standard library only. Not part of CI: these are measurements, not tests
(tests/server/connection_attack_test.cpp is the pass/fail check). The
attacker address must be a local address of this machine; on Linux all of
127.0.0.0/8 is, so against 127.0.0.1 the default 127.0.0.2 works as-is.
"""

import argparse
import errno
import http.client
import json
import os
import resource
import selectors
import socket
import statistics
import sys
import threading
import time
import urllib.parse
import urllib.request

SLOW_HEAD = b"POST /healthz HTTP/1.1\r\nHost: victim\r\nX-Padding: "
IDLE_REQUEST = b"GET /healthz HTTP/1.1\r\nHost: victim\r\n\r\n"


class Attacker(threading.Thread):
    """Holds `count` connections of one kind from `source`, on one thread."""

    def __init__(self, kind, count, host, port, source):
        super().__init__(daemon=True)
        self.kind, self.count, self.target, self.source = kind, count, (host, port), source
        self.stopping = threading.Event()
        self.connected = self.failed = self.dropped = 0
        self.settled = threading.Event()

    def run(self):
        selector = selectors.DefaultSelector()
        sockets = {}
        pending = 0
        for _ in range(self.count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            try:
                if self.source:
                    sock.bind((self.source, 0))
                err = sock.connect_ex(self.target)
            except OSError:
                sock.close()
                self.failed += 1
                continue
            if err not in (0, errno.EINPROGRESS):
                sock.close()
                self.failed += 1
                continue
            sockets[sock] = {"connected": False, "sent": 0}
            selector.register(sock, selectors.EVENT_WRITE)
            pending += 1
        next_tick = time.monotonic()
        settle_by = time.monotonic() + 20
        while not self.stopping.is_set():
            for key, events in selector.select(timeout=0.1):
                sock, state = key.fileobj, sockets[key.fileobj]
                if not state["connected"]:
                    error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    pending -= 1
                    if error:
                        self.failed += 1
                        selector.unregister(sock)
                        sock.close()
                        del sockets[sock]
                        continue
                    state["connected"] = True
                    self.connected += 1
                    selector.modify(sock, selectors.EVENT_READ)
                    if self.kind == "idle keep-alive":
                        try:
                            sock.send(IDLE_REQUEST)
                        except OSError:
                            pass
                    continue
                try:
                    data = sock.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:  # The server hung up on it: what a defence does.
                    self.dropped += 1
                    selector.unregister(sock)
                    sock.close()
                    del sockets[sock]
            if pending <= 0 or time.monotonic() > settle_by:
                self.settled.set()
            if self.kind == "slowloris" and time.monotonic() >= next_tick:
                next_tick += 1
                for sock, state in list(sockets.items()):
                    if not state["connected"]:
                        continue
                    sent = state["sent"]
                    byte = SLOW_HEAD[sent:sent + 1] or b"a"
                    try:
                        state["sent"] += sock.send(byte)
                    except OSError:
                        pass
        for sock in sockets:
            sock.close()
        selector.close()


def legitimate_call(webhook, timeout):
    """One POST; returns (seconds, status or None)."""
    url = urllib.parse.urlsplit(webhook)
    body = b'{"legitimate":true}'
    start = time.monotonic()
    try:
        connection = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=timeout)
        connection.request("POST", url.path + ("?" + url.query if url.query else ""), body,
                           {"Content-Type": "application/json", "Connection": "close"})
        status = connection.getresponse().status
        connection.close()
    except (OSError, http.client.HTTPException):
        status = None
    return time.monotonic() - start, status


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def thread_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return None


def find_webhook(server, token):
    request = urllib.request.Request(server.rstrip("/") + "/api/instances")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(request, timeout=10) as reply:
        for instance in json.load(reply):
            if instance.get("webhookUrl") and instance.get("enabled", True):
                return instance["webhookUrl"]
    sys.exit("no webhook instance on " + server + "; pass --webhook URL")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("server", help="the running server's base URL, e.g. http://127.0.0.1:8080")
    parser.add_argument("--webhook", help="the legitimate caller's webhook URL (default: the first instance's)")
    parser.add_argument("--api-token", help="for GET /api/instances when the server has one")
    parser.add_argument("--pid", type=int, help="the server's process id, to report its thread count")
    parser.add_argument("--attacker-address", default="127.0.0.2", help="source address of the attack ('' for any)")
    parser.add_argument("--duration", type=float, default=10, help="seconds of legitimate calls per attack")
    parser.add_argument("--timeout", type=float, default=5, help="a call not answered by then counts as failed")
    parser.add_argument("--slowloris", type=int, default=2000)
    parser.add_argument("--silent", type=int, default=1100)
    parser.add_argument("--idle", type=int, default=5000)
    parser.add_argument("--pause", type=float, default=3,
                        help="seconds between attacks, for the server to drop what the last one left")
    args = parser.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    needed = max(args.slowloris, args.silent, args.idle) + 100
    if hard < needed:
        sys.exit(f"RLIMIT_NOFILE hard limit {hard} is below the {needed} descriptors the attack needs")

    server = urllib.parse.urlsplit(args.server)
    webhook = args.webhook or find_webhook(args.server, args.api_token)
    attacks = [("none", 0), ("slowloris", args.slowloris), ("silent", args.silent),
               ("idle keep-alive", args.idle)]
    rows = []
    for kind, count in attacks:
        print(f"measuring under attack: {kind} ...", file=sys.stderr)
        attacker = None
        if count:
            attacker = Attacker(kind, count, server.hostname, server.port or 80, args.attacker_address)
            attacker.start()
            attacker.settled.wait(25)
            time.sleep(2)  # Let slowloris heads trickle and idle connections go idle.
        latencies, failures = [], 0
        until = time.monotonic() + args.duration
        while time.monotonic() < until:
            seconds, status = legitimate_call(webhook, args.timeout)
            latencies.append(seconds)
            failures += status is None or status >= 500
        threads = thread_count(args.pid) if args.pid else None
        held = f"{attacker.connected - attacker.dropped}/{count}" if attacker else "-"
        if attacker:
            attacker.stopping.set()
            attacker.join()
        rows.append((kind, held, len(latencies), failures, statistics.median(latencies) * 1000,
                     percentile(latencies, 0.99) * 1000, max(latencies) * 1000, threads))
        time.sleep(args.pause)

    header = ("attack", "held", "calls", "failed", "p50 ms", "p99 ms", "max ms", "threads")
    print("%-16s %11s %6s %6s %9s %9s %9s %8s" % header)
    for kind, held, calls, failed, p50, p99, worst, threads in rows:
        print("%-16s %11s %6d %6d %9.1f %9.1f %9.1f %8s" %
              (kind, held, calls, failed, p50, p99, worst, threads if threads is not None else "-"))
    if args.pid:
        print(f"server threads now: {thread_count(args.pid)}")


if __name__ == "__main__":
    main()
