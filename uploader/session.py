"""Who the customer is: a signed token bound to one chat, carried in an HttpOnly cookie (the standalone
page) or as a bearer token (the embed, whose iframe is third-party on the customer's site and gets no
cookies); and the CSRF rule for every state-changing request."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Request, Response
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from ferry.config import Settings
from ferry.db import utcnow
from ferry.errors import Refusal
from ferry.models import Chat

COOKIE_NAME = "ferry_chat"
COOKIE_PATH = "/chat"
CSRF_HEADER = "X-Ferry-Chat"
_SALT = "ferry.uploader.chat-session"


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt=_SALT)


def issue_token(settings: Settings, chat: Chat) -> str:
    """A token that names `chat` and nothing else; it cannot be forged without SECRET_KEY."""
    return _serializer(settings).dumps({"chat": chat.id})


def set_cookie(response: Response, settings: Settings, token: str) -> None:
    """Keep the token in an HttpOnly cookie that scripts can never read."""
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=settings.chat_session_hours * 3600,
        path=COOKIE_PATH,
        secure=settings.public_base_url.startswith("https://"),
        httponly=True,
        samesite="Lax",
    )


def presented_token(request: Request) -> str | None:
    """The bearer token if one is sent, else the cookie."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[len("Bearer ") :].strip() or None
    return request.cookies.get(COOKIE_NAME)


def chat_for_token(session: Session, settings: Settings, token: str | None) -> Chat:
    """The live chat the token is bound to.

    :raise Refusal: 401 `no_session`, `session_invalid` (forged, from another deployment, unknown chat)
        or `session_expired` (the chat's lifetime is over or it was closed).
    """
    if not token:
        raise Refusal("no_session")
    try:
        data = _serializer(settings).loads(token, max_age=settings.chat_session_hours * 3600)
    except SignatureExpired:
        raise Refusal("session_expired") from None
    except BadSignature:
        raise Refusal("session_invalid") from None
    chat_id = data.get("chat") if isinstance(data, dict) else None
    chat = session.get(Chat, chat_id) if isinstance(chat_id, str) else None
    if chat is None:
        raise Refusal("session_invalid")
    if chat.closed_at is not None or chat.expires_at <= utcnow():
        raise Refusal("session_expired")
    return chat


def check_csrf(request: Request, settings: Settings) -> None:
    """State changes need our custom header (no cross-origin page can send it without a CORS preflight we
    never grant) and, when the browser says where the request comes from, Ferry's own origin.

    :raise Refusal: 403 `csrf`.
    """
    if request.headers.get(CSRF_HEADER) != "1":
        raise Refusal("csrf")
    origin = request.headers.get("Origin")
    if origin is not None and origin != origin_of(settings.public_base_url):
        raise Refusal("csrf")


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of a URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
