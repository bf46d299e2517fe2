"""The agent viewer: Genesys login, per-conversation authorization, attachment pages, QA list and audit."""

from __future__ import annotations

from viewer import api, auth, pages  # noqa: F401 - the modules register their routes on bp
from viewer.blueprint import bp

__all__ = ["bp"]
