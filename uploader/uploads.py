"""The upload API under /chat/api/attachments: the widget's browser sends file bytes straight to S3
through presigned URLs; these routes only create, sign, list, complete, abort and report.

Every call is bound to the chat session that created the attachment (another chat's id is 404), every
state change is CSRF-checked, and no route accepts a body over a few kilobytes. Refusals are JSON
`{"error": code, "message": human text}`; the OpenAPI document (uploader/openapi.py) describes it all.
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
    display_reason,
    display_state,
    get_attachment,
    list_chat_attachments,
    list_uploaded_parts,
    part_total,
    sign_parts,
)
from ferry.models import Attachment, Chat
from ferry.ratelimit import Limit, RateLimited, hit
from ferry.services import Services, get_services
from ferry.storage import StorageError
from uploader.api import API
from uploader.blueprint import bp
from uploader.chat import iso
from uploader.session import chat_for_token, check_csrf, presented_token

ATTACHMENTS = f"{API}/attachments"
MAX_BODY_BYTES = 16 * 1024  # a sign request for MAX_SIGN_BATCH parts is about 7 KB

# HTTP status of each refusal code the upload domain raises.
STATUS = {
    "invalid_request": 400,
    "not_found": 404,
    "chat_closed": 409,
    "too_many_files": 409,
    "not_uploading": 409,
    "not_cancellable": 409,
    "parts_missing": 409,
    "upload_expired": 410,
    "too_large": 413,
    "body_too_large": 413,
    "type_not_allowed": 415,
    "empty_file": 422,
    "part_out_of_range": 422,
    "invalid_checksum": 422,
    "size_mismatch": 422,
    "assembly_failed": 422,
    "rate_limited": 429,
    "storage_unavailable": 503,
}

P = ParamSpec("P")
R = TypeVar("R")


def _refusal(
    code: str, message: str, headers: dict[str, str] | None = None
) -> tuple[Response, int, dict[str, str]]:
    return jsonify(error=code, message=message), STATUS[code], headers or {}


def upload_route(view: Callable[P, R]) -> Callable[P, R | tuple[Response, int, dict[str, str]]]:
    """Small bodies only; upload refusals and storage trouble become JSON answers."""

    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | tuple[Response, int, dict[str, str]]:
        if (request.content_length or 0) > MAX_BODY_BYTES:
            return _refusal(
                "body_too_large", "This request is too large; file content goes straight to storage."
            )
        try:
            return view(*args, **kwargs)
        except UploadError as refused:
            return _refusal(refused.code, refused.message)
        except StorageError:
            message = "File storage can't be reached right now. The upload will retry."
            return _refusal("storage_unavailable", message, {"Retry-After": "5"})

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
        raise UploadError("invalid_request", "The request could not be understood. Please reload the page.")
    return body


def _integer(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise UploadError("invalid_request", f"{what} must be a whole number.")
    return value


def _text(value: object, what: str, *, limit: int = 1024, optional: bool = False) -> str:
    if value is None and optional:
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise UploadError("invalid_request", f"{what} is missing or too long.")
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
    _count_create(services, chat_id)
    with services.db.session() as session:
        chat = session.get_one(Chat, chat_id)
        attachment, resumed = create_upload(session, services.storage, policy, chat, declared)
        out = attachment_json(attachment)
    return jsonify(attachment=out, resumed=resumed, max_sign_batch=MAX_SIGN_BATCH), 200 if resumed else 201


def _count_create(services: Services, chat_id: str) -> None:
    """Creates per chat per minute (in its own transaction, so refused attempts still count)."""
    limit = Limit("upload-creates", services.settings.chat_rate_per_chat, 60)
    try:
        with services.db.session() as session:
            hit(session, limit, chat_id)
    except RateLimited as exc:
        message = f"You are starting uploads too quickly. Please wait {exc.retry_after} seconds."
        raise UploadError("rate_limited", message) from None


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
        raise UploadError("invalid_request", "`parts` must be a list of {number, sha256}.")
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
def complete_attachment(attachment_id: str) -> Response | tuple[Response, int, dict[str, str]]:
    """Assemble the object, check its size, and hand it to the scanner (state `scanning`)."""
    services, _ = _services()
    check_csrf(request, services.settings)
    rejected: UploadRejected | None = None
    with services.db.session() as session:
        attachment = get_attachment(session, _chat(session, services).id, attachment_id)
        try:
            complete_upload(session, services.storage, attachment)
        except UploadRejected as exc:
            rejected = exc  # the rejection is committed with this session, then reported
        out = attachment_json(attachment)
    if rejected is not None:
        return (
            jsonify(error=rejected.code, message=rejected.message, attachment=out),
            STATUS[rejected.code],
            {},
        )
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
