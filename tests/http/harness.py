"""Starts a real `prism serve` for black-box HTTP tests and talks to it.

Only the Python standard library is used, so the tests run wherever the setup script ran.
"""

import base64
import gzip
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.parse
import uuid

SECRET = "contract-test-secret"
PRISM = os.environ.get("PRISM_BINARY", os.path.join(os.path.dirname(__file__), "../../build/release/src/prism"))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_token(sub="alice", secret=SECRET, alg="HS256", **claims) -> str:
    header = {"alg": alg, "typ": "JWT"}
    payload = {"sub": sub, **claims} if sub is not None else dict(claims)
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(payload).encode())
    if alg == "none":
        return signing_input + "."
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url(signature)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    def header(self, name):
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


class Client:
    """Sends requests to a Prism Plan HTTP endpoint and waits for results. Subclasses implement connect()."""

    def connect(self, timeout):
        raise NotImplementedError

    def request(self, method, path, body=None, token="default", headers=None, raw_body=None, timeout=10):
        connection = self.connect(timeout)
        all_headers = dict(headers or {})
        if token == "default":
            token = make_token()
        if token is not None:
            all_headers["Authorization"] = "Bearer " + token
        data = raw_body
        if body is not None:
            data = json.dumps(body).encode()
            all_headers.setdefault("Content-Type", "application/json")
        try:
            connection.request(method, path, body=data, headers=all_headers)
            response = connection.getresponse()
            payload = response.read()
            if response.getheader("Content-Encoding") == "gzip":
                payload = gzip.decompress(payload)
            return Response(response.status, response.getheaders(), payload)
        finally:
            connection.close()

    def commands(self, commands, token="default", **kwargs):
        return self.request("POST", "/api/commands", body=commands, token=token, **kwargs)

    def all_tasks(self, token="default", page_size=None):
        """Walks every page of GET /api/tasks and returns the tasks in order."""
        tasks, page_token = [], None
        while True:
            query = []
            if page_size:
                query.append("pageSize=%d" % page_size)
            if page_token:
                query.append("pageToken=" + page_token)
            response = self.request("GET", "/api/tasks" + ("?" + "&".join(query) if query else ""), token=token)
            assert response.status == 200, (response.status, response.body)
            page = response.json()
            tasks.extend(page["tasks"])
            page_token = page.get("nextPageToken")
            if not page_token:
                return tasks

    def wait_for(self, predicate, timeout=5.0, interval=0.01):
        """Polls until predicate() is truthy and returns its value; fails after timeout."""
        deadline = time.time() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.time() > deadline:
                raise AssertionError("condition not met within %.1f s" % timeout)
            time.sleep(interval)

    def wait_for_outcome(self, key, token="default", timeout=5.0):
        """Waits until the command has an outcome and its events are in the read models."""
        def outcome():
            response = self.request("GET", "/api/commands/" + key, token=token)
            if response.status == 200 and response.json()["status"] != "pending":
                return response.json()
            return None
        result = self.wait_for(outcome, timeout)
        self.wait_projected(timeout)
        return result

    def wait_projected(self, timeout=5.0):
        """Waits until the projector has applied every event committed before this call."""
        def gauge(text, name):
            match = re.search(r"^%s ([0-9.e+]+)$" % name, text, re.M)
            return float(match.group(1)) if match else None
        head = gauge(self.request("GET", "/metrics", token=None).body.decode(), "prism_event_store_head_position")

        def caught_up():
            # The checkpoint is read from the read models, so it also covers projectors that run
            # in other processes (the cluster), unlike prism_projector_applied_position.
            applied = gauge(self.request("GET", "/metrics", token=None).body.decode(),
                            "prism_read_model_checkpoint")
            return applied is not None and head is not None and applied >= head
        if head:
            self.wait_for(caught_up, timeout)



class RemoteServer(Client):
    """A deployment that is already running, such as the cluster's nginx (PRISM_TEST_URL).

    HTTPS certificates are checked against PRISM_TEST_CA_FILE when it is set. The deployment must
    run in test mode with TEST_JWT_SECRET equal to SECRET.
    """

    def __init__(self, url, ca_file=None):
        parsed = urllib.parse.urlsplit(url)
        self.scheme = parsed.scheme
        self.host = parsed.hostname
        self.port = parsed.port or (443 if parsed.scheme == "https" else 80)
        self.context = None
        if self.scheme == "https":
            self.context = ssl.create_default_context(cafile=ca_file)

    def connect(self, timeout):
        if self.scheme == "https":
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout, context=self.context)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def start(self, timeout=10.0):
        return self

    def cleanup(self):
        pass


REMOTE_URL = os.environ.get("PRISM_TEST_URL", "")
REMOTE = bool(REMOTE_URL)
REMOTE_SKIP_REASON = "starts or stops its own prism process, so it does not run against PRISM_TEST_URL"


def server_under_test(extra_env=None):
    """The server the tests talk to: PRISM_TEST_URL when set, otherwise a new `prism serve`.

    A remote deployment must have been started with the settings the caller passes as extra_env.
    """
    if REMOTE:
        return RemoteServer(REMOTE_URL, os.environ.get("PRISM_TEST_CA_FILE") or None)
    return PrismServer(extra_env).start()


class PrismServer(Client):
    """A `prism serve` child process on a free loopback port with its own data directory."""

    def __init__(self, extra_env=None, data_dir=None, port=None, wrapper=None):
        self.port = port or free_port()
        self.wrapper = list(wrapper or [])  # command prefix, such as ["heaptrack", "-o", FILE]
        self.own_data_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="prism-test-")
        self.log_path = os.path.join(self.data_dir, "serve.log")
        self.env = dict(os.environ)
        self.env.update({
            "PORT": str(self.port),
            "PRISM_BIND_ADDRESS": "127.0.0.1",
            "PRISM_DATA_DIR": self.data_dir,
            "AUTH0_TEST_MODE": "1",
            "TEST_JWT_SECRET": SECRET,
            "PRISM_WEB_DIR": os.path.join(self.data_dir, "no-web-app"),
        })
        self.env.update(extra_env or {})
        self.process = None

    def start(self, timeout=10.0):
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.wrapper + [PRISM, "serve"], env=self.env, stdout=log,
                                            stderr=log)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("prism serve exited with %s:\n%s" % (self.process.returncode, self.log()))
            try:
                if self.request("GET", "/healthz", token=None).status == 200:
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("prism serve did not become healthy in %.0f s:\n%s" % (timeout, self.log()))

    def stop(self, sig=signal.SIGTERM, timeout=15.0):
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=timeout)
        return self.process.returncode if self.process else None

    def kill(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def cleanup(self):
        self.kill()
        if self.own_data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def connect(self, timeout):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)



def create(title, task_id=None, category="normal", order=None, notes=None, key=None):
    data = {"title": title, "category": category}
    if task_id:
        data["id"] = task_id
    if order is not None:
        data["order"] = order
    if notes is not None:
        data["notes"] = notes
    command = {"entityType": "task", "type": "create-task", "data": data}
    if key:
        command["idempotencyKey"] = key
    return command


def update(task_id, **fields):
    return {"entityType": "task", "type": "update-task", "data": {"id": task_id, **fields}}


def complete(task_id):
    return {"entityType": "task", "type": "complete-task", "data": {"id": task_id}}


def reopen(task_id):
    return {"entityType": "task", "type": "reopen-task", "data": {"id": task_id}}


def new_id():
    return str(uuid.uuid4())
