"""A live stack for end-to-end tests: the Genesys stand-in, Ferry as deployed (gunicorn, gevent, in its
own processes), and the outbox worker's loops in threads, wired together like `make run` wires the
processes."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from ferry.config import DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_WEBHOOK_SECRET, Settings
from ferry.services import Services
from ferry.worker import Worker, build_worker, outbox_client
from genesys.client import GenesysClient
from genesys.models import OpenIntegrationRequest
from genesys.webhook import SIGNATURE_HEADER, sign
from genesys_standin.control_client import StandinControl
from genesys_standin.server import StandinServer
from genesys_standin.settings import StandinSettings
from tests.conftest import base_environ, free_port, moto_environ, prepare_bucket
from tests.serving import Gunicorn

# Short waits everywhere, so that a test with faults still takes seconds.
FAST = {
    "GENESYS_TIMEOUT_SECONDS": "1",
    "OUTBOX_POLL_SECONDS": "0.05",
    "OUTBOX_BACKOFF_BASE_SECONDS": "0.05",
    "OUTBOX_BACKOFF_MAX_SECONDS": "0.4",
    "OUTBOX_THREADS": "2",
    "CHAT_STREAM_POLL_SECONDS": "0.1",
    # Streams end (and the widget reconnects) every second, so that none outlives a test by much.
    "CHAT_STREAM_SECONDS": "1",
}


def repeated_messages(conversations: list[dict[str, Any]]) -> tuple[int, set[str]]:
    """Extra copies of inbound messages (a `channel.messageId` Genesys holds more than once), and the ids of
    those repeated that were not the first message of their conversation."""
    extra = 0
    not_first: set[str] = set()
    for conversation in conversations:
        ids = [m["provider_message_id"] for m in conversation["messages"] if m["direction"] == "Inbound"]
        for channel_message_id, count in Counter(ids).items():
            extra += count - 1
            if count > 1 and channel_message_id != ids[0]:
                not_first.add(channel_message_id)
    return extra, not_first


def seed_standin(base_url: str, webhook_url: str) -> tuple[str, str]:
    """Seed Ferry's OAuth clients, an agent and an integration posting to `webhook_url`.

    Answers (integration id, agent user id).
    """
    control = StandinControl(base_url)
    control.add_ferry_clients()  # nothing signs in to the viewer here: it needs no redirect URI
    agent_id = control.add_user("Alex Agent", "agent@example.com", roles=["Agent"])
    with GenesysClient(
        api_base_url=base_url,
        login_base_url=base_url,
        client_id=DEV_CLIENT_ID,
        client_secret=DEV_CLIENT_SECRET,
    ) as client:
        integration = client.create_open_integration(
            OpenIntegrationRequest(
                name="Ferry (tests)",
                outbound_notification_webhook_url=webhook_url,
                outbound_notification_webhook_signature_secret_token=DEV_WEBHOOK_SECRET,
            )
        )
    return integration.id, agent_id


@dataclass
class LiveStack:
    """Ferry at `url`, the stand-in, the agent's user id, and the worker (stoppable)."""

    url: str
    settings: Settings
    standin: StandinServer
    agent_id: str
    services: Services
    worker: Worker | None = None

    @property
    def control(self) -> str:
        return f"{self.standin.base_url}/_control"

    @property
    def standin_control(self) -> StandinControl:
        return StandinControl(self.standin.base_url)

    def conversations(self) -> list[dict[str, Any]]:
        answer = requests.get(f"{self.control}/conversations", timeout=10)
        answer.raise_for_status()
        result: list[dict[str, Any]] = answer.json()
        return result

    def standin_conversation(self, conversation_id: str) -> dict[str, Any]:
        answer = requests.get(f"{self.control}/conversations/{conversation_id}", timeout=10)
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result

    def standin_message(self, conversation_id: str, index: int) -> dict[str, Any]:
        """The `index`-th message of a stand-in conversation, with the payload as received."""
        result: dict[str, Any] = self.standin_conversation(conversation_id)["messages"][index]
        return result

    def standin_requests(self) -> list[dict[str, Any]]:
        return self.standin_control.recorded_requests()

    def inbound_texts(self, conversation_id: str) -> list[str]:
        """The customer's messages as the stand-in's conversation holds them, in order."""
        messages = self.standin_conversation(conversation_id)["messages"]
        return [m["text"] for m in messages if m["direction"] == "Inbound"]

    def agent_reply(self, conversation_id: str, text: str, **extra: Any) -> dict[str, Any]:
        answer = requests.post(
            f"{self.control}/conversations/{conversation_id}/messages",
            json={"user_id": self.agent_id, "text": text, **extra},
            timeout=10,
        )
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result

    def agent_typing(self, conversation_id: str) -> None:
        """The agent joins the conversation and starts typing."""
        self.standin_control.add_participant(conversation_id, self.agent_id)
        requests.post(
            f"{self.control}/conversations/{conversation_id}/typing",
            json={"user_id": self.agent_id},
            timeout=10,
        ).raise_for_status()

    def webhook(self, payload: dict[str, Any]) -> requests.Response:
        """POST a webhook message to Ferry signed as Genesys signs it."""
        body = json.dumps(payload).encode()
        answer = requests.post(
            f"{self.url}/genesys/webhook",
            data=body,
            headers={"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, DEV_WEBHOOK_SECRET)},
            timeout=10,
        )
        answer.raise_for_status()
        return answer

    def fault(self, **fault: Any) -> None:
        requests.post(f"{self.control}/faults", json=fault, timeout=10).raise_for_status()

    def clear_faults(self) -> None:
        requests.delete(f"{self.control}/faults", timeout=10).raise_for_status()

    def start_worker(self) -> None:
        client = outbox_client(self.settings)
        self.worker = build_worker(self.services, client)
        self.worker.start()
        self._client = client

    def stop_worker(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self._client.close()
            busy = [thread.name for thread in self.worker.threads if thread.is_alive()]
            assert not busy, f"worker threads still running after stop: {busy}"
            self.worker = None


@contextmanager
def live_stack(
    database_url: str,
    tmp_path: Path,
    moto: str,
    env: Mapping[str, str] | None = None,
    standin_settings: StandinSettings | None = None,
    worker: bool = True,
) -> Iterator[LiveStack]:
    """Start the stand-in, Ferry as deployed (gunicorn with the shipped config, free port, S3 and SQS on
    the `moto` server) and the worker; stop them all after."""
    standin = StandinServer(
        standin_settings
        or StandinSettings(
            rate_limit_per_minute=0, webhook_backoff_base_seconds=0.2, outbound_typing_events=True
        )
    ).start()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    try:
        integration_id, agent_id = seed_standin(standin.base_url, f"{url}/genesys/webhook")
        environ = {
            **base_environ(database_url, tmp_path),
            "PUBLIC_BASE_URL": url,
            "WIDGET_ORIGINS": url,
            "GENESYS_API_BASE_URL": standin.base_url,
            "GENESYS_LOGIN_BASE_URL": standin.base_url,
            "GENESYS_INTEGRATION_ID": integration_id,
            "CHAT_RATE_PER_CHAT": "1000",
            "CHAT_RATE_PER_IP": "1000",
            **moto_environ(moto),
            **FAST,
            **(env or {}),
        }
        settings = Settings.from_env(environ)
        prepare_bucket(settings)
        with Gunicorn(environ, port, tmp_path / "gunicorn.log"):
            stack = LiveStack(url, settings, standin, agent_id, Services(settings))
            try:
                if worker:
                    stack.start_worker()
                yield stack
            finally:
                try:
                    stack.stop_worker()
                finally:
                    stack.services.close()
    finally:
        standin.stop()


class ChatClient:
    """The widget's HTTP API, driven directly (cookie session, CSRF header, Origin like a browser)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()
        self.http.headers.update({"X-Ferry-Chat": "1", "Origin": url})

    def close(self) -> None:
        self.http.close()

    def start(self, **details: Any) -> dict[str, Any]:
        answer = self.http.post(f"{self.url}/chat/api/chats", json=details, timeout=10)
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result

    def send(self, client_id: str, text: str) -> requests.Response:
        return self.http.post(
            f"{self.url}/chat/api/messages", json={"client_id": client_id, "text": text}, timeout=10
        )

    def history(self) -> list[dict[str, Any]]:
        answer = self.http.get(f"{self.url}/chat/api/chat", timeout=10)
        answer.raise_for_status()
        result: list[dict[str, Any]] = answer.json()["messages"]
        return result
