"""Ferry as a real HTTP server in-process (werkzeug, threaded) on a free port, with S3 on a moto server."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from ferry import create_app
from ferry.config import Settings
from tests.conftest import REGION, base_environ, free_port, moto_environ, prepare_bucket
from tests.serving import LiveServer
from tests.viewer.world import World


def live_environ(database_url: str, tmp_path: Path, moto: str, world: World, port: int) -> dict[str, str]:
    """The environment of a Ferry serving on `port` against moto and the stand-in (also for a subprocess)."""
    return {
        **base_environ(database_url, tmp_path),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        **moto_environ(moto),
        "AWS_REGION": REGION,
        "GENESYS_API_BASE_URL": world.base_url,
        "GENESYS_LOGIN_BASE_URL": world.base_url,
        # Pages served by the moto server play the Genesys agent UI that frames Ferry.
        "GENESYS_HOST_ORIGINS": moto,
    }


def live_settings(database_url: str, tmp_path: Path, moto: str, world: World, port: int) -> Settings:
    return Settings.from_env(live_environ(database_url, tmp_path, moto, world, port))


class LiveFerry(LiveServer):
    """A running Ferry; `url` is its PUBLIC_BASE_URL."""

    def __init__(self, app: Flask, port: int, world: World) -> None:
        super().__init__(app, port)
        self.world = world

    @classmethod
    def build(cls, database_url: str, tmp_path: Path, moto: str, standin_url: str) -> LiveFerry:
        port = free_port()
        world = World(standin_url).seed(["http://ferry.test", f"http://127.0.0.1:{port}"])
        settings = live_settings(database_url, tmp_path, moto, world, port)
        prepare_bucket(settings)
        return cls(create_app(settings), port, world)
