#!/usr/bin/env python3
"""Runs the load scenarios of Prism Plan against `prism serve` and prints one table.

Each scenario measures its reference in the same run (nginx serving the same bytes for P1, the
original system's published thresholds for the others), because the machines are shared and
noisy: ratios travel, absolute figures do not. Results also go to bench/results/latest.json.

Usage: bench/run.py [--quick] [--cluster] [--pin] [--duration SECONDS] [--events N] [--streams N]
                    [--stream-rate N] [--only P1,P2,...]

With --cluster, every scenario runs against the local cluster (scripts/cluster) instead of against
`prism serve`; the script starts the cluster in test mode and stops it. P1 to P4 and P8 go through
its nginx over HTTPS, P5 opens its streams on `prism stream` directly and posts through HAProxy,
P6 runs `prism rebuild` into a separate PostgreSQL database, and P7 starts one extra process of
each role.

Ports: the cluster uses CLUSTER_BASE_PORT (default 18900) to CLUSTER_BASE_PORT + 29. With
BENCH_BASE_PORT set, the `prism serve` processes, nginx and P7's extra processes on the cluster
take ports from BENCH_BASE_PORT to BENCH_BASE_PORT + 49; without it, the kernel picks free ports.

P6 on `prism serve` deletes its data directory at the end unless BENCH_P6_KEEP_DATA=1 is set;
then it prints the directory's path, so `prism rebuild` can be run and profiled on it again.

P8's browser half runs the web app's large-board spec (web/e2e/performance.e2e.ts) in Chromium and
needs web/node_modules and web/dist (cd web && npm ci && npm run build); without them that row
reads "skipped" with the reason.
"""

import argparse
import glob
import json
import math
import os
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "http"))

from harness import (PRISM, SECRET, PrismServer, RemoteServer, create, free_port, make_token,  # noqa: E402
                     new_id)
from sse import SseClient  # noqa: E402

WRK = shutil.which("wrk") or "/usr/bin/wrk"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
GNUPLOT = shutil.which("gnuplot")
SSE_LOAD = os.environ.get("SSE_LOAD_BINARY", os.path.join(ROOT, "build", "release", "bench", "sse_load"))
CHART = os.path.join(ROOT, "docs", "benchmarks-latency.png")
WEB_DIR = os.path.join(ROOT, "web")
WEB_DIST = os.path.join(WEB_DIR, "dist")
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


# The cluster's nginx endpoint when --cluster is given; every scenario that supports it then
# measures this deployment instead of a `prism serve` of its own.
CLUSTER = None
# The output of `scripts/cluster env` (URLs, ports, CLUSTER_DIR) when --cluster is given.
CLUSTER_ENV = {}

BENCH_BASE_PORT = int(os.environ["BENCH_BASE_PORT"]) if os.environ.get("BENCH_BASE_PORT") else None
BENCH_PORT_COUNT = 50
_next_bench_port = [0]


def bench_port():
    """Returns a free loopback port: the next one that binds in BENCH_BASE_PORT to
    BENCH_BASE_PORT + 49 when that variable is set, else one that the kernel picks."""
    if BENCH_BASE_PORT is None:
        return free_port()
    for _ in range(BENCH_PORT_COUNT):
        port = BENCH_BASE_PORT + _next_bench_port[0] % BENCH_PORT_COUNT
        _next_bench_port[0] += 1
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise SystemExit("no free port in BENCH_BASE_PORT=%d to %d"
                     % (BENCH_BASE_PORT, BENCH_BASE_PORT + BENCH_PORT_COUNT - 1))


def new_serve(extra_env=None, data_dir=None):
    """Returns a `prism serve` (not started yet) on a port from bench_port()."""
    server = PrismServer(extra_env, data_dir=data_dir)
    server.port = bench_port()
    server.env["PORT"] = str(server.port)
    return server


def target_server(extra_env=None):
    """Returns the server of one scenario: the cluster when --cluster is given, else a new prism serve."""
    if CLUSTER is not None:
        return CLUSTER
    return new_serve(extra_env).start()


def base_url(server):
    if isinstance(server, RemoteServer):
        return "%s://%s:%d" % (server.scheme, server.host, server.port)
    return "http://127.0.0.1:%d" % server.port


def url_port(url):
    """Returns the port of an http(s) URL as a string."""
    return str(urllib.parse.urlsplit(url).port)


def cluster_pid(name):
    """Returns the pid of the cluster's process `name` (api-1, stream...) from its pid file."""
    with open(os.path.join(CLUSTER_ENV["CLUSTER_DIR"], "run", name + ".pid")) as f:
        return int(f.read().strip())


def proc_status_kib(pid, field):
    """Returns one `Vm...: N kB` field of /proc/PID/status in KiB."""
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"^%s:\s+(\d+) kB" % field, f.read(), re.M).group(1))


def settle_cluster(server, timeout=900):
    """Waits until the cluster has processed every queued command and projected every event, so
    that a scenario does not measure the backlog of the one before it. Returns the seconds waited.
    """
    def gauges():
        text = server.request("GET", "/metrics", token=None).body.decode()
        values = {}
        for name in ("prism_event_store_head_position", "prism_read_model_checkpoint"):
            match = re.search(r"^%s ([0-9.e+]+)$" % name, text, re.M)
            values[name] = float(match.group(1)) if match else 0.0
        return values["prism_event_store_head_position"], values["prism_read_model_checkpoint"]

    started = time.time()
    last_head = -1.0
    while time.time() - started < timeout:
        head, checkpoint = gauges()
        # The head stops moving once the domain workers have emptied the command queue.
        if head == last_head and checkpoint >= head:
            return time.time() - started
        last_head = head
        time.sleep(2)
    raise SystemExit("the cluster did not settle within %d s" % timeout)


def start_cluster():
    """Starts scripts/cluster in test mode with the settings the scenarios expect."""
    env = dict(os.environ, AUTH0_TEST_MODE="1", TEST_JWT_SECRET=SECRET, TASKS_PAGE_SIZE="30",
               CLUSTER_BASE_PORT=os.environ.get("CLUSTER_BASE_PORT", "18900"))
    env["CLUSTER_DIR"] = tempfile.mkdtemp(prefix="prism-bench-cluster-")
    script = os.path.join(ROOT, "scripts", "cluster")
    subprocess.run([script, "up"], env=env, check=True, timeout=300)
    values = dict(line.split("=", 1) for line in
                  subprocess.run([script, "env"], env=env, check=True, capture_output=True,
                                 text=True).stdout.splitlines())
    values = {name: value.strip('"') for name, value in values.items()}
    CLUSTER_ENV.update(values)

    def stop():
        subprocess.run([script, "down", "--purge"], env=env, timeout=300)
    return RemoteServer(values["CLUSTER_URL"], values["CLUSTER_CA_FILE"]), stop


def run_wrk(url, script, env, duration, connections, threads=2, cpus=None):
    """Runs wrk (on the CPUs `cpus`, a taskset list, when given) and returns requests/s, latency
    percentiles in ms and the count of non-2xx."""
    command = [WRK, "-t%d" % threads, "-c%d" % connections, "-d%ds" % duration, "--latency",
               "-s", os.path.join(HERE, "wrk", script), url]
    if cpus:
        command = ["taskset", "-c", cpus] + command
    output = subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True,
                            timeout=duration + 60).stdout
    result = {"requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))}
    for percentile in ("50", "75", "90", "99"):
        match = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)\s*$" % percentile, output, re.M)
        if match:
            scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]
            result["p%s_ms" % percentile] = float(match.group(1)) * scale
    total = re.search(r"(\d+) requests in ([\d.]+)(s|m)", output)
    result["requests"] = int(total.group(1))
    errors = re.search(r"status_errors=(\d+)", output)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    # commands.lua prints the count of non-2xx statuses; wrk prints its own line only when nonzero.
    result["non_2xx"] = 0
    if errors:
        result["non_2xx"] = int(errors.group(1))
    elif non2xx:
        result["non_2xx"] = int(non2xx.group(1))
    return result


def write_tokens(users, prefix):
    path = tempfile.mktemp(prefix="prism-tokens-")
    tokens = [make_token("%s-%d-%s" % (prefix, i, uuid.uuid4().hex[:6])) for i in range(users)]
    with open(path, "w") as f:
        f.write("\n".join(tokens) + "\n")
    return path, tokens


def seed_tasks(server, tokens, per_user):
    last_keys = []
    for token in tokens:
        commands = [create("seeded task %d with a realistic title" % i, new_id(), order=i,
                           notes="notes of task %d" % i if i % 3 == 0 else None) for i in range(per_user)]
        keys = []
        for start in range(0, len(commands), 50):
            response = server.commands(commands[start:start + 50], token=token)
            assert response.status == 202, response.body
            keys += response.json()["idempotencyKeys"]
        last_keys.append((token, keys[-1]))
    for token, key in last_keys:
        server.wait_for_outcome(key, token=token, timeout=60)
    for token in tokens:
        server.wait_for(lambda token=token: len(server.all_tasks(token, page_size=1000)) >= per_user, timeout=60)


def pin_process(pid, cpus):
    """Pins every thread of process `pid` and of its child processes (nginx's workers) to the
    CPUs `cpus`, a taskset list such as "0"."""
    with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
        pids = [pid] + [int(child) for child in f.read().split()]
    for each in pids:
        subprocess.run(["taskset", "-a", "-p", "-c", cpus, str(each)], check=True, capture_output=True)


def start_nginx(body_path):
    """Starts nginx on a free port serving `body_path` at /api/tasks; returns (port, pid, stop)."""
    prefix = tempfile.mkdtemp(prefix="prism-nginx-")
    port = bench_port()
    config = """
worker_processes 2;
pid %(prefix)s/nginx.pid;
error_log %(prefix)s/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path %(prefix)s/body;
  proxy_temp_path %(prefix)s/proxy;
  fastcgi_temp_path %(prefix)s/fastcgi;
  uwsgi_temp_path %(prefix)s/uwsgi;
  scgi_temp_path %(prefix)s/scgi;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:%(port)d;
    location = /api/tasks { default_type application/json; alias %(body)s; }
  }
}
""" % {"prefix": prefix, "port": port, "body": body_path}
    with open(os.path.join(prefix, "nginx.conf"), "w") as f:
        f.write(config)
    process = subprocess.Popen([NGINX, "-p", prefix, "-c", os.path.join(prefix, "nginx.conf"),
                                "-g", "daemon off;"], stderr=subprocess.DEVNULL)
    time.sleep(0.5)

    def stop():
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(prefix, ignore_errors=True)
    return port, process.pid, stop


# With --pin, P1 runs both servers on the first CPU and wrk (one thread) on the second.
P1_SERVER_CPUS, P1_WRK_CPUS = "0", "1"


def scenario_p1(duration, pin=False):
    """Compares GET /api/tasks with nginx serving the same bytes. With `pin` (not on the cluster),
    prism and nginx are pinned to P1_SERVER_CPUS and wrk to P1_WRK_CPUS, so that the client and
    the server under test do not preempt each other."""
    server = target_server({"TASKS_PAGE_SIZE": "30"})
    pin = pin and CLUSTER is None
    try:
        tokens_path, tokens = write_tokens(64, "p1")
        seed_tasks(server, tokens, 30)
        for token in tokens:  # warm the cache
            server.request("GET", "/api/tasks", token=token)
        body = server.request("GET", "/api/tasks", token=tokens[0]).body
        body_path = tempfile.mktemp(prefix="prism-page-", suffix=".json")
        with open(body_path, "wb") as f:
            f.write(body)
        nginx_port, nginx_pid, stop_nginx = start_nginx(body_path)
        wrk_options = {}
        if pin:
            pin_process(nginx_pid, P1_SERVER_CPUS)
            pin_process(server.process.pid, P1_SERVER_CPUS)
            wrk_options = {"threads": 1, "cpus": P1_WRK_CPUS}
        try:
            env = {"TOKENS_FILE": tokens_path}
            reference = run_wrk("http://127.0.0.1:%d/api/tasks" % nginx_port, "tokens.lua", env, duration, 64,
                                **wrk_options)
            prism = run_wrk(base_url(server) + "/api/tasks", "tokens.lua", env, duration, 64, **wrk_options)
        finally:
            stop_nginx()
        pinned = ", servers on CPU %s and wrk on CPU %s" % (P1_SERVER_CPUS, P1_WRK_CPUS) if pin else ""
        return {"id": "P1", "scenario": "GET /api/tasks, 30-task page, cache warm, 64 connections" + pinned,
                "figure": prism["requests_per_second"], "unit": "req/s",
                "reference": reference["requests_per_second"], "reference_name": "nginx, same bytes",
                "ratio": prism["requests_per_second"] / reference["requests_per_second"],
                "target": ">= 0.8 and p99 <= 5 ms", "p99_ms": prism.get("p99_ms"),
                "met": prism["requests_per_second"] >= 0.8 * reference["requests_per_second"]
                and prism.get("p99_ms", 1e9) <= 5, "body_bytes": len(body),
                "detail": {"prism": prism, "nginx": reference, "pinned": pin}}
    finally:
        server.cleanup()


def scenario_write(duration, batch, identifier, target):
    server = target_server()
    try:
        tokens_path, _ = write_tokens(256, identifier.lower())
        result = run_wrk(base_url(server) + "/api/commands", "commands.lua",
                         {"TOKENS_FILE": tokens_path, "BATCH": str(batch)}, duration, 256)
        accepted = (result["requests"] - result["non_2xx"]) * batch / duration
        return {"id": identifier, "scenario": "POST /api/commands, %d create-task per request, 256 connections" % batch,
                "figure": accepted, "unit": "commands/s", "reference": 1500.0,
                "reference_name": "original's k6 load (1,500 req/s)", "ratio": accepted / 1500.0,
                "target": ">= %d commands/s" % target, "p99_ms": result.get("p99_ms"),
                "met": accepted >= target, "detail": result}
    finally:
        server.cleanup()


# Seconds that P4 waits at most for one probe's task to be listed.
P4_PROBE_TIMEOUT = 300


def scenario_p4(duration):
    """Visibility latency from 202 to the stream and to GET /api/tasks, under 1,500 commands/s."""
    server = target_server()
    stop = threading.Event()
    try:
        _, load_tokens = write_tokens(32, "p4-load")

        def background(token):
            # 8 commands per request, about 6 requests/s per thread: 32 threads give ~1,500/s.
            next_send = time.time()
            while not stop.is_set():
                try:
                    server.commands([create("bg", order=i) for i in range(8)], token=token)
                except OSError:
                    if stop.is_set():
                        return  # the server is shutting down at the end of the scenario
                    raise
                next_send += 8 * 32 / 1500.0
                time.sleep(max(0, next_send - time.time()))
        threads = [threading.Thread(target=background, args=(t,), daemon=True) for t in load_tokens]
        for thread in threads:
            thread.start()

        probe = make_token("p4-probe-" + uuid.uuid4().hex[:6])
        stream = SseClient(server, probe)
        stream.next_message()
        stream.next_message()
        to_stream, to_list = [], []
        deadline = time.time() + duration
        while time.time() < deadline:
            task_id = new_id()
            response = server.commands([create("probe", task_id)], token=probe)
            accepted = time.time()
            frame = stream.next_message(timeout=10)
            while frame and frame[1]["data"][0]["id"] != task_id:
                frame = stream.next_message(timeout=10)
            to_stream.append((time.time() - accepted) * 1000)
            while True:
                page = server.request("GET", "/api/tasks?pageSize=1000", token=probe).json()
                if any(t["id"] == task_id for t in page["tasks"]):
                    break
                # Past the deadline the background load stops, so that the last probe waits only
                # for the backlog ahead of it, and not for one that keeps growing.
                if time.time() > deadline:
                    stop.set()
                if time.time() - accepted > P4_PROBE_TIMEOUT:
                    raise RuntimeError("P4: a probe's task was not listed within %d s" % P4_PROBE_TIMEOUT)
            to_list.append((time.time() - accepted) * 1000)
            assert response.status == 202
            time.sleep(0.05)
        stream.close()
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        stream_p50, stream_p99 = percentile(to_stream, 50), percentile(to_stream, 99)
        list_p50, list_p99 = percentile(to_list, 50), percentile(to_list, 99)
        stream_all = {"p%d_ms" % p: percentile(to_stream, p) for p in (50, 75, 90, 99)}
        list_all = {"p%d_ms" % p: percentile(to_list, p) for p in (50, 75, 90, 99)}
        return {"id": "P4", "scenario": "202 to stream and to GET /api/tasks at ~1,500 commands/s",
                "figure": stream_p99, "unit": "ms p99 (stream)", "reference": 10000.0,
                "reference_name": "original's 10 s limit", "ratio": stream_p99 / 10000.0,
                "target": "p50 <= 20 ms, p99 <= 100 ms", "met": max(stream_p99, list_p99) <= 100
                and max(stream_p50, list_p50) <= 20,
                "detail": {"samples": len(to_stream), "stream_p50_ms": stream_p50, "stream_p99_ms": stream_p99,
                           "list_p50_ms": list_p50, "list_p99_ms": list_p99,
                           "stream": stream_all, "list": list_all}}
    finally:
        stop.set()
        server.cleanup()


# P5's default command rate on the cluster. Its two domain workers commit about 1,000 commands/s
# on a shared 2-core machine (P2), so at 1,000/s P5 would measure the command backlog instead of
# the delivery to the streams.
CLUSTER_STREAM_RATE = 250


def scenario_p5(streams, hold, rate):
    """Holds `streams` SSE connections for `hold` seconds while `rate` commands/s are posted."""
    if not os.path.exists(SSE_LOAD):
        raise SystemExit("P5 needs %s: cmake --preset release -DPRISM_BUILD_BENCH=ON, then "
                         "scripts/build.sh release sse_load" % SSE_LOAD)
    server = None
    if CLUSTER is not None:
        # The streams connect to `prism stream` itself and the commands go through HAProxy, both
        # over plain HTTP on loopback. The memory figure is that of the stream process. The drain
        # is longer than on prism serve because the domain workers may lag behind.
        ports = ["--port", url_port(CLUSTER_ENV["CLUSTER_STREAM_URL"]),
                 "--api-port", url_port(CLUSTER_ENV["CLUSTER_HAPROXY_URL"]), "--drain", "30"]
        server_pid = cluster_pid("stream")
    else:
        server = new_serve().start()
        ports = ["--port", str(server.port)]
        server_pid = server.process.pid
    try:
        command = [SSE_LOAD] + ports + ["--secret", SECRET, "--connections", str(streams),
                                        "--hold", str(hold), "--rate", str(rate),
                                        "--server-pid", str(server_pid)]
        completed = subprocess.run(command, capture_output=True, text=True, timeout=hold + 300)
        if completed.returncode != 0:
            raise RuntimeError("sse_load failed: %s" % completed.stderr[-2000:])
        load = json.loads(completed.stdout.strip().splitlines()[-1])
        delivery_p99 = load["delivery"].get("p99_ms", float("inf"))
        rss_mib = max(load["server_rss_peak_kib"], load.get("server_vmhwm_kib", 0)) / 1024.0
        return {"id": "P5", "scenario": "%d SSE streams held %d s, %d commands/s over all users"
                % (streams, hold, rate),
                "figure": delivery_p99, "unit": "ms delivery p99", "reference": 250.0,
                "reference_name": "target 250 ms", "ratio": delivery_p99 / 250.0,
                "target": "0 failures, delivery p99 <= 250 ms, <= 512 MiB",
                "met": load["failed"] == 0 and load["held_at_end"] == streams
                and delivery_p99 <= 250 and rss_mib <= 512 and load["undelivered"] == 0,
                "detail": dict(load, server_rss_peak_mib=rss_mib)}
    finally:
        if server:
            server.cleanup()


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100.0 * (len(ordered) - 1))))]


def scenario_p7():
    data_dir = tempfile.mkdtemp(prefix="prism-p7-")
    server = new_serve(data_dir=data_dir)
    started = time.time()
    server.start(timeout=10)
    startup_ms = (time.time() - started) * 1000
    try:
        token = make_token("p7-user")
        seed_tasks(server, [token], 100)
        time.sleep(2)
        with open("/proc/%d/status" % server.process.pid) as f:
            rss_kib = int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1))
        return {"id": "P7", "scenario": "idle prism serve, 1 user, 100 tasks", "figure": rss_kib / 1024.0,
                "unit": "MiB resident", "reference": 50.0, "reference_name": "target 50 MiB",
                "ratio": rss_kib / 1024.0 / 50.0, "target": "<= 50 MiB, start-up <= 1 s",
                "met": rss_kib / 1024.0 <= 50 and startup_ms <= 1000,
                "detail": {"startup_to_healthy_ms": startup_ms, "rss_kib": rss_kib}}
    finally:
        server.cleanup()
        shutil.rmtree(data_dir, ignore_errors=True)


# The roles whose footprint P7 measures on the cluster (the cleaner is a timer and left out).
P7_CLUSTER_ROLES = ("api", "domain", "projector", "stream")
# Log messages that mark a role as started: "ready", or for a projector that finds another one
# leading, the message that it waits on standby.
READY_MESSAGE = re.compile(r'"msg":"(ready|another projector is the leader; waiting to take over)"')


def start_role(role, log_path):
    """Starts one extra `prism ROLE` on the cluster's storage; returns (process, ms to ready)."""
    env = dict(os.environ, DATABASE_URL=CLUSTER_ENV["DATABASE_URL"],
               REDIS_CONNECTION_STRING=CLUSTER_ENV["REDIS_CONNECTION_STRING"],
               PRISM_BIND_ADDRESS="127.0.0.1", PRISM_DATA_DIR=os.path.dirname(log_path),
               AUTH0_TEST_MODE="1", TEST_JWT_SECRET=SECRET)
    port = str(bench_port())
    env.update(PORT=port, STREAM_SERVICE_PORT=port)
    with open(log_path, "wb") as log:
        started = time.time()
        process = subprocess.Popen([PRISM, role], env=env, stdout=log, stderr=subprocess.STDOUT)
    while time.time() - started < 30:
        with open(log_path, errors="replace") as f:
            if READY_MESSAGE.search(f.read()):
                return process, (time.time() - started) * 1000
        if process.poll() is not None:
            break
        time.sleep(0.005)
    process.kill()
    with open(log_path, errors="replace") as f:
        raise RuntimeError("prism %s did not become ready:\n%s" % (role, f.read()[-2000:]))


def scenario_p7_cluster():
    """Starts one extra process of each role on the cluster's storage, one after the other, and
    measures its time to ready and its resident memory after 2 s idle. The figure is the largest
    resident memory of a role, since the 50 MiB target is for one process."""
    token = make_token("p7-user-" + uuid.uuid4().hex[:6])
    seed_tasks(CLUSTER, [token], 100)

    directory = tempfile.mkdtemp(prefix="prism-p7-cluster-")
    processes, roles = [], {}
    try:
        for role in P7_CLUSTER_ROLES:
            process, ready_ms = start_role(role, os.path.join(directory, role + ".log"))
            processes.append(process)
            roles[role] = {"startup_to_ready_ms": ready_ms}
        time.sleep(2)
        for role, process in zip(P7_CLUSTER_ROLES, processes):
            roles[role]["rss_mib"] = proc_status_kib(process.pid, "VmRSS") / 1024.0
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(directory, ignore_errors=True)

    # For comparison: the cluster's own processes, which have carried the earlier scenarios' load.
    running = {}
    for name in ("api-1", "domain-1", "projector-1", "projector-2", "stream"):
        running[name] = proc_status_kib(cluster_pid(name), "VmRSS") / 1024.0

    largest = max(r["rss_mib"] for r in roles.values())
    slowest = max(r["startup_to_ready_ms"] for r in roles.values())
    summary = ", ".join("%s %.1f MiB %.0f ms" % (role, r["rss_mib"], r["startup_to_ready_ms"])
                        for role, r in roles.items())
    return {"id": "P7", "scenario": "one idle extra process per role on the cluster, 1 user, 100 tasks "
            "(resident memory, start-up to ready): " + summary,
            "figure": largest, "unit": "MiB resident (largest role)", "reference": 50.0,
            "reference_name": "target 50 MiB per process", "ratio": largest / 50.0,
            "target": "<= 50 MiB, start-up <= 1 s", "met": largest <= 50 and slowest <= 1000,
            "detail": {"roles": roles, "cluster_processes_rss_mib": running}}


def post_commands(server, token, body):
    """Posts one command batch over a new connection, waiting and retrying while the command
    queue's admission limit returns 503; returns the last idempotency key."""
    for _ in range(600):
        response = server.commands(body, token=token, timeout=30)
        if response.status == 202:
            return response.json()["idempotencyKeys"][-1]
        if response.status != 503:
            raise RuntimeError("POST /api/commands returned %d: %s" % (response.status, response.body[:200]))
        time.sleep(0.2)
    raise RuntimeError("POST /api/commands kept returning 503 for two minutes")


def seed_events(server, count, users=50, batch=8, threads=4):
    """Posts `count` create-task commands (one event each) in requests of `batch` from `users`
    users on `threads` threads, and waits until every command has an outcome."""
    _, tokens = write_tokens(users, "p6")
    body = [create("replay", order=i) for i in range(batch)]
    requests = int(math.ceil(count / float(batch)))
    last_keys = [dict() for _ in range(threads)]
    errors = []

    def post(worker):
        try:
            for index in range(worker, requests, threads):
                token = tokens[index % users]
                last_keys[worker][token] = post_commands(server, token, body)
        except Exception as error:  # reported by the caller
            errors.append(error)
    workers = [threading.Thread(target=post, args=(i,), daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if errors:
        raise errors[0]
    for keys in last_keys:
        for token, key in keys.items():
            server.wait_for_outcome(key, token=token, timeout=600)
    return requests * batch


def parse_rebuild(output):
    """Returns (events, seconds, events/s) from the summary line that `prism rebuild` prints."""
    match = re.search(r"replayed (\d+) events in ([\d.]+) s \((\d+) events/s\)", output)
    if not match:
        raise RuntimeError("prism rebuild printed no summary:\n%s" % output[-2000:])
    return int(match.group(1)), float(match.group(2)), float(match.group(3))


def p6_row(replayed, seconds, rate, detail):
    return {"id": "P6", "scenario": "prism rebuild of %d events" % replayed, "figure": rate,
            "unit": "events/s", "reference": 50000.0, "reference_name": "target 50,000/s",
            "ratio": rate / 50000.0, "target": ">= 50,000 events/s", "met": rate >= 50000,
            "detail": dict(detail, events=replayed, seconds=seconds)}


# Commands that P6 seeds through POST /api/commands of `prism serve`; the rest of its events are
# copies of these (see replicate_sqlite_events). At about 2,000 to 5,000 commands/s on a shared
# 2-core machine, seeding a million would take minutes.
# The seeded tasks get server-chosen, time-ordered UUIDv7 ids, but each copy of a task gets a
# random id prefix, so the copies are spread over the key space like the random UUIDv4 ids that
# the web app sends. Copies numbered in order would let `prism rebuild` touch far fewer index
# pages per commit than a real board's replay does, so P6 would overstate its speed.
P6_SERVE_SEED = 200000


def replicate_sqlite_events(database_path, events):
    """Appends copies of the task events in the SQLite event store until it has `events` events,
    and returns the number added. Each round copies every task once in event order (the last round
    stops at `events`). A copy's task id, event ids, idempotency keys and the task id inside its
    data are the original's with the first 8 hex digits replaced by a random prefix drawn once per
    task and round."""
    connection = sqlite3.connect(database_path)
    try:
        count, last = connection.execute("SELECT count(*), coalesce(max(position), 0) FROM events").fetchone()
        needed = events - count
        # A table materialises each prefix: in an INSERT ... SELECT, SQLite may evaluate
        # randomblob() once per use instead of once per row.
        connection.execute("CREATE TEMP TABLE copy_prefix (entity_id TEXT PRIMARY KEY, prefix TEXT NOT NULL)")
        connection.execute("""
            INSERT INTO copy_prefix (entity_id, prefix)
            SELECT DISTINCT entity_id, '' FROM events WHERE entity_type = 'task' AND position <= ?""", (last,))
        while count < events:
            connection.execute("UPDATE copy_prefix SET prefix = lower(hex(randomblob(4)))")
            # NOTE: two copies of a task, or a copy and the original, get the same id with a chance
            # of 1 in 2^32 per pair. The INSERT then fails on UNIQUE (entity_type, entity_id,
            # version) and P6 stops.
            inserted = connection.execute("""
                INSERT INTO events (id, entity_type, entity_id, version, type, data, timestamp_ms,
                                    user_id, idempotency_key)
                SELECT p.prefix || substr(e.id, 9), e.entity_type, p.prefix || substr(e.entity_id, 9),
                       e.version, e.type, replace(e.data, e.entity_id, p.prefix || substr(e.entity_id, 9)),
                       e.timestamp_ms, e.user_id, p.prefix || substr(e.idempotency_key, 9)
                FROM events AS e JOIN copy_prefix AS p ON p.entity_id = e.entity_id
                WHERE e.entity_type = 'task' AND e.position <= :last ORDER BY e.position
                LIMIT :limit""", {"last": last, "limit": events - count}).rowcount
            if inserted <= 0:
                raise RuntimeError("the event store has no task events to replicate")
            count += inserted
        connection.commit()
        return max(needed, 0)
    finally:
        connection.close()


def scenario_p6(events):
    """Seeds up to P6_SERVE_SEED create-task events through POST /api/commands into a `prism serve`,
    stops it, adds copies of them with new ids up to `events`, and times `prism rebuild` on its
    data directory. With BENCH_P6_KEEP_DATA=1 in the environment, the data directory is kept for
    profiling and its path printed."""
    data_dir = tempfile.mkdtemp(prefix="prism-p6-")
    server = new_serve(data_dir=data_dir).start()
    try:
        started = time.time()
        seeded = seed_events(server, min(events, P6_SERVE_SEED))
        seed_seconds = time.time() - started
        server.stop()
        started = time.time()
        replicated = replicate_sqlite_events(os.path.join(data_dir, "prism.db"), events)
        print("P6: seeded %d events in %.0f s, added %d copies in %.0f s"
              % (seeded, seed_seconds, replicated, time.time() - started), file=sys.stderr, flush=True)
        result = subprocess.run([PRISM, "rebuild"], env=dict(server.env), capture_output=True, text=True, timeout=900)
        replayed, seconds, rate = parse_rebuild(result.stdout + result.stderr)
        return p6_row(replayed, seconds, rate, {"seeded_through_api": seeded, "seed_seconds": seed_seconds,
                                                "replicated": replicated})
    finally:
        server.cleanup()
        if os.environ.get("BENCH_P6_KEEP_DATA") == "1":
            print("P6: kept the data directory %s" % data_dir, file=sys.stderr, flush=True)
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


# Events copied from the cluster's database, then replicated with new ids until P6 has its count.
P6_REPLAY_DATABASE = "prism_bench_replay"
# Commands seeded through the cluster's API for P6 when it runs alone. The domain workers commit
# about 1,000 commands/s there, so the rest of the events are copies (see REPLICATE_TASK_EVENTS).
P6_CLUSTER_SEED = 16000


def cluster_psql(database, sql, stdin=None, stdout=None):
    """Runs one SQL statement on the cluster's PostgreSQL as the superuser; returns its output."""
    pg_bin = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: [int(x) for x in re.findall(r"\d+", p)])[-1]
    command = [os.path.join(pg_bin, "psql"), "-h", "127.0.0.1", "-p", CLUSTER_ENV["CLUSTER_POSTGRES_PORT"],
               "-U", "postgres", "-d", database, "-qAt", "-v", "ON_ERROR_STOP=1", "-c", sql]
    if stdout is not None:
        return subprocess.run(command, check=True, stdin=stdin, stdout=stdout, timeout=600)
    return subprocess.run(command, check=True, capture_output=True, text=True, stdin=stdin,
                          timeout=600).stdout


# Appends copies of the replay database's task events up to position `last` until `needed` rows
# are added. A copy's task id, event id and idempotency key are the original's with the first 8
# hex digits replaced by a prefix taken from the md5 of the copy's number and the task id. The
# prefix is the same for every event of one task in one copy, and as scattered as the random task
# ids that clients send (see P6 on `prism serve`). The other 28 characters contain random bits both in the UUIDv7
# ids that prism generates and in UUIDv4 ids of clients, so the new ids are distinct from each
# other and, with overwhelming probability, from the originals. Each task's events keep their
# order, so every copy is a valid history of a new task of the same user.
REPLICATE_TASK_EVENTS = """
INSERT INTO events (id, entity_type, entity_id, version, type, data, timestamp_ms, user_id, idempotency_key)
SELECT p.prefix || substr(e.id, 9), e.entity_type, p.prefix || substr(e.entity_id, 9), e.version,
       e.type, replace(e.data, e.entity_id, p.prefix || substr(e.entity_id, 9)),
       e.timestamp_ms, e.user_id, p.prefix || substr(e.idempotency_key, 9)
FROM generate_series(1, %(copies)d) AS copy,
     (SELECT * FROM events WHERE entity_type = 'task' AND position <= %(last)d) AS e,
     LATERAL (SELECT substr(md5(copy::text || ':' || e.entity_id), 1, 8) AS prefix) AS p
ORDER BY copy, e.position
LIMIT %(needed)d
"""


def build_replay_database(events):
    """Creates the replay database with a copy of the cluster's events, replicated up to `events`
    rows; returns (copied, replicated)."""
    cluster_psql("postgres", "DROP DATABASE IF EXISTS %s" % P6_REPLAY_DATABASE)
    cluster_psql("postgres", "CREATE DATABASE %s OWNER prism" % P6_REPLAY_DATABASE)
    env = replay_env()
    subprocess.run([PRISM, "init"], env=env, check=True, capture_output=True, timeout=120)
    with tempfile.TemporaryFile() as copy:
        cluster_psql("prism", "COPY events TO STDOUT", stdout=copy)
        copy.seek(0)
        cluster_psql(P6_REPLAY_DATABASE, "COPY events FROM STDIN", stdin=copy)
    copied = int(cluster_psql(P6_REPLAY_DATABASE, "SELECT count(*) FROM events"))
    last = int(cluster_psql(P6_REPLAY_DATABASE, "SELECT coalesce(max(position), 0) FROM events"))
    tasks = int(cluster_psql(P6_REPLAY_DATABASE, "SELECT count(*) FROM events WHERE entity_type = 'task'"))
    # COPY does not advance the position sequence; the copies must come after the originals.
    cluster_psql(P6_REPLAY_DATABASE, "SELECT setval(pg_get_serial_sequence('events', 'position'), %d)"
                 % max(last, 1))
    needed = events - copied
    if needed > 0:
        if tasks == 0:
            raise RuntimeError("the cluster has no task events to replicate")
        cluster_psql(P6_REPLAY_DATABASE, REPLICATE_TASK_EVENTS % {
            "copies": int(math.ceil(needed / float(tasks))), "last": last, "needed": needed})
    return copied, max(needed, 0)


def replay_env():
    """Returns the environment of a prism process on the replay database and the cluster's Redis."""
    url = CLUSTER_ENV["DATABASE_URL"].rsplit("/", 1)[0] + "/" + P6_REPLAY_DATABASE
    return dict(os.environ, DATABASE_URL=url, REDIS_CONNECTION_STRING=CLUSTER_ENV["REDIS_CONNECTION_STRING"],
                AUTH0_TEST_MODE="1", TEST_JWT_SECRET=SECRET)


def scenario_p6_cluster(events):
    """Times `prism rebuild` of `events` events from PostgreSQL into a separate database.

    The events are those that the earlier scenarios wrote into the cluster, or P6_CLUSTER_SEED
    commands seeded through HAProxy when fewer are there. Copies of their task events with new ids
    fill up the rest, because seeding a million events at about 1,000 commands/s would take a
    quarter of an hour."""
    seeded = 0
    head = int(cluster_psql("prism", "SELECT count(*) FROM events"))
    if head < min(events, P6_CLUSTER_SEED):
        started = time.time()
        seeded = seed_events(RemoteServer(CLUSTER_ENV["CLUSTER_HAPROXY_URL"]), min(events, P6_CLUSTER_SEED) - head)
        print("P6: seeded %d events through HAProxy in %.0f s" % (seeded, time.time() - started),
              file=sys.stderr, flush=True)
    try:
        started = time.time()
        copied, replicated = build_replay_database(events)
        print("P6: copied %d events and added %d copies in %.0f s" % (copied, replicated, time.time() - started),
              file=sys.stderr, flush=True)
        result = subprocess.run([PRISM, "rebuild"], env=replay_env(), capture_output=True, text=True,
                                timeout=1800)
        replayed, seconds, rate = parse_rebuild(result.stdout + result.stderr)
        return p6_row(replayed, seconds, rate, {"copied_from_cluster": copied, "replicated": replicated,
                                                "seeded_through_api": seeded})
    finally:
        cluster_psql("postgres", "DROP DATABASE IF EXISTS %s" % P6_REPLAY_DATABASE)


def route_totals(server, route):
    """Returns (seconds, requests) that the API recorded for `route`. On the cluster these are the
    sums over every API replica, read from each replica's own port, since nginx and HAProxy
    spread the requests over them."""
    if CLUSTER is None or server is not CLUSTER:
        return http_route_totals(server, route)
    seconds, requests = 0.0, 0
    for port in CLUSTER_ENV["CLUSTER_API_PORTS"].split():
        replica_seconds, replica_requests = http_route_totals(RemoteServer("http://127.0.0.1:" + port), route)
        seconds += replica_seconds
        requests += replica_requests
    return seconds, requests


def http_route_totals(server, route):
    """Returns (seconds, requests) that the server recorded for `route`: the _sum and _count of
    its prism_http_request_duration_seconds histogram on /metrics."""
    text = server.request("GET", "/metrics", token=None).body.decode()
    totals = []
    for part in ("sum", "count"):
        match = re.search(r'^prism_http_request_duration_seconds_%s\{route="%s"\} ([0-9.e+-]+)$'
                          % (part, re.escape(route)), text, re.M)
        if not match:
            raise RuntimeError("/metrics has no request duration %s for route %r" % (part, route))
        totals.append(float(match.group(1)))
    return totals[0], int(totals[1])


def walk_pages(server, token, page_size=None):
    """Walks every page of GET /api/tasks at `page_size` (default: the server's) over one
    keep-alive connection and returns (pages, tasks, client_ms). client_ms is the sum over the
    requests of the time from sending a request to reading the last byte of its response."""
    connection = server.connect(30)
    pages, tasks, client_ms, page_token = 0, 0, 0.0, None
    try:
        while True:
            query = ["pageSize=%d" % page_size] if page_size else []
            if page_token:
                query.append("pageToken=" + page_token)
            path = "/api/tasks" + ("?" + "&".join(query) if query else "")
            started = time.perf_counter()
            connection.request("GET", path, headers={"Authorization": "Bearer " + token})
            response = connection.getresponse()
            body = response.read()
            client_ms += (time.perf_counter() - started) * 1000
            if response.status != 200:
                raise RuntimeError("GET %s returned %d: %s" % (path, response.status, body[:200]))
            page = json.loads(body)
            pages += 1
            tasks += len(page["tasks"])
            page_token = page.get("nextPageToken")
            if not page_token:
                return pages, tasks, client_ms
    finally:
        connection.close()


def seed_board(server, token, count):
    """Creates `count` tasks for one user, three in four in the "normal" lane as in the web app's
    large-board spec, and waits until GET /api/tasks lists all of them."""
    categories = ["critical", "fun", "important"]
    commands = [create("P8 task %d" % i, new_id(), category="normal" if i % 4 != 3 else categories[i % 3],
                       order=i, notes="Notes for task %d" % i if i % 5 == 0 else None)
                for i in range(count)]
    last_key = None
    for start in range(0, len(commands), 50):
        response = server.commands(commands[start:start + 50], token=token)
        assert response.status == 202, response.body
        last_key = response.json()["idempotencyKeys"][-1]
    server.wait_for_outcome(last_key, token=token, timeout=120)
    server.wait_for(lambda: len(server.all_tasks(token, page_size=1000)) >= count, timeout=120)


def board_render_skip_reason():
    """Returns why the browser half of P8 cannot run here, or None when it can."""
    if not os.path.isfile(os.path.join(WEB_DIST, "index.html")):
        return "web/dist is not built (cd web && npm ci && npm run build)"
    if CLUSTER is not None and not os.path.isfile(os.path.join(CLUSTER_ENV["CLUSTER_DIR"], "www", "index.html")):
        return "the cluster's nginx serves no web app (web/dist was built after the cluster started)"
    if not os.access(CHROMIUM, os.X_OK):
        return "Chromium not found at %s (set CHROMIUM_PATH)" % CHROMIUM
    if not os.path.isdir(os.path.join(WEB_DIR, "node_modules", "playwright-core")):
        return "web/node_modules is not installed (cd web && npm ci)"
    if not shutil.which("npx"):
        return "npx not found"
    return None


def measure_board_render(server, token):
    """Runs the web app's large-board spec (web/e2e/performance.e2e.ts) against `server` as the
    user of `token`, whose tasks are already seeded, and returns the figures it prints."""
    env = dict(os.environ, PRISM_URL=base_url(server), PRISM_TOKEN=token, CHROMIUM_PATH=CHROMIUM)
    if CLUSTER is not None:
        # The cluster's nginx has a self-signed certificate. Node trusts it as an extra CA, and
        # Chromium ignores certificate errors.
        env.update(NODE_EXTRA_CA_CERTS=CLUSTER_ENV["CLUSTER_CA_FILE"], PRISM_IGNORE_CERT_ERRORS="1")
    # Without TEST_JWT_SECRET the spec signs no tokens of its own and uses PRISM_TOKEN's user.
    env.pop("TEST_JWT_SECRET", None)
    command = ["npx", "vitest", "run", "--config", "vitest.e2e.config.ts", "e2e/performance.e2e.ts"]
    completed = subprocess.run(command, cwd=WEB_DIR, env=env, capture_output=True, text=True,
                               timeout=300)
    output = completed.stdout + completed.stderr
    match = re.search(r"P8: first render of (\d+) tasks ([\d.]+) ms after the data arrived "
                      r"\((\d+) ms after navigation start\); expanding a lane of (\d+) cards: "
                      r"first cards painted after ([\d.]+) ms, all cards after ([\d.]+) ms", output)
    if not match:
        raise RuntimeError("the large-board spec printed no P8 figure (exit status %d):\n%s"
                           % (completed.returncode, output[-3000:]))
    return {"tasks": int(match.group(1)), "first_render_ms": float(match.group(2)),
            "since_navigation_ms": float(match.group(3)), "expanded_lane_cards": int(match.group(4)),
            "expand_first_paint_ms": float(match.group(5)), "expand_all_cards_ms": float(match.group(6)),
            "spec_passed": completed.returncode == 0}


# The page size of GET /api/tasks without TASKS_PAGE_SIZE or ?pageSize.
DEFAULT_PAGE_SIZE = 10


def scenario_p8(tasks=2000, walks=5):
    """Measures, for one user with `tasks` tasks, the server's time to walk every page of
    GET /api/tasks and the board's first full render in Chromium. Returns two result rows."""
    skip = board_render_skip_reason()
    page_size = None
    if CLUSTER is not None:
        # The cluster runs with TASKS_PAGE_SIZE=30 for P1, so the walk requests the default size.
        server, page_size = CLUSTER, DEFAULT_PAGE_SIZE
    else:
        server = new_serve({} if skip else {"PRISM_WEB_DIR": WEB_DIST}).start()
    try:
        token = make_token("p8-" + uuid.uuid4().hex[:8])
        seed_board(server, token, tasks)
        walk_pages(server, token, page_size)  # one walk to warm the cache and the page reads
        server_ms, client_ms = [], []
        for _ in range(walks):
            seconds_before, requests_before = route_totals(server, "/api/tasks")
            pages, listed, client = walk_pages(server, token, page_size)
            seconds_after, requests_after = route_totals(server, "/api/tasks")
            if requests_after - requests_before != pages:
                raise RuntimeError("expected %d GET /api/tasks requests on /metrics during the walk, "
                                   "counted %d: is another client using this server?"
                                   % (pages, requests_after - requests_before))
            server_ms.append((seconds_after - seconds_before) * 1000)
            client_ms.append(client)
        walk_ms = statistics.median(server_ms)
        rows = [{"id": "P8", "scenario": "walk all %d pages of GET /api/tasks (default page size), %d tasks: "
                 "server time from its request-duration histogram, median of %d walks (client-measured "
                 "over one keep-alive connection: %.1f ms)" % (pages, listed, walks, statistics.median(client_ms)),
                 "figure": walk_ms, "unit": "ms", "reference": 50.0, "reference_name": "target 50 ms",
                 "ratio": walk_ms / 50.0, "target": "<= 50 ms", "met": walk_ms <= 50,
                 "detail": {"pages": pages, "tasks": listed, "server_ms": server_ms,
                            "client_ms_keep_alive": client_ms,
                            "client_ms_median": statistics.median(client_ms)}}]
        render = {"id": "P8", "scenario": "board of %d tasks: first full render in Chromium" % tasks,
                  "unit": "ms after the data arrived", "reference": 1000.0, "reference_name": "target 1 s",
                  "target": "<= 1 s"}
        if skip:
            rows.append(dict(render, figure=None, ratio=None, met=None, skipped=skip))
        else:
            figures = measure_board_render(server, token)
            if not figures["spec_passed"]:
                render["scenario"] += " (the spec's other checks failed, see its output)"
            rows.append(dict(render, figure=figures["first_render_ms"],
                             ratio=figures["first_render_ms"] / 1000.0,
                             met=figures["first_render_ms"] <= 1000, detail=figures))
        return rows
    finally:
        server.cleanup()


def draw_chart(results, path):
    """Plots the latency percentiles of P1, P2 and P4 (log scale) with gnuplot; returns the path."""
    series = []
    for r in results:
        if r["id"] == "P1":
            series.append(("P1 GET /api/tasks (wrk)", r["detail"]["prism"]))
            series.append(("P1 nginx reference (wrk)", r["detail"]["nginx"]))
        elif r["id"] == "P2":
            series.append(("P2 POST 1 command (wrk)", r["detail"]))
        elif r["id"] == "P4":
            series.append(("P4 202 to stream", r["detail"]["stream"]))
            series.append(("P4 202 to GET /api/tasks", r["detail"]["list"]))
    if not series or not GNUPLOT:
        return None
    data_path = tempfile.mktemp(prefix="prism-chart-", suffix=".dat")
    with open(data_path, "w") as f:
        for index, (_, figures) in enumerate(series):
            f.write("# series %d\n" % index)
            for p in (50, 75, 90, 99):
                if "p%d_ms" % p in figures:
                    f.write("%d %.4f\n" % (p, figures["p%d_ms" % p]))
            f.write("\n\n")
    plots = ", ".join("'%s' index %d with linespoints lw 2 pt 7 title '%s'" % (data_path, i, name)
                      for i, (name, _) in enumerate(series))
    script = """
set terminal pngcairo size 900,520 font 'DejaVu Sans,11'
set output '%s'
set title 'Latency percentiles, bench/run.py of %s (log scale)'
set xlabel 'percentile'
set ylabel 'latency (ms)'
set logscale y
set grid ytics mytics xtics
set xtics ('p50' 50, 'p75' 75, 'p90' 90, 'p99' 99)
set xrange [45:104]
set key top left
plot %s
""" % (path, time.strftime("%Y-%m-%d"), plots)
    subprocess.run([GNUPLOT], input=script, text=True, check=True)
    os.unlink(data_path)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per load run (default 10)")
    parser.add_argument("--events", type=int, default=1000000, help="events replayed by P6 (default 1000000)")
    parser.add_argument("--streams", type=int, default=10000, help="SSE connections of P5 (default 10000)")
    parser.add_argument("--stream-rate", type=int, default=None,
                        help="commands/s posted during P5, spread over all users (default 1000, "
                        "and %d with --cluster, below what its domain workers commit)" % CLUSTER_STREAM_RATE)
    parser.add_argument("--quick", action="store_true",
                        help="5 s load runs, 100,000 events, 2,000 streams: a smoke run, not a record")
    parser.add_argument("--pin", action="store_true",
                        help="P1 on prism serve: pin prism and nginx to CPU 0 and wrk to CPU 1 (taskset)")
    parser.add_argument("--only", default="P1,P2,P3,P4,P5,P6,P7,P8", help="comma-separated scenario ids")
    parser.add_argument("--chart", default=CHART, help="latency chart to write (PNG); '' for none")
    parser.add_argument("--cluster", action="store_true",
                        help="run the scenarios on the local cluster (scripts/cluster) instead of prism serve")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.events, args.streams = 5, 100000, 2000
    if args.stream_rate is None:
        args.stream_rate = CLUSTER_STREAM_RATE if args.cluster else 1000
    wanted = set(args.only.split(","))
    global CLUSTER
    stop_cluster = None
    if args.cluster:
        CLUSTER, stop_cluster = start_cluster()
        if args.chart == CHART:
            args.chart = os.path.join(ROOT, "docs", "benchmarks-latency-cluster.png")

    results = []
    scenarios = [
        ("P1", lambda: scenario_p1(args.duration, args.pin)),
        ("P2", lambda: scenario_write(args.duration, 1, "P2", 15000)),
        ("P3", lambda: scenario_write(args.duration, 8, "P3", 40000)),
        ("P4", lambda: scenario_p4(args.duration)),
        ("P5", lambda: scenario_p5(args.streams, 3 * args.duration, args.stream_rate)),
        ("P6", lambda: scenario_p6_cluster(args.events) if args.cluster else scenario_p6(args.events)),
        ("P7", scenario_p7_cluster if args.cluster else scenario_p7),
        ("P8", scenario_p8),
    ]
    started = time.time()
    try:
        for identifier, run in scenarios:
            if identifier in wanted:
                if CLUSTER is not None:
                    waited = settle_cluster(CLUSTER)
                    print("cluster settled in %.0f s" % waited, file=sys.stderr, flush=True)
                print("running %s..." % identifier, file=sys.stderr, flush=True)
                result = run()
                results.extend(result if isinstance(result, list) else [result])
    finally:
        if stop_cluster:
            stop_cluster()

    print("\n| id | scenario | figure | reference | ratio | target | met |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        if r.get("skipped"):
            print("| %s | %s | skipped: %s | %.1f (%s) | - | %s | - |" % (
                r["id"], r["scenario"], r["skipped"], r["reference"], r["reference_name"], r["target"]))
            continue
        print("| %s | %s | %.1f %s | %.1f (%s) | %.3f | %s | %s |" % (
            r["id"], r["scenario"], r["figure"], r["unit"], r["reference"], r["reference_name"],
            r["ratio"], r["target"], "yes" if r["met"] else "no"))
    elapsed = time.time() - started
    print("\n%d rows in %.0f s; load average %s" % (len(results), elapsed, os.getloadavg()))
    chart = draw_chart(results, args.chart) if args.chart else None
    if chart:
        print("latency chart: %s" % os.path.relpath(chart, ROOT))
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    name = "latest-cluster.json" if args.cluster else "latest.json"
    with open(os.path.join(HERE, "results", name), "w") as f:
        json.dump({"date": time.strftime("%Y-%m-%d %H:%M:%S"), "nproc": os.cpu_count(),
                   "target": "cluster" if args.cluster else "prism serve",
                   "load_average_at_end": os.getloadavg(), "seconds": elapsed,
                   "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
