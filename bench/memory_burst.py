#!/usr/bin/env python3
"""Memory under a burst of large JSON bodies (issue 10, item 5).

Starts `plexus serve` itself (127.0.0.1, a port the OS picks, a fresh data
folder), posts N large JSON bodies at once to an asynchronous webhook whose
step selects one field of the body (as a real integration would), waits for
every execution to end, then watches the server's RSS give memory back.
Prints one table and a JSON line; stops everything it started.

    python3 bench/memory_burst.py --plexus build/bin/plexus            # 10 x 50 MB
    python3 bench/memory_burst.py --plexus /work/main/build/bin/plexus # today's main
    python3 bench/memory_burst.py --bodies 1 --mb 55                   # the issue's single body
    python3 bench/memory_burst.py --form                               # 16 MB form of 1e6 fields

Target (issue 10): 10 concurrent 50 MB bodies peak under 2 GB RSS and the
process is back under 100 MB within a minute of the last execution's end.
RSS is sampled every 50 ms from /proc/PID/status (and VmHWM, the kernel's
own peak, is read at the end).
"""

import argparse
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

INTEGRATION = """name: Burst
trigger: { webhook: {} }
steps:
  - name: first
    component: json
    action: select
    inputs:
      value: "{{ trigger.results.body.data }}"
      path: "[0].id"
"""


def records_body(megabytes):
    """An array of small records, ~9x its size once parsed by nlohmann."""
    parts, size, i = [], 0, 0
    target = megabytes * 1000 * 1000
    while size < target:
        record = ('{"id":%d,"name":"user%d","email":"user%d@example.com","tags":["a","b"],'
                  '"active":true,"score":%d.5}' % (100000 + i, i, i, i % 100))
        parts.append(record)
        size += len(record) + 1
        i += 1
    return ("[" + ",".join(parts) + "]").encode()


def form_body(fields):
    return "&".join("f%d=%d" % (i, i) for i in range(fields)).encode()


class Server:
    def __init__(self, plexus, plugins, workdir, extra):
        self.log_path = os.path.join(workdir, "server.log")
        self.log = open(self.log_path, "w")
        argv = [plexus, "serve", "--host", "127.0.0.1", "--port", "0", "--plugins", plugins,
                "--integrations", os.path.join(workdir, "integrations"), "--data", os.path.join(workdir, "data"),
                "--max-request-bytes", str(200 * 1000 * 1000)] + extra
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, cwd=workdir)
        self.port = None
        deadline = time.time() + 60
        while time.time() < deadline and self.port is None:
            if self.proc.poll() is not None:
                raise RuntimeError("plexus exited with %s; see %s" % (self.proc.returncode, self.log_path))
            with open(self.log_path) as f:
                m = re.search(r"listening on [^:]+:(\d+)", f.read())
            if m:
                self.port = int(m.group(1))
            time.sleep(0.05)
        if self.port is None:
            raise RuntimeError("plexus did not listen; see " + self.log_path)

    def status_field(self, field):
        try:
            with open("/proc/%d/status" % self.proc.pid) as f:
                for line in f:
                    if line.startswith(field + ":"):
                        return int(line.split()[1]) / 1024.0  # MB (kB / 1024)
        except OSError:
            return None
        return None

    def request(self, method, path, body=None, headers=None, timeout=600):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            reply = conn.getresponse()
            return reply.status, reply.read()
        finally:
            conn.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class Sampler(threading.Thread):
    """Samples the server's RSS every 50 ms until stopped; kills it past `cap` MB."""

    def __init__(self, server, cap):
        super().__init__(daemon=True)
        self.server, self.cap, self.samples, self.stopped = server, cap, [], threading.Event()
        self.capped = False

    def run(self):
        while not self.stopped.is_set():
            rss = self.server.status_field("VmRSS")
            if rss is None:
                return
            self.samples.append((time.time(), rss))
            if rss > self.cap:
                self.capped = True
                self.server.proc.kill()
                return
            time.sleep(0.05)

    def peak(self):
        return max((rss for _, rss in self.samples), default=0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plexus", default=os.path.join(ROOT, "build", "bin", "plexus"))
    parser.add_argument("--plugins", help="default: ../plugins beside the binary")
    parser.add_argument("--bodies", type=int, default=10)
    parser.add_argument("--mb", type=int, default=50)
    parser.add_argument("--form", action="store_true", help="one 16 MB urlencoded form of 1e6 fields instead")
    parser.add_argument("--settle", type=float, default=60, help="seconds to watch RSS after the runs end")
    parser.add_argument("--server-arg", action="append", default=[], help="extra flag for plexus serve")
    parser.add_argument("--rss-cap-mb", type=float, default=8000,
                        help="kill the server past this RSS (the machine is shared; today's main can take 10+ GB)")
    args = parser.parse_args()
    plexus = os.path.abspath(args.plexus)
    plugins = args.plugins or os.path.join(os.path.dirname(os.path.dirname(plexus)), "plugins")

    workdir = tempfile.mkdtemp(prefix="plexus-memory-")
    os.makedirs(os.path.join(workdir, "integrations"))
    with open(os.path.join(workdir, "integrations", "burst.yaml"), "w") as f:
        f.write(INTEGRATION)
    if args.form:
        body, content_type, label = form_body(1000000), "application/x-www-form-urlencoded", "1 form of 1e6 fields"
        args.bodies = 1
    else:
        body, content_type = records_body(args.mb), "application/json"
        label = "%d x %d MB JSON" % (args.bodies, args.mb)
    print("%s: body %.1f MB, server %s, work dir %s" % (label, len(body) / 1e6, plexus, workdir), flush=True)

    server = Server(plexus, plugins, workdir, args.server_arg)
    sampler = Sampler(server, args.rss_cap_mb)
    try:
        for _ in range(200):
            try:
                if server.request("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.05)
        time.sleep(1)
        idle = server.status_field("VmRSS")
        instances = json.loads(server.request("GET", "/api/instances")[1])
        url = next(i["webhookUrl"] for i in instances if i["integration"] == "burst")
        path = url[url.index("/trigger/"):]
        sampler.start()

        replies = [None] * args.bodies
        def post(k):
            try:
                replies[k] = server.request("POST", path, body, {"Content-Type": content_type})
            except OSError as error:
                replies[k] = (0, str(error).encode())
        started = time.time()
        senders = [threading.Thread(target=post, args=(k,)) for k in range(args.bodies)]
        for t in senders:
            t.start()
        for t in senders:
            t.join()
        acknowledged = time.time() - started
        statuses = [r[0] for r in replies]
        ids = [json.loads(r[1])["executionId"] for r in replies if r[0] == 200]

        ended, outcome = {}, {}
        while len(ended) < len(ids) and server.proc.poll() is None and time.time() - started < 900:
            for i in ids:
                if i in ended:
                    continue
                try:
                    status, text = server.request("GET", "/api/executions/" + i)
                except OSError:
                    break
                execution = json.loads(text) if status == 200 else {}
                if execution.get("status") in ("succeeded", "failed"):
                    ended[i] = time.time()
                    outcome[i] = execution["status"]
            time.sleep(0.2)
        all_ended = time.time()
        peak_during = sampler.peak()

        back_under_100 = None
        at = {}
        while time.time() - all_ended < args.settle and server.proc.poll() is None:
            rss = server.status_field("VmRSS")
            elapsed = time.time() - all_ended
            for mark in (1, 10, 30, 60):
                if mark not in at and elapsed >= mark:
                    at[mark] = rss
            if back_under_100 is None and rss is not None and rss < 100:
                back_under_100 = elapsed
            time.sleep(0.25)
        sampler.stopped.set()
        sampler.join()
        result = {
            "label": label,
            "binary": plexus,
            "statuses": statuses,
            "errors": sorted({r[1].decode(errors="replace")[:200] for r in replies if r[0] != 200}),
            "outcomes": sorted(outcome.values()),
            "idleRssMb": round(idle or 0, 1),
            "peakRssMb": round(max(peak_during, sampler.peak()), 1),
            "vmHwmMb": round(server.status_field("VmHWM") or 0, 1),
            "acknowledgedAfterS": round(acknowledged, 1),
            "allEndedAfterS": round(all_ended - started, 1),
            "rssAfterEndMb": {str(k): round(v or 0, 1) for k, v in sorted(at.items())},
            "backUnder100MbAfterS": None if back_under_100 is None else round(back_under_100, 1),
            "alive": server.proc.poll() is None,
            "killedAtRssCap": sampler.capped,
        }
    finally:
        sampler.stopped.set()
        server.stop()

    print("| measure | value |\n| --- | --- |")
    for key in ("statuses", "outcomes", "idleRssMb", "peakRssMb", "vmHwmMb", "acknowledgedAfterS",
                "allEndedAfterS", "rssAfterEndMb", "backUnder100MbAfterS", "alive", "killedAtRssCap"):
        print("| %s | %s |" % (key, result[key]))
    for error in result["errors"]:
        print("error reply: " + error)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
