"""Outage tests on the local cluster: the cache gone, the events queue gone, Redis gone and
PostgreSQL gone.

Each test checks what a user sees during the outage. It then checks that the service recovers
when the server or the permission returns, with no prism process restarted, and that the
processes logged the outage once per change of state, not once per request. The cache and the events queue share
one Redis, so each is taken away alone by a Redis ACL that denies the default user its keys,
which makes every command on them fail while the rest of Redis keeps working.

Run with the cluster up in test mode; scripts/cluster-tests.sh does that.
"""

import glob
import json
import os
import signal
import subprocess
import sys
import threading
import time
import unittest
import uuid

# Appended, not prepended: tests/http has test modules with the same names as some here.
sys.path.append(os.path.join(os.path.dirname(__file__), "..", "http"))

from harness import RemoteServer, create, make_token, new_id  # noqa: E402
from test_failures import ENV, Load, cluster_up, direct, pid_of, wait_ready  # noqa: E402

# The cluster's Redis keys (no key prefix): queues, the cache entries and the cache's floor.
COMMAND_QUEUE_KEYS = "command-queue*"
EVENTS_QUEUE_KEYS = "domain-events*"
CACHE_KEYS = ["*:ts", "*:us", "cache-floor"]

# A message may appear twice per process: a flap while a server restarts is a second change of
# state. Logging per request would write it once for each of the dozens of failed requests.
MAX_LINES_PER_MESSAGE = 2


def redis_cli(*args):
    command = ["redis-cli", "-p", ENV["CLUSTER_REDIS_PORT"]] + list(args)
    result = subprocess.run(command, capture_output=True, text=True, timeout=10)
    if result.returncode != 0 or result.stdout.startswith("ERR"):
        raise AssertionError("redis-cli %s: %s %s" % (args, result.stdout, result.stderr))


def allow_only(patterns):
    """Lets the prism processes use only the Redis keys matching `patterns`."""
    redis_cli("ACL", "SETUSER", "default", "resetkeys", *["~" + p for p in patterns])


def allow_all():
    redis_cli("ACL", "SETUSER", "default", "~*")


def stop_postgres():
    data = os.path.join(ENV["CLUSTER_DIR"], "postgres")
    versions = sorted(os.listdir("/usr/lib/postgresql"))
    command = [os.path.join("/usr/lib/postgresql", versions[-1], "bin", "pg_ctl"),
               "-D", data, "-m", "fast", "-w", "stop"]
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--"] + command
    subprocess.run(command, check=True, capture_output=True)


class LogWindow:
    """Log lines of the prism processes, as JSON, from the moment the window is created."""

    def __init__(self):
        self.offsets = {}
        for path in self.paths():
            self.offsets[path] = os.path.getsize(path)

    @staticmethod
    def paths():
        names = ["api-*", "domain-*", "projector-*", "stream", "cleaner"]
        logs = os.path.join(ENV["CLUSTER_DIR"], "logs")
        return sorted(p for n in names for p in glob.glob(os.path.join(logs, n + ".log")))

    def lines(self):
        found = []
        for path in self.paths():
            with open(path, "rb") as f:
                f.seek(self.offsets.get(path, 0))
                for raw in f.read().decode(errors="replace").splitlines():
                    try:
                        line = json.loads(raw)
                    except ValueError:
                        continue  # PostgreSQL notices printed by libpq
                    line["file"] = os.path.basename(path)
                    found.append(line)
        return found

    def messages(self):
        return [line["msg"] for line in self.lines()]


class Reads:
    """Lists one user's tasks from a thread until stopped, and records each response status."""

    def __init__(self, server, token):
        self.server, self.token = server, token
        self.statuses = []
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self.run)

    def run(self):
        while not self.stop_event.is_set():
            try:
                status = self.server.request("GET", "/api/tasks", token=self.token, timeout=5).status
            except OSError as error:
                status = repr(error)
            self.statuses.append(status)
            time.sleep(0.02)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        self.thread.join()


class ClusterOutages(unittest.TestCase):
    def setUp(self):
        cluster_up()
        self.server = RemoteServer(ENV["CLUSTER_URL"], ENV["CLUSTER_CA_FILE"])
        self.api = direct(int(ENV["CLUSTER_API_PORTS"].split()[0]))
        wait_ready(self.api, 200, 30)
        self.wait_events_queue_primary()

    def tearDown(self):
        allow_all()
        for name in ("projector-1", "projector-2"):
            try:
                os.kill(pid_of(name), signal.SIGCONT)
            except (OSError, ValueError):
                pass
        cluster_up()

    # -- helpers ---------------------------------------------------------------------------------

    def post(self, token, title):
        response = self.server.commands([create(title, new_id())], token=token)
        self.assertEqual(response.status, 202, response.body)
        return response.json()["idempotencyKeys"][0]

    def wait_completed(self, token, key, timeout=30):
        """Waits for the command's outcome only, not for its projection."""
        def outcome():
            response = self.server.request("GET", "/api/commands/" + key, token=token)
            if response.status == 200 and response.json()["status"] != "pending":
                return response.json()
            return None
        self.assertEqual(self.server.wait_for(outcome, timeout, 0.05)["status"], "completed")

    def titles(self, token):
        return [task["title"] for task in self.server.all_tasks(token)]

    def wait_titles(self, token, expected, timeout=30):
        def listed():
            return self.titles(token) == expected
        try:
            self.server.wait_for(listed, timeout, 0.05)
        except AssertionError:
            self.fail("tasks are %s, expected %s" % (self.titles(token), expected))

    def wait_events_queue_primary(self, timeout=15):
        """Waits until no projector is still reading the event store after an earlier outage."""
        logs = os.path.join(ENV["CLUSTER_DIR"], "logs")
        deadline = time.time() + timeout
        while True:
            on_fallback = []
            for path in glob.glob(os.path.join(logs, "projector-*.log")):
                reading_store = False  # a stopped projector reads nothing
                with open(path, errors="replace") as f:
                    for raw in f:
                        if "events queue unavailable" in raw:
                            reading_store = True
                        elif "events queue is back" in raw or "projector stopped" in raw:
                            reading_store = False
                if reading_store:
                    on_fallback.append(os.path.basename(path))
            if not on_fallback:
                return
            if time.time() > deadline:
                self.fail("%s still read the event store" % on_fallback)
            time.sleep(0.2)

    def wait_logged(self, window, message, timeout=15):
        deadline = time.time() + timeout
        while message not in window.messages():
            if time.time() > deadline:
                self.fail("no process logged %r" % message)
            time.sleep(0.1)

    def assert_logged_per_change(self, window, expected):
        """Each expected message was logged, and no message more than twice per process."""
        counts = {}
        for line in window.lines():
            if line.get("level") not in ("warning", "error"):
                continue
            key = (line["file"], line.get("component"), line["msg"], line.get("pool"))
            counts[key] = counts.get(key, 0) + 1
        repeated = {key: n for key, n in counts.items() if n > MAX_LINES_PER_MESSAGE}
        self.assertEqual(repeated, {}, "logged once per request, not once per change of state")
        messages = window.messages()
        for message in expected:
            # A tuple lists alternatives: each of them marks the same change of state.
            alternatives = message if isinstance(message, tuple) else (message,)
            self.assertTrue(any(m in messages for m in alternatives), (alternatives, messages))

    # -- tests -----------------------------------------------------------------------------------

    def test_cache_gone_reads_from_database(self):
        token = make_token("cache-gone-" + uuid.uuid4().hex[:6])
        self.wait_completed(token, self.post(token, "before"))
        self.wait_titles(token, ["before"])  # the first page is cached now
        window = LogWindow()

        allow_only([COMMAND_QUEUE_KEYS, EVENTS_QUEUE_KEYS])
        try:
            with Reads(self.server, token) as reads:
                self.wait_completed(token, self.post(token, "during"))
                self.wait_titles(token, ["before", "during"])
                time.sleep(2)
            # The cache is optional: the service stays ready and every read succeeds.
            self.assertEqual(self.api.request("GET", "/readyz", token=None).status, 200)
        finally:
            allow_all()
        self.assertGreater(len(reads.statuses), 20)
        self.assertEqual(set(reads.statuses), {200})

        # The page cached before the outage missed the refresh. Once the projector reaches the
        # cache again it invalidates that page, so from then on no reader sees it.
        self.wait_titles(token, ["before", "during"], timeout=5)
        for _ in range(20):
            self.assertEqual(self.titles(token), ["before", "during"])
        self.wait_logged(window, "cache reachable again")
        self.assert_logged_per_change(window, [
            "cache unavailable; reads go to the read models until it is back",
            "cache refresh failed; older entries are invalidated once it is back"])

    def test_events_queue_gone_projections_catch_up(self):
        window = LogWindow()
        allow_only([COMMAND_QUEUE_KEYS] + CACHE_KEYS)
        try:
            with Load(self.server, threads=2) as load:
                time.sleep(3)
            self.assertGreater(len(load.accepted), 20)
            self.assertEqual(load.failures, [])
            # Each accepted command completes and its task is listed, although no event reaches
            # the projectors through the queue.
            for token, key, _ in load.accepted:
                self.wait_completed(token, key)
            by_token = {}
            for token, _, title in load.accepted:
                by_token.setdefault(token, []).append(title)
            for token, titles in by_token.items():
                self.server.wait_for(lambda: set(titles) <= set(self.titles(token)), 30, 0.05)
                seen = self.titles(token)
                for title in titles:
                    self.assertEqual(seen.count(title), 1, title)
        finally:
            allow_all()

        # The relays and the projector go back to the queue by themselves.
        self.wait_logged(window, "relaying events again")
        self.wait_logged(window, "events queue is back; reading from it again")
        token = make_token("queue-back-" + uuid.uuid4().hex[:6])
        self.wait_completed(token, self.post(token, "after"))
        self.wait_titles(token, ["after"])
        self.assert_logged_per_change(window, [
            "events queue unavailable; catching up from the event store",
            "relaying events failed; retrying until it works"])

    def test_redis_gone_rejects_writes(self):
        token = make_token("redis-gone-" + uuid.uuid4().hex[:6])
        self.wait_completed(token, self.post(token, "before"))
        self.wait_titles(token, ["before"])

        # Hold the projectors, so that events committed now can only reach the read models
        # through the event store once Redis is gone.
        projectors = [pid_of("projector-1"), pid_of("projector-2")]
        for pid in projectors:
            os.kill(pid, signal.SIGSTOP)
        try:
            keys = [self.post(token, "held %d" % i) for i in range(5)]
            for key in keys:
                self.wait_completed(token, key)
            window = LogWindow()
            os.kill(pid_of("redis"), signal.SIGKILL)
        finally:
            for pid in projectors:
                os.kill(pid, signal.SIGCONT)

        expected = ["before"] + ["held %d" % i for i in range(5)]
        self.wait_titles(token, expected)
        wait_ready(self.api, 503, 15)
        # Nothing can store a command now: writes are rejected with a time to retry.
        for _ in range(30):
            response = self.server.commands([create("refused", new_id())], token=token)
            self.assertEqual(response.status, 503, response.body)
            self.assertTrue(response.header("Retry-After"), response.headers)
        self.assertEqual(self.titles(token), expected)

        cluster_up()  # Redis again, from its append-only file; the prism processes keep running
        wait_ready(self.api, 200, 30)
        self.wait_completed(token, self.post(token, "after"))
        self.wait_titles(token, expected + ["after"])
        # The leader logs its switch to the event store only if its blocked read had not yet
        # received the events. The events queue test checks that switch.
        self.assert_logged_per_change(window, ["redis is unavailable; reconnecting with back-off"])

    def test_postgres_gone_queues_writes(self):
        cached = make_token("pg-gone-" + uuid.uuid4().hex[:6])
        uncached = make_token("pg-gone-other-" + uuid.uuid4().hex[:6])
        self.wait_completed(cached, self.post(cached, "before"))
        self.wait_titles(cached, ["before"])
        window = LogWindow()

        stop_postgres()
        try:
            wait_ready(self.api, 503, 15)
            # Redis still takes commands durably, so writes are accepted and wait in the queue.
            keys = [self.post(cached, "queued %d" % i) for i in range(30)]
            # Cached pages are served. Other reads get 503 with a time to retry.
            self.assertEqual(self.titles(cached), ["before"])
            for _ in range(30):
                response = self.server.request("GET", "/api/tasks", token=uncached)
                self.assertEqual(response.status, 503, response.body)
                self.assertTrue(response.header("Retry-After"), response.headers)
        finally:
            cluster_up()  # PostgreSQL again; the prism processes keep running

        wait_ready(self.api, 200, 30)
        for key in keys:
            self.wait_completed(cached, key, timeout=60)
        self.wait_titles(cached, ["before"] + ["queued %d" % i for i in range(30)])
        # A pool logs whichever of these comes first: a broken session or a failed connect.
        self.assert_logged_per_change(window, [("database connection lost",
                                                "database unreachable; retrying with back-off")])


if __name__ == "__main__":
    unittest.main()
