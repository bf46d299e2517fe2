"""Outbound webhook delivery: signed POSTs to an integration's webhook, retried like Genesys retries them,
in order per conversation, from background threads."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import requests

from genesys_standin.settings import StandinSettings
from genesys_standin.state import iso, new_id, utc_now

log = logging.getLogger("genesys_standin.webhooks")
SIGNATURE_HEADER = "X-Hub-Signature-256"


def signature(secret: str, body: bytes) -> str:
    """`X-Hub-Signature-256`: "sha256=" + base64(HMAC-SHA256(secret, body)), as Genesys documents it."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode("ascii")


@dataclass
class Delivery:
    """One webhook request and what became of it."""

    id: str
    integration_id: str
    conversation_id: str | None
    kind: str  # message | receipt | event
    url: str
    payload: dict[str, Any]
    body: bytes
    headers: dict[str, str]
    created: datetime = field(default_factory=utc_now)
    status: str = "pending"  # pending | delivered | failed
    attempts: list[dict[str, Any]] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        """As the control API shows it."""
        return {
            "id": self.id,
            "integration_id": self.integration_id,
            "conversation_id": self.conversation_id,
            "kind": self.kind,
            "url": self.url,
            "payload": self.payload,
            "body": self.body.decode("utf-8"),
            "headers": self.headers,
            "signature": self.headers[SIGNATURE_HEADER],
            "created": iso(self.created),
            "status": self.status,
            "attempts": list(self.attempts),
        }


def build_delivery(
    *,
    integration_id: str,
    conversation_id: str | None,
    kind: str,
    url: str,
    secret: str,
    extra_headers: dict[str, str],
    payload: dict[str, Any],
) -> Delivery:
    """Serialize `payload` once and sign exactly those bytes."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    headers = {
        **extra_headers,
        "Content-Type": "application/json",
        "User-Agent": "Genesys-Cloud-Standin/1.0",
        SIGNATURE_HEADER: signature(secret, body),
    }
    return Delivery(new_id(), integration_id, conversation_id, kind, url, payload, body, headers)


class Dispatcher:
    """Runs jobs in order per lane (a conversation) on a small thread pool, and POSTs deliveries."""

    def __init__(
        self, settings: StandinSettings, on_failed: Callable[[Delivery], None] | None = None
    ) -> None:
        self.settings = settings
        self.on_failed = on_failed  # told of each delivery that failed every attempt
        self._lock = threading.Lock()
        self._lanes: dict[str, deque[Callable[[], None]]] = {}
        self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="standin-webhook")
        self._stopping = threading.Event()
        self._idle = threading.Condition(self._lock)
        self._session = requests.Session()
        self._session.trust_env = False  # no proxies or .netrc credentials from the environment

    def submit(self, lane: str, job: Callable[[], None]) -> None:
        """Queue `job` after the lane's earlier jobs."""
        with self._lock:
            if self._stopping.is_set():
                return
            queue = self._lanes.get(lane)
            if queue is not None:
                queue.append(job)
                return
            self._lanes[lane] = deque([job])
        self._pool.submit(self._drain, lane)

    def _drain(self, lane: str) -> None:
        while True:
            with self._lock:
                queue = self._lanes[lane]
                if not queue or self._stopping.is_set():
                    del self._lanes[lane]
                    self._idle.notify_all()
                    return
                job = queue.popleft()
            try:
                job()
            except Exception:  # a broken job must not stall the lane
                log.exception("webhook lane %s: job failed", lane)

    def wait_idle(self, timeout: float) -> bool:
        """Block until every lane is empty (for orderly shutdown and tests); False on timeout."""
        with self._lock:
            return self._idle.wait_for(lambda: not self._lanes, timeout)

    def deliver(self, delivery: Delivery) -> None:
        """POST; any non-2xx answer (or none) is a failed attempt, retried with exponential backoff (a 4xx
        other than 429 only when `webhook_retry_client_errors`); after the last, the delivery failed."""
        settings = self.settings
        for attempt in range(1, settings.webhook_max_attempts + 1):
            if self._stopping.is_set():
                break
            outcome = self._attempt(delivery)
            delivery.attempts.append({"attempt": attempt, "time": iso(utc_now()), **outcome})
            status = outcome.get("status")
            if isinstance(status, int) and 200 <= status < 300:
                delivery.status = "delivered"
                return
            client_error = isinstance(status, int) and status != 429 and status < 500
            if client_error and not settings.webhook_retry_client_errors:
                break
            if attempt < settings.webhook_max_attempts:
                self._stopping.wait(settings.webhook_backoff_base_seconds * 2 ** (attempt - 1))
        delivery.status = "failed"
        if self.on_failed is not None and not self._stopping.is_set():
            self.on_failed(delivery)

    def _attempt(self, delivery: Delivery) -> dict[str, Any]:
        try:
            response = self._session.post(
                delivery.url,
                data=delivery.body,
                headers=delivery.headers,
                timeout=self.settings.webhook_timeout_seconds,
                allow_redirects=False,
            )
        except requests.Timeout:
            return {"status": None, "error": "timeout"}
        except requests.RequestException as error:
            return {"status": None, "error": f"{type(error).__name__}: {error}"}
        response.close()
        return {"status": response.status_code}

    def close(self) -> None:
        """Stop: pending jobs are dropped, a delivery waiting for its next try gives up."""
        self._stopping.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._session.close()
