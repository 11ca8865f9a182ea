"""Crash test on the local cluster: kill -9 random prism processes while many users send commands.

Each user's thread sends its commands in order (batches of 1 to 4 mixed task and settings
commands, with client-chosen ids and idempotency keys) through nginx, and resends a batch with the
same keys until it gets 202. Meanwhile a killer thread kill -9s a random prism role (api-N,
domain-N, projector-N, stream or cleaner) and restarts it with `scripts/cluster up`, one process
at a time, so at least two API replicas run at every moment. Afterwards:

- every accepted command has the outcome that the user's own model of its tasks predicts,
- each command produced exactly the events that model predicts (no loss, no duplicate),
- each user's task list and settings equal the model's final state, and
- the read-model tables equal those that `prism rebuild` produces from a copy of the event store.

Run with the cluster up in test mode (scripts/cluster-tests.sh does that). Settings (environment):
PRISM_CLUSTER_CRASH_SEED (random by default; printed), PRISM_CLUSTER_CRASH_COMMANDS (10000),
PRISM_CLUSTER_CRASH_USERS (20), PRISM_CLUSTER_CRASH_KILLS (12).
"""

import http.client
import json
import os
import random
import shutil
import signal
import ssl
import subprocess
import threading
import time
import unittest
import urllib.parse
import uuid

from test_failures import ENV, REPO, RemoteServer, cluster_up, make_token, pid_of

SEED = int(os.environ.get("PRISM_CLUSTER_CRASH_SEED") or random.randrange(2**32))
COMMANDS = int(os.environ.get("PRISM_CLUSTER_CRASH_COMMANDS", "10000"))
USERS = int(os.environ.get("PRISM_CLUSTER_CRASH_USERS", "20"))
KILLS = int(os.environ.get("PRISM_CLUSTER_CRASH_KILLS", "12"))

# The prism processes the killer may pick; HAProxy, nginx, Redis and PostgreSQL are left alone.
ROLE_PREFIXES = ("api-", "domain-", "projector-", "stream", "cleaner")
CATEGORIES = ("critical", "fun", "important", "normal")
SEND_DEADLINE_S = 60  # how long one batch may keep failing before the test gives up
OUTCOME_TIMEOUT_S = 120
RESEND_SHARE = 0.03  # share of accepted batches that are posted a second time
DEFAULT_SETTINGS = {"tasksPerCategory": 3, "showDoneTasks": False}


def postgres_tool(name):
    """Path of a PostgreSQL client program of the same version as the cluster's server."""
    versions = sorted(os.listdir("/usr/lib/postgresql"), key=lambda v: [int(p) for p in v.split(".")])
    path = os.path.join("/usr/lib/postgresql", versions[-1], "bin", name)
    return path if os.path.exists(path) else shutil.which(name)


def psql(database, sql, stdin=None):
    """Runs one SQL statement as the superuser and returns its unaligned output."""
    command = [postgres_tool("psql"), "-h", "127.0.0.1", "-p", ENV["CLUSTER_POSTGRES_PORT"],
               "-U", "postgres", "-d", database, "-qAt", "-v", "ON_ERROR_STOP=1", "-c", sql]
    return subprocess.run(command, check=True, capture_output=True, text=True, input=stdin,
                          timeout=120).stdout


def task_command(command_type, data):
    return {"entityType": "task", "type": command_type, "data": data}


def sql_list(values):
    return "(" + ",".join("'%s'" % v.replace("'", "''") for v in values) + ")"


class KeepAliveClient:
    """One HTTPS connection to nginx, reopened after any error."""

    def __init__(self, url, ca_file):
        parsed = urllib.parse.urlsplit(url)
        self.host, self.port = parsed.hostname, parsed.port
        self.context = ssl.create_default_context(cafile=ca_file)
        self.connection = None

    def post(self, path, body, token, timeout=10):
        if self.connection is None:
            self.connection = http.client.HTTPSConnection(self.host, self.port, timeout=timeout,
                                                          context=self.context)
        headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
        try:
            self.connection.request("POST", path, body=json.dumps(body).encode(), headers=headers)
            response = self.connection.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None


class UserModel:
    """One user's tasks and settings as the accepted commands leave them, in acceptance order.

    next_batch() draws commands and records, for each, the outcome and the number of events that
    the domain's rules produce, and applies the command's effect to the model.
    """

    def __init__(self, index, user_id, rng, foreign_ids):
        self.index = index
        self.user_id = user_id
        self.rng = rng
        self.foreign_ids = foreign_ids  # task ids created by other users, shared
        self.tasks = {}  # id -> {"title", "notes", "category", "order", "done"}
        self.created_order = []  # task ids in creation order
        self.settings = None  # None until the first settings command
        self.expected = {}  # idempotency key -> (status, event count)
        self.sequence = 0

    def new_key(self):
        self.sequence += 1
        suffix = uuid.UUID(int=self.rng.getrandbits(128)).hex[:8]
        return "crash-%d-%d-%s" % (self.index, self.sequence, suffix)

    def new_task_id(self):
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def next_batch(self, max_size):
        return [self.next_command() for _ in range(min(self.rng.randint(1, 4), max_size))]

    def next_command(self):
        roll = self.rng.random()
        if not self.tasks or roll < 0.35:
            command, status, events = self.create()
        elif roll < 0.60:
            command, status, events = self.update()
        elif roll < 0.72:
            command, status, events = self.complete()
        elif roll < 0.80:
            command, status, events = self.reopen()
        elif roll < 0.85:
            command, status, events = self.update_settings()
        else:
            command, status, events = self.rejected()
        command["idempotencyKey"] = self.new_key()
        self.expected[command["idempotencyKey"]] = (status, events)
        return command

    def create(self):
        task_id = self.new_task_id()
        task = {"title": "task %d of user %d" % (len(self.created_order) + 1, self.index),
                "notes": self.rng.choice(["", "notes %d" % self.rng.randint(1, 99)]),
                "category": self.rng.choice(CATEGORIES), "order": self.rng.randint(0, 50),
                "done": False}
        self.tasks[task_id] = task
        self.created_order.append(task_id)
        data = {"id": task_id, "title": task["title"], "category": task["category"],
                "order": task["order"]}
        if task["notes"]:
            data["notes"] = task["notes"]
        return task_command("create-task", data), "completed", 1

    def update(self):
        task_id = self.rng.choice(self.created_order)
        task = self.tasks[task_id]
        changes = {}
        fields = ["title", "notes", "category", "order", "done"]
        for field in self.rng.sample(fields, self.rng.randint(1, 3)):
            if field == "title":
                changes["title"] = task["title"].split(" (")[0] + " (edit %d)" % self.sequence
            elif field == "notes":
                changes["notes"] = self.rng.choice(["", "edited notes %d" % self.sequence])
            elif field == "category":
                changes["category"] = self.rng.choice(CATEGORIES)
            elif field == "order":
                changes["order"] = self.rng.randint(0, 50)
            else:
                changes["done"] = self.rng.random() < 0.5
        # Moving a done task into a category reopens it unless the update sets done itself.
        if task["done"] and "category" in changes and "done" not in changes:
            task["done"] = False
        task.update(changes)
        return task_command("update-task", {"id": task_id, **changes}), "completed", 1

    def complete(self):
        task_id = self.rng.choice(self.created_order)
        events = 0 if self.tasks[task_id]["done"] else 1
        self.tasks[task_id]["done"] = True
        return task_command("complete-task", {"id": task_id}), "completed", events

    def reopen(self):
        task_id = self.rng.choice(self.created_order)
        events = 1 if self.tasks[task_id]["done"] else 0
        self.tasks[task_id]["done"] = False
        return task_command("reopen-task", {"id": task_id}), "completed", events

    def update_settings(self):
        changes = {}
        if self.rng.random() < 0.7:
            changes["tasksPerCategory"] = self.rng.randint(1, 1000)
        if not changes or self.rng.random() < 0.5:
            changes["showDoneTasks"] = self.rng.random() < 0.5
        # The first settings change of a user also creates the settings with the defaults.
        events = 2 if self.settings is None else 1
        self.settings = dict(self.settings or DEFAULT_SETTINGS, **changes)
        command = {"entityType": "user-settings", "type": "update-user-settings", "data": changes}
        return command, "completed", events

    def rejected(self):
        """A command the domain must reject: it names a missing task, another user's or a taken id."""
        roll = self.rng.random()
        if roll < 0.4:
            data = {"id": self.new_task_id(), "title": "never created"}
            return task_command("update-task", data), "rejected", 0
        if roll < 0.7 and self.foreign_ids:
            # The other user's create may not be processed yet; the task is missing then, which
            # the domain rejects with the same reason.
            task_id = self.rng.choice(self.foreign_ids)
            return task_command("complete-task", {"id": task_id}), "rejected", 0
        data = {"id": self.rng.choice(self.created_order), "title": "duplicate id", "order": 0}
        return task_command("create-task", data), "rejected", 0

    def listed_tasks(self):
        """The model's tasks as GET /api/tasks returns them, in creation order."""
        listed = []
        for task_id in self.created_order:
            task = self.tasks[task_id]
            item = {"id": task_id, "title": task["title"], "category": task["category"],
                    "order": task["order"]}
            if task["notes"]:
                item["notes"] = task["notes"]
            if task["done"]:
                item["done"] = True
            listed.append(item)
        return listed


class Gate:
    """Holds the senders back so that the load spans every kill: after k kills, batches may start
    until (k + 2) / (KILLS + 2) of them have, so the last part of the load follows the last kill."""

    def __init__(self, batches_total):
        self.batches_total = batches_total
        self.batches_started = 0
        self.kills_done = 0
        self.open = KILLS == 0
        self.condition = threading.Condition()

    def enter(self):
        with self.condition:
            while not self.open and (self.batches_started * (KILLS + 2)
                                     >= (self.kills_done + 2) * self.batches_total):
                self.condition.wait(1)
            self.batches_started += 1

    def killed(self):
        with self.condition:
            self.kills_done += 1
            self.open = self.open or self.kills_done >= KILLS
            self.condition.notify_all()

    def release(self):
        """Lets every remaining batch start, for when the killer failed."""
        with self.condition:
            self.open = True
            self.condition.notify_all()


class ClusterCrash(unittest.TestCase):
    def setUp(self):
        cluster_up()
        self.server = RemoteServer(ENV["CLUSTER_URL"], ENV["CLUSTER_CA_FILE"])
        self.errors = []  # failures of the sender and killer threads
        self.kills = []  # (role name, seconds down)
        self.resends = 0  # batches posted again after a failed attempt or on purpose after a 202
        self.lock = threading.Lock()

    def tearDown(self):
        cluster_up()
        psql("postgres", "DROP DATABASE IF EXISTS prism_replay")

    # -------------------------------------------------------------------------------------------
    # Load and killer threads

    def send_all(self, model, token, batches, gate):
        client = KeepAliveClient(ENV["CLUSTER_URL"], ENV["CLUSTER_CA_FILE"])
        try:
            for batch in batches:
                gate.enter()
                self.send_until_accepted(client, model, token, batch)
                # A client whose 202 got lost sends the batch again. Some batches are resent on
                # purpose, so every run checks that a repeated key changes nothing.
                if model.rng.random() < RESEND_SHARE:
                    with self.lock:
                        self.resends += 1
                    self.send_until_accepted(client, model, token, batch)
        except Exception as error:  # noqa: BLE001 - reported by the test body
            self.errors.append("user %d: %r" % (model.index, error))
        finally:
            client.close()

    def send_until_accepted(self, client, model, token, batch):
        """Posts the batch until it gets 202. A batch whose response was lost may have been queued
        already; resending it with the same keys must then change nothing."""
        keys = [command["idempotencyKey"] for command in batch]
        deadline = time.time() + SEND_DEADLINE_S
        while True:
            try:
                status, body = client.post("/api/commands", batch, token)
            except (OSError, http.client.HTTPException) as error:
                status, body = None, repr(error).encode()
            if status == 202:
                self.assertEqual(json.loads(body)["idempotencyKeys"], keys)
                return
            if status not in (None, 502, 503, 504):
                raise AssertionError("user %d: POST /api/commands returned %s: %s" %
                                     (model.index, status, body[:300]))
            with self.lock:
                self.resends += 1
            if time.time() > deadline:
                raise AssertionError("user %d: batch not accepted within %d s, last: %s %s" %
                                     (model.index, SEND_DEADLINE_S, status, body[:300]))
            time.sleep(0.05 + model.rng.random() * 0.2)

    def role_names(self):
        files = os.listdir(os.path.join(ENV["CLUSTER_DIR"], "run"))
        names = [f[:-len(".pid")] for f in files if f.endswith(".pid")]
        return sorted(n for n in names if n.startswith(ROLE_PREFIXES))

    def wait_gone(self, pid, timeout=10):
        """Waits until the process has exited: gone, or a zombie, which `cluster up` restarts."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                with open("/proc/%d/stat" % pid) as f:
                    if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                        return
            except FileNotFoundError:
                return
            time.sleep(0.02)
        raise AssertionError("process %d still runs %d s after SIGKILL" % (pid, timeout))

    def kill_and_restart(self, rng, gate, done):
        try:
            while gate.kills_done < KILLS and not done.is_set():
                time.sleep(rng.uniform(0.2, 1.5))
                name = rng.choice(self.role_names())
                if name.startswith("api-"):
                    alive = [n for n in self.role_names() if n.startswith("api-") and n != name
                             and os.path.exists("/proc/%d" % pid_of(n))]
                    self.assertTrue(alive, "no other API replica runs; not killing " + name)
                pid = pid_of(name)
                os.kill(pid, signal.SIGKILL)
                killed_at = time.time()
                self.wait_gone(pid)
                time.sleep(rng.uniform(0, 1.0))  # the role stays down for a while
                cluster_up()
                if pid_of(name) == pid:
                    try:
                        with open("/proc/%d/stat" % pid) as f:
                            state = f.read()
                    except FileNotFoundError:
                        state = "no such process"
                    self.fail("%s (pid %d) was not restarted; /proc/PID/stat: %s" % (name, pid, state))
                self.kills.append((name, time.time() - killed_at))
                gate.killed()
        except Exception as error:  # noqa: BLE001 - reported by the test body
            self.errors.append("killer: %r" % error)
            gate.release()

    # -------------------------------------------------------------------------------------------
    # Checks

    def wait_for_outcomes(self, models):
        """Returns {(user, key): status} once every accepted command has an outcome."""
        users = sql_list(m.user_id for m in models)
        expected = sum(len(m.expected) for m in models)
        deadline = time.time() + OUTCOME_TIMEOUT_S
        while True:
            query = "SELECT user_id, key, status FROM idempotency WHERE user_id IN %s" % users
            rows = psql("prism", query)
            outcomes = {}
            for line in rows.splitlines():
                user_id, key, status = line.split("|")
                outcomes[(user_id, key)] = status
            if len(outcomes) >= expected or time.time() > deadline:
                return outcomes
            time.sleep(0.5)

    def check_outcomes(self, models, outcomes):
        for model in models:
            for key, (status, _) in model.expected.items():
                self.assertEqual(outcomes.get((model.user_id, key)), status,
                                 "outcome of %s of %s" % (key, model.user_id))
        self.assertEqual(len(outcomes), sum(len(m.expected) for m in models),
                         "outcomes of unknown keys")

        # The API returns the same outcomes; a sample keeps this quick.
        rng = random.Random(SEED)
        for model, token in rng.sample(list(self.tokens.items()), min(5, len(models))):
            for key in rng.sample(sorted(model.expected), min(20, len(model.expected))):
                response = self.server.request("GET", "/api/commands/" + key, token=token)
                self.assertEqual(response.status, 200, response.body)
                self.assertEqual(response.json()["status"], model.expected[key][0], key)

    def check_events(self, models):
        """Each command produced exactly the events its user's model predicts."""
        users = sql_list(m.user_id for m in models)
        rows = psql("prism", "SELECT user_id, idempotency_key, count(*) FROM events "
                             "WHERE user_id IN %s GROUP BY 1, 2" % users)
        counts = {}
        for line in rows.splitlines():
            user_id, key, count = line.split("|")
            counts[(user_id, key)] = int(count)
        for model in models:
            for key, (_, events) in model.expected.items():
                self.assertEqual(counts.pop((model.user_id, key), 0), events,
                                 "events of %s of %s" % (key, model.user_id))
        self.assertEqual(counts, {}, "events of keys no user sent")

    def check_read_model(self, models):
        for model in models:
            token = self.tokens_by_user[model.user_id]
            self.assertEqual(self.server.all_tasks(token, page_size=1000), model.listed_tasks(),
                             "tasks of " + model.user_id)
            settings = self.server.request("GET", "/api/settings", token=token)
            self.assertEqual(settings.status, 200)
            self.assertEqual(settings.json(), model.settings or DEFAULT_SETTINGS,
                             "settings of " + model.user_id)

    def check_replay_equals_live(self):
        """Copies the event store into a new database, runs `prism rebuild` on it and compares
        every read-model table (those `prism rebuild` truncates) row by row with the live ones."""
        psql("postgres", "DROP DATABASE IF EXISTS prism_replay")
        psql("postgres", "CREATE DATABASE prism_replay OWNER prism")
        replay_url = ENV["DATABASE_URL"].rsplit("/", 1)[0] + "/prism_replay"
        env = dict(os.environ, DATABASE_URL=replay_url,
                   REDIS_CONNECTION_STRING=ENV["REDIS_CONNECTION_STRING"])
        prism = os.environ.get("PRISM_BINARY", os.path.join(REPO, "build", "release", "src", "prism"))
        subprocess.run([prism, "init"], env=env, check=True, capture_output=True, timeout=60)
        # Only the events are copied: the replay must derive everything else from them.
        events = psql("prism", "COPY events TO STDOUT")
        psql("prism_replay", "COPY events FROM STDIN", stdin=events)
        result = subprocess.run([prism, "rebuild"], env=env, capture_output=True, text=True,
                                timeout=120)
        self.assertEqual(result.returncode, 0, result.stderr[-2000:])

        # Compared: the read models. Not compared: the event store, idempotency records, cursors,
        # queues, checkpoints of consumers, dead letters, accounts and secrets, which are inputs
        # or bookkeeping rather than state derived from the events.
        tables = {"tasks": "id", "users": "user_id", "settings": "user_id",
                  "projector_checkpoint": "singleton"}
        for table, key in tables.items():
            query = "COPY (SELECT * FROM %s ORDER BY %s) TO STDOUT" % (table, key)
            live = psql("prism", query).splitlines()
            replayed = psql("prism_replay", query).splitlines()
            self.assertEqual(len(live), len(replayed), "rows of " + table)
            for live_row, replayed_row in zip(live, replayed):
                self.assertEqual(live_row, replayed_row, "a row of " + table)

    # -------------------------------------------------------------------------------------------

    def test_kill9_random_roles_under_load(self):
        print("\ncluster crash test: seed %d (set PRISM_CLUSTER_CRASH_SEED to repeat)" % SEED,
              flush=True)
        rng = random.Random(SEED)
        run = uuid.UUID(int=rng.getrandbits(128)).hex[:8]
        foreign_ids = []
        models = []
        self.tokens = {}
        self.tokens_by_user = {}
        for index in range(USERS):
            user_id = "crash-%s-user-%d" % (run, index)
            model = UserModel(index, user_id, random.Random(SEED * 1000 + index), foreign_ids)
            models.append(model)
            self.tokens[model] = self.tokens_by_user[user_id] = make_token(user_id)

        # The batches are drawn up front, in each user's order, so the model is final before the
        # load starts. Shares of other users' ids come from the users drawn before.
        plans = {}
        per_user = [COMMANDS // USERS + (1 if i < COMMANDS % USERS else 0) for i in range(USERS)]
        for model, share in zip(models, per_user):
            batches = []
            while share > 0:
                batch = model.next_batch(share)
                share -= len(batch)
                batches.append(batch)
            plans[model] = batches
            foreign_ids.extend(model.created_order[:50])
        self.assertEqual(sum(len(m.expected) for m in models), COMMANDS)

        gate = Gate(sum(len(b) for b in plans.values()))
        done = threading.Event()
        started = time.time()
        senders = [threading.Thread(target=self.send_all, args=(m, self.tokens[m], plans[m], gate))
                   for m in models]
        killer = threading.Thread(target=self.kill_and_restart, args=(rng, gate, done))
        killer.start()
        for thread in senders:
            thread.start()
        for thread in senders:
            thread.join()
        load_seconds = time.time() - started
        done.set()
        killer.join()
        self.assertEqual(self.errors, [])
        self.assertGreaterEqual(len(self.kills), KILLS, "kills: %s" % self.kills)
        print("cluster crash test: load of %d commands took %.1f s; kills: %s" %
              (COMMANDS, load_seconds, ", ".join("%s (down %.1f s)" % k for k in self.kills)),
              flush=True)

        outcomes = self.wait_for_outcomes(models)
        self.check_outcomes(models, outcomes)
        self.server.wait_projected(timeout=OUTCOME_TIMEOUT_S)
        self.check_events(models)
        self.check_read_model(models)
        self.check_replay_equals_live()
        print("cluster crash test: %d kills, %d accepted commands checked, %d batches resent "
              "(%.1f s in total)" % (len(self.kills), COMMANDS, self.resends, time.time() - started),
              flush=True)


if __name__ == "__main__":
    unittest.main()
