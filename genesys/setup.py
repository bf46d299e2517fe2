"""Setting up and checking a Genesys organisation for Ferry (the `flask genesys` commands' work)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from genesys.client import GenesysClient
from genesys.errors import GenesysError, GenesysUnavailable
from genesys.models import WEBHOOK_SECRET_MIN_LENGTH, CreateStatus, OpenIntegration, OpenIntegrationRequest
from genesys.webhook import WEBHOOK_PATH


class SetupError(Exception):
    """The set-up could not be done; the message says why, for the operator."""


class WeakSecret(SetupError):
    """The webhook secret is too short to be given to Genesys (nothing was asked of Genesys)."""


def webhook_url_for(public_base_url: str) -> str:
    """Where Genesys must POST agent messages: `{PUBLIC_BASE_URL}/genesys/webhook`."""
    return public_base_url.rstrip("/") + WEBHOOK_PATH


def create_integration(
    client: GenesysClient,
    *,
    name: str,
    webhook_url: str,
    secret: str,
    wait: float,
    poll_interval: float,
    progress: Callable[[str], None],
) -> OpenIntegration:
    """Create the Open Messaging integration whose webhook is Ferry and wait until Genesys completes it.

    :raise WeakSecret: the secret is too short. :raise SetupError: creation failed, or `wait` ran out.
    :raise GenesysError: Genesys refused a request.
    """
    if len(secret) < WEBHOOK_SECRET_MIN_LENGTH:
        raise WeakSecret(
            f"the webhook secret must be at least {WEBHOOK_SECRET_MIN_LENGTH} characters long "
            "(set GENESYS_WEBHOOK_SECRET or pass --secret)"
        )
    request = OpenIntegrationRequest(
        name=name,
        outbound_notification_webhook_url=webhook_url,
        outbound_notification_webhook_signature_secret_token=secret,
    )
    integration = client.create_open_integration(request)
    progress(f"creating integration {integration.id} ({name}) with webhook {webhook_url}")
    return _wait_until_created(client, integration, wait, poll_interval)


def _wait_until_created(
    client: GenesysClient, integration: OpenIntegration, wait: float, poll_interval: float
) -> OpenIntegration:
    """Poll until `createStatus` is Completed; SetupError on Error or when `wait` runs out."""
    deadline = time.monotonic() + wait
    while True:
        if integration.create_status == CreateStatus.COMPLETED:
            return integration
        if integration.create_status == CreateStatus.ERROR:
            raise SetupError(f"Genesys could not create integration {integration.id}: {_why(integration)}")
        if time.monotonic() >= deadline:
            raise SetupError(
                f"integration {integration.id} is still {integration.create_status or 'not reported'} after "
                f"{wait:g} s; check it later with `flask genesys doctor`"
            )
        time.sleep(poll_interval)
        integration = client.get_open_integration(integration.id)


def _why(integration: OpenIntegration) -> str:
    error = integration.create_error
    if error is None:
        return "no reason given"
    return " ".join(part for part in (error.message, f"({error.code})" if error.code else None) if part)


# -- doctor -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report."""

    name: str
    outcome: Literal["OK", "FAIL", "SKIP"]  # SKIP: could not be checked, which is not a failure
    detail: str


@dataclass(frozen=True)
class Route:
    """A route Ferry calls with its own token, the permissions it needs (any one, as the swagger publishes
    them), and a call to it that cannot do anything: an id that does not exist, a body Genesys refuses."""

    name: str
    method: str
    path: str  # with {integration_id} / {conversation_id}
    permissions: tuple[str, ...]
    body: Any = None


_RECEIVE = ("conversation:message:receive",)
_MESSAGE_VIEW = ("conversation:message:view", "conversation:webmessaging:view")
# Every route GenesysClient calls with Ferry's token but GET /api/v2/organizations/me, which needs no
# permission and which the doctor's organization check calls (tests/genesys/test_setup.py compares them).
PRODUCT_ROUTES = (
    Route(
        "inbound messages",
        "POST",
        "/api/v2/conversations/messages/{integration_id}/inbound/open/message",
        _RECEIVE,
        {},
    ),
    Route(
        "receipts",
        "POST",
        "/api/v2/conversations/messages/{integration_id}/inbound/open/receipt",
        _RECEIVE,
        {},
    ),
    Route(
        "typing events",
        "POST",
        "/api/v2/conversations/messages/{integration_id}/inbound/open/event",
        _RECEIVE,
        {},
    ),
    Route(
        "quick-reply answers",
        "POST",
        "/api/v2/conversations/messages/{integration_id}/inbound/open/structured/response",
        _RECEIVE,
        {},
    ),
    # No permission is published for this one (403 not.authorized only): UNSURE, the message view ones.
    Route("participants check", "GET", "/api/v2/conversations/messages/{conversation_id}", _MESSAGE_VIEW),
    Route(
        "message lookup",
        "POST",
        "/api/v2/conversations/messages/{conversation_id}/messages/bulk",
        _MESSAGE_VIEW,
        [],
    ),
    Route(
        "integration",
        "GET",
        "/api/v2/conversations/messaging/integrations/open/{integration_id}",
        ("messaging:integration:view",),
    ),
    Route(
        "integrations",
        "GET",
        "/api/v2/conversations/messaging/integrations/open",
        ("messaging:integration:view",),
    ),
    Route(
        "create integration",
        "POST",
        "/api/v2/conversations/messaging/integrations/open",
        ("messaging:integration:add",),
        {},
    ),
)
PARTICIPANTS_ROUTE = next(r for r in PRODUCT_ROUTES if r.name == "participants check")


def access_check(client: GenesysClient, route: Route, integration_id: str = "") -> Check:
    """Whether Ferry's token may call `route`: anything but 401/403 means it may (a 404 for the made-up
    conversation, a 400 for the empty body); a refusal names the permission the route needs.

    :raise GenesysUnavailable: Genesys could not be asked.
    """
    path = route.path.format(integration_id=integration_id or uuid.uuid4(), conversation_id=uuid.uuid4())
    status = client.access_status(route.method, path, route.body)
    name = f"access to {route.name}"
    if status in (401, 403):
        needed = " or ".join(route.permissions) or "a role in this organization"
        return Check(
            name,
            "FAIL",
            f"{route.method} {route.path} answered {status}: Ferry's OAuth client lacks {needed} "
            "(or the division the conversations live in)",
        )
    return Check(name, "OK", f"{route.method} {route.path} allowed (answered {status})")


def access_checks(client: GenesysClient, integration_id: str) -> list[Check]:
    """`access_check` for every route the product calls with Ferry's token."""
    checks = []
    for route in PRODUCT_ROUTES:
        try:
            checks.append(access_check(client, route, integration_id))
        except GenesysUnavailable as exc:
            checks.append(Check(f"access to {route.name}", "FAIL", f"Genesys could not be asked: {exc}"))
    return checks


def run_checks(
    client: GenesysClient, *, public_base_url: str, org_id: str, integration_id: str
) -> list[Check]:
    """Every doctor check, in order; later checks are skipped when the credentials do not work."""
    try:
        client.service_token()
    except GenesysError as exc:
        reason = "needs working client credentials"
        return [
            Check("credentials", "FAIL", f"no client-credentials token from {client.login_base_url}: {exc}"),
            Check("organization", "SKIP", reason),
            Check("integration", "SKIP", reason),
        ]
    checks = [Check("credentials", "OK", f"client-credentials token from {client.login_base_url}")]
    checks.append(_organization(client, org_id))
    integration, check = _integration(client, integration_id)
    checks.append(check)
    if integration is not None:
        checks.append(_create_status(integration))
        checks.append(_webhook(integration, webhook_url_for(public_base_url)))
    checks.extend(access_checks(client, integration_id))
    return checks


def _organization(client: GenesysClient, org_id: str) -> Check:
    try:
        organization = client.get_organization_me()
    except GenesysError as exc:
        if exc.status in (403, 404):
            return Check(
                "organization", "SKIP", f"not discoverable with this client ({exc}); GENESYS_ORG_ID unchecked"
            )
        return Check("organization", "FAIL", f"could not read the client's organization: {exc}")
    label = f"{organization.id} ({organization.name or 'unnamed'})"
    if not org_id:
        return Check("organization", "FAIL", f"GENESYS_ORG_ID is not set; the client belongs to {label}")
    if organization.id != org_id:
        return Check("organization", "FAIL", f"the client belongs to {label}, but GENESYS_ORG_ID is {org_id}")
    return Check("organization", "OK", f"{label} matches GENESYS_ORG_ID")


def _integration(client: GenesysClient, integration_id: str) -> tuple[OpenIntegration | None, Check]:
    if not integration_id:
        return None, Check(
            "integration",
            "FAIL",
            "GENESYS_INTEGRATION_ID is not set (run `flask genesys create-integration`)",
        )
    try:
        integration = client.get_open_integration(integration_id)
    except GenesysError as exc:
        if exc.status == 404:
            return None, Check(
                "integration", "FAIL", f"GENESYS_INTEGRATION_ID {integration_id} does not exist"
            )
        return None, Check("integration", "FAIL", f"could not read integration {integration_id}: {exc}")
    return integration, Check(
        "integration", "OK", f"{integration.id} ({integration.name or 'unnamed'}) exists"
    )


def _create_status(integration: OpenIntegration) -> Check:
    if integration.create_status == CreateStatus.COMPLETED:
        return Check("integration status", "OK", "createStatus Completed")
    if integration.create_status == CreateStatus.ERROR:
        return Check("integration status", "FAIL", f"createStatus Error: {_why(integration)}")
    return Check("integration status", "FAIL", f"createStatus is {integration.create_status or 'missing'}")


def _webhook(integration: OpenIntegration, expected: str) -> Check:
    actual = integration.outbound_notification_webhook_url
    if actual != expected:
        return Check(
            "webhook URL", "FAIL", f"Genesys posts to {actual or 'nowhere'}, Ferry listens at {expected}"
        )
    return Check("webhook URL", "OK", expected)
