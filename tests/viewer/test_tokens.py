"""Genesys tokens at rest: `viewer_sessions` holds them sealed under a key derived from SECRET_KEY; they are
opened only for the users/me re-check and logout's revocation, and a row that cannot be opened is a session
that has ended."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import requests
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask.testing import FlaskClient
from sqlalchemy import select, update

import viewer.auth
from ferry.access import identity
from ferry.db import utcnow
from ferry.models import AccessAudit, ViewerSession
from ferry.services import Services
from tests.viewer.conftest import Login
from tests.viewer.world import World
from viewer import tokens

SECRET = "a-secret-key-of-some-length"
OTHER_SECRET = "another-secret-key-entirely"


# -- the sealing itself ------------------------------------------------------------------------------


def test_a_sealed_token_opens_only_under_the_same_secret_key() -> None:
    sealed = tokens.seal(SECRET, "the-token")

    assert "the-token" not in sealed and sealed.isascii()
    assert tokens.seal(SECRET, "the-token") != sealed  # a fresh IV every time: equal tokens look different
    assert tokens.unseal(SECRET, sealed) == "the-token"
    assert tokens.unseal(OTHER_SECRET, sealed) is None


def test_the_key_is_hkdf_sha256_of_the_secret_key_with_the_versioned_label() -> None:
    # Pinned: changing the derivation would sign every agent out, so it may only change on purpose.
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"ferry viewer-session tokens v1"
    ).derive(SECRET.encode())

    assert Fernet(base64.urlsafe_b64encode(key)).decrypt(tokens.seal(SECRET, "the-token")) == b"the-token"


@pytest.mark.parametrize(
    "stored",
    [
        None,
        "",
        "plain-genesys-token",  # a row from before sealing
        "gAAAAABnot-really-a-fernet-token",
        "jeton-non-chiffré",  # not ASCII: not even base64
    ],
)
def test_anything_else_opens_to_nothing(stored: str | None) -> None:
    assert tokens.unseal(SECRET, stored) is None


def test_a_tampered_token_opens_to_nothing() -> None:
    sealed = tokens.seal(SECRET, "the-token")
    middle = len(sealed) // 2
    tampered = sealed[:middle] + ("A" if sealed[middle] != "A" else "B") + sealed[middle + 1 :]

    assert tokens.unseal(SECRET, tampered) is None


# -- through a real login ----------------------------------------------------------------------------


@pytest.fixture
def issued(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tokens Genesys issued at login, as the callback received them (before Ferry stored them)."""
    seen: list[str] = []

    def spying(genesys: Any, token: str, settings: Any, **kwargs: Any) -> identity.Identity:
        seen.append(token)
        return identity.identify(genesys, token, settings, **kwargs)

    monkeypatch.setattr(viewer.auth, "identify", spying)
    return seen


def age_sessions(services: Services, seconds: int) -> None:
    with services.db.session() as session:
        session.execute(update(ViewerSession).values(checked_at=utcnow() - timedelta(seconds=seconds)))


def stored_token(services: Services) -> str:
    with services.db.session() as session:
        value: str = session.scalars(select(ViewerSession.access_token)).one()
    return value


def store(services: Services, value: str) -> None:
    with services.db.session() as session:
        session.execute(update(ViewerSession).values(access_token=value))


def assert_sealed(stored: str, token: str) -> None:
    """Neither the token nor any six characters of it appear in what the database holds."""
    assert len(token) >= 20 and stored
    assert not any(token[i : i + 6] in stored for i in range(len(token) - 5))


def csrf_of(client: FlaskClient) -> str:
    page = client.get("/me").get_data(as_text=True)
    return page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


def calls(world: World, method: str, path: str) -> list[dict[str, Any]]:
    return [r for r in world.requests() if r["method"] == method and r["path"] == path]


def last_audit_reason(services: Services) -> str | None:
    with services.db.session() as session:
        row = session.scalars(select(AccessAudit).order_by(AccessAudit.id.desc()).limit(1)).one()
    return row.reason


def test_the_database_holds_the_login_s_token_sealed(
    login: Login, services: Services, issued: list[str]
) -> None:
    login("agent")
    [token] = issued

    stored = stored_token(services)

    assert_sealed(stored, token)
    assert tokens.unseal(services.settings.secret_key, stored) == token


def test_the_recheck_asks_users_me_with_the_real_token(
    login: Login, client: FlaskClient, world: World, services: Services, issued: list[str]
) -> None:
    login("reviewer")
    assert_sealed(stored_token(services), issued[0])
    age_sessions(services, services.settings.viewer_recheck_seconds)
    world.clear_requests()

    assert client.get("/me").status_code == 200

    [me] = calls(world, "GET", "/api/v2/users/me")
    assert (me["status"], me["token_kind"], me["user_id"]) == (200, "user", world.users["reviewer"])


def test_logout_revokes_the_real_token(
    login: Login, client: FlaskClient, world: World, services: Services, issued: list[str]
) -> None:
    login("agent")
    [token] = issued
    assert_sealed(stored_token(services), token)
    csrf = csrf_of(client)
    world.clear_requests()

    assert client.post("/logout", data={"csrf_token": csrf}).status_code == 303

    [revocation] = calls(world, "DELETE", "/api/v2/tokens/me")
    assert revocation["status"] < 300 and revocation["user_id"] == world.users["agent"]
    me = requests.get(
        f"{world.base_url}/api/v2/users/me", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert me.status_code == 401
    assert last_audit_reason(services) == "token revoked"


def test_an_ordinary_click_leaves_the_token_sealed(
    login: Login, client: FlaskClient, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    login("agent")
    opened: list[str | None] = []
    unseal = tokens.unseal

    def counting(secret_key: str, sealed: str | None) -> str | None:
        opened.append(sealed)
        return unseal(secret_key, sealed)

    monkeypatch.setattr(tokens, "unseal", counting)

    assert client.get("/me").status_code == 200
    assert client.get("/me").status_code == 200
    assert opened == []
    age_sessions(services, services.settings.viewer_recheck_seconds)
    assert client.get("/me").status_code == 200
    assert len(opened) == 1


UNREADABLE: dict[str, Callable[[str], str]] = {
    "plain text": lambda token: token,
    "another SECRET_KEY": lambda token: tokens.seal(OTHER_SECRET, token),
}


@pytest.mark.parametrize("kind", UNREADABLE)
def test_a_token_that_cannot_be_opened_ends_the_session_at_the_recheck(
    kind: str,
    login: Login,
    client: FlaskClient,
    world: World,
    services: Services,
    issued: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    login("agent")
    [token] = issued
    store(services, UNREADABLE[kind](token))
    age_sessions(services, services.settings.viewer_recheck_seconds)
    world.clear_requests()

    with caplog.at_level(logging.DEBUG):
        answer = client.get("/me")

    assert answer.status_code == 302
    assert answer.headers["Location"].startswith(f"{world.base_url}/oauth/authorize")
    assert calls(world, "GET", "/api/v2/users/me") == []  # never used as a token
    with services.db.session() as session:
        assert session.scalars(select(ViewerSession.revoked_at)).one() is not None
    assert token not in caplog.text
    assert client.get("/me").status_code == 302  # still signed out: a new login starts


@pytest.mark.parametrize("kind", UNREADABLE)
def test_logout_with_a_token_that_cannot_be_opened_still_signs_out(
    kind: str,
    login: Login,
    client: FlaskClient,
    world: World,
    services: Services,
    issued: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    login("agent")
    [token] = issued
    csrf = csrf_of(client)
    store(services, UNREADABLE[kind](token))
    world.clear_requests()

    with caplog.at_level(logging.DEBUG):
        answer = client.post("/logout", data={"csrf_token": csrf})

    assert answer.status_code == 303
    assert calls(world, "DELETE", "/api/v2/tokens/me") == []  # nothing that is not a token is sent
    assert last_audit_reason(services) == "token unreadable"
    assert token not in caplog.text
    assert client.get("/me").status_code == 302
