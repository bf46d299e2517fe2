"""The Genesys delivery outbox: calls Ferry owes Genesys Cloud.

Callers write an entry with `enqueue_message` / `enqueue_receipt` / `enqueue_typing` in the SAME
transaction as the change that needs it (a customer's message, a scanned file's announcement), so that
nothing is ever stored without being sent or sent without being stored. The worker (`OutboxDelivery`)
claims due entries under a lease, sends them, and records the outcome:

- customer messages go out in order per chat: only the oldest pending message of a chat is claimable;
- every entry's `channel.messageId` is fixed when it is written, and Ferry does not rely on Genesys dropping
  a repeat of it (nothing published says it does): before a message is sent again, Genesys is asked whether
  the conversation already has it (`GenesysClient.find_inbound_message`), and after a timeout or reset the
  question waits `in_doubt_settle_seconds`, so that a request still in flight has landed. A chat's first
  message has no conversation to ask about yet: an ambiguous failure of it can show twice (README, "Exactly
  once");
- Genesys unreachable, 408, 429 or 5xx: retried with exponential backoff and jitter, never earlier than
  `Retry-After`; any other 4xx: dead letter (Genesys's error kept, the message marked failed, logged,
  listed by `flask outbox list --dead`);
- an entry leased by a worker that died is claimed again once its lease runs out; the attempt counter
  fences a late answer from the old holder out;
- on PostgreSQL a new or revived entry NOTIFYs `ferry_outbox` and the worker delivers at once; otherwise
  its loops wake when a retry they scheduled falls due (`due_in`), or after the poll.
"""

from __future__ import annotations

import heapq
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import click
from flask.cli import AppGroup
from sqlalchemy import and_, delete, exists, or_, select, update
from sqlalchemy.orm import Session, aliased

from ferry.db import Database, utcnow
from ferry.messages import advance, restart
from ferry.models import (
    Attachment,
    Chat,
    ChatMessage,
    MessageDirection,
    MessageStatus,
    OutboxEntry,
    OutboxKind,
    OutboxState,
)
from genesys.client import GenesysClient
from genesys.errors import GenesysAmbiguous, GenesysError, GenesysUnavailable
from genesys.models import (
    ContentButtonResponse,
    EventType,
    IdType,
    OpenEvent,
    OpenInboundMessageContent,
    OpenInboundMessageMessagingChannel,
    OpenInboundMessagingChannel,
    OpenInboundMessagingReceiptChannel,
    OpenInboundNormalizedEvent,
    OpenInboundNormalizedMessage,
    OpenInboundNormalizedReceipt,
    OpenInboundStructuredResponseMessage,
    OpenMessagingFromRecipient,
    OpenMessagingToRecipient,
    ReceiptStatus,
)

log = logging.getLogger("ferry.outbox")

# A typing event is only worth sending while the customer may still be typing.
TYPING_EVENT_TTL = timedelta(seconds=5)
# On PostgreSQL, NOTIFY'd when an entry falls due (migration 0012): the worker listens instead of polling.
CHANNEL = "ferry_outbox"
RETRY_CLOCK_MARGIN_SECONDS = 0.01


class NotRetryable(ValueError):
    """The message is not a failed customer message, so there is nothing to send again."""


# -- writing entries (inside the caller's transaction) ---------------------------------------------


def new_channel_message_id() -> str:
    """A fresh `channel.messageId` for one inbound message."""
    return f"ferry-{uuid.uuid4()}"


def customer_identity(chat: Chat) -> OpenMessagingFromRecipient:
    """The customer as Genesys knows them: an opaque id plus whatever names they gave."""
    return OpenMessagingFromRecipient(
        id=chat.customer_id,
        id_type=IdType.OPAQUE,
        nickname=chat.nickname,
        first_name=chat.first_name,
        last_name=chat.last_name,
        email=chat.email,
    )


def enqueue_message(
    session: Session,
    message: ChatMessage,
    *,
    content: Sequence[OpenInboundMessageContent] = (),
    channel_message_id: str | None = None,
) -> OutboxEntry:
    """Owe Genesys `message` (customer text, or a file announcement with `content`) as an inbound message.

    `message` must be a flushed customer or system message of a chat; its status becomes pending and its
    `channel_message_id` the entry's: a fresh one, or the caller's when the message must stay unique across
    writers (a file's announcement: `ferry-attachment-<id>`, which the unique column keeps to one).
    """
    chat = message.chat
    channel_message_id = channel_message_id or new_channel_message_id()
    body = OpenInboundNormalizedMessage(
        channel=OpenInboundMessageMessagingChannel(
            from_=customer_identity(chat), time=message.created_at, message_id=channel_message_id
        ),
        text=message.text or None,
        content=list(content) or None,
    )
    message.channel_message_id = channel_message_id
    message.status = MessageStatus.PENDING
    message.failure_reason = None
    message.genesys_message_id = None
    return _add(
        session,
        OutboxEntry(
            chat_id=chat.id,
            kind=OutboxKind.MESSAGE,
            message_id=message.id,
            attachment_id=message.attachment_id,
            channel_message_id=channel_message_id,
            payload=body.to_json(),
        ),
    )


def enqueue_receipt(
    session: Session, message: ChatMessage, status: ReceiptStatus = ReceiptStatus.DELIVERED
) -> OutboxEntry:
    """Owe Genesys a receipt saying what became of an agent's message (the widget showed it)."""
    if message.direction != MessageDirection.AGENT or not message.genesys_message_id:
        raise ValueError("receipts are only sent for agent messages that came from Genesys")
    chat = message.chat
    receipt = OpenInboundNormalizedReceipt(
        id=message.genesys_message_id,
        channel=OpenInboundMessagingReceiptChannel(
            to=OpenMessagingToRecipient(id=chat.customer_id, id_type=IdType.OPAQUE), time=utcnow()
        ),
        status=status,
        is_final_receipt=True,
    )
    return _add(session, OutboxEntry(chat_id=chat.id, kind=OutboxKind.RECEIPT, payload=receipt.to_json()))


def enqueue_structured_response(
    session: Session, message: ChatMessage, answered: ChatMessage, response: ContentButtonResponse
) -> OutboxEntry:
    """Owe Genesys the customer's press (`message`, flushed, its text the button's) of a button of the
    agent's or bot's structured message `answered`."""
    if answered.direction != MessageDirection.AGENT or not answered.genesys_message_id:
        raise ValueError("only a structured message that came from Genesys can be answered")
    chat = message.chat
    channel_message_id = new_channel_message_id()
    body = OpenInboundStructuredResponseMessage(
        channel=OpenInboundMessageMessagingChannel(
            from_=customer_identity(chat), time=message.created_at, message_id=channel_message_id
        ),
        button_response=response,
        originating_message_id=answered.genesys_message_id,
    )
    message.channel_message_id = channel_message_id
    message.status = MessageStatus.PENDING
    return _add(
        session,
        OutboxEntry(
            chat_id=chat.id,
            kind=OutboxKind.STRUCTURED,
            message_id=message.id,
            channel_message_id=channel_message_id,
            payload=body.to_json(),
        ),
    )


def enqueue_typing(session: Session, chat: Chat) -> OutboxEntry:
    """Owe Genesys a "customer is typing" event (best effort: dropped when stale or refused)."""
    event = OpenInboundNormalizedEvent(
        channel=OpenInboundMessagingChannel(from_=customer_identity(chat), time=utcnow()),
        events=[OpenEvent(event_type=EventType.TYPING)],
    )
    return _add(session, OutboxEntry(chat_id=chat.id, kind=OutboxKind.EVENT, payload=event.to_json()))


def requeue_message(session: Session, message: ChatMessage) -> OutboxEntry:
    """Send a failed customer message again.

    A dead-lettered entry (Genesys refused it, so never created it) is made pending again with its own
    `channel.messageId`; a message Genesys accepted but then reported Failed needs a new one, or Genesys
    would treat the retry as a duplicate.

    :raise NotRetryable: when the message is not a failed outbound message.
    """
    if message.status != MessageStatus.FAILED or message.direction == MessageDirection.AGENT:
        raise NotRetryable(f"message {message.id} is {message.status}, not failed")
    latest = session.scalars(
        select(OutboxEntry)
        .where(OutboxEntry.message_id == message.id, OutboxEntry.kind == OutboxKind.MESSAGE)
        .order_by(OutboxEntry.id.desc())
        .limit(1)
    ).first()
    if latest is None:
        raise NotRetryable(f"message {message.id} was never queued")
    if not restart(session, message.id):
        raise NotRetryable(f"message {message.id} moved on meanwhile")
    if latest.state == OutboxState.DEAD:
        _revive(latest)
        return latest
    channel_message_id = new_channel_message_id()
    payload = dict(latest.payload)
    payload["channel"] = {**payload["channel"], "messageId": channel_message_id}
    message.channel_message_id = channel_message_id
    message.genesys_message_id = None
    return _add(
        session,
        OutboxEntry(
            chat_id=latest.chat_id,
            kind=OutboxKind.MESSAGE,
            message_id=message.id,
            attachment_id=latest.attachment_id,
            channel_message_id=channel_message_id,
            payload=payload,
        ),
    )


def revive_dead_entry(session: Session, entry_id: int) -> OutboxEntry:
    """Make a dead entry pending again (an operator fixed the cause); its message shows pending."""
    entry = session.get(OutboxEntry, entry_id)
    if entry is None or entry.state != OutboxState.DEAD:
        raise NotRetryable(f"outbox entry {entry_id} is not dead")
    _revive(entry)
    if entry.message_id is not None:
        restart(session, entry.message_id)
    return entry


def _revive(entry: OutboxEntry) -> None:
    entry.state = OutboxState.PENDING
    entry.next_attempt_at = utcnow()
    entry.lease_until = None


def _add(session: Session, entry: OutboxEntry) -> OutboxEntry:
    session.add(entry)
    session.flush()
    return entry


# -- delivering entries (the worker) ----------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, never sooner than Genesys's Retry-After."""

    base_seconds: float = 1.0
    max_seconds: float = 300.0

    def delay(self, attempts: int, retry_after: float | None = None) -> float:
        """Seconds to wait after the `attempts`-th failed attempt."""
        step = min(self.max_seconds, self.base_seconds * 2.0 ** max(0, attempts - 1))
        jittered = step / 2 + random.uniform(0, step / 2)  # noqa: S311 - spreading retries, not secrets
        return max(jittered, retry_after) if retry_after is not None else jittered


@dataclass(frozen=True)
class Claim:
    """An entry this worker holds the lease on; `attempts` (after the claim) fences the outcome."""

    id: int
    chat_id: str
    kind: OutboxKind
    message_id: int | None
    attachment_id: str | None
    payload: dict[str, Any]
    attempts: int
    created_at: datetime


class DeliveryDeferred(Exception):
    """A message cannot be finished right now (what it needs is unavailable): retried with backoff."""


# Completes a claimed message just before it is sent: what must be fresh when Genesys reads it (a file's
# presigned URL) is made at send time, never stored in the entry. Raises DeliveryDeferred to wait.
MessageFinisher = Callable[[Claim, OpenInboundNormalizedMessage], OpenInboundNormalizedMessage]


class Outcome(StrEnum):
    SENT = "sent"
    RETRY = "retry"
    DEAD = "dead"
    DROPPED = "dropped"  # a stale or refused typing event
    LOST = "lost"  # the lease ran out and another worker took the entry over


def claim_due(
    db: Database, *, lease_seconds: float, limit: int = 10, now: datetime | None = None
) -> list[Claim]:
    """Lease up to `limit` due entries: every due receipt or event, and each chat's oldest pending message.

    Safe with any number of workers on SQLite and PostgreSQL: a candidate is taken by a conditional
    UPDATE, which only one worker can win.
    """
    moment = now or utcnow()
    older = aliased(OutboxEntry)
    blocked = exists().where(
        older.chat_id == OutboxEntry.chat_id,
        older.kind == OutboxKind.MESSAGE,
        older.state == OutboxState.PENDING,
        older.id < OutboxEntry.id,
    )
    free = or_(OutboxEntry.lease_until.is_(None), OutboxEntry.lease_until <= moment)
    claimed: list[Claim] = []
    with db.session() as session:
        candidates = session.scalars(
            select(OutboxEntry.id)
            .where(
                OutboxEntry.state == OutboxState.PENDING,
                OutboxEntry.next_attempt_at <= moment,
                free,
                or_(OutboxEntry.kind != OutboxKind.MESSAGE, ~blocked),
            )
            .order_by(OutboxEntry.id)
            .limit(limit)
        ).all()
    for entry_id in candidates:
        with db.session() as session:
            won = session.execute(
                update(OutboxEntry)
                .where(OutboxEntry.id == entry_id, OutboxEntry.state == OutboxState.PENDING, free)
                .values(
                    lease_until=moment + timedelta(seconds=lease_seconds), attempts=OutboxEntry.attempts + 1
                )
                .execution_options(synchronize_session=False)
            )
            if getattr(won, "rowcount", 0) != 1:
                continue
            entry = session.get_one(OutboxEntry, entry_id, populate_existing=True)
            claimed.append(
                Claim(
                    id=entry.id,
                    chat_id=entry.chat_id,
                    kind=OutboxKind(entry.kind),
                    message_id=entry.message_id,
                    attachment_id=entry.attachment_id,
                    payload=dict(entry.payload),
                    attempts=entry.attempts,
                    created_at=entry.created_at,
                )
            )
    return claimed


@dataclass
class OutboxDelivery:
    """Sends claimed entries to Genesys and records what happened."""

    db: Database
    client: GenesysClient
    integration_id: str
    policy: RetryPolicy
    lease_seconds: float = 60.0
    batch: int = 10
    finish_message: MessageFinisher | None = None  # applied to messages that carry an attachment id
    # After a timeout or reset, wait at least this long before asking Genesys whether it has the message.
    in_doubt_settle_seconds: float = 0.0
    # When the retries this delivery scheduled fall due (time.monotonic(), a heap): its loops wake then.
    _retries: list[float] = field(default_factory=list, init=False, repr=False)
    _retries_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def run_once(self, now: datetime | None = None) -> int:
        """Claim a batch of due entries and deliver each; answers how many were handled."""
        claims = claim_due(self.db, lease_seconds=self.lease_seconds, limit=self.batch, now=now)
        for claim in claims:
            self.deliver(claim)
        return len(claims)

    def due_in(self) -> float | None:
        """Seconds until a retry this delivery scheduled falls due (0: one is due now; None: none is
        scheduled). Each due time is answered as due once."""
        with self._retries_lock:
            now = time.monotonic()
            if self._retries and self._retries[0] <= now:
                while self._retries and self._retries[0] <= now:
                    heapq.heappop(self._retries)
                return 0.0
            return self._retries[0] - now if self._retries else None

    def deliver(self, claim: Claim) -> Outcome:
        """Send one claimed entry and record the outcome under the claim's fence."""
        if claim.kind == OutboxKind.EVENT and utcnow() - claim.created_at > TYPING_EVENT_TTL:
            return self._drop(claim, "stale typing event")
        try:
            genesys_id, conversation_id = self._send(claim)
        except DeliveryDeferred as exc:
            return self._retry(claim, GenesysError(f"not sent yet: {exc}"))
        except GenesysError as exc:
            if claim.kind == OutboxKind.EVENT:
                return self._drop(claim, str(exc))
            if is_retryable(exc):
                settle = self.in_doubt_settle_seconds if isinstance(exc, GenesysAmbiguous) else 0.0
                return self._retry(claim, exc, at_least=settle)
            return self._dead(claim, exc)
        return self._sent(claim, genesys_id, conversation_id)

    def _send(self, claim: Claim) -> tuple[str | None, str | None]:
        """One Genesys call for the entry; answers (Genesys message id, conversation id)."""
        if claim.kind == OutboxKind.MESSAGE:
            message = OpenInboundNormalizedMessage.from_json(claim.payload)
            if claim.attempts > 1:
                already = self._already_sent(claim, message.channel.message_id)
                if already is not None:
                    return already
            if self.finish_message is not None and claim.attachment_id is not None:
                message = self.finish_message(claim, message)
            answer = self.client.send_inbound_message(self.integration_id, message)
            return answer.id, answer.conversation_id
        if claim.kind == OutboxKind.STRUCTURED:
            response = OpenInboundStructuredResponseMessage.from_json(claim.payload)
            if claim.attempts > 1:
                already = self._already_sent(claim, response.channel.message_id)
                if already is not None:
                    return already
            answer = self.client.send_structured_response(self.integration_id, response)
            return answer.id, answer.conversation_id
        if claim.kind == OutboxKind.RECEIPT:
            receipt = self.client.send_inbound_receipt(
                self.integration_id, OpenInboundNormalizedReceipt.from_json(claim.payload)
            )
            return receipt.id, None
        event = self.client.send_inbound_event(
            self.integration_id, OpenInboundNormalizedEvent.from_json(claim.payload)
        )
        return event.id, None

    def _already_sent(self, claim: Claim, channel_message_id: str | None) -> tuple[str, str] | None:
        """(Genesys message id, conversation id) when an earlier attempt of this message did reach Genesys.

        A failed lookup defers the message: sending it blind could make a second one.
        """
        with self.db.session() as session:
            conversation_id = session.get_one(Chat, claim.chat_id).conversation_id
        if not (conversation_id and channel_message_id):
            return None
        try:
            genesys_id = self.client.find_inbound_message(conversation_id, channel_message_id)
        except GenesysError as exc:
            log.error(
                "cannot check whether Genesys already has a message; not sending it again yet",
                extra={
                    "entry_id": claim.id,
                    "chat_id": claim.chat_id,
                    "status": exc.status,
                    "error": str(exc),
                },
            )
            raise DeliveryDeferred(f"could not check whether Genesys has it: {exc}") from None
        if genesys_id is None:
            return None
        log.info(
            "Genesys already has the message an earlier attempt sent; not sending it again",
            extra={"entry_id": claim.id, "chat_id": claim.chat_id, "attempts": claim.attempts},
        )
        return genesys_id, conversation_id

    def _fenced(self, claim: Claim) -> Any:
        return and_(
            OutboxEntry.id == claim.id,
            OutboxEntry.attempts == claim.attempts,
            OutboxEntry.state == OutboxState.PENDING,
        )

    def _sent(self, claim: Claim, genesys_id: str | None, conversation_id: str | None) -> Outcome:
        now = utcnow()
        with self.db.session() as session:
            result = session.execute(
                update(OutboxEntry)
                .where(self._fenced(claim))
                .values(
                    state=OutboxState.SENT,
                    sent_at=now,
                    lease_until=None,
                    last_error=None,
                    genesys_message_id=genesys_id,
                )
                .execution_options(synchronize_session=False)
            )
            if getattr(result, "rowcount", 0) != 1:
                return self._lost(claim)
            if claim.message_id is not None:
                session.execute(
                    update(ChatMessage)
                    .where(ChatMessage.id == claim.message_id)
                    .values(genesys_message_id=genesys_id)
                )
                # The webhook's receipt may already have moved it on (even while this transaction runs).
                advance(session, claim.message_id, MessageStatus.SENT)
            if claim.kind == OutboxKind.MESSAGE:
                chat = session.get_one(Chat, claim.chat_id)
                # A customer writing after the conversation ended starts a new one: keep the latest.
                if conversation_id:
                    chat.conversation_id = conversation_id
                if claim.attachment_id is not None:
                    attachment = session.get_one(Attachment, claim.attachment_id)
                    attachment.announced_at = now
                    attachment.conversation_id = chat.conversation_id
        log.info(
            "outbox entry sent",
            extra={
                "entry_id": claim.id,
                "chat_id": claim.chat_id,
                "kind": str(claim.kind),
                "attempts": claim.attempts,
            },
        )
        return Outcome.SENT

    def _retry(self, claim: Claim, error: GenesysError, *, at_least: float = 0.0) -> Outcome:
        delay = max(at_least, self.policy.delay(claim.attempts, error.retry_after))
        with self.db.session() as session:
            result = session.execute(
                update(OutboxEntry)
                .where(self._fenced(claim))
                .values(
                    next_attempt_at=utcnow() + timedelta(seconds=delay),
                    lease_until=None,
                    last_error=str(error),
                )
                .execution_options(synchronize_session=False)
            )
            if getattr(result, "rowcount", 0) != 1:
                return self._lost(claim)
        with self._retries_lock:  # a little late rather than early: the claim compares database times
            heapq.heappush(self._retries, time.monotonic() + delay + RETRY_CLOCK_MARGIN_SECONDS)
        log.warning(
            "outbox entry will be retried",
            extra={
                "entry_id": claim.id,
                "chat_id": claim.chat_id,
                "attempts": claim.attempts,
                "delay_seconds": round(delay, 3),
                "error": str(error),
            },
        )
        return Outcome.RETRY

    def _dead(self, claim: Claim, error: GenesysError) -> Outcome:
        with self.db.session() as session:
            result = session.execute(
                update(OutboxEntry)
                .where(self._fenced(claim))
                .values(state=OutboxState.DEAD, lease_until=None, last_error=str(error))
                .execution_options(synchronize_session=False)
            )
            if getattr(result, "rowcount", 0) != 1:
                return self._lost(claim)
            if claim.message_id is not None:
                advance(session, claim.message_id, MessageStatus.FAILED, failure_reason=error.message)
        log.error(
            "outbox entry refused by Genesys: dead letter (see `flask outbox list --dead`)",
            extra={
                "entry_id": claim.id,
                "chat_id": claim.chat_id,
                "kind": str(claim.kind),
                "status": error.status,
                "code": error.code,
                "context_id": error.context_id,
                "error": str(error),
            },
        )
        return Outcome.DEAD

    def _drop(self, claim: Claim, why: str) -> Outcome:
        with self.db.session() as session:
            session.execute(
                delete(OutboxEntry).where(self._fenced(claim)).execution_options(synchronize_session=False)
            )
        log.info(
            "typing event dropped", extra={"entry_id": claim.id, "chat_id": claim.chat_id, "reason": why}
        )
        return Outcome.DROPPED

    def _lost(self, claim: Claim) -> Outcome:
        log.warning(
            "outbox entry was taken over by another worker after its lease ran out",
            extra={"entry_id": claim.id, "attempts": claim.attempts},
        )
        return Outcome.LOST


def is_retryable(error: GenesysError) -> bool:
    """Unreachable, 408, 429 and 5xx are worth retrying; any other 4xx is Genesys refusing for good."""
    if isinstance(error, GenesysUnavailable) or error.status is None:
        return True
    return error.status in (408, 429) or not 400 <= error.status < 500


# -- housekeeping -----------------------------------------------------------------------------------

PRUNE_BATCH = 1000


def prune_sent(
    db: Database, *, older_than: timedelta, now: datetime | None = None, batch: int = PRUNE_BATCH
) -> int:
    """Delete entries Genesys accepted more than `older_than` ago, `batch` rows per transaction; answers
    how many.

    Only sent entries go: pending and dead ones are work still owed. Nothing references an entry (the
    foreign keys point from it to its chat, message and attachment), and what deduplication and receipts
    need (`channel_message_id`, `genesys_message_id`) lives on the message. One exception is kept: the
    entry of a message whose chat is still live, because the customer's retry of a message Genesys
    later reports failed copies that entry's payload (`requeue_message`).
    """
    moment = now or utcnow()
    live_chat = exists().where(
        Chat.id == OutboxEntry.chat_id, Chat.closed_at.is_(None), Chat.expires_at > moment
    )
    prunable = and_(
        OutboxEntry.state == OutboxState.SENT,
        OutboxEntry.sent_at < moment - older_than,
        or_(OutboxEntry.message_id.is_(None), ~live_chat),
    )
    removed = 0
    while True:
        # Short transactions: a large backlog never holds one long lock on the outbox.
        with db.session() as session:
            ids = list(session.scalars(select(OutboxEntry.id).where(prunable).limit(batch)))
            if ids:
                result = session.execute(
                    delete(OutboxEntry)
                    .where(OutboxEntry.id.in_(ids), OutboxEntry.state == OutboxState.SENT)
                    .execution_options(synchronize_session=False)
                )
                removed += int(getattr(result, "rowcount", 0) or 0)
        if len(ids) < batch:
            return removed


# -- operators --------------------------------------------------------------------------------------


def list_entries(session: Session, state: OutboxState | None, limit: int = 100) -> list[OutboxEntry]:
    """Entries in `state` (all when None), oldest first."""
    query = select(OutboxEntry).order_by(OutboxEntry.id).limit(limit)
    if state is not None:
        query = query.where(OutboxEntry.state == state)
    return list(session.scalars(query))


outbox_cli = AppGroup("outbox", help="The Genesys delivery outbox: inspect and retry entries.")


@outbox_cli.command("list")
@click.option("--dead", "state", flag_value=OutboxState.DEAD.value, help="Only dead letters.")
@click.option(
    "--pending", "state", flag_value=OutboxState.PENDING.value, help="Only entries waiting to go out."
)
@click.option("--limit", default=100, show_default=True)
def outbox_list(state: str | None, limit: int) -> None:
    """List outbox entries (with Genesys's error for dead letters)."""
    from ferry.services import get_services

    with get_services().db.session() as session:
        entries = list_entries(session, OutboxState(state) if state else None, limit)
        for e in entries:
            click.echo(
                f"{e.id}\t{e.state}\t{e.kind}\tchat={e.chat_id}\tmessage={e.message_id}\tattempts={e.attempts}\t"
                f"created={e.created_at.isoformat(timespec='seconds')}\t{e.last_error or ''}"
            )
        click.echo(f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}")


@outbox_cli.command("retry")
@click.argument("entry_id", type=int)
def outbox_retry(entry_id: int) -> None:
    """Make the dead entry ENTRY_ID pending again (after fixing what Genesys refused)."""
    from ferry.services import get_services

    try:
        with get_services().db.session() as session:
            revive_dead_entry(session, entry_id)
    except NotRetryable as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"outbox entry {entry_id} is pending again")
