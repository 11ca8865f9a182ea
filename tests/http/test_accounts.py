"""Local accounts over HTTP: sign-up, sign-in, refresh rotation, sign-out and throttling."""

import http.client
import json
import os
import shutil
import subprocess
import tempfile
import unittest
import uuid

from harness import PRISM, PrismServer, create, free_port, new_id

PASSWORD = "correct horse battery"


def local_server(**env):
    settings = {"AUTH0_TEST_MODE": "0", "TEST_JWT_SECRET": "", "AUTH_MODE": "local"}
    settings.update(env)
    return PrismServer(settings).start()


def cookie_of(response):
    header = response.header("Set-Cookie")
    return header.split(";", 1)[0] if header else None


class Accounts(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = local_server()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def post(self, path, body=None, raw=None, cookie=None):
        headers = {"Content-Type": "application/json"}
        if cookie:
            headers["Cookie"] = cookie
        return self.server.request("POST", path, body=body, raw_body=raw, token=None, headers=headers)

    def signup(self, username=None, password=PASSWORD):
        username = username or "user" + uuid.uuid4().hex[:8]
        response = self.post("/api/auth/signup", {"username": username, "password": password, "name": "N"})
        return username, response

    def login(self, username, password=PASSWORD):
        return self.post("/api/auth/login", {"username": username, "password": password})

    def test_signup_login_and_use_the_api(self):
        username, response = self.signup()
        self.assertEqual(response.status, 201, response.body)
        login = self.login(username.upper())
        self.assertEqual(login.status, 200, login.body)
        body = login.json()
        self.assertEqual(body["expiresIn"], 900)
        cookie = login.header("Set-Cookie")
        self.assertIn("HttpOnly", cookie)
        self.assertIn("SameSite=Strict", cookie)
        token = body["accessToken"]
        accepted = self.server.commands([create("mine", new_id())], token=token)
        self.assertEqual(accepted.status, 202)
        self.server.wait_for_outcome(accepted.json()["idempotencyKeys"][0], token=token)
        self.assertEqual([t["title"] for t in self.server.all_tasks(token)], ["mine"])

    def test_signup_rejects_duplicates_short_passwords_and_bad_json(self):
        username, first = self.signup()
        self.assertEqual(first.status, 201)
        _, duplicate = self.signup(username.upper())
        self.assertEqual(duplicate.status, 409)
        self.assertIn("taken", duplicate.json()["error"])
        _, short = self.signup(password="123456789")
        self.assertEqual(short.status, 400)
        self.assertIn("at least 10", short.json()["error"])
        bad = self.post("/api/auth/signup", raw=b"{not json")
        self.assertEqual(bad.status, 400)
        wrong_type = self.post("/api/auth/signup", {"username": 5, "password": PASSWORD})
        self.assertEqual(wrong_type.status, 400)
        bad_name = self.post("/api/auth/signup", {"username": "has space", "password": PASSWORD})
        self.assertEqual(bad_name.status, 400)
        repeated = self.post("/api/auth/signup", raw=b'{"username":"dave","username":"frank","password":"%s"}'
                             % PASSWORD.encode())
        self.assertEqual(repeated.status, 400)

    def test_wrong_password_is_401_then_throttled(self):
        username, _ = self.signup()
        for _ in range(5):
            self.assertEqual(self.login(username, "wrong password!").status, 401)
        throttled = self.login(username)
        self.assertEqual(throttled.status, 429)
        self.assertTrue(int(throttled.header("Retry-After")) > 0)
        self.assertEqual(self.login("nobody-" + uuid.uuid4().hex[:6]).status, 401)

    def test_refresh_rotates_and_reuse_revokes(self):
        username, _ = self.signup()
        first_cookie = cookie_of(self.login(username))
        refreshed = self.post("/api/auth/refresh", cookie=first_cookie)
        self.assertEqual(refreshed.status, 200, refreshed.body)
        second_cookie = cookie_of(refreshed)
        self.assertNotEqual(first_cookie, second_cookie)
        # The old token is rejected after use, and presenting it revokes the newer one too.
        self.assertEqual(self.post("/api/auth/refresh", cookie=first_cookie).status, 401)
        self.assertEqual(self.post("/api/auth/refresh", cookie=second_cookie).status, 401)
        self.assertEqual(self.post("/api/auth/refresh").status, 401)

    def test_logout_revokes_refresh_token(self):
        username, _ = self.signup()
        cookie = cookie_of(self.login(username))
        logout = self.post("/api/auth/logout", cookie=cookie)
        self.assertEqual(logout.status, 204)
        self.assertIn("Max-Age=0", logout.header("Set-Cookie"))
        self.assertEqual(self.post("/api/auth/refresh", cookie=cookie).status, 401)

    def test_auth_config_reports_local_mode(self):
        body = self.server.request("GET", "/api/auth/config", token=None).json()
        self.assertEqual(body, {"mode": "local", "signup": True})

    def test_no_password_or_token_in_logs(self):
        username, _ = self.signup(password="secret-password-xyz")
        login = self.login(username, "secret-password-xyz")
        self.login(username, "another-secret-guess")
        token = login.json()["accessToken"]
        cookie = cookie_of(login)
        self.post("/api/auth/refresh", cookie=cookie)
        self.server.request("GET", "/api/tasks", token=token)
        log = self.server.log()
        self.assertNotIn("secret-password-xyz", log)
        self.assertNotIn("another-secret-guess", log)
        self.assertNotIn(token, log)
        self.assertNotIn(cookie.split("=", 1)[1], log)


class SignupDisabled(unittest.TestCase):
    def test_signup_off_is_403(self):
        server = local_server(AUTH_SIGNUP="false")
        try:
            response = server.request("POST", "/api/auth/signup", token=None,
                                      body={"username": "someone", "password": PASSWORD})
            self.assertEqual(response.status, 403)
            self.assertEqual(server.request("GET", "/api/auth/config", token=None).json()["signup"], False)
        finally:
            server.cleanup()


class OidcConfig(unittest.TestCase):
    """GET /api/auth/config in OIDC mode, with the JWKS read from a file so no provider is needed."""

    def setUp(self):
        self.directory = tempfile.mkdtemp(prefix="prism-oidc-test-")
        self.jwks_file = os.path.join(self.directory, "jwks.json")
        with open(self.jwks_file, "w") as out:
            out.write('{"keys": []}')

    def tearDown(self):
        shutil.rmtree(self.directory, ignore_errors=True)

    def oidc_env(self, **env):
        settings = {"AUTH0_TEST_MODE": "0", "TEST_JWT_SECRET": "", "AUTH_MODE": "oidc",
                    "AUTH_ISSUER": "https://id.example.test/", "AUTH_AUDIENCE": "prism-api",
                    "AUTH_JWKS_FILE": self.jwks_file}
        settings.update(env)
        return settings

    def serve_and_exit(self, env):
        """Runs `prism serve`, expecting it to reject the configuration and exit."""
        full_env = dict(os.environ)
        full_env.update({"PRISM_DATA_DIR": self.directory, "PORT": str(free_port()), "PRISM_BIND_ADDRESS": "127.0.0.1"})
        full_env.update(env)
        return subprocess.run([PRISM, "serve"], env=full_env, capture_output=True, timeout=30)

    def test_reports_client_id(self):
        server = PrismServer(self.oidc_env(AUTH_CLIENT_ID="web-app-client")).start()
        try:
            body = server.request("GET", "/api/auth/config", token=None).json()
            self.assertEqual(body["mode"], "oidc")
            self.assertEqual(body["issuer"], "https://id.example.test/")
            self.assertEqual(body["audience"], "prism-api")
            self.assertEqual(body["clientId"], "web-app-client")
        finally:
            server.cleanup()

    def test_omits_unset_client_id(self):
        server = PrismServer(self.oidc_env()).start()
        try:
            body = server.request("GET", "/api/auth/config", token=None).json()
            self.assertEqual(body["mode"], "oidc")
            self.assertNotIn("clientId", body)
        finally:
            server.cleanup()

    def test_client_id_with_space_is_rejected(self):
        result = self.serve_and_exit(self.oidc_env(AUTH_CLIENT_ID="web client"))
        self.assertEqual(result.returncode, 2)
        self.assertIn(b'invalid AUTH_CLIENT_ID="web client"', result.stderr)

    def test_client_id_outside_oidc_is_rejected(self):
        result = self.serve_and_exit({"AUTH_MODE": "local", "AUTH0_TEST_MODE": "0", "AUTH_CLIENT_ID": "web-app"})
        self.assertEqual(result.returncode, 2)
        self.assertIn(b"used only in OIDC mode", result.stderr)

    def test_help_describes_client_id(self):
        result = subprocess.run([PRISM, "serve", "--help"], capture_output=True, timeout=30)
        self.assertEqual(result.returncode, 0)
        self.assertIn(b"--auth-client-id", result.stdout)


if __name__ == "__main__":
    unittest.main()
