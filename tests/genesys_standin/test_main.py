"""`python -m genesys_standin`: settings from STANDIN_* variables, and the server it starts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from genesys_standin.__main__ import settings_from_env
from genesys_standin.settings import StandinSettings
from tests.serving import wait_for

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_settings_come_from_prefixed_variables() -> None:
    settings = settings_from_env(
        {
            "STANDIN_RATE_LIMIT_PER_MINUTE": "60",
            "STANDIN_WEBHOOK_BACKOFF_BASE_SECONDS": "0.5",
            "STANDIN_FETCH_ATTACHMENTS": "false",
            "STANDIN_HOME_ORG_NAME": "Acme",
            "STANDIN_OUTBOUND_TYPING_EVENTS": "yes",
            "RATE_LIMIT_PER_MINUTE": "1",
        }
    )
    assert settings == StandinSettings(
        rate_limit_per_minute=60,
        webhook_backoff_base_seconds=0.5,
        fetch_attachments=False,
        home_org_name="Acme",
        outbound_typing_events=True,
    )


@pytest.mark.parametrize(
    ("name", "value"), [("STANDIN_CODE_TTL_SECONDS", "soon"), ("STANDIN_REMEMBER_LOGIN", "maybe")]
)
def test_unreadable_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SystemExit, match=name):
        settings_from_env({name: value})


def test_the_module_serves_on_the_given_port() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "STANDIN_HOME_ORG_NAME": "From env", "PYTHONPATH": str(PROJECT_ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "genesys_standin", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def settings() -> dict[str, object] | None:
            try:
                answer: dict[str, object] = requests.get(
                    f"http://127.0.0.1:{port}/_control/settings", timeout=1
                ).json()
            except requests.ConnectionError:
                return None
            return answer

        assert wait_for(settings, timeout=20)["home_org_name"] == "From env"
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
