"""The viewer's pages: one attachment (with its preview and download), a conversation's attachments,
the QA list and the access audit. Every route runs the checks of ferry.access and leaves an audit row; the
attachment routes map the outcome of `ferry.access.opening.open_attachment` to a page or a redirect."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from flask import Response, redirect, render_template, request, stream_with_context, url_for
from sqlalchemy import select

from ferry.access.audit import Action
from ferry.access.grants import authorize_conversation, parse_id
from ferry.access.identity import Access
from ferry.access.opening import Disposition, Granted, Refusal, Refused, open_attachment
from ferry.access.refusals import AccessDenied, AccessUnavailable, Reason
from ferry.access.serving import DICOM_TYPES, inline_type, read_head, served_type
from ferry.links import FILE_RULE, FILES_PATH
from ferry.models import Attachment, AttachmentStatus, AuditOutcome, Chat
from ferry.sizes import human_size
from viewer import dicom, evidence, listing
from viewer.blueprint import bp
from viewer.sessions import Viewer
from viewer.web import (
    ViewResult,
    audit,
    loaded_attachment,
    message,
    not_available,
    requester,
    services,
    signed_in,
    try_again,
    unavailable,
)

log = logging.getLogger("viewer")

PENDING_REFRESH_SECONDS = 5
STATUS_TEXT = {
    AttachmentStatus.CREATED: "The customer is still uploading this file.",
    AttachmentStatus.UPLOADED: "This file is waiting to be scanned for viruses.",
    AttachmentStatus.SCANNING: "This file is being scanned for viruses.",
    AttachmentStatus.CLEAN: "Scanned: no threat found.",
    AttachmentStatus.INFECTED: "A virus was found in this file. It cannot be opened.",
    AttachmentStatus.REJECTED: "This file was refused (type or size not allowed). It cannot be opened.",
    AttachmentStatus.TOO_LARGE: "This file is too large to be scanned. It cannot be opened.",
    AttachmentStatus.FAILED: "This file could not be scanned. It cannot be opened.",
    AttachmentStatus.ABORTED: "The customer cancelled this upload.",
    AttachmentStatus.EXPIRED: "This upload was never finished.",
}


def _open(viewer: Viewer, raw_id: str, action: Action, serve: Disposition | None) -> Granted | Refused:
    """The use case, with the attachment and grant read with the session when they were."""
    return open_attachment(
        services(),
        viewer.identity,
        raw_id,
        action=action,
        requester=requester(),
        serve=serve,
        load=lambda attachment_id: loaded_attachment(viewer, attachment_id),
    )


def _refusal_page(refused: Refused) -> tuple[str, int]:
    """The page for a refused request: the same for missing and forbidden, so nobody learns what exists."""
    if refused.refusal is Refusal.UNAVAILABLE:
        return try_again()
    if refused.reason == Reason.NO_PREVIEW:
        return message(404, "Not available", "There is no preview image of this file.")
    if refused.refusal is Refusal.NOT_SERVABLE and refused.attachment is not None:
        status = AttachmentStatus(refused.attachment.status)
        text = (
            STATUS_TEXT.get(status, "")
            if refused.reason == Reason.NOT_CLEAN
            else "This file is being checked."
        )
        return message(
            409, "Not available", text, refresh=PENDING_REFRESH_SECONDS if status.is_pending else None
        )
    return not_available()


def preview_kind(attachment: Attachment) -> str:
    """How the page shows the file: image, video, audio, pdf, dicom or none (download only)."""
    shown = inline_type(attachment)
    if shown is None:
        return "dicom" if served_type(attachment) in DICOM_TYPES else "none"
    if shown == "application/pdf":
        return "pdf"
    return shown.split("/", 1)[0]


@bp.get(FILE_RULE)
@signed_in(Action.VIEW)
def file_page(viewer: Viewer, attachment_id: str) -> ViewResult:
    """The stable link in the conversation: what the file is, its scan verdict, a preview, a download."""
    opened = _open(viewer, attachment_id, Action.VIEW, None)
    if isinstance(opened, Refused):
        return _refusal_page(opened)
    attachment = opened.attachment
    status = AttachmentStatus(attachment.status)
    kind = preview_kind(attachment) if status == AttachmentStatus.CLEAN else "none"
    metadata = None
    if kind == "dicom":
        try:
            metadata = dicom.header_metadata(read_head(services().storage, attachment, dicom.HEADER_BYTES))
        except (AccessDenied, AccessUnavailable) as exc:
            # The page still shows; the header is left out (and the download will be refused).
            log.warning(
                "DICOM header not read", extra={"attachment_id": attachment.id, "reason": str(exc.reason)}
            )
    with services().db.session() as session:
        chat = session.get(Chat, attachment.chat_id)
    return render_template(
        "viewer/file.html",
        attachment=attachment,
        chat=chat,
        status=status,
        status_text=STATUS_TEXT.get(status, str(status)),
        kind=kind,
        picture=_picture(attachment, kind),
        served_type=served_type(attachment),
        dicom=metadata,
        refresh=PENDING_REFRESH_SECONDS if status.is_pending else None,
    )


def _picture(attachment: Attachment, kind: str) -> str | None:
    """Where the page finds the scanner's preview image, where the file itself cannot show as a picture."""
    if attachment.status != AttachmentStatus.CLEAN or attachment.preview_key is None:
        return None
    if kind in ("image", "pdf", "audio"):
        return None
    return url_for("viewer.file_picture", attachment_id=attachment.id)


def _redirect_to_object(viewer: Viewer, attachment_id: str, action: Action, serve: Disposition) -> Any:
    opened = _open(viewer, attachment_id, action, serve)
    if isinstance(opened, Refused):
        return _refusal_page(opened)
    # Made for this click and never put in a page: the browser follows it at once (media seek with Range).
    return redirect(str(opened.url), code=302)


@bp.get(f"{FILE_RULE}/content")
@signed_in(Action.PREVIEW)
def file_content(viewer: Viewer, attachment_id: str) -> Any:
    """302 to a fresh inline presigned URL (the src of the page's player, image or PDF frame)."""
    return _redirect_to_object(viewer, attachment_id, Action.PREVIEW, Disposition.INLINE)


@bp.get(f"{FILE_RULE}/picture")
@signed_in(Action.PREVIEW)
def file_picture(viewer: Viewer, attachment_id: str) -> Any:
    """302 to a fresh presigned URL of the scanner's preview image (a video's poster, a DICOM's image)."""
    return _redirect_to_object(viewer, attachment_id, Action.PREVIEW, Disposition.PICTURE)


@bp.get(f"{FILE_RULE}/download")
@signed_in(Action.DOWNLOAD)
def file_download(viewer: Viewer, attachment_id: str) -> Any:
    """302 to a fresh presigned URL that downloads under the original name."""
    return _redirect_to_object(viewer, attachment_id, Action.DOWNLOAD, Disposition.ATTACHMENT)


@bp.get("/conversations/<conversation_id>")
@signed_in(Action.CONVERSATION, embedded=True)
def conversation(viewer: Viewer, conversation_id: str) -> ViewResult:
    """A conversation's attachments, made to sit beside it in Genesys as an Interaction Widget."""
    svc = services()
    host_origin = request.args.get("gcHostOrigin")
    if host_origin is not None and host_origin not in svc.settings.genesys_host_origins:
        audit(
            Action.CONVERSATION,
            AuditOutcome.DENIED,
            identity=viewer.identity,
            reason=f"{Reason.BAD_HOST_ORIGIN}: {host_origin[:200]}",
        )
        return message(400, "Not available", "This page can only be shown inside your Genesys Cloud.")
    try:
        conversation_id = parse_id(conversation_id)
        authorize_conversation(svc.db, svc.genesys, viewer.identity, conversation_id, svc.settings)
    except AccessDenied as denied:
        audit(
            Action.CONVERSATION,
            AuditOutcome.DENIED,
            identity=viewer.identity,
            reason=f"{denied.reason}: conversation={conversation_id[:64]}",
        )
        return message(404, "Not available", "This conversation has no attachments available to you.")
    except AccessUnavailable as exc:
        return unavailable(Action.CONVERSATION, exc, viewer.identity)
    with svc.db.session() as session:
        attachments = list(
            session.scalars(
                select(Attachment)
                .where(Attachment.conversation_id == conversation_id)
                .order_by(Attachment.created_at.desc())
                .limit(500)
            )
        )
    audit(
        Action.CONVERSATION,
        AuditOutcome.ALLOWED,
        identity=viewer.identity,
        reason=f"conversation={conversation_id}",
    )
    return render_template(
        "viewer/conversation.html",
        conversation_id=conversation_id,
        attachments=attachments,
        status_text=STATUS_TEXT,
    )


@bp.get("/conversations/<conversation_id>/evidence.zip")
@signed_in(Action.EVIDENCE)
def conversation_evidence(viewer: Viewer, conversation_id: str) -> ViewResult | Response:
    """Reviewers only: the conversation's files and their manifest (hashes, verdicts, access history),
    one ZIP streamed straight from S3."""
    svc = services()
    if not viewer.identity.can(Access.REVIEWER):
        audit(
            Action.EVIDENCE,
            AuditOutcome.DENIED,
            identity=viewer.identity,
            reason=f"{Reason.NO_ROLE}: conversation={conversation_id[:64]}",
        )
        return message(403, "No access", "Only reviewers can export the evidence of a conversation.")
    try:
        conversation_id = parse_id(conversation_id)
    except AccessDenied as denied:
        audit(Action.EVIDENCE, AuditOutcome.DENIED, identity=viewer.identity, reason=str(denied.reason))
        return not_available()
    collected = evidence.collect(svc.db, svc.storage, conversation_id, viewer.identity)
    evidence.audit_export(svc.db, viewer.identity, collected, conversation_id, requester())
    entries = evidence.members(
        collected, svc.storage, lambda manifest: render_template("viewer/evidence.html", manifest=manifest)
    )
    return Response(
        stream_with_context(evidence.stream_zip(entries)),
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="ferry-evidence-{conversation_id}.zip"'},
    )


@bp.get(FILES_PATH)
@signed_in(Action.LIST, Access.REVIEWER)
def files(viewer: Viewer) -> ViewResult:
    """QA browsing: every attachment, searchable, sortable and paged."""
    filters = listing.FileFilters.from_args(request.args)
    page = listing.list_files(services().db, filters)
    audit(
        Action.LIST,
        AuditOutcome.ALLOWED,
        identity=viewer.identity,
        reason=request.query_string.decode()[:500],
    )
    return render_template(
        "viewer/files.html",
        filters=filters,
        page=page,
        kinds=listing.KINDS,
        statuses=[s.value for s in AttachmentStatus],
        sorts=listing.SORTS,
    )


@bp.get("/audit")
@signed_in(Action.AUDIT, Access.AUDITOR)
def audit_log(viewer: Viewer) -> ViewResult:
    """Who opened what, and who was refused: filtered, paged, exportable."""
    filters = listing.AuditFilters.from_args(request.args)
    page = listing.list_audit(services().db, filters)
    audit(
        Action.AUDIT,
        AuditOutcome.ALLOWED,
        identity=viewer.identity,
        reason=request.query_string.decode()[:500],
    )
    return render_template(
        "viewer/audit.html",
        filters=filters,
        page=page,
        actions=[a.value for a in Action],
        outcomes=[o.value for o in AuditOutcome],
    )


@bp.get("/audit.csv")
@signed_in(Action.AUDIT_EXPORT, Access.AUDITOR)
def audit_export(viewer: Viewer) -> Response:
    """The filtered audit log as CSV (every row, streamed; cells cannot run as spreadsheet formulas)."""
    filters = listing.AuditFilters.from_args(request.args)
    audit(
        Action.AUDIT_EXPORT,
        AuditOutcome.ALLOWED,
        identity=viewer.identity,
        reason=request.query_string.decode()[:500],
    )
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return Response(
        stream_with_context(listing.audit_csv(services().db, filters)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="ferry-audit-{stamp}.csv"'},
    )


@bp.app_template_filter("viewer_size")
def _size(value: int | None) -> str:
    return human_size(value) if value is not None else "—"


@bp.app_template_filter("viewer_time")
def _time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "—"
