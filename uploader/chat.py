"""What the chat API does, apart from HTTP: start chats, take customer messages (stored together with
their outbox entry), resend failed ones, relay typing and "seen", and describe the transcript."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ferry.config import Settings
from ferry.db import utcnow
from ferry.errors import Refusal
from ferry.models import (
    Chat,
    ChatMessage,
    MessageDirection,
    MessageStatus,
    OutboxEntry,
    OutboxKind,
    OutboxState,
)
from ferry.outbox import (
    NotRetryable,
    enqueue_message,
    enqueue_receipt,
    enqueue_structured_response,
    enqueue_typing,
    requeue_message,
)
from uploader.structured import button_response

NAME_MAX_CHARS = 100
EMAIL_MAX_CHARS = 254
HISTORY_LIMIT = 1000
SEEN_BATCH = 100
CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def iso(moment: datetime) -> str:
    """A timestamp as the widget reads it (UTC, milliseconds)."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- input ------------------------------------------------------------------------------------------


def clean_line(value: object) -> str:
    """A single-line field without control or formatting characters, trimmed."""
    if not isinstance(value, str):
        return ""
    return "".join(ch for ch in value if unicodedata.category(ch)[0] != "C").strip()


def clean_text(value: object) -> str:
    """Message text: line breaks and tabs kept, other control characters removed, trimmed."""
    if not isinstance(value, str):
        return ""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(ch for ch in value if ch in "\n\t" or unicodedata.category(ch) != "Cc").strip()


def _optional_name(value: object) -> str | None:
    name = clean_line(value)
    if len(name) > NAME_MAX_CHARS:
        raise Refusal("name_too_long", limit=NAME_MAX_CHARS)
    return name or None


# -- chats ------------------------------------------------------------------------------------------


def start_chat(session: Session, settings: Settings, body: dict[str, Any]) -> Chat:
    """A new chat with a fresh opaque customer identity and whatever names the customer gave.

    :raise Refusal: 400 when a name is too long or the email is not an address.
    """
    email = clean_line(body.get("email"))
    if email and (len(email) > EMAIL_MAX_CHARS or not EMAIL.match(email)):
        raise Refusal("bad_email")
    chat = Chat(
        nickname=_optional_name(body.get("name")),
        first_name=_optional_name(body.get("first_name")),
        last_name=_optional_name(body.get("last_name")),
        email=email or None,
        expires_at=utcnow() + timedelta(hours=settings.chat_session_hours),
    )
    session.add(chat)
    session.flush()
    return chat


def live_chat(session: Session, chat_id: str) -> Chat | None:
    """The chat while it has neither expired nor been closed."""
    chat = session.get(Chat, chat_id)
    if chat is None or chat.closed_at is not None or chat.expires_at <= utcnow():
        return None
    return chat


def chat_json(chat: Chat, settings: Settings) -> dict[str, Any]:
    """The chat as the widget sees it (never the customer id Genesys knows them by)."""
    return {
        "id": chat.id,
        "name": chat.nickname,
        "email": chat.email,
        "expires_at": iso(chat.expires_at),
        "max_chars": settings.chat_max_message_chars,
        "typing_indicators": settings.chat_typing_indicators,
    }


# -- messages ---------------------------------------------------------------------------------------


def message_json(message: ChatMessage) -> dict[str, Any]:
    """One transcript item. `kind` tells the widget how to draw it ("text"; "file" for attachments)."""
    return {
        "id": message.id,
        "client_id": message.client_id,
        "direction": str(message.direction),
        "kind": "file" if message.attachment_id else "text",
        "attachment_id": message.attachment_id,
        "text": message.text or "",
        "attachments": [c for c in message.content or [] if "type" not in c],
        "structured": [c for c in message.content or [] if "type" in c],
        "status": str(message.status),
        "failure_reason": message.failure_reason,
        "created_at": iso(message.created_at),
    }


def find_by_client_id(session: Session, chat: Chat, client_id: str) -> ChatMessage | None:
    """The message the widget already sent with this client id, if any."""
    return session.scalars(
        select(ChatMessage).where(ChatMessage.chat_id == chat.id, ChatMessage.client_id == client_id)
    ).first()


def _by_client_id(session: Session, chat: Chat, body: dict[str, Any]) -> tuple[str, ChatMessage | None]:
    """The widget's `client_id` of a POST and the message it already made, if any.

    :raise Refusal: 400 for a bad client id.
    """
    client_id = body.get("client_id")
    if not isinstance(client_id, str) or not CLIENT_ID.match(client_id):
        raise Refusal("bad_client_id")
    return client_id, find_by_client_id(session, chat, client_id)


def post_message(
    session: Session, settings: Settings, chat: Chat, body: dict[str, Any]
) -> tuple[ChatMessage, bool]:
    """Store a customer message and its outbox entry in the caller's transaction.

    Idempotent on the widget's `client_id`: a repeated POST answers the message it created the first time.
    Answers (message, created).

    :raise Refusal: 400 for a bad client id, empty text, or text over CHAT_MAX_MESSAGE_CHARS.
    """
    client_id, existing = _by_client_id(session, chat, body)
    if existing is not None:
        return existing, False
    text = clean_text(body.get("text"))
    if not text:
        raise Refusal("empty_message")
    limit = settings.chat_max_message_chars
    if len(text) > limit:
        raise Refusal("message_too_long", limit=limit, length=len(text))
    message = ChatMessage(chat=chat, client_id=client_id, direction=MessageDirection.CUSTOMER, text=text)
    session.add(message)
    session.flush()
    enqueue_message(session, message)
    return message, True


def answer_structured(
    session: Session, chat: Chat, message_id: int, body: dict[str, Any]
) -> tuple[ChatMessage, bool]:
    """Store the customer's press of a quick reply or card button (`{client_id, text, payload}`) of the
    agent message `message_id`, shown as their message, and owe Genesys the structured response.
    Idempotent on `client_id`; answers (message, created).

    :raise Refusal: 400 bad client id, 404 not this chat's message, 409 no such button on it.
    """
    client_id, existing = _by_client_id(session, chat, body)
    if existing is not None:
        return existing, False
    answered = session.get(ChatMessage, message_id)
    if answered is None or answered.chat_id != chat.id or answered.direction != MessageDirection.AGENT:
        raise Refusal("not_found", what="message")
    response = button_response(answered.content, body.get("text"), body.get("payload"))
    if response is None or not answered.genesys_message_id:
        raise Refusal("not_a_choice")
    message = ChatMessage(
        chat=chat, client_id=client_id, direction=MessageDirection.CUSTOMER, text=response.text
    )
    session.add(message)
    session.flush()
    enqueue_structured_response(session, message, answered, response)
    return message, True


def retry_message(session: Session, chat: Chat, message_id: int) -> ChatMessage:
    """Send a failed customer message of this chat again.

    :raise Refusal: 404 when the message is not this chat's, 409 when it has not failed.
    """
    message = session.get(ChatMessage, message_id)
    if message is None or message.chat_id != chat.id:
        raise Refusal("not_found", what="message")
    try:
        requeue_message(session, message)
    except NotRetryable:
        raise Refusal("not_retryable") from None
    return message


def history(session: Session, chat: Chat, after: int = 0) -> list[ChatMessage]:
    """The transcript after message `after`, in display order (the integer id)."""
    return list(
        session.scalars(
            select(ChatMessage)
            .where(ChatMessage.chat_id == chat.id, ChatMessage.id > after)
            .order_by(ChatMessage.id)
            .limit(HISTORY_LIMIT)
        )
    )


# -- typing and seen --------------------------------------------------------------------------------


def customer_typing(session: Session, settings: Settings, chat: Chat) -> bool:
    """Queue a typing event unless they are off, there is no conversation yet, or one is still waiting."""
    if not settings.chat_typing_indicators or chat.conversation_id is None:
        return False
    waiting = session.scalars(
        select(OutboxEntry.id).where(
            OutboxEntry.chat_id == chat.id,
            OutboxEntry.kind == OutboxKind.EVENT,
            OutboxEntry.state == OutboxState.PENDING,
        )
    ).first()
    if waiting is not None:
        return False
    enqueue_typing(session, chat)
    return True


def mark_seen(session: Session, chat: Chat, up_to: int) -> int:
    """The widget showed agent messages up to `up_to`: mark them delivered and owe Genesys a receipt each."""
    messages = session.scalars(
        select(ChatMessage)
        .where(
            ChatMessage.chat_id == chat.id,
            ChatMessage.id <= up_to,
            ChatMessage.direction == MessageDirection.AGENT,
            ChatMessage.status == MessageStatus.SENT,
            ChatMessage.genesys_message_id.is_not(None),
        )
        .order_by(ChatMessage.id)
        .limit(SEEN_BATCH)
    ).all()
    for message in messages:
        message.status = MessageStatus.DELIVERED
        enqueue_receipt(session, message)
    return len(messages)


def agent_typing(chat: Chat, now: datetime | None = None) -> bool:
    """Whether the agent's typing indicator should show now."""
    return chat.agent_typing_until is not None and chat.agent_typing_until > (now or utcnow())
