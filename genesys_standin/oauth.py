"""The login host: /oauth/authorize (a user picker), /oauth/token and /logout."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from flask import Blueprint, g, jsonify, redirect, render_template, request, session
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from genesys_standin.context import get_platform
from genesys_standin.errors import OAuthError
from genesys_standin.state import AuthCode, OAuthClient, RefreshToken, StandinState, User

bp = Blueprint("oauth", __name__)

VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
AUTHORIZE_PARAMS = (
    "client_id",
    "redirect_uri",
    "response_type",
    "state",
    "scope",
    "code_challenge",
    "code_challenge_method",
    "login_hint",
    "prompt",
    "org",
    "provider",
    "target",
)


@dataclass(frozen=True)
class AuthorizeRequest:
    """A checked /oauth/authorize request."""

    client: OAuthClient
    redirect_uri: str
    state: str | None
    scopes: tuple[str, ...]
    code_challenge: str | None
    login_hint: str | None
    prompt: str | None
    params: dict[str, str]


class PageError(Exception):
    """A problem shown on a page of the login host, never sent to an unverified redirect URI."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def with_query(url: str, params: dict[str, str]) -> str:
    """`url` with `params` added to its query string."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def _parse_authorize(values: MultiDict[str, str]) -> AuthorizeRequest:
    """Check client and redirect URI (errors shown here), then the rest (errors sent to the redirect URI)."""
    state = get_platform().state
    client = state.clients.get(values.get("client_id", ""))
    if client is None or "authorization_code" not in client.grants:
        raise PageError("Unknown OAuth client, or the client may not use the authorization code grant.")
    redirect_uri = values.get("redirect_uri", "")
    if redirect_uri not in client.redirect_uris:
        raise PageError("The redirect_uri is not registered for this OAuth client.")
    params = {name: values[name] for name in AUTHORIZE_PARAMS if values.get(name)}
    request_state = values.get("state")
    if values.get("response_type") != "code":
        raise _redirect_error(
            redirect_uri, request_state, "unsupported_response_type", "response_type must be code"
        )
    challenge = values.get("code_challenge")
    if challenge is not None and values.get("code_challenge_method") != "S256":
        raise _redirect_error(
            redirect_uri, request_state, "invalid_request", "code_challenge_method must be S256"
        )
    return AuthorizeRequest(
        client=client,
        redirect_uri=redirect_uri,
        state=request_state,
        scopes=tuple(values.get("scope", "").split()),
        code_challenge=challenge,
        login_hint=values.get("login_hint"),
        prompt=values.get("prompt"),
        params=params,
    )


class RedirectError(Exception):
    """An authorization error the client learns about at its (verified) redirect URI."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


def _redirect_error(redirect_uri: str, state: str | None, error: str, description: str) -> RedirectError:
    params = {"error": error, "error_description": description}
    if state is not None:
        params["state"] = state
    return RedirectError(with_query(redirect_uri, params))


def _code_redirect(authorize: AuthorizeRequest, user: User) -> Response:
    """Issue a single-use code for `user` and send the browser back to the client."""
    platform = get_platform()
    code = AuthCode(
        code=secrets.token_urlsafe(32),
        client_id=authorize.client.client_id,
        user_id=user.id,
        redirect_uri=authorize.redirect_uri,
        scopes=authorize.scopes,
        code_challenge=authorize.code_challenge,
        expires_at=time.monotonic() + platform.settings.code_ttl_seconds,
    )
    with platform.state.lock:
        platform.state.codes[code.code] = code
    session["user_id"] = user.id
    params = {"code": code.code}
    if authorize.state is not None:
        params["state"] = authorize.state
    return redirect(with_query(authorize.redirect_uri, params), code=302)


def picker_users(state: StandinState, login_hint: str | None) -> list[dict[str, Any]]:
    """The users the picker lists: home organization first, then by name."""
    home = state.settings.home_org_id
    with state.lock:
        users = sorted(state.users.values(), key=lambda u: (u.org_id != home, u.name.lower()))
        return [
            {
                "id": u.id,
                "name": u.name,
                "email": u.email,
                "state": u.state,
                "org_name": state.org(u.org_id).name,
                "preselected": bool(login_hint) and u.email.lower() == (login_hint or "").lower(),
            }
            for u in users
        ]


@bp.get("/oauth/authorize")
def authorize() -> Response | str | tuple[str, int]:
    """The login page: a button per user (labelled with the email); login_hint pre-selects one."""
    try:
        authorize_request = _parse_authorize(request.args)
    except PageError as error:
        return render_template("message.html", title="Sign-in error", message=error.message), error.status
    except RedirectError as error:
        return redirect(error.location, code=302)
    platform = get_platform()
    remembered = platform.state.users.get(session.get("user_id", ""))
    if platform.settings.remember_login and remembered is not None and authorize_request.prompt != "login":
        return _code_redirect(authorize_request, remembered)
    return render_template(
        "login.html",
        action="/oauth/authorize",
        client_name=authorize_request.client.name,
        hidden=authorize_request.params,
        users=picker_users(platform.state, authorize_request.login_hint),
        error=None,
        can_deny=True,
    )


@bp.post("/oauth/authorize")
def authorize_choice() -> Response | str | tuple[str, int]:
    """The user picked on the login page (or denied)."""
    try:
        authorize_request = _parse_authorize(request.form)
    except PageError as error:
        return render_template("message.html", title="Sign-in error", message=error.message), error.status
    except RedirectError as error:
        return redirect(error.location, code=302)
    if request.form.get("deny"):
        denied = _redirect_error(
            authorize_request.redirect_uri,
            authorize_request.state,
            "access_denied",
            "The user cancelled the sign-in",
        )
        return redirect(denied.location, code=302)
    platform = get_platform()
    user = platform.state.users.get(request.form.get("user_id", ""))
    problem = None
    if user is None:
        problem = "Pick a user."
    elif platform.settings.refuse_inactive_login and user.state != "active":
        problem = f"{user.email} is {user.state} and cannot sign in."
    if user is None or problem:
        page = render_template(
            "login.html",
            action="/oauth/authorize",
            client_name=authorize_request.client.name,
            hidden=authorize_request.params,
            users=picker_users(platform.state, authorize_request.login_hint),
            error=problem,
            can_deny=True,
        )
        return page, 400
    return _code_redirect(authorize_request, user)


# -- token endpoint ---------------------------------------------------------------------------------------


def _basic_client() -> OAuthClient | None:
    """The client authenticated by HTTP Basic, None when there is no Basic header.

    :raise OAuthError: invalid_client when the header is there but wrong.
    """
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError("invalid_client", "Malformed Basic authorization header", 401) from None
    client_id, _, secret = decoded.partition(":")
    client = get_platform().state.clients.get(unquote(client_id))
    if client is None or not hmac.compare_digest(client.client_secret.encode(), unquote(secret).encode()):
        raise OAuthError("invalid_client", "Client authentication failed", 401)
    return client


@bp.post("/oauth/token")
def token() -> Response:
    """Exchange a grant (authorization_code, client_credentials, refresh_token) for tokens."""
    form = request.form
    if "client_secret" in form:
        raise OAuthError("invalid_client", "Send the client secret with HTTP Basic authentication", 401)
    client = _basic_client()
    if client is not None:
        g.oauth_client_id = client.client_id
    grant_type = form.get("grant_type", "")
    if grant_type == "client_credentials":
        return _client_credentials(client)
    if grant_type == "authorization_code":
        return _authorization_code(client)
    if grant_type == "refresh_token":
        return _refresh(client)
    raise OAuthError("unsupported_grant_type", f"Unsupported grant_type {grant_type!r}")


def _token_response(access: str, expires_in: float, refresh: str | None) -> Response:
    payload: dict[str, Any] = {"access_token": access, "token_type": "bearer", "expires_in": int(expires_in)}
    if refresh:
        payload["refresh_token"] = refresh
    response = jsonify(payload)
    response.headers["Cache-Control"] = "no-store"
    return response


def _client_credentials(client: OAuthClient | None) -> Response:
    if client is None:
        raise OAuthError("invalid_client", "Client authentication (HTTP Basic) is required", 401)
    if "client_credentials" not in client.grants:
        raise OAuthError("unauthorized_client", "The client may not use the client_credentials grant")
    platform = get_platform()
    issued = platform.state.issue_token(client, None)
    return _token_response(issued.access_token, platform.settings.token_ttl_seconds, None)


def _public_client() -> OAuthClient:
    """A client that names itself by client_id in the body (PKCE without a secret)."""
    client_id = request.form.get("client_id", "")
    client = get_platform().state.clients.get(client_id)
    if client is None:
        raise OAuthError("invalid_client", "Unknown client_id", 401)
    g.oauth_client_id = client.client_id
    return client


def _authorization_code(basic: OAuthClient | None) -> Response:
    client = basic or _public_client()
    if basic is not None and request.form.get("client_id") not in (None, basic.client_id):
        raise OAuthError("invalid_client", "client_id does not match the authenticated client", 401)
    if "authorization_code" not in client.grants:
        raise OAuthError("unauthorized_client", "The client may not use the authorization_code grant")
    platform = get_platform()
    state = platform.state
    with state.lock:
        code = state.codes.get(request.form.get("code", ""))
        if code is None:
            raise OAuthError("invalid_grant", "Invalid authorization code")
        if code.used:
            state.revoke_code_tokens(code.code)
            raise OAuthError("invalid_grant", "Authorization code has already been used")
        if time.monotonic() >= code.expires_at:
            raise OAuthError("invalid_grant", "Authorization code has expired")
        if code.client_id != client.client_id:
            raise OAuthError("invalid_grant", "Authorization code was issued to another client")
        if request.form.get("redirect_uri") != code.redirect_uri:
            raise OAuthError("invalid_grant", "redirect_uri does not match the authorization request")
        _check_pkce(code, public=basic is None)
        user = state.users.get(code.user_id)
        if user is None:
            raise OAuthError("invalid_grant", "The user no longer exists")
        code.used = True
        refresh = None
        if "refresh_token" in client.grants:
            refresh = RefreshToken(
                secrets.token_urlsafe(32),
                client.client_id,
                user.id,
                user.org_id,
                code.scopes,
                basic is None,
                code.code,
            )
            state.refresh_tokens[refresh.value] = refresh
        issued = state.issue_token(
            client, user, code.scopes, refresh_token=refresh.value if refresh else None, code=code.code
        )
    return _token_response(issued.access_token, platform.settings.token_ttl_seconds, issued.refresh_token)


def _check_pkce(code: AuthCode, *, public: bool) -> None:
    verifier = request.form.get("code_verifier")
    if code.code_challenge is None:
        if public:
            raise OAuthError("invalid_client", "Client authentication is required without PKCE", 401)
        return
    if verifier is None:
        raise OAuthError("invalid_grant", "code_verifier is required")
    if not VERIFIER.match(verifier):
        raise OAuthError("invalid_grant", "code_verifier must be 43 to 128 unreserved characters")
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    computed = base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")
    if not hmac.compare_digest(computed, code.code_challenge):
        raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge")


def _refresh(basic: OAuthClient | None) -> Response:
    platform = get_platform()
    state = platform.state
    with state.lock:
        refresh = state.refresh_tokens.get(request.form.get("refresh_token", ""))
        if refresh is None or refresh.revoked:
            raise OAuthError("invalid_grant", "Invalid refresh token")
        client = basic or _public_client()
        if refresh.client_id != client.client_id:
            raise OAuthError("invalid_grant", "Refresh token was issued to another client")
        if basic is None and not refresh.public:
            raise OAuthError("invalid_client", "Client authentication (HTTP Basic) is required", 401)
        if "refresh_token" not in client.grants:
            raise OAuthError("unauthorized_client", "The client may not use the refresh_token grant")
        user = state.users.get(refresh.user_id)
        if user is None:
            raise OAuthError("invalid_grant", "The user no longer exists")
        if platform.settings.refresh_token_rotation:
            refresh.revoked = True
            refresh = RefreshToken(
                secrets.token_urlsafe(32),
                client.client_id,
                user.id,
                user.org_id,
                refresh.scopes,
                refresh.public,
            )
            state.refresh_tokens[refresh.value] = refresh
        issued = state.issue_token(client, user, refresh.scopes, refresh_token=refresh.value)
    return _token_response(issued.access_token, platform.settings.token_ttl_seconds, refresh.value)


# -- logout ---------------------------------------------------------------------------------------------


@bp.get("/logout")
def logout() -> Response | str:
    """End the login session; back to redirect_uri when it is registered for client_id."""
    session.pop("user_id", None)
    client = get_platform().state.clients.get(request.args.get("client_id", ""))
    redirect_uri = request.args.get("redirect_uri", "")
    if client is not None and redirect_uri in client.redirect_uris:
        return redirect(redirect_uri, code=302)
    note = (
        "" if not redirect_uri else " (The redirect_uri is not registered for this client, so you stay here.)"
    )
    return render_template("message.html", title="Signed out", message="You are signed out." + note)
