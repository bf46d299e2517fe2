"""GET /chat/api/agent-files/<id>: a short-lived presigned URL of a file the agent sent, for the chat it
was sent to (the widget asks for it when it shows the file; ferry/agent_files.py does the rest)."""

from __future__ import annotations

from flask import Response, jsonify, request

from ferry.agent_files import open_url
from ferry.services import get_services
from uploader.api import API
from uploader.blueprint import bp
from uploader.session import chat_for_token, presented_token


@bp.get(f"{API}/agent-files/<attachment_id>")
def agent_file(attachment_id: str) -> Response:
    """`{"url", "expires_in"}` of a clean agent file of this session's chat; 404 for anything else."""
    services = get_services()
    with services.db.session() as session:
        chat = chat_for_token(session, services.settings, presented_token(request))
        url, seconds = open_url(session, services.storage, chat, attachment_id)
    return jsonify(url=url, expires_in=seconds)
