"""Fixtures for the stand-in's tests: a running stand-in, seeding helpers, and a local HTTP server that
plays both the integration's webhook (records POSTs) and the attachment host (serves files)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from genesys_standin.server import StandinServer
from genesys_standin.settings import StandinSettings

WEBHOOK_SECRET = "webhook-secret-0123456789"
FAST = StandinSettings(webhook_backoff_base_seconds=0.01, webhook_timeout_seconds=2.0)


def assert_error_body(answer: requests.Response, status: int, code: str) -> dict[str, Any]:
    """A Genesys `ErrorBody` with this status and code, its contextId in the correlation header."""
    body: dict[str, Any] = answer.json()
    assert answer.status_code == status, answer.text
    assert body["code"] == code, body
    assert body["status"] == status
    assert body["message"]
    assert body["contextId"] == answer.headers["ININ-Correlation-Id"]
    assert isinstance(body["details"], list)
    assert body["errors"] == []
    return body


@dataclass
class Received:
    """One request the local HTTP server got."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class LocalHttp:
    """Serves `files` on GET and records POSTs, answering them with `statuses` in turn (then 200), each
    after the next of `delays` seconds (to play a slow webhook)."""

    base_url: str = ""
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    statuses: list[int] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def posts(self) -> list[Received]:
        """The POSTs received so far."""
        with self.lock:
            return [r for r in self.received if r.method == "POST"]

    def gets(self) -> list[Received]:
        """The GETs received so far."""
        with self.lock:
            return [r for r in self.received if r.method == "GET"]


def _handler(http: LocalHttp) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _record(self, body: bytes) -> None:
            with http.lock:
                http.received.append(Received(self.command, self.path, dict(self.headers.items()), body))

        def do_GET(self) -> None:
            self._record(b"")
            found = http.files.get(self.path)
            if found is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            mime, data = found
            self.send_response(200)
            self.send_header("Content-Type", mime)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self._record(body)
            with http.lock:
                status = http.statuses.pop(0) if http.statuses else 200
                delay = http.delays.pop(0) if http.delays else 0.0
            time.sleep(delay)  # a slow webhook, not synchronisation
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


class _Server(ThreadingHTTPServer):
    block_on_close = False  # a handler still playing a slow webhook must not hold up the teardown


@pytest.fixture
def local_http() -> Iterator[LocalHttp]:
    """A webhook receiver and file host on a free loopback port."""
    http = LocalHttp()
    server = _Server(("127.0.0.1", 0), _handler(http))
    http.base_url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield http
    server.shutdown()
    thread.join()
    server.server_close()


@dataclass
class Standin:
    """A running stand-in plus the calls the tests make over and over."""

    server: StandinServer
    http: requests.Session

    @property
    def url(self) -> str:
        return self.server.base_url

    def control(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.http.request(method, f"{self.url}/_control{path}", timeout=10, **kwargs)

    def api(self, method: str, path: str, token: str | None, **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.http.request(method, f"{self.url}{path}", headers=headers, timeout=10, **kwargs)

    def client(self, **fields: Any) -> tuple[str, str]:
        body = {"grants": ["client_credentials"], "redirect_uris": [], **fields}
        answer = self.control("POST", "/oauth-clients", json=body)
        assert answer.status_code == 201, answer.text
        return answer.json()["client_id"], answer.json()["client_secret"]

    def service_token(self) -> str:
        client_id, secret = self.client()
        answer = self.http.post(
            f"{self.url}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client_id, secret),
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])

    def user(self, **fields: Any) -> str:
        body = {"name": "Alex Agent", "email": "agent@example.com", "roles": ["Agent"], **fields}
        answer = self.control("POST", "/users", json=body)
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    def user_token(self, user_id: str, **fields: Any) -> str:
        answer = self.control("POST", f"/users/{user_id}/token", json=fields)
        assert answer.status_code == 201, answer.text
        return str(answer.json()["access_token"])

    def integration(self, token: str, webhook_url: str, **fields: Any) -> str:
        body = {
            "name": "Ferry test",
            "outboundNotificationWebhookUrl": webhook_url,
            "outboundNotificationWebhookSignatureSecretToken": WEBHOOK_SECRET,
            **fields,
        }
        answer = self.api("POST", "/api/v2/conversations/messaging/integrations/open", token, json=body)
        assert answer.status_code in (200, 202), answer.text
        return str(answer.json()["id"])

    def inbound(
        self, token: str, integration_id: str, body: dict[str, Any], *, prefetch: bool | None = True
    ) -> requests.Response:
        params = {} if prefetch is None else {"prefetchConversationId": str(prefetch).lower()}
        path = f"/api/v2/conversations/messages/{integration_id}/inbound/open/message"
        return self.api("POST", path, token, json=body, params=params)

    def conversations(self) -> list[dict[str, Any]]:
        answer = self.control("GET", "/conversations")
        assert answer.status_code == 200
        return list(answer.json())

    def deliveries(self, **params: str) -> list[dict[str, Any]]:
        answer = self.control("GET", "/webhook-deliveries", params=params)
        assert answer.status_code == 200
        return list(answer.json())


def message_body(
    text: str = "Hello", *, sender: str = "customer-1", message_id: str | None = "msg-1", **extra: Any
) -> dict[str, Any]:
    """A valid OpenInboundNormalizedMessage."""
    channel: dict[str, Any] = {
        "from": {"id": sender, "idType": "Opaque", "nickname": "Jane"},
        "time": "2026-05-01T13:01:14.462Z",
    }
    if message_id is not None:
        channel["messageId"] = message_id
    return {"channel": channel, "text": text, **extra}


@pytest.fixture
def standin_settings() -> StandinSettings:
    """Override in a test module (or parametrize) to run the stand-in with other settings."""
    return FAST


@pytest.fixture
def standin(standin_settings: StandinSettings) -> Iterator[Standin]:
    """A fresh stand-in on a free port."""
    with StandinServer(standin_settings) as server, requests.Session() as http:
        http.trust_env = False
        yield Standin(server, http)


@pytest.fixture
def service_token(standin: Standin) -> str:
    """A client-credentials token."""
    return standin.service_token()


@pytest.fixture
def integration_id(standin: Standin, service_token: str, local_http: LocalHttp) -> str:
    """An integration whose webhook is `local_http`."""
    return standin.integration(service_token, f"{local_http.base_url}/webhook")
