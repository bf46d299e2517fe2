"""A conversation's evidence for reviewers: a ZIP streamed as it is made, holding a manifest (JSON and a
readable HTML page) of every file with its hashes, scan verdict and access history, then the clean files
themselves, read from S3 chunk by chunk (never whole in memory; ZIP64, so any size)."""

from __future__ import annotations

import json
import logging
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from ferry.access.audit import Action, Requester, record
from ferry.access.identity import Identity
from ferry.access.refusals import AccessDenied, AccessUnavailable
from ferry.access.serving import ensure_servable, served_type
from ferry.db import Database, utcnow
from ferry.models import AccessAudit, Attachment, AttachmentStatus, AuditOutcome
from ferry.storage import ObjectStorage

log = logging.getLogger("viewer")

MANIFEST_JSON = "manifest.json"
MANIFEST_HTML = "manifest.html"
FILES_DIR = "files"
MAX_FILES = 500  # as many as the conversation page lists


@dataclass(frozen=True)
class Member:
    """One entry of the ZIP: its name, when it was made, and its bytes as they are read."""

    name: str
    chunks: Iterable[bytes]
    modified: datetime
    large: bool = True  # written with ZIP64 sizes (a file); False for the small manifest pages


@dataclass(frozen=True)
class Evidence:
    """What an export holds: the manifest, and the files it will stream (the servable clean ones)."""

    manifest: dict[str, Any]
    included: list[tuple[Attachment, str]]  # attachment, its name inside the ZIP


def collect(db: Database, storage: ObjectStorage, conversation_id: str, exported_by: Identity) -> Evidence:
    """Read the conversation's files and their access history, and decide which files go in."""
    with db.session() as session:
        attachments = list(
            session.scalars(
                select(Attachment)
                .where(Attachment.conversation_id == conversation_id)
                .order_by(Attachment.created_at, Attachment.id)
                .limit(MAX_FILES)
            )
        )
        ids = [a.id for a in attachments]
        history = list(
            session.scalars(
                select(AccessAudit).where(AccessAudit.attachment_id.in_(ids)).order_by(AccessAudit.seq)
            )
        )
    by_file: dict[str, list[dict[str, Any]]] = {a.id: [] for a in attachments}
    for row in history:
        by_file[str(row.attachment_id)].append(_access(row))
    included: list[tuple[Attachment, str]] = []
    files = []
    for n, attachment in enumerate(attachments, start=1):
        flat = attachment.filename.replace("/", "_").replace("\\", "_")  # one level: no path out of files/
        name, left_out = f"{FILES_DIR}/{n:03d}-{flat}", _left_out(storage, attachment)
        if left_out is None:
            included.append((attachment, name))
        files.append(_entry(attachment, name if left_out is None else None, left_out, by_file[attachment.id]))
    manifest = {
        "conversation_id": conversation_id,
        "exported_at": _time(utcnow()),
        "exported_by": {"user_id": exported_by.user_id, "name": exported_by.name},
        "files": files,
    }
    return Evidence(manifest=manifest, included=included)


def members(
    evidence: Evidence, storage: ObjectStorage, render_html: Callable[[dict[str, Any]], str]
) -> Iterator[Member]:
    """The manifest first, then each included file read from S3 as the ZIP is written (and only if its
    object is still the scanner's copy: the read is conditional on the recorded ETag)."""
    now = utcnow()
    manifest = json.dumps(evidence.manifest, indent=2, ensure_ascii=False).encode("utf-8")
    yield Member(MANIFEST_JSON, [manifest], now, large=False)
    yield Member(MANIFEST_HTML, [render_html(evidence.manifest).encode("utf-8")], now, large=False)
    for attachment, name in evidence.included:
        chunks = storage.read(attachment.object_key, if_match=attachment.served_etag)
        yield Member(name, chunks, attachment.uploaded_at or attachment.created_at)


def audit_export(
    db: Database, identity: Identity, evidence: Evidence, conversation_id: str, requester: Requester
) -> None:
    """One allowed row per file exported (its access history shows it), and one for the export."""
    for attachment, _ in evidence.included:
        record(
            db,
            action=Action.EVIDENCE,
            outcome=AuditOutcome.ALLOWED,
            identity=identity,
            attachment_id=attachment.id,
            reason=f"conversation={conversation_id}",
            requester=requester,
        )
    counted = f"files={len(evidence.included)} of {len(evidence.manifest['files'])}"
    record(
        db,
        action=Action.EVIDENCE,
        outcome=AuditOutcome.ALLOWED,
        identity=identity,
        reason=f"conversation={conversation_id} {counted}",
        requester=requester,
    )


def stream_zip(entries: Iterable[Member]) -> Iterator[bytes]:
    """A ZIP written to no file: zipfile writes each entry's sizes and CRC after its data (a data
    descriptor, as for any unseekable output), and each chunk is handed on as soon as it is written."""
    pipe = _Pipe()
    # Not `with`: a client gone mid-file must not make zipfile finish the archive around an open entry.
    archive = zipfile.ZipFile(pipe, "w", compression=zipfile.ZIP_STORED, allowZip64=True)
    for entry in entries:
        info = zipfile.ZipInfo(entry.name, date_time=entry.modified.timetuple()[:6])
        # Media and scans are compressed already: stored as they are, the export costs no CPU to speak of.
        info.compress_type = zipfile.ZIP_STORED if entry.large else zipfile.ZIP_DEFLATED
        out = archive.open(info, "w", force_zip64=entry.large)
        for chunk in entry.chunks:
            out.write(chunk)
            yield pipe.take()
        out.close()
        yield pipe.take()
    archive.close()
    yield pipe.take()


class _Pipe:
    """What zipfile writes to: bytes kept until the stream takes them (at most one chunk at a time)."""

    def __init__(self) -> None:
        self._pending = bytearray()

    def write(self, data: bytes, /) -> int:
        self._pending += data
        return len(data)

    def flush(self) -> None:
        """Nothing to flush: `take` hands the bytes on."""

    def close(self) -> None:
        """Nothing to close: the response ends the stream."""

    def take(self) -> bytes:
        taken = bytes(self._pending)
        self._pending.clear()
        return taken


def _left_out(storage: ObjectStorage, attachment: Attachment) -> str | None:
    """Why a file's bytes are not in the export (None: they are)."""
    if attachment.status != AttachmentStatus.CLEAN:
        return f"not clean (status {attachment.status})"
    try:
        ensure_servable(storage, attachment)
    except AccessDenied as denied:
        log.warning("evidence export leaves a file out", extra={"attachment_id": attachment.id})
        return f"not servable ({denied.reason})"
    except AccessUnavailable as exc:
        return f"storage unavailable ({exc.reason})"
    return None


def _entry(
    attachment: Attachment, name: str | None, left_out: str | None, history: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "attachment_id": attachment.id,
        "filename": attachment.filename,
        "in_zip": name,
        "left_out": left_out,
        "size": attachment.size,
        "declared_size": attachment.declared_size,
        "declared_type": attachment.declared_type,
        "served_type": served_type(attachment),
        "sha256": attachment.sha256,  # computed by the scanner over the bytes it scanned
        "declared_sha256": attachment.declared_sha256,
        "status": str(attachment.status),
        "signature": attachment.signature,
        "engine_version": attachment.engine_version,
        "signature_version": attachment.signature_version,
        "signature_date": _time(attachment.signature_date),
        "test_signatures_only": attachment.test_signatures_only,
        "served_etag": attachment.served_etag,
        "created_at": _time(attachment.created_at),
        "uploaded_at": _time(attachment.uploaded_at),
        "scanned_at": _time(attachment.scanned_at),
        "announced_at": _time(attachment.announced_at),
        "access_history": history,
    }


def _access(row: AccessAudit) -> dict[str, Any]:
    return {
        "at": _time(row.at),
        "user_id": row.user_id,
        "user_name": row.user_name,
        "action": row.action,
        "outcome": str(row.outcome),
        "reason": row.reason,
        "audit_seq": row.seq,
        "audit_row_hash": row.row_hash,
    }


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
