"""Who is asking: a Genesys user token checked at `users/me` (and `tokens/me`), and a cache of the answers."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from ferry.access.refusals import AccessDenied, AccessUnavailable, Reason
from ferry.config import Settings
from genesys.errors import GenesysError, GenesysUnavailable
from genesys.models import TokenInfo, UserMe

if TYPE_CHECKING:
    from genesys.client import GenesysClient

USER_EXPAND = ("authorization", "organization")


class Access(StrEnum):
    """What a Genesys role lets its holder do in Ferry."""

    AGENT = "agent"  # attachments of conversations they took part in
    REVIEWER = "reviewer"  # every attachment, and the QA list
    AUDITOR = "auditor"  # the access audit


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
