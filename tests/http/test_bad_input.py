"""Bad-input tests against a real `prism serve`: oversized heads, slow clients, invalid JSON and
Unicode, huge numbers, large batches and racing duplicate idempotency keys. Each case expects a
clear 4xx (or a closed connection for a slow client), never a 5xx, a crash or a hang."""

import json
import socket
import threading
import time
import unittest
import uuid

from harness import PrismServer, create, make_token, new_id

# Server defaults (src/http/server.h): 16 KiB request head, 8 KiB request target, 15 s to read a
# whole request once its first byte arrived.
MAX_HEADER_BYTES = 16 * 1024
MAX_TARGET_BYTES = 8 * 1024
READ_TIMEOUT_SECONDS = 15


def user_token():
    """A token of a fresh user, so that tests never see each other's tasks."""
    return make_token("user-" + uuid.uuid4().hex[:12])


def status_line(data):
    """Returns the status code of the first response in `data`, or None when there is none."""
    if not data.startswith(b"HTTP/1."):
        return None
    return int(data.split(b" ", 2)[1])


class BadInput(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = PrismServer().start()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def tearDown(self):
        # Whatever a test sent, the server must still be up and serving.
        self.assertIsNone(self.server.process.poll(), self.server.log())
        self.assertEqual(self.server.request("GET", "/healthz", token=None).status, 200)

    def raw_exchange(self, data, timeout=10):
        """Sends raw bytes on a new connection and returns everything read until it closes."""
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=timeout) as connection:
            connection.sendall(data)
            received = b""
            while True:
                chunk = connection.recv(65536)
                if not chunk:
                    return received
                received += chunk

    def post_raw(self, body, token="default"):
        return self.server.request("POST", "/api/commands", raw_body=body, token=token,
                                   headers={"Content-Type": "application/json"})

    def assert_clear_400(self, response, expected_error=None):
        self.assertEqual(response.status, 400, response.body)
        error = response.json()["error"]
        self.assertTrue(error)
        if expected_error is not None:
            self.assertEqual(error, expected_error)

    # --- request head limits -------------------------------------------------------------------

    def test_one_oversized_header_line_is_431(self):
        head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"y" * (MAX_HEADER_BYTES + 1024) + b"\r\n\r\n"
        response = self.raw_exchange(head)
        self.assertEqual(status_line(response), 431, response[:200])
        self.assertIn(b"request header fields too large", response)

    def test_many_header_lines_over_limit_are_431(self):
        lines = b"".join(b"X-Filler-%d: %s\r\n" % (i, b"y" * 1000) for i in range(20))
        response = self.raw_exchange(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + lines + b"\r\n")
        self.assertEqual(status_line(response), 431, response[:200])

    def test_oversized_url_is_414(self):
        for length in (MAX_TARGET_BYTES + 1024, MAX_HEADER_BYTES + 4096):
            with self.subTest(length=length):
                target = b"/api/tasks?q=" + b"a" * length
                response = self.raw_exchange(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertEqual(status_line(response), 414, response[:200])
                self.assertIn(b"request target too long", response)

    def test_url_just_under_limit_is_served(self):
        target = "/api/tasks?q=" + "a" * (MAX_TARGET_BYTES - 64)
        response = self.server.request("GET", target, token=user_token())
        self.assertEqual(response.status, 200, response.body)

    # --- slow clients ---------------------------------------------------------------------------

    def test_slowloris_is_cut_off_and_others_are_served(self):
        slow_clients = []
        for _ in range(8):
            connection = socket.create_connection(("127.0.0.1", self.server.port), timeout=5)
            connection.sendall(b"GET /healthz HTTP/1.1\r\n")
            slow_clients.append(connection)
        start = time.monotonic()
        closed_after = {}
        served_meanwhile = 0
        try:
            while len(closed_after) < len(slow_clients):
                elapsed = time.monotonic() - start
                self.assertLess(elapsed, READ_TIMEOUT_SECONDS + 10, "slow clients were never cut off")
                for index, connection in enumerate(slow_clients):
                    if index in closed_after:
                        continue
                    try:
                        connection.sendall(b"X")  # one header byte a second, never the end
                    except OSError:
                        closed_after[index] = elapsed
                # Other clients get responses while the slow ones hold their connections.
                request_start = time.monotonic()
                self.assertEqual(self.server.request("GET", "/healthz", token=None).status, 200)
                self.assertLess(time.monotonic() - request_start, 1.0)
                served_meanwhile += 1
                time.sleep(1)
        finally:
            for connection in slow_clients:
                connection.close()
        self.assertGreater(served_meanwhile, 5)
        for index, elapsed in closed_after.items():
            # The header timeout counts from the first byte; the write that fails comes a little
            # after the close.
            self.assertGreaterEqual(elapsed, READ_TIMEOUT_SECONDS - 2, index)

    # --- invalid JSON and Unicode ------------------------------------------------------------

    def test_invalid_utf8_in_body_is_400(self):
        bodies = {
            "byte 0xff in title": b'[{"entityType":"task","type":"create-task","data":{"title":"\xff"}}]',
            "truncated sequence": b'[{"entityType":"task","type":"create-task","data":{"title":"caf\xc3"}}]',
            "overlong encoding": b'[{"entityType":"task","type":"create-task","data":{"title":"\xc0\xaf"}}]',
            "encoded surrogate": b'[{"entityType":"task","type":"create-task","data":{"title":"\xed\xa0\x80"}}]',
            "invalid byte in key": b'[{"entity\xfeType":"task"}]',
            "invalid byte in notes": b'[{"entityType":"task","type":"create-task","data":{"title":"t","notes":"\x80"}}]',
        }
        for name, body in bodies.items():
            with self.subTest(name):
                self.assert_clear_400(self.post_raw(body), "invalid body")

    def test_lone_surrogate_escape_in_title_is_400(self):
        for title in ('"\\ud800"', '"a\\udc00b"', '"\\ud83d"'):
            with self.subTest(title):
                body = ('[{"entityType":"task","type":"create-task","data":{"title":%s}}]' % title).encode()
                self.assert_clear_400(self.post_raw(body))

    def test_nul_in_title_is_400_naming_field(self):
        body = b'[{"entityType":"task","type":"create-task","data":{"title":"a\\u0000b"}}]'
        response = self.post_raw(body)
        self.assert_clear_400(response)
        self.assertIn("title", response.json()["error"])

    def test_deeply_nested_json_is_400(self):
        depth = 30000
        bodies = {
            "nested arrays": b"[" * depth + b"]" * depth,
            "nested objects in data": (b'[{"entityType":"task","type":"create-task","data":{"title":"t","x":'
                                       + b'{"a":' * 5000 + b"1" + b"}" * 5000 + b"}}]"),
            "unclosed nesting": b"[" * depth,
        }
        for name, body in bodies.items():
            with self.subTest(name):
                self.assertLess(len(body), 64 * 1024)
                self.assert_clear_400(self.post_raw(body), "invalid body")

    # --- huge numbers ---------------------------------------------------------------------------

    def test_huge_numbers_are_400_naming_field(self):
        cases = {
            "order above int32": ("order", "2147483648"),
            "order beyond int64": ("order", "99999999999999999999999999"),
            "order beyond double": ("order", "1e400"),
            "negative order": ("order", "-9223372036854775809"),
            "fractional order": ("order", "1.0000000000000000001"),
        }
        for name, (field, literal) in cases.items():
            with self.subTest(name):
                body = ('[{"entityType":"task","type":"create-task","data":{"title":"t","%s":%s}}]'
                        % (field, literal)).encode()
                response = self.post_raw(body)
                self.assertEqual(response.status, 400, response.body)
                error = response.json()["error"]
                self.assertTrue(error == "invalid body" or field in error, error)

    def test_huge_settings_numbers_are_400(self):
        for literal in ("1e308", "18446744073709551616", "-1", "1001"):
            with self.subTest(literal):
                body = ('[{"entityType":"user-settings","type":"update-user-settings",'
                        '"data":{"tasksPerCategory":%s}}]' % literal).encode()
                response = self.post_raw(body)
                self.assertEqual(response.status, 400, response.body)
                error = response.json()["error"]
                self.assertTrue(error == "invalid body" or "tasksPerCategory" in error, error)

    def test_huge_page_size_is_400(self):
        for value in ("99999999999999999999", "1e3", "-1", "0x10"):
            with self.subTest(value):
                response = self.server.request("GET", "/api/tasks?pageSize=" + value, token=user_token())
                self.assert_clear_400(response, "invalid page size")

    # --- large batches --------------------------------------------------------------------------

    def test_thousand_commands_in_one_body_are_all_accepted(self):
        token = user_token()
        commands = [{"entityType": "task", "type": "create-task", "data": {"title": "t"}}] * 1000
        body = json.dumps(commands, separators=(",", ":")).encode()
        self.assertLess(len(body), 64 * 1024)
        response = self.post_raw(body, token=token)
        self.assertEqual(response.status, 202, response.body)
        keys = response.json()["idempotencyKeys"]
        self.assertEqual(len(keys), 1000)
        self.assertEqual(len(set(keys)), 1000)
        self.server.wait_for_outcome(keys[-1], token=token, timeout=60)
        self.assertEqual(len(self.server.all_tasks(token, page_size=1000)), 1000)

    def test_small_commands_over_64_kib_are_413(self):
        commands = [{"entityType": "task", "type": "create-task", "data": {"title": "t"}}] * 1100
        body = json.dumps(commands, separators=(",", ":")).encode()
        self.assertGreater(len(body), 64 * 1024)
        response = self.post_raw(body, token=user_token())
        self.assertEqual(response.status, 413, response.body)

    # --- concurrent duplicates ------------------------------------------------------------------

    def test_concurrent_duplicate_idempotency_keys_create_one_task(self):
        token = user_token()
        key = "race-" + uuid.uuid4().hex
        task_ids = [new_id() for _ in range(32)]
        statuses = []
        failures = []
        barrier = threading.Barrier(len(task_ids))

        def send(task_id):
            try:
                barrier.wait()
                response = self.server.commands([create("racer " + task_id, task_id, key=key)], token=token)
                statuses.append(response.status)
            except Exception as error:  # reported below, so one thread's failure is visible
                failures.append(repr(error))

        threads = [threading.Thread(target=send, args=(task_id,)) for task_id in task_ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        self.assertEqual(failures, [])
        self.assertEqual(statuses, [202] * len(task_ids))
        self.server.wait_for_outcome(key, token=token, timeout=30)
        time.sleep(0.5)  # let any duplicate that slipped through reach the read model
        tasks = self.server.all_tasks(token)
        self.assertEqual(len(tasks), 1, tasks)
        self.assertIn(tasks[0]["id"], task_ids)


if __name__ == "__main__":
    unittest.main()
