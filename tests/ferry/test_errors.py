"""The error registry: every code is raised somewhere, every raised code is registered, every message
renders from the values its refusals pass."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest

from ferry.errors import CODES, Refusal

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("ferry", "uploader")
REFUSALS = {"Refusal", "UploadError", "UploadRejected"}


def _sources(only: set[str] | None = None) -> list[ast.Module]:
    """The product's modules (or only these paths), less the registry itself."""
    paths = [path for package in PRODUCT for path in sorted((ROOT / package).rglob("*.py"))]
    return [
        ast.parse(path.read_text(), str(path))
        for path in paths
        if path != ROOT / "ferry" / "errors.py" and (only is None or str(path.relative_to(ROOT)) in only)
    ]


def raised_codes(only: set[str] | None = None) -> dict[str, set[frozenset[str]]]:
    """Each code built as `Refusal("code", value=...)` in the product, with the value names passed."""
    found: dict[str, set[frozenset[str]]] = {}
    for tree in _sources(only):
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in REFUSALS
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                names = frozenset(k.arg for k in node.keywords if k.arg and k.arg != "headers")
                found.setdefault(str(node.args[0].value), set()).add(names)
    return found


def _constants() -> set[str]:
    return {
        node.value
        for tree in _sources()
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


def _fields(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


def test_every_raised_code_is_registered_and_passes_what_its_message_names() -> None:
    raised = raised_codes()
    assert raised, "the scan finds the product's refusals"
    for code, calls in raised.items():
        assert code in CODES, f"{code} is raised but not registered in ferry/errors.py"
        for names in calls:
            assert names == _fields(CODES[code].message), (code, sorted(names))


def test_every_registered_code_is_used_by_the_product() -> None:
    # Codes chosen by a caller (a rate limit's code) are passed as plain strings, not in a Refusal(...).
    unused = set(CODES) - _constants()
    assert not unused, f"registered but never raised: {sorted(unused)}"


@pytest.mark.parametrize("code", sorted(CODES))
def test_a_refusal_carries_its_registered_status_and_message(code: str) -> None:
    values = {name: f"<{name}>" for name in _fields(CODES[code].message)}
    refusal = Refusal(code, headers={"Retry-After": "3"}, **values)
    assert refusal.status == CODES[code].status
    assert refusal.body() == {
        "error": code,
        "message": CODES[code].message.format(**values),
        "retryable": CODES[code].retryable,
        **values,
    }
    assert all(f"<{name}>" in refusal.message for name in values)
    assert code in str(refusal) and refusal.headers == {"Retry-After": "3"}


def test_an_unregistered_code_cannot_be_raised() -> None:
    with pytest.raises(KeyError):
        Refusal("no_such_code")


def test_answers_the_widget_retries_by_their_status_say_they_are_retryable() -> None:
    # The widget's back-off retries 429 and 5xx answers without reading the code (multipart.js).
    assert all(spec.retryable for spec in CODES.values() if spec.status == 429 or spec.status >= 500)
