"""Rate limit, fault injection, the request log and reset."""

from __future__ import annotations

import dataclasses

import pytest
import requests

from tests.genesys_standin.conftest import FAST, Standin, assert_error_body


@pytest.mark.parametrize("standin_settings", [dataclasses.replace(FAST, rate_limit_per_minute=3)])
def test_client_credentials_tokens_are_rate_limited(standin: Standin, service_token: str) -> None:
    for _ in range(3):
        assert standin.api("GET", "/api/v2/tokens/me", service_token).status_code == 200
    limited = standin.api("GET", "/api/v2/tokens/me", service_token)
    error = assert_error_body(limited, 429, "too.many.requests.retry.after")
    retry_after = int(limited.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert f"[{retry_after}]" in error["message"]
    # Another token has its own budget, and user tokens are not counted.
    assert standin.api("GET", "/api/v2/tokens/me", standin.service_token()).status_code == 200
    user_token = standin.user_token(standin.user())
    for _ in range(5):
        assert standin.api("GET", "/api/v2/tokens/me", user_token).status_code == 200


def test_a_fault_answers_its_status_a_limited_number_of_times(standin: Standin, service_token: str) -> None:
    fault = standin.control(
        "POST",
        "/faults",
        json={"path_pattern": "/api/v2/tokens/*", "status": 503, "retry_after": 2, "count": 2},
    )
    assert fault.status_code == 201
    for _ in range(2):
        answer = standin.api("GET", "/api/v2/tokens/me", service_token)
        assert_error_body(answer, 503, "service.unavailable")
        assert answer.headers["Retry-After"] == "2"
    assert standin.api("GET", "/api/v2/tokens/me", service_token).status_code == 200
    assert standin.control("GET", "/faults").json()[0]["fired"] == 2


def test_faults_match_method_and_regex_and_cover_the_token_endpoint(standin: Standin) -> None:
    client_id, secret = standin.client()
    standin.control("POST", "/faults", json={"path_pattern": "^/oauth/tok", "method": "post", "status": 429})
    limited = standin.http.post(
        f"{standin.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
        timeout=10,
    )
    assert_error_body(limited, 429, "too.many.requests.retry.after")
    assert standin.http.get(f"{standin.url}/oauth/token", timeout=10).status_code == 405  # GET does not match
    assert standin.control("DELETE", "/faults").status_code == 204
    ok = standin.http.post(
        f"{standin.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
        timeout=10,
    )
    assert ok.status_code == 200


def test_a_fault_can_drop_the_connection(standin: Standin, service_token: str) -> None:
    standin.control(
        "POST", "/faults", json={"path_pattern": "/api/v2/users/me", "drop_connection": True, "count": 1}
    )
    with pytest.raises(requests.ConnectionError):
        standin.api("GET", "/api/v2/users/me", service_token)
    assert standin.api("GET", "/api/v2/users/me", service_token).status_code == 400  # not.a.user again


def test_a_fault_can_delay_without_failing(standin: Standin, service_token: str) -> None:
    standin.control(
        "POST", "/faults", json={"path_pattern": "/api/v2/tokens/me", "delay_ms": 300, "count": 1}
    )
    with pytest.raises(requests.Timeout):
        standin.http.get(
            f"{standin.url}/api/v2/tokens/me",
            headers={"Authorization": f"Bearer {service_token}"},
            timeout=0.05,
        )
    assert standin.api("GET", "/api/v2/tokens/me", service_token).status_code == 200


def test_fault_requests_are_validated(standin: Standin) -> None:
    assert standin.control("POST", "/faults", json={"path_pattern": "/x"}).status_code == 400
    assert standin.control("POST", "/faults", json={"path_pattern": "/x", "status": 200}).status_code == 400
    assert (
        standin.control("POST", "/faults", json={"path_pattern": "/x", "status": 500, "rate": 2}).status_code
        == 400
    )


def test_the_request_log_names_the_token_kind(standin: Standin, service_token: str) -> None:
    user_token = standin.user_token(standin.user())
    standin.api("GET", "/api/v2/tokens/me", service_token)
    standin.api("GET", "/api/v2/users/me", user_token)
    standin.api("GET", "/api/v2/users/me", None)
    standin.api("GET", "/api/v2/users/me", "bogus")
    log = standin.control("GET", "/requests").json()
    assert [(r["method"], r["path"], r["status"], r["token_kind"]) for r in log[-4:]] == [
        ("GET", "/api/v2/tokens/me", 200, "client"),
        ("GET", "/api/v2/users/me", 200, "user"),
        ("GET", "/api/v2/users/me", 401, "none"),
        ("GET", "/api/v2/users/me", 401, "invalid"),
    ]
    assert log[0]["path"] == "/oauth/token"
    assert all(r["time"].endswith("Z") for r in log)
    assert not any(r["path"].startswith("/_control") for r in log)


def test_reset_forgets_everything(standin: Standin, service_token: str) -> None:
    user_id = standin.user()
    standin.control("POST", "/faults", json={"path_pattern": "/never", "status": 500})
    assert standin.control("POST", "/reset").status_code == 204
    assert standin.control("GET", "/requests").json() == []
    assert standin.api("GET", "/api/v2/tokens/me", service_token).status_code == 401
    assert all(u["id"] != user_id for u in standin.control("GET", "/users").json())
    assert standin.control("GET", "/faults").json() == []
    assert standin.conversations() == []


def test_control_settings_show_the_configuration(standin: Standin) -> None:
    settings = standin.control("GET", "/settings").json()
    assert settings["webhook_backoff_base_seconds"] == FAST.webhook_backoff_base_seconds
    assert "console_secret_key" not in settings
