"""The widget's event stream (server-sent events) at /chat/api/events?after=<message id>.

Nothing here lives only in one process's memory: when ferry/chatwake.py says the chat changed (any
gunicorn worker, or any other process, may have written it), the stream reads the database (the source
of truth) for messages with an id above the last one it sent, for status changes of messages whose
status can still change (only ever what the database holds: a receipt the webhook ignored changes
nothing here), and for the agent's typing state. While waiting it holds no database connection and
no thread (gunicorn's gevent worker: one greenlet). A stream ends after CHAT_STREAM_SECONDS, or at
once when the process is told to stop; the widget reconnects with the last id it saw. A read the
database fails (a restart) is tried again a second later on the same stream. Over the process's
CHAT_MAX_STREAMS a new stream is refused with 503 and Retry-After.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from flask import Response, request
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from ferry.chatwake import ChatWake, StreamsBusy, Waiter
from ferry.config import Settings
from ferry.db import Database, utcnow
from ferry.errors import Refusal
from ferry.models import ChatMessage, MessageDirection, MessageStatus
from ferry.services import get_services
from uploader.api import API
from uploader.blueprint import bp
from uploader.chat import agent_typing, live_chat, message_json
from uploader.session import chat_for_token, presented_token

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 15.0
READ_RETRY_SECONDS = 1.0  # after the database failed a woken stream's read
BUSY_RETRY_SECONDS = 5
_OUTBOUND = (MessageDirection.CUSTOMER, MessageDirection.SYSTEM)


def can_change(status: str) -> bool:
    """Whether a receipt, or a retry of a failed message, may still change the status the widget shows."""
    return not MessageStatus(status).is_final


def sse(event: str, data: Any, event_id: int | None = None) -> str:
    """One server-sent event."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


@dataclass
class ChatStream:
    """The state of one stream: the last message id sent and the statuses the widget was last told."""

    db: Database
    settings: Settings
    chat_id: str
    last_id: int
    statuses: dict[int, tuple[str, str | None]] = field(default_factory=dict)
    typing: bool = False
    typing_ends_in: float | None = None  # seconds until the agent's typing indicator lapses on its own

    live: bool = True  # False once the chat has ended (the stream then says so and closes)

    def opening(self, session: Session) -> list[str]:
        """The first events: a snapshot of every outbound message's status up to `last_id` (what changed
        while away), then everything after it."""
        rows = session.execute(
            select(ChatMessage.id, ChatMessage.status, ChatMessage.failure_reason).where(
                ChatMessage.chat_id == self.chat_id,
                ChatMessage.id <= self.last_id,
                ChatMessage.direction.in_(_OUTBOUND),
            )
        ).all()
        snapshot = [{"id": r.id, "status": str(r.status), "failure_reason": r.failure_reason} for r in rows]
        for r in rows:
            if can_change(r.status):
                self.statuses[r.id] = (str(r.status), r.failure_reason)
        return [sse("statuses", snapshot), *self.read(session)]

    def poll(self) -> list[str]:
        """Events since the last read, in a session of their own (held only while reading). A read that
        fails part way leaves the state as it was: nothing it read was sent, so it is read again."""
        saved = (self.last_id, dict(self.statuses), self.typing, self.typing_ends_in)
        try:
            with self.db.session() as session:
                return self.read(session)
        except BaseException:
            self.last_id, self.statuses, self.typing, self.typing_ends_in = saved
            raise

    def read(self, session: Session) -> list[str]:
        """Events since the last read; clears `live` once the chat has ended."""
        events: list[str] = []
        chat = live_chat(session, self.chat_id)
        if chat is None:
            self.live = False
            return [sse("end", Refusal("session_expired").body())]
        for message in session.scalars(
            select(ChatMessage)
            .where(ChatMessage.chat_id == self.chat_id, ChatMessage.id > self.last_id)
            .order_by(ChatMessage.id)
        ):
            events.append(sse("message", message_json(message), message.id))
            self.last_id = message.id
            if message.direction in _OUTBOUND and can_change(message.status):
                self.statuses[message.id] = (str(message.status), message.failure_reason)
        events.extend(self._status_changes(session))
        now = utcnow()
        typing = agent_typing(chat, now)
        until = chat.agent_typing_until
        self.typing_ends_in = (until - now).total_seconds() if typing and until is not None else None
        if typing != self.typing:
            self.typing = typing
            events.append(sse("typing", {"agent": typing}))
        return events

    def _status_changes(self, session: Session) -> list[str]:
        if not self.statuses:
            return []
        events = []
        rows = session.execute(
            select(ChatMessage.id, ChatMessage.status, ChatMessage.failure_reason).where(
                ChatMessage.id.in_(list(self.statuses))
            )
        ).all()
        for r in rows:
            now = (str(r.status), r.failure_reason)
            if now != self.statuses[r.id]:
                events.append(sse("status", {"id": r.id, "status": now[0], "failure_reason": now[1]}))
            if can_change(r.status):
                self.statuses[r.id] = now
            else:
                del self.statuses[r.id]
        return events


def run(stream: ChatStream, wake: ChatWake, waiter: Waiter, first: list[str]) -> Iterator[str]:
    """Yield the first events, then more until the stream's time is up, the chat ends or the process stops."""
    deadline = time.monotonic() + stream.settings.chat_stream_seconds
    yield "retry: 1000\n\n" + "".join(first)
    last_write = time.monotonic()
    woken = unread = False
    while stream.live and not wake.stopping and time.monotonic() < deadline:
        if woken:  # a heartbeat alone reads nothing: an idle stream costs the database nothing
            waiter.event.clear()  # before reading, so a change committed meanwhile wakes the next wait
            try:
                events, unread = stream.poll(), False
            except OperationalError:
                # The database is restarting or out of reach: keep the stream (a thousand widgets
                # reconnecting at once would greet it when it is back) and read again shortly.
                log.warning(
                    "chat stream could not read the database; retrying", extra={"chat_id": stream.chat_id}
                )
                events, unread = [], True
            if events:
                yield "".join(events)
                last_write = time.monotonic()
            if not stream.live:
                return
        now = time.monotonic()
        if now - last_write >= HEARTBEAT_SECONDS:
            yield ": keep-alive\n\n"
            last_write = now
        timeout = min(deadline - now, last_write + HEARTBEAT_SECONDS - now)
        if unread:
            timeout = min(timeout, READ_RETRY_SECONDS)
        lapses = stream.typing_ends_in is not None and stream.typing_ends_in < timeout
        if lapses and stream.typing_ends_in is not None:  # the indicator goes off without any write
            timeout = stream.typing_ends_in + 0.05
        woken = waiter.event.wait(max(0.0, timeout)) or lapses or unread


@bp.get(f"{API}/events")
def events() -> Response:
    """`text/event-stream` of transcript changes after message `after`.

    The token, the budget and the first read share one database session: opening a stream is the
    costly moment when a thousand widgets reconnect at once (a deploy, a network blip).
    """
    services = get_services()
    settings, db, wake = services.settings, services.db, services.chat_wake
    after = max(0, request.args.get("after", default=0, type=int))
    with db.session() as session:
        chat_id = chat_for_token(session, settings, presented_token(request)).id
        try:
            # Registered before the first read, so that a change committed after it wakes the stream.
            waiter = wake.open(chat_id)
        except StreamsBusy:
            retry = {"Retry-After": str(BUSY_RETRY_SECONDS)}
            raise Refusal("streams_busy", headers=retry, seconds=BUSY_RETRY_SECONDS) from None
        try:
            stream = ChatStream(db, settings, chat_id, after)
            first = stream.opening(session)
        except BaseException:
            wake.close(waiter)
            raise
    response = Response(run(stream, wake, waiter, first), mimetype="text/event-stream")
    response.call_on_close(lambda: wake.close(waiter))
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"
    return response
