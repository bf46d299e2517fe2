"""A scripted loopback HTTP server that answers like Genesys Cloud, for unit-testing the client's HTTP logic.

Each test scripts the replies it needs per method and path (status, JSON body, headers, a delay to trip the
client's timeout, or a dropped connection). The OAuth token endpoint works out of the box: it checks the
client's Basic credentials and issues `token-1`, `token-2`, ...
"""

from __future__ import annotations

import base64
import json
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from genesys.client import GenesysClient

CLIENT_ID = "ferry-test-client"
CLIENT_SECRET = "ferry-test-client-secret"
TIMEOUT = 0.3  # the client's timeout in these tests; a reply delayed longer than this times out


@dataclass
class Reply:
    """One scripted answer."""

    status: int = 200
    body: Any = None  # JSON-serialisable, or bytes sent as they are
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering
    drop: bool = False  # close the connection without any answer


@dataclass
class Seen:
    """A request the server received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def bearer(self) -> str | None:
        value = self.headers.get("authorization", "")
        return value[len("Bearer ") :] if value.startswith("Bearer ") else None


def error_body(status: int, code: str, message: str, context_id: str = "ctx-1") -> dict[str, Any]:
    """A Genesys ErrorBody."""
    return {
        "message": message,
        "code": code,
        "status": status,
        "contextId": context_id,
        "details": [],
        "errors": [],
    }


class ScriptedGenesys:
    """The server's script and its record of what it received."""

    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self.token_lifetime = 86400
        self.tokens_issued = 0
        self._queued: dict[tuple[str, str], deque[Reply]] = {}
        self._always: dict[tuple[str, str], Reply] = {}
        self._lock = threading.Lock()
        self.released = threading.Event()  # set at teardown so delayed replies stop waiting
        self.url = ""

    def reply(self, method: str, path: str, *replies: Reply) -> None:
        """Answer the next requests to `method path` with `replies`, in order."""
        with self._lock:
            self._queued.setdefault((method, path), deque()).extend(replies)

    def always(self, method: str, path: str, reply: Reply) -> None:
        """Answer `method path` with `reply` once the queued replies are used up."""
        with self._lock:
            self._always[(method, path)] = reply

    def seen(self, method: str | None = None, path: str | None = None) -> list[Seen]:
        """The requests received, optionally only those to `method` and/or `path`."""
        with self._lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method) and (path is None or r.path == path)
            ]

    def api_requests(self) -> list[Seen]:
        """Everything except token requests."""
        return [r for r in self.seen() if r.path != "/oauth/token"]

    def answer(self, seen: Seen) -> Reply:
        with self._lock:
            self.requests.append(seen)
            queue = self._queued.get((seen.method, seen.path))
            if queue:
                return queue.popleft()
            if (seen.method, seen.path) in self._always:
                return self._always[(seen.method, seen.path)]
        if (seen.method, seen.path) == ("POST", "/oauth/token"):
            return self._issue_token(seen)
        return Reply(404, error_body(404, "not.found", "The requested resource was not found."))

    def _issue_token(self, seen: Seen) -> Reply:
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        form = parse_qs(seen.body.decode())
        if seen.headers.get("authorization") != expected:
            return Reply(401, {"error": "invalid_client", "description": "client not found"})
        if form.get("grant_type") != ["client_credentials"]:
            return Reply(400, {"error": "unsupported_grant_type", "description": "bad grant"})
        with self._lock:
            self.tokens_issued += 1
            token = f"token-{self.tokens_issued}"
        return Reply(200, {"access_token": token, "token_type": "bearer", "expires_in": self.token_lifetime})


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        seen = Seen(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        reply = self.server.script.answer(seen)
        if reply.delay:
            self.server.script.released.wait(reply.delay)
        if reply.drop:
            self.close_connection = True
            return
        payload = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        if reply.body is None:
            payload = b""
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_DELETE = do_PATCH = _handle

    def log_message(self, format: str, *args: Any) -> None:  # keep the test output clean
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, script: ScriptedGenesys) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script = script

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out has gone away before a delayed reply: nothing to report.
        pass


@pytest.fixture
def scripted() -> Iterator[ScriptedGenesys]:
    """A running scripted Genesys on a free loopback port."""
    script = ScriptedGenesys()
    server = _Server(script)
    script.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield script
    script.released.set()
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sleeps() -> list[float]:
    """What the client asked to sleep, in order (the client never really sleeps in these tests)."""
    return []


@pytest.fixture
def make_genesys_client(scripted: ScriptedGenesys, sleeps: list[float], clock: FakeClock) -> Iterator[Any]:
    """Build clients against the scripted server with the sleep recorder and fake clock; closed after."""
    clients: list[GenesysClient] = []

    def build(**overrides: Any) -> GenesysClient:
        options: dict[str, Any] = {
            "api_base_url": scripted.url,
            "login_base_url": scripted.url,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "timeout": TIMEOUT,
            "sleep": sleeps.append,
            "clock": clock,
        }
        options.update(overrides)
        client = GenesysClient(**options)
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


@pytest.fixture
def genesys_client(make_genesys_client: Any) -> GenesysClient:
    """A client with the default retry settings (5 attempts, backoff 0.5 s doubling up to 30 s)."""
    result: GenesysClient = make_genesys_client()
    return result
