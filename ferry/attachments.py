"""Customer uploads, browser → S3: policy, part sizing, names, and each step of an attachment's upload.

Plain functions over a database session and an `ObjectStorage`; the HTTP layer (uploader/uploads.py)
and the `flask uploads` command call them. Flask never sees file content: the browser sends the bytes
to presigned S3 URLs, and Ferry only creates, signs, lists, completes and aborts.

Every refusal is an `UploadError`: a code registered in ferry/errors.py with the values its message
names. Refusals that change nothing raise before touching storage or the database.
"""

from __future__ import annotations

import base64
import binascii
import math
import mimetypes
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import click
from flask.cli import AppGroup
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ferry.config import MIB, Settings
from ferry.db import utcnow
from ferry.errors import Refusal
from ferry.mediatypes import matches
from ferry.models import Attachment, AttachmentOrigin, AttachmentStatus, Chat, new_id
from ferry.objects import PENDING_TAGS, object_key
from ferry.sizes import human_size
from ferry.storage import ObjectNotFound, ObjectStorage, StorageError, StorageUnavailable, UploadedPart

# S3's multipart limits: parts 5 MiB..5 GiB (the last may be smaller), at most 10,000 of them.
MIN_PART_SIZE = 8 * MIB
MAX_PART_SIZE = 5 * 1024 * MIB
MAX_PARTS = 10_000
MAX_SIGN_BATCH = 100  # parts per sign request: keeps request and answer bodies a few kilobytes
MAX_FILENAME_CHARS = 200
CHECKSUM_ALGORITHM = "SHA256"

SINGLE = "single"
MULTIPART = "multipart"

_FINGERPRINT = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")
# Characters Windows (and so many agents' desktops) refuse in file names.
_RESERVED_CHARS = re.compile(r'[<>:"|?*]')
_WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL"} | {f"{d}{n}" for d in ("COM", "LPT") for n in range(1, 10)}
# Types browsers often leave empty; the extension decides then (the scanner sniffs the real type later).
_EXTRA_TYPES = {".dcm": "application/dicom", ".dicom": "application/dicom"}
_BUILTIN_TYPES = mimetypes.MimeTypes()  # Python's own table, not the machine's /etc/mime.types

_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")

# What a customer is told for each final status unless the attachment records a more specific reason.
_STATUS_REASONS = {
    AttachmentStatus.INFECTED: "The virus scan found a threat in this file; it was not delivered.",
    AttachmentStatus.REJECTED: "This file was refused.",
    AttachmentStatus.TOO_LARGE: "This file is too large to be scanned; it was not delivered.",
    AttachmentStatus.FAILED: "This file could not be scanned; it was not delivered.",
    AttachmentStatus.ABORTED: "Upload cancelled.",
    AttachmentStatus.EXPIRED: "The upload was not finished in time and was discarded.",
}


class UploadError(Refusal):
    """A refused upload step."""


class UploadRejected(UploadError):
    """The attachment was rejected for good; the caller must commit the change before reporting it."""


@dataclass(frozen=True)
class UploadPolicy:
    """The limits and knobs every upload is held to (from Settings)."""

    max_bytes: int
    allowed_types: tuple[str, ...]
    max_files_per_chat: int
    single_put_max_bytes: int
    url_seconds: int
    incoming_prefix: str
    abandon_after: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> UploadPolicy:
        return cls(
            max_bytes=settings.upload_max_bytes,
            allowed_types=settings.upload_allowed_types,
            max_files_per_chat=settings.upload_max_files_per_chat,
            single_put_max_bytes=settings.upload_single_put_max_bytes,
            url_seconds=settings.upload_url_seconds,
            incoming_prefix=settings.s3_incoming_prefix,
            abandon_after=timedelta(hours=settings.upload_abandon_after_hours),
        )


@dataclass(frozen=True)
class FileDeclaration:
    """What the widget says about a file before sending it."""

    name: str
    size: int
    content_type: str
    fingerprint: str | None = None


@dataclass(frozen=True)
class PartChecksum:
    """A part the widget wants to send, with the base64 SHA-256 it computed over the part's bytes."""

    number: int
    sha256: str


@dataclass(frozen=True)
class SignedPart:
    number: int
    url: str
    headers: dict[str, str]


@dataclass(frozen=True)
class SignedParts:
    parts: list[SignedPart]
    expires_at: datetime


@dataclass(frozen=True)
class ExpiryReport:
    expired_attachments: int  # attachments marked expired
    aborted_uploads: int  # S3 multipart uploads aborted (including ones no attachment owned)


# -- pure helpers ------------------------------------------------------------------------------------


def part_size_for(size: int) -> int:
    """The part size for a file: 8 MiB, or more when the file needs it to fit in 10,000 parts."""
    return max(MIN_PART_SIZE, math.ceil(size / MAX_PARTS))


def part_count(size: int, part_size: int) -> int:
    """How many parts a file of `size` bytes is cut into (at least one)."""
    return max(1, math.ceil(size / part_size))


def expected_part_size(size: int, part_size: int, number: int) -> int:
    """The exact byte length of part `number` (1-based): full parts, then the remainder."""
    return min(part_size, size - (number - 1) * part_size)


def sanitize_filename(name: str, max_chars: int = MAX_FILENAME_CHARS) -> str:
    """A display name safe to show and to put in Content-Disposition: no path, no control or bidi
    characters, no characters Windows refuses, bounded length (the extension is kept)."""
    name = unicodedata.normalize("NFC", name)
    name = re.split(r"[/\\]", name)[-1]
    # Cc: control characters; Cf: format characters, which include the bidi overrides and isolates
    # (U+202A..U+202E, U+2066..U+2069) that can disguise "exe.pdf" as "fdp.exe"; Zl/Zp: line breaks.
    name = "".join(
        " " if c.isspace() else c
        for c in name
        if c.isspace() or unicodedata.category(c) not in ("Cc", "Cf", "Co", "Cs", "Cn")
    )
    name = _RESERVED_CHARS.sub("_", name)
    name = re.sub(r"\s+", " ", name).strip(" .")
    if not name:
        return "file"
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or len(ext) > 16:
        stem, ext = name, ""
    if stem.split(".")[0].upper() in _WINDOWS_DEVICES:
        stem = "_" + stem
    suffix = f".{ext}" if ext else ""
    stem = stem[: max(1, max_chars - len(suffix))].rstrip(" .") or "file"
    return (stem + suffix)[:max_chars]


def resolve_type(declared: str, filename: str) -> str:
    """The declared media type, normalised; guessed from the extension when the browser gave none."""
    media_type = declared.split(";", 1)[0].strip().lower()
    if media_type in ("", "application/octet-stream"):
        ext = "." + filename.rpartition(".")[2].lower() if "." in filename else ""
        guessed = _EXTRA_TYPES.get(ext) or _BUILTIN_TYPES.guess_type("f" + ext, strict=False)[0]
        media_type = guessed or media_type or "application/octet-stream"
    return media_type


def display_state(attachment: Attachment) -> str:
    """What the widget shows: uploading, scanning, delivered, rejected, cancelled or expired."""
    status = AttachmentStatus(attachment.status)
    if status is AttachmentStatus.CREATED:
        return "uploading"
    if status in (AttachmentStatus.UPLOADED, AttachmentStatus.SCANNING):
        return "scanning"
    if status is AttachmentStatus.CLEAN:
        # Clean files are announced to the agent by the delivery worker; until then they are in transit.
        return "delivered" if attachment.announced_at is not None else "scanning"
    if status is AttachmentStatus.ABORTED:
        return "cancelled"
    if status is AttachmentStatus.EXPIRED:
        return "expired"
    return "rejected"


def display_reason(attachment: Attachment) -> str | None:
    """The customer-facing reason for a final status (None while the upload is alive or delivered)."""
    status = AttachmentStatus(attachment.status)
    if status not in _STATUS_REASONS:
        return None
    if status is AttachmentStatus.INFECTED:
        return _STATUS_REASONS[status]  # never the signature name: that is for the agent's side
    return attachment.status_reason or _STATUS_REASONS[status]


def _checksum_ok(value: str) -> bool:
    """A base64 SHA-256 digest (32 bytes), as S3's x-amz-checksum-sha256 expects."""
    try:
        return len(value) == 44 and len(base64.b64decode(value, validate=True)) == 32
    except (binascii.Error, ValueError):
        return False


# -- policy --------------------------------------------------------------------------------------------


def check_declaration(policy: UploadPolicy, declared: FileDeclaration) -> tuple[str, str]:
    """Refuse a file that breaks the policy before any byte moves; returns (display name, media type)."""
    if not isinstance(declared.size, int) or isinstance(declared.size, bool) or declared.size < 0:
        raise UploadError("invalid_request", problem="The file size is missing or invalid.")
    if declared.size == 0:
        raise UploadError("empty_file")
    if declared.size > policy.max_bytes:
        raise UploadError("too_large", size=human_size(declared.size), limit=human_size(policy.max_bytes))
    name = sanitize_filename(declared.name)
    media_type = resolve_type(declared.content_type, name)
    if not _MEDIA_TYPE.match(media_type) or not matches(media_type, policy.allowed_types):
        raise UploadError("type_not_allowed")
    if declared.fingerprint is not None and not _FINGERPRINT.match(declared.fingerprint):
        raise UploadError("invalid_request", problem="The file fingerprint is invalid.")
    return name, media_type


# -- the upload steps ----------------------------------------------------------------------------------


def create_upload(
    session: Session, storage: ObjectStorage, policy: UploadPolicy, chat: Chat, declared: FileDeclaration
) -> tuple[Attachment, bool]:
    """Start an upload for `chat`, or resume its unfinished upload of the same file (same fingerprint
    and size). Returns the attachment and whether it was resumed.

    The object key comes from the attachment id, never from the customer's file name, and the object
    is born tagged scan-status=pending.
    """
    if chat.closed_at is not None:
        raise UploadError("chat_closed")
    name, media_type = check_declaration(policy, declared)
    # Serialise creates per chat (PostgreSQL) so that two at once cannot both pass the files-per-chat limit.
    session.execute(select(Chat.id).where(Chat.id == chat.id).with_for_update())
    if declared.fingerprint:
        unfinished = find_unfinished(session, chat.id, declared.fingerprint, declared.size)
        if unfinished is not None:
            return unfinished, True
    counted = session.scalar(
        select(func.count())
        .select_from(Attachment)
        .where(
            Attachment.chat_id == chat.id,
            Attachment.origin == AttachmentOrigin.CUSTOMER,  # the agent's files do not count against it
            Attachment.status.not_in([AttachmentStatus.ABORTED, AttachmentStatus.EXPIRED]),
        )
    )
    if (counted or 0) >= policy.max_files_per_chat:
        raise UploadError("too_many_files", limit=policy.max_files_per_chat)

    attachment_id = new_id()
    key = object_key(policy.incoming_prefix, attachment_id)
    single = declared.size <= policy.single_put_max_bytes
    part_size = declared.size if single else part_size_for(declared.size)
    upload_id = None
    if not single:
        upload_id = storage.create_multipart(
            key, content_type=media_type, tags=PENDING_TAGS, checksum_algorithm=CHECKSUM_ALGORITHM
        )
    attachment = Attachment(
        id=attachment_id,
        chat_id=chat.id,
        object_key=key,
        filename=name,
        declared_type=media_type,
        declared_size=declared.size,
        fingerprint=declared.fingerprint,
        strategy=SINGLE if single else MULTIPART,
        upload_id=upload_id,
        part_size=part_size,
        status=AttachmentStatus.CREATED,
        conversation_id=chat.conversation_id,
    )
    session.add(attachment)
    session.flush()
    return attachment, False


def find_unfinished(session: Session, chat_id: str, fingerprint: str, size: int) -> Attachment | None:
    """The chat's newest upload of this file that is still waiting for bytes, if any."""
    return session.scalars(
        select(Attachment)
        .where(
            Attachment.chat_id == chat_id,
            Attachment.fingerprint == fingerprint,
            Attachment.declared_size == size,
            Attachment.status == AttachmentStatus.CREATED,
        )
        .order_by(Attachment.created_at.desc())
        .limit(1)
    ).first()


def get_attachment(session: Session, chat_id: str, attachment_id: str) -> Attachment:
    """The chat's upload; another chat's (or an unknown, or the agent's) id is simply not found."""
    attachment = session.get(Attachment, attachment_id)
    if attachment is None or attachment.chat_id != chat_id or attachment.origin != AttachmentOrigin.CUSTOMER:
        raise UploadError("not_found", what="file")
    return attachment


def list_chat_attachments(session: Session, chat_id: str) -> list[Attachment]:
    """The chat's uploads, oldest first (not the files the agent sent it)."""
    return list(
        session.scalars(
            select(Attachment)
            .where(Attachment.chat_id == chat_id, Attachment.origin == AttachmentOrigin.CUSTOMER)
            .order_by(Attachment.created_at, Attachment.id)
        )
    )


def part_total(attachment: Attachment) -> int:
    """How many parts the attachment is uploaded in (1 for a single PUT)."""
    return part_count(attachment.declared_size, attachment.part_size or attachment.declared_size)


# Statuses in which an upload URL is still issued (created), or refused as for an upload given up.
_SIGNABLE_OR_GONE = (AttachmentStatus.CREATED, AttachmentStatus.ABORTED, AttachmentStatus.EXPIRED)


def _require_uploading(attachment: Attachment) -> None:
    if attachment.status != AttachmentStatus.CREATED:
        raise UploadError("not_uploading", state=display_state(attachment))


def sign_parts(
    storage: ObjectStorage,
    policy: UploadPolicy,
    attachment: Attachment,
    parts: Sequence[PartChecksum],
    *,
    now: datetime | None = None,
) -> SignedParts:
    """Presigned URLs for a batch of parts. Each URL has the part's SHA-256 and exact length signed in,
    so S3 refuses a part whose bytes were corrupted on the way, or that is not the size the plan says."""
    if attachment.status not in _SIGNABLE_OR_GONE:
        # Its bytes are complete (and maybe scanned): no URL that could write them again.
        raise UploadError("upload_complete", state=display_state(attachment))
    _require_uploading(attachment)
    if not 1 <= len(parts) <= MAX_SIGN_BATCH:
        raise UploadError("invalid_request", problem=f"Ask for 1 to {MAX_SIGN_BATCH} parts at a time.")
    total = part_total(attachment)
    numbers = [p.number for p in parts]
    if len(set(numbers)) != len(numbers):
        raise UploadError("invalid_request", problem="A part number is repeated.")
    for part in parts:
        if not 1 <= part.number <= total:
            raise UploadError("part_out_of_range", number=part.number, total=total)
        if not _checksum_ok(part.sha256):
            raise UploadError("invalid_checksum", number=part.number)
    issued = now or utcnow()
    part_size = attachment.part_size or attachment.declared_size
    signed = []
    for part in parts:
        length = expected_part_size(attachment.declared_size, part_size, part.number)
        if attachment.strategy == SINGLE:
            # The one part is the whole file, and S3 stores only bytes of the checksum signed in here: it
            # is the customer's declared hash before the S3 event can start the scan (even before complete).
            attachment.declared_sha256 = base64.b64decode(part.sha256).hex()
            url, headers = storage.presign_put(
                attachment.object_key,
                content_type=attachment.declared_type,
                tags=PENDING_TAGS,
                expires=policy.url_seconds,
                checksum_sha256=part.sha256,
                content_length=length,
            )
        else:
            url, headers = storage.presign_part(
                attachment.object_key,
                str(attachment.upload_id),
                part.number,
                expires=policy.url_seconds,
                checksum_sha256=part.sha256,
                content_length=length,
            )
        signed.append(SignedPart(number=part.number, url=url, headers=headers))
    return SignedParts(parts=signed, expires_at=issued + timedelta(seconds=policy.url_seconds))


def list_uploaded_parts(storage: ObjectStorage, attachment: Attachment) -> list[UploadedPart]:
    """The parts S3 already holds (what a resumed upload can skip)."""
    _require_uploading(attachment)
    if attachment.strategy == SINGLE:
        try:
            info = storage.head(attachment.object_key)
        except ObjectNotFound:
            return []
        return [UploadedPart(number=1, etag=info.etag, size=info.size)]
    try:
        return storage.list_parts(attachment.object_key, str(attachment.upload_id))
    except ObjectNotFound:
        raise UploadError("upload_expired") from None


def declare_sha256(attachment: Attachment, sha256: str) -> None:
    """Record the whole file's SHA-256 as the customer's browser computed it (hex); the scanner's must
    match. A second declaration must say the same (a single PUT's is already known from its signing)."""
    if not _HEX_SHA256.fullmatch(sha256):
        raise UploadError("invalid_request", problem="`sha256` must be 64 lowercase hexadecimal digits.")
    if attachment.declared_sha256 not in (None, sha256):
        raise UploadError("invalid_request", problem="`sha256` is not the hash of the bytes that were sent.")
    if attachment.status == AttachmentStatus.CREATED:
        attachment.declared_sha256 = sha256


def complete_upload(
    session: Session, storage: ObjectStorage, attachment: Attachment, *, now: datetime | None = None
) -> Attachment:
    """Assemble the object, check its stored size against the declared one, and hand it to the scan
    pipeline (status uploaded; S3's ObjectCreated event on the queue starts the scan).

    Completing twice is harmless. A size mismatch deletes the object, rejects the attachment and
    raises `UploadRejected` (commit, then report it).
    """
    unfinished = (AttachmentStatus.CREATED, AttachmentStatus.ABORTED, AttachmentStatus.EXPIRED)
    if attachment.status not in unfinished:
        return attachment  # completed before, or the scanner (its S3 event can beat this call) took it
    _require_uploading(attachment)
    if attachment.strategy == MULTIPART:
        _complete_multipart(session, storage, attachment)
    try:
        info = storage.head(attachment.object_key)
    except ObjectNotFound:
        if attachment.strategy == MULTIPART:
            raise UploadError("upload_expired") from None
        raise UploadError("parts_missing", missing=1, total=1, numbers="1") from None
    if info.size != attachment.declared_size:
        storage.delete(attachment.object_key)
        rejected = UploadRejected("size_mismatch", stored=info.size, declared=attachment.declared_size)
        _finish(session, attachment, AttachmentStatus.REJECTED, rejected.message)
        raise rejected
    # Only a created attachment becomes uploaded, decided by the database: the scanner may have claimed
    # it meanwhile (S3's event for the object races this request), and its state must not be overwritten.
    session.execute(
        update(Attachment)
        .where(Attachment.id == attachment.id, Attachment.status == AttachmentStatus.CREATED)
        .values(
            status=AttachmentStatus.UPLOADED, status_reason=None, size=info.size, uploaded_at=now or utcnow()
        )
        .execution_options(synchronize_session=False)
    )
    session.refresh(attachment)
    return attachment


def _complete_multipart(session: Session, storage: ObjectStorage, attachment: Attachment) -> None:
    """CompleteMultipartUpload with parts 1..N, once S3 holds every one of them."""
    total = part_total(attachment)
    try:
        held = {p.number: p for p in storage.list_parts(attachment.object_key, str(attachment.upload_id))}
    except ObjectNotFound:
        # Either an earlier complete went through and only its answer was lost (the object exists),
        # or the upload was aborted behind our back (the caller's head() finds nothing).
        return
    missing = [n for n in range(1, total + 1) if n not in held]
    if missing:
        numbers = ", ".join(str(n) for n in missing[:10]) + (" …" if len(missing) > 10 else "")
        raise UploadError("parts_missing", missing=len(missing), total=total, numbers=numbers)
    try:
        storage.complete_multipart(
            attachment.object_key, str(attachment.upload_id), [held[n] for n in range(1, total + 1)]
        )
    except StorageUnavailable:
        raise
    except ObjectNotFound:
        return
    except StorageError as exc:
        # S3 refuses to assemble parts that break its rules (e.g. a middle part under 5 MiB): the
        # upload can never complete, so free the parts and say why.
        _abort_quietly(storage, attachment)
        rejected = UploadRejected("assembly_failed")
        _finish(session, attachment, AttachmentStatus.REJECTED, rejected.message)
        raise rejected from exc


def abort_upload(session: Session, storage: ObjectStorage, attachment: Attachment) -> Attachment:
    """Cancel an upload in progress: S3 drops every part (or the single object); the attachment is aborted."""
    if attachment.status == AttachmentStatus.ABORTED:
        return attachment
    if attachment.status != AttachmentStatus.CREATED:
        raise UploadError("not_cancellable", state=display_state(attachment))
    _discard(storage, attachment)
    _finish(session, attachment, AttachmentStatus.ABORTED, "Cancelled by the customer.")
    return attachment


def expire_abandoned(
    session: Session,
    storage: ObjectStorage,
    policy: UploadPolicy,
    *,
    older_than: timedelta | None = None,
    now: datetime | None = None,
) -> ExpiryReport:
    """Abort uploads left unfinished for longer than `older_than` (default: the policy's) and mark
    their attachments expired; also abort multipart uploads under the incoming prefix that no live
    attachment owns (a create whose database write failed, an abort that did not reach S3)."""
    cutoff = (now or utcnow()) - (older_than if older_than is not None else policy.abandon_after)
    stale = session.scalars(
        select(Attachment).where(
            Attachment.status == AttachmentStatus.CREATED,
            Attachment.origin == AttachmentOrigin.CUSTOMER,  # an agent's file ends through its fetch
            Attachment.created_at < cutoff,
        )
    ).all()
    aborted = 0
    for attachment in stale:
        aborted += _discard(storage, attachment)
        _finish(session, attachment, AttachmentStatus.EXPIRED, _STATUS_REASONS[AttachmentStatus.EXPIRED])
    live = set(
        session.scalars(
            select(Attachment.upload_id).where(
                Attachment.status == AttachmentStatus.CREATED, Attachment.upload_id.is_not(None)
            )
        )
    )
    for upload in storage.list_multipart_uploads(policy.incoming_prefix):
        if upload.upload_id not in live and upload.initiated < cutoff:
            try:
                storage.abort_multipart(upload.key, upload.upload_id)
                aborted += 1
            except ObjectNotFound:
                pass
    return ExpiryReport(expired_attachments=len(stale), aborted_uploads=aborted)


def _discard(storage: ObjectStorage, attachment: Attachment) -> int:
    """Drop whatever S3 holds of an unfinished upload; returns 1 if a multipart upload was aborted."""
    if attachment.strategy == MULTIPART:
        return _abort_quietly(storage, attachment)
    storage.delete(attachment.object_key)  # a single PUT may have landed; S3 deletes are idempotent
    return 0


def _abort_quietly(storage: ObjectStorage, attachment: Attachment) -> int:
    try:
        storage.abort_multipart(attachment.object_key, str(attachment.upload_id))
    except ObjectNotFound:
        return 0
    return 1


def _finish(session: Session, attachment: Attachment, status: AttachmentStatus, reason: str) -> None:
    attachment.status = status
    attachment.status_reason = reason
    session.flush()


# -- `flask uploads ...` ---------------------------------------------------------------------------------

uploads_cli = AppGroup("uploads", help="Customer uploads: clean-up of abandoned ones.")


@uploads_cli.command("expire")
@click.option(
    "--older-than-hours",
    type=click.IntRange(min=0),
    default=None,
    help="Age after which an unfinished upload is abandoned (default: UPLOAD_ABANDON_AFTER_HOURS).",
)
def expire_command(older_than_hours: int | None) -> None:
    """Abort multipart uploads left unfinished and mark their attachments expired."""
    from ferry.services import get_services

    services = get_services()
    policy = UploadPolicy.from_settings(services.settings)
    older_than = timedelta(hours=older_than_hours) if older_than_hours is not None else None
    with services.db.session() as session:
        report = expire_abandoned(session, services.storage, policy, older_than=older_than)
    click.echo(
        f"expired {report.expired_attachments} attachment(s), "
        f"aborted {report.aborted_uploads} multipart upload(s)"
    )
