"""POST /genesys/webhook: what Genesys sends the customer (agent messages, receipts, typing).

The signature (X-Hub-Signature-256 over the raw body with GENESYS_WEBHOOK_SECRET) is checked before
anything is read; a missing or wrong one is answered 401 and changes nothing. Processing is only a
few database writes (Genesys gives up after 10 s) and idempotent, because Genesys retries up to five
times: agent messages are deduplicated by Genesys's message id, receipts only ever move a message's
status forward (a replayed or late one is logged and ignored), typing just sets state.
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
from uploader.blueprint import bp
from uploader.structured import structured_items

log = logging.getLogger("uploader.webhook")

DEFAULT_TYPING_MS = 5000
MAX_TYPING_MS = 30000


class NotYetKnown(Exception):
    """A receipt for a message whose Genesys id is not recorded yet (the worker is still committing)."""


@bp.post(WEBHOOK_PATH)
def genesys_webhook() -> tuple[Response, int]:
    """Verify, parse and apply one webhook message."""
    services = get_services()
    body = request.get_data(cache=False)
    if not verify_signature(
        body, request.headers.get(SIGNATURE_HEADER), services.settings.genesys_webhook_secret
    ):
        log.warning("webhook refused: bad or missing signature", extra={"bytes": len(body)})
        raise Refusal("bad_signature")
    try:
        message = parse_webhook(json.loads(body))
    except (ValueError, WebhookPayloadError) as exc:
        log.warning("webhook refused: malformed payload", extra={"error": str(exc)})
        raise Refusal("malformed", problem=str(exc)) from None
    try:
        outcome = apply(services.db, services.settings, message)
    except NotYetKnown:
        # Genesys retries 5xx; by then the worker has recorded the message id.
        raise Refusal("not_yet_known", headers={"Retry-After": "1"}) from None
    return jsonify(status=outcome), 200


def apply(db: Any, settings: Settings, message: WebhookMessage) -> str:
    """Apply one verified webhook message; answers what happened (for the log and the response)."""
    kind = message.kind
    try:
        with db.session() as session:
            if kind is WebhookKind.TEXT:
                outcome = record_agent_message(session, message)
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
    customer_id = message.channel.to.id if message.channel.to is not None else None
    if not customer_id:
        return None
    return session.scalars(select(Chat).where(Chat.customer_id == customer_id)).first()


def record_agent_message(session: Session, message: WebhookMessage) -> str:
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
        log.warning("agent message for an unknown customer dropped", extra={"genesys_message_id": message.id})
        return "unknown_customer"
    attachments = [
        {
            "url": a.url,
            "mime": a.mime,
            "filename": a.filename,
            "media_type": str(a.media_type),
        }
        for a in message.attachments
        if a.url and _is_web_url(a.url)
    ]
    structured = structured_items(message, _is_web_url)
    if not (message.text or attachments or structured):
        return "ignored"
    session.add(
        ChatMessage(
            chat=chat,
            direction=MessageDirection.AGENT,
            text=message.text,
            content=[*attachments, *structured] or None,
            status=MessageStatus.SENT,
            genesys_message_id=message.id,
        )
    )
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
            raise NotYetKnown(message.id)
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
