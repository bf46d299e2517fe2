"""The control API under /_control/ (JSON): seed identities, drive agents, inspect traffic, inject faults."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import secrets
from typing import Any

from flask import Blueprint, Response, jsonify, request

from genesys_standin.context import base_url, get_platform
from genesys_standin.errors import ApiError
from genesys_standin.platform import AgentFile
from genesys_standin.state import CONTROL_CLIENT_ID, Fault, OAuthClient, User, new_id

bp = Blueprint("control", __name__, url_prefix="/_control")

GRANTS = frozenset({"authorization_code", "client_credentials", "refresh_token"})
USER_STATES = ("active", "inactive", "deleted")


def _fail(message: str, status: int = 400) -> ApiError:
    return ApiError(status, "bad.request" if status == 400 else "not.found", message)


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True) if request.content_length else {}
    if not isinstance(body, dict):
        raise _fail("The body must be a JSON object")
    return body


def _text(body: dict[str, Any], name: str, default: str | None = None) -> str:
    value = body.get(name, default)
    if not isinstance(value, str) or not value:
        raise _fail(f"{name} must be a non-empty string")
    return value


def _strings(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(f"{name} must be a list of strings")
    return value


def _created(payload: Any) -> Response:
    response = jsonify(payload)
    response.status_code = 201
    return response


# -- identities -----------------------------------------------------------------------------------------


def _client_view(client: OAuthClient) -> dict[str, Any]:
    return {
        "client_id": client.client_id,
        "client_secret": client.client_secret,
        "name": client.name,
        "redirect_uris": list(client.redirect_uris),
        "grants": sorted(client.grants),
        "organization": client.org_id,
    }


@bp.post("/oauth-clients")
def create_client() -> Response:
    """Register (or replace) an OAuth client → {client_id, client_secret}."""
    body = _body()
    grants = set(_strings(body, "grants"))
    if not grants or grants - GRANTS:
        raise _fail(f"grants must be a non-empty subset of {sorted(GRANTS)}")
    platform = get_platform()
    try:
        org_id = platform.state.org_id_for(body.get("organization", "home"))
    except KeyError:
        raise _fail("organization must be home or foreign") from None
    client = OAuthClient(
        client_id=_text(body, "client_id", new_id()),
        client_secret=_text(body, "client_secret", secrets.token_urlsafe(24)),
        name=_text(body, "name", "OAuth client"),
        redirect_uris=tuple(_strings(body, "redirect_uris")),
        grants=frozenset(grants),
        org_id=org_id,
    )
    with platform.state.lock:
        platform.state.clients[client.client_id] = client
    return _created({"client_id": client.client_id, "client_secret": client.client_secret})


@bp.get("/oauth-clients")
def list_clients() -> Response:
    """Every OAuth client."""
    state = get_platform().state
    with state.lock:
        return jsonify([_client_view(c) for c in state.clients.values()])


def _user_view(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "name": user.name,
        "email": user.email,
        "state": user.state,
        "roles": list(user.roles),
        "organization": user.org_id,
        "version": user.version,
    }


def _state_value(body: dict[str, Any], default: str | None) -> str:
    value = body.get("state", default)
    if value not in USER_STATES:
        raise _fail(f"state must be one of {', '.join(USER_STATES)}")
    return str(value)


@bp.post("/users")
def create_user() -> Response:
    """Create a user → {id}."""
    body = _body()
    platform = get_platform()
    try:
        org_id = platform.state.org_id_for(body.get("organization", "home"))
    except KeyError:
        raise _fail("organization must be home or foreign") from None
    user = User(
        id=_text(body, "id", new_id()),
        name=_text(body, "name"),
        email=_text(body, "email"),
        state=_state_value(body, "active"),
        roles=_strings(body, "roles"),
        org_id=org_id,
    )
    with platform.state.lock:
        if user.id in platform.state.users:
            raise _fail(f"User {user.id} already exists", 409)
        platform.state.users[user.id] = user
    return _created({"id": user.id})


@bp.get("/users")
def list_users() -> Response:
    """Every user."""
    state = get_platform().state
    with state.lock:
        return jsonify([_user_view(u) for u in state.users.values()])


@bp.patch("/users/<user_id>")
def update_user(user_id: str) -> Response:
    """Change a user's state, roles, name or email (to deactivate a user or remove a role mid-session)."""
    body = _body()
    platform = get_platform()
    with platform.state.lock:
        user = platform.user(user_id)
        if "state" in body:
            user.state = _state_value(body, None)
        if "roles" in body:
            user.roles = _strings(body, "roles")
        if "name" in body:
            user.name = _text(body, "name")
        if "email" in body:
            user.email = _text(body, "email")
        user.version += 1
        return jsonify(_user_view(user))


@bp.post("/users/<user_id>/token")
def user_token(user_id: str) -> Response:
    """A user access token without the browser dance → {access_token, token_type, expires_in}."""
    body = _body()
    platform = get_platform()
    state = platform.state
    user = platform.user(user_id)
    client_id = body.get("client_id")
    client = state.clients.get(client_id) if isinstance(client_id, str) else None
    if client_id is not None and client is None:
        raise _fail(f"OAuth client {client_id} does not exist", 404)
    if client is None:
        client = state.clients[CONTROL_CLIENT_ID]
    token = state.issue_token(client, user, tuple(_strings(body, "scopes")))
    return _created(
        {
            "access_token": token.access_token,
            "token_type": "bearer",
            "expires_in": int(platform.settings.token_ttl_seconds),
        }
    )


# -- conversations ----------------------------------------------------------------------------------------


@bp.get("/conversations")
def list_conversations() -> Response:
    """Every conversation with participants and every message (inbound payloads as received)."""
    platform = get_platform()
    integration_id = request.args.get("integration_id")
    with platform.state.lock:
        conversations = [
            platform.control_conversation(c, base_url())
            for c in platform.state.conversations.values()
            if integration_id is None or c.integration_id == integration_id
        ]
    return jsonify(conversations)


@bp.get("/conversations/<conversation_id>")
def get_conversation(conversation_id: str) -> Response:
    """One conversation, as in the list."""
    platform = get_platform()
    return jsonify(platform.control_conversation(platform.conversation(conversation_id), base_url()))


@bp.post("/conversations/<conversation_id>/participants")
def add_participant(conversation_id: str) -> Response:
    """Make a user an agent participant (connected) → the MessageMediaParticipant."""
    body = _body()
    platform = get_platform()
    participant = platform.assign(conversation_id, _text(body, "user_id"))
    conversation = platform.conversation(conversation_id)
    with platform.state.lock:
        return _created(platform.participant_resource(conversation, participant, base_url()))


def _files(body: dict[str, Any]) -> list[AgentFile]:
    raw = body.get("attachments", [])
    if not isinstance(raw, list):
        raise _fail("attachments must be a list")
    files = []
    for item in raw:
        if not isinstance(item, dict):
            raise _fail("each attachment is {filename, mime, data_base64}")
        try:
            data = base64.b64decode(_text(item, "data_base64"), validate=True)
        except binascii.Error:
            raise _fail("data_base64 is not valid base64") from None
        files.append(AgentFile(_text(item, "filename"), _text(item, "mime"), data))
    return files


@bp.post("/conversations/<conversation_id>/messages")
def agent_message(conversation_id: str) -> Response:
    """An agent's reply (joins the agent when needed); POSTed to the webhook → {id, payload}."""
    body = _body()
    text = body.get("text", "")
    if not isinstance(text, str):
        raise _fail("text must be a string")
    quick_replies = body.get("quick_replies", [])
    if not isinstance(quick_replies, list) or not all(isinstance(q, str) and q for q in quick_replies):
        raise _fail("quick_replies must be a list of non-empty strings")
    platform = get_platform()
    message = platform.agent_reply(
        conversation_id, _text(body, "user_id"), text, _files(body), base_url(), quick_replies
    )
    return _created({"id": message.id, "payload": message.payload})


@bp.post("/conversations/<conversation_id>/typing")
def agent_typing(conversation_id: str) -> Response:
    """An agent typing → {delivery_id} (null when outbound typing events are off)."""
    body = _body()
    delivery = get_platform().agent_typing(conversation_id, _text(body, "user_id"))
    response = jsonify({"delivery_id": delivery.id if delivery else None})
    response.status_code = 202
    return response


@bp.post("/conversations/<conversation_id>/disconnect")
def disconnect(conversation_id: str) -> Response:
    """End the conversation (the customer's next message starts a new one)."""
    platform = get_platform()
    conversation = platform.disconnect(conversation_id)
    return jsonify(platform.control_conversation(conversation, base_url()))


# -- traffic, faults, reset --------------------------------------------------------------------------------


@bp.get("/requests")
def list_requests() -> Response:
    """Every API and login-host request received (oldest first)."""
    state = get_platform().state
    with state.lock:
        return jsonify([r.describe() for r in state.requests])


@bp.delete("/requests")
def clear_requests() -> Response:
    """Forget the request log."""
    state = get_platform().state
    with state.lock:
        state.requests.clear()
    return Response(status=204)


@bp.get("/webhook-deliveries")
def list_deliveries() -> Response:
    """Everything POSTed (or being POSTed) to webhooks: payload, raw body, signature, attempts, status."""
    platform = get_platform()
    conversation_id = request.args.get("conversation_id")
    kind = request.args.get("kind")
    with platform.state.lock:
        return jsonify(
            [
                d.describe()
                for d in platform.deliveries
                if (conversation_id is None or d.conversation_id == conversation_id)
                and (kind is None or d.kind == kind)
            ]
        )


def _optional_int(body: dict[str, Any], name: str, default: int | None) -> int | None:
    value = body.get(name, default)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        raise _fail(f"{name} must be a non-negative integer")
    return value


@bp.post("/faults")
def add_fault() -> Response:
    """Inject a failure for matching requests (see README for the fields)."""
    body = _body()
    rate = body.get("rate", 1.0)
    if not isinstance(rate, int | float) or not 0 < rate <= 1:
        raise _fail("rate must be a number in (0, 1]")
    status = _optional_int(body, "status", None)
    drop = body.get("drop_connection", False)
    delay = _optional_int(body, "delay_ms", 0) or 0
    if status is None and not drop and not delay:
        raise _fail("a fault needs a status, drop_connection or delay_ms")
    if status is not None and not 400 <= status <= 599:
        raise _fail("status must be an HTTP error status (400-599)")
    fault = Fault(
        id=new_id(),
        path_pattern=_text(body, "path_pattern"),
        method=str(body.get("method") or "*").upper(),
        status=status,
        retry_after=_optional_int(body, "retry_after", None),
        delay_ms=delay,
        drop_connection=bool(drop),
        count=_optional_int(body, "count", None),
        rate=float(rate),
    )
    state = get_platform().state
    with state.lock:
        state.faults.append(fault)
    return _created(fault.describe())


@bp.get("/faults")
def list_faults() -> Response:
    """The faults, with how often each fired."""
    state = get_platform().state
    with state.lock:
        return jsonify([f.describe() for f in state.faults])


@bp.delete("/faults")
def clear_faults() -> Response:
    """Remove every fault."""
    state = get_platform().state
    with state.lock:
        state.faults.clear()
    return Response(status=204)


@bp.post("/reset")
def reset() -> Response:
    """Forget everything (clients, users, integrations, conversations, deliveries, logs, faults)."""
    get_platform().reset()
    return Response(status=204)


@bp.get("/settings")
def settings() -> Response:
    """The settings the stand-in runs with."""
    values = dataclasses.asdict(get_platform().settings)
    values.pop("console_secret_key", None)
    return jsonify(values)
