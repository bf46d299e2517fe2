"""Authorizer fixtures: a Lambda context, sample events, and the environment pointed at the stand-in."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from authorizer import handler
from genesys_standin.server import StandinServer
from tests.viewer.world import World

EVENTS = Path(__file__).resolve().parent.parent / "events"


@dataclass
class LambdaContext:
    function_name: str = "ferry-authorizer"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:ferry-authorizer"
    aws_request_id: str = "5f0c0ffe-52e4-4a5d-8b8e-000000000001"


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext()


Event = Callable[..., dict[str, Any]]


@pytest.fixture
def event() -> Event:
    """A sample event from tests/events, with its bearer token replaced (or its Authorization removed)."""

    def load(name: str = "authorizer_request", token: str | None = None) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
        data = copy.deepcopy(data)
        for headers in (data.get("headers") or {}, data.get("multiValueHeaders") or {}):
            for key in list(headers):
                if key.lower() == "authorization":
                    if token is None:
                        del headers[key]
                    else:
                        headers[key] = (
                            f"Bearer {token}" if isinstance(headers[key], str) else [f"Bearer {token}"]
                        )
        return data

    return load


@pytest.fixture(scope="session")
def standin_server() -> Iterator[StandinServer]:
    with StandinServer() as server:
        yield server


@pytest.fixture
def world(standin_server: StandinServer) -> World:
    return World(standin_server.base_url).seed(["http://ferry.test"])


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, world: World) -> Iterator[None]:
    """The app's environment variables as the Lambda would get them, pointed at the stand-in."""
    for name, value in {
        "FERRY_ENV": "test",
        "FERRY_INSTANCE_PATH": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
        "GENESYS_API_BASE_URL": world.base_url,
        "GENESYS_LOGIN_BASE_URL": world.base_url,
        "AUTHORIZER_CACHE_SECONDS": "60",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("GENESYS_REGION", raising=False)
    handler.runtime.cache_clear()
    yield
    handler.runtime.cache_clear()
