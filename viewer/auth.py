"""Finishing a Genesys Cloud login (the callback), logging out, and the pages about the signed-in user.

Starting a login lives in viewer.login, which every signed-in page (viewer.web) shares.
"""

from __future__ import annotations

from typing import Any

import requests
from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError  # type: ignore[import-untyped]
from flask import redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response as BaseResponse

from ferry.access.audit import Action
from ferry.access.identity import identify
from ferry.access.refusals import AccessDenied, AccessUnavailable, Reason
from ferry.models import AuditOutcome
from viewer import sessions
from viewer.blueprint import bp
from viewer.login import CALLBACK_PATH, begin_login, oauth_client, return_path
from viewer.web import audit, current_viewer, message, services, signed_in, unavailable


@bp.get("/login")
def login() -> BaseResponse:
    """Start a login explicitly (the sign-in button of framed pages opens this in a pop-up)."""
    return begin_login(return_path(request.args.get("next")))


@bp.get(CALLBACK_PATH)
def callback() -> Any:
    """Finish the login: check state, exchange the code, check the user, start a session."""
    client = oauth_client()
    state = request.args.get("state", "")
    saved = client.framework.get_state_data(session, state) if state else None
    if not saved:
        audit(Action.LOGIN, AuditOutcome.DENIED, reason=str(Reason.STATE_MISMATCH))
        return message(400, "Sign-in failed", "This sign-in link is not valid any more. Please start again.")
    next_path = return_path(saved.get("next"))
    try:
        token = client.authorize_access_token()
    except MismatchingStateError:
        audit(Action.LOGIN, AuditOutcome.DENIED, reason=str(Reason.STATE_MISMATCH))
        return message(400, "Sign-in failed", "This sign-in link is not valid any more. Please start again.")
    except OAuthError as exc:
        reason = Reason.CODE_REJECTED if exc.error == "invalid_grant" else Reason.LOGIN_ERROR
        audit(Action.LOGIN, AuditOutcome.DENIED, reason=f"{reason}: {exc.error}")
        return message(
            400, "Sign-in failed", "Genesys Cloud did not complete the sign-in. Please start again."
        )
    except (requests.RequestException, ValueError):
        audit(Action.LOGIN, AuditOutcome.ERROR, reason=str(Reason.GENESYS_UNAVAILABLE))
        return message(503, "Try again shortly", "Genesys Cloud could not be reached. Please try again.")

    access_token = str(token.get("access_token") or "")
    svc = services()
    try:
        identity = identify(svc.genesys, access_token, svc.settings)
    except AccessDenied as denied:
        _revoke_quietly(access_token)
        audit(
            Action.LOGIN,
            AuditOutcome.DENIED,
            reason=f"{denied.reason}: {denied.detail}",
            user_id=denied.user_id,
            user_name=denied.user_name,
        )
        return message(403, "No access", "Your Genesys Cloud account does not give you access to Ferry.")
    except AccessUnavailable as exc:
        return unavailable(Action.LOGIN, exc)

    previous = request.cookies.get(sessions.cookie_name(svc.settings))
    old = sessions.find(svc.db, previous, svc.settings)
    if old is not None:
        sessions.end(svc.db, old.id)
    cookie = sessions.start(svc.db, identity, access_token, _expires_in(token), svc.settings)
    audit(Action.LOGIN, AuditOutcome.ALLOWED, identity=identity, reason="roles=" + ",".join(identity.roles))
    response = redirect(next_path)
    sessions.set_cookie(response, cookie, svc.settings)
    return response


def _expires_in(token: dict[str, Any]) -> float | None:
    value = token.get("expires_in")
    return float(value) if isinstance(value, int | float) and value > 0 else None


def _revoke_quietly(access_token: str) -> None:
    """Hand back a token Ferry will not use (best effort: a refusal does not depend on it)."""
    if not access_token:
        return
    try:
        services().genesys.revoke_token(access_token)
    except Exception:  # noqa: S110 - nothing more to do about a token we already refused
        pass


@bp.post("/logout")
def logout() -> Any:
    """Revoke the Genesys token (DELETE /api/v2/tokens/me) and end the session. POST with the form token."""
    svc = services()
    found = current_viewer(Action.LOGOUT)
    if not isinstance(found, sessions.Viewer):
        response = redirect(url_for("viewer.signed_out"), code=303)
        sessions.clear_cookie(response, svc.settings)
        return response
    if not sessions.csrf_ok(svc.settings.secret_key, found.session_id, request.form.get("csrf_token")):
        audit(Action.LOGOUT, AuditOutcome.DENIED, identity=found.identity, reason="csrf")
        return message(400, "Not signed out", "The sign-out form was not valid. Please use the button again.")
    token = sessions.token_of(found, svc.settings)
    if token is None:
        # Sealed under another SECRET_KEY, or stored before sealing: unusable; it expires on its own.
        revoked = "token unreadable"
    else:
        try:
            svc.genesys.revoke_token(token)
            revoked = "token revoked"
        except Exception:
            # The session ends whatever Genesys says; the token expires on its own.
            revoked = "token revocation failed"
    sessions.end(svc.db, found.session_id)
    audit(Action.LOGOUT, AuditOutcome.ALLOWED, identity=found.identity, reason=revoked)
    response = redirect(url_for("viewer.signed_out"), code=303)
    sessions.clear_cookie(response, svc.settings)
    return response


@bp.get("/signed-out")
def signed_out() -> Any:
    return message(200, "Signed out", "You have signed out of Ferry.")


@bp.get("/me")
@signed_in(Action.LOGIN)
def me(viewer: sessions.Viewer) -> str:
    """Who is signed in and what they may do."""
    return render_template("viewer/me.html")


@bp.get("/auth/done")
@signed_in(Action.LOGIN)
def done(viewer: sessions.Viewer) -> str:
    """The end of a pop-up login: the page closes itself and the framed page reloads."""
    return render_template("viewer/done.html")
