#!/usr/bin/env python3
"""Many executions waiting at once (issue 11): threads held, lateness, kill -9.

Starts `plexus serve` itself (127.0.0.1, a port the OS picks, a fresh data
folder), posts N asynchronous webhook calls to an integration whose step
is `delay.sleep` of --wait-ms, counts the server's threads while they all
wait, optionally kills it with SIGKILL halfway through the wait and starts
it again on the same data folder, then waits for every execution to end and
reads each one's lateness from the API: when its delay step ended minus
when it was due (the step's start + the wait).

    python3 bench/waiting.py --plexus build/bin/plexus                  # 10,000 x 60 s, kill -9 midway
    python3 bench/waiting.py --executions 2000 --wait-ms 10000 --no-kill

Target (issue 11): 10,000 executions each in delay.sleep 60 s at once:
fewer than 64 threads in the process, every one resumes with p99 lateness
< 100 ms, and all survive a kill -9 + restart midway.
"""

import argparse
import concurrent.futures
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

INTEGRATION = """name: Waits
trigger: { webhook: {} }
steps:
  - name: pause
    component: delay
    action: sleep
    inputs: { ms: %d }
  - name: done
    component: json
    action: value
    inputs: { value: ok }
"""


def iso_ms(text):
    # "2026-12-02T18:40:00.123Z" -> epoch milliseconds
    t = time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")
    return int((time.mktime(t) - time.timezone) * 1000) + int(text[20:23])


class Server:
    def __init__(self, plexus, plugins, workdir):
        self.log_path = os.path.join(workdir, "server-%d.log" % time.time_ns())
        self.log = open(self.log_path, "w")
        argv = [plexus, "serve", "--host", "127.0.0.1", "--port", "0", "--plugins", plugins,
                "--integrations", os.path.join(workdir, "integrations"), "--data", os.path.join(workdir, "data")]
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, cwd=workdir)
        self.port = None
        deadline = time.time() + 120
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

    def threads(self):
        return len(os.listdir("/proc/%d/task" % self.proc.pid))

    def request(self, method, path, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
            reply = conn.getresponse()
            return reply.status, reply.read()
        finally:
            conn.close()

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(timeout=60)
        self.log.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plexus", default=os.path.join(ROOT, "build", "bin", "plexus"))
    parser.add_argument("--plugins", default=None)
    parser.add_argument("--executions", type=int, default=10000)
    parser.add_argument("--wait-ms", type=int, default=60000)
    parser.add_argument("--no-kill", action="store_true", help="no kill -9 + restart midway")
    parser.add_argument("--senders", type=int, default=32)
    args = parser.parse_args()
    plugins = args.plugins or os.path.join(os.path.dirname(os.path.dirname(args.plexus)), "plugins")

    workdir = tempfile.mkdtemp(prefix="plexus-waiting-")
    os.makedirs(os.path.join(workdir, "integrations"))
    with open(os.path.join(workdir, "integrations", "waits.yaml"), "w") as f:
        f.write(INTEGRATION % args.wait_ms)
    server = Server(args.plexus, plugins, workdir)
    status, body = server.request("GET", "/api/instances")
    url = json.loads(body)[0]["webhookUrl"]
    path = url[url.index("/trigger/"):]

    started = time.time()

    def post(_):
        return server.request("POST", path, b"{}")

    ids = []
    with concurrent.futures.ThreadPoolExecutor(args.senders) as pool:
        for status, reply in pool.map(post, range(args.executions)):
            if status == 200:
                ids.append(json.loads(reply)["executionId"])
    posted = time.time() - started
    time.sleep(1)
    threads_waiting = server.threads()
    print("posted %d executions in %.1f s; %d acknowledged; threads while they wait: %d"
          % (args.executions, posted, len(ids), threads_waiting))

    restarted = False
    if not args.no_kill:
        remaining = args.wait_ms / 1000.0 / 2 - (time.time() - started)
        if remaining > 0:
            time.sleep(remaining)
        server.kill9()
        server = Server(args.plexus, plugins, workdir)
        restarted = True
        print("kill -9 and restart at %.1f s; threads after the restart: %d" % (time.time() - started, server.threads()))

    deadline = time.time() + args.wait_ms / 1000.0 + 600
    lateness, unfinished, failed = [], 0, 0
    for execution_id in ids:
        while True:
            status, reply = server.request("GET", "/api/executions/" + execution_id)
            record = json.loads(reply)
            if record["status"] in ("succeeded", "failed", "cancelled") or time.time() > deadline:
                break
            time.sleep(0.2)
        if record["status"] != "succeeded":
            unfinished += record["status"] not in ("failed", "cancelled")
            failed += record["status"] in ("failed", "cancelled")
            continue
        pause = record["steps"][0]
        lateness.append(iso_ms(pause["endedAt"]) - (iso_ms(pause["startedAt"]) + args.wait_ms))
    server.stop()
    lateness.sort()

    def pct(p):
        return lateness[min(len(lateness) - 1, int(len(lateness) * p))] if lateness else None

    result = {"executions": args.executions, "acknowledged": len(ids), "succeeded": len(lateness),
              "failed": failed, "unfinished": unfinished, "wait_ms": args.wait_ms,
              "threads_while_waiting": threads_waiting, "killed_and_restarted": restarted,
              "lateness_ms": {"p50": pct(0.5), "p99": pct(0.99), "max": lateness[-1] if lateness else None}}
    print("succeeded %d of %d; lateness p50 %s ms, p99 %s ms, max %s ms"
          % (len(lateness), len(ids), pct(0.5), pct(0.99), result["lateness_ms"]["max"]))
    print(json.dumps(result))
    return 0 if len(lateness) == len(ids) else 1


if __name__ == "__main__":
    sys.exit(main())
