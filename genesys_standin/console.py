"""The agent console at /: conversations and transcripts as an agent sees them, assign, reply, typing.

The console's agent signs in through the same user picker as /oauth/authorize (a cookie session)."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, redirect, render_template, request, session, url_for
from markupsafe import Markup, escape
from werkzeug.wrappers import Response

from genesys_standin.api import media_response
from genesys_standin.context import base_url, get_platform
from genesys_standin.errors import ApiError
from genesys_standin.oauth import picker_users
from genesys_standin.platform import AgentFile, attachment_view_url
from genesys_standin.state import Conversation, Message, User, iso, utc_now

bp = Blueprint("console", __name__)

URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
TYPING_SHOWN = timedelta(seconds=6)


def linkify(text: str) -> Markup:
    """Escape `text` and turn http(s) URLs into links; nothing in the text is ever interpreted as markup."""
    parts: list[str] = []
    position = 0
    for match in URL.finditer(text):
        url = match.group(0).rstrip(".,;:!?)")
        parts.append(str(escape(text[position : match.start()])))
        parts.append(
            f'<a href="{escape(url)}" target="_blank" rel="noopener noreferrer nofollow">{escape(url)}</a>'
        )
        position = match.start() + len(url)
    parts.append(str(escape(text[position:])))
    return Markup("".join(parts))  # noqa: S704 - every piece above is escaped


def _csrf() -> str:
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(24)
        session["csrf"] = token
    return token


@bp.before_request
def check_csrf() -> None:
    """Every console POST carries the session's token (form field or X-CSRF-Token header)."""
    if request.method == "POST":
        given = request.form.get("csrf") or request.headers.get("X-CSRF-Token")
        if not given or not secrets.compare_digest(given, session.get("csrf", "")):
            abort(400, "Missing or wrong CSRF token; reload the page.")


def _agent() -> User | None:
    return get_platform().state.users.get(session.get("user_id", ""))


def _require_agent() -> User:
    agent = _agent()
    if agent is None:
        abort(401, "Sign in first.")
    return agent


def _safe_next(target: str | None) -> str:
    """Only local paths, so the sign-in page cannot be used to send people elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//") or urlsplit(target).netloc:
        return "/"
    return target


@bp.get("/")
def index() -> str:
    """The conversations of the agent's organization, newest activity first."""
    agent = _agent()
    rows: list[dict[str, Any]] = []
    if agent is not None:
        platform = get_platform()
        with platform.state.lock:
            mine = [c for c in platform.state.conversations.values() if c.org_id == agent.org_id]
            mine.sort(key=lambda c: c.messages[-1].time if c.messages else c.created, reverse=True)
            rows = [_row(c, agent) for c in mine]
    return render_template("console_index.html", agent=agent, conversations=rows, csrf=_csrf())


def _row(conversation: Conversation, agent: User) -> dict[str, Any]:
    state = get_platform().state
    integration = state.integrations.get(conversation.integration_id)
    last = conversation.messages[-1].time if conversation.messages else conversation.created
    return {
        "id": conversation.id,
        "customer": _customer_label(conversation),
        "integration": integration.name if integration else "(deleted integration)",
        "state": "ended" if conversation.ended else "connected",
        "agents": [p.name for p in conversation.participants if p.purpose == "agent"],
        "mine": conversation.agent(agent.id) is not None,
        "count": len(conversation.messages),
        "last": iso(last),
    }


def _customer_label(conversation: Conversation) -> str:
    customer = conversation.customer
    name = customer.get("nickname") or " ".join(
        p for p in (customer.get("firstName"), customer.get("lastName")) if p
    )
    return f"{name} ({customer['id']})" if name else customer["id"]


@bp.get("/console/login")
def login() -> str:
    """The user picker, for the console's own session."""
    hidden = {"next": _safe_next(request.args.get("next")), "csrf": _csrf()}
    return render_template(
        "login.html",
        action=url_for("console.login_choice"),
        client_name="the agent console",
        hidden=hidden,
        users=picker_users(get_platform().state, request.args.get("login_hint")),
        error=None,
        can_deny=False,
    )


@bp.post("/console/login")
def login_choice() -> Response:
    """Sign the console in as the picked user."""
    user = get_platform().state.users.get(request.form.get("user_id", ""))
    if user is None:
        abort(400, "Pick a user.")
    session["user_id"] = user.id
    return redirect(_safe_next(request.form.get("next")), code=303)


@bp.post("/console/logout")
def logout() -> Response:
    """Sign the console out."""
    session.pop("user_id", None)
    return redirect("/", code=303)


def _conversation_for(agent: User, conversation_id: str) -> Conversation:
    try:
        return get_platform().conversation(conversation_id, agent.org_id)
    except ApiError:
        abort(404)


def _transcript(conversation: Conversation) -> dict[str, Any]:
    state = get_platform().state
    with state.lock:
        messages = [_message_view(m) for m in conversation.messages]
        typing = (
            conversation.customer_typing_at is not None
            and utc_now() - conversation.customer_typing_at < (TYPING_SHOWN)
        )
    return {"messages": messages, "typing": typing}


def _message_view(message: Message) -> dict[str, Any]:
    state = get_platform().state
    if message.direction == "Inbound":
        conversation = state.conversations[message.conversation_id]
        author = _customer_label(conversation)
    else:
        user = state.users.get(message.user_id or "")
        author = user.name if user else "agent"
    attachments = []
    for attachment in message.attachments:
        # A Genesys-hosted copy needs a token: the console serves it to the signed-in agent itself.
        url = (
            url_for("console.media", media_id=attachment.media_id, _external=True)
            if attachment.hosted
            else attachment_view_url(attachment, base_url())
        )
        kind = attachment.media_type.lower()
        if attachment.mime.lower().startswith("image/"):
            kind = "image"
        elif attachment.mime.lower().startswith("video/"):
            kind = "video"
        attachments.append(
            {
                "url": url,
                "safe_url": url.lower().startswith(("http://", "https://")),
                "kind": kind,
                "mime": attachment.mime,
                "filename": attachment.filename,
                "failed": attachment.status == "failed",
                "failure_code": attachment.failure_code,
                "failure_message": attachment.failure_message,
            }
        )
    return {
        "id": message.id,
        "direction": message.direction,
        "author": author,
        "time": iso(message.time),
        "status": message.status,
        "text": message.text,
        "attachments": attachments,
    }


def _conversation_page(agent: User, conversation: Conversation, error: str | None = None) -> str:
    state = get_platform().state
    integration = state.integrations.get(conversation.integration_id)
    return render_template(
        "console_conversation.html",
        agent=agent,
        csrf=_csrf(),
        conversation=conversation,
        customer=_customer_label(conversation),
        integration=integration.name if integration else "(deleted integration)",
        state="ended" if conversation.ended else "connected",
        agents=[p.name for p in conversation.participants if p.purpose == "agent"],
        mine=conversation.agent(agent.id) is not None,
        error=error,
        **_transcript(conversation),
    )


@bp.get("/console/conversations/<conversation_id>")
def conversation(conversation_id: str) -> Response | str:
    """One conversation: transcript, assign, reply box."""
    agent = _agent()
    if agent is None:
        return redirect(url_for("console.login", next=request.path), code=303)
    return _conversation_page(agent, _conversation_for(agent, conversation_id))


@bp.get("/console/conversations/<conversation_id>/transcript")
def transcript(conversation_id: str) -> str:
    """Just the transcript (the page polls it)."""
    agent = _require_agent()
    return render_template("_transcript.html", **_transcript(_conversation_for(agent, conversation_id)))


@bp.post("/console/conversations/<conversation_id>/assign")
def assign(conversation_id: str) -> Response | tuple[str, int]:
    """Assign to me: the agent becomes a connected participant."""
    agent = _require_agent()
    conversation = _conversation_for(agent, conversation_id)
    try:
        get_platform().assign(conversation.id, agent.id)
    except ApiError as error:
        return _conversation_page(agent, conversation, error.message), error.status
    return redirect(url_for("console.conversation", conversation_id=conversation.id), code=303)


@bp.post("/console/conversations/<conversation_id>/disconnect")
def disconnect(conversation_id: str) -> Response:
    """End the conversation."""
    agent = _require_agent()
    conversation = _conversation_for(agent, conversation_id)
    get_platform().disconnect(conversation.id)
    return redirect(url_for("console.conversation", conversation_id=conversation.id), code=303)


@bp.post("/console/conversations/<conversation_id>/reply")
def reply(conversation_id: str) -> Response | tuple[str, int]:
    """Send the agent's reply (text, an optional file, optional quick replies) to the customer through the
    webhook."""
    agent = _require_agent()
    conversation = _conversation_for(agent, conversation_id)
    files = []
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        mime = upload.mimetype or "application/octet-stream"
        files.append(AgentFile(upload.filename, mime, upload.read()))
    # A bot's quick replies, one per line (Architect bot flows send them; here the agent may).
    quick_replies = [q.strip() for q in request.form.get("quick_replies", "").splitlines() if q.strip()]
    try:
        get_platform().agent_reply(
            conversation.id, agent.id, request.form.get("text", "").strip(), files, base_url(), quick_replies
        )
    except ApiError as error:
        return _conversation_page(agent, conversation, error.message), error.status
    return redirect(url_for("console.conversation", conversation_id=conversation.id), code=303)


@bp.get("/console/media/<media_id>")
def media(media_id: str) -> Response:
    """A Genesys-hosted file, for the signed-in agent (what the agent UI shows)."""
    _require_agent()
    with get_platform().state.lock:
        stored = get_platform().state.media.get(media_id)
    if stored is None:
        abort(404)
    return media_response(stored)


@bp.post("/console/conversations/<conversation_id>/typing")
def typing(conversation_id: str) -> Response:
    """The agent is typing (sent on to the webhook when outbound typing events are on)."""
    agent = _require_agent()
    conversation = _conversation_for(agent, conversation_id)
    get_platform().agent_typing(conversation.id, agent.id)
    return Response(status=204)
