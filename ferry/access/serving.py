"""Serving bytes: the type a file is served as, and the only way to a presigned URL (clean in the database
AND tagged clean on its object AND that object the scanner's copy of what it read)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ferry.access.refusals import AccessDenied, AccessUnavailable, Reason
from ferry.mediatypes import UNKNOWN, normalise
from ferry.models import Attachment, AttachmentStatus
from ferry.objects import PREVIEW_TYPE, tagged_clean, tagged_status
from ferry.storage import ObjectNotFound, ObjectStorage, StorageError

log = logging.getLogger("ferry.access")

# Presigned URLs are bearer credentials that cannot be revoked: never longer than five minutes.
MAX_URL_SECONDS = 300
# Except the one Genesys fetches a native attachment from: it may be read well after the message is sent.
GENESYS_INGEST_URL_SECONDS = 15 * 60
# Types a browser may render inline from S3. No SVG, HTML or XML: those can run script.
INLINE_IMAGE_TYPES = frozenset(
    {"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "image/avif", "image/apng"}
)
INLINE_DOCUMENT_TYPES = frozenset({"application/pdf"})
DICOM_TYPES = frozenset({"application/dicom"})


def served_type(attachment: Attachment) -> str:
    """The type a file is treated as, served as and announced as: what the scanner decided, else what the
    customer declared (normalised, aliases resolved)."""
    return normalise(attachment.sniffed_type or attachment.declared_type) or UNKNOWN


def inline_type(attachment: Attachment) -> str | None:
    """The type to serve inline (images, video, audio, PDF), or None: the file must be downloaded."""
    kind = served_type(attachment)
    if kind in INLINE_IMAGE_TYPES or kind in INLINE_DOCUMENT_TYPES or kind.startswith(("video/", "audio/")):
        return kind
    return None


# A clean tag, once read, is trusted for this long by this process. The database status is checked on
# every click; the tag is the second lock (in AWS the bucket policy enforces it again on the GET itself),
# and re-reading it for every click of a video seek would cost an S3 round trip each time. Only "clean"
# answers are remembered: a refusal is never cached.
TAG_CONFIRMATION_SECONDS = 30.0


class _TagConfirmations:
    """Objects whose scan-status tag was recently read as clean, per process."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.clock = ttl, clock
        self._until: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def fresh(self, bucket: str, key: str) -> bool:
        with self._lock:
            return self._until.get((bucket, key), 0.0) > self.clock()

    def remember(self, bucket: str, key: str) -> None:
        with self._lock:
            now = self.clock()
            if len(self._until) > 10_000:
                self._until = {k: v for k, v in self._until.items() if v > now}
            self._until[(bucket, key)] = now + self.ttl


_confirmed_clean = _TagConfirmations(TAG_CONFIRMATION_SECONDS)


def ensure_servable(storage: ObjectStorage, attachment: Attachment) -> None:
    """Refuse unless the database says clean AND the object's scan-status tag says clean AND the object is
    the scanner's copy (its ETag the one recorded with the verdict), read from S3 or confirmed within
    TAG_CONFIRMATION_SECONDS by this process.

    :raise AccessDenied: NOT_CLEAN, TAG_NOT_CLEAN, OBJECT_CHANGED or OBJECT_MISSING.
    :raise AccessUnavailable: S3 failed.
    """
    if attachment.status != AttachmentStatus.CLEAN:
        raise AccessDenied(Reason.NOT_CLEAN, f"status={attachment.status}")
    if _confirmed_clean.fresh(storage.bucket, attachment.object_key):
        return
    try:
        tags = storage.get_tags(attachment.object_key)
        # Files recorded before served copies existed have no ETag to compare (their tag still guards).
        etag = storage.head(attachment.object_key).etag if attachment.served_etag else None
    except ObjectNotFound:
        raise AccessDenied(Reason.OBJECT_MISSING) from None
    except StorageError as exc:
        raise AccessUnavailable(Reason.STORAGE_UNAVAILABLE, str(exc)) from None
    if not tagged_clean(tags):
        log.warning(
            "attachment is clean in the database but its object's tag is not",
            extra={"attachment_id": attachment.id, "tag": tagged_status(tags)},
        )
        raise AccessDenied(Reason.TAG_NOT_CLEAN, f"tag={tagged_status(tags)}")
    if etag != attachment.served_etag:
        log.error(
            "a clean attachment's served object is not the scanner's copy",
            extra={"attachment_id": attachment.id, "etag": etag, "served_etag": attachment.served_etag},
        )
        raise AccessDenied(Reason.OBJECT_CHANGED, f"etag={etag}")
    _confirmed_clean.remember(storage.bucket, attachment.object_key)


def presigned_url(
    storage: ObjectStorage,
    attachment: Attachment,
    *,
    inline: bool,
    seconds: int,
    max_seconds: int = MAX_URL_SECONDS,
) -> str:
    """A fresh presigned GET (at most five minutes, or `max_seconds` for GENESYS_INGEST_URL_SECONDS) for a
    clean attachment; inline only for safe types.

    :raise AccessDenied: the attachment is not servable. :raise AccessUnavailable: S3 failed.
    """
    ensure_servable(storage, attachment)
    shown_inline = inline_type(attachment) if inline else None
    try:
        return storage.presign_get(
            attachment.object_key,
            expires=max(1, min(seconds, max_seconds, GENESYS_INGEST_URL_SECONDS)),
            filename=attachment.filename,
            inline=shown_inline is not None,
            content_type=shown_inline or served_type(attachment),
        )
    except StorageError as exc:
        raise AccessUnavailable(Reason.STORAGE_UNAVAILABLE, str(exc)) from None


def preview_url(
    storage: ObjectStorage, attachment: Attachment, *, seconds: int, max_seconds: int = MAX_URL_SECONDS
) -> str | None:
    """A fresh presigned GET of the scanner's preview image of a clean attachment, through the same gate
    as the file itself; None when it has no preview.

    :raise AccessDenied: the attachment is not servable. :raise AccessUnavailable: S3 failed.
    """
    if attachment.preview_key is None:
        return None
    ensure_servable(storage, attachment)
    try:
        return storage.presign_get(
            attachment.preview_key,
            expires=max(1, min(seconds, max_seconds, GENESYS_INGEST_URL_SECONDS)),
            filename=None,
            inline=True,
            content_type=PREVIEW_TYPE,
        )
    except StorageError as exc:
        raise AccessUnavailable(Reason.STORAGE_UNAVAILABLE, str(exc)) from None


def read_head(storage: ObjectStorage, attachment: Attachment, size: int) -> bytes:
    """The first `size` bytes of a clean attachment (one ranged GET), for header parsing.

    :raise AccessDenied: the attachment is not servable. :raise AccessUnavailable: S3 failed.
    """
    ensure_servable(storage, attachment)
    try:
        return b"".join(storage.read(attachment.object_key, 0, size - 1))[:size]
    except StorageError as exc:
        raise AccessUnavailable(Reason.STORAGE_UNAVAILABLE, str(exc)) from None
