"""The environment variables Ferry reads, taken from ferry/config.py itself (not from a list kept by hand)."""

from __future__ import annotations

from unittest import mock

import pytest

from ferry import config
from ferry.config import ConfigError, Deployable, Settings


def _read_by(environ: dict[str, str], deployable: Deployable) -> set[str]:
    seen: set[str] = set()
    original = config._Reader._get

    def recording(self: config._Reader, name: str) -> str | None:
        if self.reads(name):
            seen.add(name)
        return original(self, name)

    with mock.patch.object(config._Reader, "_get", recording):
        Settings.from_env(environ, deployable=deployable)
    return seen


def variables_read(deployable: Deployable = Deployable.WEB) -> set[str]:
    """Every variable Settings.from_env reads for `deployable` (both ways of naming the Genesys hosts)."""
    return _read_by({"FERRY_ENV": "development"}, deployable) | _read_by(
        {"FERRY_ENV": "development", "GENESYS_REGION": "eu_west_1"}, deployable
    )


def required_in_production(deployable: Deployable = Deployable.WEB) -> set[str]:
    """The variables production refuses to start `deployable` without (named by the one ConfigError)."""
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({"FERRY_ENV": "production"}, deployable=deployable)
    message = str(refused.value).removeprefix("invalid configuration: ")
    return {problem.split()[0] for problem in message.split("; ")}
