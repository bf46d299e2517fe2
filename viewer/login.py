"""Starting a Genesys Cloud login for agents: authorization code with PKCE (S256) and state, through Authlib.

The page to return to is kept with the state in the signed Flask session (never in the URL Genesys sees)
and is re-validated as one of our local pages, so a login can never redirect anywhere else. Every page
that needs a signed-in user (viewer.web) starts here; the callback that finishes it is viewer.auth.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from authlib.integrations.flask_client import OAuth  # type: ignore[import-untyped]
from flask import Flask, current_app, redirect
from werkzeug.wrappers import Response as BaseResponse

from ferry.links import FILES_PATH
from ferry.services import get_services
from viewer.blueprint import bp

CLIENT_NAME = "genesys"
OAUTH_EXTENSION = "viewer.oauth"
CALLBACK_PATH = "/auth/callback"

# The local pages a login may return to (with their query string); everything else goes to /me.
RETURN_PATHS = re.compile(
    rf"^({re.escape(FILES_PATH)}(/[0-9a-f-]{{36}}(/(content|download))?)?"
    r"|/conversations/[A-Za-z0-9-]{1,64}|/audit|/me|/auth/done)$"
)


@bp.record_once
def _setup(state: Any) -> None:
    """Register the Genesys OAuth client for this app (one registry per app: tests build many apps)."""
    app: Flask = state.app
    cfg = app.extensions["ferry"].settings
    oauth = OAuth(app)
    oauth.register(
        CLIENT_NAME,
        client_id=cfg.genesys_oauth_client_id,
        client_secret=cfg.genesys_oauth_client_secret,
        authorize_url=f"{cfg.genesys_login_base_url}/oauth/authorize",
        access_token_url=f"{cfg.genesys_login_base_url}/oauth/token",
        client_kwargs={
            "code_challenge_method": "S256",
            "token_endpoint_auth_method": "client_secret_basic",
            "timeout": cfg.genesys_timeout_seconds,
        },
    )
    app.extensions[OAUTH_EXTENSION] = oauth
    if cfg.viewer_cookie_samesite == "None":
        # Logging in inside a frame needs the login state cookie to travel in that frame too.
        app.config.update(
            SESSION_COOKIE_SAMESITE="None",
            SESSION_COOKIE_SECURE=True,
            SESSION_COOKIE_PARTITIONED=cfg.viewer_cookie_partitioned,
        )


def oauth_client() -> Any:
    """This app's Authlib client for Genesys."""
    return current_app.extensions[OAUTH_EXTENSION].create_client(CLIENT_NAME)


def redirect_uri() -> str:
    return get_services().settings.public_base_url + CALLBACK_PATH


def begin_login(next_path: str) -> BaseResponse:
    """Redirect to Genesys's authorize page; the return page is stored beside the state and verifier."""
    client = oauth_client()
    uri = redirect_uri()
    authorization = client.create_authorization_url(uri)
    client.save_authorize_data(
        redirect_uri=uri,
        state=authorization["state"],
        code_verifier=authorization["code_verifier"],
        next=return_path(next_path),
    )
    return redirect(authorization["url"])


def return_path(candidate: str | None) -> str:
    """A local page of ours to go back to after login; anything else (other hosts, schemes, odd paths)
    becomes /me. Only a path and query are ever kept, so no redirect can leave this site."""
    if not candidate or any(c in candidate for c in "\\\r\n\t") or not candidate.startswith("/"):
        return "/me"
    parts = urlsplit(candidate)
    if parts.scheme or parts.netloc or not RETURN_PATHS.match(parts.path):
        return "/me"
    return parts.path + (f"?{parts.query}" if parts.query else "")
