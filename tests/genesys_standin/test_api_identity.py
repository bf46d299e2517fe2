"""users/me (expansions, not.a.user), tokens/me (and revocation), organizations/me, authentication errors."""

from __future__ import annotations

import dataclasses

import pytest

from genesys_standin.settings import DEFAULT_FOREIGN_ORG_ID, DEFAULT_HOME_ORG_ID
from tests.genesys_standin.conftest import FAST, Standin, assert_error_body


def test_users_me_with_authorization_and_organization(standin: Standin) -> None:
    user_id = standin.user(
        name="Robin Reviewer", email="reviewer@example.com", roles=["Agent", "Quality Evaluator"]
    )
    token = standin.user_token(user_id)
    me = standin.api(
        "GET", "/api/v2/users/me", token, params=[("expand", "authorization"), ("expand", "organization")]
    )
    assert me.status_code == 200
    body = me.json()
    assert (body["id"], body["name"], body["email"], body["state"]) == (
        user_id,
        "Robin Reviewer",
        "reviewer@example.com",
        "active",
    )
    assert [r["name"] for r in body["authorization"]["roles"]] == ["Agent", "Quality Evaluator"]
    assert all(r["id"] for r in body["authorization"]["roles"])
    assert "quality:evaluation:view" in body["authorization"]["permissions"]
    assert body["organization"]["id"] == DEFAULT_HOME_ORG_ID
    assert body["organization"]["name"] == FAST.home_org_name

    plain = standin.api("GET", "/api/v2/users/me", token).json()
    assert "authorization" not in plain
    assert "organization" not in plain
    commas = standin.api("GET", "/api/v2/users/me", token, params={"expand": "authorization,token"}).json()
    assert commas["token"]["organization"]["id"] == DEFAULT_HOME_ORG_ID
    assert "authorization" in commas


def test_users_me_rejects_unknown_expansions(standin: Standin) -> None:
    token = standin.user_token(standin.user())
    answer = standin.api("GET", "/api/v2/users/me", token, params={"expand": "everything"})
    assert_error_body(answer, 400, "invalid.query.param.value")


def test_users_me_is_not_for_client_credentials(standin: Standin, service_token: str) -> None:
    assert_error_body(standin.api("GET", "/api/v2/users/me", service_token), 400, "not.a.user")


def test_foreign_users_belong_to_the_foreign_org(standin: Standin) -> None:
    token = standin.user_token(standin.user(organization="foreign"))
    me = standin.api("GET", "/api/v2/users/me", token, params={"expand": "organization"}).json()
    assert me["organization"]["id"] == DEFAULT_FOREIGN_ORG_ID
    info = standin.api("GET", "/api/v2/tokens/me", token).json()
    assert info["organization"]["id"] == DEFAULT_FOREIGN_ORG_ID
    assert standin.api("GET", "/api/v2/organizations/me", token).json()["id"] == DEFAULT_FOREIGN_ORG_ID


def test_role_removal_and_deactivation_show_on_the_next_call(standin: Standin) -> None:
    user_id = standin.user(roles=["Agent", "Quality Evaluator"])
    token = standin.user_token(user_id)
    changed = standin.control("PATCH", f"/users/{user_id}", json={"roles": ["Agent"], "state": "inactive"})
    assert changed.status_code == 200
    me = standin.api("GET", "/api/v2/users/me", token, params={"expand": "authorization"}).json()
    assert [r["name"] for r in me["authorization"]["roles"]] == ["Agent"]
    assert me["state"] == "inactive"
    assert standin.control("PATCH", f"/users/{user_id}", json={"state": "asleep"}).status_code == 400


def test_tokens_me_describes_the_token_and_its_client(standin: Standin) -> None:
    client_id, _ = standin.client(grants=["authorization_code"], redirect_uris=["http://x/cb"], name="Viewer")
    token = standin.user_token(standin.user(), client_id=client_id)
    info = standin.api("GET", "/api/v2/tokens/me", token)
    assert info.status_code == 200
    body = info.json()
    assert body["OAuthClient"]["id"] == client_id
    assert body["OAuthClient"]["name"] == "Viewer"
    assert body["OAuthClient"]["authorizedGrantType"] == "CODE"
    assert (
        body["organization"]
        == body["homeOrganization"]
        == {"id": DEFAULT_HOME_ORG_ID, "name": FAST.home_org_name}
    )
    assert standin.api("HEAD", "/api/v2/tokens/me", token).status_code == 200


def test_delete_tokens_me_revokes_the_token(standin: Standin) -> None:
    token = standin.user_token(standin.user())
    other = standin.user_token(standin.user(email="other@example.com"))
    assert standin.api("DELETE", "/api/v2/tokens/me", token).status_code == 200
    assert_error_body(standin.api("GET", "/api/v2/users/me", token), 401, "bad.credentials")
    assert standin.api("HEAD", "/api/v2/tokens/me", token).status_code == 401
    assert standin.api("GET", "/api/v2/users/me", other).status_code == 200


def test_missing_and_unknown_tokens_are_401(standin: Standin) -> None:
    assert_error_body(standin.api("GET", "/api/v2/users/me", None), 401, "authentication.required")
    assert_error_body(standin.api("GET", "/api/v2/users/me", "not-a-token"), 401, "bad.credentials")
    basic = standin.api("GET", "/api/v2/tokens/me", None, headers={"Authorization": "Basic eDp5"})
    assert_error_body(basic, 401, "authentication.required")


@pytest.mark.parametrize("standin_settings", [dataclasses.replace(FAST, token_ttl_seconds=0)])
def test_expired_tokens_are_401(standin: Standin) -> None:
    token = standin.user_token(standin.user())
    assert_error_body(standin.api("GET", "/api/v2/tokens/me", token), 401, "bad.credentials")


def test_unknown_api_paths_answer_an_error_body(standin: Standin, service_token: str) -> None:
    assert_error_body(standin.api("GET", "/api/v2/nothing/here", service_token), 404, "not.found")
