"""What every viewer page shares: the signed-in user, refusals with their audit rows, security headers."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Response, g, render_template, request
from werkzeug.wrappers import Response as BaseResponse

from ferry.access.audit import Action, Requester, record
from ferry.access.grants import Loaded, load_attachment, parse_id
from ferry.access.identity import Access, Identity
from ferry.access.refusals import AccessDenied, AccessUnavailable, Reason
from ferry.config import Settings
from ferry.models import AuditOutcome
from ferry.services import Services, get_services
from viewer import sessions
from viewer.blueprint import bp
from viewer.login import begin_login, return_path

ViewResult = BaseResponse | str | tuple[str, int]
F = TypeVar("F", bound=Callable[..., Any])


def services() -> Services:
    return get_services()


def settings() -> Settings:
    return get_services().settings


def requester() -> Requester:
    """Where this request came from, as the audit log records it."""
    return Requester(ip=request.remote_addr, user_agent=request.headers.get("User-Agent"))


def audit(
    action: Action,
    outcome: AuditOutcome,
    *,
    identity: Identity | None = None,
    attachment_id: str | None = None,
    reason: str | None = None,
    user_id: str | None = None,
    user_name: str | None = None,
) -> None:
    record(
        services().db,
        action=action,
        outcome=outcome,
        identity=identity,
        attachment_id=attachment_id,
        reason=reason,
        user_id=user_id,
        user_name=user_name,
        requester=requester(),
    )


def message(status: int, title: str, text: str, *, refresh: int | None = None) -> tuple[str, int]:
    """A plain page that says what happened (never why a refused user was refused)."""
    return render_template("viewer/message.html", title=title, text=text, refresh=refresh), status


def not_available() -> tuple[str, int]:
    """The answer a missing attachment gets, and so a forbidden one too: nobody learns what exists."""
    return message(404, "Not available", "This attachment does not exist or is not available to you.")


def try_again() -> tuple[str, int]:
    """The answer when Genesys or S3 cannot be asked: fail closed."""
    return message(503, "Try again shortly", "Ferry cannot check your access right now. Please try again.")


def forbidden(
    action: Action, reason: Reason, identity: Identity | None, **who: str | None
) -> tuple[str, int]:
    audit(action, AuditOutcome.DENIED, identity=identity, reason=str(reason), **who)
    return message(403, "No access", "Your Genesys Cloud account does not give you access to this page.")


def unavailable(
    action: Action, exc: AccessUnavailable, identity: Identity | None = None, **extra: Any
) -> tuple[str, int]:
    """Fail closed when Genesys or S3 cannot be asked; the audit row says which."""
    audit(action, AuditOutcome.ERROR, identity=identity, reason=str(exc.reason), **extra)
    return try_again()


def current_viewer(action: Action) -> sessions.Viewer | BaseResponse | tuple[str, int] | None:
    """The signed-in user (re-checked at Genesys when due), None for nobody, or a refusal response."""
    if "viewer" in g:
        viewer: sessions.Viewer = g.viewer
        return viewer
    svc = services()
    cookie = request.cookies.get(sessions.cookie_name(svc.settings))
    attachment_id = _requested_attachment()
    if attachment_id is None:
        row = sessions.find(svc.db, cookie, svc.settings)
    else:
        # A click on an attachment: its row and the user's grant come with the session, in one select.
        found = sessions.find_with_attachment(svc.db, cookie, attachment_id)
        row = found[0] if found is not None else None
        if found is not None:
            g.attachment = (attachment_id, found[1])
    if row is None:
        return None
    if sessions.is_stale(row, svc.settings):
        try:
            identity = sessions.recheck(svc.db, svc.genesys, row, svc.settings)
        except AccessDenied as denied:
            sessions.end(svc.db, row.id)
            if denied.reason == Reason.TOKEN_REJECTED:
                return None  # expired or revoked at Genesys: log in again
            return forbidden(action, denied.reason, None, user_id=row.user_id, user_name=row.user_name)
        except AccessUnavailable as exc:
            return unavailable(action, exc, user_id=row.user_id, user_name=row.user_name)
    else:
        identity = sessions.identity_of(row, svc.settings)
    # The token stays sealed: most clicks never use it (see sessions.token_of).
    viewer = sessions.Viewer(session_id=row.id, identity=identity, sealed_token=row.access_token)
    g.viewer = viewer
    return viewer


def _requested_attachment() -> str | None:
    """The attachment id in this request's path, when there is one and it is well-formed."""
    raw = (request.view_args or {}).get("attachment_id")
    try:
        return parse_id(raw) if isinstance(raw, str) else None
    except AccessDenied:
        return None  # the view refuses it (MALFORMED_ID)


def loaded_attachment(viewer: sessions.Viewer, attachment_id: str) -> Loaded:
    """The attachment and the viewer's grant: as read with the session, else read now."""
    preloaded = g.get("attachment")
    if preloaded is not None and preloaded[0] == attachment_id:
        found: Loaded = preloaded[1]
        return found
    return load_attachment(services().db, attachment_id, viewer.identity.user_id)


def signed_in(action: Action, needs: Access | None = None, *, embedded: bool = False) -> Callable[[F], F]:
    """Run the view with the signed-in `Viewer` holding `needs`; otherwise log in (or show a sign-in
    page when the page is framed inside Genesys) or refuse."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            found = current_viewer(action)
            if found is None:
                back = return_path(request.full_path)
                if embedded:
                    return render_template("viewer/signin.html", next=back)
                return begin_login(back)
            if not isinstance(found, sessions.Viewer):
                return found
            if needs is not None and not found.identity.can(needs):
                return forbidden(action, Reason.NO_ROLE, found.identity)
            return view(found, *args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def content_security_policy(settings: Settings) -> str:
    s3 = services().storage.origin  # where our redirects send media, images and PDFs
    ancestors = " ".join(["'self'", *settings.genesys_host_origins])
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src 'self' {s3}",
            f"media-src 'self' {s3}",
            f"frame-src 'self' {s3}",
            "form-action 'self'",
            "base-uri 'none'",
            f"frame-ancestors {ancestors}",
        ]
    )


@bp.after_request
def _security_headers(response: Response) -> Response:
    """Nothing the viewer answers may be cached, sniffed or framed by anyone but Genesys."""
    response.headers["Content-Security-Policy"] = content_security_policy(settings())
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


@bp.context_processor
def _template_globals() -> dict[str, Any]:
    """The signed-in user (if this request loaded one) and the logout form's token."""
    viewer = g.get("viewer")
    token = sessions.csrf_token(settings().secret_key, viewer.session_id) if viewer else None
    return {"viewer": viewer, "csrf_token": token, "Access": Access}
