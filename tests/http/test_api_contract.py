"""HTTP contract tests of the API against a real `prism serve` on embedded storage."""

import gzip
import json
import signal
import time
import unittest
import uuid

from harness import (REMOTE, REMOTE_SKIP_REASON, PrismServer, complete, create, make_token, new_id, reopen,
                     server_under_test, update)


def user_token():
    """A token of a fresh user, so that tests never see each other's tasks."""
    return make_token("user-" + uuid.uuid4().hex[:12])


class ApiContract(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = server_under_test({"TASKS_PAGE_SIZE": "10", "NUM_CACHED_PAGES": "2",
                                        "CORS_ALLOWED_ORIGINS": "https://allowed\\.example|http://localhost:[0-9]+"})

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def accept(self, commands, token):
        response = self.server.commands(commands, token=token)
        self.assertEqual(response.status, 202, response.body)
        keys = response.json()["idempotencyKeys"]
        self.assertEqual(len(keys), len(commands))
        return keys

    def settle(self, keys, token):
        return [self.server.wait_for_outcome(key, token=token) for key in keys]

    # --- authentication -------------------------------------------------------------------

    def test_missing_token_is_401(self):
        response = self.server.request("GET", "/api/tasks", token=None)
        self.assertEqual(response.status, 401)
        self.assertIn("missing token", response.json()["error"])

    def test_bad_tokens_are_401(self):
        cases = {
            "wrong secret": make_token("alice", secret="other-secret"),
            "alg none": make_token("alice", alg="none"),
            "expired": make_token("alice", exp=int(time.time()) - 3600),
            "not yet valid": make_token("alice", nbf=int(time.time()) + 3600),
            "missing sub": make_token(None),
            "garbage": "not.a.token",
            "oversized": make_token("alice", pad="x" * 9000),
        }
        for name, token in cases.items():
            with self.subTest(name):
                response = self.server.request("GET", "/api/tasks", token=token)
                self.assertEqual(response.status, 401, response.body)
                self.assertTrue(response.json()["error"])

    def test_non_bearer_scheme_is_401(self):
        response = self.server.request("GET", "/api/tasks", token=None,
                                       headers={"Authorization": "Basic YWxpY2U6cHc="})
        self.assertEqual(response.status, 401)

    # --- task lifecycle ---------------------------------------------------------------------

    def test_create_update_complete_reopen_list(self):
        token = user_token()
        task_id = new_id()
        keys = self.accept([create("Buy milk", task_id, notes="2 litres")], token)
        self.assertEqual(self.settle(keys, token)[0]["status"], "completed")
        tasks = self.server.all_tasks(token)
        self.assertEqual(tasks, [{"id": task_id, "title": "Buy milk", "notes": "2 litres",
                                  "category": "normal", "order": 0}])

        keys = self.accept([update(task_id, title="Buy oat milk", category="fun", order=4)], token)
        self.settle(keys, token)
        task = self.server.all_tasks(token)[0]
        self.assertEqual(task["title"], "Buy oat milk")
        self.assertEqual(task["category"], "fun")
        self.assertEqual(task["order"], 4)
        self.assertNotIn("done", task)

        self.settle(self.accept([complete(task_id)], token), token)
        self.assertIs(self.server.all_tasks(token)[0]["done"], True)

        self.settle(self.accept([reopen(task_id)], token), token)
        self.assertNotIn("done", self.server.all_tasks(token)[0])

    def test_moving_done_task_to_category_reopens_it(self):
        token = user_token()
        task_id = new_id()
        self.settle(self.accept([create("Read", task_id), complete(task_id)], token), token)
        self.settle(self.accept([update(task_id, category="important")], token), token)
        task = self.server.all_tasks(token)[0]
        self.assertEqual(task["category"], "important")
        self.assertNotIn("done", task)

    def test_generated_ids_and_default_order(self):
        token = user_token()
        self.settle(self.accept([create("a"), create("b"), create("c", category="fun")], token), token)
        tasks = self.server.all_tasks(token)
        self.assertEqual([t["title"] for t in tasks], ["a", "b", "c"])
        self.assertEqual([t["order"] for t in tasks], [0, 1, 0])
        self.assertEqual(len({t["id"] for t in tasks}), 3)

    def test_empty_notes_omitted_and_order_present(self):
        token = user_token()
        self.settle(self.accept([create("plain", new_id(), order=0)], token), token)
        task = self.server.all_tasks(token)[0]
        self.assertNotIn("notes", task)
        self.assertNotIn("done", task)
        self.assertEqual(task["order"], 0)

    # --- pagination ---------------------------------------------------------------------------

    def test_page_walk_with_writes_between_pages(self):
        token = user_token()
        first = [create("task %02d" % i, order=i) for i in range(25)]
        self.settle(self.accept(first, token), token)

        seen = []
        response = self.server.request("GET", "/api/tasks", token=token)
        page = response.json()
        seen += page["tasks"]
        self.assertEqual(len(page["tasks"]), 10)
        # Writes between pages: five new tasks and an update of a task already seen.
        more = [create("late %d" % i) for i in range(5)] + [update(seen[0]["id"], title="renamed")]
        self.settle(self.accept(more, token), token)
        while page.get("nextPageToken"):
            response = self.server.request("GET", "/api/tasks?pageToken=" + page["nextPageToken"], token=token)
            self.assertEqual(response.status, 200, response.body)
            page = response.json()
            seen += page["tasks"]

        titles = [t["title"] for t in seen]
        self.assertEqual(len(titles), 30)
        self.assertEqual(len({t["id"] for t in seen}), 30)
        self.assertEqual(titles[:25], ["task %02d" % i for i in range(25)])
        self.assertEqual(titles[25:], ["late %d" % i for i in range(5)])

    def test_page_sizes_and_cached_pages_agree_with_database(self):
        token = user_token()
        self.settle(self.accept([create("t%d" % i) for i in range(23)], token), token)
        by_default = self.server.all_tasks(token)
        by_three = self.server.all_tasks(token, page_size=3)
        by_thousand = self.server.all_tasks(token, page_size=5000)
        self.assertEqual(len(by_default), 23)
        self.assertEqual(by_default, by_three)
        self.assertEqual(by_default, by_thousand)
        # Second page of the default walk comes from the cache; it must equal a fresh read.
        first = self.server.request("GET", "/api/tasks", token=token).json()
        second = self.server.request("GET", "/api/tasks?pageToken=" + first["nextPageToken"], token=token)
        self.assertEqual(second.json()["tasks"], by_default[10:20])

    def test_invalid_page_size_is_400(self):
        for value in ["0", "-1", "abc", "1.5", "", "99999999999999999999999", "%20"]:
            with self.subTest(value=value):
                response = self.server.request("GET", "/api/tasks?pageSize=" + value)
                self.assertEqual(response.status, 400)
                self.assertEqual(response.json()["error"], "invalid page size")

    def test_invalid_page_token_is_400(self):
        token_a = user_token()
        self.settle(self.accept([create("t%d" % i) for i in range(12)], token_a), token_a)
        page = self.server.request("GET", "/api/tasks", token=token_a).json()
        good = page["nextPageToken"]
        tampered = good[:-2] + ("AA" if good[-2:] != "AA" else "BB")
        cases = {"garbage": "not-a-token", "tampered": tampered, "truncated": good[:10],
                 "padding": good + "=="}
        for name, value in cases.items():
            with self.subTest(name):
                response = self.server.request("GET", "/api/tasks?pageToken=" + value, token=token_a)
                self.assertEqual(response.status, 400)
                self.assertEqual(response.json()["error"], "invalid page token")
        foreign = self.server.request("GET", "/api/tasks?pageToken=" + good, token=user_token())
        self.assertEqual(foreign.status, 400)
        self.assertEqual(foreign.json()["error"], "invalid page token")

    # --- settings -----------------------------------------------------------------------------

    def test_settings_default_then_updated(self):
        token = user_token()
        response = self.server.request("GET", "/api/settings", token=token)
        self.assertEqual(response.status, 200)
        self.assertEqual(response.json(), {"tasksPerCategory": 3, "showDoneTasks": False})
        command = {"entityType": "user-settings", "type": "update-user-settings",
                   "data": {"tasksPerCategory": 7}}
        self.settle(self.accept([command], token), token)
        self.assertEqual(self.server.request("GET", "/api/settings", token=token).json(),
                         {"tasksPerCategory": 7, "showDoneTasks": False})

    def test_login_user_creates_default_settings(self):
        token = user_token()
        login = {"entityType": "user", "type": "login-user", "data": {"name": "Ann", "email": "ann@example.org"}}
        self.settle(self.accept([login], token), token)
        self.assertEqual(self.server.request("GET", "/api/settings", token=token).json(),
                         {"tasksPerCategory": 3, "showDoneTasks": False})

    # --- command admission --------------------------------------------------------------------

    def test_invalid_bodies_are_400_invalid_body(self):
        token = user_token()
        bodies = {
            "object": b'{"entityType":"task"}',
            "invalid json": b"[{",
            "unknown field": json.dumps([{**create("x"), "extra": 1}]).encode(),
            "string element": b'["create-task"]',
        }
        for name, body in bodies.items():
            with self.subTest(name):
                response = self.server.request("POST", "/api/commands", raw_body=body, token=token,
                                               headers={"Content-Type": "application/json"})
                self.assertEqual(response.status, 400)
                self.assertEqual(response.json()["error"], "invalid body")

    def test_invalid_command_rejects_whole_batch(self):
        token = user_token()
        response = self.server.commands([create("fine", new_id()), update(new_id())], token=token)
        self.assertEqual(response.status, 400)
        self.assertIn("command 1", response.json()["error"])
        response = self.server.commands([{"entityType": "task", "type": "complete-task", "data": {}}], token=token)
        self.assertEqual(response.status, 400)
        self.assertIn("command 0: missing data.id", response.json()["error"])
        time.sleep(0.3)
        self.assertEqual(self.server.all_tasks(token), [])

    def test_body_over_64_kib_is_413(self):
        body = json.dumps([create("x" * 400, notes="n" * 9000) for _ in range(8)]).encode()
        self.assertGreater(len(body), 64 * 1024)
        response = self.server.request("POST", "/api/commands", raw_body=body,
                                       headers={"Content-Type": "application/json"})
        self.assertEqual(response.status, 413)

    def test_empty_batch_is_202_with_no_keys(self):
        response = self.server.commands([])
        self.assertEqual(response.status, 202)
        self.assertEqual(response.json(), {"idempotencyKeys": []})

    def test_client_keys_echoed_and_duplicate_key_creates_one_task(self):
        token = user_token()
        key = "client-key-" + uuid.uuid4().hex
        keys = self.accept([create("once", key=key), create("twice", key=key)], token)
        self.assertEqual(keys, [key, key])
        keys2 = self.accept([create("again", key=key)], token)
        self.assertEqual(keys2, [key])
        self.settle([key], token)
        time.sleep(0.3)
        self.assertEqual([t["title"] for t in self.server.all_tasks(token)], ["once"])

    def test_same_key_from_two_users_gives_two_tasks(self):
        key = "shared-" + uuid.uuid4().hex
        token_a, token_b = user_token(), user_token()
        self.settle(self.accept([create("a's", key=key)], token_a), token_a)
        self.settle(self.accept([create("b's", key=key)], token_b), token_b)
        self.assertEqual([t["title"] for t in self.server.all_tasks(token_a)], ["a's"])
        self.assertEqual([t["title"] for t in self.server.all_tasks(token_b)], ["b's"])

    def test_gzip_request_body_accepted(self):
        token = user_token()
        body = gzip.compress(json.dumps([create("zipped", new_id())]).encode())
        response = self.server.request("POST", "/api/commands", raw_body=body, token=token,
                                       headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
        self.assertEqual(response.status, 202, response.body)
        self.settle(response.json()["idempotencyKeys"], token)
        self.assertEqual(self.server.all_tasks(token)[0]["title"], "zipped")

    def test_gzip_response_when_accepted(self):
        token = user_token()
        self.settle(self.accept([create("long title %d %s" % (i, "x" * 80)) for i in range(30)], token), token)
        connection = self.server.connect(5)
        connection.request("GET", "/api/tasks?pageSize=30",
                           headers={"Authorization": "Bearer " + token, "Accept-Encoding": "gzip"})
        response = connection.getresponse()
        raw = response.read()
        connection.close()
        self.assertEqual(response.getheader("Content-Encoding"), "gzip")
        self.assertEqual(len(json.loads(gzip.decompress(raw))["tasks"]), 30)
        plain = self.server.request("GET", "/api/tasks?pageSize=30", token=token)
        self.assertIsNone(plain.header("Content-Encoding"))

    # --- command outcomes and isolation -------------------------------------------------------

    def test_command_status_completed_rejected_and_unknown(self):
        token = user_token()
        keys = self.accept([create("mine", new_id()), update(new_id(), title="ghost")], token)
        outcomes = self.settle(keys, token)
        self.assertEqual(outcomes[0], {"status": "completed"})
        self.assertEqual(outcomes[1]["status"], "rejected")
        self.assertIn("not found", outcomes[1]["reason"])
        self.assertEqual(self.server.request("GET", "/api/commands/no-such-key", token=token).status, 404)
        self.assertEqual(self.server.request("GET", "/api/commands/" + keys[0], token=user_token()).status, 404)

    def test_user_cannot_change_or_see_another_users_task(self):
        token_a, token_b = user_token(), user_token()
        task_id = new_id()
        self.settle(self.accept([create("a's task", task_id)], token_a), token_a)
        keys = self.accept([update(task_id, title="hijacked"), complete(task_id)], token_b)
        outcomes = self.settle(keys, token_b)
        self.assertEqual([o["status"] for o in outcomes], ["rejected", "rejected"])
        self.assertEqual(self.server.all_tasks(token_a)[0]["title"], "a's task")
        self.assertNotIn("done", self.server.all_tasks(token_a)[0])
        self.assertEqual(self.server.all_tasks(token_b), [])
        # Creating a task with an id that another user already uses is rejected too.
        outcome = self.settle(self.accept([create("copy", task_id)], token_b), token_b)[0]
        self.assertEqual(outcome["status"], "rejected")
        self.assertEqual(self.server.all_tasks(token_a)[0]["title"], "a's task")

    # --- operations ---------------------------------------------------------------------------

    def test_unknown_route_404_and_wrong_method_405(self):
        self.assertEqual(self.server.request("GET", "/api/nothing").status, 404)
        self.assertEqual(self.server.request("GET", "/api/commands/").status, 404)
        response = self.server.request("DELETE", "/api/tasks")
        self.assertEqual(response.status, 405)
        self.assertIn("GET", response.header("Allow"))

    def test_health_ready_metrics_without_token(self):
        self.assertEqual(self.server.request("GET", "/healthz", token=None).status, 200)
        self.assertEqual(self.server.request("GET", "/readyz", token=None).status, 200)
        metrics = self.server.request("GET", "/metrics", token=None)
        self.assertEqual(metrics.status, 200)
        names = [b"prism_http_requests_total", b"prism_http_request_duration_seconds",
                 b"prism_event_store_head_position", b"prism_read_model_checkpoint"]
        if not REMOTE:  # in a cluster the workers and the stream report from their own processes
            names += [b"prism_projector_lag_events", b"prism_projector_lag_seconds",
                      b"prism_command_queue_depth", b"prism_http_open_streams"]
        for name in names:
            self.assertIn(name, metrics.body)

    def test_cors_preflight_allowed_and_disallowed(self):
        allowed = self.server.request("OPTIONS", "/api/commands", token=None, headers={
            "Origin": "https://allowed.example", "Access-Control-Request-Method": "POST"})
        self.assertEqual(allowed.status, 204)
        self.assertEqual(allowed.header("Access-Control-Allow-Origin"), "https://allowed.example")
        self.assertEqual(allowed.header("Access-Control-Max-Age"), "86400")
        self.assertIn("POST", allowed.header("Access-Control-Allow-Methods"))
        self.assertIn("Authorization", allowed.header("Access-Control-Allow-Headers"))
        denied = self.server.request("OPTIONS", "/api/commands", token=None, headers={
            "Origin": "https://allowed.example.evil", "Access-Control-Request-Method": "POST"})
        self.assertIsNone(denied.header("Access-Control-Allow-Origin"))
        simple = self.server.request("GET", "/api/settings", headers={"Origin": "http://localhost:5173"})
        self.assertEqual(simple.header("Access-Control-Allow-Origin"), "http://localhost:5173")

    def test_auth_config_is_public(self):
        response = self.server.request("GET", "/api/auth/config", token=None)
        self.assertEqual(response.status, 200)
        self.assertEqual(response.json()["mode"], "test")


@unittest.skipIf(REMOTE, REMOTE_SKIP_REASON)
class Lifecycle(unittest.TestCase):
    def test_sigterm_exits_zero_and_data_survives_restart(self):
        server = PrismServer().start()
        try:
            token = user_token()
            response = server.commands([create("durable", new_id())], token=token)
            self.assertEqual(response.status, 202)
            server.wait_for_outcome(response.json()["idempotencyKeys"][0], token=token)
            self.assertEqual(server.stop(signal.SIGTERM), 0)
            restarted = PrismServer(data_dir=server.data_dir).start()
            try:
                self.assertEqual([t["title"] for t in restarted.all_tasks(token)], ["durable"])
            finally:
                restarted.kill()
        finally:
            server.cleanup()


if __name__ == "__main__":
    unittest.main()
