"""Ferry: large files from a customer's browser to a Genesys Cloud agent, scanned on the way."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, g, request
from werkzeug.middleware.proxy_fix import ProxyFix

from ferry.config import Settings
from ferry.logs import configure_logging, new_request_id, request_id_var
from ferry.services import EXTENSION_KEY, Services

log = logging.getLogger("ferry.http")


def create_app(config: Mapping[str, Any] | Settings | None = None) -> Flask:
    """Build the Flask app.

    `config` is either ready-made `Settings` or a mapping of environment variables (for example
    ``{"FERRY_ENV": "test", "DATABASE_URL": ...}``) laid over the process environment.
    """
    settings = config if isinstance(config, Settings) else _settings_from(config)
    configure_logging(settings.log_level)

    app = Flask(__name__, instance_path=settings.instance_path)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        TESTING=settings.ferry_env == "test",
        # Uploads go browser → S3; no request Flask handles ever needs more than a few kilobytes.
        MAX_CONTENT_LENGTH=64 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_base_url.startswith("https://"),
        PREFERRED_URL_SCHEME="https" if settings.public_base_url.startswith("https://") else "http",
    )
    # Heroku's router (one proxy hop) sets X-Forwarded-For/Proto/Host.
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    app.extensions[EXTENSION_KEY] = Services(settings)

    _install_request_logging(app)
    _register_blueprints(app)
    _register_commands(app)
    return app


def _settings_from(overrides: Mapping[str, Any] | None) -> Settings:
    import os

    environ = dict(os.environ)
    environ.update({k: str(v) for k, v in (overrides or {}).items()})
    return Settings.from_env(environ)


def _install_request_logging(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if 8 <= len(incoming) <= 64 and incoming.isalnum() else new_request_id()
        g.request_id = request_id
        g.request_token = request_id_var.set(request_id)
        g.request_started = time.monotonic()

    @app.after_request
    def _finish(response: Response) -> Response:
        response.headers["X-Request-ID"] = g.get("request_id", "")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if request.endpoint not in ("static",):
            log.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={"duration_ms": round((time.monotonic() - g.get("request_started", 0)) * 1000, 1)},
            )
        return response

    @app.teardown_request
    def _reset(_exc: BaseException | None) -> None:
        token = g.pop("request_token", None)
        if token is not None:
            request_id_var.reset(token)


def _register_blueprints(app: Flask) -> None:
    from ferry.health import bp as health_bp

    app.register_blueprint(health_bp)
    from uploader import bp as uploader_bp

    app.register_blueprint(uploader_bp)
    from viewer import bp as viewer_bp

    app.register_blueprint(viewer_bp)


def _register_commands(app: Flask) -> None:
    from ferry.attachments import uploads_cli
    from ferry.cli import audit_cli, db_cli, storage_cli
    from ferry.genesys_commands import genesys_cli

    app.cli.add_command(db_cli)
    app.cli.add_command(storage_cli)
    app.cli.add_command(audit_cli)
    from ferry.outbox import outbox_cli

    app.cli.add_command(outbox_cli)
    app.cli.add_command(genesys_cli)
    app.cli.add_command(uploads_cli)
    from scanner.cli import scan_cli

    app.cli.add_command(scan_cli)
