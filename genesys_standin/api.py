"""The platform API under /api/v2: open messaging, integrations, supported content, users/me, tokens/me."""

from __future__ import annotations

import secrets
import time
from typing import Any

from flask import Blueprint, Response, g, jsonify, request

from genesys_standin import schemas
from genesys_standin.context import base_url, get_platform
from genesys_standin.errors import MESSAGES, ApiError
from genesys_standin.platform import profile_media_types
from genesys_standin.state import DEFAULT_PROFILE_ID, ContentProfile, Integration, Token, iso, new_id, utc_now

bp = Blueprint("api", __name__, url_prefix="/api/v2")

# The `expand` values GET /api/v2/users/me accepts (published enum).
USER_EXPANSIONS = frozenset(
    (
        "routingStatus presence integrationPresence conversationSummary outOfOffice geolocation station "
        "authorization lasttokenissued authorization.unusedRoles team workPlanBidRanks "
        "externalContactsSettings groups customAttributes profileSkills certifications locations skills "
        "languages languagePreference employerInfo biography dateLastLogin dateWelcomeSent date "
        "geolocationsettings organization presencedefinitions divisionedpresencedefinitions "
        "locationdefinitions orgauthorization orgproducts favorites superiors directreports adjacents "
        "routingskills routinglanguages fieldconfigs token trustors logCapture autoanswersettings"
    ).split()
)
INTEGRATION_EXPANSIONS = frozenset({"supportedContent", "messagingSetting", "identityresolution"})
BULK_MESSAGES_LIMIT = 1000  # "The max messages you can request in the body is 1,000."
MIN_SECRET_CHARS = 16

# The permissions (any one of them) each route needs, as the swagger's x-inin-requires-permissions publish
# them. GET /conversations/messages/{id} publishes none (only 403 not.authorized): UNSURE, taken to need what
# the message routes of a conversation need.
_MESSAGE_VIEW = ("conversation:message:view", "conversation:webmessaging:view")
_INBOUND = ("conversation:message:receive",)
REQUIRED_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "api.inbound_message": _INBOUND,
    "api.inbound_receipt": _INBOUND,
    "api.inbound_event": _INBOUND,
    "api.inbound_structured_response": _INBOUND,
    "api.get_message_conversation": _MESSAGE_VIEW,
    "api.messages_bulk": _MESSAGE_VIEW,
    "api.list_integrations": ("messaging:integration:view",),
    "api.get_integration": ("messaging:integration:view",),
    "api.create_integration": ("messaging:integration:add",),
    "api.update_integration": ("messaging:integration:edit",),
    "api.delete_integration": ("messaging:integration:delete",),
}  # "This token must be longer than 15 characters."


# -- authentication, rate limit, body handling ------------------------------------------------------


@bp.before_request
def authenticate() -> None:
    """Every route needs a usable bearer token; client-credentials tokens are rate limited."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        g.caller_kind = "none"
        raise ApiError(401, "authentication.required")
    platform = get_platform()
    token = platform.state.find_token(value.strip())
    if token is None:
        g.caller_kind = "invalid"
        raise ApiError(401, "bad.credentials")
    g.token = token
    g.caller_kind = token.kind
    _check_permissions(token)
    retry_after = platform.state.rate_limited(token)
    if retry_after is not None:
        raise ApiError(
            429,
            "too.many.requests.retry.after",
            MESSAGES["too.many.requests.retry.after"] % retry_after,
            headers={"Retry-After": str(retry_after)},
        )


def _check_permissions(token: Token) -> None:
    """403 when the route needs a permission the client's role lacks (`revoked_client_permissions`)."""
    needed = REQUIRED_PERMISSIONS.get(request.endpoint or "")
    revoked = {p.strip() for p in get_platform().settings.revoked_client_permissions.split(",") if p.strip()}
    if token.kind != "client" or not needed or not set(needed) <= revoked:
        return
    raise ApiError(
        403,
        "missing.any.permissions",
        f"Unable to perform the requested action. You must have at least one of the following permissions "
        f"assigned: [{', '.join(needed)}]",
    )


def _token() -> Token:
    token: Token = g.token
    return token


def _require_client() -> Token:
    token = _token()
    if token.kind != "client":
        raise ApiError(400, "not.a.client")
    return token


def _require_user() -> Token:
    token = _token()
    if token.kind != "user":
        raise ApiError(400, "not.a.user")
    return token


def _body(schema: schemas.ObjectSchema) -> dict[str, Any]:
    """The JSON body, validated; 415 for another content type, 400 with details naming each bad field."""
    if request.mimetype != "application/json":
        raise ApiError(415, "unsupported.media.type")
    body = request.get_json(silent=True)
    if body is None:
        raise ApiError(400, "bad.request")
    case_insensitive = () if get_platform().settings.id_type_case_sensitive else ("IdType",)
    checked, violations = schemas.validate(body, schema, case_insensitive_enums=case_insensitive)
    if violations:
        first = violations[0]
        raise ApiError(
            400,
            first.code,
            first.message,
            [{"errorCode": v.code, "fieldName": v.field, "entityName": v.entity} for v in violations],
        )
    return checked


def _bool_arg(name: str) -> bool:
    raw = request.args.get(name)
    if raw is None or raw.lower() == "false":
        return False
    if raw.lower() == "true":
        return True
    raise ApiError(
        400,
        "invalid.query.param.value",
        f"Value [{raw}] is not valid for parameter [{name}]. Allowable values are: true, false",
    )


def _int_arg(name: str, default: int, maximum: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise ApiError(400, "invalid.query.param.value", f"Value [{raw}] is not valid for parameter [{name}]")
    return int(raw)


def _expand(allowed: frozenset[str]) -> set[str]:
    """`expand` given as repeated parameters or comma-separated; unknown values are refused."""
    values = {v.strip() for raw in request.args.getlist("expand") for v in raw.split(",") if v.strip()}
    unknown = sorted(values - allowed)
    if unknown:
        raise ApiError(
            400,
            "invalid.query.param.value",
            f"Value [{unknown[0]}] is not valid for parameter [expand]. Allowable values are: "
            + ", ".join(sorted(allowed)),
        )
    return values


def _json(payload: Any, status: int = 200) -> Response:
    response = jsonify(payload)
    response.status_code = status
    return response


# -- open messaging inbound ---------------------------------------------------------------------------


def _inbound_integration(integration_id: str) -> Integration:
    token = _require_client()
    platform = get_platform()
    integration = platform.integration(integration_id, token.org_id)
    integration.create_status = "Completed"
    return integration


@bp.post("/conversations/messages/<integration_id>/inbound/open/message")
def inbound_message(integration_id: str) -> Response:
    """Send inbound Open Message."""
    integration = _inbound_integration(integration_id)
    prefetch = _bool_arg("prefetchConversationId")
    body = _body(schemas.INBOUND_MESSAGE)
    platform = get_platform()
    answer = platform.receive_message(integration, body, prefetch=prefetch, base_url=base_url())
    return _json(answer, platform.settings.inbound_status_code)


@bp.post("/conversations/messages/<integration_id>/inbound/open/structured/response")
def inbound_structured_response(integration_id: str) -> Response:
    """Send inbound Open Response: the customer pressed a quick reply or button of a structured message."""
    integration = _inbound_integration(integration_id)
    body = _body(schemas.STRUCTURED_RESPONSE)
    platform = get_platform()
    answer = platform.receive_structured_response(integration, body, base_url=base_url())
    return _json(answer, platform.settings.inbound_status_code)


@bp.post("/conversations/messages/<integration_id>/inbound/open/receipt")
def inbound_receipt(integration_id: str) -> Response:
    """Send an inbound Open Receipt (about an agent's message)."""
    integration = _inbound_integration(integration_id)
    body = _body(schemas.INBOUND_RECEIPT)
    platform = get_platform()
    return _json(platform.receive_receipt(integration, body), platform.settings.inbound_status_code)


@bp.post("/conversations/messages/<integration_id>/inbound/open/event")
def inbound_event(integration_id: str) -> Response:
    """Send an inbound Open Event (typing)."""
    integration = _inbound_integration(integration_id)
    body = _body(schemas.INBOUND_EVENT)
    platform = get_platform()
    return _json(platform.receive_event(integration, body), platform.settings.inbound_status_code)


# -- integrations ----------------------------------------------------------------------------------------


def _check_integration_fields(body: dict[str, Any]) -> None:
    secret = body.get("outboundNotificationWebhookSignatureSecretToken")
    if secret is not None and len(secret) < MIN_SECRET_CHARS:
        raise ApiError(
            400,
            "constraint.validation",
            "outboundNotificationWebhookSignatureSecretToken must be longer than 15 characters",
            [
                {
                    "errorCode": "constraint.validation",
                    "fieldName": "outboundNotificationWebhookSignatureSecretToken",
                }
            ],
        )
    url = body.get("outboundNotificationWebhookUrl")
    if url is not None and not url.lower().startswith(("https://", "http://")):
        raise ApiError(
            400,
            "constraint.validation",
            "outboundNotificationWebhookUrl must be an absolute http(s) URL",
            [{"errorCode": "constraint.validation", "fieldName": "outboundNotificationWebhookUrl"}],
        )
    profile_id = (body.get("supportedContent") or {}).get("id")
    if profile_id is not None and profile_id not in get_platform().state.profiles:
        raise ApiError(
            400,
            "invalid.value",
            f"Supported content profile {profile_id} was not found",
            [{"errorCode": "invalid.value", "fieldName": "supportedContent.id"}],
        )


@bp.post("/conversations/messaging/integrations/open")
def create_integration() -> Response:
    """Create an Open messaging integration (createStatus Initiated, Completed from the next read on)."""
    token = _token()
    body = _body(schemas.INTEGRATION_REQUEST)
    _check_integration_fields(body)
    platform = get_platform()
    state = platform.state
    with state.lock:
        integration = Integration(
            id=new_id(),
            name=body["name"],
            webhook_url=body["outboundNotificationWebhookUrl"],
            secret=body["outboundNotificationWebhookSignatureSecretToken"],
            webhook_headers=body.get("webhookHeaders", {}),
            supported_content_id=(body.get("supportedContent") or {}).get("id") or DEFAULT_PROFILE_ID,
            messaging_setting_id=(body.get("messagingSetting") or {}).get("id"),
            org_id=token.org_id,
            created_by={"id": token.user_id or token.client_id},
        )
        state.integrations[integration.id] = integration
        answer = platform.integration_resource(integration, base_url(), set())
        integration.create_status = "Completed"
    return _json(answer, 202)


@bp.get("/conversations/messaging/integrations/open")
def list_integrations() -> Response:
    """List Open messaging integrations of the caller's organization, one page."""
    token = _token()
    expand = _expand(INTEGRATION_EXPANSIONS)
    page_size = _int_arg("pageSize", 25, 500)
    page_number = _int_arg("pageNumber", 1, 1_000_000)
    profile_filter = request.args.get("supportedContent.id")
    platform = get_platform()
    with platform.state.lock:
        integrations = [
            i
            for i in platform.state.integrations.values()
            if i.org_id == token.org_id
            and (profile_filter is None or i.supported_content_id == profile_filter)
        ]
        for integration in integrations:
            integration.create_status = "Completed"
        page = integrations[(page_number - 1) * page_size : page_number * page_size]
        entities = [platform.integration_resource(i, base_url(), expand) for i in page]
    return _json(_listing(entities, len(integrations), page_size, page_number))


def _listing(entities: list[dict[str, Any]], total: int, page_size: int, page_number: int) -> dict[str, Any]:
    """An entity listing with Genesys's paging fields."""
    page_count = max(1, -(-total // page_size))
    path = request.base_url.removeprefix(request.host_url.rstrip("/"))

    def uri(number: int) -> str:
        return f"{path}?pageSize={page_size}&pageNumber={number}"

    listing: dict[str, Any] = {
        "entities": entities,
        "pageSize": page_size,
        "pageNumber": page_number,
        "total": total,
        "firstUri": uri(1),
        "selfUri": uri(page_number),
        "lastUri": uri(page_count),
        "pageCount": page_count,
    }
    if page_number < page_count:
        listing["nextUri"] = uri(page_number + 1)
    if page_number > 1:
        listing["previousUri"] = uri(page_number - 1)
    return listing


@bp.get("/conversations/messaging/integrations/open/<integration_id>")
def get_integration(integration_id: str) -> Response:
    """Get an Open messaging integration."""
    expand = _expand(INTEGRATION_EXPANSIONS)
    platform = get_platform()
    integration = platform.integration(integration_id, _token().org_id)
    integration.create_status = "Completed"
    return _json(platform.integration_resource(integration, base_url(), expand))


@bp.patch("/conversations/messaging/integrations/open/<integration_id>")
def update_integration(integration_id: str) -> Response:
    """Update an Open messaging integration."""
    token = _token()
    platform = get_platform()
    integration = platform.integration(integration_id, token.org_id)
    body = _body(schemas.INTEGRATION_UPDATE_REQUEST)
    _check_integration_fields(body)
    with platform.state.lock:
        integration.name = body["name"]
        integration.webhook_url = body.get("outboundNotificationWebhookUrl", integration.webhook_url)
        integration.secret = body.get("outboundNotificationWebhookSignatureSecretToken", integration.secret)
        integration.webhook_headers = body.get("webhookHeaders", integration.webhook_headers)
        integration.supported_content_id = (body.get("supportedContent") or {}).get(
            "id", integration.supported_content_id
        )
        integration.modified = utc_now()
        return _json(platform.integration_resource(integration, base_url(), set()))


@bp.delete("/conversations/messaging/integrations/open/<integration_id>")
def delete_integration(integration_id: str) -> Response:
    """Delete an Open messaging integration."""
    platform = get_platform()
    integration = platform.integration(integration_id, _token().org_id)
    with platform.state.lock:
        platform.state.integrations.pop(integration.id, None)
    return Response(status=204)


# -- supported content profiles ----------------------------------------------------------------------------


def _profile_resource(profile: ContentProfile) -> dict[str, Any]:
    return {
        "id": profile.id,
        "name": profile.name,
        "dateCreated": iso(profile.created),
        "dateModified": iso(profile.modified),
        "version": profile.version,
        "mediaTypes": profile_media_types(profile),
        "selfUri": f"{base_url()}/api/v2/conversations/messaging/supportedcontent/{profile.id}",
    }


def _media_type_lists(body: dict[str, Any]) -> tuple[list[str] | None, list[str] | None]:
    allow = (body.get("mediaTypes") or {}).get("allow") or {}

    def types(key: str) -> list[str] | None:
        return [m["type"] for m in allow[key] if m.get("type")] if key in allow else None

    return types("inbound"), types("outbound")


@bp.get("/conversations/messaging/supportedcontent")
def list_profiles() -> Response:
    """List supported content profiles."""
    page_size = _int_arg("pageSize", 25, 500)
    page_number = _int_arg("pageNumber", 1, 1_000_000)
    platform = get_platform()
    with platform.state.lock:
        profiles = list(platform.state.profiles.values())
        entities = [
            _profile_resource(p) for p in profiles[(page_number - 1) * page_size : page_number * page_size]
        ]
    return _json(_listing(entities, len(profiles), page_size, page_number))


@bp.post("/conversations/messaging/supportedcontent")
def create_profile() -> Response:
    """Create a supported content profile."""
    body = _body(schemas.SUPPORTED_CONTENT)
    inbound, outbound = _media_type_lists(body)
    profile = ContentProfile(new_id(), body["name"], inbound or [], outbound or [])
    platform = get_platform()
    with platform.state.lock:
        platform.state.profiles[profile.id] = profile
    return _json(_profile_resource(profile))


@bp.get("/conversations/messaging/supportedcontent/default")
def default_profile() -> Response:
    """Get the default supported content profile."""
    platform = get_platform()
    with platform.state.lock:
        return _json(_profile_resource(platform.state.profiles[DEFAULT_PROFILE_ID]))


def _profile(profile_id: str) -> ContentProfile:
    profile = get_platform().state.profiles.get(profile_id)
    if profile is None:
        raise ApiError(404, "not.found", f"Supported content profile {profile_id} was not found")
    return profile


@bp.get("/conversations/messaging/supportedcontent/<profile_id>")
def get_profile(profile_id: str) -> Response:
    """Get a supported content profile."""
    return _json(_profile_resource(_profile(profile_id)))


@bp.patch("/conversations/messaging/supportedcontent/<profile_id>")
def update_profile(profile_id: str) -> Response:
    """Update a supported content profile."""
    profile = _profile(profile_id)
    body = _body(schemas.SUPPORTED_CONTENT)
    inbound, outbound = _media_type_lists(body)
    with get_platform().state.lock:
        profile.name = body["name"]
        profile.inbound = profile.inbound if inbound is None else inbound
        profile.outbound = profile.outbound if outbound is None else outbound
        profile.modified = utc_now()
        profile.version += 1
    return _json(_profile_resource(profile))


# -- conversations, users, tokens, organization -----------------------------------------------------------


@bp.get("/conversations/messages/<conversation_id>")
def get_message_conversation(conversation_id: str) -> Response:
    """Get a message conversation with its participants."""
    platform = get_platform()
    conversation = platform.conversation(conversation_id, _token().org_id)
    return _json(platform.conversation_resource(conversation, base_url()))


@bp.post("/conversations/messages/<conversation_id>/messages/bulk")
def messages_bulk(conversation_id: str) -> Response:
    """Get messages in batch: a JSON list of message ids (at most 1,000) → `TextMessageListing`."""
    platform = get_platform()
    conversation = platform.conversation(conversation_id, _token().org_id)
    ids = request.get_json(silent=True) if request.mimetype == "application/json" else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ApiError(400, "bad.request", "The body must be a list of message ids")
    if len(ids) > BULK_MESSAGES_LIMIT:
        raise ApiError(400, "bad.request", f"At most {BULK_MESSAGES_LIMIT} message ids")
    return _json({"entities": platform.message_data(conversation, ids)})


@bp.get("/users/me")
def users_me() -> Response:
    """Get the current user (400 not.a.user for client-credentials tokens)."""
    token = _require_user()
    expand = _expand(USER_EXPANSIONS)
    platform = get_platform()
    user = platform.state.users.get(token.user_id or "")
    if user is None:
        raise ApiError(404, "general.resource.not.found", "The requested userID could not be found.")
    return _json(platform.user_resource(user, token, expand, base_url()))


@bp.route("/tokens/me", methods=["GET", "HEAD"])
def tokens_me() -> Response:
    """Information about the token used (HEAD: just verify it)."""
    if request.method == "HEAD":
        return Response(status=200)
    return _json(get_platform().token_info(_token()))


@bp.delete("/tokens/me")
def delete_tokens_me() -> Response:
    """Revoke the token used for this request (and the refresh token issued with it)."""
    token = _token()
    state = get_platform().state
    with state.lock:
        token.revoked = True
        if token.refresh_token and token.refresh_token in state.refresh_tokens:
            state.refresh_tokens[token.refresh_token].revoked = True
    return Response(status=200)


@bp.get("/organizations/me")
def organizations_me() -> Response:
    """The organization of the token."""
    platform = get_platform()
    return _json(platform.state.org(_token().org_id).resource(base_url()))


@bp.get("/downloads/<media_id>")
def download(media_id: str) -> Response:
    """A Genesys-hosted file, as `GET /api/v2/downloads/{downloadId}` answers it: a bearer token is
    required, the URL expires, and the answer is a redirect (302) to the bytes at a one-off URL."""
    state = get_platform().state
    now = time.time()
    with state.lock:
        stored = state.media.get(media_id)
        expires = state.media_expires.get(media_id, 0.0)
        if stored is None or expires <= now:
            raise ApiError(404, "not.found")
        key = secrets.token_urlsafe(24)
        state.download_links[key] = (media_id, now + state.settings.download_redirect_ttl_seconds)
    response = Response(status=302)
    response.headers["Location"] = f"{base_url()}{CONTENT_PATH}/{key}"
    return response


# Where a download redirects to: like a presigned storage URL, it works without a token, briefly.
CONTENT_PATH = "/download-content"
content_bp = Blueprint("download_content", __name__)


@content_bp.get(f"{CONTENT_PATH}/<key>")
def download_content(key: str) -> Response:
    """The bytes behind a download redirect, while its one-off key is valid."""
    state = get_platform().state
    with state.lock:
        media_id, valid_until = state.download_links.get(key, ("", 0.0))
        stored = state.media.get(media_id)
    if stored is None or valid_until <= time.time():
        raise ApiError(403, "not.authorized")
    return media_response(stored)


def media_response(stored: tuple[str, str | None, bytes]) -> Response:
    """A stored file as an HTTP answer (its own type, never sniffed)."""
    mime, filename, data = stored
    response = Response(data, mimetype=mime)
    if filename:
        response.headers["Content-Disposition"] = f'inline; filename="{filename.replace(chr(34), "")}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
