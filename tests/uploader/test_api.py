"""The chat JSON API: sessions, CSRF, validation, idempotent sends, rate limits, retry, typing, seen."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import func, select

from ferry.db import utcnow
from ferry.models import (
    Chat,
    ChatMessage,
    MessageDirection,
    MessageStatus,
    OutboxEntry,
    OutboxKind,
    OutboxState,
)
from ferry.services import Services
from tests.uploader.conftest import CSRF, start_chat
from uploader.session import COOKIE_NAME


def services_of(app: Flask) -> Services:
    result: Services = app.extensions["ferry"]
    return result


def count(app: Flask, model: type) -> int:
    with services_of(app).db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def send(client: FlaskClient, text: str, client_id: str = "client-0001", **headers: str) -> object:
    return client.post(
        "/chat/api/messages", json={"client_id": client_id, "text": text}, headers={**CSRF, **headers}
    )


# -- starting a chat and the session ---------------------------------------------------------------


def test_starting_a_chat_sets_an_httponly_cookie_bound_to_it(api: FlaskClient, chat_app: Flask) -> None:
    answer = api.post(
        "/chat/api/chats", json={"name": " Jane Doe ", "email": "jane@example.com"}, headers=CSRF
    )
    assert answer.status_code == 201
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "token" not in answer.json
    with services_of(chat_app).db.session() as session:
        chat = session.scalars(select(Chat)).one()
        assert (chat.nickname, chat.email) == ("Jane Doe", "jane@example.com")
        assert chat.customer_id and chat.customer_id != chat.id
        assert chat.expires_at > utcnow() + timedelta(hours=23)
    current = api.get("/chat/api/chat")
    assert current.json["chat"]["id"] == chat.id
    assert current.headers["Cache-Control"] == "no-store"


def test_the_embed_gets_a_bearer_token_instead_of_a_cookie(chat_app: Flask) -> None:
    embed = chat_app.test_client()
    answer = embed.post("/chat/api/chats", json={"mode": "embed"}, headers=CSRF)
    assert answer.status_code == 201 and "Set-Cookie" not in answer.headers
    token = answer.json["token"]
    other = chat_app.test_client()
    assert other.get("/chat/api/chat").json["chat"] is None
    with_token = other.get("/chat/api/chat", headers={"Authorization": f"Bearer {token}"})
    assert with_token.json["chat"]["id"] == answer.json["chat"]["id"]


@pytest.mark.parametrize(
    ("details", "message"),
    [
        ({"email": "not an address"}, "Please enter a valid email address, or leave it empty."),
        ({"name": "x" * 101}, "Your name can be at most 100 characters long."),
    ],
)
def test_bad_details_are_refused_with_a_human_message(
    api: FlaskClient, chat_app: Flask, details: dict[str, str], message: str
) -> None:
    answer = api.post("/chat/api/chats", json=details, headers=CSRF)
    assert answer.status_code == 400
    assert answer.json["message"] == message
    assert count(chat_app, Chat) == 0


def test_without_a_session_sending_says_start_a_new_chat(api: FlaskClient) -> None:
    assert api.get("/chat/api/chat").json == {"chat": None, "messages": [], "agent_typing": False}
    answer = send(api, "hello")
    assert answer.status_code == 401
    assert answer.json == {
        "error": "no_session",
        "message": "Start a new chat to send messages.",
        "retryable": False,
    }


def test_an_expired_chat_says_start_a_new_chat(api: FlaskClient, chat_app: Flask) -> None:
    chat_id = start_chat(api)["chat"]["id"]
    with services_of(chat_app).db.session() as session:
        session.get_one(Chat, chat_id).expires_at = utcnow() - timedelta(seconds=1)
    for answer in (api.get("/chat/api/chat"), send(api, "hello"), api.get("/chat/api/events")):
        assert answer.status_code == 401
        assert answer.json["error"] == "session_expired"
        assert answer.json["message"] == "This chat has ended. Please start a new chat."
    assert count(chat_app, ChatMessage) == 0


@pytest.mark.parametrize("how", ["other secret", "tampered", "unknown chat"])
def test_a_foreign_session_is_refused(api: FlaskClient, chat_app: Flask, how: str) -> None:
    chat_id = start_chat(api)["chat"]["id"]
    genuine = api.get_cookie(COOKIE_NAME, path="/chat")
    assert genuine is not None
    forged = {
        "other secret": URLSafeTimedSerializer(
            "another-deployment-secret", salt="ferry.uploader.chat-session"
        ).dumps({"chat": chat_id}),
        "tampered": genuine.value[:-2] + ("AA" if not genuine.value.endswith("AA") else "BB"),
        "unknown chat": URLSafeTimedSerializer(
            services_of(chat_app).settings.secret_key, salt="ferry.uploader.chat-session"
        ).dumps({"chat": "no-such-chat"}),
    }[how]
    api.set_cookie(COOKIE_NAME, forged, path="/chat")
    answer = send(api, "hello")
    assert answer.status_code == 401
    assert answer.json["error"] == "session_invalid"
    assert "start a new chat" in answer.json["message"]
    assert count(chat_app, ChatMessage) == 0


# -- CSRF ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Ferry-Chat": "0"}, {**CSRF, "Origin": "https://evil.example"}],
    ids=["no header", "wrong header", "foreign origin"],
)
def test_state_changes_without_the_csrf_guard_are_refused(
    api: FlaskClient, chat_app: Flask, headers: dict[str, str]
) -> None:
    start_chat(api)
    answer = api.post("/chat/api/messages", json={"client_id": "client-0001", "text": "hi"}, headers=headers)
    assert answer.status_code == 403 and answer.json["error"] == "csrf"
    assert answer.json["message"].startswith("This request was refused")
    assert api.post("/chat/api/chats", json={}, headers=headers).status_code == 403
    assert count(chat_app, ChatMessage) == 0 and count(chat_app, Chat) == 1


def test_ferrys_own_origin_passes_the_csrf_guard(api: FlaskClient) -> None:
    start_chat(api)
    assert send(api, "hi", Origin="http://ferry.test").status_code == 201


# -- messages -------------------------------------------------------------------------------------------


def test_a_message_is_stored_with_its_outbox_entry(api: FlaskClient, chat_app: Flask) -> None:
    start_chat(api, name="Jane")
    answer = send(api, "  Hello\r\nthere\x00  ")
    assert answer.status_code == 201
    message = answer.json["message"]
    assert (message["text"], message["status"], message["direction"]) == (
        "Hello\nthere",
        "pending",
        "customer",
    )
    with services_of(chat_app).db.session() as session:
        entry = session.scalars(select(OutboxEntry)).one()
        stored = session.get_one(ChatMessage, message["id"])
        assert entry.kind == OutboxKind.MESSAGE and entry.message_id == stored.id
        assert entry.channel_message_id == stored.channel_message_id
        assert entry.payload["text"] == "Hello\nthere"
        assert entry.payload["channel"]["messageId"] == entry.channel_message_id
        assert entry.payload["channel"]["from"]["idType"] == "Opaque"
        assert entry.payload["channel"]["from"]["nickname"] == "Jane"


def test_a_retried_send_never_makes_a_second_message(api: FlaskClient, chat_app: Flask) -> None:
    start_chat(api)
    first = send(api, "only once", client_id="same-client-id")
    again = send(api, "only once", client_id="same-client-id")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json["message"]["id"] == first.json["message"]["id"]
    assert count(chat_app, ChatMessage) == 1 and count(chat_app, OutboxEntry) == 1


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_empty_text_is_refused(api: FlaskClient, chat_app: Flask, text: str) -> None:
    start_chat(api)
    answer = send(api, text)
    assert answer.status_code == 400
    assert answer.json["message"] == "Type a message before sending."
    assert count(chat_app, ChatMessage) == 0


def test_text_over_the_limit_is_refused_naming_the_limit(make_app: Callable[..., Flask]) -> None:
    app = make_app(chat_max_message_chars=10)
    client = app.test_client()
    start_chat(client)
    assert send(client, "x" * 10, client_id="exactly-at-limit").status_code == 201
    answer = send(client, "y" * 11, client_id="one-over-limit")
    assert answer.status_code == 400
    assert answer.json["message"] == "Messages can be at most 10 characters long (this one has 11)."
    assert answer.json["limit"] == 10
    assert count(app, ChatMessage) == 1


@pytest.mark.parametrize("client_id", [None, "short", "has spaces in it", "x" * 65])
def test_a_bad_client_id_is_refused(api: FlaskClient, client_id: str | None) -> None:
    start_chat(api)
    answer = api.post("/chat/api/messages", json={"client_id": client_id, "text": "hi"}, headers=CSRF)
    assert answer.status_code == 400 and answer.json["error"] == "bad_client_id"


def test_a_body_that_is_not_a_json_object_is_refused(api: FlaskClient) -> None:
    start_chat(api)
    answer = api.post("/chat/api/messages", data="text=hi", headers=CSRF)
    assert answer.status_code == 400 and answer.json["message"]


def test_markup_is_stored_and_returned_as_text(api: FlaskClient) -> None:
    start_chat(api, name="<b>Jane</b>")
    text = '<img src=x onerror="alert(1)">'
    assert send(api, text).json["message"]["text"] == text
    history = api.get("/chat/api/chat").json
    assert history["chat"]["name"] == "<b>Jane</b>" and history["messages"][0]["text"] == text


# -- rate limits ----------------------------------------------------------------------------------------


def test_too_many_messages_from_one_chat_get_a_429_with_a_human_message(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(chat_rate_per_chat=3)
    client = app.test_client()
    start_chat(client)
    for n in range(3):
        assert send(client, f"message {n}", client_id=f"client-000{n}").status_code == 201
    answer = send(client, "one too many", client_id="client-0009")
    assert answer.status_code == 429
    seconds = answer.json["seconds"]
    assert 1 <= seconds <= 60 and answer.headers["Retry-After"] == str(seconds)
    assert (
        answer.json["message"] == f"You are sending too quickly. Please wait {seconds} seconds and try again."
    )
    assert count(app, ChatMessage) == 3
    # Another chat has its own allowance.
    other = app.test_client()
    start_chat(other)
    assert send(other, "hello", client_id="client-1000").status_code == 201


def test_one_ip_address_is_limited_across_chats(make_app: Callable[..., Flask]) -> None:
    app = make_app(chat_rate_per_ip=4)
    first, second = app.test_client(), app.test_client()
    start_chat(first)  # 1
    start_chat(second)  # 2
    assert send(first, "a", client_id="client-0001").status_code == 201  # 3
    assert send(second, "b", client_id="client-0002").status_code == 201  # 4
    answer = send(first, "c", client_id="client-0003")
    assert answer.status_code == 429 and answer.json["error"] == "rate_limited"
    assert count(app, ChatMessage) == 2


def test_starting_too_many_chats_is_limited(make_app: Callable[..., Flask]) -> None:
    app = make_app(chat_starts_per_ip=2)
    client = app.test_client()
    start_chat(client)
    start_chat(client)
    answer = client.post("/chat/api/chats", json={}, headers=CSRF)
    assert answer.status_code == 429
    assert answer.json["message"].startswith("Too many chats were started from your network.")
    assert count(app, Chat) == 2


def test_the_limits_are_shared_by_every_process(make_app: Callable[..., Flask]) -> None:
    one, two = make_app(chat_rate_per_chat=2), make_app(chat_rate_per_chat=2)  # two "gunicorn workers"
    client_one = one.test_client()
    start_chat(client_one)
    client_two = two.test_client()
    client_two.set_cookie(COOKIE_NAME, client_one.get_cookie(COOKIE_NAME, path="/chat").value, path="/chat")
    assert send(client_one, "a", client_id="client-0001").status_code == 201
    assert send(client_two, "b", client_id="client-0002").status_code == 201
    assert send(client_one, "c", client_id="client-0003").status_code == 429


# -- retry, typing, seen --------------------------------------------------------------------------------


def fail_message(app: Flask, message_id: int, *, dead: bool) -> None:
    """Make a message failed the way the worker (dead letter) or a Genesys Failed receipt would."""
    with services_of(app).db.session() as session:
        message = session.get_one(ChatMessage, message_id)
        message.status = MessageStatus.FAILED
        message.failure_reason = "refused"
        entry = session.scalars(select(OutboxEntry).where(OutboxEntry.message_id == message_id)).one()
        entry.state = OutboxState.DEAD if dead else OutboxState.SENT


@pytest.mark.parametrize("dead", [True, False], ids=["dead letter", "failed receipt"])
def test_a_failed_message_can_be_sent_again(api: FlaskClient, chat_app: Flask, dead: bool) -> None:
    start_chat(api)
    message_id = send(api, "try me").json["message"]["id"]
    with services_of(chat_app).db.session() as session:
        first_channel_id = session.get_one(ChatMessage, message_id).channel_message_id
    fail_message(chat_app, message_id, dead=dead)
    answer = api.post(f"/chat/api/messages/{message_id}/retry", headers=CSRF)
    assert answer.status_code == 200 and answer.json["message"]["status"] == "pending"
    with services_of(chat_app).db.session() as session:
        entries = session.scalars(select(OutboxEntry).order_by(OutboxEntry.id)).all()
        channel_id = session.get_one(ChatMessage, message_id).channel_message_id
    if dead:  # Genesys never created it: the same entry (and messageId) goes again
        assert [e.state for e in entries] == [OutboxState.PENDING] and channel_id == first_channel_id
    else:  # Genesys has it: a new messageId, or Genesys would call it a duplicate
        assert [e.state for e in entries] == [OutboxState.SENT, OutboxState.PENDING]
        assert channel_id != first_channel_id and entries[1].channel_message_id == channel_id


def test_only_failed_messages_of_this_chat_can_be_retried(api: FlaskClient, chat_app: Flask) -> None:
    start_chat(api)
    message_id = send(api, "fine").json["message"]["id"]
    answer = api.post(f"/chat/api/messages/{message_id}/retry", headers=CSRF)
    assert answer.status_code == 409 and answer.json["error"] == "not_retryable"
    other = chat_app.test_client()
    start_chat(other)
    fail_message(chat_app, message_id, dead=True)
    answer = other.post(f"/chat/api/messages/{message_id}/retry", headers=CSRF)
    assert answer.status_code == 404 and answer.json["message"] == "That message was not found in this chat."


def test_typing_is_queued_once_there_is_a_conversation(api: FlaskClient, chat_app: Flask) -> None:
    chat_id = start_chat(api)["chat"]["id"]
    assert api.post("/chat/api/typing", headers=CSRF).json == {"queued": False}  # no conversation yet
    with services_of(chat_app).db.session() as session:
        session.get_one(Chat, chat_id).conversation_id = "conversation-1"
    assert api.post("/chat/api/typing", headers=CSRF).json == {"queued": True}
    assert api.post("/chat/api/typing", headers=CSRF).json == {"queued": False}  # one is still waiting
    with services_of(chat_app).db.session() as session:
        events = session.scalars(select(OutboxEntry).where(OutboxEntry.kind == OutboxKind.EVENT)).all()
        assert len(events) == 1 and events[0].payload["events"] == [{"eventType": "Typing"}]


def test_typing_is_not_relayed_when_indicators_are_off(make_app: Callable[..., Flask]) -> None:
    app = make_app(chat_typing_indicators=False)
    client = app.test_client()
    chat_id = start_chat(client)["chat"]["id"]
    with services_of(app).db.session() as session:
        session.get_one(Chat, chat_id).conversation_id = "conversation-1"
    assert client.post("/chat/api/typing", headers=CSRF).json == {"queued": False}
    assert count(app, OutboxEntry) == 0


def test_seen_agent_messages_are_receipted_once(api: FlaskClient, chat_app: Flask) -> None:
    chat_id = start_chat(api)["chat"]["id"]
    with services_of(chat_app).db.session() as session:
        chat = session.get_one(Chat, chat_id)
        for n in range(2):
            session.add(
                ChatMessage(
                    chat=chat,
                    direction=MessageDirection.AGENT,
                    text=f"agent {n}",
                    status=MessageStatus.SENT,
                    genesys_message_id=f"genesys-{n}",
                )
            )
    last = api.get("/chat/api/chat").json["messages"][-1]["id"]
    assert api.post("/chat/api/seen", json={"up_to": last}, headers=CSRF).json == {"receipts": 2}
    assert api.post("/chat/api/seen", json={"up_to": last}, headers=CSRF).json == {"receipts": 0}
    with services_of(chat_app).db.session() as session:
        receipts = session.scalars(select(OutboxEntry).where(OutboxEntry.kind == OutboxKind.RECEIPT)).all()
        assert sorted(r.payload["id"] for r in receipts) == ["genesys-0", "genesys-1"]
        assert {r.payload["status"] for r in receipts} == {"Delivered"}
    assert api.post("/chat/api/seen", json={"up_to": "all"}, headers=CSRF).status_code == 400


def test_settings_reach_the_widget(make_app: Callable[..., Flask]) -> None:
    app = make_app(chat_max_message_chars=123, chat_typing_indicators=False)
    chat = start_chat(app.test_client())["chat"]
    assert (chat["max_chars"], chat["typing_indicators"]) == (123, False)


def test_only_an_offered_choice_of_this_chat_can_be_pressed_and_only_once(
    api: FlaskClient, chat_app: Flask
) -> None:
    chat_id = start_chat(api)["chat"]["id"]
    offered = [{"type": "quick_reply", "text": "Home", "payload": "home"}]
    with services_of(chat_app).db.session() as session:
        asked = ChatMessage(
            chat=session.get_one(Chat, chat_id),
            direction=MessageDirection.AGENT,
            text="What kind of claim?",
            content=offered,
            status=MessageStatus.SENT,
            genesys_message_id="genesys-q",
        )
        session.add(asked)
        session.flush()
        asked_id = asked.id
    shown = api.get("/chat/api/chat").json["messages"][-1]
    assert shown["structured"] == offered and shown["attachments"] == []

    url = f"/chat/api/messages/{asked_id}/answers"
    not_offered = api.post(
        url, json={"client_id": "client-0001", "text": "Car", "payload": "car"}, headers=CSRF
    )
    assert not_offered.status_code == 409
    press = {"client_id": "client-0002", "text": "Home", "payload": "home"}
    first = api.post(url, json=press, headers=CSRF)
    again = api.post(url, json=press, headers=CSRF)
    assert (first.status_code, again.status_code) == (201, 200)
    assert (
        first.json["message"]["text"] == "Home" and again.json["message"]["id"] == first.json["message"]["id"]
    )
    assert (
        api.post(
            "/chat/api/messages/999999/answers", json=press | {"client_id": "client-0003"}, headers=CSRF
        ).status_code
        == 404
    )
    with services_of(chat_app).db.session() as session:
        [entry] = session.scalars(select(OutboxEntry).where(OutboxEntry.kind == OutboxKind.STRUCTURED)).all()
        assert entry.payload["originatingMessageId"] == "genesys-q"
        assert entry.payload["buttonResponse"] == {"type": "QuickReply", "text": "Home", "payload": "home"}
