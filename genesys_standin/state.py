"""The stand-in's in-memory world (organizations, OAuth clients, users, tokens, integrations, conversations)
and its bookkeeping (request log, faults, rate counters). Every access goes through `StandinState.lock`."""

from __future__ import annotations

import fnmatch
import math
import random
import re
import secrets
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from genesys_standin.settings import StandinSettings

DEFAULT_PROFILE_ID = "5a0c0ffe-5c0e-4000-8000-00000000d3fa"
CONTROL_CLIENT_ID = "genesys-standin-control"
ROLE_NAMESPACE = uuid.UUID("6d1f5e2a-3c4b-4a5d-9e8f-7a6b5c4d3e2f")

# Permissions of the well-known Genesys roles that the demo users carry (a role not listed grants nothing).
ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "Agent": ("conversation:communication:accept", "conversation:message:view", "routing:agent:onqueue"),
    "Quality Evaluator": (
        "quality:evaluation:view",
        "quality:evaluation:edit",
        "analytics:conversationDetail:view",
    ),
    "Quality Administrator": (
        "quality:evaluation:view",
        "quality:evaluation:edit",
        "quality:evaluation:delete",
        "analytics:conversationDetail:view",
        "recording:recording:view",
    ),
    "Employee": ("directory:user:view",),
    "admin": ("*:*:*",),
}


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """Genesys's date-time format: yyyy-MM-ddTHH:mm:ss.SSSZ."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def new_id() -> str:
    """A Genesys-style entity id (UUID)."""
    return str(uuid.uuid4())


def new_message_id() -> str:
    """A Genesys-style message id (32 hex digits)."""
    return uuid.uuid4().hex


def role_id(org_id: str, name: str) -> str:
    """A stable role id per organization and role name."""
    return str(uuid.uuid5(ROLE_NAMESPACE, f"{org_id}/{name}"))


@dataclass
class Organization:
    id: str
    name: str

    def entity(self) -> dict[str, str]:
        """As a `NamedEntity`."""
        return {"id": self.id, "name": self.name}

    def resource(self, base_url: str) -> dict[str, Any]:
        """As an `Organization`."""
        return {
            "id": self.id,
            "name": self.name,
            "defaultLanguage": "en-us",
            "defaultCountryCode": "US",
            "thirdPartyOrgName": re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-"),
            "domain": "genesys-standin.local",
            "version": 1,
            "state": "active",
            "productPlatform": "GenesysCloud",
            "selfUri": f"{base_url}/api/v2/organizations/{self.id}",
        }


@dataclass
class OAuthClient:
    client_id: str
    client_secret: str
    name: str
    redirect_uris: tuple[str, ...]
    grants: frozenset[str]
    org_id: str
    created: datetime = field(default_factory=utc_now)


@dataclass
class User:
    id: str
    name: str
    email: str
    state: str
    roles: list[str]
    org_id: str
    version: int = 1
    date_last_login: datetime | None = None

    def permissions(self) -> list[str]:
        """Every permission granted by the user's roles, without duplicates, in role order."""
        seen: dict[str, None] = {}
        for role in self.roles:
            for permission in ROLE_PERMISSIONS.get(role, ()):
                seen[permission] = None
        return list(seen)


@dataclass
class Token:
    access_token: str
    kind: str  # "client" | "user"
    client_id: str
    org_id: str
    user_id: str | None
    expires_at: float  # time.monotonic()
    issued_at: datetime
    scopes: tuple[str, ...]
    grant: str  # OrgOAuthClient.authorizedGrantType: CODE | CLIENT-CREDENTIALS
    refresh_token: str | None = None
    code: str | None = None
    revoked: bool = False

    def usable(self) -> bool:
        """Neither revoked nor expired."""
        return not self.revoked and time.monotonic() < self.expires_at


@dataclass
class RefreshToken:
    value: str
    client_id: str
    user_id: str
    org_id: str
    scopes: tuple[str, ...]
    public: bool  # issued through PKCE without a secret: refreshing needs only client_id
    code: str | None = None
    revoked: bool = False


@dataclass
class AuthCode:
    code: str
    client_id: str
    user_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    code_challenge: str | None
    expires_at: float
    used: bool = False


@dataclass
class ContentProfile:
    """A supported-content profile: which MIME types may come in from customers and go out from agents."""

    id: str
    name: str
    inbound: list[str]
    outbound: list[str]
    created: datetime = field(default_factory=utc_now)
    modified: datetime = field(default_factory=utc_now)
    version: int = 1

    def allows(self, direction: str, mime: str) -> bool:
        """Whether `mime` matches one of the allowed types (`image/*` and `*/*` are wildcards)."""
        allowed = self.inbound if direction == "inbound" else self.outbound
        bare = mime.split(";", 1)[0].strip().lower()
        return any(fnmatch.fnmatchcase(bare, pattern.strip().lower()) for pattern in allowed)


@dataclass
class Integration:
    id: str
    name: str
    webhook_url: str
    secret: str
    webhook_headers: dict[str, str]
    supported_content_id: str
    messaging_setting_id: str | None
    org_id: str
    created_by: dict[str, str] | None
    created: datetime = field(default_factory=utc_now)
    modified: datetime = field(default_factory=utc_now)
    create_status: str = "Initiated"


@dataclass
class Participant:
    id: str
    purpose: str  # customer | agent
    name: str
    address: str
    state: str
    start_time: datetime
    connected_time: datetime | None
    user_id: str | None = None
    end_time: datetime | None = None
    message_ids: list[str] = field(default_factory=list)


@dataclass
class StoredAttachment:
    """An attachment of a message, and what the stand-in did with its URL."""

    media_id: str
    url: str
    mime: str
    media_type: str
    filename: str | None
    text: str | None = None
    provider_id: str | None = None
    declared_sha256: str | None = None
    status: str = "pending"  # pending | delivered | failed
    failure_code: str | None = None
    failure_message: str | None = None
    size: int | None = None
    sha256: str | None = None
    hosted: bool = False


@dataclass
class Message:
    id: str
    conversation_id: str
    direction: str  # Inbound | Outbound
    time: datetime
    text: str | None
    attachments: list[StoredAttachment]
    payload: dict[str, Any]  # inbound: the body as received; outbound: what was POSTed to the webhook
    provider_message_id: str | None = None
    user_id: str | None = None
    status: str = "received"  # received | delivered | failed (inbound); queued | sent | delivered | failed
    receipts: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Conversation:
    id: str
    integration_id: str
    org_id: str
    customer: dict[str, str]  # the `from` recipient of the first message
    participants: list[Participant]
    messages: list[Message] = field(default_factory=list)
    created: datetime = field(default_factory=utc_now)
    ended: datetime | None = None
    customer_typing_at: datetime | None = None
    # Set when a webhook delivery kept failing (every attempt answered non-2xx or not at all): Genesys
    # then fails the conversation's delivery.
    delivery_failed_at: datetime | None = None

    def agent(self, user_id: str) -> Participant | None:
        """The agent participant of `user_id`, if the user is on the conversation."""
        return next((p for p in self.participants if p.purpose == "agent" and p.user_id == user_id), None)

    def customer_participant(self) -> Participant:
        """The customer participant (always the first)."""
        return self.participants[0]


@dataclass
class Fault:
    """An injected failure for requests whose path and method match."""

    id: str
    path_pattern: str
    method: str
    status: int | None
    retry_after: int | None
    delay_ms: int
    drop_connection: bool
    count: int | None  # remaining firings; None = until deleted
    rate: float
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        """`^…` patterns are regular expressions (re.search); anything else is a glob over the whole path."""
        if self.method not in ("*", method.upper()):
            return False
        if self.path_pattern.startswith("^"):
            return re.search(self.path_pattern, path) is not None
        return fnmatch.fnmatchcase(path, self.path_pattern)

    def describe(self) -> dict[str, Any]:
        """As the control API shows it."""
        return {
            "id": self.id,
            "path_pattern": self.path_pattern,
            "method": self.method,
            "status": self.status,
            "retry_after": self.retry_after,
            "delay_ms": self.delay_ms,
            "drop_connection": self.drop_connection,
            "count": self.count,
            "rate": self.rate,
            "fired": self.fired,
        }


@dataclass
class RequestRecord:
    method: str
    path: str
    query: str
    status: int
    time: datetime
    token_kind: str  # client | user | none | invalid
    client_id: str | None
    user_id: str | None
    fault_id: str | None

    def describe(self) -> dict[str, Any]:
        """As the control API shows it."""
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "status": self.status,
            "time": iso(self.time),
            "token_kind": self.token_kind,
            "client_id": self.client_id,
            "user_id": self.user_id,
            "fault_id": self.fault_id,
        }


class StandinState:
    """Everything the stand-in knows, behind one re-entrant lock."""

    def __init__(self, settings: StandinSettings) -> None:
        self.settings = settings
        self.lock = threading.RLock()
        self.orgs = {
            "home": Organization(settings.home_org_id, settings.home_org_name),
            "foreign": Organization(settings.foreign_org_id, settings.foreign_org_name),
        }
        self.clients: dict[str, OAuthClient] = {}
        self.users: dict[str, User] = {}
        self.tokens: dict[str, Token] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.codes: dict[str, AuthCode] = {}
        self.profiles: dict[str, ContentProfile] = {}
        self.integrations: dict[str, Integration] = {}
        self.conversations: dict[str, Conversation] = {}
        self.dedup: dict[tuple[str, str], str] = {}  # (integration id, channel.messageId) → message id
        self.messages: dict[str, Message] = {}
        self.media: dict[str, tuple[str, str | None, bytes]] = {}  # media id → (mime, filename, bytes)
        self.media_expires: dict[str, float] = {}  # media id → when its download URL stops working
        self.download_links: dict[str, tuple[str, float]] = {}  # one-off key → (media id, valid until)
        self.requests: deque[RequestRecord] = deque(maxlen=settings.request_log_size)
        self.faults: list[Fault] = []
        self.rate_windows: dict[str, tuple[float, int]] = {}
        self.login_sessions: dict[str, str] = {}  # remembered picker logins: session id → user id
        self.reset()

    def store_media(self, media_id: str, mime: str, filename: str | None, data: bytes) -> None:
        """Keep a Genesys-hosted copy; its download URL expires after `download_url_ttl_seconds`."""
        with self.lock:
            self.media[media_id] = (mime, filename, data)
            self.media_expires[media_id] = time.time() + self.settings.download_url_ttl_seconds

    def reset(self) -> None:
        """Forget everything: clients, users, integrations, conversations, logs and faults."""
        with self.lock:
            for table in (
                self.clients,
                self.users,
                self.tokens,
                self.refresh_tokens,
                self.codes,
                self.profiles,
                self.integrations,
                self.conversations,
                self.dedup,
                self.messages,
                self.media,
                self.media_expires,
                self.download_links,
                self.rate_windows,
                self.login_sessions,
            ):
                table.clear()
            self.requests.clear()
            self.faults.clear()
            self.profiles[DEFAULT_PROFILE_ID] = ContentProfile(
                DEFAULT_PROFILE_ID,
                "Default Supported Content Profile",
                inbound=["*/*"],
                outbound=["image/jpeg", "image/png", "image/gif"],
            )
            # The client that control-issued user tokens claim to come from.
            self.clients[CONTROL_CLIENT_ID] = OAuthClient(
                CONTROL_CLIENT_ID,
                secrets.token_urlsafe(24),
                "Genesys stand-in control",
                (),
                frozenset({"authorization_code"}),
                self.settings.home_org_id,
            )

    # -- organizations and identities -----------------------------------------------------------

    def org(self, org_id: str) -> Organization:
        """The organization with this id (home or foreign)."""
        return next(o for o in self.orgs.values() if o.id == org_id)

    def org_id_for(self, which: str) -> str:
        """The org id for "home", "foreign" or an org id itself.

        :raise KeyError: for anything else.
        """
        if which in self.orgs:
            return self.orgs[which].id
        if any(o.id == which for o in self.orgs.values()):
            return which
        raise KeyError(which)

    def issue_token(
        self,
        client: OAuthClient,
        user: User | None,
        scopes: tuple[str, ...] = (),
        *,
        refresh_token: str | None = None,
        code: str | None = None,
    ) -> Token:
        """A new access token for a client (client credentials) or for a user through a client."""
        with self.lock:
            token = Token(
                access_token=secrets.token_urlsafe(32),
                kind="user" if user else "client",
                client_id=client.client_id,
                org_id=user.org_id if user else client.org_id,
                user_id=user.id if user else None,
                expires_at=time.monotonic() + self.settings.token_ttl_seconds,
                issued_at=utc_now(),
                scopes=scopes,
                grant="CODE" if user else "CLIENT-CREDENTIALS",
                refresh_token=refresh_token,
                code=code,
            )
            self.tokens[token.access_token] = token
            if user is not None:
                user.date_last_login = token.issued_at
            return token

    def find_token(self, value: str) -> Token | None:
        """The token with this value when it is still usable."""
        with self.lock:
            token = self.tokens.get(value)
            return token if token is not None and token.usable() else None

    def revoke_code_tokens(self, code: str) -> None:
        """A code used twice: revoke what it produced, as RFC 6749 §4.1.2 recommends."""
        with self.lock:
            for token in self.tokens.values():
                if token.code == code:
                    token.revoked = True
            for refresh in self.refresh_tokens.values():
                if refresh.code == code:
                    refresh.revoked = True

    # -- bookkeeping ------------------------------------------------------------------------------

    def take_fault(self, method: str, path: str) -> Fault | None:
        """The first fault matching the request that fires this time (counting it), if any."""
        with self.lock:
            for fault in self.faults:
                if fault.count is not None and fault.count <= 0:
                    continue
                if not fault.matches(method, path):
                    continue
                if fault.rate < 1.0 and random.random() >= fault.rate:  # noqa: S311 - fault injection, not crypto
                    continue
                if fault.count is not None:
                    fault.count -= 1
                fault.fired += 1
                return fault
            return None

    def rate_limited(self, token: Token) -> int | None:
        """Count a request of a client-credentials token; the Retry-After seconds when over the limit."""
        limit = self.settings.rate_limit_per_minute
        if token.kind != "client" or limit <= 0:
            return None
        now = time.monotonic()
        with self.lock:
            start, count = self.rate_windows.get(token.access_token, (now, 0))
            if now - start >= 60:
                start, count = now, 0
            if count >= limit:
                return max(1, math.ceil(start + 60 - now))
            self.rate_windows[token.access_token] = (start, count + 1)
            return None
