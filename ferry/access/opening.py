"""The viewer's access flow as one use case: a request to open an attachment is decided (who asks, may they
see it), presigned (only a clean file) and audited, and answered `Granted` or `Refused`.

The HTML pages, `/api/files/<id>` and the Lambda authorizer only map that outcome to their answer. The
hot path stays one select and one insert: the caller may hand in the attachment and grant it read with its
session (`load`), and the audit row is the prebuilt Core insert of `audit.record`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from ferry.access.audit import Action, Requester, record
from ferry.access.grants import Loaded, decide_attachment, load_attachment, parse_id
from ferry.access.identity import Identity
from ferry.access.refusals import AccessDenied, AccessUnavailable, Reason
from ferry.access.serving import inline_type, presigned_url, preview_url
from ferry.config import Settings
from ferry.db import Database, utcnow
from ferry.models import Attachment, AuditOutcome
from ferry.storage import ObjectStorage

if TYPE_CHECKING:
    from genesys.client import GenesysClient


class AccessServices(Protocol):
    """What the use case talks to (ferry.services.Services is one)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def db(self) -> Database: ...
    @property
    def storage(self) -> ObjectStorage: ...
    @property
    def genesys(self) -> GenesysClient: ...


class Disposition(StrEnum):
    """How the presigned URL serves the file."""

    INLINE = "inline"  # shown in the browser (only safe types; others still download)
    ATTACHMENT = "attachment"  # downloaded under its original name
    PICTURE = "picture"  # the scanner's preview image of the file (a PNG), shown inline


class Refusal(StrEnum):
    """What a refusal means to the one who asked; the `Reason` says why, for the audit log only."""

    UNIDENTIFIED = "unidentified"  # the token, or its user, is refused
    NOT_FOUND = "not_found"  # missing or not theirs: the two must look the same
    NOT_SERVABLE = "not_servable"  # theirs, but not clean (yet): the caller may say its status
    UNAVAILABLE = "unavailable"  # Genesys or S3 could not be asked: fail closed, try again shortly


@dataclass(frozen=True)
class Refused:
    """The request is refused. `attachment` is set for NOT_SERVABLE; `user_id`/`user_name` name an
    UNIDENTIFIED caller when Genesys said who they are."""

    refusal: Refusal
    reason: Reason
    detail: str = ""
    attachment: Attachment | None = None
    user_id: str | None = None
    user_name: str | None = None


@dataclass(frozen=True)
class Granted:
    """The request is allowed. Without a `url` only the attachment's page was asked for."""

    attachment: Attachment
    url: str | None = None
    disposition: Disposition | None = None
    expires_at: datetime | None = None


def identify_caller(token: str, check: Callable[[str], Identity]) -> Identity | Refused:
    """The identity `check` (a cached `identify`) finds for a token, or why not."""
    try:
        return check(token)
    except AccessDenied as denied:
        return Refused(
            Refusal.UNIDENTIFIED,
            denied.reason,
            denied.detail,
            user_id=denied.user_id,
            user_name=denied.user_name,
        )
    except AccessUnavailable as exc:
        return Refused(Refusal.UNAVAILABLE, exc.reason, str(exc))


def open_attachment(
    services: AccessServices,
    identity: Identity,
    raw_id: str,
    *,
    action: Action,
    requester: Requester,
    serve: Disposition | None,
    load: Callable[[str], Loaded] | None = None,
) -> Granted | Refused:
    """Decide whether `identity` may open attachment `raw_id` (as sent in the URL), presign a fresh URL
    served as `serve` (None: the page only, no URL), and leave the audit row of `action` either way.

    `load` reads the attachment and the user's grant for a canonical id (default: `load_attachment`).
    """
    try:
        attachment_id = parse_id(raw_id)
        found = load(attachment_id) if load else load_attachment(services.db, attachment_id, identity.user_id)
        attachment = decide_attachment(services.db, services.genesys, identity, found, services.settings)
    except AccessDenied as denied:
        _audit(services, action, AuditOutcome.DENIED, identity, raw_id, str(denied.reason), requester)
        return Refused(Refusal.NOT_FOUND, denied.reason, denied.detail)
    except AccessUnavailable as exc:
        _audit(services, action, AuditOutcome.ERROR, identity, raw_id, str(exc.reason), requester)
        return Refused(Refusal.UNAVAILABLE, exc.reason, str(exc))
    if serve is None:
        _audit(services, action, AuditOutcome.ALLOWED, identity, attachment.id, None, requester)
        return Granted(attachment)
    seconds = services.settings.viewer_url_seconds
    inline = serve is Disposition.INLINE
    try:
        url = _presign(services.storage, attachment, serve, seconds)
    except AccessDenied as denied:
        why = str(denied)
        _audit(services, action, AuditOutcome.DENIED, identity, attachment.id, why, requester)
        return Refused(Refusal.NOT_SERVABLE, denied.reason, denied.detail, attachment=attachment)
    except AccessUnavailable as exc:
        _audit(services, action, AuditOutcome.ERROR, identity, attachment.id, str(exc.reason), requester)
        return Refused(Refusal.UNAVAILABLE, exc.reason, str(exc), attachment=attachment)
    shown: Disposition = serve
    if serve is not Disposition.PICTURE:
        shown = Disposition.INLINE if inline and inline_type(attachment) else Disposition.ATTACHMENT
    _audit(services, action, AuditOutcome.ALLOWED, identity, attachment.id, str(shown), requester)
    return Granted(attachment, url, shown, utcnow() + timedelta(seconds=seconds))


def _presign(storage: ObjectStorage, attachment: Attachment, serve: Disposition, seconds: int) -> str:
    """The presigned URL `serve` asks for: the file (inline or as a download) or its preview image."""
    if serve is not Disposition.PICTURE:
        return presigned_url(storage, attachment, inline=serve is Disposition.INLINE, seconds=seconds)
    url = preview_url(storage, attachment, seconds=seconds)
    if url is None:
        raise AccessDenied(Reason.NO_PREVIEW)
    return url


def open_attachment_with_token(
    services: AccessServices,
    token: str,
    check: Callable[[str], Identity],
    raw_id: str,
    *,
    action: Action,
    requester: Requester,
    serve: Disposition,
) -> Granted | Refused:
    """`open_attachment` for a caller known only by a Genesys token (programs): identified by `check`
    first, and a refused or uncheckable token audited too."""
    caller = identify_caller(token, check)
    if isinstance(caller, Refused):
        outcome = AuditOutcome.ERROR if caller.refusal is Refusal.UNAVAILABLE else AuditOutcome.DENIED
        record(
            services.db,
            action=action,
            outcome=outcome,
            user_id=caller.user_id,
            user_name=caller.user_name,
            attachment_id=raw_id,
            reason=str(caller.reason),
            requester=requester,
        )
        return caller
    return open_attachment(services, caller, raw_id, action=action, requester=requester, serve=serve)


def _audit(
    services: AccessServices,
    action: Action,
    outcome: AuditOutcome,
    identity: Identity,
    attachment_id: str,
    reason: str | None,
    requester: Requester,
) -> None:
    record(
        services.db,
        action=action,
        outcome=outcome,
        identity=identity,
        attachment_id=attachment_id,
        reason=reason,
        requester=requester,
    )
