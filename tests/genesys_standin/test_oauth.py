"""The login host: user picker, authorization code (Basic and PKCE), client credentials, refresh, logout."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import re
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.genesys_standin.conftest import FAST, Standin

REDIRECT = "http://127.0.0.1:8000/auth/callback"


def viewer_client(standin: Standin, **fields: Any) -> tuple[str, str]:
    return standin.client(
        grants=["authorization_code", "refresh_token"],
        redirect_uris=[REDIRECT],
        name="Ferry viewer",
        **fields,
    )


def pick(standin: Standin, user_id: str, **params: str) -> requests.Response:
    """Submit the login page as if the user's button was clicked."""
    form = {"response_type": "code", "redirect_uri": REDIRECT, **params, "user_id": user_id}
    return standin.http.post(f"{standin.url}/oauth/authorize", data=form, allow_redirects=False, timeout=10)


def code_for(standin: Standin, client_id: str, user_id: str, **params: str) -> str:
    answer = pick(standin, user_id, client_id=client_id, state="st-1", **params)
    assert answer.status_code == 302, answer.text
    location = urlsplit(answer.headers["Location"])
    query = parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    assert query["state"] == ["st-1"]
    return query["code"][0]


def exchange(
    standin: Standin, data: dict[str, str], auth: tuple[str, str] | None = None
) -> requests.Response:
    return standin.http.post(f"{standin.url}/oauth/token", data=data, auth=auth, timeout=10)


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


def test_login_page_lists_users_with_a_button_per_email_and_login_hint_preselects(standin: Standin) -> None:
    client_id, _ = viewer_client(standin)
    standin.user(name="Alex Agent", email="agent@example.com")
    standin.user(name="Robin Reviewer", email="reviewer@example.com", organization="foreign")
    page = standin.http.get(
        f"{standin.url}/oauth/authorize",
        params={
            "client_id": client_id,
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "login_hint": "reviewer@example.com",
        },
        timeout=10,
    )
    assert page.status_code == 200
    buttons = re.findall(
        r'<button type="submit" name="user_id" value="[^"]+"( autofocus)?>([^<]+)</button>', page.text
    )
    assert sorted(label for _, label in buttons) == ["agent@example.com", "reviewer@example.com"]
    assert [label for focus, label in buttons if focus] == ["reviewer@example.com"]


def test_authorize_refuses_unknown_client_and_unregistered_redirect_uri_on_its_own_page(
    standin: Standin,
) -> None:
    client_id, _ = viewer_client(standin)
    for params in (
        {"client_id": "nobody", "redirect_uri": REDIRECT},
        {"client_id": client_id, "redirect_uri": "http://evil.example/cb"},
    ):
        page = standin.http.get(
            f"{standin.url}/oauth/authorize",
            params={**params, "response_type": "code"},
            allow_redirects=False,
            timeout=10,
        )
        assert page.status_code == 400
        assert "Location" not in page.headers


def test_authorization_code_with_basic_auth_gives_a_user_token(standin: Standin) -> None:
    client_id, secret = viewer_client(standin)
    user_id = standin.user()
    code = code_for(standin, client_id, user_id)
    answer = exchange(
        standin,
        {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
        (client_id, secret),
    )
    assert answer.status_code == 200, answer.text
    tokens = answer.json()
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == int(FAST.token_ttl_seconds)
    assert tokens["refresh_token"]
    me = standin.api("GET", "/api/v2/users/me", tokens["access_token"])
    assert me.status_code == 200
    assert me.json()["id"] == user_id


def test_a_code_is_single_use_and_reusing_it_revokes_what_it_gave(standin: Standin) -> None:
    client_id, secret = viewer_client(standin)
    code = code_for(standin, client_id, standin.user())
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    first = exchange(standin, data, (client_id, secret))
    assert first.status_code == 200
    again = exchange(standin, data, (client_id, secret))
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert again.json()["description"]
    assert standin.api("GET", "/api/v2/tokens/me", first.json()["access_token"]).status_code == 401


@pytest.mark.parametrize("standin_settings", [dataclasses.replace(FAST, code_ttl_seconds=0)])
def test_an_expired_code_is_refused(standin: Standin) -> None:
    client_id, secret = viewer_client(standin)
    code = code_for(standin, client_id, standin.user())
    answer = exchange(
        standin,
        {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
        (client_id, secret),
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"


def test_code_exchange_refuses_wrong_redirect_uri_wrong_client_and_wrong_secret(standin: Standin) -> None:
    client_id, secret = viewer_client(standin)
    other_id, other_secret = viewer_client(standin)
    code = code_for(standin, client_id, standin.user())
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}

    wrong_redirect = exchange(standin, {**data, "redirect_uri": REDIRECT + "x"}, (client_id, secret))
    assert (wrong_redirect.status_code, wrong_redirect.json()["error"]) == (400, "invalid_grant")
    other_client = exchange(standin, data, (other_id, other_secret))
    assert (other_client.status_code, other_client.json()["error"]) == (400, "invalid_grant")
    wrong_secret = exchange(standin, data, (client_id, "not-the-secret"))
    assert (wrong_secret.status_code, wrong_secret.json()["error"]) == (401, "invalid_client")
    secret_in_body = exchange(standin, {**data, "client_id": client_id, "client_secret": secret})
    assert (secret_in_body.status_code, secret_in_body.json()["error"]) == (401, "invalid_client")
    # None of the refusals used the code up.
    assert exchange(standin, data, (client_id, secret)).status_code == 200


def test_pkce_without_secret(standin: Standin) -> None:
    client_id, _ = viewer_client(standin)
    verifier, challenge = pkce_pair()
    code = code_for(
        standin, client_id, standin.user(), code_challenge=challenge, code_challenge_method="S256"
    )
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": client_id,
    }

    assert exchange(standin, data).json()["error"] == "invalid_grant"  # verifier missing
    wrong = exchange(standin, {**data, "code_verifier": pkce_pair()[0]})
    assert (wrong.status_code, wrong.json()["error"]) == (400, "invalid_grant")
    right = exchange(standin, {**data, "code_verifier": verifier})
    assert right.status_code == 200, right.text
    assert standin.api("GET", "/api/v2/tokens/me", right.json()["access_token"]).status_code == 200


def test_a_public_client_without_pkce_must_authenticate(standin: Standin) -> None:
    client_id, _ = viewer_client(standin)
    code = code_for(standin, client_id, standin.user())
    answer = exchange(
        standin,
        {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "client_id": client_id},
    )
    assert (answer.status_code, answer.json()["error"]) == (401, "invalid_client")


def test_authorize_sends_protocol_errors_to_the_registered_redirect_uri(standin: Standin) -> None:
    client_id, _ = viewer_client(standin)
    answer = standin.http.get(
        f"{standin.url}/oauth/authorize",
        params={
            "client_id": client_id,
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "state": "s",
            "code_challenge": "abc",
            "code_challenge_method": "plain",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["error"] == ["invalid_request"]
    assert query["state"] == ["s"]


def test_refresh_token_gives_a_new_access_token(standin: Standin) -> None:
    client_id, secret = viewer_client(standin)
    user_id = standin.user()
    code = code_for(standin, client_id, user_id)
    tokens = exchange(
        standin,
        {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
        (client_id, secret),
    ).json()
    refreshed = exchange(
        standin,
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        (client_id, secret),
    )
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["access_token"] != tokens["access_token"]
    assert standin.api("GET", "/api/v2/users/me", refreshed.json()["access_token"]).json()["id"] == user_id
    bogus = exchange(standin, {"grant_type": "refresh_token", "refresh_token": "nope"}, (client_id, secret))
    assert (bogus.status_code, bogus.json()["error"]) == (400, "invalid_grant")


def test_client_credentials(standin: Standin) -> None:
    client_id, secret = standin.client()
    good = exchange(standin, {"grant_type": "client_credentials"}, (client_id, secret))
    assert good.status_code == 200
    assert "refresh_token" not in good.json()
    info = standin.api("GET", "/api/v2/tokens/me", good.json()["access_token"]).json()
    assert info["OAuthClient"]["authorizedGrantType"] == "CLIENT-CREDENTIALS"
    assert exchange(standin, {"grant_type": "client_credentials"}, (client_id, "wrong")).status_code == 401
    assert exchange(standin, {"grant_type": "client_credentials"}).status_code == 401
    viewer_id, viewer_secret = viewer_client(standin)
    not_allowed = exchange(standin, {"grant_type": "client_credentials"}, (viewer_id, viewer_secret))
    assert (not_allowed.status_code, not_allowed.json()["error"]) == (400, "unauthorized_client")
    assert (
        exchange(standin, {"grant_type": "password"}, (client_id, secret)).json()["error"]
        == "unsupported_grant_type"
    )


def test_logout_redirects_only_to_a_registered_redirect_uri(standin: Standin) -> None:
    client_id, _ = viewer_client(standin)
    back = standin.http.get(
        f"{standin.url}/logout",
        params={"client_id": client_id, "redirect_uri": REDIRECT},
        allow_redirects=False,
        timeout=10,
    )
    assert back.status_code == 302
    assert back.headers["Location"] == REDIRECT
    stay = standin.http.get(
        f"{standin.url}/logout",
        params={"client_id": client_id, "redirect_uri": "http://evil.example/"},
        allow_redirects=False,
        timeout=10,
    )
    assert stay.status_code == 200
    assert "signed out" in stay.text


@pytest.mark.parametrize("standin_settings", [dataclasses.replace(FAST, remember_login=True)])
def test_remember_login_skips_the_picker_until_logout(standin: Standin) -> None:
    client_id, _ = viewer_client(standin)
    code_for(standin, client_id, standin.user())  # signs the browser in
    params = {"client_id": client_id, "redirect_uri": REDIRECT, "response_type": "code"}
    again = standin.http.get(
        f"{standin.url}/oauth/authorize", params=params, allow_redirects=False, timeout=10
    )
    assert again.status_code == 302
    assert "code=" in again.headers["Location"]
    standin.http.get(f"{standin.url}/logout", timeout=10)
    after = standin.http.get(
        f"{standin.url}/oauth/authorize", params=params, allow_redirects=False, timeout=10
    )
    assert after.status_code == 200


@pytest.mark.parametrize("standin_settings", [dataclasses.replace(FAST, refuse_inactive_login=True)])
def test_inactive_users_can_be_refused_at_login(standin: Standin) -> None:
    client_id, _ = viewer_client(standin)
    answer = pick(standin, standin.user(state="inactive"), client_id=client_id)
    assert answer.status_code == 400
    assert "inactive" in answer.text


@pytest.mark.parametrize("standin_settings", [dataclasses.replace(FAST, refresh_token_rotation=True)])
def test_refresh_token_rotation_is_a_setting(standin: Standin) -> None:
    client_id, secret = viewer_client(standin)
    code = code_for(standin, client_id, standin.user())
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    first = exchange(standin, data, (client_id, secret)).json()["refresh_token"]
    refreshed = exchange(
        standin, {"grant_type": "refresh_token", "refresh_token": first}, (client_id, secret)
    )
    assert refreshed.status_code == 200
    second = refreshed.json()["refresh_token"]
    assert second != first
    reused = exchange(standin, {"grant_type": "refresh_token", "refresh_token": first}, (client_id, secret))
    assert (reused.status_code, reused.json()["error"]) == (400, "invalid_grant")
    assert (
        exchange(
            standin, {"grant_type": "refresh_token", "refresh_token": second}, (client_id, secret)
        ).status_code
        == 200
    )
