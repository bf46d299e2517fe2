"""The stand-in's Flask application: blueprints, faults, the request log and Genesys-shaped errors."""

from __future__ import annotations

import logging
import secrets
import socket
import time

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from genesys_standin import api, console, control, oauth
from genesys_standin.context import EXTENSION, get_platform
from genesys_standin.errors import MESSAGES, ApiError, OAuthError, error_for_status
from genesys_standin.platform import Platform
from genesys_standin.settings import StandinSettings
from genesys_standin.state import RequestRecord, Token, utc_now

log = logging.getLogger("genesys_standin")

# Requests that go through faults and into the request log: what a Genesys client talks to.
OBSERVED_PREFIXES = ("/api/", "/oauth/", "/logout")


def create_app(settings: StandinSettings | None = None) -> Flask:
    """A new stand-in with empty state (its own webhook delivery threads; `Platform.close()` stops them)."""
    settings = settings or StandinSettings()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.console_secret_key or secrets.token_hex(32),
        # Ferry may run on the same host name (another port): cookies must not collide.
        SESSION_COOKIE_NAME="genesys_standin_session",
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
        MAX_CONTENT_LENGTH=settings.max_request_body_bytes,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions[EXTENSION] = Platform(settings)
    app.add_template_filter(console.linkify, "linkify")
    for blueprint in (oauth.bp, api.bp, api.content_bp, control.bp, console.bp):
        app.register_blueprint(blueprint)
    app.before_request(_apply_fault)
    app.after_request(_record_request)
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(OAuthError, lambda error: error.response())
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    return app


def _observed() -> bool:
    return request.path.startswith(OBSERVED_PREFIXES)


def _apply_fault() -> Response | None:
    """Delay, drop or fail a request when a fault matches it."""
    if not _observed():
        return None
    fault = get_platform().state.take_fault(request.method, request.path)
    if fault is None:
        return None
    g.fault_id = fault.id
    if fault.delay_ms:
        time.sleep(fault.delay_ms / 1000)  # the injected latency itself
    if fault.drop_connection:
        connection = request.environ.get("werkzeug.socket")
        if isinstance(connection, socket.socket):
            connection.shutdown(socket.SHUT_RDWR)  # the client sees the connection close without an answer
            return Response(status=500)
        return error_for_status(502, "Connection dropped (fault injected; no socket to drop)").response()
    if fault.status is None:
        return None
    error = error_for_status(fault.status)
    if fault.status == 429:
        error.message = MESSAGES["too.many.requests.retry.after"] % (fault.retry_after or 1)
    if fault.retry_after is not None:
        error.headers["Retry-After"] = str(fault.retry_after)
    return error.response()


def _record_request(response: Response) -> Response:
    """Log what a Genesys client sent and what it got (for GET /_control/requests)."""
    if not _observed():
        return response
    token: Token | None = g.get("token")
    kind = token.kind if token is not None else g.get("caller_kind", "none")
    client_id = token.client_id if token is not None else g.get("oauth_client_id")
    record = RequestRecord(
        method=request.method,
        path=request.path,
        query=request.query_string.decode("latin-1"),
        status=response.status_code,
        time=utc_now(),
        token_kind=kind,
        client_id=client_id,
        user_id=token.user_id if token is not None else None,
        fault_id=g.get("fault_id"),
    )
    state = get_platform().state
    with state.lock:
        state.requests.append(record)
    return response


def _api_error(error: ApiError) -> Response:
    if request.path.startswith("/_control/"):
        response = jsonify({"error": error.message, "code": error.code})
        response.status_code = error.status
        return response
    return error.response()


def _http_error(error: HTTPException) -> Response | HTTPException:
    status = error.code or 500
    if request.path.startswith("/api/"):
        api_error = error_for_status(status)
        if status == 413:
            api_error.message = (
                MESSAGES["request.entity.too.large"] % get_platform().settings.max_request_body_bytes
            )
        return api_error.response()
    if request.path.startswith("/_control/") or request.path == "/oauth/token":
        response = jsonify({"error": error.name, "description": error.description})
        response.status_code = status
        return response
    return error


def _unexpected_error(error: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.path)
    if request.path.startswith("/_control/"):
        response = jsonify({"error": f"{type(error).__name__}: {error}"})
        response.status_code = 500
        return response
    return error_for_status(500).response()
