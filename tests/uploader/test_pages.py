"""The widget's pages: strict CSP without inline script, framing only for the embed and only by
WIDGET_ORIGINS, every visible text from strings.js, the embed loader."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

STATIC = Path(__file__).resolve().parents[2] / "uploader" / "static"


def test_the_chat_page_has_a_strict_csp_and_is_never_framed(api: FlaskClient) -> None:
    answer = api.get("/chat")
    assert answer.status_code == 200
    csp = answer.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert answer.headers["X-Frame-Options"] == "DENY"
    html = answer.get_data(as_text=True)
    # No inline script or style anywhere: every <script> has a src, no on* handler, no style attribute.
    assert re.findall(r"<script(?![^>]*\bsrc=)", html) == []
    assert re.search(r"\son[a-z]+=", html) is None and " style=" not in html


def test_the_frame_may_be_embedded_only_by_widget_origins(make_app: Callable[..., Flask]) -> None:
    app = make_app(widget_origins=("https://www.acme.example", "https://help.acme.example"))
    answer = app.test_client().get("/chat/frame")
    csp = answer.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://www.acme.example https://help.acme.example" in csp
    assert "X-Frame-Options" not in answer.headers
    assert 'data-host-origins="https://www.acme.example https://help.acme.example"' in answer.get_data(
        as_text=True
    )


def test_the_embed_loader_is_served_for_other_sites(api: FlaskClient) -> None:
    answer = api.get("/chat/embed.js")
    body = answer.get_data(as_text=True)
    answer.close()
    assert answer.status_code == 200 and answer.mimetype == "text/javascript"
    assert answer.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert "/chat/frame?" in body


def test_every_text_of_the_page_comes_from_the_strings_module(api: FlaskClient) -> None:
    html = api.get("/chat").get_data(as_text=True)
    keys = set(re.findall(r'data-string(?:-aria-label)?="([A-Za-z]+)"', html))
    strings = (STATIC / "chat" / "strings.js").read_text()
    assert keys and all(re.search(rf"^\s+{key}:", strings, re.MULTILINE) for key in keys)
    # The names tests and screen readers rely on.
    for name in ("Your name", "Email", "Start chat", "Message", "Send"):
        assert f'"{name}"' in strings
    # Elements that show text have none of their own in the template.
    assert re.search(r"<(label|button|h1)[^>]*data-string=\"[A-Za-z]+\"[^>]*>[^<\s]", html) is None


def test_widget_scripts_never_write_html() -> None:
    for script in [*STATIC.glob("chat/*.js"), STATIC / "embed.js"]:
        source = script.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in source, f"{script.name} uses {sink}"
