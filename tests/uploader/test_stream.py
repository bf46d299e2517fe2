"""The event stream reads the database by message id: any process's writes reach any stream."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from ferry.db import utcnow
from ferry.models import Chat, ChatMessage, MessageDirection, MessageStatus
from ferry.services import Services
from tests.uploader.conftest import CSRF, start_chat
from uploader.session import COOKIE_NAME
from uploader.stream import ChatStream

FAST_STREAM = {"chat_stream_poll_seconds": 0.01, "chat_stream_seconds": 10.0}


def services_of(app: Flask) -> Services:
    result: Services = app.extensions["ferry"]
    return result


class Events:
    """Reads server-sent events from a streamed test-client response, one chunk at a time."""

    def __init__(self, client: FlaskClient, after: int = 0) -> None:
        self.response = client.get(f"/chat/api/events?after={after}", buffered=False)
        assert self.response.status_code == 200 and self.response.mimetype == "text/event-stream"
        self.chunks: Iterator[bytes] = iter(self.response.response)

    def next(self) -> list[tuple[str, Any]]:
        """The events of the next chunk the stream writes (the stream polls until it has some)."""
        while True:
            chunk = next(self.chunks).decode()
            events = [parse(block) for block in chunk.split("\n\n") if "data:" in block]
            if events:
                return events

    def close(self) -> None:
        self.response.close()


def parse(block: str) -> tuple[str, Any]:
    fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
    return fields["event"], json.loads(fields["data"])


@pytest.fixture
def stream_app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(**FAST_STREAM)


def add_agent_message(app: Flask, chat_id: str, text: str) -> int:
    with services_of(app).db.session() as session:
        message = ChatMessage(
            chat=session.get_one(Chat, chat_id),
            direction=MessageDirection.AGENT,
            text=text,
            status=MessageStatus.SENT,
        )
        session.add(message)
        session.flush()
        return message.id


def set_status(app: Flask, message_id: int, status: MessageStatus, reason: str | None = None) -> None:
    with services_of(app).db.session() as session:
        message = session.get_one(ChatMessage, message_id)
        message.status, message.failure_reason = status, reason


def test_a_stream_sends_what_is_newer_and_every_status_up_to_its_start(stream_app: Flask) -> None:
    client = stream_app.test_client()
    chat_id = start_chat(client)["chat"]["id"]
    first = client.post("/chat/api/messages", json={"client_id": "client-0001", "text": "one"}, headers=CSRF)
    first_id = first.json["message"]["id"]
    set_status(stream_app, first_id, MessageStatus.DELIVERED)
    second_id = add_agent_message(stream_app, chat_id, "two")
    events = Events(client, after=first_id)
    try:
        statuses, message = events.next()  # the opening: one write
        assert statuses == ("statuses", [{"id": first_id, "status": "delivered", "failure_reason": None}])
        assert message[0] == "message" and message[1]["id"] == second_id and message[1]["text"] == "two"
    finally:
        events.close()


def test_new_messages_status_changes_and_typing_reach_an_open_stream(stream_app: Flask) -> None:
    client = stream_app.test_client()
    chat_id = start_chat(client)["chat"]["id"]
    events = Events(client)
    try:
        assert events.next() == [("statuses", [])]
        sent = client.post(
            "/chat/api/messages", json={"client_id": "client-0001", "text": "hi"}, headers=CSRF
        )
        message_id = sent.json["message"]["id"]
        assert [(name, data["id"], data["status"]) for name, data in events.next()] == [
            ("message", message_id, "pending")
        ]
        set_status(stream_app, message_id, MessageStatus.SENT)
        assert events.next() == [("status", {"id": message_id, "status": "sent", "failure_reason": None})]
        set_status(stream_app, message_id, MessageStatus.FAILED, "Genesys said no")
        assert events.next() == [
            ("status", {"id": message_id, "status": "failed", "failure_reason": "Genesys said no"})
        ]
        with services_of(stream_app).db.session() as session:
            session.get_one(Chat, chat_id).agent_typing_until = utcnow() + timedelta(seconds=30)
        assert events.next() == [("typing", {"agent": True})]
        with services_of(stream_app).db.session() as session:
            session.get_one(Chat, chat_id).agent_typing_until = None
        assert events.next() == [("typing", {"agent": False})]
    finally:
        events.close()


def test_a_message_written_by_another_process_reaches_the_stream(make_app: Callable[..., Flask]) -> None:
    """Two apps on one database stand for two gunicorn workers (or the webhook in another process)."""
    streaming, writing = make_app(**FAST_STREAM), make_app(**FAST_STREAM)
    customer = streaming.test_client()
    chat_id = start_chat(customer)["chat"]["id"]
    events = Events(customer)
    try:
        events.next()
        add_agent_message(writing, chat_id, "from the other process")
        other = writing.test_client()
        other.set_cookie(COOKIE_NAME, customer.get_cookie(COOKIE_NAME, path="/chat").value, path="/chat")
        other.post("/chat/api/messages", json={"client_id": "client-0002", "text": "and me"}, headers=CSRF)
        seen = [data["text"] for _name, data in events.next()]
        if len(seen) == 1:
            seen += [data["text"] for _name, data in events.next()]
        assert seen == ["from the other process", "and me"]
    finally:
        events.close()


def test_a_read_the_database_fails_is_tried_again_on_the_same_stream(
    stream_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = stream_app.test_client()
    chat_id = start_chat(client)["chat"]["id"]
    events = Events(client)
    reads: list[str] = []
    statuses = ChatStream._status_changes

    def restarting_database(stream: ChatStream, session: Session) -> list[str]:
        # Fails part way through a read: after the new message was read, before it was sent.
        if not reads:
            reads.append("failed")
            raise OperationalError("SELECT", {}, Exception("the database system is shutting down"))
        reads.append("read")
        return statuses(stream, session)

    try:
        events.next()
        monkeypatch.setattr(ChatStream, "_status_changes", restarting_database)
        add_agent_message(stream_app, chat_id, "after the restart")
        ((name, data),) = events.next()
        assert (name, data["text"]) == ("message", "after the restart")
        assert reads[:2] == ["failed", "read"]
    finally:
        events.close()


def test_the_stream_ends_when_the_chat_does(stream_app: Flask) -> None:
    client = stream_app.test_client()
    chat_id = start_chat(client)["chat"]["id"]
    events = Events(client)
    try:
        events.next()
        with services_of(stream_app).db.session() as session:
            session.get_one(Chat, chat_id).expires_at = utcnow() - timedelta(seconds=1)
        (event,) = events.next()
        assert event == (
            "end",
            {
                "error": "session_expired",
                "message": "This chat has ended. Please start a new chat.",
                "retryable": False,
            },
        )
        with pytest.raises(StopIteration):
            next(events.chunks)
    finally:
        events.close()


def test_a_stream_without_a_session_is_refused(api: FlaskClient) -> None:
    answer = api.get("/chat/api/events")
    assert answer.status_code == 401 and answer.json["error"] == "no_session"


def test_over_the_process_budget_a_new_stream_is_refused_with_retry_after(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(**FAST_STREAM, chat_max_streams=1)
    client = app.test_client()
    start_chat(client)
    held = Events(client)
    refused = client.get("/chat/api/events")
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "5"
    assert refused.json is not None and refused.json["error"] == "streams_busy" and refused.json["retryable"]
    held.close()
    again = Events(client)  # the closed stream gave its place back
    again.close()
