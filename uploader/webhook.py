"""POST /genesys/webhook: what Genesys sends the customer (agent messages, receipts, typing).

The signature (X-Hub-Signature-256 over the raw body with GENESYS_WEBHOOK_SECRET) is checked before
anything is read; a missing or wrong one is answered 401 and changes nothing, and a body over
MAX_CONTENT_LENGTH is answered 413. Every other body is recorded in the webhook inbox
(uploader/webhook_inbox.py) and answered 2xx: Genesys counts anything else as a failed delivery. What
cannot be done yet is retried by the worker; a malformed body is recorded as unusable.

Processing is only a few database writes (Genesys gives up after 10 s; an agent's file is fetched later,
by the worker: ferry/agent_files.py) and idempotent, because Genesys retries up to five times: agent
messages are deduplicated by Genesys's message id, receipts only ever move a message's status forward (a
replayed or late one is logged and ignored), typing just sets state.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Response, jsonify, request
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ferry import agent_files
from ferry.config import Settings
from ferry.db import utcnow
from ferry.errors import Refusal
from ferry.messages import advance
from ferry.models import Chat, ChatMessage, MessageDirection, MessageStatus, OutboxEntry, OutboxKind
from ferry.services import get_services
from genesys.models import (
    Direction,
    WebhookKind,
    WebhookMessage,
    WebhookPayloadError,
    parse_webhook,
)
from genesys.models import (
    MessageStatus as GenesysStatus,
)
from genesys.webhook import SIGNATURE_HEADER, WEBHOOK_PATH, verify_signature
from uploader import webhook_inbox as inbox
from uploader.blueprint import bp
from uploader.structured import structured_items

log = logging.getLogger("uploader.webhook")

DEFAULT_TYPING_MS = 5000
MAX_TYPING_MS = 30000


@bp.post(WEBHOOK_PATH)
def genesys_webhook() -> tuple[Response, int]:
    """Verify, record and handle one webhook body: 200 when handled (or unusable), 202 when deferred."""
    services = get_services()
    body = request.get_data(cache=False)
    if not verify_signature(
        body, request.headers.get(SIGNATURE_HEADER), services.settings.genesys_webhook_secret
    ):
        log.warning("webhook refused: bad or missing signature", extra={"bytes": len(body)})
        raise Refusal("bad_signature")
    entry_id = inbox.record(services.db, body)
    outcome = inbox.attempt(
        services.db, services.settings, entry_id, body_handler(services.db, services.settings)
    )
    return jsonify(status=outcome), 202 if outcome == inbox.DEFERRED else 200


def body_handler(db: Any, settings: Settings) -> inbox.Handler:
    """What the inbox runs for each body: parse, then apply (the request and the worker's retries)."""

    def handle(body: str) -> str:
        try:
            message = parse_webhook(json.loads(body))
        except (ValueError, WebhookPayloadError) as exc:
            raise inbox.Unusable(str(exc)) from None
        return apply(db, settings, message)

    return handle


def apply(db: Any, settings: Settings, message: WebhookMessage) -> str:
    """Apply one verified webhook message; answers what happened (for the log and the response)."""
    kind = message.kind
    try:
        with db.session() as session:
            if kind is WebhookKind.TEXT:
                outcome = record_agent_message(session, settings, message)
            elif kind is WebhookKind.RECEIPT:
                outcome = apply_receipt(session, message)
            elif kind is WebhookKind.TYPING:
                outcome = record_agent_typing(session, settings, message)
            else:
                outcome = "ignored"
    except IntegrityError:
        # A concurrent redelivery of the same agent message stored it first.
        outcome = "duplicate"
    log.info(
        "webhook applied", extra={"kind": str(kind), "genesys_message_id": message.id, "outcome": outcome}
    )
    return outcome


def _chat_for(session: Session, message: WebhookMessage) -> Chat | None:
    """The chat a message is for: by the customer it is addressed to, else by its conversation."""
    customer_id = message.channel.to.id if message.channel.to is not None else None
    chat = None
    if customer_id:
        chat = session.scalars(select(Chat).where(Chat.customer_id == customer_id)).first()
    if chat is None and message.conversation_id:
        chat = session.scalars(select(Chat).where(Chat.conversation_id == message.conversation_id)).first()
    if chat is not None and message.conversation_id and not chat.conversation_id:
        chat.conversation_id = message.conversation_id  # real payloads name it even without prefetch
    return chat


def record_agent_message(session: Session, settings: Settings, message: WebhookMessage) -> str:
    """Store an agent's message for the customer it is addressed to (`channel.to.id`), once."""
    if message.direction == Direction.INBOUND:
        return "ignored"
    duplicate = session.scalars(
        select(ChatMessage.id).where(ChatMessage.genesys_message_id == message.id)
    ).first()
    if duplicate is not None:
        return "duplicate"
    chat = _chat_for(session, message)
    if chat is None:
        raise inbox.NotYetKnown(f"no chat for the customer of agent message {message.id}")
    files = [a for a in message.attachments if a.url and _is_web_url(a.url)]
    structured = structured_items(message, _is_web_url)
    if not (message.text or files or structured):
        return "ignored"
    if agent_files.received(session, message.id):
        return "duplicate"
    if message.text or structured:
        session.add(
            ChatMessage(
                chat=chat,
                direction=MessageDirection.AGENT,
                text=message.text,
                content=structured or None,
                status=MessageStatus.SENT,
                genesys_message_id=message.id,
            )
        )
    # Never the Genesys URL itself (it needs Genesys credentials): the worker fetches each file, and the
    # customer sees it once it is scanned.
    for index, file in enumerate(files):
        agent_files.receive(session, settings, chat, message.id, index, file)
    chat.agent_typing_until = None
    session.flush()
    return "stored"


# What each receipt status says about a customer's message (Removed says nothing the customer needs).
RECEIPT_STATUSES: dict[str | None, MessageStatus] = {
    GenesysStatus.SENT: MessageStatus.SENT,
    GenesysStatus.PUBLISHED: MessageStatus.SENT,
    GenesysStatus.FAILED: MessageStatus.FAILED,
    GenesysStatus.DELIVERED: MessageStatus.DELIVERED,
    GenesysStatus.READ: MessageStatus.READ,
}


def apply_receipt(session: Session, message: WebhookMessage) -> str:
    """Move a customer message on (sent → delivered → read, or failed with Genesys's reasons), never back.

    The receipt's `id` is Genesys's id for the message (from the answer to the inbound call), and its
    `channel.messageId`, when present, ours. A receipt that would not move the message forward (a replay,
    one that arrived late, one about an attempt a retry replaced) is logged and ignored.

    :raise NotYetKnown: when no attempt at sending a message matches yet (the worker has not committed
        the answer).
    """
    if message.direction == Direction.OUTBOUND:
        return "ignored"  # about an agent's message: nothing for the customer's transcript
    attempt = _named_by(ChatMessage, message)
    target = session.scalars(
        select(ChatMessage.id).where(attempt, ChatMessage.direction != MessageDirection.AGENT)
    ).first()
    if target is None:
        # The outbox entry of every attempt remembers its ids, also once a retry gave the message new ones.
        replaced = session.scalars(
            select(OutboxEntry.message_id).where(
                _named_by(OutboxEntry, message),
                OutboxEntry.kind == OutboxKind.MESSAGE,
                OutboxEntry.message_id.is_not(None),
            )
        ).first()
        if replaced is None:
            raise inbox.NotYetKnown(f"no message for receipt {message.id}")
        return _ignored(session, replaced, message, "about an attempt a retry replaced")
    status = RECEIPT_STATUSES.get(message.status)
    if status is None:
        return _ignored(session, target, message, "says nothing about delivery")
    reason = None
    if status is MessageStatus.FAILED:
        reason = "; ".join(r.message for r in message.reasons or []) or "Genesys could not deliver it"
    if not advance(session, target, status, failure_reason=reason, attempt=attempt):
        return _ignored(session, target, message, "would not move the message forward")
    return f"receipt_{str(message.status).lower()}"


def _named_by(record: type[ChatMessage] | type[OutboxEntry], receipt: WebhookMessage) -> ColumnElement[bool]:
    """The attempt a receipt is about: Genesys's id for it, or ours (`channel.messageId`) when given."""
    named = [record.genesys_message_id == receipt.id]
    if receipt.channel.message_id:
        named.append(record.channel_message_id == receipt.channel.message_id)
    return or_(*named)


def _ignored(session: Session, message_id: int, receipt: WebhookMessage, why: str) -> str:
    current = session.scalar(select(ChatMessage.status).where(ChatMessage.id == message_id))
    log.info(
        "receipt ignored: a message's status never moves back",
        extra={
            "why": why,
            "message_id": message_id,
            "genesys_message_id": receipt.id,
            "current_status": str(current),
            "receipt_status": str(receipt.status),
        },
    )
    return "stale_receipt"


def record_agent_typing(session: Session, settings: Settings, message: WebhookMessage) -> str:
    """Show the agent's typing indicator for as long as Genesys says (capped)."""
    if not settings.chat_typing_indicators:
        return "ignored"
    chat = _chat_for(session, message)
    if chat is None:
        return "unknown_customer"
    duration = min(message.typing_duration_ms or DEFAULT_TYPING_MS, MAX_TYPING_MS)
    chat.agent_typing_until = utcnow() + timedelta(milliseconds=duration)
    return "typing"


def _is_web_url(url: str) -> bool:
    """Only http(s) links reach the widget (never `javascript:` or `data:`)."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
