"""The uploader's Blueprint, in a module of its own: the route modules register on it without importing
the package, so that the package and its modules never import each other."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint(
    "uploader",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/chat/static",
)
