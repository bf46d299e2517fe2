"""scanner/Dockerfile (no Docker engine here: checked by reading it against the code and template.yaml)."""

from __future__ import annotations

import ast
import fnmatch
import re
from pathlib import Path
from typing import Any

import pytest

from tests.infra.cfn import ROOT, load_template, resources

DOCKERFILE = ROOT / "scanner" / "Dockerfile"


@pytest.fixture(scope="module")
def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            pairs.append((keyword.upper(), rest.strip()))
    return pairs


def _copied(instructions: list[tuple[str, str]]) -> set[str]:
    sources: set[str] = set()
    for keyword, rest in instructions:
        if keyword == "COPY":
            *paths, _target = rest.split()
            sources.update(p.rstrip("/") for p in paths if not p.startswith("--"))
    return sources


def _first_party() -> set[str]:
    return {p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file()}


def _runtime_imports(path: Path) -> set[str]:
    """Top-level modules a file imports when it runs (not those under `if TYPE_CHECKING:`)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for branch in node.orelse:
                visit(branch)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    return found


def _commands() -> set[str]:
    template: dict[str, Any] = load_template()
    return {
        f["Properties"]["ImageConfig"]["Command"][0]
        for f in resources(template, "AWS::Serverless::Function").values()
        if f["Properties"]["PackageType"] == "Image"
    }


def test_base_image_is_lambda_python_on_amazon_linux_2023(instructions: list[tuple[str, str]]) -> None:
    (base,) = [rest for keyword, rest in instructions if keyword == "FROM"]
    match = re.fullmatch(r"public\.ecr\.aws/lambda/python:3\.(\d+)", base)
    assert match, base
    # 3.12 is the first Lambda Python image on Amazon Linux 2023 (whose repositories carry ClamAV 1.4).
    assert int(match.group(1)) >= 12


def test_image_installs_clamd_freshclam_and_libmagic(instructions: list[tuple[str, str]]) -> None:
    installs = " ".join(rest for keyword, rest in instructions if keyword == "RUN" and "dnf install" in rest)
    for package in ("clamd1.4", "clamav1.4-freshclam", "file-libs"):
        assert re.search(rf"\b{re.escape(package)}\b", installs), package


def test_default_command_is_the_scanner(instructions: list[tuple[str, str]]) -> None:
    (command,) = [rest for keyword, rest in instructions if keyword == "CMD"]
    assert command == '["scanner.handler.lambda_handler"]'
    assert "scanner.handler.lambda_handler" in _commands()


def test_every_lambda_entry_point_is_in_the_image(instructions: list[tuple[str, str]]) -> None:
    copied = _copied(instructions)
    assert "requirements.txt" in copied
    for command in _commands():
        assert command.split(".")[0] in copied, command
    for template_function in resources(load_template(), "AWS::Serverless::Function").values():
        assert template_function["Metadata"]["Dockerfile"] == "scanner/Dockerfile"
        assert (ROOT / template_function["Metadata"]["DockerContext"] / "scanner" / "Dockerfile").is_file()


def test_image_holds_every_first_party_package_its_code_imports(instructions: list[tuple[str, str]]) -> None:
    copied = _copied(instructions)
    first_party = _first_party()
    packages = copied & first_party
    assert {"ferry", "genesys", "scanner", "authorizer"} <= packages
    missing: dict[str, set[str]] = {}
    for package in packages:
        for source in (ROOT / package).rglob("*.py"):
            needed = (_runtime_imports(source) & first_party) - packages
            if needed:
                missing[str(source.relative_to(ROOT))] = needed
    assert missing == {}, "these would fail with ModuleNotFoundError in the Lambda image"


def test_dockerignore_lets_every_copied_path_through(instructions: list[tuple[str, str]]) -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for source in _copied(instructions):
        excluded = False
        for pattern in patterns:
            negated = pattern.startswith("!")
            if fnmatch.fnmatch(source, pattern.lstrip("!").rstrip("/")):
                excluded = not negated
        assert not excluded, f"{source} is excluded from the build context"
