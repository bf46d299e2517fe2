"""app.json (Heroku): the app's shape, and every environment variable Ferry reads, described."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.infra.cfn import ROOT
from tests.infra.ferry_settings import required_in_production, variables_read

# Variables read by something other than ferry/config.py: boto3's credentials, and gunicorn.conf.py.
BOTO3_CREDENTIALS = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
# Heroku sets PORT itself; a config var would fight the router.
SET_BY_HEROKU = {"PORT"}


@pytest.fixture(scope="module")
def app_json() -> dict[str, Any]:
    return dict(json.loads((ROOT / "app.json").read_text()))


def gunicorn_variables() -> set[str]:
    source = (ROOT / "gunicorn.conf.py").read_text()
    return set(re.findall(r"os\.environ\.get\(\s*[\"']([A-Z0-9_]+)[\"']", source)) - SET_BY_HEROKU


def addon_variables(app_json: dict[str, Any]) -> set[str]:
    """Config vars the add-ons set: Heroku Postgres attached as DATABASE gives DATABASE_URL."""
    return {
        f"{addon.get('as', 'DATABASE')}_URL"
        for addon in app_json["addons"]
        if "heroku-postgresql" in addon["plan"]
    }


def procfile_processes() -> set[str]:
    return {line.split(":", 1)[0] for line in (ROOT / "Procfile").read_text().splitlines() if ":" in line}


def test_gunicorn_variables_are_found() -> None:
    # Guards the regular expression above: an empty set would make the next tests vacuous for them.
    assert {"WEB_CONCURRENCY", "GUNICORN_CONNECTIONS", "GUNICORN_TIMEOUT"} <= gunicorn_variables()


def test_every_variable_ferry_reads_is_in_app_json(app_json: dict[str, Any]) -> None:
    documented = set(app_json["env"]) | addon_variables(app_json)
    missing = (variables_read() | gunicorn_variables() | BOTO3_CREDENTIALS) - documented
    assert missing == set(), "describe these in app.json (and README.md, Deployment)"


def test_app_json_describes_nothing_ferry_does_not_read(app_json: dict[str, Any]) -> None:
    stale = set(app_json["env"]) - variables_read() - gunicorn_variables() - BOTO3_CREDENTIALS
    assert stale == set()


def test_add_on_variables_are_left_to_the_add_ons(app_json: dict[str, Any]) -> None:
    # Setting DATABASE_URL by hand would clash with the Postgres add-on attaching under that name.
    assert addon_variables(app_json) == {"DATABASE_URL"}
    assert not set(app_json["env"]) & (addon_variables(app_json) | SET_BY_HEROKU)


def test_every_variable_is_described(app_json: dict[str, Any]) -> None:
    for name, spec in app_json["env"].items():
        assert len(spec.get("description", "")) >= 10, name


def test_what_production_requires_is_required(app_json: dict[str, Any]) -> None:
    env = app_json["env"]
    for name in required_in_production() | BOTO3_CREDENTIALS:
        assert env[name]["required"] is True or env[name].get("generator") == "secret", name


def test_secrets_are_generated_never_shipped(app_json: dict[str, Any]) -> None:
    env = app_json["env"]
    assert env["SECRET_KEY"]["generator"] == "secret"
    assert env["GENESYS_WEBHOOK_SECRET"]["generator"] == "secret"
    for name, spec in env.items():
        if "SECRET" in name:
            assert "value" not in spec, name


def test_the_app_runs_in_production_mode(app_json: dict[str, Any]) -> None:
    assert app_json["env"]["FERRY_ENV"]["value"] == "production"


def test_heroku_app_shape(app_json: dict[str, Any]) -> None:
    assert app_json["stack"] == "heroku-24"
    assert app_json["buildpacks"] == [{"url": "heroku/python"}]
    assert "repository" not in app_json
    # Every long-running Procfile process has a dyno; the release phase is not a dyno.
    assert set(app_json["formation"]) == procfile_processes() - {"release"} == {"web", "worker"}
    assert all(f["quantity"] >= 1 for f in app_json["formation"].values())
