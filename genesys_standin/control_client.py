"""A Python client for the stand-in's control API (`/_control/…`, see README.md), for seeding and tests.

`StandinControl(base_url).add_ferry_clients(ferry_url)` registers Ferry's development OAuth clients (the
constants of `ferry.config`), the only part of the stand-in package that knows about Ferry. The server never
imports this module.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import requests

from ferry.config import DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_OAUTH_CLIENT_ID, DEV_OAUTH_CLIENT_SECRET


class StandinControlError(RuntimeError):
    """A control call the stand-in did not answer with the expected status."""


class StandinControl:
    """The control API of the stand-in at `base_url` (e.g. `http://127.0.0.1:8100`)."""

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, expected: int, body: dict[str, Any] | None = None) -> Any:
        """`method /_control{path}`; the decoded JSON answer (None when empty), or StandinControlError."""
        url = f"{self.base_url}/_control{path}"
        try:
            answer = requests.request(method, url, json=body, timeout=self.timeout)
        except requests.RequestException as exc:
            raise StandinControlError(f"{method} {url} failed: {exc}") from exc
        if answer.status_code != expected:
            raise StandinControlError(
                f"{method} {url} answered {answer.status_code} (expected {expected}): {answer.text[:1000]}"
            )
        return answer.json() if answer.content else None

    def add_oauth_client(
        self,
        client_id: str,
        client_secret: str,
        grants: Iterable[str],
        *,
        redirect_uris: Iterable[str] = (),
        name: str | None = None,
    ) -> None:
        """Register an OAuth client of the home organization (replacing one with the same id)."""
        body: dict[str, Any] = {
            "client_id": client_id,
            "client_secret": client_secret,
            "grants": list(grants),
            "redirect_uris": list(redirect_uris),
        }
        if name is not None:
            body["name"] = name
        self._call("POST", "/oauth-clients", 201, body)

    def add_ferry_clients(self, *ferry_base_urls: str) -> None:
        """Register Ferry's two development clients: messaging (client credentials) and viewer (authorization
        code + refresh token, redirect URI `<ferry>/auth/callback` for each of `ferry_base_urls`; with none,
        no sign-in can complete)."""
        self.add_oauth_client(
            DEV_CLIENT_ID, DEV_CLIENT_SECRET, ["client_credentials"], name="Ferry messaging"
        )
        self.add_oauth_client(
            DEV_OAUTH_CLIENT_ID,
            DEV_OAUTH_CLIENT_SECRET,
            ["authorization_code", "refresh_token"],
            redirect_uris=[f"{url.rstrip('/')}/auth/callback" for url in ferry_base_urls],
            name="Ferry viewer",
        )

    def add_user(
        self,
        name: str,
        email: str,
        *,
        roles: Iterable[str] = (),
        state: str | None = None,
        organization: str | None = None,
    ) -> str:
        """Create a user → its id. `state` (active|inactive|deleted) and `organization` (home|foreign) default
        to the stand-in's: active, home."""
        body: dict[str, Any] = {"name": name, "email": email, "roles": list(roles)}
        if state is not None:
            body["state"] = state
        if organization is not None:
            body["organization"] = organization
        return str(self._call("POST", "/users", 201, body)["id"])

    def add_participant(self, conversation_id: str, user_id: str) -> None:
        """Make the user a connected agent participant of the conversation."""
        self._call("POST", f"/conversations/{conversation_id}/participants", 201, {"user_id": user_id})

    def recorded_requests(self) -> list[dict[str, Any]]:
        """The API and login-host requests the stand-in received, oldest first."""
        records: list[dict[str, Any]] = self._call("GET", "/requests", 200)
        return records

    def clear_recorded_requests(self) -> None:
        self._call("DELETE", "/requests", 204)

    def reset(self) -> None:
        """Forget everything: clients, users, tokens, integrations, conversations, requests, faults."""
        self._call("POST", "/reset", 204)
