"""The agent viewer: Genesys login, per-conversation authorization, attachment pages, QA list and audit."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint(
    "viewer",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/viewer/static",
)

from viewer import api, auth, pages  # noqa: E402, F401 - the modules register their routes on bp
