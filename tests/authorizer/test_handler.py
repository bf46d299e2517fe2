"""authorizer.handler.lambda_handler over sample REQUEST events, against the Genesys stand-in."""

from __future__ import annotations

import logging
import os
import socket
from unittest import mock

import pytest

from authorizer import handler
from ferry.config import DEV_OAUTH_CLIENT_ID, DEV_ORG_ID
from tests.authorizer.conftest import Event, LambdaContext
from tests.viewer.world import PROGRAM_CLIENT_ID, World

API = "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod"
ARN = f"{API}/GET/api/files/6f1c2a44-3f0e-4b8e-9a55-0d7f5b1c2e3a"

pytestmark = pytest.mark.usefixtures("environment")


def statement(answer: dict[str, object]) -> dict[str, object]:
    policy = answer["policyDocument"]
    assert isinstance(policy, dict)
    [only] = policy["Statement"]
    assert only["Action"] == "execute-api:Invoke"
    return dict(only)


def test_an_active_user_of_our_organisation_with_a_role_is_allowed_the_route(
    event: Event, lambda_context: LambdaContext, world: World
) -> None:
    # GIVEN a reviewer's token
    token = world.token("reviewer")

    # WHEN API Gateway asks
    answer = handler.lambda_handler(event(token=token), lambda_context)

    # THEN the requested route is allowed, with who the caller is as context
    assert statement(answer) == {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": [ARN]}
    assert answer["principalId"] == world.users["reviewer"]
    assert answer["context"] == {
        "userId": world.users["reviewer"],
        "userName": "Robin Reviewer",
        "organizationId": DEV_ORG_ID,
        "roles": "Quality Evaluator",
        "access": "reviewer",
    }


def test_the_policy_can_cover_every_route_of_the_api(
    event: Event, lambda_context: LambdaContext, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTHORIZER_POLICY_SCOPE", "api")
    handler.runtime.cache_clear()

    answer = handler.lambda_handler(event(token=world.token("agent")), lambda_context)

    assert statement(answer)["Resource"] == ["arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/*/*"]
    assert answer["context"]["roles"] == "Agent"  # type: ignore[index]


def test_an_http_api_event_is_answered_too(event: Event, lambda_context: LambdaContext, world: World) -> None:
    answer = handler.lambda_handler(
        event("authorizer_request_http_api", token=world.token("agent")), lambda_context
    )

    assert statement(answer)["Effect"] == "Allow"
    assert statement(answer)["Resource"] == [
        "arn:aws:execute-api:eu-west-1:123456789012:h7t7p9a1b2/$default/GET/api/files/6f1c2a44-3f0e-4b8e-9a55-0d7f5b1c2e3a"
    ]


@pytest.mark.parametrize("user", ["inactive", "deleted", "foreign", "norole"])
def test_users_ferry_must_not_serve_are_denied(
    user: str, event: Event, lambda_context: LambdaContext, world: World
) -> None:
    answer = handler.lambda_handler(event(token=world.token(user)), lambda_context)

    assert statement(answer) == {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": [ARN]}
    assert answer["principalId"] == "anonymous" and "context" not in answer


def test_garbage_client_credentials_and_foreign_client_tokens_are_denied(
    event: Event, lambda_context: LambdaContext, world: World
) -> None:
    for token in ("garbage", world.service_token(), world.token("reviewer", client_id=PROGRAM_CLIENT_ID)):
        assert statement(handler.lambda_handler(event(token=token), lambda_context))["Effect"] == "Deny"


def test_in_production_it_starts_and_decides_with_only_its_own_settings(
    event: Event, lambda_context: LambdaContext, world: World
) -> None:
    # GIVEN the environment holds the authorizer's variables and nothing else: no SECRET_KEY, database,
    # bucket, queue, webhook secret or client secret
    own = {
        "FERRY_ENV": "production",
        "GENESYS_API_BASE_URL": world.base_url,
        "GENESYS_LOGIN_BASE_URL": world.base_url,
        "GENESYS_ORG_ID": DEV_ORG_ID,
        "GENESYS_OAUTH_CLIENT_ID": DEV_OAUTH_CLIENT_ID,
        "AUTHORIZER_CACHE_SECONDS": "0",
    }
    with mock.patch.dict(os.environ, own, clear=True):
        handler.runtime.cache_clear()

        # WHEN API Gateway asks for an agent, and for a user of another organisation
        allowed = handler.lambda_handler(event(token=world.token("agent")), lambda_context)
        refused = handler.lambda_handler(event(token=world.token("foreign")), lambda_context)

    # THEN it answers both, from Genesys, with the caller's own token
    assert (statement(allowed)["Effect"], allowed["principalId"]) == ("Allow", world.users["agent"])
    assert statement(refused)["Effect"] == "Deny"


@pytest.mark.parametrize("authorization", [None, "Basic dXNlcjpwYXNz", "Bearer", "Bearer   "])
def test_no_bearer_token_is_api_gateway_s_401(
    authorization: str | None, event: Event, lambda_context: LambdaContext
) -> None:
    request = event("authorizer_request_no_token")
    if authorization is not None:
        request["headers"]["Authorization"] = authorization

    with pytest.raises(Exception, match=r"^Unauthorized$"):
        handler.lambda_handler(request, lambda_context)


def test_genesys_unreachable_is_a_deny_with_a_clear_log_line(
    event: Event,
    lambda_context: LambdaContext,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("GENESYS_API_BASE_URL", f"http://127.0.0.1:{port}")
    handler.runtime.cache_clear()
    token = "a-perfectly-good-token-0123456789"

    with caplog.at_level(logging.INFO, logger="authorizer"):
        answer = handler.lambda_handler(event(token=token), lambda_context)

    assert statement(answer)["Effect"] == "Deny"
    [line] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert line.getMessage() == "Genesys Cloud could not be asked; denying (fail closed)"
    assert line.reason == "genesys_unavailable"
    assert token not in caplog.text


def test_answers_are_cached_by_token_for_a_short_time(
    event: Event, lambda_context: LambdaContext, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    token = world.token("agent")
    world.clear_requests()

    with caplog.at_level(logging.DEBUG):
        for _ in range(5):
            assert statement(handler.lambda_handler(event(token=token), lambda_context))["Effect"] == "Allow"
        assert statement(handler.lambda_handler(event(token="garbage"), lambda_context))["Effect"] == "Deny"
        assert statement(handler.lambda_handler(event(token="garbage"), lambda_context))["Effect"] == "Deny"

    assert [r["path"] for r in world.requests()] == [
        "/api/v2/users/me",
        "/api/v2/tokens/me",
        "/api/v2/users/me",
    ]
    assert token not in caplog.text and "garbage" not in caplog.text


def test_a_deactivated_user_is_denied_once_the_cache_entry_expires(
    event: Event, lambda_context: LambdaContext, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTHORIZER_CACHE_SECONDS", "0")
    handler.runtime.cache_clear()
    token = world.token("agent")
    assert statement(handler.lambda_handler(event(token=token), lambda_context))["Effect"] == "Allow"

    world.update_user("agent", state="inactive")

    assert statement(handler.lambda_handler(event(token=token), lambda_context))["Effect"] == "Deny"
