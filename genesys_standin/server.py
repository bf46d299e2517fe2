"""Run the stand-in in-process on a free loopback port, for tests."""

from __future__ import annotations

import threading
from types import TracebackType

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from genesys_standin.app import create_app
from genesys_standin.context import EXTENSION
from genesys_standin.platform import Platform
from genesys_standin.settings import StandinSettings
from genesys_standin.state import StandinState


class _QuietHandler(WSGIRequestHandler):
    """No access log lines in test output (GET /_control/requests has them all)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


class StandinServer:
    """A threaded werkzeug server for the stand-in; use as a context manager or call start()/stop()."""

    def __init__(
        self, settings: StandinSettings | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.app: Flask = create_app(settings)
        self._server: BaseWSGIServer = make_server(
            host, port, self.app, threaded=True, request_handler=_QuietHandler
        )
        self.host = host
        self.port: int = self._server.server_port
        self.base_url = f"http://{host}:{self.port}"
        # A short poll interval keeps stop() quick (serve_forever checks for shutdown between polls).
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="genesys-standin",
            daemon=True,
        )

    @property
    def platform(self) -> Platform:
        """The stand-in's behaviour and state (conversations, deliveries, settings)."""
        platform: Platform = self.app.extensions[EXTENSION]
        return platform

    @property
    def state(self) -> StandinState:
        """The in-memory state; hold `state.lock` while reading it."""
        return self.platform.state

    @property
    def settings(self) -> StandinSettings:
        """The settings it runs with."""
        return self.platform.settings

    def start(self) -> StandinServer:
        """Start serving in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and stop the webhook delivery threads."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()
        self.platform.close()

    def __enter__(self) -> StandinServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
