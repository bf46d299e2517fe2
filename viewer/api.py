"""The JSON API for programs: `GET /api/files/<id>` with `Authorization: Bearer <Genesys user token>`.

It runs the viewer's checks (ferry.access) and answers a fresh presigned URL. In AWS it sits behind API
Gateway with the Lambda authorizer (authorizer/), which applies the same identity checks in front of it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app, jsonify, request
from werkzeug.wrappers import Response as BaseResponse

from ferry.access import (
    AccessDenied,
    AccessUnavailable,
    Action,
    Identity,
    IdentityCache,
    authorize_attachment,
    identify,
    inline_type,
    presigned_url,
    served_type,
)
from ferry.db import utcnow
from ferry.models import AttachmentStatus, AuditOutcome
from viewer.blueprint import bp
from viewer.web import audit, services

CACHE_EXTENSION = "viewer.identity_cache"


def _json(status: int, body: dict[str, Any], **headers: str) -> BaseResponse:
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers)
    return response


def bearer_token() -> str | None:
    """The token of an `Authorization: Bearer …` header, if there is one."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _cache() -> IdentityCache:
    """Per-app cache of checked tokens (the same short TTL as viewer sessions' re-check)."""
    extensions = current_app.extensions
    if CACHE_EXTENSION not in extensions:
        extensions[CACHE_EXTENSION] = IdentityCache(services().settings.viewer_recheck_seconds)
    cache: IdentityCache = extensions[CACHE_EXTENSION]
    return cache


def _identify(token: str) -> Identity:
    svc = services()
    return _cache().identify(token, lambda t: identify(svc.genesys, t, svc.settings))


@bp.get("/api/files/<attachment_id>")
def api_file(attachment_id: str) -> BaseResponse:
    """Metadata and a fresh URL for one attachment (`?disposition=inline` for an inline URL)."""
    svc = services()
    token = bearer_token()
    if token is None:
        return _json(401, {"error": "unauthorized"}, **{"WWW-Authenticate": 'Bearer realm="ferry"'})
    try:
        identity = _identify(token)
    except AccessDenied as denied:
        audit(
            Action.API,
            AuditOutcome.DENIED,
            attachment_id=attachment_id,
            reason=str(denied.reason),
            user_id=denied.user_id,
            user_name=denied.user_name,
        )
        return _json(403, {"error": "forbidden"})
    except AccessUnavailable as exc:
        audit(Action.API, AuditOutcome.ERROR, attachment_id=attachment_id, reason=str(exc.reason))
        return _json(503, {"error": "unavailable"}, **{"Retry-After": "5"})
    try:
        attachment = authorize_attachment(svc.db, svc.genesys, identity, attachment_id, svc.settings)
    except AccessDenied as denied:
        # Missing and forbidden look the same from outside.
        audit(
            Action.API,
            AuditOutcome.DENIED,
            identity=identity,
            attachment_id=attachment_id,
            reason=str(denied.reason),
        )
        return _json(404, {"error": "not_found"})
    except AccessUnavailable as exc:
        audit(
            Action.API,
            AuditOutcome.ERROR,
            identity=identity,
            attachment_id=attachment_id,
            reason=str(exc.reason),
        )
        return _json(503, {"error": "unavailable"}, **{"Retry-After": "5"})

    body: dict[str, Any] = {
        "id": attachment.id,
        "filename": attachment.filename,
        "contentType": served_type(attachment),
        "size": attachment.size,
        "sha256": attachment.sha256,
        "status": str(attachment.status),
        "conversationId": attachment.conversation_id,
    }
    inline = request.args.get("disposition") == "inline"
    seconds = svc.settings.viewer_url_seconds
    try:
        body["url"] = presigned_url(svc.storage, attachment, inline=inline, seconds=seconds)
    except AccessDenied as denied:
        audit(
            Action.API,
            AuditOutcome.DENIED,
            identity=identity,
            attachment_id=attachment.id,
            reason=f"{denied.reason}: {denied.detail}",
        )
        pending = attachment.status in (
            AttachmentStatus.CREATED,
            AttachmentStatus.UPLOADED,
            AttachmentStatus.SCANNING,
        )
        return _json(409, {**body, "error": "pending" if pending else "not_available"})
    except AccessUnavailable as exc:
        audit(
            Action.API,
            AuditOutcome.ERROR,
            identity=identity,
            attachment_id=attachment.id,
            reason=str(exc.reason),
        )
        return _json(503, {"error": "unavailable"}, **{"Retry-After": "5"})
    body["urlExpiresAt"] = (utcnow() + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")
    body["disposition"] = "inline" if inline and inline_type(attachment) else "attachment"
    audit(
        Action.API,
        AuditOutcome.ALLOWED,
        identity=identity,
        attachment_id=attachment.id,
        reason=body["disposition"],
    )
    return _json(200, body)
