"""The widget's pages: /chat (standalone), /chat/frame (inside the embed's iframe) and /chat/embed.js
(the one script a customer's site includes). Every page carries a strict CSP: scripts only from Ferry,
no inline script, and framing allowed only for the embed, only by WIDGET_ORIGINS."""

from __future__ import annotations

from pathlib import Path

from flask import Response, render_template, send_from_directory

from ferry.config import Settings
from ferry.services import get_services
from uploader.api import API
from uploader.blueprint import bp

STATIC = Path(__file__).resolve().parent / "static"
EMBED_CACHE_SECONDS = 300


def content_security_policy(settings: Settings, frame_ancestors: str) -> str:
    """The widget's CSP; images come only from Ferry's bucket (the agent's files, by presigned URLs)."""
    storage = get_services().storage.origin
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src 'self' data: {storage}",
            f"connect-src 'self' {storage}",  # the widget PUTs files to S3
            "base-uri 'none'",
            "form-action 'none'",
            f"frame-ancestors {frame_ancestors}",
        ]
    )


def _page(mode: str, frame_ancestors: str) -> Response:
    settings = get_services().settings
    host_origins = settings.widget_origins if mode == "embed" else ()
    response = Response(render_template("uploader/chat.html", mode=mode, api=API, host_origins=host_origins))
    response.headers["Content-Security-Policy"] = content_security_policy(settings, frame_ancestors)
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/chat")
def chat_page() -> Response:
    """The standalone chat page (never framed)."""
    response = _page("page", "'none'")
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    return response


@bp.get("/chat/frame")
def chat_frame() -> Response:
    """The chat inside the embed's iframe; only Ferry itself and WIDGET_ORIGINS may frame it."""
    ancestors = " ".join(["'self'", *get_services().settings.widget_origins])
    return _page("embed", ancestors)


@bp.get("/chat/embed.js")
def embed_script() -> Response:
    """The loader a customer's site includes with one <script> tag."""
    response = send_from_directory(
        STATIC, "embed.js", mimetype="text/javascript", max_age=EMBED_CACHE_SECONDS
    )
    # Sites that isolate themselves (COEP) may still load it.
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response
