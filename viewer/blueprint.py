"""The viewer's blueprint, apart from the package: the modules that register routes on it import it from
here, not from the package that imports them."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint(
    "viewer",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/viewer/static",
)
