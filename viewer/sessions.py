"""Viewer sessions: a random cookie whose SHA-256 names a `ViewerSession` row holding the Genesys token.

The token never reaches the browser, and the row holds it sealed (`viewer.tokens`): it is opened only
where it is used (the users/me re-check and logout's revocation), never on an ordinary click. A session is
re-checked against `users/me` when its last check is older than VIEWER_RECHECK_SECONDS (at most five
minutes), so a deactivated user or a removed role stops working within that time while most clicks cost
no Genesys call.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, bindparam, select, update
from werkzeug.wrappers import Response

from ferry.access.grants import ATTACHMENT_AND_GRANT_COLUMNS, Loaded, loaded_from, with_grant
from ferry.access.identity import Identity, access_for_roles, identify, token_digest
from ferry.access.refusals import AccessDenied, Reason
from ferry.config import Settings
from ferry.db import Database, columns_of, detached, table_of, utcnow
from ferry.models import Attachment, ViewerSession
from viewer import tokens

if TYPE_CHECKING:
    from genesys.client import GenesysClient

COOKIE_NAME = "ferry_viewer"
# The __Host- prefix makes browsers refuse the cookie unless it is Secure, host-only and for path /.
SECURE_COOKIE_NAME = "__Host-ferry_viewer"


@dataclass(frozen=True)
class Viewer:
    """The signed-in user of this request. `sealed_token` is the stored token still sealed: `token_of`
    opens it for the few requests that use it."""

    session_id: str
    identity: Identity
    sealed_token: str = field(repr=False)


def token_of(viewer: Viewer, settings: Settings) -> str | None:
    """The viewer's Genesys token, or None when it cannot be opened (the session has ended)."""
    return tokens.unseal(settings.secret_key, viewer.sealed_token)


def cookie_name(settings: Settings) -> str:
    return SECURE_COOKIE_NAME if _secure(settings) else COOKIE_NAME


def _secure(settings: Settings) -> bool:
    return settings.public_base_url.startswith("https://")


def set_cookie(response: Response, value: str, settings: Settings) -> None:
    """The session cookie: HttpOnly, Secure over https, SameSite (and Partitioned) as configured."""
    secure = _secure(settings)
    response.set_cookie(
        cookie_name(settings),
        value,
        max_age=settings.viewer_session_hours * 3600,
        path="/",
        secure=secure,
        httponly=True,
        samesite=settings.viewer_cookie_samesite,
        partitioned=secure and settings.viewer_cookie_partitioned,
    )


def clear_cookie(response: Response, settings: Settings) -> None:
    secure = _secure(settings)
    response.delete_cookie(
        cookie_name(settings),
        path="/",
        secure=secure,
        httponly=True,
        samesite=settings.viewer_cookie_samesite,
        partitioned=secure and settings.viewer_cookie_partitioned,
    )


def start(
    db: Database, identity: Identity, access_token: str, expires_in: float | None, settings: Settings
) -> str:
    """Store a new session for a checked identity; returns the cookie value (shown to nobody else)."""
    cookie = secrets.token_urlsafe(32)
    now = utcnow()
    lifetime = timedelta(hours=settings.viewer_session_hours)
    token_expires = now + timedelta(seconds=expires_in) if expires_in else None
    with db.session() as session:
        session.add(
            ViewerSession(
                id=token_digest(cookie),
                user_id=identity.user_id,
                user_name=identity.name,
                user_email=identity.email,
                org_id=identity.org_id,
                roles=list(identity.roles),
                access_token=tokens.seal(settings.secret_key, access_token),
                token_expires_at=token_expires,
                created_at=now,
                last_seen_at=now,
                expires_at=min(now + lifetime, token_expires) if token_expires else now + lifetime,
                checked_at=now,
            )
        )
    return cookie


# Every viewer request starts here: Core selects, built once (see Database.autocommit). A request for an
# attachment reads the attachment and the user's grant for its conversation in the same select.
_SESSIONS = table_of(ViewerSession)
_PREFIX = "session."
_SESSION_BY_ID = select(*columns_of(ViewerSession, _PREFIX)).where(_SESSIONS.c.id == bindparam("id"))
_SESSION_AND_ATTACHMENT = (
    select(*columns_of(ViewerSession, _PREFIX), *ATTACHMENT_AND_GRANT_COLUMNS)
    .select_from(
        with_grant(
            _SESSIONS.outerjoin(
                table_of(Attachment), table_of(Attachment).c.id == bindparam("attachment_id")
            ),
            _SESSIONS.c.user_id,
        )
    )
    .where(_SESSIONS.c.id == bindparam("id"))
)


def find(db: Database, cookie: str | None, settings: Settings) -> ViewerSession | None:
    """The live session a cookie names (detached), or None (no cookie, unknown, revoked or expired)."""
    found = _find(db, cookie, _SESSION_BY_ID, {})
    return _live(detached(ViewerSession, found, _PREFIX)) if found is not None else None


def find_with_attachment(
    db: Database, cookie: str | None, attachment_id: str
) -> tuple[ViewerSession, Loaded] | None:
    """`find`, and the attachment with the session user's grant (see ferry.access.grants.loaded_from)."""
    found = _find(db, cookie, _SESSION_AND_ATTACHMENT, {"attachment_id": attachment_id})
    if found is None:
        return None
    row = _live(detached(ViewerSession, found, _PREFIX))
    return (row, loaded_from(found, row.user_id)) if row is not None else None


def _find(
    db: Database, cookie: str | None, statement: Select[Any], params: dict[str, str]
) -> dict[str, Any] | None:
    if not cookie or len(cookie) > 200:
        return None
    with db.autocommit() as connection:
        found = connection.execute(statement, {"id": token_digest(cookie), **params}).first()
    return found._asdict() if found is not None else None


def _live(row: ViewerSession) -> ViewerSession | None:
    return None if row.revoked_at is not None or row.expires_at <= utcnow() else row


def is_stale(row: ViewerSession, settings: Settings) -> bool:
    return utcnow() - row.checked_at >= timedelta(seconds=settings.viewer_recheck_seconds)


def recheck(db: Database, genesys: GenesysClient, row: ViewerSession, settings: Settings) -> Identity:
    """Ask users/me again (state, organisation, roles) and remember when.

    :raise AccessDenied: the user lost access, or the stored token cannot be opened (the caller ends the
        session). :raise AccessUnavailable.
    """
    token = tokens.unseal(settings.secret_key, row.access_token)
    if token is None:
        # A row from before tokens were sealed, or sealed under another SECRET_KEY: log in again.
        raise AccessDenied(Reason.TOKEN_REJECTED, "the stored token cannot be opened")
    identity = identify(genesys, token, settings, check_token_info=False)
    now = utcnow()
    with db.session() as session:
        session.execute(
            update(ViewerSession)
            .where(ViewerSession.id == row.id)
            .values(
                checked_at=now,
                last_seen_at=now,
                roles=list(identity.roles),
                user_name=identity.name,
                user_email=identity.email,
            )
        )
    return identity


def identity_of(row: ViewerSession, settings: Settings) -> Identity:
    """The identity a session stands for, with access computed from the roles under today's settings."""
    roles, access = access_for_roles(row.roles or [], settings)
    return Identity(
        user_id=row.user_id,
        name=row.user_name,
        email=row.user_email,
        org_id=row.org_id,
        roles=roles,
        access=access,
    )


def end(db: Database, session_id: str) -> None:
    """Mark a session revoked and drop its token (rows stay for the audit trail's sake until they expire;
    an ended session never needs its token again)."""
    with db.session() as session:
        session.execute(
            update(ViewerSession)
            .where(ViewerSession.id == session_id, ViewerSession.revoked_at.is_(None))
            .values(revoked_at=utcnow(), access_token="")
        )


def csrf_token(secret_key: str, session_id: str) -> str:
    """A per-session form token: HMAC of the session id, so it needs no storage."""
    return hmac.new(secret_key.encode(), f"csrf:{session_id}".encode(), hashlib.sha256).hexdigest()


def csrf_ok(secret_key: str, session_id: str, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(csrf_token(secret_key, session_id), presented or "")
