"""Genesys login: PKCE and state, the return path, refusals at login and at re-check, sessions, logout."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask.testing import FlaskClient
from sqlalchemy import select, update

from ferry.access.identity import token_digest
from ferry.config import DEV_OAUTH_CLIENT_ID, ConfigError, Settings
from ferry.db import utcnow
from ferry.models import AccessAudit, AuditOutcome, ViewerSession
from ferry.services import Services
from tests.viewer.conftest import Login, genesys_settings, running_app
from tests.viewer.seeding import add_attachment
from tests.viewer.world import USERS, World
from viewer import tokens


def audit_rows(services: Services) -> list[AccessAudit]:
    with services.db.session() as session:
        return list(session.scalars(select(AccessAudit).order_by(AccessAudit.id)))


def sessions_of(services: Services) -> list[ViewerSession]:
    with services.db.session() as session:
        return list(session.scalars(select(ViewerSession)))


def test_a_stable_link_starts_a_pkce_login_and_comes_back_to_it(
    client: FlaskClient, world: World, services: Services
) -> None:
    attachment = add_attachment(services)
    link = f"/files/{attachment.id}"

    start = client.get(link)

    assert start.status_code == 302
    authorize = urlsplit(start.headers["Location"])
    params = {k: v[0] for k, v in parse_qs(authorize.query).items()}
    assert f"{authorize.scheme}://{authorize.netloc}{authorize.path}" == f"{world.base_url}/oauth/authorize"
    assert params["client_id"] == DEV_OAUTH_CLIENT_ID
    assert params["response_type"] == "code"
    assert params["redirect_uri"] == "http://ferry.test/auth/callback"
    assert params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) == 43 and len(params["state"]) >= 20
    assert link not in start.headers["Location"]  # the return page stays on our side

    callback = urlsplit(world.pick(start.headers["Location"], "reviewer"))
    finish = client.get(f"{callback.path}?{callback.query}")

    assert finish.status_code == 302
    assert finish.headers["Location"] == link
    assert client.get(link).status_code == 200
    token_request = [r for r in world.requests() if r["path"] == "/oauth/token"]
    assert token_request and token_request[-1]["status"] == 200


def test_the_session_cookie_is_a_random_id_whose_hash_names_the_row(
    client: FlaskClient, login: Login, services: Services
) -> None:
    answer = login("agent")

    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith("ferry_viewer=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # PUBLIC_BASE_URL is http here
    value = cookie.split(";", 1)[0].split("=", 1)[1]
    [row] = sessions_of(services)
    assert row.id == token_digest(value)
    assert value not in row.access_token and row.access_token  # the Genesys token stays on the server
    assert row.access_token not in answer.get_data(as_text=True)


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/files",
        "//evil.example/files",
        "/\\evil.example",
        "http:/evil.example",
        "/files/../../evil",
        "/auth/callback",
        "javascript:alert(1)",
        "/logout",
    ],
)
def test_return_url_tricks_end_on_our_own_page(target: str, login: Login) -> None:
    answer = login("agent", target)

    assert answer.status_code == 302
    assert answer.headers["Location"] == "/me"


def test_a_conversation_page_with_its_query_is_a_valid_return_target(login: Login, world: World) -> None:
    conversation = world.conversation("cust-return", "agent")
    target = f"/conversations/{conversation}?gcHostOrigin=https%3A%2F%2Fapps.mypurecloud.ie"

    answer = login("agent", target)

    assert answer.headers["Location"] == target


def test_forged_state_is_refused_and_recorded(client: FlaskClient, world: World, services: Services) -> None:
    start = client.get("/login?next=/me")
    callback = urlsplit(world.pick(start.headers["Location"], "agent"))
    query = parse_qs(callback.query)

    answer = client.get(f"/auth/callback?code={query['code'][0]}&state=forged-state-value")

    assert answer.status_code == 400
    assert not sessions_of(services)
    assert [(r.action, r.outcome, r.reason) for r in audit_rows(services)] == [
        ("login", AuditOutcome.DENIED, "state_mismatch")
    ]


def test_a_callback_replayed_with_the_same_state_is_refused(client: FlaskClient, world: World) -> None:
    start = client.get("/login?next=/me")
    callback = urlsplit(world.pick(start.headers["Location"], "agent"))
    assert client.get(f"{callback.path}?{callback.query}").status_code == 302

    assert client.get(f"{callback.path}?{callback.query}").status_code == 400


def test_a_replayed_code_is_refused_by_genesys_and_recorded(
    client: FlaskClient, world: World, services: Services
) -> None:
    first = client.get("/login?next=/me")
    first_state = parse_qs(urlsplit(first.headers["Location"]).query)["state"][0]
    stolen = parse_qs(urlsplit(world.pick(first.headers["Location"], "agent")).query)["code"][0]
    assert client.get(f"/auth/callback?code={stolen}&state={first_state}").status_code == 302
    second = client.get("/login?next=/me")
    state = parse_qs(urlsplit(second.headers["Location"]).query)["state"][0]

    answer = client.get(f"/auth/callback?code={stolen}&state={state}")

    assert answer.status_code == 400
    refused = [r for r in audit_rows(services) if r.outcome == AuditOutcome.DENIED]
    assert refused[-1].action == "login" and refused[-1].reason == "code_rejected: invalid_grant"


def test_cancelled_consent_is_refused(client: FlaskClient, world: World, services: Services) -> None:
    start = client.get("/login?next=/me")
    params = {k: v[0] for k, v in parse_qs(urlsplit(start.headers["Location"]).query).items()}
    cancelled = requests.post(
        f"{world.base_url}/oauth/authorize", data={**params, "deny": "1"}, allow_redirects=False, timeout=10
    )
    callback = urlsplit(cancelled.headers["Location"])

    answer = client.get(f"{callback.path}?{callback.query}")

    assert answer.status_code == 400
    assert audit_rows(services)[-1].reason == "login_error: access_denied"


@pytest.mark.parametrize(
    ("user", "reason"),
    [
        ("inactive", "user_inactive"),
        ("deleted", "user_inactive"),
        ("foreign", "foreign_organization"),
        ("norole", "no_role"),
    ],
)
def test_users_ferry_must_not_serve_are_refused_at_login(
    user: str, reason: str, login: Login, client: FlaskClient, services: Services, world: World
) -> None:
    answer = login(user)

    assert answer.status_code == 403
    assert "Set-Cookie" not in answer.headers or "ferry_viewer=" not in answer.headers["Set-Cookie"]
    assert not sessions_of(services)
    [row] = audit_rows(services)
    assert (row.action, row.outcome) == ("login", AuditOutcome.DENIED)
    assert row.reason is not None and row.reason.startswith(reason)
    assert (row.user_id, row.user_name) == (world.users[user], USERS[user]["name"])
    # The token Genesys issued for a refused user is handed back.
    assert any(r["method"] == "DELETE" and r["path"] == "/api/v2/tokens/me" for r in world.requests())


def age_sessions(services: Services, seconds: int) -> None:
    with services.db.session() as session:
        session.execute(update(ViewerSession).values(checked_at=utcnow() - timedelta(seconds=seconds)))


def test_deactivation_takes_effect_at_the_next_recheck(
    login: Login, client: FlaskClient, world: World, services: Services
) -> None:
    login("reviewer")
    world.update_user("reviewer", state="inactive")
    assert client.get("/me").status_code == 200  # checked moments ago: no Genesys call yet

    age_sessions(services, services.settings.viewer_recheck_seconds)
    answer = client.get("/me")

    assert answer.status_code == 403
    ended = sessions_of(services)[0]
    assert ended.revoked_at is not None and ended.access_token == ""
    assert audit_rows(services)[-1].reason == "user_inactive"
    assert client.get("/me").status_code == 302  # the session is gone: a new login starts


def test_role_removal_takes_effect_at_the_next_recheck(
    login: Login, client: FlaskClient, world: World, services: Services
) -> None:
    login("reviewer")
    assert client.get("/files").status_code == 200
    world.update_user("reviewer", roles=["Employee"])

    age_sessions(services, services.settings.viewer_recheck_seconds)

    assert client.get("/files").status_code == 403
    assert audit_rows(services)[-1].reason == "no_role"


def test_a_recheck_renews_roles_and_the_check_time(
    login: Login, client: FlaskClient, world: World, services: Services
) -> None:
    login("agent")
    assert client.get("/files").status_code == 403
    world.update_user("agent", roles=["Agent", "Quality Evaluator"])
    age_sessions(services, 10_000)

    assert client.get("/files").status_code == 200
    [row] = sessions_of(services)
    assert row.roles == ["Agent", "Quality Evaluator"]
    assert utcnow() - row.checked_at < timedelta(seconds=30)


def test_logout_revokes_the_token_and_ends_the_session(
    login: Login, client: FlaskClient, world: World, services: Services
) -> None:
    login("agent")
    [row] = sessions_of(services)
    page = client.get("/me").get_data(as_text=True)
    csrf = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]

    answer = client.post("/logout", data={"csrf_token": csrf})

    assert answer.status_code == 303
    assert "ferry_viewer=;" in answer.headers["Set-Cookie"]
    token = tokens.unseal(services.settings.secret_key, row.access_token)
    assert token
    me = requests.get(
        f"{world.base_url}/api/v2/users/me", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert me.status_code == 401
    ended = sessions_of(services)[0]
    assert ended.revoked_at is not None and ended.access_token == ""  # an ended session keeps no token
    assert client.get("/me").status_code == 302
    assert audit_rows(services)[-1].action == "logout"


def test_logout_without_the_form_token_is_refused(
    login: Login, client: FlaskClient, services: Services
) -> None:
    login("agent")

    answer = client.post("/logout", data={"csrf_token": "guess"})

    assert answer.status_code == 400
    assert sessions_of(services)[0].revoked_at is None
    assert client.get("/me").status_code == 200


def test_logout_is_post_only(login: Login, client: FlaskClient) -> None:
    login("agent")

    assert client.get("/logout").status_code == 405
    assert client.get("/me").status_code == 200


def test_a_made_up_cookie_is_no_session(client: FlaskClient) -> None:
    client.set_cookie("ferry_viewer", "made-up")

    assert client.get("/me").status_code == 302


def test_pkce_challenge_is_the_s256_of_the_verifier_kept_in_the_session(client: FlaskClient) -> None:
    start = client.get("/login?next=/me")
    params = {k: v[0] for k, v in parse_qs(urlsplit(start.headers["Location"]).query).items()}
    with client.session_transaction() as flask_session:
        saved = flask_session[f"_state_genesys_{params['state']}"]["data"]

    digest = hashlib.sha256(saved["code_verifier"].encode()).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == params["code_challenge"]
    assert saved["next"] == "/me"


def test_genesys_unreachable_at_a_recheck_refuses_without_ending_the_session(
    login: Login, client: FlaskClient, world: World, services: Services, impatient_genesys: object
) -> None:
    login("reviewer")
    age_sessions(services, services.settings.viewer_recheck_seconds)
    world.fault(path_pattern="/api/v2/users/me", status=503)

    assert client.get("/files").status_code == 503
    assert sessions_of(services)[0].revoked_at is None
    assert (audit_rows(services)[-1].outcome, audit_rows(services)[-1].reason) == (
        AuditOutcome.ERROR,
        "genesys_unavailable",
    )
    world.clear_faults()
    assert client.get("/files").status_code == 200


def test_framed_deployments_get_a_samesite_none_partitioned_host_cookie(
    settings: Settings, aws: None, world: World
) -> None:
    world.seed(["https://ferry.test"])
    framed = genesys_settings(
        settings,
        world,
        public_base_url="https://ferry.test",
        viewer_cookie_samesite="None",
        viewer_cookie_partitioned=True,
    )
    with running_app(framed) as app:
        client = app.test_client()
        start = client.get("/login?next=/me", base_url="https://localhost")
        assert "SameSite=None" in start.headers["Set-Cookie"] and "Partitioned" in start.headers["Set-Cookie"]
        callback = urlsplit(world.pick(start.headers["Location"], "agent"))

        answer = client.get(f"{callback.path}?{callback.query}", base_url="https://localhost")

    assert answer.status_code == 302, answer.get_data(as_text=True)
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith("__Host-ferry_viewer=")
    for attribute in ("Secure", "HttpOnly", "SameSite=None", "Partitioned", "Path=/"):
        assert attribute in cookie
    assert "Domain=" not in cookie


def test_samesite_none_needs_an_https_public_url() -> None:
    with pytest.raises(ConfigError, match="VIEWER_COOKIE_SAMESITE=None needs an https"):
        Settings.from_env({"FERRY_ENV": "test", "VIEWER_COOKIE_SAMESITE": "None"})


@pytest.mark.parametrize(
    ("name", "value"),
    [("VIEWER_RECHECK_SECONDS", "301"), ("VIEWER_URL_SECONDS", "600"), ("VIEWER_RECHECK_SECONDS", "0")],
)
def test_the_viewer_s_cache_and_url_lifetimes_are_capped(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({"FERRY_ENV": "test", name: value})
