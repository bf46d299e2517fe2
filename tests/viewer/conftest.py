"""Viewer fixtures: the Genesys stand-in (seeded), a viewer app pointed at it, and a login helper."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from ferry import create_app
from ferry.config import Settings
from ferry.services import Services
from genesys.client import GenesysClient
from genesys_standin.server import StandinServer
from tests.viewer.live import LiveFerry
from tests.viewer.world import World

GENESYS_APPS = "https://apps.mypurecloud.ie"


@pytest.fixture(scope="session")
def standin_server() -> Iterator[StandinServer]:
    """One stand-in for the session; `world` empties and re-seeds it for every test."""
    with StandinServer() as server:
        yield server


@pytest.fixture
def world(standin_server: StandinServer) -> World:
    return World(standin_server.base_url).seed(["http://ferry.test"])


def genesys_settings(settings: Settings, world: World, **changes: object) -> Settings:
    """`settings` pointed at the stand-in, framed by a Genesys apps origin."""
    return dataclasses.replace(
        settings,
        genesys_api_base_url=world.base_url,
        genesys_login_base_url=world.base_url,
        genesys_host_origins=(GENESYS_APPS,),
        **changes,  # type: ignore[arg-type]
    )


@pytest.fixture
def viewer_settings(settings: Settings, world: World) -> Settings:
    return genesys_settings(settings, world)


@contextmanager
def running_app(settings: Settings) -> Iterator[Flask]:
    """An app whose database connections are closed at the end."""
    application = create_app(settings)
    try:
        yield application
    finally:
        services: Services = application.extensions["ferry"]
        services.close()


@pytest.fixture
def viewer_app(viewer_settings: Settings, aws: None) -> Iterator[Flask]:
    with running_app(viewer_settings) as application:
        yield application


@pytest.fixture
def client(viewer_app: Flask) -> FlaskClient:
    return viewer_app.test_client()


@pytest.fixture
def services(viewer_app: Flask) -> Services:
    result: Services = viewer_app.extensions["ferry"]
    return result


@pytest.fixture
def impatient_genesys(services: Services) -> GenesysClient:
    """The app's Genesys client, retrying once and quickly, for tests where Genesys fails."""
    settings = services.settings
    genesys = GenesysClient(
        api_base_url=settings.genesys_api_base_url,
        login_base_url=settings.genesys_login_base_url,
        client_id=settings.genesys_client_id,
        client_secret=settings.genesys_client_secret,
        timeout=2,
        max_attempts=2,
        backoff_base=0.01,
    )
    services.__dict__["genesys"] = genesys
    return genesys


Login = Callable[..., TestResponse]


@pytest.fixture
def login(client: FlaskClient, world: World) -> Login:
    """Sign in as one of world's users through the real authorization-code flow (returns the callback)."""

    def sign_in(user: str, next_path: str = "/me") -> TestResponse:
        start = client.get(f"/login?next={quote(next_path)}")
        assert start.status_code == 302
        callback = urlsplit(world.pick(start.headers["Location"], user))
        return client.get(f"{callback.path}?{callback.query}")

    return sign_in


@pytest.fixture
def live(
    database_url: str, tmp_path: Path, moto_reset: str, standin_server: StandinServer
) -> Iterator[LiveFerry]:
    """Ferry serving real HTTP as deployed, for browsers."""
    with LiveFerry.build(database_url, tmp_path, moto_reset, standin_server.base_url) as server:
        yield server
