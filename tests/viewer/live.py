"""Ferry as a real HTTP server in-process (werkzeug, threaded) on a free port, with S3 on a moto server."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from ferry import create_app
from ferry.config import Settings
from ferry.services import Services
from tests.conftest import REGION, base_environ, free_port, prepare_bucket
from tests.viewer.world import World


def live_settings(database_url: str, tmp_path: Path, moto: str, world: World, port: int) -> Settings:
    return Settings.from_env(
        {
            **base_environ(database_url, tmp_path),
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "S3_ENDPOINT_URL": moto,
            "SQS_ENDPOINT_URL": moto,
            "SQS_QUEUE_URL": f"{moto}/123456789012/ferry-live",
            "AWS_REGION": REGION,
            "GENESYS_API_BASE_URL": world.base_url,
            "GENESYS_LOGIN_BASE_URL": world.base_url,
            # Pages served by the moto server play the Genesys agent UI that frames Ferry.
            "GENESYS_HOST_ORIGINS": moto,
        }
    )


@dataclass
class LiveFerry:
    """A running Ferry; `url` is its PUBLIC_BASE_URL."""

    app: Flask
    port: int
    world: World
    _server: BaseWSGIServer = field(init=False, repr=False)
    _thread: threading.Thread = field(init=False, repr=False)

    @classmethod
    def build(cls, database_url: str, tmp_path: Path, moto: str, standin_url: str) -> LiveFerry:
        port = free_port()
        world = World(standin_url).seed(["http://ferry.test", f"http://127.0.0.1:{port}"])
        settings = live_settings(database_url, tmp_path, moto, world, port)
        prepare_bucket(settings)
        return cls(app=create_app(settings), port=port, world=world)

    def __post_init__(self) -> None:
        self._server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name="ferry-live", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def services(self) -> Services:
        services: Services = self.app.extensions["ferry"]
        return services

    def __enter__(self) -> LiveFerry:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()
        self.services.close()
