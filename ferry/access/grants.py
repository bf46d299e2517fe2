"""Which attachments an identity may see: reviewers every one, agents those of conversations they were an
agent of (asked of Genesys with Ferry's own token, the answer cached briefly in `ConversationGrant`)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, FromClause, Join, and_, bindparam, select, update
from sqlalchemy.exc import IntegrityError

from ferry.access.identity import Access, Identity
from ferry.access.refusals import AccessDenied, AccessUnavailable, Reason
from ferry.config import Settings
from ferry.db import Database, columns_of, detached, table_of, utcnow
from ferry.models import Attachment, ConversationGrant
from genesys.errors import GenesysError, GenesysUnavailable

if TYPE_CHECKING:
    from genesys.client import GenesysClient

log = logging.getLogger("ferry.access")

# A "not a participant" answer is kept only briefly: the agent may be transferred the conversation.
NEGATIVE_GRANT_SECONDS = 30

_ATTACHMENTS = table_of(Attachment)
_GRANTS = table_of(ConversationGrant)


def parse_id(raw: str) -> str:
    """A canonical lower-case UUID from a path segment.

    :raise AccessDenied: MALFORMED_ID for anything else (tampered ids never reach the database).
    """
    try:
        parsed = uuid.UUID(raw)
    except (ValueError, TypeError, AttributeError):
        raise AccessDenied(Reason.MALFORMED_ID) from None
    if str(parsed) != raw.lower():
        raise AccessDenied(Reason.MALFORMED_ID)
    return str(parsed)


# An attachment and the asking user's cached grant for its conversation, read in one Core select (every
# click runs it): alone (`load_attachment`), or joined to the viewer's session (viewer/sessions.py).
ATTACHMENT_PREFIX = "attachment."
GRANT_PREFIX = "grant."
ATTACHMENT_AND_GRANT_COLUMNS = [
    *columns_of(Attachment, ATTACHMENT_PREFIX),
    _GRANTS.c.allowed.label(GRANT_PREFIX + "allowed"),
    _GRANTS.c.checked_at.label(GRANT_PREFIX + "checked_at"),
]


def with_grant(attachments: FromClause, user_id: ColumnElement[str]) -> Join:
    """`attachments` (a FROM that includes the attachments table) outer-joined to the grant of `user_id`
    for the attachment's conversation."""
    return attachments.outerjoin(
        _GRANTS,
        and_(_GRANTS.c.conversation_id == _ATTACHMENTS.c.conversation_id, _GRANTS.c.user_id == user_id),
    )


_ATTACHMENT_AND_GRANT = (
    select(*ATTACHMENT_AND_GRANT_COLUMNS)
    .select_from(with_grant(_ATTACHMENTS, bindparam("user_id")))
    .where(_ATTACHMENTS.c.id == bindparam("attachment_id"))
)

Loaded = tuple[Attachment, ConversationGrant | None] | None


def loaded_from(values: Mapping[str, Any], user_id: str) -> Loaded:
    """The attachment (detached: its chat is not loaded) and grant in a row read with
    ATTACHMENT_AND_GRANT_COLUMNS; None when no attachment has the id."""
    if values[ATTACHMENT_PREFIX + "id"] is None:
        return None
    attachment = detached(Attachment, values, ATTACHMENT_PREFIX)
    allowed = values[GRANT_PREFIX + "allowed"]
    if allowed is None:
        return attachment, None
    grant = ConversationGrant(
        user_id=user_id,
        conversation_id=attachment.conversation_id,
        allowed=allowed,
        checked_at=values[GRANT_PREFIX + "checked_at"],
    )
    return attachment, grant


def load_attachment(db: Database, attachment_id: str, user_id: str) -> Loaded:
    """The attachment and the user's cached grant for its conversation (see `loaded_from`)."""
    with db.autocommit() as connection:
        found = connection.execute(
            _ATTACHMENT_AND_GRANT, {"attachment_id": attachment_id, "user_id": user_id}
        ).first()
    return loaded_from(found._asdict(), user_id) if found is not None else None


def decide_attachment(
    db: Database, genesys: GenesysClient, identity: Identity, found: Loaded, settings: Settings
) -> Attachment:
    """The attachment `identity` may see, once it and the user's grant are read (`load_attachment`, or the
    viewer's session select). Missing and forbidden are both refused, with different reasons.

    :raise AccessDenied: NOT_FOUND, NO_ROLE, NO_CONVERSATION or NOT_PARTICIPANT. :raise AccessUnavailable.
    """
    if found is None:
        raise AccessDenied(Reason.NOT_FOUND)
    attachment, grant = found
    if identity.can(Access.REVIEWER):
        return attachment
    if not identity.can(Access.AGENT):
        raise AccessDenied(Reason.NO_ROLE, "neither agent nor reviewer")
    if not attachment.conversation_id:
        raise AccessDenied(Reason.NO_CONVERSATION)
    ttl = settings.viewer_grant_seconds
    allowed = cached_answer(grant, ttl)
    if allowed is None:
        allowed = ask_genesys(db, genesys, identity.user_id, attachment.conversation_id, ttl=ttl)
    if not allowed:
        raise AccessDenied(Reason.NOT_PARTICIPANT, f"conversation={attachment.conversation_id}")
    return attachment


def authorize_conversation(
    db: Database, genesys: GenesysClient, identity: Identity, conversation_id: str, settings: Settings
) -> None:
    """Allow a reviewer, or an agent who was an agent participant of the conversation.

    :raise AccessDenied: NO_ROLE or NOT_PARTICIPANT. :raise AccessUnavailable: Genesys unreachable.
    """
    if identity.can(Access.REVIEWER):
        return
    if not identity.can(Access.AGENT):
        raise AccessDenied(Reason.NO_ROLE, "neither agent nor reviewer")
    if not took_part(db, genesys, identity.user_id, conversation_id, ttl=settings.viewer_grant_seconds):
        raise AccessDenied(Reason.NOT_PARTICIPANT, f"conversation={conversation_id}")


def took_part(db: Database, genesys: GenesysClient, user_id: str, conversation_id: str, *, ttl: int) -> bool:
    """Whether the user was an agent participant (purpose "agent", user.id = them) of the conversation:
    the cached answer while it is fresh, else Genesys's (see `ask_genesys`).

    :raise AccessUnavailable: Genesys could not be asked.
    """
    with db.session() as session:
        allowed = cached_answer(session.get(ConversationGrant, (user_id, conversation_id)), ttl)
    return allowed if allowed is not None else ask_genesys(db, genesys, user_id, conversation_id, ttl=ttl)


def cached_answer(grant: ConversationGrant | None, ttl: int) -> bool | None:
    """A grant's answer while it is fresh: `ttl` seconds, or at most 30 s for a refusal (the agent may
    yet be transferred the conversation); None when there is none or it is stale."""
    if grant is None:
        return None
    lifetime = ttl if grant.allowed else min(ttl, NEGATIVE_GRANT_SECONDS)
    return grant.allowed if utcnow() - grant.checked_at < timedelta(seconds=lifetime) else None


def ask_genesys(
    db: Database, genesys: GenesysClient, user_id: str, conversation_id: str, *, ttl: int
) -> bool:
    """Ask Genesys, with Ferry's client-credentials token, whether the user was an agent participant of
    the conversation, and remember the answer in `ConversationGrant` so repeated clicks cost no call.

    :raise AccessUnavailable: Genesys could not be asked, or refused Ferry's token (GENESYS_FORBIDDEN).
    """
    now = utcnow()
    try:
        conversation = genesys.get_message_conversation(conversation_id)
    except GenesysUnavailable as exc:
        raise AccessUnavailable(Reason.GENESYS_UNAVAILABLE, str(exc)) from None
    except GenesysError as exc:
        if exc.status in (401, 403):
            # Ferry's client lacks a permission or the conversation's division: that says nothing about
            # the agent, so nothing is cached and the click is refused as "could not check".
            log.error(
                "Genesys refused Ferry's token for the participants check: fix the OAuth client's role "
                "(see `flask genesys doctor`)",
                extra={
                    "conversation_id": conversation_id,
                    "status": exc.status,
                    "code": exc.code,
                    "error": str(exc),
                },
            )
            raise AccessUnavailable(Reason.GENESYS_FORBIDDEN, str(exc)) from None
        if exc.status not in (400, 404):
            raise AccessUnavailable(Reason.GENESYS_UNAVAILABLE, str(exc)) from None
        allowed = False  # unknown to Genesys: nobody's conversation
    else:
        allowed = any(
            p.purpose == "agent" and p.user is not None and p.user.id == user_id
            for p in conversation.participants or []
        )
    if ttl > 0:
        _store_grant(db, user_id, conversation_id, allowed, now)
    return allowed


def _store_grant(db: Database, user_id: str, conversation_id: str, allowed: bool, now: datetime) -> None:
    """Insert or refresh a grant; when two workers race to insert it, both wrote the same answer."""
    try:
        with db.session() as session:
            updated = session.execute(
                update(ConversationGrant)
                .where(
                    ConversationGrant.user_id == user_id, ConversationGrant.conversation_id == conversation_id
                )
                .values(allowed=allowed, checked_at=now)
            )
            if not getattr(updated, "rowcount", 0):
                session.add(
                    ConversationGrant(
                        user_id=user_id, conversation_id=conversation_id, allowed=allowed, checked_at=now
                    )
                )
    except IntegrityError:
        log.debug("conversation grant written concurrently", extra={"conversation_id": conversation_id})
