"""`flask scan list`: attachments by scan state, for operators (failed scans show their last error)."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.orm import Session

from ferry.models import Attachment, AttachmentStatus

scan_cli = AppGroup("scan", help="Virus scanning: attachments by scan state.")


def list_attachments(
    session: Session, statuses: list[AttachmentStatus], limit: int = 100
) -> list[Attachment]:
    """Attachments in `statuses` (every one when empty), newest first."""
    query = select(Attachment).order_by(Attachment.created_at.desc()).limit(limit)
    if statuses:
        query = query.where(Attachment.status.in_(statuses))
    return list(session.scalars(query))


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
