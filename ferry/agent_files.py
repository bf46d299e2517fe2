"""Files the agent sends the customer: fetched from Genesys by Ferry, scanned, shown through Ferry's bucket.

An outbound message's `content[].attachment.url` is a Genesys download URL that needs Genesys credentials,
so the widget never links to it. The webhook records each file as an attachment of Ferry's own (origin
agent, `source_url`, created) and returns at once; the worker's `AgentFileFetcher` then downloads it with
Ferry's client-credentials token (`GenesysClient.download`: the region's Genesys hosts only, bounded in
size and time) into the incoming prefix tagged pending, where S3's event hands it to the scan pipeline
like any upload. The verdict comes back here (`settle`) instead of being announced to Genesys: a clean
file becomes an agent transcript item the widget opens through `open_url` (a short presigned URL of the
clean copy, for that chat only); a file that could not be fetched, was refused or is infected becomes the
line "The agent sent a file that could not be delivered" and Genesys gets a Failed receipt.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from ferry.access.refusals import AccessDenied, AccessUnavailable
from ferry.access.serving import MAX_URL_SECONDS, inline_type, presigned_url, served_type
from ferry.attachments import SINGLE, UploadError, resolve_type, sanitize_filename
from ferry.config import ConfigError, Settings
from ferry.db import Database, utcnow
from ferry.models import (
    Attachment,
    AttachmentOrigin,
    AttachmentStatus,
    Chat,
    ChatMessage,
    MessageDirection,
    MessageStatus,
)
from ferry.objects import PENDING_TAGS, object_key
from ferry.outbox import enqueue_receipt
from ferry.storage import ObjectStorage, StorageError
from genesys.client import GenesysClient
from genesys.downloads import DownloadPolicy, DownloadRefused
from genesys.errors import GenesysError
from genesys.models import ConversationContentAttachment, ReceiptStatus

log = logging.getLogger("ferry.agent_files")

UNDELIVERED = "The agent sent a file that could not be delivered"
# The widget asks for a URL when it shows the file; it never needs to live long.
OPEN_URL_SECONDS = 120
# A fetch holds its attachment this much longer than its deadline (then another worker may take it).
LEASE_MARGIN_SECONDS = 30.0
MAX_BACKOFF_SECONDS = 300.0
_IDS = uuid.UUID("8f6d2a51-6c1e-4c3b-9d0e-6a9b0c1f2e3d")


def attachment_id_for(genesys_message_id: str, index: int) -> str:
    """The id of an agent message's `index`th file: fixed, so a redelivered webhook cannot add it twice."""
    return str(uuid.uuid5(_IDS, f"{genesys_message_id}/{index}"))


def received(session: Session, genesys_message_id: str) -> bool:
    """Whether the files of this agent message are recorded already."""
    found = session.scalars(
        select(Attachment.id).where(Attachment.genesys_message_id == genesys_message_id).limit(1)
    ).first()
    return found is not None


def receive(
    session: Session,
    settings: Settings,
    chat: Chat,
    genesys_message_id: str,
    index: int,
    file: ConversationContentAttachment,
) -> Attachment:
    """Record one file of an agent's message for the worker to fetch (nothing is fetched here)."""
    name = sanitize_filename(file.filename or "file")
    attachment_id = attachment_id_for(genesys_message_id, index)
    attachment = Attachment(
        id=attachment_id,
        chat_id=chat.id,
        object_key=object_key(settings.s3_incoming_prefix, attachment_id),
        filename=name,
        declared_type=resolve_type(file.mime or "", name),
        declared_size=file.content_size_bytes or 0,
        strategy=SINGLE,
        status=AttachmentStatus.CREATED,
        conversation_id=chat.conversation_id,
        origin=AttachmentOrigin.AGENT,
        source_url=file.url,
        genesys_message_id=genesys_message_id,
        fetch_attempts=0,
    )
    session.add(attachment)
    return attachment


def download_policy(settings: Settings) -> DownloadPolicy:
    """Where and how much the worker may download: the region's Genesys hosts, AGENT_FILE_* bounds.

    :raise ConfigError: AGENT_FILE_REDIRECT_HOSTS names an IP address, or the API base URL is not a URL.
    """
    try:
        return DownloadPolicy.for_api(
            settings.genesys_api_base_url,
            redirect_hosts=settings.agent_file_redirect_hosts,
            max_bytes=settings.agent_file_max_bytes,
            deadline_seconds=settings.agent_file_fetch_seconds,
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


@dataclass
class AgentFileFetcher:
    """The worker's loop: fetch one agent file that is due, store it for the scanner (or give it up)."""

    settings: Settings
    db: Database
    storage: ObjectStorage
    client: GenesysClient
    policy: DownloadPolicy

    def run_once(self, now: datetime | None = None) -> int:
        """Fetch at most one file; answers 1 when one was taken, 0 when none was due."""
        at = now or utcnow()
        claimed = self._claim(at)
        if claimed is None:
            return 0
        attachment_id, url, attempts = claimed
        try:
            downloaded = self.client.download(url, self.policy)
        except DownloadRefused as exc:
            self._give_up(attachment_id, AttachmentStatus.REJECTED, str(exc))
            return 1
        except GenesysError as exc:  # GenesysUnavailable, or the token could not be had: later may work
            if attempts >= self.settings.agent_file_max_attempts:
                self._give_up(
                    attachment_id, AttachmentStatus.FAILED, f"gave up after {attempts} tries: {exc}"
                )
            else:
                self._later(attachment_id, attempts, str(exc), at)
            return 1
        if not downloaded.data:
            self._give_up(attachment_id, AttachmentStatus.REJECTED, "the file is empty")
            return 1
        try:
            self._store(attachment_id, downloaded.data, downloaded.content_type, at)
        except StorageError as exc:
            self._later(attachment_id, attempts, f"storage: {exc}", at)
        return 1

    def _claim(self, at: datetime) -> tuple[str, str, int] | None:
        lease = timedelta(seconds=self.settings.agent_file_fetch_seconds + LEASE_MARGIN_SECONDS)
        due = (
            (Attachment.origin == AttachmentOrigin.AGENT)
            & (Attachment.status == AttachmentStatus.CREATED)
            & or_(Attachment.fetch_after.is_(None), Attachment.fetch_after <= at)
        )
        with self.db.session() as session:
            candidate = session.scalars(
                select(Attachment.id).where(due).order_by(Attachment.created_at).limit(1)
            ).first()
            if candidate is None:
                return None
            won = session.execute(
                update(Attachment)
                .where(Attachment.id == candidate, due)
                .values(fetch_after=at + lease, fetch_attempts=Attachment.fetch_attempts + 1)
                .execution_options(synchronize_session=False)
            )
            if getattr(won, "rowcount", 0) != 1:
                return None
            attachment = session.get_one(Attachment, candidate, populate_existing=True)
            return attachment.id, str(attachment.source_url), attachment.fetch_attempts

    def _store(self, attachment_id: str, data: bytes, content_type: str | None, at: datetime) -> None:
        """The bytes under the incoming key, tagged pending; then the record says uploaded (the scanner,
        which S3's event may already have woken, needs the true size first)."""
        with self.db.session() as session:
            attachment = session.get_one(Attachment, attachment_id)
            if attachment.declared_type == "application/octet-stream" and content_type:
                attachment.declared_type = resolve_type(content_type, attachment.filename)
            attachment.declared_size = len(data)
            key, media_type = attachment.object_key, attachment.declared_type
        self.storage.put(key, data, content_type=media_type, tags=PENDING_TAGS)
        with self.db.session() as session:
            session.execute(
                update(Attachment)
                .where(Attachment.id == attachment_id, Attachment.status == AttachmentStatus.CREATED)
                .values(status=AttachmentStatus.UPLOADED, size=len(data), uploaded_at=at, fetch_after=None)
                .execution_options(synchronize_session=False)
            )
        log.info("agent file fetched", extra={"attachment_id": attachment_id, "bytes": len(data)})

    def _later(self, attachment_id: str, attempts: int, error: str, at: datetime) -> None:
        delay = min(MAX_BACKOFF_SECONDS, self.settings.outbox_backoff_base_seconds * 2 ** (attempts - 1))
        with self.db.session() as session:
            attachment = session.get_one(Attachment, attachment_id)
            attachment.fetch_after = at + timedelta(seconds=delay)
            attachment.scan_error = error[:2000]
        log.warning(
            "agent file not fetched yet; will retry",
            extra={"attachment_id": attachment_id, "attempt": attempts, "error": error},
        )

    def _give_up(self, attachment_id: str, status: AttachmentStatus, reason: str) -> None:
        with self.db.session() as session:
            attachment = session.get_one(Attachment, attachment_id)
            if attachment.status != AttachmentStatus.CREATED:
                return
            attachment.status = status
            attachment.status_reason = UNDELIVERED
            attachment.scan_error = reason[:2000]
            attachment.fetch_after = None
            settle(session, attachment, status)
        log.warning("agent file not delivered", extra={"attachment_id": attachment_id, "reason": reason})


def item(attachment: Attachment) -> dict[str, Any]:
    """What the widget is told about a clean agent file (never a URL: it asks `open_url` for one)."""
    mime = served_type(attachment)
    return {
        "attachment_id": attachment.id,
        "filename": attachment.filename,
        "mime": mime,
        "media_type": "Image" if mime.startswith("image/") and inline_type(attachment) else "File",
        "size": attachment.size,
    }


def settle(session: Session, attachment: Attachment, status: AttachmentStatus) -> None:
    """An agent file's outcome, in the transaction that records it: a transcript item for the customer,
    and for anything but clean a Failed receipt to Genesys. Never announced as a customer's file."""
    carrier = session.scalars(
        select(ChatMessage).where(ChatMessage.genesys_message_id == attachment.genesys_message_id)
    ).first()
    clean = status is AttachmentStatus.CLEAN
    message = ChatMessage(
        chat_id=attachment.chat_id,
        direction=MessageDirection.AGENT,
        text=None if clean else UNDELIVERED,
        content=[item(attachment)] if clean else None,
        status=MessageStatus.SENT,
        # The widget's receipt for the message goes with its first item shown (a file-only message).
        genesys_message_id=attachment.genesys_message_id if carrier is None else None,
    )
    session.add(message)
    session.flush()
    if clean:
        return
    carrier = carrier or message
    if carrier.status == MessageStatus.SENT:
        carrier.status = MessageStatus.FAILED  # the widget's "seen" must not send Delivered after it
    carrier.failure_reason = UNDELIVERED
    if carrier.genesys_message_id:
        enqueue_receipt(session, carrier, ReceiptStatus.FAILED)


def open_url(session: Session, storage: ObjectStorage, chat: Chat, attachment_id: str) -> tuple[str, int]:
    """A presigned URL (and its lifetime) of an agent file shown in `chat`: only that chat's, only clean.

    :raise UploadError: `not_found` (another chat's, a customer's upload, not clean, refused by the
        clean-only gate) or `storage_unavailable`.
    """
    attachment = session.get(Attachment, attachment_id)
    if (
        attachment is None
        or attachment.chat_id != chat.id
        or attachment.origin != AttachmentOrigin.AGENT
        or attachment.status != AttachmentStatus.CLEAN
    ):
        raise UploadError("not_found", what="file")
    try:
        url = presigned_url(
            storage, attachment, inline=True, seconds=OPEN_URL_SECONDS, max_seconds=MAX_URL_SECONDS
        )
    except AccessDenied as exc:
        log.warning(
            "agent file refused by the presign gate",
            extra={"attachment_id": attachment_id, "reason": str(exc)},
        )
        raise UploadError("not_found", what="file") from None
    except AccessUnavailable:
        raise UploadError("storage_unavailable", headers={"Retry-After": "5"}) from None
    return url, OPEN_URL_SECONDS
