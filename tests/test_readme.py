"""The README leads with the two commands and documents every environment variable Ferry reads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ferry import config
from ferry.config import Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def variables_read(monkeypatch: pytest.MonkeyPatch, environ: dict[str, str]) -> set[str]:
    seen: set[str] = set()
    original = config._Reader._get

    def recording(self: config._Reader, name: str) -> str | None:
        seen.add(name)
        return original(self, name)

    monkeypatch.setattr(config._Reader, "_get", recording)
    Settings.from_env(environ)
    return seen


def test_every_variable_is_in_the_configuration_table(monkeypatch: pytest.MonkeyPatch) -> None:
    documented = set(re.findall(r"^\| `([A-Z0-9_]+)` \|", README, flags=re.MULTILINE))
    read = variables_read(monkeypatch, {"FERRY_ENV": "development"})
    read |= variables_read(monkeypatch, {"FERRY_ENV": "development", "GENESYS_REGION": "eu_west_1"})
    assert read - documented == set()
    assert documented - read == set(), "the table documents variables Ferry no longer reads"


def test_the_two_commands_come_first() -> None:
    first_section = README.split("\n## ", 2)[1]
    assert first_section.startswith("The two commands")
    assert "make run" in first_section and "make test" in first_section
