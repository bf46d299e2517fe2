"""Who may see which attachment: the checks shared by the viewer, its JSON API and the Lambda authorizer.

- Identity: a Genesys user token → `GET /api/v2/users/me` (+ `GET /api/v2/tokens/me`) → `Identity`, or
  `AccessDenied` naming the `Reason`. Genesys unreachable → `AccessUnavailable` (callers fail closed).
- Attachments: reviewers see every attachment; agents only those of conversations they were an agent of,
  checked with Ferry's own token and cached briefly in `ConversationGrant`.
- URLs: every presigned URL is made by `presigned_url`, which refuses unless the attachment's database status
  AND its object's `scan-status` tag, read from S3 right then, both say clean.
- Audit: `record` appends one `AccessAudit` row.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, FromClause, Join, and_, bindparam, select, update
from sqlalchemy.exc import IntegrityError

from ferry.config import Settings
from ferry.db import Database, columns_of, detached, table_of, utcnow
from ferry.models import AccessAudit, Attachment, AttachmentStatus, AuditOutcome, ConversationGrant
from ferry.storage import ObjectNotFound, ObjectStorage, StorageError
from genesys.errors import GenesysError, GenesysUnavailable
from genesys.models import TokenInfo, UserMe

if TYPE_CHECKING:
    from genesys.client import GenesysClient

log = logging.getLogger("ferry.access")

SCAN_STATUS_TAG = "scan-status"
CLEAN = "clean"
# Presigned URLs are bearer credentials that cannot be revoked: never longer than five minutes.
MAX_URL_SECONDS = 300
# Except the one Genesys fetches a native attachment from: it may be read well after the message is sent.
GENESYS_INGEST_URL_SECONDS = 15 * 60
# A "not a participant" answer is kept only briefly: the agent may be transferred the conversation.
NEGATIVE_GRANT_SECONDS = 30
# Types a browser may render inline from S3. No SVG, HTML or XML: those can run script.
INLINE_IMAGE_TYPES = frozenset(
    {"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "image/avif", "image/apng"}
)
INLINE_DOCUMENT_TYPES = frozenset({"application/pdf"})
DICOM_TYPES = frozenset({"application/dicom"})
USER_EXPAND = ("authorization", "organization")


class Access(StrEnum):
    """What a Genesys role lets its holder do in Ferry."""

    AGENT = "agent"  # attachments of conversations they took part in
    REVIEWER = "reviewer"  # every attachment, and the QA list
    AUDITOR = "auditor"  # the access audit


class Action(StrEnum):
    """What was attempted (the `action` of an audit row)."""

    LOGIN = "login"
    LOGOUT = "logout"
    VIEW = "view"
    PREVIEW = "preview"
    DOWNLOAD = "download"
    API = "api"
    CONVERSATION = "conversation"
    LIST = "list"
    AUDIT = "audit"
    AUDIT_EXPORT = "audit_export"


class Reason(StrEnum):
    """Why access was refused (the `reason` of an audit row)."""

    NO_TOKEN = "no_token"  # noqa: S105 - a reason's name, not a secret
    # garbage, expired, revoked, or not a user's token
    TOKEN_REJECTED = "token_rejected"  # noqa: S105 - a reason's name, not a secret
    USER_INACTIVE = "user_inactive"
    FOREIGN_ORGANIZATION = "foreign_organization"
    TRUSTEE_CLONE = "trustee_clone"
    FOREIGN_CLIENT = "foreign_client"
    NO_ROLE = "no_role"
    STATE_MISMATCH = "state_mismatch"
    CODE_REJECTED = "code_rejected"
    LOGIN_ERROR = "login_error"
    SESSION_ENDED = "session_ended"
    MALFORMED_ID = "malformed_id"
    NOT_FOUND = "not_found"
    NO_CONVERSATION = "no_conversation"
    NOT_PARTICIPANT = "not_participant"
    NOT_CLEAN = "not_clean"
    TAG_NOT_CLEAN = "tag_not_clean"
    OBJECT_MISSING = "object_missing"
    BAD_HOST_ORIGIN = "bad_host_origin"
    GENESYS_UNAVAILABLE = "genesys_unavailable"
    STORAGE_UNAVAILABLE = "storage_unavailable"


class AccessDenied(Exception):
    """The request is refused; `reason` says why (for the audit log, never shown to the refused user).
    `user_id` and `user_name` name the refused user when Genesys told us who they are."""

    def __init__(
        self, reason: Reason, detail: str = "", *, user_id: str | None = None, user_name: str | None = None
    ) -> None:
        super().__init__(f"{reason}: {detail}" if detail else str(reason))
        self.reason = reason
        self.detail = detail
        self.user_id = user_id
        self.user_name = user_name


class AccessUnavailable(Exception):
    """A check could not be made (Genesys or S3 unreachable). Callers refuse: they fail closed."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else str(reason))
        self.reason = reason


@dataclass(frozen=True)
class Identity:
    """A checked Genesys user: active, of our organisation, holding at least one allowed role."""

    user_id: str
    name: str
    email: str | None
    org_id: str
    roles: tuple[str, ...]  # the user's Genesys role names that Ferry recognises
    access: frozenset[Access]

    def can(self, access: Access) -> bool:
        return access in self.access


# -- identity ---------------------------------------------------------------------------------------


def access_for_roles(
    role_names: Iterable[str], settings: Settings
) -> tuple[tuple[str, ...], frozenset[Access]]:
    """The recognised role names among `role_names` and the access they give (matched by exact name)."""
    by_access = {
        Access.AGENT: set(settings.viewer_agent_roles),
        Access.REVIEWER: set(settings.viewer_reviewer_roles),
        Access.AUDITOR: set(settings.viewer_auditor_roles),
    }
    held = set(role_names)
    granted = frozenset(access for access, names in by_access.items() if held & names)
    recognised = tuple(sorted(held & set().union(*by_access.values())))
    return recognised, granted


def check_user(me: UserMe, settings: Settings) -> Identity:
    """Check a `users/me` answer (with expand=authorization,organization).

    :raise AccessDenied: USER_INACTIVE, FOREIGN_ORGANIZATION or NO_ROLE.
    """
    name = me.name or me.email or me.id
    if str(me.state or "") != "active":
        raise AccessDenied(Reason.USER_INACTIVE, f"state={me.state}", user_id=me.id, user_name=name)
    org_id = me.organization.id if me.organization else ""
    if org_id != settings.genesys_org_id:
        detail = f"organization={org_id or 'missing'}"
        raise AccessDenied(Reason.FOREIGN_ORGANIZATION, detail, user_id=me.id, user_name=name)
    roles = [r.name for r in (me.authorization.roles or [])] if me.authorization else []
    recognised, granted = access_for_roles((r for r in roles if r), settings)
    if not granted:
        raise AccessDenied(Reason.NO_ROLE, user_id=me.id, user_name=name)
    return Identity(
        user_id=me.id,
        name=name,
        email=me.email,
        org_id=org_id,
        roles=recognised,
        access=granted,
    )


def check_token(info: TokenInfo, settings: Settings) -> None:
    """Check a `tokens/me` answer: our organisation, not a trustee clone, issued to a client we accept.

    :raise AccessDenied: FOREIGN_ORGANIZATION, TRUSTEE_CLONE or FOREIGN_CLIENT.
    """
    org_id = info.organization.id if info.organization else None
    if org_id != settings.genesys_org_id:
        raise AccessDenied(Reason.FOREIGN_ORGANIZATION, f"token organization={org_id or 'missing'}")
    home_id = info.home_organization.id if info.home_organization else org_id
    if info.cloned_user is not None or home_id != org_id:
        # A trustee from another organisation acts through a clone: never one of our agents.
        raise AccessDenied(Reason.TRUSTEE_CLONE, f"home organization={home_id}")
    client_id = info.oauth_client.id if info.oauth_client else None
    accepted = {settings.genesys_oauth_client_id, *settings.api_oauth_client_ids}
    if client_id not in accepted:
        raise AccessDenied(Reason.FOREIGN_CLIENT, f"client={client_id or 'missing'}")


def identify(
    genesys: GenesysClient, token: str, settings: Settings, *, check_token_info: bool = True
) -> Identity:
    """Check a user's Genesys token from scratch (users/me, and tokens/me unless told not to).

    `check_token_info=False` is for re-checking a token whose organisation and client were checked at login:
    those cannot change for the life of a token, while the user's state and roles can.

    :raise AccessDenied: the token or its user is refused.
    :raise AccessUnavailable: Genesys could not be asked.
    """
    if not token:
        raise AccessDenied(Reason.NO_TOKEN)
    try:
        identity = check_user(genesys.get_users_me(token, expand=USER_EXPAND), settings)
        if check_token_info:
            info = genesys.get_token_info(token)
            try:
                check_token(info, settings)
            except AccessDenied as denied:
                raise AccessDenied(
                    denied.reason, denied.detail, user_id=identity.user_id, user_name=identity.name
                ) from None
    except GenesysUnavailable as exc:
        raise AccessUnavailable(Reason.GENESYS_UNAVAILABLE, str(exc)) from None
    except GenesysError as exc:
        if exc.status in (400, 401, 403, 404):
            # 400 not.a.user (a client-credentials token), 401 bad/expired/revoked, 403/404 unknown user.
            raise AccessDenied(Reason.TOKEN_REJECTED, f"status={exc.status} code={exc.code}") from None
        raise AccessUnavailable(Reason.GENESYS_UNAVAILABLE, str(exc)) from None
    return identity


def token_digest(token: str) -> str:
    """The SHA-256 of a secret, hex: what may be stored or used as a key instead of the secret."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class IdentityCache:
    """Answers of `identify` per token digest, for `ttl` seconds, in this process; thread-safe.

    Refusals are cached too (a flood of garbage tokens must not become a flood of Genesys calls); an
    unreachable Genesys is not, so the next request asks again.
    """

    def __init__(self, ttl: float, *, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[float, Identity | AccessDenied]] = OrderedDict()

    def identify(self, token: str, check: Callable[[str], Identity]) -> Identity:
        """The cached answer for `token`, or `check(token)` remembered for `ttl` seconds.

        :raise AccessDenied: (cached or fresh). :raise AccessUnavailable: never cached.
        """
        key = token_digest(token)
        now = self._clock()
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and hit[0] > now:
                answer = hit[1]
                if isinstance(answer, AccessDenied):
                    raise AccessDenied(
                        answer.reason, answer.detail, user_id=answer.user_id, user_name=answer.user_name
                    )
                return answer
        try:
            answer = check(token)
        except AccessDenied as denied:
            self._remember(key, denied, now)
            raise
        self._remember(key, answer, now)
        return answer

    def _remember(self, key: str, answer: Identity | AccessDenied, now: float) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            self._entries[key] = (now + self.ttl, answer)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


# -- attachments ------------------------------------------------------------------------------------

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


def authorize_attachment(
    db: Database, genesys: GenesysClient, identity: Identity, raw_id: str, settings: Settings
) -> Attachment:
    """The attachment `identity` may see. Missing and forbidden are both refused, with different reasons.

    :raise AccessDenied: MALFORMED_ID, NOT_FOUND, NO_ROLE, NO_CONVERSATION or NOT_PARTICIPANT.
    :raise AccessUnavailable: Genesys could not be asked about the conversation.
    """
    found = load_attachment(db, parse_id(raw_id), identity.user_id)
    return decide_attachment(db, genesys, identity, found, settings)


def decide_attachment(
    db: Database, genesys: GenesysClient, identity: Identity, found: Loaded, settings: Settings
) -> Attachment:
    """`authorize_attachment` once the attachment and grant are read (the viewer reads them together
    with its session).

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

    :raise AccessUnavailable: Genesys could not be asked.
    """
    now = utcnow()
    try:
        conversation = genesys.get_message_conversation(conversation_id)
    except GenesysUnavailable as exc:
        raise AccessUnavailable(Reason.GENESYS_UNAVAILABLE, str(exc)) from None
    except GenesysError as exc:
        if exc.status not in (400, 403, 404):
            raise AccessUnavailable(Reason.GENESYS_UNAVAILABLE, str(exc)) from None
        allowed = False  # unknown to Genesys (or hidden from us): nobody's conversation
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


# -- serving bytes: the only way to a presigned URL ----------------------------------------------------


def served_type(attachment: Attachment) -> str:
    """The attachment's type: what the scanner sniffed, else what the customer declared."""
    return (attachment.sniffed_type or attachment.declared_type or "application/octet-stream").lower()


def inline_type(attachment: Attachment) -> str | None:
    """The type to serve inline (images, video, audio, PDF), or None: the file must be downloaded."""
    kind = served_type(attachment)
    if kind in INLINE_IMAGE_TYPES or kind in INLINE_DOCUMENT_TYPES or kind.startswith(("video/", "audio/")):
        return kind
    return None


# A clean tag, once read, is trusted for this long by this process. The database status is checked on
# every click; the tag is the second lock (in AWS the bucket policy enforces it again on the GET itself),
# and re-reading it for every click of a video seek would cost an S3 round trip each time. Only "clean"
# answers are remembered: a refusal is never cached.
TAG_CONFIRMATION_SECONDS = 30.0


class _TagConfirmations:
    """Objects whose scan-status tag was recently read as clean, per process."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.clock = ttl, clock
        self._until: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def fresh(self, bucket: str, key: str) -> bool:
        with self._lock:
            return self._until.get((bucket, key), 0.0) > self.clock()

    def remember(self, bucket: str, key: str) -> None:
        with self._lock:
            now = self.clock()
            if len(self._until) > 10_000:
                self._until = {k: v for k, v in self._until.items() if v > now}
            self._until[(bucket, key)] = now + self.ttl


_confirmed_clean = _TagConfirmations(TAG_CONFIRMATION_SECONDS)


def ensure_servable(storage: ObjectStorage, attachment: Attachment) -> None:
    """Refuse unless the database says clean AND the object's scan-status tag says clean (read from S3, or
    read as clean within TAG_CONFIRMATION_SECONDS by this process).

    :raise AccessDenied: NOT_CLEAN, TAG_NOT_CLEAN or OBJECT_MISSING. :raise AccessUnavailable: S3 failed.
    """
    if attachment.status != AttachmentStatus.CLEAN:
        raise AccessDenied(Reason.NOT_CLEAN, f"status={attachment.status}")
    if _confirmed_clean.fresh(storage.bucket, attachment.object_key):
        return
    try:
        tags = storage.get_tags(attachment.object_key)
    except ObjectNotFound:
        raise AccessDenied(Reason.OBJECT_MISSING) from None
    except StorageError as exc:
        raise AccessUnavailable(Reason.STORAGE_UNAVAILABLE, str(exc)) from None
    if tags.get(SCAN_STATUS_TAG) != CLEAN:
        log.warning(
            "attachment is clean in the database but its object's tag is not",
            extra={"attachment_id": attachment.id, "tag": tags.get(SCAN_STATUS_TAG)},
        )
        raise AccessDenied(Reason.TAG_NOT_CLEAN, f"tag={tags.get(SCAN_STATUS_TAG)}")
    _confirmed_clean.remember(storage.bucket, attachment.object_key)


def presigned_url(
    storage: ObjectStorage,
    attachment: Attachment,
    *,
    inline: bool,
    seconds: int,
    max_seconds: int = MAX_URL_SECONDS,
) -> str:
    """A fresh presigned GET (at most five minutes, or `max_seconds` for GENESYS_INGEST_URL_SECONDS) for a
    clean attachment; inline only for safe types.

    :raise AccessDenied: the attachment is not servable. :raise AccessUnavailable: S3 failed.
    """
    ensure_servable(storage, attachment)
    shown_inline = inline_type(attachment) if inline else None
    try:
        return storage.presign_get(
            attachment.object_key,
            expires=max(1, min(seconds, max_seconds, GENESYS_INGEST_URL_SECONDS)),
            filename=attachment.filename,
            inline=shown_inline is not None,
            content_type=shown_inline or served_type(attachment),
        )
    except StorageError as exc:
        raise AccessUnavailable(Reason.STORAGE_UNAVAILABLE, str(exc)) from None


def read_head(storage: ObjectStorage, attachment: Attachment, size: int) -> bytes:
    """The first `size` bytes of a clean attachment (one ranged GET), for header parsing.

    :raise AccessDenied: the attachment is not servable. :raise AccessUnavailable: S3 failed.
    """
    ensure_servable(storage, attachment)
    try:
        return b"".join(storage.read(attachment.object_key, 0, size - 1))[:size]
    except StorageError as exc:
        raise AccessUnavailable(Reason.STORAGE_UNAVAILABLE, str(exc)) from None


# -- audit --------------------------------------------------------------------------------------------

_AUDIT_INSERT = table_of(AccessAudit).insert()


def record(
    db: Database,
    *,
    action: Action,
    outcome: AuditOutcome,
    identity: Identity | None = None,
    user_id: str | None = None,
    user_name: str | None = None,
    attachment_id: str | None = None,
    reason: str | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
) -> None:
    """Append one audit row (values are clipped to their columns; ids from the URL are stored as sent).

    A Core INSERT, not an ORM add: every click writes one, and the unit of work would double its cost.
    The table's triggers keep it append-only either way.
    """
    with db.autocommit() as connection:
        connection.execute(
            _AUDIT_INSERT,
            {
                "at": utcnow(),
                "user_id": _clip(identity.user_id if identity else user_id, 64),
                "user_name": _clip(identity.name if identity else user_name, 255),
                "attachment_id": _clip(attachment_id, 64),
                "action": str(action),
                "outcome": str(outcome),
                "reason": _clip(reason, 1000),
                "ip": _clip(ip, 64),
                "user_agent": _clip(user_agent, 512),
            },
        )


def _clip(value: str | None, size: int) -> str | None:
    return value[:size] if value else None
