"""The customer side of Ferry: the chat widget (standalone page and embed), its JSON API and event
stream, and the Genesys Open Messaging webhook that brings agent replies back."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint(
    "uploader",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/chat/static",
)

from uploader import api, errors, pages, stream, webhook  # noqa: E402, F401 - the routes register themselves on bp

from . import openapi, uploads  # noqa: E402, F401 - the upload API and its OpenAPI document
