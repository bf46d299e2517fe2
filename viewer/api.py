"""The JSON API for programs: `GET /api/files/<id>` with `Authorization: Bearer <Genesys user token>`.

It runs the viewer's use case (ferry.access.opening) and answers a fresh presigned URL. In AWS it sits behind
API Gateway with the Lambda authorizer (authorizer/), which applies the same identity checks in front of it.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify, request
from werkzeug.wrappers import Response as BaseResponse

from ferry.access.audit import Action
from ferry.access.identity import Identity, IdentityCache, identify
from ferry.access.opening import Disposition, Granted, Refusal, Refused, open_attachment_with_token
from ferry.access.serving import served_type
from ferry.links import API_PREFIX, FILE_RULE
from ferry.models import Attachment, AttachmentStatus
from viewer.blueprint import bp
from viewer.web import requester, services

CACHE_EXTENSION = "viewer.identity_cache"
# What each refusal answers: a program learns no more than a browser would.
REFUSALS = {
    Refusal.UNIDENTIFIED: (403, "forbidden"),
    Refusal.NOT_FOUND: (404, "not_found"),  # missing and forbidden look the same from outside
    Refusal.UNAVAILABLE: (503, "unavailable"),
}


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


def metadata(attachment: Attachment) -> dict[str, Any]:
    """What the API tells about an attachment it may name."""
    return {
        "id": attachment.id,
        "filename": attachment.filename,
        "contentType": served_type(attachment),
        "size": attachment.size,
        "sha256": attachment.sha256,
        "status": str(attachment.status),
        "conversationId": attachment.conversation_id,
    }


def answer(outcome: Granted | Refused) -> BaseResponse:
    """The JSON answer for the use case's outcome."""
    if isinstance(outcome, Granted):
        expires = outcome.expires_at.isoformat().replace("+00:00", "Z") if outcome.expires_at else None
        body = {**metadata(outcome.attachment), "url": outcome.url, "urlExpiresAt": expires}
        return _json(200, {**body, "disposition": str(outcome.disposition)})
    if outcome.refusal is Refusal.NOT_SERVABLE and outcome.attachment is not None:
        pending = AttachmentStatus(outcome.attachment.status).is_pending
        return _json(
            409, {**metadata(outcome.attachment), "error": "pending" if pending else "not_available"}
        )
    status, error = REFUSALS[outcome.refusal]
    return _json(status, {"error": error}, **({"Retry-After": "5"} if status == 503 else {}))


@bp.get(API_PREFIX + FILE_RULE)
def api_file(attachment_id: str) -> BaseResponse:
    """Metadata and a fresh URL for one attachment (`?disposition=inline` for an inline URL)."""
    token = bearer_token()
    if token is None:
        return _json(401, {"error": "unauthorized"}, **{"WWW-Authenticate": 'Bearer realm="ferry"'})
    inline = request.args.get("disposition") == "inline"
    outcome = open_attachment_with_token(
        services(),
        token,
        _identify,
        attachment_id,
        action=Action.API,
        requester=requester(),
        serve=Disposition.INLINE if inline else Disposition.ATTACHMENT,
    )
    return answer(outcome)
