"""A small fake GitHub on 127.0.0.1 for the OAuth tests.

It implements the four endpoints allauth's GitHub provider calls, with the
paths a GitHub Enterprise server uses (``GITHUB_URL`` + ``/login/oauth/...``
and ``/api/v3/...``), and checks what the real one checks: the client id and
secret, that a code is used once, and the bearer token on API calls.
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

CLIENT_ID = "fake-client-id"
CLIENT_SECRET = "fake-client-secret"


@dataclass
class GitHubUser:
    id: int
    login: str
    email: str | None
    emails: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class FakeGitHub:
    user: GitHubUser | None = None
    codes: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, GitHubUser] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeGitHub:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _json(self, status: int, body: Any) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self) -> None:
                parsed = urlparse(self.path)
                fake.requests.append(f"GET {parsed.path}")
                query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
                if parsed.path == "/login/oauth/authorize":
                    if query.get("client_id") != CLIENT_ID or fake.user is None:
                        return self._json(400, {"error": "bad_client"})
                    code = secrets.token_hex(8)
                    fake.codes[code] = query.get("redirect_uri", "")
                    target = (
                        query["redirect_uri"]
                        + "?"
                        + urlencode({"code": code, "state": query.get("state", "")})
                    )
                    self.send_response(302)
                    self.send_header("Location", target)
                    self.end_headers()
                    return None
                token = self.headers.get("Authorization", "").split(" ", 1)[-1]
                user = fake.tokens.get(token)
                if user is None:
                    return self._json(401, {"message": "Bad credentials"})
                if parsed.path == "/api/v3/user":
                    return self._json(
                        200, {"id": user.id, "login": user.login, "email": user.email, "name": ""}
                    )
                if parsed.path == "/api/v3/user/emails":
                    return self._json(200, user.emails)
                return self._json(404, {"message": "Not Found"})

            def do_POST(self) -> None:
                parsed = urlparse(self.path)
                fake.requests.append(f"POST {parsed.path}")
                length = int(self.headers.get("Content-Length", "0"))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if parsed.path != "/login/oauth/access_token":
                    return self._json(404, {"message": "Not Found"})
                if (
                    form.get("client_id") != CLIENT_ID
                    or form.get("client_secret") != CLIENT_SECRET
                ):
                    return self._json(401, {"error": "incorrect_client_credentials"})
                if form.get("code") not in fake.codes or fake.user is None:
                    return self._json(400, {"error": "bad_verification_code"})
                del fake.codes[form["code"]]
                token = secrets.token_hex(16)
                fake.tokens[token] = fake.user
                return self._json(
                    200, {"access_token": token, "token_type": "bearer", "scope": "user:email"}
                )

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
