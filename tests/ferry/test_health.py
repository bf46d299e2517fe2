"""/healthz and /readyz against real dependencies: moto, clamd with the test signatures, the stand-in."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from devstack.clamd import ClamdProcess
from ferry import create_app
from ferry.config import Settings
from ferry.services import Services
from genesys.setup import PARTICIPANTS_ROUTE
from genesys_standin.control_client import StandinControl
from genesys_standin.server import StandinServer
from genesys_standin.settings import StandinSettings

MESSAGE_VIEW = PARTICIPANTS_ROUTE.permissions


@pytest.fixture(scope="module")
def standin() -> Iterator[StandinServer]:
    with StandinServer() as server:
        StandinControl(server.base_url).add_ferry_clients()
        yield server


@pytest.fixture
def ready_client() -> Iterator[Callable[..., FlaskClient]]:
    """Build apps from changed settings; their connection pools are closed after the test."""
    built: list[Services] = []

    def build(settings: Settings, **changes: object) -> FlaskClient:
        app = create_app(dataclasses.replace(settings, **changes))  # type: ignore[arg-type]
        built.append(app.extensions["ferry"])
        return app.test_client()

    yield build
    for services in built:
        services.close()


@pytest.fixture
def wired(settings: Settings, aws: None, clamd: ClamdProcess, standin: StandinServer) -> Settings:
    """Settings whose every dependency is up."""
    return dataclasses.replace(
        settings,
        clamd_address=clamd.address,
        genesys_api_base_url=standin.base_url,
        genesys_login_base_url=standin.base_url,
    )


def test_ready_when_everything_answers_and_loud_about_test_signatures(
    wired: Settings, ready_client: Callable[..., FlaskClient]
) -> None:
    answer = ready_client(wired).get("/readyz")
    assert answer.status_code == 200, answer.json
    body = answer.json
    assert body is not None and body["status"] == "ok" and body["failing"] == []
    assert set(body["checks"]) == {"database", "s3", "sqs", "clamd", "genesys", "genesys_access"}
    assert body["checks"]["clamd"]["test_signatures_only"] is True
    assert "TEST" in body["checks"]["clamd"]["warning"].upper()


def test_clamd_down_is_named(
    wired: Settings, tmp_path: Path, ready_client: Callable[..., FlaskClient]
) -> None:
    answer = ready_client(wired, clamd_address=str(tmp_path / "no-clamd.sock")).get("/readyz")
    assert answer.status_code == 503
    assert answer.json is not None and answer.json["failing"] == ["clamd"]


def test_test_signatures_are_not_ready_in_production(
    wired: Settings, ready_client: Callable[..., FlaskClient]
) -> None:
    answer = ready_client(wired, ferry_env="production").get("/readyz")
    assert answer.status_code == 503
    assert answer.json is not None and "clamd" in answer.json["failing"]


def test_genesys_unreachable_is_named(wired: Settings, ready_client: Callable[..., FlaskClient]) -> None:
    answer = ready_client(
        wired, genesys_api_base_url="http://127.0.0.1:9", genesys_login_base_url="http://127.0.0.1:9"
    )
    response = answer.get("/readyz")
    assert response.status_code == 503
    assert response.json is not None and response.json["failing"] == ["genesys", "genesys_access"]


def test_a_missing_permission_of_ferrys_client_is_named(
    settings: Settings, aws: None, clamd: ClamdProcess, ready_client: Callable[..., FlaskClient]
) -> None:
    with StandinServer(StandinSettings(revoked_client_permissions=",".join(MESSAGE_VIEW))) as revoked:
        StandinControl(revoked.base_url).add_ferry_clients()
        client = ready_client(
            settings,
            clamd_address=clamd.address,
            genesys_api_base_url=revoked.base_url,
            genesys_login_base_url=revoked.base_url,
        )
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json
    assert body is not None and body["failing"] == ["genesys_access"]
    assert "conversation:message:view" in body["checks"]["genesys_access"]["error"]


def test_without_clamd_address_the_check_is_skipped_not_failed(
    wired: Settings, ready_client: Callable[..., FlaskClient]
) -> None:
    answer = ready_client(wired, clamd_address="").get("/readyz")
    assert answer.status_code == 200
    assert answer.json is not None and "skipped" in answer.json["checks"]["clamd"]


def test_healthz_touches_nothing(
    settings: Settings, aws: None, tmp_path: Path, ready_client: Callable[..., FlaskClient]
) -> None:
    # Every dependency is unreachable, and the process is still alive.
    client = ready_client(
        settings, clamd_address=str(tmp_path / "x.sock"), genesys_api_base_url="http://127.0.0.1:9"
    )
    assert client.get("/healthz").status_code == 200
