"""Failure tests on the local cluster (scripts/cluster): replicas, workers and servers that die.

Run with the cluster up in test mode (AUTH0_TEST_MODE=1, TEST_JWT_SECRET equal to the harness's
SECRET); scripts/cluster-tests.sh does that. Every test leaves the cluster whole again.
"""

import os
import signal
import subprocess
import sys
import threading
import time
import unittest
import uuid

# Appended, not prepended: tests/http has a test_crash module of its own.
sys.path.append(os.path.join(os.path.dirname(__file__), "..", "http"))

from harness import RemoteServer, create, make_token, new_id  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CLUSTER = os.path.join(REPO, "scripts", "cluster")


def cluster_env():
    output = subprocess.run([CLUSTER, "env"], check=True, capture_output=True, text=True).stdout
    values = {}
    for line in output.splitlines():
        key, _, value = line.partition("=")
        values[key] = value.strip('"')
    return values


ENV = cluster_env()


def pid_of(name):
    with open(os.path.join(ENV["CLUSTER_DIR"], "run", name + ".pid")) as f:
        return int(f.read().strip())


def cluster_up():
    subprocess.run([CLUSTER, "up"], check=True, capture_output=True, text=True, timeout=120)


def wait_ready(client, expected, timeout):
    """Polls GET /readyz of `client` until it returns `expected`; fails after `timeout` seconds."""
    deadline = time.time() + timeout
    status = None
    while time.time() < deadline:
        try:
            status = client.request("GET", "/readyz", token=None, timeout=2).status
        except OSError:
            status = None
        if status == expected:
            return
        time.sleep(0.1)
    raise AssertionError("/readyz stayed %s, expected %d" % (status, expected))


def direct(port):
    """A client of one process, bypassing nginx and HAProxy."""
    return RemoteServer("http://127.0.0.1:%d" % port)


class Load:
    """Posts one create-task command per request from several threads until stopped."""

    def __init__(self, server, users=4, threads=4):
        self.server = server
        self.tokens = [make_token("failure-" + uuid.uuid4().hex[:10]) for _ in range(users)]
        self.accepted = []  # (token, key, title)
        self.failures = []  # (time, status or error)
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(i,)) for i in range(threads)]

    def run(self, index):
        sequence = 0
        while not self.stop_event.is_set():
            token = self.tokens[(index + sequence) % len(self.tokens)]
            title = "load %d-%d %s" % (index, sequence, uuid.uuid4().hex[:6])
            sequence += 1
            try:
                response = self.server.commands([create(title, new_id())], token=token, timeout=5)
                status = response.status
            except OSError as error:
                status = repr(error)
                response = None
            with self.lock:
                if status == 202:
                    self.accepted.append((token, response.json()["idempotencyKeys"][0], title))
                else:
                    self.failures.append((time.time(), status))

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        for thread in self.threads:
            thread.join()


class ClusterFailures(unittest.TestCase):
    def setUp(self):
        cluster_up()
        self.server = RemoteServer(ENV["CLUSTER_URL"], ENV["CLUSTER_CA_FILE"])

    def tearDown(self):
        cluster_up()

    def assert_each_accepted_once(self, load, timeout=60):
        """Every 202 command completes, and each task exists exactly once."""
        for token, key, _ in load.accepted:
            outcome = self.server.wait_for_outcome(key, token=token, timeout=timeout)
            self.assertEqual(outcome["status"], "completed", outcome)
        titles_by_token = {}
        for token, _, title in load.accepted:
            titles_by_token.setdefault(token, []).append(title)
        for token, titles in titles_by_token.items():
            seen = [task["title"] for task in self.server.all_tasks(token, page_size=100)]
            for title in titles:
                self.assertEqual(seen.count(title), 1, title)

    def test_killed_api_replica_is_routed_around(self):
        with Load(self.server) as load:
            time.sleep(1.5)
            os.kill(pid_of("api-2"), signal.SIGKILL)
            killed_at = time.time()
            time.sleep(3)
        self.assertGreater(len(load.accepted), 20)
        # HAProxy retries refused connections and marks the replica down within about a second;
        # after that no request may fail.
        late_failures = [f for f in load.failures if f[0] > killed_at + 1.5]
        self.assertEqual(late_failures, [])
        self.assert_each_accepted_once(load)

    def test_domain_worker_killed_holding_commands(self):
        # Freeze one worker so that it leases commands and never finishes them, then kill it.
        victim = pid_of("domain-1")
        os.kill(victim, signal.SIGSTOP)
        try:
            with Load(self.server, threads=2) as load:
                time.sleep(2)
        finally:
            os.kill(victim, signal.SIGKILL)  # a stopped process dies at once on SIGKILL
        self.assertGreater(len(load.accepted), 10)
        self.assertEqual(load.failures, [])
        # The other worker claims the dead worker's commands once their lease expires.
        self.assert_each_accepted_once(load)

    def check_outage(self, stop, name):
        api = direct(int(ENV["CLUSTER_API_PORTS"].split()[0]))
        wait_ready(api, 200, 10)
        stop()
        wait_ready(api, 503, 15)
        cluster_up()  # starts the stopped server again; the prism processes keep running
        wait_ready(api, 200, 30)
        token = make_token("outage-" + name + "-" + uuid.uuid4().hex[:6])
        response = self.server.commands([create("after " + name, new_id())], token=token)
        self.assertEqual(response.status, 202, response.body)
        outcome = self.server.wait_for_outcome(response.json()["idempotencyKeys"][0], token=token,
                                               timeout=30)
        self.assertEqual(outcome["status"], "completed")
        self.assertEqual([t["title"] for t in self.server.all_tasks(token)], ["after " + name])

    def test_redis_restart_is_survived(self):
        def stop():
            os.kill(pid_of("redis"), signal.SIGTERM)
        self.check_outage(stop, "redis")

    def test_postgres_restart_is_survived(self):
        def stop():
            data = os.path.join(ENV["CLUSTER_DIR"], "postgres")
            command = ["pg_ctl", "-D", data, "-m", "fast", "-w", "stop"]
            bin_dirs = sorted(d for d in os.listdir("/usr/lib/postgresql"))
            command[0] = os.path.join("/usr/lib/postgresql", bin_dirs[-1], "bin", "pg_ctl")
            if os.geteuid() == 0:
                command = ["runuser", "-u", "postgres", "--"] + command
            subprocess.run(command, check=True, capture_output=True)
        self.check_outage(stop, "postgres")


if __name__ == "__main__":
    unittest.main()
