"""`flask scan list`: attachments by scan state, for operators (failed scans show their last error).
`flask scan retry`: scan failed attachments again, through the scan queue like any upload."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import click
from flask.cli import AppGroup
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ferry.config import Settings
from ferry.db import Database
from ferry.models import Attachment, AttachmentStatus
from ferry.objects import attachment_id_in
from ferry.queues import QueueError, ScanQueue
from scanner.pipeline import scan_request

scan_cli = AppGroup("scan", help="Virus scanning: attachments by scan state, and retrying failed scans.")

# A scan that errored for good, or a file over the engine's cap (worth a retry once SCAN_SEGMENT_MODE or
# SCAN_ENGINE_CAP_BYTES changed): their objects are still under the incoming prefix, unread by anyone.
RETRYABLE = (AttachmentStatus.FAILED, AttachmentStatus.TOO_LARGE)
_REFUSALS = {
    AttachmentStatus.CREATED: "is still uploading",
    AttachmentStatus.UPLOADED: "is already waiting for the scanner",
    AttachmentStatus.SCANNING: "is being scanned",
    AttachmentStatus.CLEAN: "was scanned clean",
    AttachmentStatus.INFECTED: "was found infected",
    AttachmentStatus.REJECTED: "was rejected",
    AttachmentStatus.ABORTED: "was cancelled by the customer",
    AttachmentStatus.EXPIRED: "expired before it was uploaded",
}


class ScanRetryError(click.ClickException):
    """An attachment cannot be scanned again (the message says why)."""


def list_attachments(
    session: Session, statuses: list[AttachmentStatus], limit: int = 100
) -> list[Attachment]:
    """Attachments in `statuses` (every one when empty), newest first."""
    query = select(Attachment).order_by(Attachment.created_at.desc()).limit(limit)
    if statuses:
        query = query.where(Attachment.status.in_(statuses))
    return list(session.scalars(query))


@dataclass(frozen=True)
class RetryTarget:
    """What a retried attachment was, so a rescan that could not be queued can be put back."""

    id: str
    object_key: str
    status: AttachmentStatus
    scan_attempts: int
    scanned_at: datetime | None
    announced_at: datetime | None
    status_reason: str | None


def retry_targets(session: Session, settings: Settings, ids: list[str]) -> list[RetryTarget]:
    """The attachments to scan again: those named (all must be retryable), or else every failed one.

    :raise ScanRetryError: naming each attachment that is unknown or not retryable (none is retried).
    """
    if not ids:
        failed = session.scalars(
            select(Attachment)
            .where(Attachment.status == AttachmentStatus.FAILED)
            .order_by(Attachment.created_at)
        )
        return [_target(a) for a in failed]
    found = {a.id: a for a in session.scalars(select(Attachment).where(Attachment.id.in_(ids)))}
    problems = []
    for attachment_id in dict.fromkeys(ids):
        attachment = found.get(attachment_id)
        if attachment is None:
            problems.append(f"{attachment_id}: no such attachment")
        elif attachment.status not in RETRYABLE:
            problems.append(
                f"{attachment_id}: not retryable, it {_REFUSALS[AttachmentStatus(attachment.status)]}"
            )
        elif attachment_id_in(attachment.object_key, settings.s3_incoming_prefix) is None:
            # The scanner only reads the incoming prefix: an event for any other key would be ignored.
            problems.append(
                f"{attachment_id}: not retryable, its object {attachment.object_key} is not incoming"
            )
    if problems:
        raise ScanRetryError("nothing retried:\n" + "\n".join(problems))
    return [_target(found[attachment_id]) for attachment_id in dict.fromkeys(ids)]


def _target(attachment: Attachment) -> RetryTarget:
    return RetryTarget(
        id=attachment.id,
        object_key=attachment.object_key,
        status=AttachmentStatus(attachment.status),
        scan_attempts=attachment.scan_attempts,
        scanned_at=attachment.scanned_at,
        announced_at=attachment.announced_at,
        status_reason=attachment.status_reason,
    )


def requeue_scan(db: Database, queue: ScanQueue, settings: Settings, target: RetryTarget) -> None:
    """Put the attachment back to uploaded, as a completed upload waits for its S3 event, then send the
    scanner that event.

    The attempt counter restarts so the rescan gets SCAN_MAX_ATTEMPTS of its own; `announced_at` is cleared
    so the widget shows the file as scanning until the new verdict's message reaches Genesys.

    :raise ScanRetryError: the attachment changed meanwhile, or the queue refused the message (then the
        attachment is put back as it was).
    """
    with db.session() as session:
        won = session.execute(
            update(Attachment)
            .where(Attachment.id == target.id, Attachment.status == target.status)
            .values(
                status=AttachmentStatus.UPLOADED,
                scan_attempts=0,
                scan_lease_until=None,
                scanned_at=None,
                announced_at=None,
                status_reason=None,
            )
            .execution_options(synchronize_session=False)
        )
        if getattr(won, "rowcount", 0) != 1:
            raise ScanRetryError(f"{target.id}: changed while being retried; nothing done")
    # Committed before sending: a scanner that got the message first would find the verdict and drop it.
    try:
        queue.send(scan_request(settings.s3_bucket, target.object_key))
    except QueueError as exc:
        with db.session() as session:
            session.execute(
                update(Attachment)
                .where(
                    Attachment.id == target.id,
                    Attachment.status == AttachmentStatus.UPLOADED,
                    Attachment.scan_attempts == 0,
                )
                .values(
                    status=target.status,
                    scan_attempts=target.scan_attempts,
                    scanned_at=target.scanned_at,
                    announced_at=target.announced_at,
                    status_reason=target.status_reason,
                )
                .execution_options(synchronize_session=False)
            )
        raise ScanRetryError(
            f"{target.id}: the scan queue refused the message ({exc}); left {target.status}"
        ) from exc


@scan_cli.command("list")
@click.option("--failed", is_flag=True, help="Only scans that failed for good (after SCAN_MAX_ATTEMPTS).")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice([s.value for s in AttachmentStatus]),
    help="Only attachments in this status (repeatable).",
)
@click.option("--limit", default=100, show_default=True)
def scan_list(failed: bool, statuses: tuple[str, ...], limit: int) -> None:
    """List attachments with their scan verdict, engine and signature versions, and last scan error."""
    from ferry.services import get_services

    wanted = [AttachmentStatus(s) for s in statuses] + ([AttachmentStatus.FAILED] if failed else [])
    with get_services().db.session() as session:
        attachments = list_attachments(session, wanted, limit)
        for a in attachments:
            scanned = a.scanned_at.isoformat(timespec="seconds") if a.scanned_at else "-"
            engine = f"{a.engine_version or '-'}/{a.signature_version or '-'}"
            detail = a.signature or a.scan_error or a.status_reason or ""
            click.echo(
                f"{a.id}\t{a.status}\tattempts={a.scan_attempts}\tscanned={scanned}\tengine={engine}\t"
                f"chat={a.chat_id}\t{a.filename}\t{detail}"
            )
        click.echo(f"{len(attachments)} attachment{'' if len(attachments) == 1 else 's'}")


@scan_cli.command("retry")
@click.option(
    "--id",
    "ids",
    multiple=True,
    metavar="ATTACHMENT_ID",
    help="Only this attachment (repeatable; failed or too_large). Default: every failed attachment.",
)
@click.option("--dry-run", is_flag=True, help="Show what would be retried; change nothing.")
def scan_retry(ids: tuple[str, ...], dry_run: bool) -> None:
    """Scan failed attachments again: each goes back to uploaded and its object onto the scan queue."""
    from ferry.services import get_services

    services = get_services()
    with services.db.session() as session:
        targets = retry_targets(session, services.settings, list(ids))
    for target in targets:
        if dry_run:
            click.echo(
                f"{target.id}\t{target.status}\tattempts={target.scan_attempts}\twould be scanned again"
            )
            continue
        requeue_scan(services.db, services.queue, services.settings, target)
        click.echo(f"{target.id}\t{target.status} -> uploaded\tqueued for a new scan")
    verb = "would be queued (dry run)" if dry_run else "queued for a new scan"
    click.echo(f"{len(targets)} attachment{'' if len(targets) == 1 else 's'} {verb}")
