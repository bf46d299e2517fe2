"""cfn-lint accepts template.yaml, offline: it ships its resource specifications and SAM schemas."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint_file  # type: ignore[import-untyped]

from tests.infra.cfn import TEMPLATE_PATH

# The bucket and API are regional; lint against a few regions' resource specifications.
REGIONS = ["eu-west-1", "us-east-1", "ap-southeast-2"]


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to reach the network fails the test instead of hanging or silently succeeding."""

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("cfn-lint tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def _lint(path: Path) -> list[str]:
    return [
        f"{m.rule.id} {m.message} (line {m.linenumber})" for m in lint_file(path, ManualArgs(regions=REGIONS))
    ]


def test_template_passes_cfn_lint_offline(offline: None) -> None:
    assert _lint(TEMPLATE_PATH) == []


def test_cfn_lint_really_checks_sam_and_cloudformation_resources(offline: None, tmp_path: Path) -> None:
    # The check above is worth something only if the linter reads both kinds of resource here.
    text = TEMPLATE_PATH.read_text()
    sam_property = "      Description: Scans each uploaded object"
    assert text.count(sam_property) == 1 and text.count("Type: HTTP_PROXY") == 1
    broken = tmp_path / "template.yaml"
    broken.write_text(
        text.replace(sam_property, "      Tracing: Sometimes\n" + sam_property).replace(
            "Type: HTTP_PROXY", "Type: HTTP_PROXIE"
        )
    )
    problems = _lint(broken)
    assert any("'Sometimes'" in p for p in problems), problems
    assert any("'HTTP_PROXIE'" in p for p in problems), problems
