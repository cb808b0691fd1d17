#!/usr/bin/env python3
"""A loop of N trivial iterations against N separate executions (issue 13).

Starts `plexus serve` itself (127.0.0.1, a port the OS picks, a fresh data
folder) with two integrations whose work per item is the same one
`json.value` step: `loop` runs it once per item of one webhook call's
array (concurrency --concurrency), `single` once per call. Each round
posts one call of N items to `loop` and waits for it to end, then posts N
calls to `single` (from --senders threads) and waits for all of them, and
reads the server's CPU time (utime + stime from /proc) around each. Rounds
alternate, so both see the same machine.

    python3 bench/loop_vs_executions.py --plexus build/bin/plexus
    python3 bench/loop_vs_executions.py --items 1000 --rounds 5 --concurrency 8

Target (issue 13): a loop of 1,000 trivial iterations costs less than 1,000
separate executions.
"""

import argparse
import concurrent.futures
import json
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from waiting import Server  # noqa: E402

LOOP = """name: Loop
trigger: { webhook: {} }
steps:
  - name: each
    loop:
      items: "{{ trigger.results.body.data.items }}"
      concurrency: %d
      steps:
        - { name: one, component: json, action: value, inputs: { value: "{{ loop.item }}" } }
"""

SINGLE = """name: Single
trigger: { webhook: {} }
steps:
  - { name: one, component: json, action: value, inputs: { value: "{{ trigger.results.body.data.item }}" } }
"""


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def webhook_path(server, integration):
    status, body = server.request("GET", "/api/instances")
    for item in json.loads(body):
        if item["integration"] == integration:
            url = item["webhookUrl"]
            return url[url.index("/trigger/"):]
    raise RuntimeError("no instance of " + integration)


def wait_ended(server, ids, timeout=600):
    deadline = time.time() + timeout
    for execution_id in ids:
        while True:
            status, reply = server.request("GET", "/api/executions/" + execution_id)
            record = json.loads(reply)
            if record["status"] in ("succeeded", "failed", "cancelled"):
                if record["status"] != "succeeded":
                    raise RuntimeError("execution %s %s: %s" % (execution_id, record["status"], record.get("error")))
                break
            if time.time() > deadline:
                raise RuntimeError("execution %s did not end" % execution_id)
            time.sleep(0.01)


def run_loop(server, path, items):
    cpu, wall = cpu_seconds(server.proc.pid), time.time()
    status, reply = server.request("POST", path, json.dumps({"items": list(range(items))}).encode())
    wait_ended(server, [json.loads(reply)["executionId"]])
    return time.time() - wall, cpu_seconds(server.proc.pid) - cpu


def run_singles(server, path, items, senders):
    cpu, wall = cpu_seconds(server.proc.pid), time.time()

    def post(i):
        return server.request("POST", path, json.dumps({"item": i}).encode())

    with concurrent.futures.ThreadPoolExecutor(senders) as pool:
        ids = [json.loads(reply)["executionId"] for status, reply in pool.map(post, range(items))]
    # Polling every id would cost the server CPU the loop's one id does not:
    # the clock stops when the last one has ended (the rest are checked
    # after; any still running then only makes the executions look cheaper).
    wait_ended(server, ids[-1:])
    took, used = time.time() - wall, cpu_seconds(server.proc.pid) - cpu
    wait_ended(server, ids)
    return took, used


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plexus", default=os.path.join(ROOT, "build", "bin", "plexus"))
    parser.add_argument("--plugins", default=None)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--senders", type=int, default=16)
    args = parser.parse_args()
    plugins = args.plugins or os.path.join(os.path.dirname(os.path.dirname(args.plexus)), "plugins")

    workdir = tempfile.mkdtemp(prefix="plexus-loop-bench-")
    os.makedirs(os.path.join(workdir, "integrations"))
    with open(os.path.join(workdir, "integrations", "loop.yaml"), "w") as f:
        f.write(LOOP % args.concurrency)
    with open(os.path.join(workdir, "integrations", "single.yaml"), "w") as f:
        f.write(SINGLE)
    server = Server(args.plexus, plugins, workdir)
    loop_path, single_path = webhook_path(server, "loop"), webhook_path(server, "single")
    run_loop(server, loop_path, 10)  # warm up: plugins touched, pages in
    run_singles(server, single_path, 10, args.senders)

    loops, singles = [], []
    for round_ in range(args.rounds):
        loops.append(run_loop(server, loop_path, args.items))
        singles.append(run_singles(server, single_path, args.items, args.senders))
        print("round %d: loop %.3f s wall, %.3f s CPU; %d executions %.3f s wall, %.3f s CPU"
              % (round_ + 1, loops[-1][0], loops[-1][1], args.items, singles[-1][0], singles[-1][1]))
    server.stop()

    def med(pairs, index):
        return statistics.median(pair[index] for pair in pairs)

    per = 1e6 / args.items
    print("median over %d rounds, %d items, loop concurrency %d:" % (args.rounds, args.items, args.concurrency))
    print("  one loop:       %.3f s wall, %.3f s server CPU (%.0f us CPU per iteration)"
          % (med(loops, 0), med(loops, 1), med(loops, 1) * per))
    print("  %d executions: %.3f s wall, %.3f s server CPU (%.0f us CPU per execution)"
          % (args.items, med(singles, 0), med(singles, 1), med(singles, 1) * per))
    print("  the loop costs %.0f%% of the executions' CPU: %s" % (
        100 * med(loops, 1) / med(singles, 1),
        "met (cheaper)" if med(loops, 1) < med(singles, 1) else "NOT met"))


if __name__ == "__main__":
    main()
