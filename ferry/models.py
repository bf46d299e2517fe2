"""Ferry's records: chats and their messages, attachments and their lifecycle, the Genesys delivery
outbox, viewer sessions and the append-only access audit log."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, Mapper, mapped_column, relationship

from ferry.db import Base, UTCDateTime, utcnow


def new_id() -> str:
    """A random identifier for public records (never guessable, never derived from user input)."""
    return str(uuid.uuid4())


class MessageDirection(StrEnum):
    CUSTOMER = "customer"  # customer → agent (an inbound open message in Genesys's words)
    AGENT = "agent"  # agent → customer (arrives on the webhook)
    SYSTEM = "system"  # notices Ferry shows the customer (e.g. "your file was rejected")


class MessageStatus(StrEnum):
    """Where a message is on its way, in the order it may move: receipts and the outbox only ever move it
    forward (`ferry.messages.advance`); only a retry, a new attempt, starts a failed one again at pending.

    Failed ranks below delivered: Genesys saying it delivered the message beats a Failed about the same
    attempt whichever of the two arrives first, so the outcome never depends on the webhook's order.
    """

    PENDING = "pending"  # stored, waiting in the outbox
    SENT = "sent"  # accepted by Genesys
    FAILED = "failed"  # Genesys receipt: Failed, or dead-lettered
    DELIVERED = "delivered"  # Genesys receipt: Delivered
    READ = "read"  # Genesys receipt: Read (the agent saw it)

    @property
    def earlier(self) -> tuple[MessageStatus, ...]:
        """The statuses this one may replace."""
        order = list(MessageStatus)
        return tuple(order[: order.index(self)])

    @property
    def is_final(self) -> bool:
        """Nothing can move it on any more."""
        return self is list(MessageStatus)[-1]


class AttachmentStatus(StrEnum):
    CREATED = "created"  # record made, bytes are being uploaded to S3
    UPLOADED = "uploaded"  # S3 holds the whole object; waiting for the scanner
    SCANNING = "scanning"  # a scanner holds the lease
    CLEAN = "clean"  # scanned clean: the only status that may ever be served
    INFECTED = "infected"
    REJECTED = "rejected"  # type not allowed, type spoofed, or size mismatch
    TOO_LARGE = "too_large"  # over the engine's cap and segment scanning is off
    FAILED = "failed"  # the scan kept erroring after every retry
    ABORTED = "aborted"  # the customer cancelled
    EXPIRED = "expired"  # abandoned upload, cleaned up

    @property
    def is_pending(self) -> bool:
        """Still on its way to a verdict (uploading, waiting for or under a scan)."""
        return self in PENDING_STATUSES

    @property
    def is_final(self) -> bool:
        return not self.is_pending


# The statuses an attachment passes through before its verdict, in order: the one definition of "pending".
PENDING_STATUSES = (AttachmentStatus.CREATED, AttachmentStatus.UPLOADED, AttachmentStatus.SCANNING)


class OutboxKind(StrEnum):
    MESSAGE = "message"  # an inbound open message (customer text or a file announcement)
    RECEIPT = "receipt"  # an inbound receipt (customer's widget saw the agent's message)
    EVENT = "event"  # an inbound typing event
    STRUCTURED = "structured"  # the customer's press of a bot's quick reply or card button


class OutboxState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"  # refused by Genesys with a non-retryable error; shown to operators


class InboxState(StrEnum):
    PENDING = "pending"  # recorded, its work not done yet (retried from the database)
    DONE = "done"
    UNUSABLE = "unusable"  # malformed, or still not applicable after every retry (logged)


class AttachmentOrigin(StrEnum):
    CUSTOMER = "customer"  # uploaded by the customer, announced to the agent
    AGENT = "agent"  # sent by the agent through Genesys, fetched by Ferry and shown to the customer


class AuditOutcome(StrEnum):
    ALLOWED = "allowed"
    DENIED = "denied"
    ERROR = "error"


class Chat(Base):
    """A customer's chat: the identity (`from.id`) Genesys knows them by, and its conversation."""

    __tablename__ = "chats"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    customer_id: Mapped[str] = mapped_column(String(64), unique=True, default=new_id)
    nickname: Mapped[str | None] = mapped_column(String(200))
    first_name: Mapped[str | None] = mapped_column(String(200))
    last_name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    conversation_id: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    agent_typing_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    messages: Mapped[list[ChatMessage]] = relationship(back_populates="chat", order_by="ChatMessage.id")
    attachments: Mapped[list[Attachment]] = relationship(back_populates="chat")

    @property
    def display_name(self) -> str:
        full = " ".join(part for part in (self.first_name, self.last_name) if part)
        return self.nickname or full or "Customer"


class ChatChange(Base):
    """A row per write to a chat or its messages, inserted by database triggers (migration 0011), so that
    every writer in any process is seen; on PostgreSQL the same triggers NOTIFY `ferry_chat`."""

    __tablename__ = "chat_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chat_id: Mapped[str] = mapped_column(String(36))


class ChatMessage(Base):
    """One line of a chat transcript, in either direction. The integer id is the display order."""

    __tablename__ = "chat_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chat_id: Mapped[str] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    # Chosen by the widget so that a retried send can never create a second message.
    client_id: Mapped[str | None] = mapped_column(String(64))
    direction: Mapped[MessageDirection] = mapped_column(String(16))
    text: Mapped[str | None] = mapped_column(Text)
    # Agent attachments from the webhook: [{"url", "mime", "filename", "mediaType"}].
    content: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    attachment_id: Mapped[str | None] = mapped_column(ForeignKey("attachments.id"))
    status: Mapped[MessageStatus] = mapped_column(String(16), default=MessageStatus.PENDING)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    # Our channel.messageId for customer messages; Genesys's channel.messageId for agent messages.
    channel_message_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    # Genesys's message id: receipts refer to it, and webhook retries are deduplicated by it.
    genesys_message_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    chat: Mapped[Chat] = relationship(back_populates="messages")

    __table_args__ = (
        UniqueConstraint("chat_id", "client_id", name="uq_chat_messages_client_id"),
        Index("ix_chat_messages_chat_id_id", "chat_id", "id"),
    )


class Attachment(Base):
    """A file a customer sends: its upload, its scan verdict and its announcement to the agent."""

    __tablename__ = "attachments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    chat_id: Mapped[str] = mapped_column(ForeignKey("chats.id"), index=True)
    object_key: Mapped[str] = mapped_column(String(255), unique=True)
    filename: Mapped[str] = mapped_column(String(255))  # sanitised display name
    declared_type: Mapped[str] = mapped_column(String(255))
    declared_size: Mapped[int] = mapped_column(BigInteger)
    fingerprint: Mapped[str | None] = mapped_column(String(255))  # widget's file fingerprint, for resume
    strategy: Mapped[str] = mapped_column(String(16))  # "single" (one PUT) or "multipart"
    upload_id: Mapped[str | None] = mapped_column(String(1024))  # S3 multipart UploadId
    part_size: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[AttachmentStatus] = mapped_column(String(16), default=AttachmentStatus.CREATED, index=True)
    status_reason: Mapped[str | None] = mapped_column(Text)

    size: Mapped[int | None] = mapped_column(BigInteger)  # stored size, checked at completion
    sha256: Mapped[str | None] = mapped_column(String(64))  # the scanner's, of the bytes it read
    # The customer's browser's, of the bytes it sent (declared at completion): the scanner's must match.
    declared_sha256: Mapped[str | None] = mapped_column(String(64))
    # The ETag of the object served once clean (the scanner's copy, under S3_CLEAN_PREFIX, of the bytes it
    # read): the presign gate serves nothing else.
    served_etag: Mapped[str | None] = mapped_column(String(255))
    # The key of the preview image the scanner made of the clean copy (None: no preview could be made).
    preview_key: Mapped[str | None] = mapped_column(String(1024))
    sniffed_type: Mapped[str | None] = mapped_column(String(255))
    signature: Mapped[str | None] = mapped_column(String(255))  # virus name when infected
    engine_version: Mapped[str | None] = mapped_column(String(64))
    signature_version: Mapped[str | None] = mapped_column(String(64))
    signature_date: Mapped[datetime | None] = mapped_column(UTCDateTime)
    test_signatures_only: Mapped[bool] = mapped_column(Boolean, default=False)
    segmented: Mapped[bool] = mapped_column(Boolean, default=False)
    scan_attempts: Mapped[int] = mapped_column(Integer, default=0)
    scan_lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    scan_error: Mapped[str | None] = mapped_column(Text)  # the last scan error, for operators (never shown)

    conversation_id: Mapped[str | None] = mapped_column(String(64), index=True)
    # Who sent the file; an agent's file is fetched from `source_url` (a Genesys download URL) first.
    origin: Mapped[AttachmentOrigin] = mapped_column(String(16), default=AttachmentOrigin.CUSTOMER)
    source_url: Mapped[str | None] = mapped_column(Text)
    genesys_message_id: Mapped[str | None] = mapped_column(String(128), index=True)  # the agent's message
    fetch_attempts: Mapped[int] = mapped_column(Integer, default=0)
    fetch_after: Mapped[datetime | None] = mapped_column(UTCDateTime)  # lease, then backoff, of the fetch
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    uploaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    scanned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    announced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    chat: Mapped[Chat] = relationship(back_populates="attachments")

    __table_args__ = (
        Index("ix_attachments_status_created_at", "status", "created_at"),
        Index("ix_attachments_declared_type", "declared_type"),
        Index("ix_attachments_size", "size"),
        Index("ix_attachments_filename", "filename"),  # the QA list sorts by name
    )


class OutboxEntry(Base):
    """A call Ferry owes Genesys. Written in the same transaction as the change that needs it, sent by
    the delivery worker in order per chat, retried until Genesys accepts or refuses it for good."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chat_id: Mapped[str] = mapped_column(ForeignKey("chats.id"), index=True)
    kind: Mapped[OutboxKind] = mapped_column(String(16))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("chat_messages.id"))
    attachment_id: Mapped[str | None] = mapped_column(ForeignKey("attachments.id"))
    # Fixed when the entry is written, so a retry can never make Genesys create a second message.
    channel_message_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[OutboxState] = mapped_column(String(16), default=OutboxState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    genesys_message_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_outbox_state_next_attempt_at", "state", "next_attempt_at"),
        # Housekeeping's pruning of delivered entries (ferry.outbox.prune_sent).
        Index("ix_outbox_state_sent_at", "state", "sent_at"),
    )


class WebhookInboxEntry(Base):
    """A signed webhook body, recorded before it is answered; work that cannot be done yet (a receipt for a
    message, or a message for a chat, not known yet) is retried from here until it can, or is given up."""

    __tablename__ = "webhook_inbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[InboxState] = mapped_column(String(16), default=InboxState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    outcome: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_webhook_inbox_state_next_attempt_at", "state", "next_attempt_at"),)


class ViewerSession(Base):
    """An agent's login. The cookie carries a random token; only its SHA-256 is stored here, and the
    Genesys token never leaves the server and is stored sealed (`viewer.tokens`), never in plain text."""

    __tablename__ = "viewer_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the cookie token
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    user_name: Mapped[str] = mapped_column(String(255))
    user_email: Mapped[str | None] = mapped_column(String(320))
    org_id: Mapped[str] = mapped_column(String(64))
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    access_token: Mapped[str] = mapped_column(Text)  # sealed with viewer.tokens.seal
    refresh_token: Mapped[str | None] = mapped_column(Text)  # unused today; must be sealed too if ever kept
    token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When users/me last confirmed the user is active, in our organisation and holds a role.
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ConversationGrant(Base):
    """A cached answer to "was this agent a participant of that conversation?" (expires quickly)."""

    __tablename__ = "conversation_grants"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    allowed: Mapped[bool] = mapped_column(Boolean)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AccessAudit(Base):
    """Who tried to see which attachment, and what happened. Append-only: the ORM refuses updates and
    deletes, and the migration adds database triggers that refuse them too."""

    __tablename__ = "access_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    user_id: Mapped[str | None] = mapped_column(String(64), index=True)
    user_name: Mapped[str | None] = mapped_column(String(255))
    # No foreign key: refused attempts on ids that do not exist are recorded too.
    attachment_id: Mapped[str | None] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[AuditOutcome] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(Text)
    # The hash chain (ferry.access.audit): the row's place in it, the hash of the row before it and the
    # SHA-256 of this row's canonical form, which covers both.
    seq: Mapped[int] = mapped_column(BigInteger, index=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))


class AuditChain(Base):
    """The head of the audit's hash chain: one row, locked by every writer to take the next place.

    `seq` and `last_hash` are those of the newest audit row (a database trigger keeps `last_hash` in
    step with each insert), so a writer learns its predecessor's hash in the statement that locks."""

    __tablename__ = "audit_chain"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))


class RateCounter(Base):
    """Requests counted per key and fixed window, shared by every process."""

    __tablename__ = "rate_counters"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class AppendOnlyError(RuntimeError):
    """Raised when code tries to change or delete an audit record."""


def _refuse_change(_mapper: Mapper[Any], _connection: Any, target: AccessAudit) -> None:
    raise AppendOnlyError(f"access_audit row {target.id} is append-only")


event.listen(AccessAudit, "before_update", _refuse_change)
event.listen(AccessAudit, "before_delete", _refuse_change)
