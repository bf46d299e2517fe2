"""create_app: configuration, request ids, health endpoints, operator commands."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from ferry import create_app
from ferry.config import ConfigError, Settings
from ferry.logs import JsonFormatter, scrub
from ferry.services import Services


def test_the_default_app_is_not_in_testing_mode(database_url: str, tmp_path: Path) -> None:
    app = create_app(
        {"FERRY_ENV": "development", "DATABASE_URL": database_url, "FERRY_INSTANCE_PATH": str(tmp_path)}
    )
    assert not app.testing
    assert app.config["MAX_CONTENT_LENGTH"] == 64 * 1024


def test_missing_production_secret_stops_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SECRET_KEY", "FERRY_ENV"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY is required"):
        create_app({"FERRY_ENV": "production"})


def test_settings_object_is_used_as_is(settings: Settings, aws: None) -> None:
    app = create_app(settings)
    services: Services = app.extensions["ferry"]
    assert services.settings is settings
    assert app.testing


def test_healthz_and_request_id(client: FlaskClient) -> None:
    answer = client.get("/healthz", headers={"X-Request-ID": "abcdef123456"})
    assert answer.status_code == 200
    assert answer.json == {"status": "ok"}
    assert answer.headers["X-Request-ID"] == "abcdef123456"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    generated = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"}).headers["X-Request-ID"]
    assert generated != "bad id with spaces" and len(generated) == 32


def test_oversized_request_bodies_are_refused(client: FlaskClient, app: Flask) -> None:
    @app.post("/_echo")
    def _echo() -> str:
        from flask import request

        return str(len(request.get_data()))

    assert client.post("/_echo", data=b"x" * 1024).status_code == 200
    assert client.post("/_echo", data=b"x" * (65 * 1024)).status_code == 413


def test_storage_init_command_prepares_the_bucket(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["storage", "init", "--create"])
    assert result.exit_code == 0, result.output
    assert "ready" in result.output
    shown = json.loads(app.test_cli_runner().invoke(args=["storage", "show"]).output)
    assert shown["cors"][0]["ExposeHeaders"] == ["ETag"]


@pytest.mark.parametrize(
    ("raw", "leaked"),
    [
        ("GET https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4&X-Amz-Signature=deadbeef", "deadbeef"),
        ("Authorization: Bearer eyJhbGciOi.secret.part", "eyJhbGciOi.secret.part"),
        ('{"access_token": "tok-123", "x": 1}', "tok-123"),
        ("grant_type=authorization_code&code=abc123&redirect_uri=x", "abc123"),
        ("client_secret=s3cr3t", "s3cr3t"),
    ],
)
def test_logs_never_carry_credentials(raw: str, leaked: str) -> None:
    assert leaked not in scrub(raw)
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "%s", (raw,), None)
    line = json.loads(JsonFormatter().format(record))
    assert leaked not in line["message"]
    assert line["level"] == "INFO"
