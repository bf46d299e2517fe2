"""The authorizer's decision: a checked Genesys user gets an Allow policy with context, anyone else a Deny."""

from __future__ import annotations

import logging
from collections.abc import Callable

from authorizer.event import RequestAuthorizerEvent
from authorizer.policy import AuthorizerResponse, MethodArn
from ferry.access.identity import Identity, token_digest
from ferry.access.opening import Refusal, Refused, identify_caller

log = logging.getLogger("authorizer")

ANONYMOUS = "anonymous"


def resource_for(method_arn: str, scope: str) -> str:
    """What an answer covers: the requested route, or ("api") every route of the API stage, which lets
    API Gateway's authorizer cache answer for other routes too."""
    try:
        arn = MethodArn.parse(method_arn)
    except ValueError:
        return method_arn
    return arn.whole_api() if scope == "api" else str(arn)


def authorize(
    event: RequestAuthorizerEvent, token: str, check: Callable[[str], Identity], *, scope: str
) -> AuthorizerResponse:
    """Allow the route(s) for a user `check` accepts; deny anyone else, and deny when Genesys is down."""
    resource = resource_for(event.method_arn, scope)
    # A short digest lets operators follow one caller through the logs; the token itself is never logged.
    caller = token_digest(token)[:12]
    identity = identify_caller(token, check)
    if isinstance(identity, Refused):
        if identity.refusal is Refusal.UNAVAILABLE:
            log.error(
                "Genesys Cloud could not be asked; denying (fail closed)",
                extra={"reason": str(identity.reason), "token_sha256_prefix": caller},
            )
        else:
            log.info("denied", extra={"reason": str(identity.reason), "token_sha256_prefix": caller})
        return AuthorizerResponse(ANONYMOUS).deny(resource)
    log.info("allowed", extra={"user_id": identity.user_id, "token_sha256_prefix": caller})
    context: dict[str, str | int | bool] = {
        "userId": identity.user_id,
        "userName": identity.name,
        "organizationId": identity.org_id,
        "roles": ",".join(identity.roles),
        "access": ",".join(sorted(identity.access)),
    }
    return AuthorizerResponse(identity.user_id, context=context).allow(resource)
