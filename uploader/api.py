"""The widget's JSON API under /chat/api: start a chat, read the transcript, send, resend, typing, seen.

Every state change is CSRF-checked and rate limited (per client IP and per chat, counted in the
database so all processes share the counts); every refusal is a `Refusal` (ferry/errors.py): JSON
with a human `message`.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request
from sqlalchemy.exc import IntegrityError

from ferry.config import Settings
from ferry.db import Database
from ferry.errors import Refusal
from ferry.models import Chat
from ferry.ratelimit import Limit, RateLimited, hit
from ferry.services import get_services
from uploader.blueprint import bp
from uploader.chat import (
    agent_typing,
    answer_structured,
    chat_json,
    customer_typing,
    find_by_client_id,
    history,
    mark_seen,
    message_json,
    post_message,
    retry_message,
    start_chat,
)
from uploader.session import chat_for_token, check_csrf, issue_token, presented_token, set_cookie

API = "/chat/api"
NOT_UNDERSTOOD = "The request could not be understood."


@bp.after_request
def _no_store(response: Response) -> Response:
    if request.path.startswith(API):
        response.headers["Cache-Control"] = "no-store"
    return response


def _context() -> tuple[Settings, Database]:
    services = get_services()
    return services.settings, services.db


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Refusal("invalid_request", problem=NOT_UNDERSTOOD)
    return body


def _client_ip() -> str:
    # ProxyFix has already put the client's address (one proxy hop) here.
    return request.remote_addr or "unknown"


def _authenticated_chat_id(settings: Settings, db: Database) -> str:
    with db.session() as session:
        return chat_for_token(session, settings, presented_token(request)).id


def enforce(db: Database, checks: list[tuple[Limit, str]], code: str = "rate_limited") -> None:
    """Count this request against each limit; 429 with the wait named when one is exceeded."""
    refused: RateLimited | None = None
    with db.session() as session:
        for limit, subject in checks:
            try:
                hit(session, limit, subject)
            except RateLimited as exc:
                refused = exc
                break
    if refused is not None:
        raise Refusal(code, headers={"Retry-After": str(refused.retry_after)}, seconds=refused.retry_after)


def _per_ip(settings: Settings) -> tuple[Limit, str]:
    return Limit("chat-ip", settings.chat_rate_per_ip, 60), _client_ip()


def _per_chat(settings: Settings, chat_id: str, name: str = "chat-messages") -> tuple[Limit, str]:
    return Limit(name, settings.chat_rate_per_chat, 60), chat_id


@bp.post(f"{API}/chats")
def create_chat() -> tuple[Response, int]:
    """Start a chat: `{name?, email?, mode?}`. The page gets a cookie; the embed (`mode: "embed"`) a token."""
    settings, db = _context()
    check_csrf(request, settings)
    body = _json_body()
    enforce(db, [(Limit("chat-starts", settings.chat_starts_per_ip, 3600), _client_ip())], "too_many_chats")
    enforce(db, [_per_ip(settings)])
    with db.session() as session:
        chat = start_chat(session, settings, body)
        token = issue_token(settings, chat)
        out: dict[str, Any] = {"chat": chat_json(chat, settings), "messages": [], "agent_typing": False}
    embed = body.get("mode") == "embed"
    if embed:
        out["token"] = token
    response = jsonify(out)
    if not embed:
        set_cookie(response, settings, token)
    return response, 201


@bp.get(f"{API}/chat")
def current_chat() -> Response:
    """The customer's chat and its transcript (`?after=<id>` for only what is newer); `chat` is null
    before one is started."""
    settings, db = _context()
    after = request.args.get("after", default=0, type=int)
    token = presented_token(request)
    if token is None:
        return jsonify(chat=None, messages=[], agent_typing=False)
    with db.session() as session:
        chat = chat_for_token(session, settings, token)
        return jsonify(
            chat=chat_json(chat, settings),
            messages=[message_json(m) for m in history(session, chat, after)],
            agent_typing=agent_typing(chat),
        )


@bp.post(f"{API}/messages")
def send_message() -> tuple[Response, int]:
    """Send `{client_id, text}`: 201 with the new message, or 200 with the one this client id already made."""
    settings, db = _context()
    check_csrf(request, settings)
    body = _json_body()
    chat_id = _authenticated_chat_id(settings, db)
    enforce(db, [_per_ip(settings), _per_chat(settings, chat_id)])
    try:
        with db.session() as session:
            message, created = post_message(session, settings, session.get_one(Chat, chat_id), body)
            out = message_json(message)
    except IntegrityError:
        # The same client id won a race from a concurrent retry of this very POST.
        with db.session() as session:
            existing = find_by_client_id(session, session.get_one(Chat, chat_id), str(body.get("client_id")))
            if existing is None:
                raise
            out, created = message_json(existing), False
    return jsonify(message=out), 201 if created else 200


@bp.post(f"{API}/messages/<int:message_id>/retry")
def resend_message(message_id: int) -> Response:
    """Send a failed message again (same transcript position, new delivery)."""
    settings, db = _context()
    check_csrf(request, settings)
    chat_id = _authenticated_chat_id(settings, db)
    enforce(db, [_per_ip(settings), _per_chat(settings, chat_id)])
    with db.session() as session:
        message = retry_message(session, session.get_one(Chat, chat_id), message_id)
        return jsonify(message=message_json(message))


@bp.post(f"{API}/messages/<int:message_id>/answers")
def answer_message(message_id: int) -> tuple[Response, int]:
    """Press a quick reply or card button of an agent message: `{client_id, text, payload}` → 201 with the
    customer's message (200 when this client id already pressed)."""
    settings, db = _context()
    check_csrf(request, settings)
    body = _json_body()
    chat_id = _authenticated_chat_id(settings, db)
    enforce(db, [_per_ip(settings), _per_chat(settings, chat_id)])
    with db.session() as session:
        message, created = answer_structured(session, session.get_one(Chat, chat_id), message_id, body)
        return jsonify(message=message_json(message)), 201 if created else 200


@bp.post(f"{API}/typing")
def typing() -> tuple[Response, int]:
    """The customer is typing: relayed to Genesys when typing indicators are on."""
    settings, db = _context()
    check_csrf(request, settings)
    chat_id = _authenticated_chat_id(settings, db)
    enforce(db, [_per_ip(settings), _per_chat(settings, chat_id, "chat-typing")])
    with db.session() as session:
        queued = customer_typing(session, settings, session.get_one(Chat, chat_id))
    return jsonify(queued=queued), 202


@bp.post(f"{API}/seen")
def seen() -> Response:
    """`{up_to: <message id>}`: the customer has seen the agent's messages up to there."""
    settings, db = _context()
    check_csrf(request, settings)
    body = _json_body()
    up_to = body.get("up_to")
    if not isinstance(up_to, int) or isinstance(up_to, bool):
        raise Refusal("invalid_request", problem="`up_to` must be a message id.")
    chat_id = _authenticated_chat_id(settings, db)
    enforce(db, [_per_ip(settings)])
    with db.session() as session:
        receipts = mark_seen(session, session.get_one(Chat, chat_id), up_to)
    return jsonify(receipts=receipts)
