"""The upload API under /chat/api/attachments: the widget's browser sends file bytes straight to S3
through presigned URLs; these routes only create, sign, list, complete, abort and report.

Every call is bound to the chat session that created the attachment (another chat's id is 404), every
state change is CSRF-checked, and no route accepts a body over a few kilobytes. Refusals are
`Refusal`s (ferry/errors.py), answered by the blueprint's one handler; the OpenAPI document
(uploader/openapi.py) describes it all.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from flask import Response, jsonify, request
from sqlalchemy.orm import Session

from ferry.attachments import (
    MAX_SIGN_BATCH,
    FileDeclaration,
    PartChecksum,
    UploadError,
    UploadPolicy,
    UploadRejected,
    abort_upload,
    complete_upload,
    create_upload,
    declare_sha256,
    display_reason,
    display_state,
    get_attachment,
    list_chat_attachments,
    list_uploaded_parts,
    part_total,
    sign_parts,
)
from ferry.errors import Refusal
from ferry.models import Attachment, Chat
from ferry.ratelimit import Limit
from ferry.services import Services, get_services
from ferry.storage import StorageError
from uploader.api import API, NOT_UNDERSTOOD, enforce
from uploader.blueprint import bp
from uploader.chat import iso
from uploader.session import chat_for_token, check_csrf, presented_token

ATTACHMENTS = f"{API}/attachments"
MAX_BODY_BYTES = 16 * 1024  # a sign request for MAX_SIGN_BATCH parts is about 7 KB

P = ParamSpec("P")
R = TypeVar("R")


def upload_route(view: Callable[P, R]) -> Callable[P, R]:
    """Small bodies only; storage trouble is a refusal the widget retries."""

    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if (request.content_length or 0) > MAX_BODY_BYTES:
            raise Refusal("body_too_large")
        try:
            return view(*args, **kwargs)
        except StorageError:
            raise Refusal("storage_unavailable", headers={"Retry-After": "5"}) from None

    return wrapper


def _services() -> tuple[Services, UploadPolicy]:
    services = get_services()
    return services, UploadPolicy.from_settings(services.settings)


def _chat(session: Session, services: Services) -> Chat:
    """The live chat of this request's session (401 JSON from the chat API's handler otherwise)."""
    return chat_for_token(session, services.settings, presented_token(request))


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise UploadError("invalid_request", problem=NOT_UNDERSTOOD)
    return body


def _integer(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise UploadError("invalid_request", problem=f"{what} must be a whole number.")
    return value


def _text(value: object, what: str, *, limit: int = 1024, optional: bool = False) -> str:
    if value is None and optional:
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise UploadError("invalid_request", problem=f"{what} is missing or too long.")
    return value


def attachment_json(attachment: Attachment) -> dict[str, Any]:
    """What the widget knows about an attachment: display state, reason, and the upload plan."""
    return {
        "id": attachment.id,
        "name": attachment.filename,
        "size": attachment.declared_size,
        "type": attachment.declared_type,
        "state": display_state(attachment),
        "status": str(attachment.status),
        "reason": display_reason(attachment),
        "strategy": attachment.strategy,
        "part_size": attachment.part_size,
        "part_count": part_total(attachment),
        "created_at": iso(attachment.created_at),
        "uploaded_at": iso(attachment.uploaded_at) if attachment.uploaded_at else None,
        # The customer's receipt: the hash their browser declared (the scanner's matched when delivered).
        "sha256": attachment.declared_sha256,
    }


@bp.post(ATTACHMENTS)
@upload_route
def create_attachment() -> tuple[Response, int]:
    """Declare a file `{name, size, type, fingerprint?}`: 201 with the upload plan, or 200 with the
    chat's unfinished upload of the same file (fingerprint and size) to resume."""
    services, policy = _services()
    check_csrf(request, services.settings)
    body = _body()
    declared = FileDeclaration(
        name=_text(body.get("name"), "The file name"),
        size=_integer(body.get("size"), "The file size"),
        content_type=_text(body.get("type"), "The file type", limit=255, optional=True),
        fingerprint=_text(body.get("fingerprint"), "The fingerprint", limit=128, optional=True) or None,
    )
    with services.db.session() as session:
        chat_id = _chat(session, services).id
    # Creates per chat per minute, counted even when refused.
    enforce(services.db, [(Limit("upload-creates", services.settings.chat_rate_per_chat, 60), chat_id)])
    with services.db.session() as session:
        chat = session.get_one(Chat, chat_id)
        attachment, resumed = create_upload(session, services.storage, policy, chat, declared)
        out = attachment_json(attachment)
    return jsonify(attachment=out, resumed=resumed, max_sign_batch=MAX_SIGN_BATCH), 200 if resumed else 201


@bp.get(ATTACHMENTS)
@upload_route
def list_attachments() -> Response:
    """This chat's attachments and their states (the widget's view after a reload)."""
    services, _ = _services()
    with services.db.session() as session:
        chat = _chat(session, services)
        return jsonify(attachments=[attachment_json(a) for a in list_chat_attachments(session, chat.id)])


@bp.get(f"{ATTACHMENTS}/<attachment_id>")
@upload_route
def show_attachment(attachment_id: str) -> Response:
    """One attachment's state: uploading, scanning, delivered, rejected (with the reason), ..."""
    services, _ = _services()
    with services.db.session() as session:
        attachment = get_attachment(session, _chat(session, services).id, attachment_id)
        return jsonify(attachment=attachment_json(attachment))


@bp.post(f"{ATTACHMENTS}/<attachment_id>/sign")
@upload_route
def sign_attachment_parts(attachment_id: str) -> Response:
    """Presigned URLs for `{parts: [{number, sha256}]}` (base64 SHA-256 of each part's bytes)."""
    services, policy = _services()
    check_csrf(request, services.settings)
    raw = _body().get("parts")
    if not isinstance(raw, list) or not all(isinstance(p, dict) for p in raw):
        raise UploadError("invalid_request", problem="`parts` must be a list of {number, sha256}.")
    parts = [
        PartChecksum(
            _integer(p.get("number"), "A part number"), _text(p.get("sha256"), "A checksum", limit=64)
        )
        for p in raw
    ]
    with services.db.session() as session:
        attachment = get_attachment(session, _chat(session, services).id, attachment_id)
        signed = sign_parts(services.storage, policy, attachment, parts)
    return jsonify(
        parts=[{"number": p.number, "url": p.url, "headers": p.headers} for p in signed.parts],
        expires_at=iso(signed.expires_at),
    )


@bp.get(f"{ATTACHMENTS}/<attachment_id>/parts")
@upload_route
def list_attachment_parts(attachment_id: str) -> Response:
    """The parts storage already holds: a resumed upload sends only the others."""
    services, _ = _services()
    with services.db.session() as session:
        attachment = get_attachment(session, _chat(session, services).id, attachment_id)
        parts = list_uploaded_parts(services.storage, attachment)
    return jsonify(parts=[{"number": p.number, "size": p.size} for p in parts])


@bp.post(f"{ATTACHMENTS}/<attachment_id>/complete")
@upload_route
def complete_attachment(attachment_id: str) -> Response | tuple[Response, int]:
    """Assemble the object, check its size, and hand it to the scanner (state `scanning`). The body may
    declare `{sha256}`, the whole file's as the browser read it: the scanner's must match."""
    services, _ = _services()
    check_csrf(request, services.settings)
    body = request.get_json(silent=True)
    declared = body.get("sha256") if isinstance(body, dict) else None
    sha256 = _text(declared, "The SHA-256", limit=64, optional=True)
    if sha256:
        # Committed before S3 assembles the object: its event may start the scan at once.
        with services.db.session() as session:
            declare_sha256(get_attachment(session, _chat(session, services).id, attachment_id), sha256)
    rejected: UploadRejected | None = None
    with services.db.session() as session:
        attachment = get_attachment(session, _chat(session, services).id, attachment_id)
        try:
            complete_upload(session, services.storage, attachment)
        except UploadRejected as exc:
            rejected = exc  # the rejection is committed with this session, then reported
        out = attachment_json(attachment)
    if rejected is not None:
        return jsonify({**rejected.body(), "attachment": out}), rejected.status
    return jsonify(attachment=out)


@bp.delete(f"{ATTACHMENTS}/<attachment_id>")
@upload_route
def abort_attachment(attachment_id: str) -> Response:
    """Cancel the upload: storage drops every part already sent."""
    services, _ = _services()
    check_csrf(request, services.settings)
    with services.db.session() as session:
        attachment = get_attachment(session, _chat(session, services).id, attachment_id)
        abort_upload(session, services.storage, attachment)
        return jsonify(attachment=attachment_json(attachment))
