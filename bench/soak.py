#!/usr/bin/env python3
"""Soak test: runs `prism serve` under moderate load for a long time and watches for leaks.

The load, for --duration seconds:
  - SSE streams: two `sse_load` loops of --streams / 2 streams each, every round holding its
    streams for --round seconds and then closing them, so streams keep reconnecting. The second
    loop starts half a round later, so about half of the streams are open at any moment of a
    reconnect. Each loop also posts --rate / 2 create-task commands per second to its users.
  - Task list reads: `wrk` with bench/wrk/tokens.lua on GET /api/tasks, --read-connections
    connections each waiting --read-delay-ms between requests, over --read-users users with 30
    tasks each.

Every --interval seconds the server's open file descriptors (/proc/PID/fd) and resident memory
(VmRSS in /proc/PID/status) go to a CSV file. At the end the script prints the start, end and
maximum of both. It flags growth when the mean of the last quarter of the samples exceeds the mean
of the second quarter by more than --max-growth (a fraction). The first quarter is warm-up. It
exits 1 when growth was flagged or a load tool failed.

Not part of the test command; it needs build/release/src/prism, build/release/bench/sse_load
(cmake --preset release -DPRISM_BUILD_BENCH=ON; scripts/build.sh release prism sse_load) and wrk.
"""

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "http"))

from harness import SECRET, PrismServer, create, make_token, new_id  # noqa: E402

WRK = shutil.which("wrk") or "/usr/bin/wrk"
SSE_LOAD = os.environ.get("SSE_LOAD_BINARY", os.path.join(ROOT, "build", "release", "bench", "sse_load"))


def read_sample(pid):
    """Returns (open file descriptors, VmRSS in KiB) of the process."""
    fds = len(os.listdir("/proc/%d/fd" % pid))
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return fds, int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/%d/status" % pid)


def seed_readers(server, users, tasks_per_user):
    """Creates the users of the read load with their tasks and returns a file of their tokens."""
    tokens = [make_token("soak-reader-%d-%s" % (i, uuid.uuid4().hex[:6])) for i in range(users)]
    last = None
    for token in tokens:
        batch = [create("soak task %d" % i, new_id(), order=i) for i in range(tasks_per_user)]
        response = server.commands(batch, token=token)
        if response.status != 202:
            raise RuntimeError("seeding failed: %d %s" % (response.status, response.body[:200]))
        last = (token, response.json()["idempotencyKeys"][-1])
    server.wait_for_outcome(last[1], token=last[0], timeout=60)
    fd, path = tempfile.mkstemp(prefix="prism-soak-tokens-")
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(tokens) + "\n")
    return path


class StreamLoop(threading.Thread):
    """Runs sse_load rounds back to back until the end time and keeps each round's summary."""

    def __init__(self, port, streams, rate, round_seconds, end, start_delay, name):
        super().__init__(daemon=True)
        self.port, self.streams, self.rate = port, streams, rate
        self.round_seconds, self.end, self.start_delay, self.label = round_seconds, end, start_delay, name
        self.rounds = []  # summaries: streams failed, held at end, commands accepted and delivered
        self.errors = []
        self.process = None
        # Every round reconnects the same users, so the cached pages they fill stay bounded and
        # memory growth points at a leak rather than at a growing population.
        self.run_id = uuid.uuid4().hex[:8]

    def run(self):
        time.sleep(self.start_delay)
        while time.time() + 5 < self.end:
            hold = min(self.round_seconds, self.end - time.time())
            command = [SSE_LOAD, "--port", str(self.port), "--secret", SECRET,
                       "--connections", str(self.streams), "--hold", "%.1f" % hold,
                       "--rate", str(self.rate), "--posters", "4", "--list-probes", "1",
                       "--drain", "2", "--user-prefix", "soak-" + self.label, "--run-id", self.run_id]
            self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                            text=True)
            stdout, stderr = self.process.communicate()
            if self.process.returncode != 0:
                self.errors.append("sse_load exited with %d: %s" % (self.process.returncode, stderr[-500:]))
                return
            report = json.loads(stdout.strip().splitlines()[-1])
            self.rounds.append({key: report.get(key) for key in
                                ("failed", "held_at_end", "commands_accepted", "commands_rejected",
                                 "post_errors", "undelivered")})

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()


def summarise(samples, column, max_growth):
    """Returns a report line for one column and whether it grew beyond max_growth."""
    values = [sample[column] for sample in samples]
    quarter = max(1, len(values) // 4)
    second = statistics.mean(values[quarter:2 * quarter] or values)
    last = statistics.mean(values[-quarter:])
    growth = (last - second) / second if second else 0.0
    flagged = growth > max_growth
    line = "%-8s start %d, end %d, max %d; last-quarter mean %.0f vs second-quarter mean %.0f: %+.1f%%%s" % (
        column, values[0], values[-1], max(values), last, second, growth * 100,
        "  GROWTH FLAGGED" if flagged else "")
    return line, flagged


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=3600, help="seconds of load (default 3600)")
    parser.add_argument("--interval", type=float, default=10, help="seconds between samples (default 10)")
    parser.add_argument("--streams", type=int, default=300, help="SSE streams over both loops (default 300)")
    parser.add_argument("--round", type=float, default=60,
                        help="seconds each stream stays open before it reconnects (default 60)")
    parser.add_argument("--rate", type=float, default=50, help="create-task commands per second (default 50)")
    parser.add_argument("--read-connections", type=int, default=4, help="wrk connections (default 4)")
    parser.add_argument("--read-delay-ms", type=int, default=20,
                        help="pause of each wrk connection between reads, in ms (default 20)")
    parser.add_argument("--read-users", type=int, default=50, help="users of the read load (default 50)")
    parser.add_argument("--max-growth", type=float, default=0.10,
                        help="growth of the last-quarter mean over the second-quarter mean that is "
                             "flagged, as a fraction (default 0.10)")
    parser.add_argument("--csv", default=os.path.join(HERE, "results", "soak.csv"),
                        help="CSV file of the samples (default bench/results/soak.csv)")
    args = parser.parse_args()
    if not os.path.exists(SSE_LOAD):
        raise SystemExit("soak needs %s: cmake --preset release -DPRISM_BUILD_BENCH=ON, then "
                         "scripts/build.sh release prism sse_load" % SSE_LOAD)
    if args.duration < 4 * args.interval:
        raise SystemExit("--duration must be at least 4 x --interval to compare quarters")

    server = PrismServer().start()
    pid = server.process.pid
    tokens_path = seed_readers(server, args.read_users, 30)
    os.makedirs(os.path.dirname(os.path.abspath(args.csv)), exist_ok=True)
    started = time.time()
    end = started + args.duration
    loops = [StreamLoop(server.port, args.streams // 2, args.rate / 2, args.round, end, 0, "a"),
             StreamLoop(server.port, args.streams - args.streams // 2, args.rate / 2, args.round, end,
                        args.round / 2, "b")]
    reads = subprocess.Popen(
        [WRK, "-t1", "-c%d" % args.read_connections, "-d%ds" % int(args.duration),
         "-s", os.path.join(HERE, "wrk", "tokens.lua"), "http://127.0.0.1:%d/api/tasks" % server.port],
        env=dict(os.environ, TOKENS_FILE=tokens_path, DELAY_MS=str(args.read_delay_ms)),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    samples = []
    try:
        for loop in loops:
            loop.start()
        with open(args.csv, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["elapsed_s", "fds", "rss_kib"])
            while time.time() < end:
                fds, rss = read_sample(pid)
                samples.append({"elapsed_s": round(time.time() - started, 1), "fds": fds, "rss_kib": rss})
                writer.writerow([samples[-1]["elapsed_s"], fds, rss])
                f.flush()
                time.sleep(max(0.0, min(args.interval, end - time.time())))
        fds, rss = read_sample(pid)
        samples.append({"elapsed_s": round(time.time() - started, 1), "fds": fds, "rss_kib": rss})
        with open(args.csv, "a", newline="") as f:
            csv.writer(f).writerow([samples[-1]["elapsed_s"], fds, rss])
        read_output = reads.communicate(timeout=60)[0]
        for loop in loops:
            loop.join(timeout=args.round + 60)
    finally:
        for loop in loops:
            loop.stop()
        if reads.poll() is None:
            reads.terminate()
        server.cleanup()
        os.unlink(tokens_path)

    print("soak: %.0f s, %d samples every %.0f s, written to %s" % (
        time.time() - started, len(samples), args.interval, args.csv))
    flagged = False
    for column in ("fds", "rss_kib"):
        line, grew = summarise(samples, column, args.max_growth)
        print("soak: " + line)
        flagged = flagged or grew
    failed = False
    for loop in loops:
        rounds = loop.rounds
        totals = {key: sum(r[key] or 0 for r in rounds) for key in
                  ("failed", "commands_accepted", "commands_rejected", "post_errors", "undelivered")}
        print("soak: stream loop %s: %d rounds, %d streams failed, %d commands accepted, %d rejected, "
              "%d post errors, %d undelivered%s" % (
                  loop.label, len(rounds), totals["failed"], totals["commands_accepted"],
                  totals["commands_rejected"], totals["post_errors"], totals["undelivered"],
                  "; errors: %s" % loop.errors if loop.errors else ""))
        failed = failed or bool(loop.errors) or totals["failed"] > 0 or totals["post_errors"] > 0
    requests = [line.strip() for line in read_output.splitlines() if "requests in" in line or "Non-2xx" in line]
    print("soak: reads: %s" % "; ".join(requests))
    failed = failed or reads.returncode != 0 or any("Non-2xx" in line for line in requests)
    return 1 if flagged or failed else 0


if __name__ == "__main__":
    sys.exit(main())
