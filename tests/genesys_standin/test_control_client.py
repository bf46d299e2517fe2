"""StandinControl, the Python client of the control API, against a running stand-in."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from ferry.config import DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_OAUTH_CLIENT_ID, DEV_OAUTH_CLIENT_SECRET
from genesys_standin.control_client import StandinControl, StandinControlError
from tests.genesys_standin.conftest import Standin, message_body

FERRY = "http://ferry.test"


@pytest.fixture
def control(standin: Standin) -> StandinControl:
    return StandinControl(standin.url)


def client_credentials_token(standin: Standin, client_id: str, secret: str) -> str:
    answer = standin.http.post(
        f"{standin.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def test_added_oauth_client_gets_a_client_credentials_token(
    standin: Standin, control: StandinControl
) -> None:
    control.add_oauth_client("program", "program-secret", ["client_credentials"], name="A program")
    token = client_credentials_token(standin, "program", "program-secret")
    info = standin.api("GET", "/api/v2/tokens/me", token).json()
    assert info["OAuthClient"]["id"] == "program"
    assert info["OAuthClient"]["name"] == "A program"


def test_ferry_clients_have_the_development_credentials_grants_and_callbacks(
    standin: Standin, control: StandinControl
) -> None:
    control.add_ferry_clients(FERRY, "http://127.0.0.1:8000/")
    clients = {c["client_id"]: c for c in standin.control("GET", "/oauth-clients").json()}
    messaging, viewer = clients[DEV_CLIENT_ID], clients[DEV_OAUTH_CLIENT_ID]
    assert (messaging["client_secret"], messaging["grants"], messaging["redirect_uris"]) == (
        DEV_CLIENT_SECRET,
        ["client_credentials"],
        [],
    )
    assert (viewer["client_secret"], viewer["grants"]) == (
        DEV_OAUTH_CLIENT_SECRET,
        ["authorization_code", "refresh_token"],
    )
    assert viewer["redirect_uris"] == [f"{FERRY}/auth/callback", "http://127.0.0.1:8000/auth/callback"]
    assert {messaging["name"], viewer["name"]} == {"Ferry messaging", "Ferry viewer"}
    client_credentials_token(standin, DEV_CLIENT_ID, DEV_CLIENT_SECRET)


def test_ferry_viewer_client_signs_a_user_in_through_the_callback(
    standin: Standin, control: StandinControl
) -> None:
    control.add_ferry_clients(FERRY)
    user_id = control.add_user("Alex Agent", "agent@example.com", roles=["Agent"])
    callback = f"{FERRY}/auth/callback"
    picked = standin.http.post(
        f"{standin.url}/oauth/authorize",
        data={
            "client_id": DEV_OAUTH_CLIENT_ID,
            "redirect_uri": callback,
            "response_type": "code",
            "state": "s",
            "user_id": user_id,
        },
        allow_redirects=False,
        timeout=10,
    )
    assert picked.status_code == 302, picked.text
    location = picked.headers["Location"]
    assert location.startswith(f"{callback}?")
    code = dict(parse_qsl(urlsplit(location).query))["code"]
    answer = standin.http.post(
        f"{standin.url}/oauth/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": callback},
        auth=(DEV_OAUTH_CLIENT_ID, DEV_OAUTH_CLIENT_SECRET),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert "refresh_token" in answer.json()
    me = standin.api("GET", "/api/v2/users/me", answer.json()["access_token"]).json()
    assert me["id"] == user_id


def test_add_user_answers_its_id_and_the_user_is_listed(standin: Standin, control: StandinControl) -> None:
    agent = control.add_user("Alex Agent", "agent@example.com", roles=["Agent"])
    foreign = control.add_user(
        "Fred Foreign", "foreign@example.com", roles=["Employee"], state="inactive", organization="foreign"
    )
    users = {u["id"]: u for u in standin.control("GET", "/users").json()}
    assert users[agent]["name"] == "Alex Agent"
    assert (users[agent]["email"], users[agent]["roles"], users[agent]["state"]) == (
        "agent@example.com",
        ["Agent"],
        "active",
    )
    assert (users[foreign]["roles"], users[foreign]["state"]) == (["Employee"], "inactive")
    assert users[foreign]["organization"] != users[agent]["organization"]


def test_add_participant_puts_the_agent_on_the_conversation(
    standin: Standin, control: StandinControl, service_token: str, integration_id: str
) -> None:
    agent = control.add_user("Alex Agent", "agent@example.com", roles=["Agent"])
    conversation_id = standin.inbound(service_token, integration_id, message_body()).json()["conversationId"]
    control.add_participant(conversation_id, agent)
    conversation = standin.control("GET", f"/conversations/{conversation_id}").json()
    agents = [p for p in conversation["participants"] if p["purpose"] == "agent"]
    assert [(p["user"]["id"], p["state"]) for p in agents] == [(agent, "connected")]


def test_recorded_requests_are_listed_and_cleared(standin: Standin, control: StandinControl) -> None:
    control.add_ferry_clients()
    client_credentials_token(standin, DEV_CLIENT_ID, DEV_CLIENT_SECRET)
    recorded = control.recorded_requests()
    assert [(r["method"], r["path"], r["status"]) for r in recorded] == [("POST", "/oauth/token", 200)]
    control.clear_recorded_requests()
    assert control.recorded_requests() == []


def test_reset_forgets_clients_and_users(standin: Standin, control: StandinControl) -> None:
    control.add_ferry_clients(FERRY)
    control.add_user("Alex Agent", "agent@example.com")
    control.reset()
    clients = {c["client_id"] for c in standin.control("GET", "/oauth-clients").json()}
    assert clients.isdisjoint({DEV_CLIENT_ID, DEV_OAUTH_CLIENT_ID})
    assert standin.control("GET", "/users").json() == []


def test_a_refused_call_raises_with_status_and_body(control: StandinControl) -> None:
    with pytest.raises(StandinControlError, match=r"POST .*/_control/oauth-clients answered 400.*grants"):
        control.add_oauth_client("c", "s", ["password"])
    with pytest.raises(StandinControlError, match=r"answered 404"):
        control.add_participant("no-such-conversation", "no-such-user")


def test_an_unreachable_standin_raises() -> None:
    with pytest.raises(StandinControlError, match="failed"):
        StandinControl("http://127.0.0.1:9", timeout=2).recorded_requests()
