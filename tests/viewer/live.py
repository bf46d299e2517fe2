"""Ferry as deployed (gunicorn, the shipped config) on a free port, with S3 on a moto server."""

from __future__ import annotations

from pathlib import Path

from ferry.config import Settings
from ferry.services import Services
from tests.conftest import REGION, base_environ, free_port, moto_environ, prepare_bucket
from tests.serving import Gunicorn
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


class LiveFerry(Gunicorn):
    """A running Ferry as deployed (gunicorn, the shipped config); `url` is its PUBLIC_BASE_URL, and
    `services` reach the same database and bucket from the test, to seed and to check."""

    def __init__(self, environ: dict[str, str], port: int, world: World, log_path: Path) -> None:
        super().__init__(environ, port, log_path)
        self.world = world
        self.services = Services(Settings.from_env(environ))

    def stop(self) -> None:
        try:
            super().stop()
        finally:
            self.services.close()

    @classmethod
    def build(cls, database_url: str, tmp_path: Path, moto: str, standin_url: str) -> LiveFerry:
        port = free_port()
        world = World(standin_url).seed(["http://ferry.test", f"http://127.0.0.1:{port}"])
        environ = live_environ(database_url, tmp_path, moto, world, port)
        prepare_bucket(Settings.from_env(environ))
        return cls(environ, port, world, tmp_path / "gunicorn.log")
