"""Ferry's Genesys Cloud API client: inbound open messaging, users and tokens, conversations, integrations.

Every call has a timeout. Calls are retried with exponential backoff and jitter on definite failures, where
Genesys did nothing: 429 (after `Retry-After`, giving up beyond 180 s like the official CLI), 5xx except 501,
and a connection that could not be made. An ambiguous failure (a timeout or reset after the request was sent)
is retried only for calls that are safe to repeat (GET, DELETE, receipts, events); an inbound message is not,
because nothing published says Genesys drops a repeated `channel.messageId`: it raises `GenesysAmbiguous`
and the caller checks (`find_inbound_message`) before sending again. Everything that goes wrong is raised
as `GenesysError`, or `GenesysUnavailable` when trying again later may work; no `requests` exception escapes.
Tokens and secrets are never logged: a log line has method, path, status, attempt and Genesys's context id.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote, urljoin

import requests
import urllib3

from genesys.auth import IssuedToken, TokenCache
from genesys.downloads import MAX_REDIRECTS, DownloadPolicy, DownloadRefused
from genesys.errors import GenesysAmbiguous, GenesysError, GenesysUnavailable
from genesys.models import (
    GenesysModel,
    MalformedPayload,
    MessageConversation,
    MessageData,
    OpenEventNormalizedMessage,
    OpenInboundNormalizedEvent,
    OpenInboundNormalizedMessage,
    OpenInboundNormalizedReceipt,
    OpenInboundStructuredResponseMessage,
    OpenIntegration,
    OpenIntegrationEntityListing,
    OpenIntegrationRequest,
    OpenMessageNormalizedMessage,
    OpenReceiptNormalizedMessage,
    Organization,
    TextMessageListing,
    TokenInfo,
    UserMe,
)

log = logging.getLogger("genesys.client")

M = TypeVar("M", bound=GenesysModel)

# The official CLI retries a 429 only when Retry-After is missing or at most this long.
RETRY_AFTER_LIMIT_SECONDS = 180.0
# The most message ids the bulk call takes at once (its published description).
BULK_MESSAGES_LIMIT = 1000
# A safety stop for paging through integrations.
MAX_PAGES = 100
USER_AGENT = "ferry-genesys-client"
DOWNLOAD_CHUNK_BYTES = 64 * 1024
DEFAULT_USER_EXPAND = ("authorization", "organization")

_TRANSIENT_NETWORK_ERRORS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


@dataclass(frozen=True)
class _Call:
    """One logical API call: `retryable` after definite failures, `repeatable` (default: the same) also
    after ambiguous ones, when doing it twice does no harm."""

    method: str
    base_url: str
    path: str
    retryable: bool
    params: Any = None
    json: Any = None
    form: Mapping[str, str] | None = None
    repeatable: bool | None = None

    @property
    def safe_to_repeat(self) -> bool:
        return self.retryable if self.repeatable is None else self.repeatable


class GenesysClient:
    """A thread-safe client for the Genesys Cloud Platform API with its own client-credentials token.

    The client credentials are needed only for calls made as Ferry; calls made with a user's token
    (`get_users_me`, `get_token_info`) work without them, which is all the authorizer does.
    """

    def __init__(
        self,
        *,
        api_base_url: str,
        login_base_url: str,
        client_id: str = "",
        client_secret: str = "",
        timeout: float = 10.0,
        max_attempts: int = 5,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.api_base_url = api_base_url.rstrip("/")
        self.login_base_url = login_base_url.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self._timeout = timeout
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._owns_session = session is None
        self._session = session or requests.Session()
        self._sleep = sleep
        self._clock = clock
        self._tokens = TokenCache(self._fetch_service_token, clock)

    def __repr__(self) -> str:
        return f"GenesysClient(api_base_url={self.api_base_url!r}, client_id={self._client_id!r})"

    def close(self) -> None:
        """Close pooled connections (only when the client created its own session)."""
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> GenesysClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- Ferry's own token --------------------------------------------------------------------------

    def service_token(self) -> str:
        """A valid client-credentials access token (cached); proves the client id and secret work."""
        return self._tokens.get()

    def _fetch_service_token(self) -> IssuedToken:
        if not (self._client_id and self._client_secret):
            raise GenesysError("this client has no client credentials: it can only call with a user's token")
        call = _Call(
            "POST",
            self.login_base_url,
            "/oauth/token",
            retryable=True,
            form={"grant_type": "client_credentials"},
        )
        response = self._send(call, basic=(self._client_id, self._client_secret))
        return IssuedToken.from_json(_json_of(response, call))

    # -- open messaging inbound -----------------------------------------------------------------------

    def send_inbound_message(
        self, integration_id: str, message: OpenInboundNormalizedMessage
    ) -> OpenMessageNormalizedMessage:
        """Deliver a customer's message; the answer has Genesys's message id and the conversation id.

        Retried after definite failures only: a timeout or reset raises `GenesysAmbiguous`.
        """
        call = _Call(
            "POST",
            self.api_base_url,
            f"/api/v2/conversations/messages/{_segment(integration_id)}/inbound/open/message",
            retryable=True,
            repeatable=False,
            params={"prefetchConversationId": "true"},
            json=message.to_json(),
        )
        return _model_of(self._call_as_service(call), call, OpenMessageNormalizedMessage)

    def send_structured_response(
        self, integration_id: str, response: OpenInboundStructuredResponseMessage
    ) -> OpenMessageNormalizedMessage:
        """Send the customer's press of a quick reply or button; like a message, never repeated blind."""
        call = _Call(
            "POST",
            self.api_base_url,
            f"/api/v2/conversations/messages/{_segment(integration_id)}/inbound/open/structured/response",
            retryable=True,
            repeatable=False,
            json=response.to_json(),
        )
        return _model_of(self._call_as_service(call), call, OpenMessageNormalizedMessage)

    def send_inbound_receipt(
        self, integration_id: str, receipt: OpenInboundNormalizedReceipt
    ) -> OpenReceiptNormalizedMessage:
        """Tell Genesys what became of an agent's message (Delivered or Failed)."""
        call = _Call(
            "POST",
            self.api_base_url,
            f"/api/v2/conversations/messages/{_segment(integration_id)}/inbound/open/receipt",
            retryable=True,
            json=receipt.to_json(),
        )
        return _model_of(self._call_as_service(call), call, OpenReceiptNormalizedMessage)

    def send_inbound_event(
        self, integration_id: str, event: OpenInboundNormalizedEvent
    ) -> OpenEventNormalizedMessage:
        """Send a customer event (typing) to the conversation."""
        call = _Call(
            "POST",
            self.api_base_url,
            f"/api/v2/conversations/messages/{_segment(integration_id)}/inbound/open/event",
            retryable=True,
            json=event.to_json(),
        )
        return _model_of(self._call_as_service(call), call, OpenEventNormalizedMessage)

    # -- a signed-in agent's token --------------------------------------------------------------------

    def get_users_me(self, access_token: str, expand: Iterable[str] = DEFAULT_USER_EXPAND) -> UserMe:
        """The user a (user) token belongs to, with `expand` sent as repeated `expand=` parameters."""
        call = _Call(
            "GET",
            self.api_base_url,
            "/api/v2/users/me",
            retryable=True,
            params=[("expand", e) for e in expand],
        )
        return _model_of(self._send(call, bearer=access_token), call, UserMe)

    def get_token_info(self, access_token: str) -> TokenInfo:
        """What `access_token` is: organization, home organization, OAuth client, scopes."""
        call = _Call("GET", self.api_base_url, "/api/v2/tokens/me", retryable=True)
        return _model_of(self._send(call, bearer=access_token), call, TokenInfo)

    def revoke_token(self, access_token: str) -> None:
        """Delete `access_token` at Genesys (logout); a token Genesys already refuses counts as revoked."""
        call = _Call("DELETE", self.api_base_url, "/api/v2/tokens/me", retryable=True)
        try:
            self._send(call, bearer=access_token)
        except GenesysError as exc:
            # A retry after a lost answer, or an expired token, gets 401: either way it no longer works.
            if exc.status != 401:
                raise

    # -- with Ferry's token ---------------------------------------------------------------------------

    def get_message_conversation(self, conversation_id: str) -> MessageConversation:
        """A message conversation and its participants."""
        call = _Call(
            "GET",
            self.api_base_url,
            f"/api/v2/conversations/messages/{_segment(conversation_id)}",
            retryable=True,
        )
        return _model_of(self._call_as_service(call), call, MessageConversation)

    def find_inbound_message(self, conversation_id: str, channel_message_id: str) -> str | None:
        """Genesys's id of the customer's message sent with `channel_message_id` in the conversation, or
        None when Genesys does not have it.

        The conversation lists its participants' message ids; the bulk call answers those messages with
        the `channel.messageId` (or `providerMessageId`) they arrived with.
        """
        conversation = self.get_message_conversation(conversation_id)
        ids = [
            m.message_id
            for p in conversation.participants or []
            if p.purpose == "customer"
            for m in p.messages or []
            if m.message_id
        ]
        # Newest first: a message in doubt is the last one the chat sent.
        for end in range(len(ids), 0, -BULK_MESSAGES_LIMIT):
            for data in self.get_messages_bulk(conversation_id, ids[max(0, end - BULK_MESSAGES_LIMIT) : end]):
                channel = data.normalized_message.channel if data.normalized_message else None
                if channel_message_id in (data.provider_message_id, channel and channel.message_id):
                    return data.id
        return None

    def get_messages_bulk(self, conversation_id: str, message_ids: list[str]) -> list[MessageData]:
        """Messages of a conversation by Genesys's ids (at most `BULK_MESSAGES_LIMIT`); a read."""
        if not message_ids:
            return []
        call = _Call(
            "POST",
            self.api_base_url,
            f"/api/v2/conversations/messages/{_segment(conversation_id)}/messages/bulk",
            retryable=True,
            params={"useNormalizedMessage": "true"},
            json=message_ids,
        )
        return _model_of(self._call_as_service(call), call, TextMessageListing).entities or []

    def get_organization_me(self) -> Organization:
        """The organization Ferry's OAuth client belongs to."""
        call = _Call("GET", self.api_base_url, "/api/v2/organizations/me", retryable=True)
        return _model_of(self._call_as_service(call), call, Organization)

    def create_open_integration(self, request: OpenIntegrationRequest) -> OpenIntegration:
        """Start creating an Open Messaging integration (poll `get_open_integration` for `createStatus`).

        Never retried: a repeat could create a second integration.
        """
        call = _Call(
            "POST",
            self.api_base_url,
            "/api/v2/conversations/messaging/integrations/open",
            retryable=False,
            json=request.to_json(),
        )
        return _model_of(self._call_as_service(call), call, OpenIntegration)

    def get_open_integration(self, integration_id: str) -> OpenIntegration:
        """One Open Messaging integration."""
        call = _Call(
            "GET",
            self.api_base_url,
            f"/api/v2/conversations/messaging/integrations/open/{_segment(integration_id)}",
            retryable=True,
        )
        return _model_of(self._call_as_service(call), call, OpenIntegration)

    def list_open_integrations(self) -> list[OpenIntegration]:
        """Every Open Messaging integration of the organization (all pages)."""
        integrations: list[OpenIntegration] = []
        for page in range(1, MAX_PAGES + 1):
            call = _Call(
                "GET",
                self.api_base_url,
                "/api/v2/conversations/messaging/integrations/open",
                retryable=True,
                params={"pageNumber": page},
            )
            listing = _model_of(self._call_as_service(call), call, OpenIntegrationEntityListing)
            integrations.extend(listing.entities or [])
            if not listing.entities or page >= (listing.page_count or 1):
                break
        return integrations

    # -- downloads (files agents send) ------------------------------------------------------------------

    def download(self, url: str, policy: DownloadPolicy) -> Downloaded:
        """The bytes behind a Genesys download URL, fetched with Ferry's token, following its redirects
        (each one checked by `policy`), within `policy.max_bytes` and `policy.deadline_seconds`.

        :raise DownloadRefused: never to be fetched (host not allowed, too large, 4xx).
        :raise GenesysUnavailable: may work later (network, timeout, 429, 5xx).
        """
        deadline = self._clock() + policy.deadline_seconds
        target = url
        for _hop in range(MAX_REDIRECTS + 1):
            with_token = policy.check(target)
            response = self._download_get(target, with_token, deadline)
            try:
                if response.status_code in (301, 302, 303, 307, 308):
                    location = response.headers.get("Location")
                    if not location:
                        raise DownloadRefused(
                            "a download redirect without a Location", status=response.status_code
                        )
                    target = urljoin(target, location)
                    continue
                if response.status_code != 200:
                    error_class = (
                        GenesysUnavailable
                        if response.status_code == 429 or response.status_code >= 500
                        else DownloadRefused
                    )
                    raise error_class(
                        f"the download answered HTTP {response.status_code}", status=response.status_code
                    )
                return _read_bounded(response, policy.max_bytes, deadline, self._clock)
            finally:
                response.close()
        raise DownloadRefused(f"more than {MAX_REDIRECTS} redirects")

    def _download_get(self, url: str, with_token: bool, deadline: float) -> requests.Response:
        """One GET of a download hop; a refused token is renewed once."""
        for renewed in (False, True):
            headers = {"Accept": "*/*", "User-Agent": USER_AGENT}
            token = self._tokens.get() if with_token else None
            if token is not None:
                headers["Authorization"] = f"Bearer {token}"
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise GenesysUnavailable("the download took too long")
            try:
                response = self._session.get(
                    url,
                    headers=headers,
                    timeout=min(self._timeout, remaining),
                    stream=True,
                    allow_redirects=False,
                )
            except requests.RequestException as exc:
                raise GenesysUnavailable(f"the download failed ({type(exc).__name__})") from None
            if response.status_code == 401 and token is not None and not renewed:
                response.close()
                self._tokens.invalidate(token)
                continue
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def access_status(self, method: str, path: str, json: Any = None) -> int:
        """The status Genesys answers Ferry's token for a call made only to check access: one that cannot
        do anything (an id that does not exist, a body Genesys must refuse). 401/403 mean a permission
        or division is missing. Unreachable raises GenesysUnavailable."""
        call = _Call(method, self.api_base_url, path, retryable=False, json=json)
        try:
            return self._call_as_service(call).status_code
        except GenesysUnavailable:
            raise
        except GenesysError as exc:
            if exc.status is None:
                raise
            return exc.status

    # -- transport ------------------------------------------------------------------------------------

    def _call_as_service(self, call: _Call) -> requests.Response:
        """Send with Ferry's token; on a 401, drop the token and try once more with a fresh one."""
        token = self._tokens.get()
        try:
            return self._send(call, bearer=token)
        except GenesysError as exc:
            if exc.status != 401:
                raise
            log.info(
                "Genesys refused the service token; fetching a new one",
                extra={"method": call.method, "path": call.path, "context_id": exc.context_id},
            )
            self._tokens.invalidate(token)
        return self._send(call, bearer=self._tokens.get())

    def _send(
        self, call: _Call, *, bearer: str | None = None, basic: tuple[str, str] | None = None
    ) -> requests.Response:
        """One call with its retries; answers a 2xx response or raises GenesysError/GenesysUnavailable."""
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if bearer is not None:
            headers["Authorization"] = f"Bearer {bearer}"
        attempt = 0
        while True:
            attempt += 1
            can_retry = call.retryable and attempt < self._max_attempts
            can_repeat = call.safe_to_repeat and attempt < self._max_attempts
            try:
                response = self._session.request(
                    call.method,
                    call.base_url + call.path,
                    params=call.params,
                    json=call.json,
                    data=call.form,
                    headers=headers,
                    auth=basic,
                    timeout=self._timeout,
                    allow_redirects=False,
                )
            except requests.RequestException as exc:
                transient = isinstance(exc, _TRANSIENT_NETWORK_ERRORS) and not isinstance(
                    exc, requests.exceptions.SSLError
                )
                definite = _never_sent(exc)
                reason = f"{call.method} {call.path}: Genesys did not answer ({type(exc).__name__})"
                if transient and (can_retry if definite else can_repeat):
                    self._pause(call, attempt, self._backoff(attempt), reason=type(exc).__name__)
                    continue
                log.warning(reason, extra={"method": call.method, "path": call.path, "attempt": attempt})
                if not transient:
                    raise GenesysError(reason) from None
                raise (GenesysUnavailable if definite else GenesysAmbiguous)(reason) from None

            status = response.status_code
            if 200 <= status < 300:
                log.debug(
                    "Genesys call",
                    extra={"method": call.method, "path": call.path, "status": status, "attempt": attempt},
                )
                return response

            retry_after = _retry_after(response.headers.get("Retry-After"))
            error = GenesysError.from_response(
                status,
                response.content,
                retry_after=retry_after,
                context_id=response.headers.get("ININ-Correlation-Id"),
            )
            if status == 429 or (status >= 500 and status != 501):
                waited_too_long = retry_after is not None and retry_after > RETRY_AFTER_LIMIT_SECONDS
                if can_retry and not waited_too_long:
                    delay = (
                        retry_after if status == 429 and retry_after is not None else self._backoff(attempt)
                    )
                    self._pause(call, attempt, delay, reason=str(status), context_id=error.context_id)
                    continue
                error = GenesysUnavailable(
                    error.message,
                    status=status,
                    code=error.code,
                    context_id=error.context_id,
                    details=error.details,
                    retry_after=retry_after,
                )
            log.warning(
                "Genesys call failed",
                extra={
                    "method": call.method,
                    "path": call.path,
                    "status": status,
                    "attempt": attempt,
                    "code": error.code,
                    "context_id": error.context_id,
                },
            )
            raise error

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: half the step, plus up to half again at random."""
        step = min(self._backoff_max, self._backoff_base * 2.0 ** (attempt - 1))
        jitter = random.uniform(0, step / 2)  # noqa: S311 - spreading retries, not cryptography
        return step / 2 + jitter

    def _pause(
        self, call: _Call, attempt: int, delay: float, *, reason: str, context_id: str | None = None
    ) -> None:
        log.info(
            "Genesys call will be retried",
            extra={
                "method": call.method,
                "path": call.path,
                "attempt": attempt,
                "reason": reason,
                "delay_seconds": round(delay, 3),
                "context_id": context_id,
            },
        )
        self._sleep(delay)


@dataclass(frozen=True)
class Downloaded:
    """A downloaded file: its bytes and the type the server named."""

    data: bytes
    content_type: str | None


def _read_bounded(
    response: requests.Response, max_bytes: int, deadline: float, clock: Callable[[], float]
) -> Downloaded:
    """The body, abandoned as soon as it is larger than `max_bytes` or the deadline passes."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise DownloadRefused(f"the file is larger than {max_bytes} bytes ({declared})")
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(DOWNLOAD_CHUNK_BYTES):
            size += len(chunk)
            if size > max_bytes:
                raise DownloadRefused(f"the file is larger than {max_bytes} bytes")
            if clock() > deadline:
                raise GenesysUnavailable("the download took too long")
            chunks.append(chunk)
    except requests.RequestException as exc:
        raise GenesysUnavailable(f"the download broke off ({type(exc).__name__})") from None
    content_type = response.headers.get("Content-Type")
    return Downloaded(b"".join(chunks), content_type.split(";", 1)[0].strip() if content_type else None)


def _never_sent(exc: requests.RequestException) -> bool:
    """Whether the request certainly never reached Genesys: the connection itself could not be made."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError) and not isinstance(
        exc, requests.exceptions.Timeout
    ):
        reason = exc.args[0] if exc.args else None
        if isinstance(reason, urllib3.exceptions.MaxRetryError):
            reason = reason.reason
        return isinstance(reason, urllib3.exceptions.NewConnectionError)
    return False


def _segment(value: str) -> str:
    """A path segment, percent-encoded; an empty id is a configuration mistake, not a request."""
    if not value:
        raise ValueError("a Genesys id in the path must not be empty")
    return quote(value, safe="")


def _retry_after(header: str | None) -> float | None:
    """`Retry-After` in seconds (Genesys sends delta-seconds); None when absent or unreadable."""
    if not header:
        return None
    try:
        seconds = float(header)
    except ValueError:
        return None
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _json_of(response: requests.Response, call: _Call) -> Any:
    try:
        return response.json()
    except ValueError:
        raise GenesysError(
            f"{call.method} {call.path}: Genesys answered {response.status_code} with a non-JSON body",
            status=response.status_code,
            context_id=response.headers.get("ININ-Correlation-Id"),
        ) from None


def _model_of(response: requests.Response, call: _Call, model: type[M]) -> M:
    try:
        return model.from_json(_json_of(response, call))
    except MalformedPayload as exc:
        raise GenesysError(
            f"{call.method} {call.path}: unexpected answer from Genesys: {exc}",
            status=response.status_code,
            context_id=response.headers.get("ININ-Correlation-Id"),
        ) from None
