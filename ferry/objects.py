"""What Ferry's S3 objects are called and how they are tagged: the one owner of the key scheme and of the
scan tags that the presign gate, the bucket policy (template.yaml) and the scanner read or write.

- Keys: an attachment's object is `<prefix><attachment id>`, under S3_INCOMING_PREFIX from upload to
  verdict (the only prefix an upload URL addresses), under S3_CLEAN_PREFIX once scanned clean (the
  scanner's copy of the bytes it read, which only the scanner can write: the only objects ever served),
  and under S3_QUARANTINE_PREFIX once found infected. A clean file's preview image is
  `previews/<attachment id>.png`. Never derived from the customer's file name.
- Tags: `scan-status` is `pending` from the first byte (the bucket policy refuses any other value on an
  upload) and the attachment's final status after the scan; only `clean` may ever be read.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from ferry.models import AttachmentStatus


class ScanTag(StrEnum):
    """The object tags the scanner writes (S3 allows ten per object)."""

    STATUS = "scan-status"
    TIME = "scan-time"
    SIGNATURE = "scan-signature"
    REASON = "scan-reason"
    ENGINE = "scan-engine"
    DB = "scan-db"
    DB_DATE = "scan-db-date"
    SHA256 = "scan-sha256"
    SEGMENTED = "scan-segmented"


# The scan-status value of an object no scanner has decided on yet.
PENDING = "pending"
PENDING_TAGS: Mapping[str, str] = {ScanTag.STATUS.value: PENDING}


def status_tags(status: AttachmentStatus) -> dict[str, str]:
    """The scan-status tag for a final verdict (the attachment's status, spelled the same)."""
    return {ScanTag.STATUS.value: status.value}


def tagged_status(tags: Mapping[str, str]) -> str | None:
    """The scan-status an object's tags say, if any."""
    return tags.get(ScanTag.STATUS)


def tagged_clean(tags: Mapping[str, str]) -> bool:
    """Whether an object's tags say it was scanned clean (the only state in which it may be read)."""
    return tagged_status(tags) == AttachmentStatus.CLEAN.value


def object_key(prefix: str, attachment_id: str) -> str:
    """The key of an attachment's object under `prefix` (incoming, clean or quarantine)."""
    return f"{prefix}{attachment_id}"


PREVIEW_PREFIX = "previews/"
PREVIEW_TYPE = "image/png"


def preview_key(attachment_id: str) -> str:
    """The key of the preview image the scanner made of a clean attachment (only the scanner writes it)."""
    return f"{PREVIEW_PREFIX}{attachment_id}.png"


def attachment_id_in(key: str, prefix: str) -> str | None:
    """The attachment id `key` names under `prefix`, or None when it is not such a key."""
    if not key.startswith(prefix):
        return None
    attachment_id = key[len(prefix) :]
    return attachment_id if attachment_id and "/" not in attachment_id else None
