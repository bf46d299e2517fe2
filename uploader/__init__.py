"""The customer side of Ferry: the chat widget (standalone page and embed), its JSON API and event
stream, and the Genesys Open Messaging webhook that brings agent replies back."""

from __future__ import annotations

# The route modules register themselves on bp: the widget's pages and API, its event stream, the Genesys
# webhook, the upload API and its OpenAPI document.
from uploader import agent_files, api, errors, openapi, pages, stream, uploads, webhook  # noqa: F401
from uploader.blueprint import bp

__all__ = ["bp"]
