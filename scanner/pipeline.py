"""The scan pipeline: an S3 ObjectCreated event → the attachment claimed → its object streamed through the
scan core → the verdict recorded → the object tagged (copied to the clean prefix, or quarantined) → Genesys
owed the announcement.

`ScanPipeline.handle_message(body)` takes one SQS message body (the worker's poller and the Lambda handler
both call it) and answers whether the message is done (delete it) or must come back after a delay.

Exactly once, whatever the queue delivers (S3's test event, duplicates, URL-encoded keys, replays):

- an attachment is taken by a compare-and-set UPDATE (status created or uploaded, or a scanning lease that
  ran out), which counts the attempt; the attempt number fences every later write, so a scanner whose
  lease was taken over can never record a verdict;
- a final verdict is never redone: events for a final attachment only finish its storage effects;
- the clean verdict, the widget's notice and the outbox entry that announces the file are one transaction,
  and the entry's `channel.messageId` is fixed per attachment ("ferry-attachment-<id>", unique in the
  database, deduplicated by Genesys; a rescan an operator asked for gets "ferry-attachment-<id>-<n>").

`flask scan retry` (scanner/cli.py) puts a failed attachment back to uploaded and sends `scan_request`,
an ObjectCreated message for its object, to the same queue S3 notifies.

Immutable once scanned: every read of a scan names the ETag of its first, and a clean object is copied
(pinned to that ETag, born tagged clean) under S3_CLEAN_PREFIX, which no upload URL addresses; the record
then names the copy and its ETag, and the upload key is removed. A PUT to the upload key after the verdict
only causes an event that is logged and whose object is removed.

Fail-closed: the object is copied and tagged before the record says clean (the presign gate needs both),
anything else leaves it unreadable; a scan that errors is retried with backoff and ends failed after
SCAN_MAX_ATTEMPTS; in production a file waits while clamd's signatures are stale.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from types import TracebackType
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from ferry import agent_files
from ferry.announcement import announcement_text, channel_message_id, refusal_text
from ferry.antivirus import Antivirus, ClamdError
from ferry.config import Settings
from ferry.db import Database, utcnow
from ferry.models import (
    PENDING_STATUSES,
    Attachment,
    AttachmentOrigin,
    AttachmentStatus,
    ChatMessage,
    MessageDirection,
    MessageStatus,
)
from ferry.objects import PREVIEW_TYPE, ScanTag, attachment_id_in, object_key, preview_key, status_tags
from ferry.outbox import enqueue_message
from ferry.signatures import freshness_problem
from ferry.storage import ObjectNotFound, ObjectStorage, StorageError
from scanner.core import Outcome, OversizePolicy, ScanOptions, Verdict, scan
from scanner.previews import make_preview, needs_whole_file, previewable

log = logging.getLogger("scanner.pipeline")

# S3 object tags: at most 10 per object, values of at most 256 characters from this set.
MAX_TAG_VALUE = 256
_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9 +\-=._:/@]")
_FINAL_STATUS = {
    Outcome.CLEAN: AttachmentStatus.CLEAN,
    Outcome.INFECTED: AttachmentStatus.INFECTED,
    Outcome.REJECTED: AttachmentStatus.REJECTED,
    Outcome.TOO_LARGE: AttachmentStatus.TOO_LARGE,
    Outcome.ERROR: AttachmentStatus.FAILED,
}
# A claim lost to a racing scanner is looked at again soon; one held by a live scanner when its lease ends.
RACE_RETRY_SECONDS = 1.0
MIN_HEARTBEAT_SECONDS = 0.2

Heartbeat = Callable[[], None]


class MalformedEvent(ValueError):
    """The message body is not an S3 event notification."""


@dataclass(frozen=True)
class ObjectEvent:
    """One record of an S3 event notification, its key decoded."""

    name: str
    bucket: str
    key: str


def parse_message(body: str) -> list[ObjectEvent]:
    """The ObjectCreated records of an S3 event notification (none for `s3:TestEvent`).

    S3 URL-encodes keys in events (a space as "+", "/" as "%2F"): they are decoded here.

    :raise MalformedEvent: the body is not an S3 event notification.
    """
    try:
        document = json.loads(body)
    except ValueError:
        raise MalformedEvent("the message body is not JSON") from None
    if not isinstance(document, dict):
        raise MalformedEvent("the message body is not a JSON object")
    if document.get("Event") == "s3:TestEvent":
        return []
    records = document.get("Records")
    if not isinstance(records, list):
        raise MalformedEvent("no Records in the message body")
    events = []
    for record in records:
        try:
            name = str(record["eventName"])
            bucket = str(record["s3"]["bucket"]["name"])
            key = unquote_plus(str(record["s3"]["object"]["key"]))
        except (KeyError, TypeError):
            raise MalformedEvent("a record without eventName, bucket or key") from None
        if name.startswith("ObjectCreated:"):
            events.append(ObjectEvent(name, bucket, key))
    return events


def scan_request(bucket: str, key: str) -> str:
    """A message that makes the scanner (worker or Lambda) scan `key` again: the ObjectCreated notification
    `parse_message` reads, in S3's own shape (key URL-encoded), so a rescan takes the path uploads take."""
    record = {
        "eventVersion": "2.1",
        "eventSource": "ferry:rescan",
        "eventName": "ObjectCreated:Rescan",
        "s3": {"bucket": {"name": bucket}, "object": {"key": quote_plus(key, safe="")}},
    }
    return json.dumps({"Records": [record]})


class Disposition(StrEnum):
    DONE = "done"  # delete the message
    RETRY = "retry"  # let it come back after `delay_seconds`


@dataclass(frozen=True)
class Result:
    """What became of a message (or of one object event)."""

    disposition: Disposition
    detail: str
    delay_seconds: float = 0.0
    attachment_id: str | None = None

    @classmethod
    def done(cls, detail: str, attachment_id: str | None = None) -> Result:
        return cls(Disposition.DONE, detail, attachment_id=attachment_id)

    @classmethod
    def retry(cls, detail: str, delay: float, attachment_id: str | None = None) -> Result:
        return cls(Disposition.RETRY, detail, max(0.0, delay), attachment_id)


@dataclass(frozen=True)
class Claim:
    """An attachment this scanner holds; `attempts` (after the claim) fences every write."""

    id: str
    attempts: int
    object_key: str
    declared_size: int
    declared_type: str
    declared_sha256: str | None = None


@dataclass(frozen=True)
class Finding:
    """A verdict, the stored size and ETag of what was read, whether the object must go (its size was not
    the announced one), and the ETag of the served copy once a clean one is made."""

    verdict: Verdict
    size: int | None = None
    delete_object: bool = False
    etag: str | None = None
    served_etag: str | None = None
    preview_key: str | None = None


def tag_value(text: str) -> str:
    """`text` within S3's tag value rules (character set and length)."""
    return _TAG_UNSAFE.sub("_", text)[:MAX_TAG_VALUE]


def verdict_tags(status: AttachmentStatus, verdict: Verdict, at: datetime) -> dict[str, str]:
    """The object's tags for a final verdict: the status the bucket policy and the gate read, and details."""
    tags = {**status_tags(status), ScanTag.TIME: at.strftime("%Y-%m-%dT%H:%M:%SZ")}
    if verdict.signature:
        tags[ScanTag.SIGNATURE] = tag_value(verdict.signature)
    if status not in (AttachmentStatus.CLEAN, AttachmentStatus.INFECTED) and verdict.reason:
        tags[ScanTag.REASON] = tag_value(verdict.reason)
    if verdict.engine is not None:
        tags[ScanTag.ENGINE] = tag_value(f"ClamAV {verdict.engine.engine}")
        version = verdict.engine.signature_version
        tags[ScanTag.DB] = str(version) if version is not None else "test-signatures-only"
        if verdict.engine.signature_date is not None:
            tags[ScanTag.DB_DATE] = verdict.engine.signature_date.strftime("%Y-%m-%dT%H:%M:%SZ")
    if verdict.sha256:
        tags[ScanTag.SHA256] = verdict.sha256
    if verdict.segmented:
        tags[ScanTag.SEGMENTED] = "true"
    return tags


# The reason a customer reads (capitalised by customer_reason) when the bytes in storage are not the ones
# their browser hashed as it sent them.
CHANGED_IN_TRANSIT = "the file changed while it was being sent"


def same_as_sent(verdict: Verdict, declared_sha256: str | None) -> Verdict:
    """A clean verdict stays clean only when the bytes read are the ones the customer's browser hashed as
    it sent them (when it declared a hash): otherwise the object changed in storage and is never served."""
    if verdict.outcome is not Outcome.CLEAN or declared_sha256 is None or verdict.sha256 == declared_sha256:
        return verdict
    return dataclasses.replace(verdict, outcome=Outcome.REJECTED, reason=CHANGED_IN_TRANSIT)


def customer_reason(status: AttachmentStatus, finding: Finding) -> str | None:
    """What the widget shows beside a refused file (None: the attachment's default text for the status)."""
    reason = finding.verdict.reason
    if status is not AttachmentStatus.REJECTED or not reason:
        return None
    return reason[:1].upper() + reason[1:].rstrip(".") + "."


class ScanPipeline:
    """Drives one object from its S3 event to its verdict, its storage effects and its announcement."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        storage: ObjectStorage,
        clamd: Antivirus,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.db = db
        self.storage = storage
        self.clamd = clamd
        self.clock = clock
        # Development and tests scan with whatever signatures they have; production needs fresh ones.
        self.max_signature_age = (
            timedelta(days=settings.scan_max_signature_age_days) if settings.is_production else None
        )
        self.options = ScanOptions(
            engine_cap=settings.scan_engine_cap_bytes,
            oversize=OversizePolicy(settings.scan_segment_mode),
            segment_workers=settings.scan_segment_workers,
            max_signature_age=self.max_signature_age,
        )

    # -- messages and events ---------------------------------------------------------------------------

    def handle_message(self, body: str, heartbeat: Heartbeat | None = None) -> Result:
        """Handle one SQS message: every object it names; retried when any of them must come back."""
        try:
            events = parse_message(body)
        except MalformedEvent as exc:
            # Nothing to scan can be read from it; keeping it would only loop it into the dead-letter queue.
            log.error("scan queue message is not an S3 event; dropped", extra={"error": str(exc)})
            return Result.done("malformed message")
        if not events:
            return Result.done("no object created (test event)")
        results = [self.handle_event(event, heartbeat) for event in events]
        retries = [r for r in results if r.disposition is Disposition.RETRY]
        if retries:
            return min(retries, key=lambda r: r.delay_seconds)
        return results[0] if len(results) == 1 else Result.done("; ".join(r.detail for r in results))

    def handle_event(self, event: ObjectEvent, heartbeat: Heartbeat | None = None) -> Result:
        """One object event: only objects under the incoming prefix of Ferry's bucket are scanned."""
        if event.bucket != self.settings.s3_bucket or not self._incoming(event.key):
            log.info(
                "event for an object Ferry does not scan", extra={"bucket": event.bucket, "key": event.key}
            )
            return Result.done("not an incoming object")
        return self.handle_key(event.key, heartbeat)

    def handle_key(self, key: str, heartbeat: Heartbeat | None = None) -> Result:
        """Scan the attachment stored at `key` unless it has a verdict (or another scanner holds it)."""
        attachment = self._find(key)
        if attachment is None:
            log.warning("no attachment for this object; nothing scanned", extra={"key": key})
            return Result.done("unknown object")
        status = AttachmentStatus(attachment.status)
        if status.is_final:
            return self._finish_storage(attachment, detail=f"already {status}", later_event=True)
        problem, delay = self._engine_problem()
        if problem:
            # Not claimed: waiting for clamd or fresh signatures costs the file none of its attempts.
            log.warning("scan waits: %s", problem, extra={"attachment_id": attachment.id})
            return Result.retry(f"waiting: {problem}", delay, attachment.id)
        claim = self._claim(attachment.id)
        if claim is None:
            return self._not_claimed(attachment.id)
        log.info("scan started", extra={"attachment_id": claim.id, "attempt": claim.attempts})
        with _Heartbeat(self._heartbeat_seconds, lambda: self._renew(claim, heartbeat)):
            finding = self._scan(claim)
        return self._record(claim, finding)

    # -- claiming ----------------------------------------------------------------------------------------

    def _incoming(self, key: str) -> bool:
        """Whether `key` names an upload's object (the only objects Ferry scans)."""
        return attachment_id_in(key, self.settings.s3_incoming_prefix) is not None

    def _find(self, key: str) -> Attachment | None:
        """The attachment whose object this is (by key, or by id once it moved to quarantine)."""
        attachment_id = attachment_id_in(key, self.settings.s3_incoming_prefix)
        named = Attachment.object_key == key
        with self.db.session() as session:
            return session.scalars(
                select(Attachment).where(
                    or_(named, Attachment.id == attachment_id) if attachment_id else named
                )
            ).first()

    def _engine_problem(self) -> tuple[str | None, float]:
        """Why clamd may not scan now, and how long to wait: a restarting clamd is back soon, stale
        signatures (production) only after the next update reaches it."""
        try:
            version = self.clamd.version()
        except ClamdError as exc:
            return f"clamd unavailable: {exc}", self.settings.scan_retry_base_seconds
        if self.max_signature_age is None:
            return None, 0.0
        return freshness_problem(version, self.max_signature_age), self.settings.scan_retry_max_seconds

    def _claim(self, attachment_id: str) -> Claim | None:
        """Take the attachment (compare-and-set); None when it is final or another scanner holds it."""
        now = self.clock()
        claimable = or_(
            Attachment.status.in_([AttachmentStatus.CREATED, AttachmentStatus.UPLOADED]),
            (Attachment.status == AttachmentStatus.SCANNING)
            & or_(Attachment.scan_lease_until.is_(None), Attachment.scan_lease_until <= now),
        )
        with self.db.session() as session:
            won = session.execute(
                update(Attachment)
                .where(Attachment.id == attachment_id, claimable)
                .values(
                    status=AttachmentStatus.SCANNING,
                    scan_lease_until=now + timedelta(seconds=self.settings.scan_lease_seconds),
                    scan_attempts=Attachment.scan_attempts + 1,
                )
                .execution_options(synchronize_session=False)
            )
            if getattr(won, "rowcount", 0) != 1:
                return None
            attachment = session.get_one(Attachment, attachment_id, populate_existing=True)
            return Claim(
                id=attachment.id,
                attempts=attachment.scan_attempts,
                object_key=attachment.object_key,
                declared_size=attachment.declared_size,
                declared_type=attachment.declared_type,
                declared_sha256=attachment.declared_sha256,
            )

    def _not_claimed(self, attachment_id: str) -> Result:
        """Another scanner won: done if it reached a verdict, else look again when its lease ends."""
        with self.db.session() as session:
            attachment = session.get_one(Attachment, attachment_id)
        status = AttachmentStatus(attachment.status)
        if status.is_final:
            return Result.done(f"already {status}", attachment_id)
        lease = attachment.scan_lease_until
        if status is AttachmentStatus.SCANNING and lease is not None:
            wait = (lease - self.clock()).total_seconds() + RACE_RETRY_SECONDS
            return Result.retry("another scanner holds it", wait, attachment_id)
        return Result.retry("claim raced", RACE_RETRY_SECONDS, attachment_id)

    @property
    def _heartbeat_seconds(self) -> float:
        lease = min(self.settings.scan_lease_seconds, float(self.settings.scan_visibility_seconds))
        return max(MIN_HEARTBEAT_SECONDS, lease / 3)

    def _renew(self, claim: Claim, heartbeat: Heartbeat | None) -> None:
        """Extend the lease (and, through `heartbeat`, the queue message's visibility) while scanning."""
        with self.db.session() as session:
            session.execute(
                update(Attachment)
                .where(*self._fence(claim))
                .values(scan_lease_until=self.clock() + timedelta(seconds=self.settings.scan_lease_seconds))
                .execution_options(synchronize_session=False)
            )
        if heartbeat is not None:
            heartbeat()

    @staticmethod
    def _fence(claim: Claim) -> tuple[Any, ...]:
        return (
            Attachment.id == claim.id,
            Attachment.scan_attempts == claim.attempts,
            Attachment.status.in_(PENDING_STATUSES),
        )

    # -- scanning ----------------------------------------------------------------------------------------

    def _scan(self, claim: Claim) -> Finding:
        """Check the stored size against the declared one, then stream the object through the scan core."""
        key = claim.object_key
        try:
            info = self.storage.head(key)
        except ObjectNotFound:
            return Finding(Verdict(Outcome.ERROR, reason=f"object {key} is not in storage", retryable=True))
        except StorageError as exc:
            return Finding(Verdict(Outcome.ERROR, reason=f"storage: {exc}", retryable=True))
        size, etag = info.size, info.etag
        if size != claim.declared_size:
            reason = f"stored {size} bytes where {claim.declared_size} were announced"
            return Finding(Verdict(Outcome.REJECTED, reason=reason), size=size, delete_object=True)

        # Every read names the ETag: an object replaced mid-scan fails the read rather than mixing files.
        def read_range(first: int, last: int) -> Iterator[bytes]:
            return self.storage.read(key, first, last, if_match=etag)

        verdict = scan(
            self.storage.read(key, if_match=etag),
            size=size,
            declared_type=claim.declared_type,
            allowed_types=self.settings.upload_allowed_types,
            client=self.clamd,
            options=self.options,
            range_reader=read_range,
        )
        return Finding(same_as_sent(verdict, claim.declared_sha256), size=size, etag=etag)

    # -- recording -----------------------------------------------------------------------------------

    def _record(self, claim: Claim, finding: Finding) -> Result:
        verdict = finding.verdict
        if verdict.outcome is Outcome.ERROR and claim.attempts < self.settings.scan_max_attempts:
            return self._release(claim, verdict.reason or "scan error")
        status = _FINAL_STATUS[verdict.outcome]
        now = self.clock()
        try:
            finding = self._effects_before(claim, status, finding, now)
        except StorageError as exc:
            if status is not AttachmentStatus.CLEAN:
                log.warning("tagging a refused object failed; it stays unreadable", extra={"error": str(exc)})
            else:
                # Never a clean record over an object whose tag does not say so.
                reason = f"tagging the clean object failed: {exc}"
                if claim.attempts < self.settings.scan_max_attempts:
                    return self._release(claim, reason)
                status = AttachmentStatus.FAILED
                failed = dataclasses.replace(verdict, outcome=Outcome.ERROR, reason=reason)
                finding = Finding(failed, finding.size)
        if not self._write_verdict(claim, status, finding, now):
            log.warning(
                "scan verdict not recorded: another scanner took the attachment over",
                extra={"attachment_id": claim.id, "attempt": claim.attempts},
            )
            return Result.done("lost to another scanner", claim.id)
        self._log_verdict(claim, status, finding.verdict)
        with self.db.session() as session:
            attachment = session.get_one(Attachment, claim.id)
        return self._finish_storage(attachment, detail=str(status))

    def _release(self, claim: Claim, reason: str) -> Result:
        """Give the attachment back for a later attempt, with backoff (unless another scanner took it over:
        its upload key may be gone because that one's verdict is recorded)."""
        with self.db.session() as session:
            released = session.execute(
                update(Attachment)
                .where(*self._fence(claim))
                .values(status=AttachmentStatus.UPLOADED, scan_lease_until=None, scan_error=reason[:2000])
                .execution_options(synchronize_session=False)
            )
        if getattr(released, "rowcount", 0) != 1:
            return Result.done("lost to another scanner", claim.id)
        delay = min(
            self.settings.scan_retry_max_seconds,
            self.settings.scan_retry_base_seconds * 2 ** (claim.attempts - 1),
        )
        log.warning(
            "scan error; will retry",
            extra={
                "attachment_id": claim.id,
                "attempt": claim.attempts,
                "delay_seconds": delay,
                "error": reason,
            },
        )
        return Result.retry(f"error: {reason}", delay, claim.id)

    def _effects_before(
        self, claim: Claim, status: AttachmentStatus, finding: Finding, now: datetime
    ) -> Finding:
        """Storage effects that precede the record: the verdict's tags, or removing a mis-sized object.

        A clean object is copied, tags and all, under the clean prefix (no upload URL addresses it, only
        the scanner writes it), pinned to the ETag that was read: what is served is what was scanned,
        whatever is PUT to the upload key later. The upload key is removed once the verdict is recorded.
        """
        tags = verdict_tags(status, finding.verdict, now)
        if finding.delete_object:
            self.storage.delete(claim.object_key)
        elif status is AttachmentStatus.CLEAN:
            served = self.storage.copy(
                claim.object_key, self._served_key(claim.id), if_match=finding.etag, tags=tags
            )
            preview = self._preview(claim, finding.verdict, finding.size, served)
            return dataclasses.replace(finding, served_etag=served, preview_key=preview)
        else:
            self.storage.put_tags(claim.object_key, tags)
        return finding

    def _preview(self, claim: Claim, verdict: Verdict, size: int | None, etag: str) -> str | None:
        """Make and store the preview image of the clean copy (pinned to its ETag); its key, or None when
        previews are off or the file gives none. Never fails the scan: the file is announced either way."""
        mime = verdict.effective_type or claim.declared_type
        if not self.settings.previews_enabled or not previewable(mime) or not size:
            return None
        limit = self.settings.preview_max_input_bytes
        if size > limit and needs_whole_file(mime):
            return None
        try:
            chunks = self.storage.read(self._served_key(claim.id), 0, min(size, limit) - 1, if_match=etag)
            image = make_preview(chunks, mime, timeout=self.settings.preview_timeout_seconds)
            if image is None:
                return None
            key = preview_key(claim.id)
            self.storage.put(key, image, content_type=PREVIEW_TYPE, tags=status_tags(AttachmentStatus.CLEAN))
        except StorageError as exc:
            log.warning("preview not stored", extra={"attachment_id": claim.id, "error": str(exc)})
            return None
        return key

    def _served_key(self, attachment_id: str) -> str:
        return object_key(self.settings.s3_clean_prefix, attachment_id)

    def _write_verdict(self, claim: Claim, status: AttachmentStatus, finding: Finding, now: datetime) -> bool:
        """The verdict, the widget's notice and the outbox entry for the agent: one fenced transaction."""
        verdict = finding.verdict
        engine = verdict.engine
        values: dict[str, Any] = {
            "status": status,
            "status_reason": customer_reason(status, finding),
            "scan_error": None if status is AttachmentStatus.CLEAN else (verdict.reason or "")[:2000],
            "signature": verdict.signature[:255] if verdict.signature else None,
            "segmented": verdict.segmented,
            "scanned_at": now,
            "scan_lease_until": None,
            "uploaded_at": func.coalesce(Attachment.uploaded_at, now),
        }
        if finding.size is not None:
            values["size"] = finding.size
        if finding.served_etag is not None:
            values["object_key"] = self._served_key(claim.id)
            values["served_etag"] = finding.served_etag
        if finding.preview_key is not None:
            values["preview_key"] = finding.preview_key
        if verdict.sha256:
            values["sha256"] = verdict.sha256
        if verdict.effective_type:
            # The type Ferry treats the file as (for DICOM without a preamble, the trusted declared type).
            values["sniffed_type"] = verdict.effective_type[:255]
        if engine is not None:
            values["engine_version"] = engine.engine[:64]
            values["signature_version"] = (
                str(engine.signature_version) if engine.signature_version is not None else None
            )
            values["signature_date"] = engine.signature_date
            values["test_signatures_only"] = engine.test_signatures_only
        with self.db.session() as session:
            won = session.execute(
                update(Attachment)
                .where(*self._fence(claim))
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if getattr(won, "rowcount", 0) != 1:
                return False
            attachment = session.get_one(Attachment, claim.id, populate_existing=True)
            self._notify(session, attachment, status)
        return True

    def _notify(self, session: Session, attachment: Attachment, status: AttachmentStatus) -> None:
        """The widget's transcript item for the file, owed to Genesys as the file's one message."""
        if attachment.origin == AttachmentOrigin.AGENT:
            agent_files.settle(session, attachment, status)  # shown to the customer, never announced
            return
        clean = status is AttachmentStatus.CLEAN
        text = announcement_text(self.settings, attachment) if clean else refusal_text(attachment, status)
        # Earlier verdicts' notices exist only when an operator had the file scanned again.
        rescan = session.scalar(
            select(func.count())
            .select_from(ChatMessage)
            .where(
                ChatMessage.attachment_id == attachment.id, ChatMessage.direction == MessageDirection.SYSTEM
            )
        )
        message = ChatMessage(
            chat=attachment.chat, direction=MessageDirection.SYSTEM, attachment_id=attachment.id, text=text
        )
        session.add(message)
        session.flush()
        if clean or self.settings.scan_notify_agent_on_reject:
            enqueue_message(
                session, message, channel_message_id=channel_message_id(attachment.id, rescan or 0)
            )
        else:
            message.status = MessageStatus.DELIVERED  # shown in the widget; nothing to send

    def _log_verdict(self, claim: Claim, status: AttachmentStatus, verdict: Verdict) -> None:
        extra = {
            "attachment_id": claim.id,
            "status": str(status),
            "attempt": claim.attempts,
            "signature": verdict.signature,
            "reason": verdict.reason,
            "engine": verdict.engine.raw if verdict.engine else None,
            "sha256": verdict.sha256,
            "segmented": verdict.segmented,
            "bytes_scanned": verdict.bytes_scanned,
        }
        if status is AttachmentStatus.FAILED:
            log.error("scan failed for good (see `flask scan list --failed`)", extra=extra)
        elif status is AttachmentStatus.INFECTED:
            log.warning("infected file", extra=extra)
        else:
            log.info("scan verdict", extra=extra)

    # -- storage effects after the verdict ---------------------------------------------------------------

    def _finish_storage(self, attachment: Attachment, *, detail: str, later_event: bool = False) -> Result:
        """Remove the upload key of a file whose object moved (clean: copied; infected: quarantined), or
        quarantine (or delete) an infected object still in the incoming prefix; idempotent.

        Runs after the verdict is recorded and again for every later event of the object, so that a crash
        between the record and the move is finished by the message's redelivery.
        """
        if not self._incoming(attachment.object_key):
            return self._remove_upload(attachment, detail=detail, later_event=later_event)
        if attachment.status != AttachmentStatus.INFECTED or not self._incoming(attachment.object_key):
            return Result.done(detail, attachment.id)
        try:
            if self.settings.scan_quarantine_mode == "delete":
                self.storage.delete(attachment.object_key)
                return Result.done(f"{detail}; deleted", attachment.id)
            target = object_key(self.settings.s3_quarantine_prefix, attachment.id)
            try:
                self.storage.move(attachment.object_key, target)
            except ObjectNotFound:
                self.storage.get_tags(target)  # moved before, only the record is behind; else ObjectNotFound
        except ObjectNotFound:
            log.warning("infected object is gone from storage", extra={"attachment_id": attachment.id})
            return Result.done(f"{detail}; object gone", attachment.id)
        except StorageError as exc:
            log.warning(
                "quarantine failed; will retry", extra={"attachment_id": attachment.id, "error": str(exc)}
            )
            return Result.retry(
                f"{detail}; quarantine failed", self.settings.scan_retry_base_seconds, attachment.id
            )
        with self.db.session() as session:
            session.execute(
                update(Attachment)
                .where(Attachment.id == attachment.id)
                .values(object_key=target)
                .execution_options(synchronize_session=False)
            )
        log.info("infected object quarantined", extra={"attachment_id": attachment.id, "key": target})
        return Result.done(f"{detail}; quarantined", attachment.id)

    def _remove_upload(self, attachment: Attachment, *, detail: str, later_event: bool) -> Result:
        """Delete the upload key of a file whose scanned object lives elsewhere. An object found there on a
        later event was PUT after the verdict (with a kept upload URL): it is logged and removed unscanned,
        and neither the record, nor the scanned object, nor its tags change."""
        upload = object_key(self.settings.s3_incoming_prefix, attachment.id)
        try:
            if later_event:
                try:
                    info = self.storage.head(upload)
                except ObjectNotFound:
                    return Result.done(detail, attachment.id)  # a duplicate event: nothing left to remove
                log.warning(
                    "an object was written to the upload key after the verdict; removed unscanned, "
                    "what was scanned is unchanged",
                    extra={
                        "attachment_id": attachment.id,
                        "status": str(attachment.status),
                        "key": upload,
                        "size": info.size,
                        "etag": info.etag,
                        "served_etag": attachment.served_etag,
                    },
                )
            self.storage.delete(upload)
        except StorageError as exc:
            log.warning(
                "removing the upload key failed; will retry",
                extra={"attachment_id": attachment.id, "error": str(exc)},
            )
            return Result.retry(
                f"{detail}; upload removal failed", self.settings.scan_retry_base_seconds, attachment.id
            )
        return Result.done(f"{detail}; stray upload removed" if later_event else detail, attachment.id)


class _Heartbeat:
    """Calls `beat` every `interval` seconds in a thread while the block runs; a failing beat is logged."""

    def __init__(self, interval: float, beat: Callable[[], None]) -> None:
        self.interval = interval
        self.beat = beat
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scan-heartbeat", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.beat()
            except Exception:
                log.exception("scan heartbeat failed")
