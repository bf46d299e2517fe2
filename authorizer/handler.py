"""Lambda entry point: `authorizer.handler.lambda_handler`, an API Gateway REQUEST authorizer.

Configured by its own few environment variables (ferry.config, `Deployable.AUTHORIZER`): the Genesys
hosts, the organisation, the accepted OAuth clients, the role names and its cache. A request without a
bearer token gets API Gateway's 401 (the handler raises "Unauthorized"); a refused or uncheckable token
gets a Deny policy (403). Answers are cached in this process by SHA-256 of the token for
AUTHORIZER_CACHE_SECONDS.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Any

from authorizer.core import authorize
from authorizer.event import RequestAuthorizerEvent
from ferry.access.identity import Identity, IdentityCache, identify
from ferry.config import Deployable, Settings
from ferry.logs import configure_logging
from genesys.client import GenesysClient

log = logging.getLogger("authorizer")

# API Gateway waits for its authorizer; an unreachable Genesys must end in a Deny well within that time.
GENESYS_TIMEOUT_CAP_SECONDS = 5.0
GENESYS_ATTEMPTS = 2


@dataclass(frozen=True)
class Runtime:
    """What one warm Lambda process keeps between invocations."""

    settings: Settings
    genesys: GenesysClient
    cache: IdentityCache

    def check(self, token: str) -> Identity:
        return self.cache.identify(token, lambda t: identify(self.genesys, t, self.settings))


@functools.cache
def runtime() -> Runtime:
    """Built on the first invocation (not at import), then reused by the warm process."""
    settings = Settings.from_env(deployable=Deployable.AUTHORIZER)
    configure_logging(settings.log_level)
    # No client credentials: every call is made with the caller's own token.
    genesys = GenesysClient(
        api_base_url=settings.genesys_api_base_url,
        login_base_url=settings.genesys_login_base_url,
        timeout=min(settings.genesys_timeout_seconds, GENESYS_TIMEOUT_CAP_SECONDS),
        max_attempts=GENESYS_ATTEMPTS,
        backoff_base=0.1,
    )
    return Runtime(settings=settings, genesys=genesys, cache=IdentityCache(settings.authorizer_cache_seconds))


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Answer API Gateway with an IAM policy for the caller's Genesys token."""
    try:
        parsed = RequestAuthorizerEvent.from_dict(event)
    except ValueError:
        log.error("not an API Gateway REQUEST authorizer event")
        raise Exception("Unauthorized") from None  # API Gateway answers 401 for exactly this message
    token = parsed.bearer_token()
    if token is None:
        log.info("no bearer token")
        raise Exception("Unauthorized")  # API Gateway's 401 (any other failure would be a 500)
    rt = runtime()
    return authorize(parsed, token, rt.check, scope=rt.settings.authorizer_policy_scope).asdict()
