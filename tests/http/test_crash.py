"""Crash test: kill -9 `prism serve` at random moments while commands flow, restart it, and check
that every command that got 202 took effect exactly once and that a replay equals the live model.
"""

import os
import random
import shutil
import subprocess
import threading
import time
import unittest
import uuid

from harness import PRISM, PrismServer, create, make_token, new_id, update

CRASHES = int(os.environ.get("PRISM_CRASH_ITERATIONS", "5"))
USERS = 8


class CrashTest(unittest.TestCase):
    def test_kill9_loses_no_accepted_command_and_duplicates_none(self):
        rng = random.Random(int(os.environ.get("PRISM_CRASH_SEED", time.time())))
        tokens = [make_token("crash-user-%d-%s" % (i, uuid.uuid4().hex[:6])) for i in range(USERS)]
        accepted = {token: {} for token in tokens}  # token -> {task id: title} acknowledged with 202
        server = PrismServer().start()
        data_dir = server.data_dir
        try:
            for _ in range(CRASHES):
                stop = threading.Event()
                lock = threading.Lock()

                def send(token):
                    while not stop.is_set():
                        batch = [create("t-" + uuid.uuid4().hex[:8], new_id()) for _ in range(rng.randint(1, 4))]
                        try:
                            response = server.commands(batch, token=token, timeout=2)
                        except OSError:
                            return  # the server died mid-request: the batch may or may not be queued
                        if response.status == 202:
                            with lock:
                                for command in batch:
                                    accepted[token][command["data"]["id"]] = command["data"]["title"]

                threads = [threading.Thread(target=send, args=(t,)) for t in tokens]
                for thread in threads:
                    thread.start()
                time.sleep(rng.uniform(0.2, 1.0))
                server.kill()
                stop.set()
                for thread in threads:
                    thread.join()
                server = PrismServer(data_dir=data_dir).start()

            # Every accepted task appears exactly once; nothing else but possibly unacknowledged ones.
            total = 0
            for token in tokens:
                def caught_up(token=token):
                    tasks = server.all_tasks(token, page_size=1000)
                    ids = {t["id"] for t in tasks}
                    return tasks if set(accepted[token]).issubset(ids) else None
                tasks = server.wait_for(caught_up, timeout=30)
                ids = [t["id"] for t in tasks]
                self.assertEqual(len(ids), len(set(ids)), "a task appears twice")
                for task in tasks:
                    if task["id"] in accepted[token]:
                        self.assertEqual(task["title"], accepted[token][task["id"]])
                total += len(accepted[token])
            self.assertGreater(total, 0)

            # A replay of the event store into a copy equals the live read model.
            live = {token: server.all_tasks(token, page_size=1000) for token in tokens}
            server.stop()
            copy_dir = data_dir + "-replay"
            shutil.copytree(data_dir, copy_dir)
            try:
                env = dict(server.env, PRISM_DATA_DIR=copy_dir)
                result = subprocess.run([PRISM, "rebuild"], env=env, capture_output=True, timeout=120)
                self.assertEqual(result.returncode, 0, result.stderr.decode(errors="replace"))
                replayed = PrismServer(data_dir=copy_dir).start()
                try:
                    for token in tokens:
                        self.assertEqual(replayed.all_tasks(token, page_size=1000), live[token])
                finally:
                    replayed.kill()
            finally:
                shutil.rmtree(copy_dir, ignore_errors=True)
            print("crash test: %d kill -9 iterations, %d accepted commands checked" % (CRASHES, total))
        finally:
            server.cleanup()
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
