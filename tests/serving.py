"""Ferry served over real HTTP in-process (werkzeug, threaded, loopback), for browser and end-to-end tests.

Stopping is ordered so that nothing outlives the test: the app stops taking requests (a client may still
reach a connection accepted before), the requests being answered finish (an event stream within
CHAT_STREAM_SECONDS), and only then are the app's database connections closed: one still in use would be
left open, and one opened afterwards would never be closed.
"""

from __future__ import annotations

import threading
from typing import Any, Self

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from ferry.services import Services

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
