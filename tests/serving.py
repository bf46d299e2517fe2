"""Ferry served over real HTTP for browser and end-to-end tests: as deployed (`Gunicorn`: the shipped
gunicorn.conf.py, gevent workers, in child processes), or in-process (`LiveServer`: werkzeug, threaded,
loopback) where a test reads the app's own memory.

Stopping a LiveServer is ordered so that nothing outlives the test: the app stops taking requests (a
client may still reach a connection accepted before), the requests being answered finish (an event
stream within CHAT_STREAM_SECONDS), and only then are the app's database connections closed: one still
in use would be left open, and one opened afterwards would never be closed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Self

import requests
from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from ferry.config import PROJECT_ROOT
from ferry.services import Services


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Poll `condition` until it answers something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


# Far longer than any request of a test takes, event streams included.
DRAIN_SECONDS = 15.0
REFUSED = [("Content-Type", "text/plain"), ("Content-Length", "0"), ("Connection", "close")]


class InFlight:
    """WSGI middleware knowing the requests being answered, by the thread answering each; once closed,
    new requests get a 503 without reaching the app.

    A request counts until its thread is done with the connection (werkzeug answers one request per
    connection), not until the body's close(): werkzeug skips that when the client resets the connection
    while it drains the socket, as a browser following a redirect elsewhere does.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests: dict[int, str] = {}
        self.idle = threading.Condition()
        self.closed = False

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        with self.idle:
            if self.closed:
                start_response("503 Service Unavailable", REFUSED)
                return []
            self.requests[threading.get_ident()] = f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}"
        return self.app(environ, start_response)

    def connection_done(self) -> None:
        """The calling handler thread has finished with its connection."""
        with self.idle:
            if self.requests.pop(threading.get_ident(), None) is not None:
                self.idle.notify_all()

    def close(self, timeout: float) -> None:
        """Refuse new requests; return once none is being answered, or fail naming those still are."""
        with self.idle:
            self.closed = True
            if not self.idle.wait_for(lambda: not self.requests, timeout):
                still = sorted(self.requests.values())
                raise AssertionError(f"requests still in flight after {timeout} s: {still}")


class LiveServer:
    """`app` at http://127.0.0.1:`port` in a background thread; `stop()` (or leaving the `with`) ends it
    and closes the app's services."""

    def __init__(self, app: Flask, port: int) -> None:
        self.app = app
        self.url = f"http://127.0.0.1:{port}"
        in_flight = self.in_flight = InFlight(app.wsgi_app)
        app.wsgi_app = in_flight  # type: ignore[method-assign]

        class Handler(WSGIRequestHandler):
            def handle(self) -> None:
                try:
                    super().handle()
                finally:
                    in_flight.connection_done()

        self._server: BaseWSGIServer = make_server(
            "127.0.0.1", port, app, threaded=True, request_handler=Handler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="ferry-live", daemon=True)

    @property
    def services(self) -> Services:
        services: Services = self.app.extensions["ferry"]
        return services

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        try:
            self.in_flight.close(DRAIN_SECONDS)
        finally:
            self._server.shutdown()
            self._thread.join()
            self._server.server_close()
            self.services.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Gunicorn:
    """`wsgi:app` under gunicorn with the shipped config (gevent, WEB_CONCURRENCY workers, default 2) at
    http://127.0.0.1:`port`, configured by `environ` alone, as on Heroku; its log goes to `log_path`."""

    def __init__(self, environ: Mapping[str, str], port: int, log_path: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self._environ = {**os.environ, **environ}
        self._port = port
        self._log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        argv = [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            "gunicorn.conf.py",
            "-b",
            f"127.0.0.1:{self._port}",
        ]
        with self._log_path.open("wb") as log:  # the child keeps its own copy of the descriptor
            self._process = subprocess.Popen(
                [*argv, "wsgi:app"], env=self._environ, cwd=PROJECT_ROOT, stdout=log, stderr=log
            )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_ready(self) -> None:
        def ready() -> bool:
            assert self._process is not None
            if self._process.poll() is not None:
                raise AssertionError(f"gunicorn exited with {self._process.returncode}: {self.log()}")
            try:
                return requests.get(f"{self.url}/healthz", timeout=1).status_code == 200
            except requests.RequestException:
                return False

        try:
            wait_for(ready, timeout=30)
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {self.log()}") from None

    def log(self) -> str:
        """The end of gunicorn's log (errors and the app's JSON lines)."""
        return self._log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        """SIGTERM, as Heroku stops a dyno: the open streams end at once and the shutdown must not hang."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise AssertionError(f"gunicorn did not stop within 30 s of SIGTERM: {self.log()}") from None
        log = self._log_path.read_text(errors="replace")
        if process.returncode != 0 or "Exception in worker process" in log:
            raise AssertionError(f"gunicorn's shutdown failed (exit {process.returncode}): {self.log()}")

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
