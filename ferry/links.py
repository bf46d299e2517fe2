"""The stable link to a file: what the agent's message carries and the viewer answers.

The link names only the attachment id; who may open it is checked on every click (ferry.access.opening).
"""

from __future__ import annotations

from ferry.config import Settings

# The QA list, and the parent of every file's page.
FILES_PATH = "/files"
# The JSON API answers the same paths under this prefix (and API Gateway's authorizer guards them).
API_PREFIX = "/api"
# Where Flask routes the file's page (its content and download sit below it).
FILE_RULE = f"{FILES_PATH}/<attachment_id>"


def file_path(attachment_id: str) -> str:
    """The path of a file's page."""
    return f"{FILES_PATH}/{attachment_id}"


def file_link(settings: Settings, attachment_id: str) -> str:
    """The stable Ferry link to a file, as sent in the conversation."""
    return settings.public_base_url + file_path(attachment_id)
