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
(VmRSS and its anonymous part RssAnon in /proc/PID/status) go to a CSV file. At the end the script
prints the start, end and maximum of each. It flags growth when the mean of the last quarter of the
samples exceeds the mean of the second quarter by more than --max-growth (a fraction), for
descriptors or VmRSS. The first quarter is warm-up. It exits 1 when growth was flagged or a load tool failed. With --rate 0 the
streams still reconnect but nothing is written, so growth that follows the tasks written shows up
as the difference between the two runs.

Not part of the test command; it needs build/release/src/prism, build/release/bench/sse_load
(cmake --preset release -DPRISM_BUILD_BENCH=ON; scripts/build.sh release prism sse_load) and wrk.
"""

import argparse
import csv
import json
import os
import shlex
import shutil
import signal
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

from harness import PRISM, SECRET, PrismServer, create, make_token, new_id  # noqa: E402

WRK = shutil.which("wrk") or "/usr/bin/wrk"
SSE_LOAD = os.environ.get("SSE_LOAD_BINARY", os.path.join(ROOT, "build", "release", "bench", "sse_load"))


def read_sample(pid):
    """Returns (open file descriptors, VmRSS in KiB, RssAnon in KiB) of the process."""
    fds = len(os.listdir("/proc/%d/fd" % pid))
    fields = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "RssAnon"):
                fields[name] = int(value.split()[0])
    if "VmRSS" not in fields:
        raise RuntimeError("no VmRSS in /proc/%d/status" % pid)
    return fds, fields["VmRSS"], fields.get("RssAnon", 0)


def find_server_pid(root_pid, timeout=30.0):
    """Returns the pid of the prism process at or below root_pid. It is below root_pid when a
    wrapper such as heaptrack started the server."""
    binary = os.path.realpath(PRISM)
    deadline = time.time() + timeout
    while time.time() < deadline:
        pending = [root_pid]
        while pending:
            pid = pending.pop()
            try:
                if os.path.realpath("/proc/%d/exe" % pid) == binary:
                    return pid
                with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                    pending.extend(int(child) for child in f.read().split())
            except OSError:
                continue
        time.sleep(0.1)
    raise RuntimeError("no %s process below pid %d" % (binary, root_pid))


def stop_server(server, pid):
    """Stops the server with SIGTERM, so that a wrapper such as heaptrack can write its report."""
    try:
        os.kill(pid, signal.SIGTERM)
        server.process.wait(timeout=300)
    except (OSError, subprocess.TimeoutExpired) as error:
        print("soak: server did not stop after SIGTERM: %s" % error, file=sys.stderr)


SAMPLE_COLUMNS = ("elapsed_s", "fds", "rss_kib", "rss_anon_kib")


def sample(pid, started):
    """Returns one CSV row of the server's state as a dict keyed by SAMPLE_COLUMNS."""
    fds, rss, anon = read_sample(pid)
    return dict(zip(SAMPLE_COLUMNS, (round(time.time() - started, 1), fds, rss, anon)))


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

    def __init__(self, port, streams, rate, round_seconds, end, start_delay, name, prefix=()):
        super().__init__(daemon=True)
        self.prefix = list(prefix)  # command prefix of sse_load, such as ["nice", "-n", "10"]
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
            command = self.prefix + [SSE_LOAD, "--port", str(self.port), "--secret", SECRET,
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
    parser.add_argument("--port", type=int, default=0,
                        help="TCP port of the server on 127.0.0.1 (default: a free port)")
    parser.add_argument("--load-nice", type=int, default=0,
                        help="niceness added to sse_load and wrk, so they yield the CPU to the "
                             "server (default 0)")
    parser.add_argument("--server-wrapper", default="",
                        help="command put before `prism serve`, such as 'heaptrack -o FILE' "
                             "(default none); the samples are of the prism process below it")
    args = parser.parse_args()
    if not os.path.exists(SSE_LOAD):
        raise SystemExit("soak needs %s: cmake --preset release -DPRISM_BUILD_BENCH=ON, then "
                         "scripts/build.sh release prism sse_load" % SSE_LOAD)
    if args.duration < 4 * args.interval:
        raise SystemExit("--duration must be at least 4 x --interval to compare quarters")

    server = PrismServer(port=args.port or None, wrapper=shlex.split(args.server_wrapper))
    server.start(timeout=60 if args.server_wrapper else 10)
    pid = find_server_pid(server.process.pid)
    tokens_path = seed_readers(server, args.read_users, 30)
    os.makedirs(os.path.dirname(os.path.abspath(args.csv)), exist_ok=True)
    started = time.time()
    end = started + args.duration
    load_prefix = ["nice", "-n", str(args.load_nice)] if args.load_nice else []
    loops = [StreamLoop(server.port, args.streams // 2, args.rate / 2, args.round, end, 0, "a", load_prefix),
             StreamLoop(server.port, args.streams - args.streams // 2, args.rate / 2, args.round, end,
                        args.round / 2, "b", load_prefix)]
    reads = subprocess.Popen(
        load_prefix + [WRK, "-t1", "-c%d" % args.read_connections, "-d%ds" % int(args.duration),
         "-s", os.path.join(HERE, "wrk", "tokens.lua"), "http://127.0.0.1:%d/api/tasks" % server.port],
        env=dict(os.environ, TOKENS_FILE=tokens_path, DELAY_MS=str(args.read_delay_ms)),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    samples = []
    try:
        for loop in loops:
            loop.start()
        with open(args.csv, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["elapsed_s", "fds", "rss_kib", "rss_anon_kib"])
            while time.time() < end:
                samples.append(sample(pid, started))
                writer.writerow([samples[-1][column] for column in SAMPLE_COLUMNS])
                f.flush()
                time.sleep(max(0.0, min(args.interval, end - time.time())))
        samples.append(sample(pid, started))
        with open(args.csv, "a", newline="") as f:
            csv.writer(f).writerow([samples[-1][column] for column in SAMPLE_COLUMNS])
        read_output = reads.communicate(timeout=60)[0]
        for loop in loops:
            loop.join(timeout=args.round + 60)
    finally:
        for loop in loops:
            loop.stop()
        if reads.poll() is None:
            reads.terminate()
        stop_server(server, pid)
        server.cleanup()
        os.unlink(tokens_path)

    print("soak: %.0f s, %d samples every %.0f s, written to %s" % (
        time.time() - started, len(samples), args.interval, args.csv))
    flagged = False
    for column in ("fds", "rss_kib"):
        line, grew = summarise(samples, column, args.max_growth)
        print("soak: " + line)
        flagged = flagged or grew
    # RssAnon is printed to tell heap growth from file pages. The check uses VmRSS alone.
    print("soak: " + summarise(samples, "rss_anon_kib", args.max_growth)[0].replace("GROWTH FLAGGED", ""))
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
