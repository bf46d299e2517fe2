"""The one refusal handler, the OpenAPI document's error enums, and the codes the widget's scripts
branch on: all from the registry in ferry/errors.py."""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from ferry.errors import CODES, Refusal
from tests.ferry.test_errors import raised_codes
from uploader.errors import refusal_response
from uploader.openapi import OPENAPI_PATH

STATIC = Path(__file__).resolve().parents[2] / "uploader" / "static"
# `x.code === "parts_missing"`, `"parts_missing" !== x.code`, and the same for `.error`.
BRANCH = re.compile(
    r"""\.(?:code|error)\s*[!=]==?\s*["'](\w+)["']|["'](\w+)["']\s*[!=]==?\s*[\w.]*\.(?:code|error)\b"""
)


def test_the_handler_answers_the_registered_status_and_message(app: Flask) -> None:
    for code, spec in CODES.items():
        values = {field: 7 for _, field, _, _ in string.Formatter().parse(spec.message) if field}
        with app.test_request_context():
            answer, status, headers = refusal_response(Refusal(code, headers={"Retry-After": "7"}, **values))
            body = answer.json
        assert status == spec.status, code
        assert body == {
            "error": code,
            "message": spec.message.format(**values),
            "retryable": spec.retryable,
            **values,
        }
        assert headers == {"Retry-After": "7"}


def test_the_blueprint_routes_refusals_to_the_handler(client: FlaskClient) -> None:
    answer = client.post("/chat/api/chats", json={})
    assert answer.status_code == CODES["csrf"].status
    assert answer.json == {"error": "csrf", "message": CODES["csrf"].message, "retryable": False}


def _enums(node: Any) -> list[list[str]]:
    """Every `error` enum in the document's responses."""
    if isinstance(node, dict):
        found = (
            [node["error"]["enum"]] if isinstance(node.get("error"), dict) and "enum" in node["error"] else []
        )
        return found + [e for value in node.values() for e in _enums(value)]
    if isinstance(node, list):
        return [e for value in node for e in _enums(value)]
    return []


def test_the_openapi_error_enums_come_from_the_registry(client: FlaskClient) -> None:
    document = client.get(OPENAPI_PATH).json
    error = document["components"]["schemas"]["Error"]
    assert error["properties"]["error"]["enum"] == sorted(CODES)
    assert "retryable" in error["required"]
    documented: set[str] = set()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                for enum in _enums(response):
                    assert {CODES[code].status for code in enum} == {int(status)}, (path, method, status)
                    documented.update(enum)
    # Every code the upload routes (and the session and CSRF checks they make) can raise is documented.
    upload_sources = {"ferry/attachments.py", "uploader/uploads.py", "uploader/session.py"}
    assert set(raised_codes(upload_sources)) <= documented


def test_the_widget_branches_only_on_registered_codes() -> None:
    branched = {
        code
        for path in STATIC.rglob("*.js")
        for match in BRANCH.finditer(path.read_text())
        for code in match.groups()
        if code
    }
    assert branched, "the scan finds the codes the scripts compare against"
    assert branched <= set(CODES), sorted(branched - set(CODES))
