#!/usr/bin/env python3
"""Plexus benchmarks: runs every measurement and prints one table.

Called by bench/run.sh after it has built build-bench (Release); see that
file for the command. Everything listens on 127.0.0.1 with ports picked by
the OS (port 0); every process started here is stopped here, by pid, also
on Ctrl-C. Working files (server logs, SQLite data, results) go under
BUILD/bench-runs/<timestamp>/.

Each figure is the median of --runs runs. The ceiling server stays up for
the whole run and is measured between the Plexus runs, so both see the same
machine; the CPU used by other processes is sampled before each round and
printed, since the machine may be shared.
"""

import argparse
import atexit
import datetime as dt
import http.client
import json
import os
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

STARTED = []  # Popen objects this script started; stop_all() ends them.


# ---------------------------------------------------------------- processes

def stop(proc, sig=signal.SIGTERM, timeout=60):
    """Stops one process we started: `sig`, then SIGKILL after `timeout` s."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc in STARTED:
        STARTED.remove(proc)


def stop_all():
    for proc in list(STARTED):
        stop(proc, timeout=20)


def on_signal(signum, frame):
    stop_all()
    sys.exit(128 + signum)


class Server:
    """A server process whose log says where it listens."""

    def __init__(self, name, argv, log_path, listen_pattern, cwd, timeout=600):
        self.name = name
        self.log_path = log_path
        env = {k: v for k, v in os.environ.items() if not k.startswith("PLEXUS_")}
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, cwd=cwd, env=env)
        STARTED.append(self.proc)
        self.started_at = time.time()
        self.port = self._wait_for_port(re.compile(listen_pattern), timeout)
        self.ready_at = time.time()

    def _wait_for_port(self, pattern, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with open(self.log_path) as f:
                m = pattern.search(f.read())
            if m:
                return int(m.group(1))
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} before listening; "
                                   f"see {self.log_path}")
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not listen within {timeout} s; see {self.log_path}")

    @property
    def pid(self):
        return self.proc.pid

    def rss_mb(self, field="VmRSS"):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
        raise RuntimeError(f"no {field} for {self.name}")

    def threads(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
        return 0

    def cpu_seconds(self):
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self, sig=signal.SIGTERM):
        stop(self.proc, sig)
        self.log.close()


def background_cpu_percent(seconds=1.0):
    """Busy CPU over `seconds` of the whole machine (all cores = 100%),
    sampled while this script's servers are idle: what others are using."""
    def sample():
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
        idle = values[3] + values[4]
        return sum(values), idle
    total0, idle0 = sample()
    time.sleep(seconds)
    total1, idle1 = sample()
    total = total1 - total0
    return 100.0 * (total - (idle1 - idle0)) / total if total else 0.0


# ---------------------------------------------------------------- HTTP

def http_json(port, method, path, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, json.loads(data) if data else None
    finally:
        conn.close()


def webhook_path(port, integration):
    status, instances = http_json(port, "GET", "/api/instances")
    if status != 200:
        raise RuntimeError(f"GET /api/instances answered {status}")
    for instance in instances:
        if instance["integration"] == integration and "webhookUrl" in instance:
            return urllib.parse.urlparse(instance["webhookUrl"]).path
    raise RuntimeError(f"no webhook instance of '{integration}' in GET /api/instances")


# ---------------------------------------------------------------- load tools

def wrk_command(url, duration, connections, script="wrk-post.lua"):
    return ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--timeout", "10s", "--latency",
            "-s", os.path.join(HERE, script), url]


def parse_wrk(out):
    """The figures of wrk-post.lua's BENCH line in wrk's output."""
    for line in out.splitlines():
        if line.startswith("BENCH "):
            r = json.loads(line[6:])
            r["rps"] = r["requests"] / (r["durationUs"] / 1e6)
            r["p50Ms"], r["p99Ms"] = r["p50Us"] / 1000, r["p99Us"] / 1000
            r["failures"] = r["connectErrors"] + r["readErrors"] + r["writeErrors"] + r["statusErrors"] + r["timeouts"]
            r["acked"] = r["requests"] - r["statusErrors"]
            return r
    raise RuntimeError("wrk printed no BENCH line:\n" + out)


def run_wrk(args, url, duration, connections):
    script = getattr(args, "wrk_script", None) or "wrk-post.lua"
    out = subprocess.run(wrk_command(url, duration, connections, script), capture_output=True, text=True,
                         check=True).stdout
    return parse_wrk(out)


def run_client(args, url, duration, connections, follow, headers=()):
    cmd = [os.path.join(args.build, "bin", "bench_load_client"), "--url", url, "--connections", str(connections),
           "--duration", str(duration)]
    if follow:
        cmd.append("--follow")
    for h in headers:
        cmd += ["--header", h]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


# ---------------------------------------------------------------- the store

class Db:
    """Read-only view of a running server's SQLite store (WAL: readers
    never block the server's writer)."""

    def __init__(self, data_dir):
        self.path = os.path.join(data_dir, "plexus.db")

    def query(self, sql, params=()):
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def one(self, sql, params=()):
        return self.query(sql, params)[0]

    def marks(self):
        """The newest row of each table: later rows belong to what follows."""
        return {t: self.one(f"SELECT coalesce(max(seq), 0) FROM {t}")[0] for t in ("executions", "steps", "logs")}

    def unfinished(self):
        return self.one("SELECT count(*) FROM executions WHERE status IN ('queued', 'running')")[0]

    def wait_drained(self, timeout=600):
        """Seconds until no execution is queued or running."""
        start = time.time()
        while self.unfinished() > 0:
            if time.time() - start > timeout:
                raise RuntimeError(f"executions still unfinished after {timeout} s")
            time.sleep(0.1)
        return time.time() - start

    def window(self, marks, steps_per_execution):
        """What the executions after `marks` recorded."""
        total, succeeded, first_queued, last_ended = self.one(
            "SELECT count(*), coalesce(sum(status = 'succeeded'), 0), min(queued_at), max(ended_at) "
            "FROM executions WHERE seq > ?", (marks["executions"],))
        incomplete = self.one(
            "SELECT count(*) FROM executions e WHERE e.seq > ? AND "
            "(SELECT count(*) FROM steps s WHERE s.execution_id = e.id AND s.status = 'succeeded') != ?",
            (marks["executions"], steps_per_execution))[0]
        logs = self.one("SELECT count(*) FROM logs WHERE seq > ? AND step = 'note'", (marks["logs"],))[0]
        seconds = (last_ended - first_queued) / 1000.0 if total else 0
        return {"executions": total, "succeeded": succeeded, "incomplete": incomplete, "noteLogs": logs,
                "completedPerSecond": total / seconds if seconds else 0, "spanSeconds": seconds}


# ---------------------------------------------------------------- Plexus

def start_plexus(args, name, integrations_dir, data_dir, workdir, timeout=600):
    os.makedirs(data_dir, exist_ok=True)
    argv = [os.path.join(args.build, "bin", "plexus"), "serve", "--host", "127.0.0.1", "--port", "0",
            "--integrations", integrations_dir, "--plugins", os.path.join(args.build, "plugins"),
            "--data", data_dir]
    if args.workers:
        argv += ["--workers", str(args.workers)]
    if args.http_threads:
        argv += ["--http-threads", str(args.http_threads)]
    return Server(name, argv, os.path.join(workdir, name + ".log"), r"plexus listening on [^:]+:(\d+)",
                  cwd=workdir, timeout=timeout)


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


# ---------------------------------------------------------------- phases

def phase_http(args, workdir, results):
    """Rounds of: ceiling (wrk), Plexus async (wrk), Plexus sync (client),
    ceiling (client); a fresh Plexus data dir each round."""
    ceiling = Server("ceiling", [os.path.join(args.build, "bin", "bench_ceiling_server"), "--port", "0",
                                 "--threads", str(args.ceiling_threads)],
                     os.path.join(workdir, "ceiling.log"), r"listening on [^:]+:(\d+)", cwd=workdir)
    ceiling_url = f"http://127.0.0.1:{ceiling.port}/trigger/ceiling"
    time.sleep(1)
    results["ceilingIdleRssMb"] = ceiling.rss_mb()
    rounds = []
    try:
        for n in range(args.runs):
            r = {"backgroundCpu": background_cpu_percent(), "load": os.getloadavg()[0]}
            print(f"round {n + 1}/{args.runs}: background CPU {r['backgroundCpu']:.0f}%, "
                  f"load {r['load']:.2f}", flush=True)
            run_wrk(args, ceiling_url, 2, args.connections)  # warm-up
            cpu = ceiling.cpu_seconds()
            r["ceiling"] = run_wrk(args, ceiling_url, args.duration, args.connections)
            r["ceiling"]["cpuUsPerRequest"] = (ceiling.cpu_seconds() - cpu) * 1e6 / max(1, r["ceiling"]["requests"])
            print(f"  ceiling      {r['ceiling']['rps']:9.0f} req/s  p50 {r['ceiling']['p50Ms']:.2f} ms  "
                  f"p99 {r['ceiling']['p99Ms']:.2f} ms  {r['ceiling']['cpuUsPerRequest']:.0f} us CPU/req", flush=True)

            data_dir = os.path.join(workdir, f"data-{n + 1}")
            plexus = start_plexus(args, f"plexus-{n + 1}", os.path.join(HERE, "integrations"), data_dir, workdir)
            try:
                time.sleep(2)
                r["idleRssMb"] = plexus.rss_mb()
                path = webhook_path(plexus.port, "bench-intake")
                url = f"http://127.0.0.1:{plexus.port}{path}"
                db = Db(data_dir)
                if "intake" in args.only:
                    r["async"] = measure_async(args, db, url, plexus)
                    a = r["async"]
                    print(f"  async        {a['rps']:9.0f} req/s  p50 {a['p50Ms']:.2f} ms  p99 {a['p99Ms']:.2f} ms"
                          f"  completed {a['completedPerSecond']:.0f}/s  drain {a['drainSeconds']:.1f} s"
                          f"  recorded {a['executions']} / acked {a['acked']}  {a['cpuUsPerRequest']:.0f} us CPU/req"
                          f"  failures {a['failures']}",
                          flush=True)
                if "sync" in args.only:
                    r["sync"] = measure_sync(args, db, url, plexus)
                    r["sync1"] = measure_sync(args, db, url, plexus, connections=1)
                    s = r["sync"]
                    for key, label in (("sync", f"sync c={args.connections}"), ("sync1", "sync c=1")):
                        s = r[key]
                        print(f"  {label:12} {s['callsPerSecond']:9.0f} calls/s p50 {s['p50Ms']:.2f} ms "
                              f"p99 {s['p99Ms']:.2f} ms  {s['cpuUsPerCall']:.0f} us CPU/call  "
                              f"failures {s['failures']}", flush=True)
                r["loadedRssMb"] = plexus.rss_mb()
                r["peakRssMb"] = plexus.rss_mb("VmHWM")
            finally:
                plexus.stop()
            if "sync" in args.only:
                r["ceilingClient"] = run_client(args, ceiling_url, args.duration, args.connections, follow=False)
                c = r["ceilingClient"]
                print(f"  ceiling/cli  {c['callsPerSecond']:9.0f} req/s  p50 {c['p50Ms']:.2f} ms  "
                      f"p99 {c['p99Ms']:.2f} ms", flush=True)
            rounds.append(r)
    finally:
        ceiling.stop()
    results["rounds"] = rounds
    if "intake" in args.only:
        results["crash"] = crash_check(args, workdir)


def measure_async(args, db, url, plexus):
    run_wrk(args, url, 2, args.connections)  # warm-up
    db.wait_drained()
    marks = db.marks()
    cpu = plexus.cpu_seconds()
    r = run_wrk(args, url, args.duration, args.connections)
    r["drainSeconds"] = db.wait_drained()
    # Intake and the executions it queued, until the last one ended.
    r["cpuUsPerRequest"] = (plexus.cpu_seconds() - cpu) * 1e6 / max(1, r["requests"])
    r.update(db.window(marks, 3))
    # Executions in flight when wrk stopped were recorded but not counted by
    # wrk; each connection has at most one.
    r["countOk"] = (r["executions"] >= r["acked"] and r["executions"] - r["acked"] <= args.connections
                    and r["succeeded"] == r["executions"] and r["incomplete"] == 0
                    and r["noteLogs"] == r["executions"])
    return r


def measure_sync(args, db, url, plexus, connections=None):
    connections = connections or args.connections
    headers = ["plexus-synchronous: true"]
    run_client(args, url, 2, connections, follow=True, headers=headers)  # warm-up
    db.wait_drained()
    marks = db.marks()
    cpu = plexus.cpu_seconds()
    r = run_client(args, url, args.duration, connections, follow=True, headers=headers)
    db.wait_drained()
    r["cpuUsPerCall"] = (plexus.cpu_seconds() - cpu) * 1e6 / max(1, r["calls"])
    r.update(db.window(marks, 3))
    r["countOk"] = (r["executions"] >= r["calls"] and r["succeeded"] == r["executions"] and r["incomplete"] == 0)
    return r


def crash_check(args, workdir):
    """Kills Plexus with SIGKILL the moment wrk stops, restarts it on the
    same data, and checks that every acknowledged execution was recorded and
    then finished (recovery runs the unfinished ones again)."""
    data_dir = os.path.join(workdir, "data-crash")
    plexus = start_plexus(args, "plexus-crash", os.path.join(HERE, "integrations"), data_dir, workdir)
    try:
        url = f"http://127.0.0.1:{plexus.port}{webhook_path(plexus.port, 'bench-intake')}"
        r = run_wrk(args, url, 5, args.connections)
    finally:
        plexus.stop(signal.SIGKILL)
    plexus = start_plexus(args, "plexus-crash-restart", os.path.join(HERE, "integrations"), data_dir, workdir)
    try:
        db = Db(data_dir)
        db.wait_drained()
        w = db.window({"executions": 0, "steps": 0, "logs": 0}, 3)
    finally:
        plexus.stop()
    ok = w["executions"] >= r["acked"] and w["succeeded"] == w["executions"] and w["incomplete"] == 0
    print(f"crash check: acked {r['acked']}, recorded {w['executions']}, succeeded {w['succeeded']}, "
          f"incomplete {w['incomplete']} -> {'ok' if ok else 'LOST OR INCOMPLETE'}", flush=True)
    return {"acked": r["acked"], "recorded": w["executions"], "succeeded": w["succeeded"],
            "incomplete": w["incomplete"], "failures": r["failures"], "ok": ok}


def parse_iso_ms(text):
    return int(dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def percentile(values, fraction):
    values = sorted(values)
    return values[min(len(values) - 1, int(fraction * len(values)))] if values else None


def phase_scheduler(args, workdir, results):
    """10,000 instances of a cron `* * * * *` integration: RSS once loaded,
    then lateness at --runs consecutive minute boundaries."""
    integrations = os.path.join(workdir, "integrations-scheduler")
    os.makedirs(integrations, exist_ok=True)
    with open(os.path.join(HERE, "every-minute.yaml.in")) as f:
        text = f.read()
    text += "instances:\n" + "".join(f"  - name: i{i:05d}\n" for i in range(args.instances))
    with open(os.path.join(integrations, "bench-every-minute.yaml"), "w") as f:
        f.write(text)

    data_dir = os.path.join(workdir, "data-scheduler")
    print(f"scheduler: starting Plexus with {args.instances} instances due every minute", flush=True)
    plexus = start_plexus(args, "plexus-scheduler", integrations, data_dir, workdir)
    r = {"instances": args.instances, "startSeconds": plexus.ready_at - plexus.started_at}
    try:
        time.sleep(1)
        now = time.time()
        r["rssMb"] = plexus.rss_mb()
        r["rssTakenNearBoundary"] = int(plexus.ready_at // 60) != int(now // 60)
        print(f"  started in {r['startSeconds']:.1f} s, RSS {r['rssMb']:.1f} MB", flush=True)
        first = (int(now // 60) + 1) * 60
        if first - now < 5:  # Too close: instances may still be settling.
            first += 60
        boundaries = [first + 60 * k for k in range(args.runs)]
        db = Db(data_dir)
        cpu_before = plexus.cpu_seconds()
        for b in boundaries:
            wait = b - time.time()
            print(f"  waiting {wait:.0f} s for {dt.datetime.utcfromtimestamp(b):%H:%M:%S}Z", flush=True)
            time.sleep(max(0, wait))
            deadline = time.time() + 300
            while True:
                n, unfinished = db.one("SELECT count(*), coalesce(sum(status IN ('queued','running','waiting')), 0) "
                                       "FROM executions WHERE trigger = 'schedule' AND queued_at >= ?",
                                       (b * 1000 - FIRE_AHEAD_MS,))
                if n >= args.instances and unfinished == 0:
                    break
                if time.time() > deadline:
                    print(f"  boundary {b}: only {n} fired / {unfinished} unfinished after 300 s", flush=True)
                    break
                time.sleep(0.2)
        r["cpuSecondsPerBoundary"] = (plexus.cpu_seconds() - cpu_before) / len(boundaries)
        r["rssAfterMb"] = plexus.rss_mb()
        r["peakRssMb"] = plexus.rss_mb("VmHWM")
        r["boundaries"] = [boundary_lateness(db, b, args.instances, plexus.log_path) for b in boundaries]
        for x in r["boundaries"]:
            print(f"  {x['due']}: fired {x['fired']}  fire lateness p50 {x['fireP50Ms']} ms p99 {x['fireP99Ms']} ms "
                  f"max {x['fireMaxMs']} ms; first step p50 {x['runP50Ms']} ms p99 {x['runP99Ms']} ms; "
                  f"all done after {x['lastEndedMs']} ms", flush=True)
    finally:
        plexus.stop()
    results["scheduler"] = r


# Plexus records each fire this long before it is due (Runtime::kFireAhead).
FIRE_AHEAD_MS = 1000


def fire_lateness_from_log(log_path, boundary):
    """The server's own line for the fires due at `boundary` (runtime.cpp,
    noteFireQueued): how late each was queued to run, as p50/p99/max ms."""
    due = dt.datetime.utcfromtimestamp(boundary).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    pattern = re.compile(r"(\d+) fire\(s\) due at " + re.escape(due) +
                         r" queued(?: late)?: lateness p50 (\d+) ms, p99 (\d+) ms, max (\d+) ms")
    fires, p50, p99, most = 0, None, None, None
    with open(log_path, errors="replace") as f:
        for line in f:
            m = pattern.search(line)
            if m:  # one line per firing thread's batch when they were queued apart
                n, a, b, c = (int(g) for g in m.groups())
                fires += n
                p50 = a if p50 is None else max(p50, a)
                p99 = b if p99 is None else max(p99, b)
                most = c if most is None else max(most, c)
    return fires, p50, p99, most


def boundary_lateness(db, boundary, expected, log_path):
    due_ms = boundary * 1000
    rows = db.query("SELECT trigger_results, started_at, ended_at, status FROM executions "
                    "WHERE trigger = 'schedule' AND queued_at >= ? AND queued_at < ?",
                    (due_ms - FIRE_AHEAD_MS, due_ms + 60000 - FIRE_AHEAD_MS))
    run, ended, wrong_due, failed, fired = [], [], 0, 0, 0
    for trigger_results, started_at, ended_at, status in rows:
        tr = json.loads(trigger_results)
        if parse_iso_ms(tr["scheduledAt"]) != due_ms:
            wrong_due += 1
            continue
        fired += 1
        if started_at is not None:
            run.append(started_at - due_ms)
        if ended_at is not None:
            ended.append(ended_at - due_ms)
        failed += status != "succeeded"
    logged = fire_lateness_from_log(log_path, boundary)
    return {"due": dt.datetime.utcfromtimestamp(boundary).strftime("%H:%M:%SZ"), "fired": fired,
            "expected": expected, "otherDue": wrong_due, "failed": failed,
            "fireP50Ms": logged[1], "fireP99Ms": logged[2], "fireMaxMs": logged[3], "loggedFires": logged[0],
            "runP50Ms": percentile(run, 0.5), "runP99Ms": percentile(run, 0.99),
            "lastEndedMs": max(ended, default=None)}


def phase_boundary(args, workdir, results):
    runs = []
    for _ in range(args.runs):
        out = subprocess.run([os.path.join(args.build, "bin", "bench_boundary"), "--plugins",
                              os.path.join(args.build, "plugins")], capture_output=True, text=True, check=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    results["boundary"] = {k: median([r[k] for r in runs]) for k in runs[0]}
    print("boundary: " + json.dumps(results["boundary"]), flush=True)


# ---------------------------------------------------------------- the table

def fmt(value, digits=0, unit=""):
    if value is None:
        return "–"
    text = f"{value:,.{digits}f}"
    return text + (" " + unit if unit else "")


def yes_no(ok):
    return "yes" if ok else "**no**"


def table(args, results):
    rounds = results.get("rounds", [])
    rows = []

    def m(path):
        values = []
        for r in rounds:
            v = r
            for key in path:
                v = v.get(key) if isinstance(v, dict) else None
            values.append(v)
        return median(values)

    ceiling_rps = m(["ceiling", "rps"])
    if "intake" in args.only and rounds:
        rps = m(["async", "rps"])
        failures = sum(r["async"]["failures"] for r in rounds)
        count_ok = all(r["async"]["countOk"] for r in rounds)
        ratio = rps / ceiling_rps if ceiling_rps else 0
        rows += [
            ["1", f"async intake, requests/s (wrk -t2 -c{args.connections} -d{args.duration}s)",
             fmt(rps), fmt(ceiling_rps), f"{ratio:.0%}", "≥ 50% of ceiling", yes_no(ratio >= 0.5)],
            ["1", "async intake latency p50 / p99",
             f"{fmt(m(['async', 'p50Ms']), 2)} / {fmt(m(['async', 'p99Ms']), 2)} ms",
             f"{fmt(m(['ceiling', 'p50Ms']), 2)} / {fmt(m(['ceiling', 'p99Ms']), 2)} ms", "", "", ""],
            ["1", "executions completed/s (3 steps each; first queued → last ended)",
             fmt(m(["async", "completedPerSecond"])), "", "", "", ""],
            ["1", "queue drained after the load stopped", fmt(m(["async", "drainSeconds"]), 1, "s"), "", "", "", ""],
            ["1", "server CPU per request (Plexus: intake + its execution, until drained)",
             fmt(m(["async", "cpuUsPerRequest"]), 0, "µs"), fmt(m(["ceiling", "cpuUsPerRequest"]), 0, "µs"),
             f"{m(['async', 'cpuUsPerRequest']) / m(['ceiling', 'cpuUsPerRequest']):.1f}×", "", ""],
            ["1", "every acknowledged execution recorded, succeeded, 3 steps + its log (all runs)",
             "yes" if count_ok else "NO", "", "", "all", yes_no(count_ok)],
        ]
        crash = results.get("crash")
        if crash:
            rows.append(["1", "kill -9 as wrk stops, restart: acknowledged executions lost",
                         f"{max(0, crash['acked'] - crash['recorded'])} of {crash['acked']:,}", "", "", "0",
                         yes_no(crash["ok"])])
        rows.append(["1", "failed or timed-out requests (all runs)", str(failures),
                     str(sum(r["ceiling"]["failures"] for r in rounds)), "", "0", yes_no(failures == 0)])
    if "sync" in args.only and rounds:
        cps = m(["sync", "callsPerSecond"])
        p50 = m(["sync", "p50Ms"])
        failures = sum(r["sync"]["failures"] for r in rounds)
        ratio = cps / ceiling_rps if ceiling_rps else 0
        rows += [
            ["2", f"sync round trip, calls/s (POST → 303 → GET, {args.connections} keep-alive connections)",
             fmt(cps), fmt(ceiling_rps), f"{ratio:.0%}", "≥ 25% of ceiling req/s", yes_no(ratio >= 0.25)],
            ["2", "sync round trip latency p50 / p99", f"{fmt(p50, 2)} / {fmt(m(['sync', 'p99Ms']), 2)} ms",
             "", "", "p50 < 2 ms", yes_no(p50 is not None and p50 < 2)],
            ["2", "server CPU per sync call", fmt(m(["sync", "cpuUsPerCall"]), 0, "µs"), "", "", "", ""],
            ["2", "sync round trip with 1 connection: calls/s; p50 / p99",
             f"{fmt(m(['sync1', 'callsPerSecond']))}; {fmt(m(['sync1', 'p50Ms']), 2)} / {fmt(m(['sync1', 'p99Ms']), 2)} ms",
             "", "", "(p50 < 2 ms)", "(" + ("yes" if (m(["sync1", "p50Ms"]) or 99) < 2 else "no") + ")"],
            ["2", "failed or timed-out calls (all runs)", str(failures + sum(r["sync1"]["failures"] for r in rounds)),
             "", "", "0", yes_no(failures + sum(r["sync1"]["failures"] for r in rounds) == 0)],
            ["3", "ceiling with the same C++ client (1 POST per call): req/s, p50 / p99",
             "", f"{fmt(m(['ceilingClient', 'callsPerSecond']))}; {fmt(m(['ceilingClient', 'p50Ms']), 2)} / "
                 f"{fmt(m(['ceilingClient', 'p99Ms']), 2)} ms", "", "", ""],
        ]
    if rounds:
        idle = m(["idleRssMb"])
        rows += [["4", "idle RSS, serving bench/integrations", fmt(idle, 1, "MB"),
                  fmt(results.get("ceilingIdleRssMb"), 1, "MB"), "", "< 30 MB", yes_no(idle < 30)],
                 ["4", "RSS after the load runs (peak)", f"{fmt(m(['loadedRssMb']), 1)} ({fmt(m(['peakRssMb']), 1)}) MB",
                  "", "", "", ""]]
    s = results.get("scheduler")
    if s:
        b = s["boundaries"]
        p99 = median([x["fireP99Ms"] for x in b])
        all_fired = all(x["fired"] == x["expected"] and x["failed"] == 0 for x in b)
        rows += [
            ["4", f"RSS with {s['instances']:,} instances loaded (start took {s['startSeconds']:.1f} s)",
             fmt(s["rssMb"], 1, "MB"), "", "", "", ""],
            ["5", f"scheduler lateness p50 / p99, {s['instances']:,} due in one minute "
                  "(due time to queued, the server's log)",
             f"{fmt(median([x['fireP50Ms'] for x in b]))} / {fmt(p99)} ms", "", "", "p99 < 50 ms",
             yes_no(p99 is not None and p99 < 50)],
            ["5", "… first step started p50 / p99; all 10,000 ended after",
             f"{fmt(median([x['runP50Ms'] for x in b]))} / {fmt(median([x['runP99Ms'] for x in b]))} ms; "
             f"{fmt(median([x['lastEndedMs'] for x in b]))} ms", "", "", "", ""],
            ["5", "every instance fired once per minute and succeeded", "yes" if all_fired else "NO",
             "", "", "all", yes_no(all_fired)],
        ]
    bb = results.get("boundary")
    if bb:
        rows += [["6", "plugin boundary, ns per json.value call: perform / invokeAction / "
                       "prepareInputs + invoke / render + prepare + invoke",
                  f"{fmt(bb['performNs'])} / {fmt(bb['invokeNs'])} / {fmt(bb['prepareInvokeNs'])} / "
                  f"{fmt(bb['stepNs'])} ns", f"{fmt(bb['inprocessNs'])} ns in-process", "", "", ""]]

    header = ["#", "measure", "Plexus", "ceiling", "ratio", "target", "met"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    cpus = [r["backgroundCpu"] for r in rounds]
    note = (f"{os.cpu_count()} cores, {dt.datetime.utcnow():%Y-%m-%d %H:%M}Z, commit {git_commit()}, "
            f"median of {args.runs} runs; plexus serve " +
            (" ".join(f"--{k} {v}" for k, v in (("workers", args.workers), ("http-threads", args.http_threads)) if v)
             or "with its default flags"))
    if cpus:
        note += f"; other processes used {min(cpus):.0f}–{max(cpus):.0f}% CPU before the rounds"
    return note + "\n\n" + "\n".join(lines)


def git_commit():
    try:
        return subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


# ---------------------------------------------------------------- main

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", required=True, help="the Release build dir (bin/, plugins/)")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (default 3)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per load run (default 10)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--instances", type=int, default=10000, help="scheduled instances (default 10000)")
    parser.add_argument("--workers", type=int, help="plexus serve --workers (default: Plexus' default)")
    parser.add_argument("--http-threads", type=int, help="plexus serve --http-threads (default: Plexus' default)")
    parser.add_argument("--ceiling-threads", type=int, default=256,
                        help="the ceiling server's threads; keep it above --connections (default 256)")
    parser.add_argument("--keep-data", action="store_true", help="keep each run's SQLite data directory")
    parser.add_argument("--only", action="append", choices=["intake", "sync", "memory", "scheduler", "boundary"],
                        help="run only these parts (repeatable); memory is measured with intake/sync")
    args = parser.parse_args()
    args.build = os.path.abspath(args.build)
    args.only = set(args.only or ["intake", "sync", "memory", "scheduler", "boundary"])

    atexit.register(stop_all)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    workdir = os.path.join(args.build, "bench-runs", dt.datetime.now().strftime("%Y%m%d-%H%M%S"))
    os.makedirs(workdir)
    print(f"bench: working files in {workdir}", flush=True)
    results = {}
    if "boundary" in args.only:
        phase_boundary(args, workdir, results)
    if args.only & {"intake", "sync", "memory"}:
        phase_http(args, workdir, results)
    if "scheduler" in args.only:
        phase_scheduler(args, workdir, results)

    if not args.keep_data:  # Hundreds of MB per run; the logs and results stay.
        for name in os.listdir(workdir):
            if name.startswith("data-"):
                shutil.rmtree(os.path.join(workdir, name))
    with open(os.path.join(workdir, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    text = table(args, results)
    with open(os.path.join(workdir, "table.md"), "w") as f:
        f.write(text + "\n")
    print("\n" + text)


if __name__ == "__main__":
    main()
