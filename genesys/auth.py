"""Ferry's client-credentials access token: fetched once, shared by threads, renewed before it expires."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from genesys.errors import GenesysError

# Renew this long before Genesys says the token expires, so a call never starts with a token about to die.
REFRESH_MARGIN_SECONDS = 60.0


@dataclass(frozen=True)
class IssuedToken:
    """An access token and its lifetime in seconds, as the token endpoint answered."""

    access_token: str
    expires_in: float

    def __repr__(self) -> str:
        return f"IssuedToken(access_token=[redacted], expires_in={self.expires_in})"

    @classmethod
    def from_json(cls, data: Any) -> IssuedToken:
        """Read `{"access_token": ..., "expires_in": ...}` from `POST /oauth/token`."""
        token = data.get("access_token") if isinstance(data, dict) else None
        expires_in = data.get("expires_in") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise GenesysError("the token endpoint answered without an access_token")
        if not isinstance(expires_in, int | float) or isinstance(expires_in, bool) or expires_in <= 0:
            raise GenesysError("the token endpoint answered without a positive expires_in")
        return cls(token, float(expires_in))


class TokenCache:
    """Holds one client-credentials token; `get()` fetches or renews it under a lock (one fetch at a time)."""

    def __init__(self, fetch: Callable[[], IssuedToken], clock: Callable[[], float]) -> None:
        self._fetch = fetch
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._renew_at = 0.0

    def get(self) -> str:
        """A token valid for a while yet (at least the refresh margin, or half its lifetime if shorter)."""
        with self._lock:
            if self._token is None or self._clock() >= self._renew_at:
                # The lifetime counts from when Genesys issued it, so from before the request.
                requested_at = self._clock()
                issued = self._fetch()
                margin = min(REFRESH_MARGIN_SECONDS, issued.expires_in / 2)
                self._token = issued.access_token
                self._renew_at = requested_at + issued.expires_in - margin
            return self._token

    def invalidate(self, token: str) -> None:
        """Forget `token` (Genesys refused it) unless another thread has already replaced it."""
        with self._lock:
            if self._token == token:
                self._token = None
