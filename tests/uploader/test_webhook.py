"""POST /genesys/webhook: signature check, agent messages (routed, deduplicated), receipts, typing."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from ferry.config import DEV_WEBHOOK_SECRET
from ferry.db import utcnow
from ferry.models import (
    Attachment,
    AttachmentOrigin,
    AttachmentStatus,
    Chat,
    ChatMessage,
    InboxState,
    MessageDirection,
    MessageStatus,
    WebhookInboxEntry,
)
from ferry.outbox import OutboxDelivery, RetryPolicy
from ferry.services import Services
from genesys.webhook import SIGNATURE_HEADER, sign
from tests.uploader.conftest import CSRF, start_chat
from uploader import webhook_inbox
from uploader.stream import ChatStream
from uploader.webhook import body_handler

TIME = "2026-11-24T12:00:00.000Z"


def services_of(app: Flask) -> Services:
    result: Services = app.extensions["ferry"]
    return result


def post(
    client: FlaskClient, payload: dict[str, Any], secret: str = DEV_WEBHOOK_SECRET, **headers: str
) -> Any:
    body = json.dumps(payload).encode()
    return client.post(
        "/genesys/webhook",
        data=body,
        headers={"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, secret), **headers},
    )


def agent_text(
    customer_id: str, message_id: str = "genesys-agent-1", text: str = "Hello from the agent"
) -> dict:
    return {
        "id": message_id,
        "channel": {
            "id": "integration-1",
            "platform": "Open",
            "type": "Private",
            "messageId": message_id,
            "to": {"id": customer_id, "idType": "Opaque"},
            "from": {"id": "integration-1", "idType": "Opaque", "nickname": "Alex Agent"},
            "time": TIME,
        },
        "type": "Text",
        "text": text,
        "direction": "Outbound",
        "originatingEntity": "Human",
    }


def receipt(genesys_id: str, status: str, channel_message_id: str | None = None, **extra: Any) -> dict:
    channel: dict[str, Any] = {"to": {"id": "someone"}, "time": TIME}
    if channel_message_id:
        channel["messageId"] = channel_message_id
    return {
        "id": genesys_id,
        "channel": channel,
        "type": "Receipt",
        "status": status,
        "isFinalReceipt": True,
        **extra,
    }


@pytest.fixture
def customer(api: FlaskClient, chat_app: Flask) -> Chat:
    chat_id = start_chat(api)["chat"]["id"]
    with services_of(chat_app).db.session() as session:
        return session.get_one(Chat, chat_id)


def inbox(app: Flask) -> list[WebhookInboxEntry]:
    with services_of(app).db.session() as session:
        return list(session.scalars(select(WebhookInboxEntry).order_by(WebhookInboxEntry.id)))


def messages(app: Flask) -> list[ChatMessage]:
    with services_of(app).db.session() as session:
        return list(session.scalars(select(ChatMessage).order_by(ChatMessage.id)))


class AcceptingGenesys:
    """Stands in for the Genesys client: accepts every inbound message, with ids genesys-in-1, -2, ..."""

    def __init__(self) -> None:
        self.accepted = 0

    def send_inbound_message(self, _integration_id: str, _message: Any) -> SimpleNamespace:
        self.accepted += 1
        return SimpleNamespace(id=f"genesys-in-{self.accepted}", conversation_id="conversation-1")


@pytest.fixture
def worker(chat_app: Flask) -> OutboxDelivery:
    """The real outbox worker, recording what Genesys answered as it does in production."""
    db = services_of(chat_app).db
    return OutboxDelivery(db, AcceptingGenesys(), "integration-1", RetryPolicy())  # type: ignore[arg-type]


def sent_customer_message(api: FlaskClient, app: Flask, worker: OutboxDelivery) -> ChatMessage:
    """A customer message the worker has sent (Genesys's id for it: genesys-in-<n>)."""
    message_id = api.post(
        "/chat/api/messages", json={"client_id": "client-0001", "text": "hi"}, headers=CSRF
    ).json["message"]["id"]
    assert worker.run_once() == 1
    with services_of(app).db.session() as session:
        return session.get_one(ChatMessage, message_id)


# -- signature ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["missing", "other secret", "body changed", "hex digest"])
def test_a_bad_signature_is_refused_and_changes_nothing(
    api: FlaskClient, chat_app: Flask, customer: Chat, how: str
) -> None:
    payload = agent_text(customer.customer_id)
    body = json.dumps(payload).encode()
    signature = {
        "missing": None,
        "other secret": sign(body, "some-other-secret-0123456789"),
        "body changed": sign(body + b" ", DEV_WEBHOOK_SECRET),
        "hex digest": "sha256=" + hmac.new(DEV_WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest(),
    }[how]
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers[SIGNATURE_HEADER] = signature
    answer = api.post("/genesys/webhook", data=body, headers=headers)
    assert answer.status_code == 401
    assert messages(chat_app) == []
    assert inbox(chat_app) == []  # not even recorded


def test_a_signed_malformed_payload_is_acknowledged_and_recorded_as_unusable(
    api: FlaskClient, chat_app: Flask
) -> None:
    answer = post(api, {"id": "x", "type": "Text"})
    assert (answer.status_code, answer.json) == (200, {"status": "unusable"})
    body = b"not json"
    answer = api.post(
        "/genesys/webhook", data=body, headers={SIGNATURE_HEADER: sign(body, DEV_WEBHOOK_SECRET)}
    )
    assert answer.status_code == 200
    assert messages(chat_app) == []
    assert [(e.state, e.body[-8:]) for e in inbox(chat_app)] == [
        (InboxState.UNUSABLE, 'e": "Text"}'[-8:]),
        (InboxState.UNUSABLE, "not json"),
    ]


def test_a_body_over_the_limit_is_refused_with_413(api: FlaskClient, chat_app: Flask) -> None:
    body = b"x" * (31 * 1000 * 1000)
    answer = api.post(
        "/genesys/webhook", data=body, headers={SIGNATURE_HEADER: sign(body, DEV_WEBHOOK_SECRET)}
    )
    assert answer.status_code == 413
    assert inbox(chat_app) == []


# -- agent messages -------------------------------------------------------------------------------------


def test_an_agent_message_reaches_the_customers_chat_once(
    api: FlaskClient, chat_app: Flask, customer: Chat
) -> None:
    payload = agent_text(customer.customer_id)
    for _ in range(3):  # Genesys retries a delivery up to five times
        answer = post(api, payload)
        assert answer.status_code == 200
    assert answer.json == {"status": "duplicate"}
    stored = messages(chat_app)
    assert len(stored) == 1
    assert (stored[0].direction, stored[0].text, stored[0].genesys_message_id, stored[0].chat_id) == (
        MessageDirection.AGENT,
        "Hello from the agent",
        "genesys-agent-1",
        customer.id,
    )
    assert api.get("/chat/api/chat").json["messages"][0]["text"] == "Hello from the agent"


def test_agent_messages_are_routed_by_the_customer_id(chat_app: Flask, customer: Chat) -> None:
    other_client = chat_app.test_client()
    other_id = start_chat(other_client)["chat"]["id"]
    with services_of(chat_app).db.session() as session:
        other = session.get_one(Chat, other_id)
    post(other_client, agent_text(other.customer_id, "for-other"))
    post(other_client, agent_text(customer.customer_id, "for-customer"))
    assert {(m.chat_id, m.genesys_message_id) for m in messages(chat_app)} == {
        (other.id, "for-other"),
        (customer.id, "for-customer"),
    }


def test_a_message_for_an_unknown_chat_is_acknowledged_and_kept_for_later(
    api: FlaskClient, chat_app: Flask
) -> None:
    answer = post(api, agent_text("nobody-we-know"))
    assert answer.status_code == 202 and answer.json == {"status": "deferred"}
    assert messages(chat_app) == []
    assert [e.state for e in inbox(chat_app)] == [InboxState.PENDING]


def test_agent_attachments_are_recorded_for_fetching_never_linked(
    api: FlaskClient, chat_app: Flask, customer: Chat
) -> None:
    payload = agent_text(customer.customer_id)
    payload["content"] = [
        {
            "contentType": "Attachment",
            "attachment": {
                "mediaType": "Image",
                "url": "https://g.example/a.png",
                "mime": "image/png",
                "filename": "a.png",
            },
        },
        {
            "contentType": "Attachment",
            "attachment": {
                "mediaType": "File",
                "url": "javascript:alert(1)",
                "mime": "application/pdf",
                "filename": "x.pdf",
            },
        },
    ]
    post(api, payload)
    (stored,) = messages(chat_app)
    assert stored.content is None  # the widget never gets the Genesys URL
    with services_of(chat_app).db.session() as session:
        (file,) = session.scalars(select(Attachment))
        assert (file.origin, file.source_url, file.status, file.filename, file.chat_id) == (
            AttachmentOrigin.AGENT,
            "https://g.example/a.png",
            AttachmentStatus.CREATED,
            "a.png",
            customer.id,
        )
    assert post(api, payload).json == {"status": "duplicate"}


def test_an_agent_message_ends_the_typing_indicator(
    api: FlaskClient, chat_app: Flask, customer: Chat
) -> None:
    typing = {
        **agent_text(customer.customer_id, "typing-1"),
        "type": "Event",
        "events": [{"eventType": "Typing", "typing": {"type": "On", "duration": 4000}}],
    }
    assert post(api, typing).json == {"status": "typing"}
    assert api.get("/chat/api/chat").json["agent_typing"] is True
    post(api, agent_text(customer.customer_id))
    assert api.get("/chat/api/chat").json["agent_typing"] is False


def test_agent_typing_is_ignored_when_indicators_are_off(make_app: Callable[..., Flask]) -> None:
    app = make_app(chat_typing_indicators=False)
    client = app.test_client()
    chat_id = start_chat(client)["chat"]["id"]
    with services_of(app).db.session() as session:
        customer_id = session.get_one(Chat, chat_id).customer_id
    typing = {**agent_text(customer_id), "type": "Event", "events": [{"eventType": "Typing"}]}
    assert post(client, typing).json == {"status": "ignored"}
    with services_of(app).db.session() as session:
        assert session.get_one(Chat, chat_id).agent_typing_until is None


# -- receipts -------------------------------------------------------------------------------------------


def test_a_delivered_receipt_marks_the_customer_message_delivered(
    api: FlaskClient, chat_app: Flask, customer: Chat, worker: OutboxDelivery
) -> None:
    sent_customer_message(api, chat_app, worker)
    assert post(api, receipt("genesys-in-1", "Delivered")).json == {"status": "receipt_delivered"}
    assert [m.status for m in messages(chat_app)] == [MessageStatus.DELIVERED]


def test_a_failed_receipt_marks_it_failed_with_the_reasons(
    api: FlaskClient, chat_app: Flask, customer: Chat, worker: OutboxDelivery
) -> None:
    sent_customer_message(api, chat_app, worker)
    reasons = [{"code": "MediaTypeNotAllowed", "message": "Media type application/x-foo is not allowed"}]
    post(api, receipt("genesys-in-1", "Failed", reasons=reasons))
    (message,) = messages(chat_app)
    assert message.status == MessageStatus.FAILED
    assert message.failure_reason == "Media type application/x-foo is not allowed"
    shown = api.get("/chat/api/chat").json["messages"][0]
    assert (shown["status"], shown["failure_reason"]) == (
        "failed",
        "Media type application/x-foo is not allowed",
    )


def test_a_receipt_before_the_worker_recorded_genesys_id_matches_our_message_id(
    api: FlaskClient, chat_app: Flask, customer: Chat
) -> None:
    api.post("/chat/api/messages", json={"client_id": "client-0001", "text": "hi"}, headers=CSRF)
    (pending,) = messages(chat_app)
    assert post(api, receipt("not-recorded-yet", "Delivered", pending.channel_message_id)).status_code == 200
    assert [m.status for m in messages(chat_app)] == [MessageStatus.DELIVERED]


def test_a_receipt_for_an_unknown_message_is_acknowledged_and_kept_for_later(
    api: FlaskClient, chat_app: Flask
) -> None:
    answer = post(api, receipt("unknown", "Delivered", "ferry-unknown"))
    assert answer.status_code == 202 and answer.json == {"status": "deferred"}
    assert [e.state for e in inbox(chat_app)] == [InboxState.PENDING]


def test_receipts_about_agent_messages_are_ignored(api: FlaskClient, chat_app: Flask, customer: Chat) -> None:
    post(api, agent_text(customer.customer_id))
    answer = post(api, receipt("genesys-agent-1", "Delivered", direction="Outbound"))
    assert answer.json == {"status": "ignored"}
    assert [m.status for m in messages(chat_app)] == [MessageStatus.SENT]


# -- receipts only move a message forward ----------------------------------------------------------------


def status_of(app: Flask, message_id: int) -> tuple[MessageStatus, str | None]:
    with services_of(app).db.session() as session:
        message = session.get_one(ChatMessage, message_id)
        return MessageStatus(message.status), message.failure_reason


def open_stream(app: Flask, chat_id: str, after: int) -> ChatStream:
    """The widget's event stream, opened after message `after`, with its opening snapshot read."""
    services = services_of(app)
    stream = ChatStream(services.db, services.settings, chat_id, after)
    with services.db.session() as session:
        stream.opening(session)
    return stream


def status_events(stream: ChatStream) -> list[dict[str, Any]]:
    events = stream.poll()
    assert stream.live
    return [json.loads(e.split("data: ", 1)[1]) for e in events if e.startswith("event: status\n")]


def test_a_replayed_delivered_then_failed_receipt_leaves_the_message_delivered(
    api: FlaskClient,
    chat_app: Flask,
    customer: Chat,
    worker: OutboxDelivery,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sent = sent_customer_message(api, chat_app, worker)
    reasons = [{"code": "GeneralError", "message": "It went wrong"}]
    assert post(api, receipt("genesys-in-1", "Delivered")).json == {"status": "receipt_delivered"}
    with caplog.at_level(logging.INFO, logger="uploader.webhook"):
        assert post(api, receipt("genesys-in-1", "Failed", reasons=reasons)).json == {
            "status": "stale_receipt"
        }
    assert status_of(chat_app, sent.id) == (MessageStatus.DELIVERED, None)
    shown = api.get("/chat/api/chat").json["messages"][0]
    assert (shown["status"], shown["failure_reason"]) == ("delivered", None)
    (ignored,) = [r for r in caplog.records if r.getMessage().startswith("receipt ignored")]
    assert (ignored.message_id, ignored.current_status, ignored.receipt_status) == (  # type: ignore[attr-defined]
        sent.id,
        "delivered",
        "Failed",
    )


def test_the_same_receipt_twice_changes_the_message_once_and_the_stream_tells_it_once(
    api: FlaskClient, chat_app: Flask, customer: Chat, worker: OutboxDelivery
) -> None:
    sent = sent_customer_message(api, chat_app, worker)
    stream = open_stream(chat_app, customer.id, sent.id)
    answers = []
    events = []
    for _ in range(2):
        answers.append(post(api, receipt("genesys-in-1", "Delivered")).json["status"])
        events.append(status_events(stream))
    assert answers == ["receipt_delivered", "stale_receipt"]
    assert events == [[{"id": sent.id, "status": "delivered", "failure_reason": None}], []]


@pytest.mark.parametrize(
    ("then", "moved_to"),
    [
        ("Read", MessageStatus.READ),
        ("Sent", None),
        ("Published", None),
        ("Delivered", None),
        ("Removed", None),
    ],
)
def test_after_delivered_only_read_moves_the_message_on(
    api: FlaskClient,
    chat_app: Flask,
    customer: Chat,
    worker: OutboxDelivery,
    then: str,
    moved_to: MessageStatus | None,
) -> None:
    sent = sent_customer_message(api, chat_app, worker)
    post(api, receipt("genesys-in-1", "Delivered"))
    stream = open_stream(chat_app, customer.id, sent.id)
    answer = post(api, receipt("genesys-in-1", then)).json
    if moved_to is None:
        assert answer == {"status": "stale_receipt"}
        assert status_of(chat_app, sent.id) == (MessageStatus.DELIVERED, None)
        assert status_events(stream) == []
    else:
        assert answer == {"status": f"receipt_{then.lower()}"}
        assert status_of(chat_app, sent.id) == (moved_to, None)
        assert status_events(stream) == [{"id": sent.id, "status": str(moved_to), "failure_reason": None}]


@pytest.mark.parametrize("before", ["pending", "sent"])
def test_a_late_failed_receipt_for_a_message_never_delivered_still_marks_it_failed(
    api: FlaskClient, chat_app: Flask, customer: Chat, worker: OutboxDelivery, before: str
) -> None:
    message_id = api.post(
        "/chat/api/messages", json={"client_id": "client-0001", "text": "hi"}, headers=CSRF
    ).json["message"]["id"]
    if before == "sent":
        worker.run_once()
    (message,) = messages(chat_app)
    assert message.status == before
    stream = open_stream(chat_app, customer.id, message_id)
    # Before the worker recorded Genesys's id, the receipt is matched by ours (channel.messageId).
    failed = receipt("genesys-in-1", "Failed", message.channel_message_id if before == "pending" else None)
    assert post(api, failed).json == {"status": "receipt_failed"}
    assert status_of(chat_app, message_id) == (MessageStatus.FAILED, "Genesys could not deliver it")
    assert status_events(stream) == [
        {"id": message_id, "status": "failed", "failure_reason": "Genesys could not deliver it"}
    ]


def test_a_retried_message_goes_forward_again_and_the_failed_attempt_stays_behind(
    api: FlaskClient, chat_app: Flask, customer: Chat, worker: OutboxDelivery
) -> None:
    sent = sent_customer_message(api, chat_app, worker)
    post(api, receipt("genesys-in-1", "Failed"))
    stream = open_stream(chat_app, customer.id, sent.id)
    retried = api.post(f"/chat/api/messages/{sent.id}/retry", headers=CSRF)
    assert retried.status_code == 200 and retried.json["message"]["status"] == "pending"
    assert [e["status"] for e in status_events(stream)] == ["pending"]
    assert worker.run_once() == 1  # the new attempt: Genesys knows it as genesys-in-2
    assert [e["status"] for e in status_events(stream)] == ["sent"]
    # A replay about the failed attempt cannot touch the new one, even before the new one is delivered.
    assert post(api, receipt("genesys-in-1", "Failed")).json == {"status": "stale_receipt"}
    assert status_of(chat_app, sent.id) == (MessageStatus.SENT, None)
    assert post(api, receipt("genesys-in-2", "Delivered")).json == {"status": "receipt_delivered"}
    assert post(api, receipt("genesys-in-1", "Delivered")).json == {"status": "stale_receipt"}
    assert status_of(chat_app, sent.id) == (MessageStatus.DELIVERED, None)
    assert [e["status"] for e in status_events(stream)] == ["delivered"]


def test_the_webhook_answers_with_database_writes_only(
    api: FlaskClient, chat_app: Flask, customer: Chat
) -> None:
    """Nothing on the webhook's path calls Genesys (it must answer well within Genesys's 10 s)."""
    with services_of(chat_app).db.session() as session:
        before = session.scalar(select(func.count()).select_from(ChatMessage))
    assert "genesys" not in services_of(chat_app).__dict__  # the Genesys client was never even built
    post(api, agent_text(customer.customer_id))
    assert "genesys" not in services_of(chat_app).__dict__
    with services_of(chat_app).db.session() as session:
        assert session.scalar(select(func.count()).select_from(ChatMessage)) == (before or 0) + 1


# -- the inbox's retries ----------------------------------------------------------------------------------


def retry_later(app: Flask, minutes: int = 10) -> int:
    """The worker's inbox loop, run as if `minutes` had passed (every deferred entry is due by then)."""
    services = services_of(app)
    return webhook_inbox.retry_due(
        services.db,
        services.settings,
        body_handler(services.db, services.settings),
        now=utcnow() + timedelta(minutes=minutes),
    )


def test_a_deferred_receipt_is_applied_once_its_message_is_known(
    api: FlaskClient, chat_app: Flask, customer: Chat, worker: OutboxDelivery
) -> None:
    api.post("/chat/api/messages", json={"client_id": "client-0001", "text": "hi"}, headers=CSRF)
    # Genesys's receipt overtakes the worker's commit of the id it gave the message.
    assert post(api, receipt("genesys-in-1", "Delivered")).status_code == 202
    assert retry_later(chat_app) == 1
    assert [e.state for e in inbox(chat_app)] == [InboxState.PENDING]  # still unknown: kept
    assert worker.run_once() == 1
    assert retry_later(chat_app, minutes=20) == 1
    assert [(e.state, e.outcome) for e in inbox(chat_app)] == [(InboxState.DONE, "receipt_delivered")]
    assert [m.status for m in messages(chat_app)] == [MessageStatus.DELIVERED]


def test_a_deferred_agent_message_reaches_the_chat_once_its_conversation_is_known(
    api: FlaskClient, chat_app: Flask, customer: Chat
) -> None:
    payload = agent_text("an-id-we-never-gave", "for-conversation-9") | {"conversationId": "conversation-9"}
    assert post(api, payload).status_code == 202
    with services_of(chat_app).db.session() as session:
        session.get_one(Chat, customer.id).conversation_id = "conversation-9"
    assert retry_later(chat_app) == 1
    (stored,) = messages(chat_app)
    assert (stored.chat_id, stored.genesys_message_id) == (customer.id, "for-conversation-9")
    assert retry_later(chat_app, minutes=60) == 0  # done: never applied twice


def test_work_that_never_becomes_possible_is_recorded_unusable_after_the_bound(
    make_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(webhook_retry_max_attempts=3)
    client = app.test_client()
    assert post(client, receipt("never", "Delivered", "ferry-never")).status_code == 202
    for minutes in (10, 20, 30):
        retry_later(app, minutes)
    assert [(e.state, e.attempts) for e in inbox(app)] == [(InboxState.UNUSABLE, 3)]
    assert "given up after every retry" in caplog.text
    assert retry_later(app, 60) == 0


def test_the_top_level_conversation_id_is_recorded_on_the_chat(
    api: FlaskClient, chat_app: Flask, customer: Chat
) -> None:
    post(api, agent_text(customer.customer_id) | {"conversationId": "conversation-7"})
    with services_of(chat_app).db.session() as session:
        assert session.get_one(Chat, customer.id).conversation_id == "conversation-7"
