"""The environment variables Ferry reads, taken from ferry/config.py itself (not from a list kept by hand)."""

from __future__ import annotations

from unittest import mock

import pytest

from ferry import config
from ferry.config import ConfigError, Settings


def _read_by(environ: dict[str, str]) -> set[str]:
    seen: set[str] = set()
    original = config._Reader._get

    def recording(self: config._Reader, name: str) -> str | None:
        seen.add(name)
        return original(self, name)

    with mock.patch.object(config._Reader, "_get", recording):
        Settings.from_env(environ)
    return seen


def variables_read() -> set[str]:
    """Every variable Settings.from_env reads (both ways of naming the Genesys hosts)."""
    return _read_by({"FERRY_ENV": "development"}) | _read_by(
        {"FERRY_ENV": "development", "GENESYS_REGION": "eu_west_1"}
    )


def required_in_production() -> set[str]:
    """The variables production refuses to start without (named by the ConfigError)."""
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({"FERRY_ENV": "production"})
    message = str(refused.value).removeprefix("invalid configuration: ")
    return {problem.split()[0] for problem in message.split("; ")}
