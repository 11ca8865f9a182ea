"""The roles as separate processes on one embedded database, `prism init`, and the cleaner."""

import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import uuid

from harness import PRISM, SECRET, PrismServer, complete, create, free_port, make_token, new_id, update


def role_env(data_dir, **extra):
    env = dict(os.environ, PRISM_DATA_DIR=data_dir, AUTH0_TEST_MODE="1", TEST_JWT_SECRET=SECRET,
               PRISM_BIND_ADDRESS="127.0.0.1")
    env.update(extra)
    return env


class Init(unittest.TestCase):
    def test_init_twice_and_concurrently_leaves_one_schema(self):
        data_dir = tempfile.mkdtemp(prefix="prism-init-")
        try:
            env = role_env(data_dir)
            first = subprocess.run([PRISM, "init"], env=env, capture_output=True, timeout=30)
            self.assertEqual(first.returncode, 0, first.stderr)
            again = subprocess.run([PRISM, "init"], env=env, capture_output=True, timeout=30)
            self.assertEqual(again.returncode, 0, again.stderr)
            racers = [subprocess.Popen([PRISM, "init"], env=role_env(data_dir + "/race"),
                                       stderr=subprocess.PIPE) for _ in range(4)]
            for racer in racers:
                _, errors = racer.communicate(timeout=30)
                self.assertEqual(racer.returncode, 0, errors)
            for directory in (data_dir, data_dir + "/race"):
                version = subprocess.run(["sqlite3", directory + "/prism.db", "PRAGMA user_version"],
                                         capture_output=True, text=True).stdout.strip()
                tables = subprocess.run(["sqlite3", directory + "/prism.db",
                                         "SELECT count(*) FROM sqlite_master WHERE name = 'events'"],
                                        capture_output=True, text=True).stdout.strip()
                self.assertEqual(tables, "1")
                self.assertGreaterEqual(int(version), 1)
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)

    def test_invalid_value_exits_2_naming_the_variable(self):
        cases = {"PORT": "abc", "TASKS_PAGE_SIZE": "-1", "TASKS_CACHE_TTL": "12 hours",
                 "IDEMPOTENCY_CLEANER_SCHEDULE": "*/5 * * * *"}
        cases["IDEMPOTENCY_RETENTION"] = "-1h"
        for name, value in cases.items():
            with self.subTest(name):
                result = subprocess.run([PRISM, "serve"], env=dict(os.environ, **{name: value}),
                                        capture_output=True, text=True, timeout=10)
                self.assertEqual(result.returncode, 2)
                self.assertIn(name, result.stderr)
                self.assertIn(value, result.stderr)


class SeparateRoles(unittest.TestCase):
    def test_api_domain_projector_as_separate_processes(self):
        data_dir = tempfile.mkdtemp(prefix="prism-roles-")
        port = free_port()
        processes = []
        try:
            for role in ("domain", "projector", "api"):
                log = open(os.path.join(data_dir, role + ".log"), "wb")
                processes.append(subprocess.Popen([PRISM, role], env=role_env(data_dir, PORT=str(port)),
                                                  stdout=log, stderr=log))
                log.close()
            server = PrismServer(data_dir=data_dir)
            server.port = port
            server.wait_for(lambda: _healthy(server), timeout=10)
            token = make_token("roles-" + uuid.uuid4().hex[:6])
            task_id = new_id()
            response = server.commands([create("across processes", task_id)], token=token)
            self.assertEqual(response.status, 202, response.body)
            tasks = server.wait_for(lambda: server.all_tasks(token), timeout=10)
            self.assertEqual([t["id"] for t in tasks], [task_id])
            for process in processes:
                process.send_signal(signal.SIGTERM)
            for process in processes:
                self.assertEqual(process.wait(timeout=15), 0)
        finally:
            for process in processes:
                if process.poll() is None:
                    process.kill()
            shutil.rmtree(data_dir, ignore_errors=True)


def _healthy(server):
    try:
        return server.request("GET", "/healthz", token=None).status == 200
    except OSError:
        return False


class Rebuild(unittest.TestCase):
    def test_rebuild_twice_equals_live_model(self):
        server = PrismServer().start()
        try:
            token = make_token("rebuild-" + uuid.uuid4().hex[:6])
            ids = [new_id() for _ in range(12)]
            commands = [create("task %d" % i, task_id, order=i) for i, task_id in enumerate(ids)]
            commands += [update(ids[0], title="renamed", category="fun"), complete(ids[1])]
            keys = server.commands(commands, token=token).json()["idempotencyKeys"]
            server.wait_for_outcome(keys[-1], token=token)
            live = server.wait_for(lambda: _settled(server, token), timeout=10)
            settings = server.request("GET", "/api/settings", token=token).json()
            self.assertEqual(server.stop(), 0)
            for attempt in range(2):
                result = subprocess.run([PRISM, "rebuild"], env=server.env, capture_output=True,
                                        text=True, timeout=60)
                self.assertEqual(result.returncode, 0, result.stderr)
                self.assertIn("replayed", result.stdout)
                rebuilt = PrismServer(data_dir=server.data_dir).start()
                try:
                    self.assertEqual(rebuilt.all_tasks(token), live, "after rebuild %d" % (attempt + 1))
                    self.assertEqual(rebuilt.request("GET", "/api/settings", token=token).json(), settings)
                finally:
                    rebuilt.stop()
        finally:
            server.cleanup()


def _settled(server, token):
    tasks = server.all_tasks(token)
    return tasks if len(tasks) == 12 and any(t.get("done") for t in tasks) else None


class Cleaner(unittest.TestCase):
    def test_keys_kept_within_retention_and_forgotten_after(self):
        server = PrismServer({"IDEMPOTENCY_CLEANER_SCHEDULE": "* * * * * *",
                              "IDEMPOTENCY_RETENTION": "3s"}).start()
        try:
            token = make_token("cleaner-" + uuid.uuid4().hex[:6])
            key = "retained-" + uuid.uuid4().hex
            self.assertEqual(server.commands([create("first", key=key)], token=token).status, 202)
            self.assertEqual(server.wait_for_outcome(key, token=token)["status"], "completed")
            # A retry within the retention creates nothing.
            self.assertEqual(server.commands([create("retry", key=key)], token=token).status, 202)
            time.sleep(1.0)
            self.assertEqual([t["title"] for t in server.all_tasks(token)], ["first"])
            self.assertEqual(server.request("GET", "/api/commands/" + key, token=token).status, 200)
            # After the retention the cleaner forgets the key.
            server.wait_for(lambda: server.request("GET", "/api/commands/" + key, token=token).status == 404,
                            timeout=10, interval=0.2)
            self.assertIn('"removed"', server.log())
        finally:
            server.cleanup()


if __name__ == "__main__":
    unittest.main()
