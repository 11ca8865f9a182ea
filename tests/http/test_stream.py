"""The live stream: snapshots, per-user fan-out, resumption, keep-alive and slow clients."""

import time
import unittest
import uuid

from harness import REMOTE, complete, create, make_token, new_id, server_under_test, update
from sse import SseClient


def user_token():
    return make_token("stream-" + uuid.uuid4().hex[:10])


class Stream(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = server_under_test({"STREAM_KEEPALIVE_INTERVAL": "300ms",
                                        "STREAM_BUFFER_BYTES": "65536"})

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def open(self, token, **kwargs):
        client = SseClient(self.server, token, **kwargs)
        self.addCleanup(client.close)
        return client

    def accept(self, commands, token):
        response = self.server.commands(commands, token=token)
        self.assertEqual(response.status, 202, response.body)
        return response.json()["idempotencyKeys"]

    def snapshot(self, client):
        tasks = client.next_message()
        settings = client.next_message()
        self.assertEqual(tasks[1]["entityType"], "task")
        self.assertEqual(settings[1]["entityType"], "user-settings")
        return tasks, settings

    def test_headers_and_snapshot_with_real_tasks(self):
        token = user_token()
        task_id = new_id()
        self.server.wait_for_outcome(self.accept([create("existing", task_id)], token)[0], token=token)
        client = self.open(token)
        self.assertEqual(client.status, 200)
        self.assertEqual(client.headers["content-type"], "text/event-stream")
        self.assertEqual(client.headers["cache-control"], "no-cache")
        if not REMOTE:  # a proxy consumes this header, which is addressed to it
            self.assertEqual(client.headers["x-accel-buffering"], "no")
        tasks, settings = self.snapshot(client)
        self.assertEqual([t["id"] for t in tasks[1]["data"]], [task_id])
        self.assertEqual(settings[1]["data"], {"tasksPerCategory": 3, "showDoneTasks": False})

    def test_change_reaches_every_stream_of_its_user_only(self):
        token_a, token_b = user_token(), user_token()
        a1, a2, b1 = self.open(token_a), self.open(token_a), self.open(token_b)
        for client in (a1, a2, b1):
            self.snapshot(client)
        task_id = new_id()
        self.accept([create("live", task_id, notes="n")], token_a)
        for client in (a1, a2):
            event_id, message = client.next_message()
            self.assertEqual(message, {"entityType": "task", "data": [
                {"id": task_id, "title": "live", "notes": "n", "category": "normal", "order": 0}]})
            self.assertGreater(event_id, 0)
        self.assertIsNone(b1.next_message(timeout=0.5))
        self.assertEqual([t["id"] for t in self.server.all_tasks(token_a)], [task_id])

    def test_partial_update_carries_full_state(self):
        token = user_token()
        task_id = new_id()
        client = self.open(token)
        self.snapshot(client)
        self.accept([create("t", task_id, order=5, category="fun"), update(task_id, title="renamed")], token)
        client.next_message()
        _, message = client.next_message()
        self.assertEqual(message["data"], [{"id": task_id, "title": "renamed", "category": "fun", "order": 5}])

    def test_settings_change_is_streamed(self):
        token = user_token()
        client = self.open(token)
        self.snapshot(client)
        self.accept([{"entityType": "user-settings", "type": "update-user-settings",
                      "data": {"showDoneTasks": True}}], token)
        messages = [client.next_message(), client.next_message()]
        self.assertEqual(messages[-1][1], {"entityType": "user-settings",
                                           "data": {"tasksPerCategory": 3, "showDoneTasks": True}})

    def test_resume_with_last_event_id_gets_missed_changes_only(self):
        token = user_token()
        task_id = new_id()
        client = self.open(token)
        self.snapshot(client)
        self.accept([create("first", task_id)], token)
        last_id, _ = client.next_message()
        client.close()

        keys = self.accept([update(task_id, title="second"), update(task_id, order=3), complete(task_id)], token)
        self.server.wait_for_outcome(keys[-1], token=token)
        time.sleep(0.2)
        resumed = self.open(token, last_event_id=last_id)
        missed = [resumed.next_message() for _ in range(3)]
        self.assertEqual([m[1]["data"][0].get("title") for m in missed], ["second", "second", "second"])
        self.assertEqual(missed[1][1]["data"][0]["order"], 3)
        self.assertIs(missed[2][1]["data"][0]["done"], True)
        ids = [m[0] for m in missed]
        self.assertEqual(ids, sorted(ids))
        self.assertGreater(ids[0], last_id)
        self.assertIsNone(resumed.next_message(timeout=0.5))
        # The query parameter works the same way for clients that cannot set the header.
        by_query = self.open(token, query="&lastEventId=%d" % last_id)
        self.assertEqual([by_query.next_message()[0] for _ in range(3)], ids)

    def test_snapshot_larger_than_buffer_is_delivered(self):
        token = user_token()
        keys = []
        for batch in range(20):
            commands = [create("t" * 500, new_id(), notes="n" * 5000) for _ in range(10)]
            keys += self.accept(commands, token)
        self.server.wait_for_outcome(keys[-1], token=token, timeout=30)
        self.server.wait_for(lambda: len(self.server.all_tasks(token, page_size=1000)) == 200, timeout=30)
        client = self.open(token)
        tasks, settings = self.snapshot(client)
        self.assertEqual(len(tasks[1]["data"]), 200)
        self.assertGreater(len(str(tasks[1]["data"])), 65536)

    def test_keepalive_comments(self):
        client = self.open(user_token())
        self.snapshot(client)
        frame = client.next_frame(timeout=2)
        self.assertEqual(frame, ("comment", "keep-alive"))

    def test_stream_closes_once_its_token_expires(self):
        # Accepted for about two more seconds: the verifiers allow 60 s of clock skew past "exp".
        user = "stream-" + uuid.uuid4().hex[:10]
        expiring = self.open(make_token(user, exp=int(time.time()) - 58))
        lasting = self.open(make_token(user, exp=int(time.time()) + 3600))
        self.snapshot(expiring)
        self.snapshot(lasting)
        deadline = time.time() + 6
        while not expiring.closed and time.time() < deadline:
            expiring.next_frame(timeout=0.5)
        self.assertTrue(expiring.closed, "a stream with an expired token stayed open")
        self.assertEqual(lasting.next_frame(timeout=2), ("comment", "keep-alive"))
        self.assertFalse(lasting.closed)

    def test_bad_token_is_401(self):
        client = self.open("not-a-token")
        self.assertEqual(client.status, 401)

    def test_stalled_stream_is_cut_off_and_others_stay_on_time(self):
        token = user_token()
        stalled = self.open(token, receive_buffer=4096)
        healthy = self.open(token)
        self.snapshot(healthy)
        notes = "x" * 9000
        created = []
        for batch in range(80):
            commands = [create("big %d-%d" % (batch, i), new_id(), notes=notes) for i in range(6)]
            created += [c["data"]["id"] for c in commands]
            started = time.time()
            self.accept(commands, token)
            # The healthy stream keeps receiving each change promptly.
            for _ in commands:
                frame = healthy.next_message(timeout=5)
                self.assertIsNotNone(frame, "healthy stream stopped receiving")
            self.assertLess(time.time() - started, 5)
        # The stalled client is disconnected: draining its socket ends in EOF, not in all 480 tasks.
        if REMOTE:
            # Behind nginx the proxy's buffers absorb the stalled client's backlog, and nginx's
            # send_timeout (10 s without progress) is the policy that cuts it off.
            time.sleep(12)
        # Keep-alive comments arrive every 300 ms on an open stream, so the drain has a deadline.
        received = 0
        deadline = time.time() + 60
        while time.time() < deadline and stalled.next_frame(timeout=5) is not None:
            received += 1
        self.assertTrue(stalled.closed, "stalled stream was not disconnected")
        self.assertLess(received, len(created))


if __name__ == "__main__":
    unittest.main()
