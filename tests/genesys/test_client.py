"""The Genesys client against a scripted loopback server: requests, answers, retries, errors and the token."""

from __future__ import annotations

import logging
import socket
import threading
from datetime import UTC, datetime
from typing import Any

import pytest

from genesys.client import GenesysClient
from genesys.errors import GenesysAmbiguous, GenesysError, GenesysUnavailable
from genesys.models import (
    EventType,
    IdType,
    OpenEvent,
    OpenInboundMessageMessagingChannel,
    OpenInboundMessagingChannel,
    OpenInboundMessagingReceiptChannel,
    OpenInboundNormalizedEvent,
    OpenInboundNormalizedMessage,
    OpenInboundNormalizedReceipt,
    OpenIntegrationRequest,
    OpenMessagingFromRecipient,
    OpenMessagingToRecipient,
    ReceiptStatus,
)
from tests.conftest import free_port

from .conftest import CLIENT_SECRET, FakeClock, Reply, ScriptedGenesys, error_body

INTEGRATION = "integration-1"
MESSAGE_PATH = f"/api/v2/conversations/messages/{INTEGRATION}/inbound/open/message"
RECEIPT_PATH = f"/api/v2/conversations/messages/{INTEGRATION}/inbound/open/receipt"
EVENT_PATH = f"/api/v2/conversations/messages/{INTEGRATION}/inbound/open/event"
INTEGRATIONS_PATH = "/api/v2/conversations/messaging/integrations/open"
WHEN = datetime(2026, 5, 1, 13, 1, 14, 462000, tzinfo=UTC)
VISITOR = OpenMessagingFromRecipient(id="visitor-123", id_type=IdType.OPAQUE, nickname="Jane")


def message(message_id: str | None = "ferry-msg-1") -> OpenInboundNormalizedMessage:
    channel = OpenInboundMessageMessagingChannel(from_=VISITOR, time=WHEN, message_id=message_id)
    return OpenInboundNormalizedMessage(channel=channel, text="Here is my file")


def answer(conversation_id: str = "conv-1") -> dict[str, Any]:
    return {
        "id": "genesys-msg-1",
        "channel": {
            "id": INTEGRATION,
            "platform": "Open",
            "type": "Private",
            "messageId": "ferry-msg-1",
            "to": {"id": INTEGRATION},
            "from": {"id": "visitor-123", "idType": "Opaque"},
            "time": "2026-05-01T13:01:14.462Z",
        },
        "type": "Text",
        "text": "Here is my file",
        "conversationId": conversation_id,
    }


def integration(create_status: str = "Completed", **extra: Any) -> dict[str, Any]:
    return {
        "id": INTEGRATION,
        "name": "Ferry",
        "outboundNotificationWebhookUrl": "https://ferry.example/genesys/webhook",
        "outboundNotificationWebhookSignatureSecretToken": "********",
        "createStatus": create_status,
        **extra,
    }


# -- requests and answers ---------------------------------------------------------------------------


def test_inbound_message_is_posted_with_the_service_token_and_prefetches_the_conversation(
    scripted: ScriptedGenesys, genesys_client: GenesysClient
) -> None:
    scripted.reply("POST", MESSAGE_PATH, Reply(202, answer()))
    result = genesys_client.send_inbound_message(INTEGRATION, message())
    assert result.id == "genesys-msg-1"
    assert result.conversation_id == "conv-1"
    (token_request,) = scripted.seen("POST", "/oauth/token")
    assert token_request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert token_request.body == b"grant_type=client_credentials"
    (sent,) = scripted.seen("POST", MESSAGE_PATH)
    assert sent.query == {"prefetchConversationId": ["true"]}
    assert sent.bearer == "token-1"
    assert sent.headers["content-type"] == "application/json"
    assert sent.json() == message().to_json()


def test_receipt_and_event_are_posted_to_their_endpoints(
    scripted: ScriptedGenesys, genesys_client: GenesysClient
) -> None:
    scripted.reply(
        "POST", RECEIPT_PATH, Reply(202, {"id": "genesys-msg-9", "type": "Receipt", "status": "Delivered"})
    )
    scripted.reply(
        "POST", EVENT_PATH, Reply(202, {"id": "e-1", "type": "Event", "events": [{"eventType": "Typing"}]})
    )
    receipt = OpenInboundNormalizedReceipt(
        id="genesys-msg-9",
        channel=OpenInboundMessagingReceiptChannel(to=OpenMessagingToRecipient(id="visitor-123"), time=WHEN),
        status=ReceiptStatus.DELIVERED,
        is_final_receipt=True,
    )
    event = OpenInboundNormalizedEvent(
        channel=OpenInboundMessagingChannel(from_=VISITOR, time=WHEN),
        events=[OpenEvent(event_type=EventType.TYPING)],
    )
    assert genesys_client.send_inbound_receipt(INTEGRATION, receipt).status == "Delivered"
    assert genesys_client.send_inbound_event(INTEGRATION, event).events is not None
    assert scripted.seen("POST", RECEIPT_PATH)[0].json() == receipt.to_json()
    assert scripted.seen("POST", EVENT_PATH)[0].json() == event.to_json()


def test_users_me_uses_the_users_token_and_repeats_expand(
    scripted: ScriptedGenesys, genesys_client: GenesysClient
) -> None:
    scripted.reply(
        "GET",
        "/api/v2/users/me",
        Reply(
            200, {"id": "u-1", "name": "Agent Smith", "organization": {"id": "org-1"}, "authorization": {}}
        ),
    )
    user = genesys_client.get_users_me("agent-token")
    assert user.id == "u-1" and user.organization is not None and user.organization.id == "org-1"
    (sent,) = scripted.seen()  # no token request: a user call never uses Ferry's own token
    assert sent.bearer == "agent-token"
    assert sent.query == {"expand": ["authorization", "organization"]}


def test_a_client_without_credentials_calls_with_users_tokens_only(
    scripted: ScriptedGenesys, make_genesys_client: Any
) -> None:
    # What the authorizer builds: no client id or secret to hold.
    client = make_genesys_client(client_id="", client_secret="")
    scripted.reply("GET", "/api/v2/users/me", Reply(200, {"id": "u-1", "name": "Agent Smith"}))

    assert client.get_users_me("agent-token").id == "u-1"
    with pytest.raises(GenesysError, match="no client credentials"):
        client.service_token()
    assert [sent.path for sent in scripted.seen()] == ["/api/v2/users/me"]  # no token request was tried


def test_token_info_and_revocation_use_the_given_token(
    scripted: ScriptedGenesys, genesys_client: GenesysClient
) -> None:
    scripted.reply(
        "GET", "/api/v2/tokens/me", Reply(200, {"organization": {"id": "org-1"}, "OAuthClient": {"id": "c"}})
    )
    scripted.reply("DELETE", "/api/v2/tokens/me", Reply(200))
    info = genesys_client.get_token_info("agent-token")
    assert info.organization is not None and info.organization.id == "org-1"
    genesys_client.revoke_token("agent-token")
    assert [(r.method, r.bearer) for r in scripted.seen()] == [
        ("GET", "agent-token"),
        ("DELETE", "agent-token"),
    ]


def test_revoking_a_token_genesys_already_refuses_is_not_an_error(
    scripted: ScriptedGenesys, genesys_client: GenesysClient, sleeps: list[float]
) -> None:
    scripted.reply(
        "DELETE", "/api/v2/tokens/me", Reply(401, error_body(401, "bad.credentials", "Invalid login"))
    )
    genesys_client.revoke_token("expired-token")
    scripted.always("DELETE", "/api/v2/tokens/me", Reply(403, error_body(403, "not.authorized", "no")))
    with pytest.raises(GenesysError) as caught:
        genesys_client.revoke_token("token")
    assert caught.value.status == 403


def test_message_conversation_and_participants(
    scripted: ScriptedGenesys, genesys_client: GenesysClient
) -> None:
    scripted.reply(
        "GET",
        "/api/v2/conversations/messages/conv-1",
        Reply(
            200,
            {
                "id": "conv-1",
                "participants": [
                    {"id": "p-1", "purpose": "customer", "state": "connected", "type": "open"},
                    {
                        "id": "p-2",
                        "purpose": "agent",
                        "state": "disconnected",
                        "user": {"id": "u-1", "name": "Agent Smith"},
                        "connectedTime": "2026-05-01T13:02:00Z",
                        "endTime": "2026-05-01T13:30:00Z",
                    },
                ],
            },
        ),
    )
    conversation = genesys_client.get_message_conversation("conv-1")
    agent = (conversation.participants or [])[1]
    assert agent.user is not None and agent.user.id == "u-1"
    assert agent.connected_time == datetime(2026, 5, 1, 13, 2, tzinfo=UTC)
    assert scripted.seen()[-1].bearer == "token-1"


def test_ids_are_escaped_in_paths(scripted: ScriptedGenesys, genesys_client: GenesysClient) -> None:
    scripted.reply("GET", "/api/v2/conversations/messages/a%2Fb", Reply(200, {"id": "a/b"}))
    assert genesys_client.get_message_conversation("a/b").id == "a/b"
    with pytest.raises(ValueError, match="must not be empty"):
        genesys_client.send_inbound_message("", message())


def test_integrations_are_created_read_and_listed_across_pages(
    scripted: ScriptedGenesys, genesys_client: GenesysClient
) -> None:
    scripted.reply("POST", INTEGRATIONS_PATH, Reply(202, integration("Initiated")))
    scripted.reply("GET", f"{INTEGRATIONS_PATH}/{INTEGRATION}", Reply(200, integration("Completed")))
    scripted.reply(
        "GET",
        INTEGRATIONS_PATH,
        Reply(200, {"entities": [integration(), {"id": "other-1"}], "pageNumber": 1, "pageCount": 2}),
        Reply(200, {"entities": [{"id": "other-2"}], "pageNumber": 2, "pageCount": 2}),
    )
    request = OpenIntegrationRequest(
        name="Ferry",
        outbound_notification_webhook_url="https://ferry.example/genesys/webhook",
        outbound_notification_webhook_signature_secret_token="a-webhook-secret-of-some-length",
    )
    assert genesys_client.create_open_integration(request).create_status == "Initiated"
    assert scripted.seen("POST", INTEGRATIONS_PATH)[0].json() == {
        "name": "Ferry",
        "outboundNotificationWebhookUrl": "https://ferry.example/genesys/webhook",
        "outboundNotificationWebhookSignatureSecretToken": "a-webhook-secret-of-some-length",
    }
    assert genesys_client.get_open_integration(INTEGRATION).create_status == "Completed"
    assert [i.id for i in genesys_client.list_open_integrations()] == [INTEGRATION, "other-1", "other-2"]
    assert [r.query for r in scripted.seen("GET", INTEGRATIONS_PATH)] == [
        {"pageNumber": ["1"]},
        {"pageNumber": ["2"]},
    ]


def test_organization_of_the_client(scripted: ScriptedGenesys, genesys_client: GenesysClient) -> None:
    scripted.reply(
        "GET", "/api/v2/organizations/me", Reply(200, {"id": "org-1", "name": "Insurer", "version": 4})
    )
    assert genesys_client.get_organization_me().id == "org-1"


# -- the service token ------------------------------------------------------------------------------


def test_token_is_fetched_once_for_many_calls(
    scripted: ScriptedGenesys, genesys_client: GenesysClient
) -> None:
    scripted.always("POST", MESSAGE_PATH, Reply(202, answer()))
    for _ in range(5):
        genesys_client.send_inbound_message(INTEGRATION, message())
    assert len(scripted.seen("POST", "/oauth/token")) == 1
    assert {r.bearer for r in scripted.seen("POST", MESSAGE_PATH)} == {"token-1"}


def test_token_is_renewed_a_minute_before_it_expires(
    scripted: ScriptedGenesys, genesys_client: GenesysClient, clock: FakeClock
) -> None:
    scripted.token_lifetime = 3600
    assert genesys_client.service_token() == "token-1"
    clock.advance(3600 - 60 - 1)
    assert genesys_client.service_token() == "token-1"
    clock.advance(1)
    assert genesys_client.service_token() == "token-2"
    assert len(scripted.seen("POST", "/oauth/token")) == 2


def test_short_lived_tokens_are_renewed_at_half_their_life(
    scripted: ScriptedGenesys, genesys_client: GenesysClient, clock: FakeClock
) -> None:
    scripted.token_lifetime = 100
    assert genesys_client.service_token() == "token-1"
    clock.advance(49)
    assert genesys_client.service_token() == "token-1"
    clock.advance(1)
    assert genesys_client.service_token() == "token-2"


def test_concurrent_callers_share_one_token_fetch(
    scripted: ScriptedGenesys, make_genesys_client: Any
) -> None:
    client = make_genesys_client(timeout=5.0)
    # A slow token endpoint makes the other threads arrive while the first fetch is under way.
    scripted.reply(
        "POST", "/oauth/token", Reply(200, {"access_token": "one-token", "expires_in": 3600}, delay=0.2)
    )
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(client.service_token())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert results == ["one-token"] * 8
    assert len(scripted.seen("POST", "/oauth/token")) == 1


def test_a_refused_service_token_is_replaced_and_the_call_retried_once(
    scripted: ScriptedGenesys, genesys_client: GenesysClient, sleeps: list[float]
) -> None:
    unauthorized = Reply(401, error_body(401, "bad.credentials", "Invalid login credentials."))
    scripted.reply("GET", f"{INTEGRATIONS_PATH}/{INTEGRATION}", unauthorized, Reply(200, integration()))
    assert genesys_client.get_open_integration(INTEGRATION).id == INTEGRATION
    assert [r.bearer for r in scripted.api_requests()] == ["token-1", "token-2"]
    assert sleeps == []


def test_a_second_401_is_an_error(scripted: ScriptedGenesys, genesys_client: GenesysClient) -> None:
    unauthorized = Reply(401, error_body(401, "bad.credentials", "Invalid login credentials."))
    scripted.always("POST", MESSAGE_PATH, unauthorized)
    with pytest.raises(GenesysError) as caught:
        genesys_client.send_inbound_message(INTEGRATION, message())
    assert not isinstance(caught.value, GenesysUnavailable)
    assert caught.value.status == 401 and caught.value.code == "bad.credentials"
    assert len(scripted.api_requests()) == 2


def test_wrong_client_credentials_are_reported_and_not_retried(
    scripted: ScriptedGenesys, make_genesys_client: Any, sleeps: list[float]
) -> None:
    client = make_genesys_client(client_secret="not-the-secret")
    with pytest.raises(GenesysError) as caught:
        client.service_token()
    assert caught.value.status == 401
    assert caught.value.code == "invalid_client"
    assert caught.value.message == "client not found"
    assert len(scripted.seen()) == 1 and sleeps == []


def test_token_answer_without_expiry_is_an_error(
    scripted: ScriptedGenesys, genesys_client: GenesysClient
) -> None:
    scripted.reply("POST", "/oauth/token", Reply(200, {"access_token": "t"}))
    with pytest.raises(GenesysError, match="expires_in"):
        genesys_client.service_token()


# -- retries ----------------------------------------------------------------------------------------


def test_429_waits_for_retry_after(
    scripted: ScriptedGenesys, genesys_client: GenesysClient, sleeps: list[float]
) -> None:
    limited = Reply(
        429, error_body(429, "too.many.requests.retry.after", "Retry in [7] seconds"), {"Retry-After": "7"}
    )
    scripted.reply("POST", MESSAGE_PATH, limited, Reply(202, answer()))
    assert genesys_client.send_inbound_message(INTEGRATION, message()).conversation_id == "conv-1"
    assert sleeps == [7.0]
    assert len(scripted.seen("POST", MESSAGE_PATH)) == 2


def test_429_with_retry_after_beyond_180_seconds_gives_up_at_once(
    scripted: ScriptedGenesys, genesys_client: GenesysClient, sleeps: list[float]
) -> None:
    limited = Reply(429, error_body(429, "too.many.requests.retry.after", "later"), {"Retry-After": "181"})
    scripted.reply("POST", MESSAGE_PATH, limited)
    with pytest.raises(GenesysUnavailable) as caught:
        genesys_client.send_inbound_message(INTEGRATION, message())
    assert caught.value.status == 429 and caught.value.retry_after == 181.0
    assert caught.value.code == "too.many.requests.retry.after"
    assert sleeps == []
    assert len(scripted.seen("POST", MESSAGE_PATH)) == 1


def test_429_without_retry_after_backs_off(
    scripted: ScriptedGenesys, genesys_client: GenesysClient, sleeps: list[float]
) -> None:
    scripted.reply(
        "GET", "/api/v2/organizations/me", Reply(429, error_body(429, "too.many.requests", "slow"))
    )
    scripted.reply("GET", "/api/v2/organizations/me", Reply(200, {"id": "org-1"}))
    genesys_client.get_organization_me()
    (delay,) = sleeps
    assert 0.25 <= delay <= 0.5


def test_503_is_retried_with_growing_jittered_backoff(
    scripted: ScriptedGenesys, genesys_client: GenesysClient, sleeps: list[float]
) -> None:
    unavailable = Reply(503, error_body(503, "service.unavailable", "down"))
    scripted.reply("POST", MESSAGE_PATH, unavailable, unavailable, unavailable, Reply(202, answer()))
    genesys_client.send_inbound_message(INTEGRATION, message())
    assert len(sleeps) == 3
    for delay, (low, high) in zip(sleeps, [(0.25, 0.5), (0.5, 1.0), (1.0, 2.0)], strict=True):
        assert low <= delay <= high


def test_persistent_5xx_becomes_unavailable_after_max_attempts(
    scripted: ScriptedGenesys, make_genesys_client: Any, sleeps: list[float]
) -> None:
    client = make_genesys_client(max_attempts=4, backoff_base=1.0, backoff_max=2.0)
    scripted.always(
        "GET",
        f"{INTEGRATIONS_PATH}/{INTEGRATION}",
        Reply(500, error_body(500, "internal.server.error", "boom", "ctx-9")),
    )
    with pytest.raises(GenesysUnavailable) as caught:
        client.get_open_integration(INTEGRATION)
    assert caught.value.status == 500 and caught.value.context_id == "ctx-9"
    assert len(scripted.api_requests()) == 4
    assert len(sleeps) == 3 and all(delay <= 2.0 for delay in sleeps)
    assert 1.0 <= sleeps[-1]  # the step is capped at backoff_max (2 s), so at least half of it


def test_501_is_not_retried(
    scripted: ScriptedGenesys, genesys_client: GenesysClient, sleeps: list[float]
) -> None:
    scripted.always("GET", "/api/v2/organizations/me", Reply(501, error_body(501, "not.implemented", "no")))
    with pytest.raises(GenesysError) as caught:
        genesys_client.get_organization_me()
    assert not isinstance(caught.value, GenesysUnavailable)
    assert len(scripted.api_requests()) == 1 and sleeps == []


def test_a_timeout_is_retried_when_repeating_is_harmless(
    scripted: ScriptedGenesys, genesys_client: GenesysClient, sleeps: list[float]
) -> None:
    scripted.reply("GET", "/api/v2/tokens/me", Reply(200, {}, delay=3.0), Reply(200, {"clientId": "c"}))
    genesys_client.get_token_info("agent-token")
    assert len(scripted.seen("GET", "/api/v2/tokens/me")) == 2
    assert len(sleeps) == 1


def test_a_message_that_timed_out_is_not_sent_again_but_reported_ambiguous(
    scripted: ScriptedGenesys, genesys_client: GenesysClient, sleeps: list[float]
) -> None:
    # Genesys may have it: nothing published says a repeated channel.messageId is dropped.
    scripted.reply("POST", MESSAGE_PATH, Reply(202, answer(), delay=3.0), Reply(202, answer()))
    with pytest.raises(GenesysAmbiguous):
        genesys_client.send_inbound_message(INTEGRATION, message())
    assert len(scripted.seen("POST", MESSAGE_PATH)) == 1 and sleeps == []


def test_a_message_whose_connection_was_dropped_is_reported_ambiguous(
    scripted: ScriptedGenesys, genesys_client: GenesysClient, sleeps: list[float]
) -> None:
    scripted.reply("POST", MESSAGE_PATH, Reply(drop=True), Reply(202, answer()))
    with pytest.raises(GenesysAmbiguous):
        genesys_client.send_inbound_message(INTEGRATION, message())
    assert len(scripted.seen("POST", MESSAGE_PATH)) == 1 and sleeps == []


def test_a_refused_connection_is_definite_and_retried(
    scripted: ScriptedGenesys, make_genesys_client: Any, sleeps: list[float]
) -> None:
    client = make_genesys_client(api_base_url=f"http://127.0.0.1:{free_port()}", max_attempts=3)
    with pytest.raises(GenesysUnavailable) as caught:
        client.send_inbound_message(INTEGRATION, message())
    assert not isinstance(caught.value, GenesysAmbiguous)
    assert len(sleeps) == 2  # nothing reached Genesys: every attempt was safe


def test_find_inbound_message_reads_the_conversation_then_its_messages(
    scripted: ScriptedGenesys, genesys_client: GenesysClient
) -> None:
    customer = {"purpose": "customer", "messages": [{"messageId": "m-1"}, {"messageId": "m-2"}]}
    agent = {"purpose": "agent", "messages": [{"messageId": "m-3"}]}
    scripted.always(
        "GET",
        "/api/v2/conversations/messages/conv-1",
        Reply(200, {"id": "conv-1", "participants": [customer, agent]}),
    )
    listing = {
        "entities": [
            {"id": "m-1", "normalizedMessage": {"type": "Text", "channel": {"messageId": "ferry-a"}}},
            {"id": "m-2", "providerMessageId": "ferry-b"},
        ]
    }
    scripted.always("POST", "/api/v2/conversations/messages/conv-1/messages/bulk", Reply(200, listing))
    assert genesys_client.find_inbound_message("conv-1", "ferry-a") == "m-1"
    assert genesys_client.find_inbound_message("conv-1", "ferry-b") == "m-2"
    assert genesys_client.find_inbound_message("conv-1", "ferry-c") is None
    bulk = scripted.seen("POST", "/api/v2/conversations/messages/conv-1/messages/bulk")
    assert bulk[0].json() == ["m-1", "m-2"]  # the customer's messages only


def test_a_dropped_connection_is_retried(
    scripted: ScriptedGenesys, genesys_client: GenesysClient, sleeps: list[float]
) -> None:
    scripted.reply("GET", "/api/v2/users/me", Reply(drop=True), Reply(drop=True), Reply(200, {"id": "u-1"}))
    assert genesys_client.get_users_me("agent-token").id == "u-1"
    assert len(scripted.seen("GET", "/api/v2/users/me")) == 3
    assert len(sleeps) == 2


def test_timeouts_that_persist_become_unavailable(
    scripted: ScriptedGenesys, make_genesys_client: Any, sleeps: list[float]
) -> None:
    client = make_genesys_client(max_attempts=2)
    scripted.always("GET", "/api/v2/tokens/me", Reply(200, {}, delay=3.0))
    with pytest.raises(GenesysUnavailable, match="did not answer"):
        client.get_token_info("agent-token")
    assert len(scripted.seen("GET", "/api/v2/tokens/me")) == 2 and len(sleeps) == 1


def test_nothing_listening_becomes_unavailable_not_a_requests_exception(
    make_genesys_client: Any, sleeps: list[float]
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    client = make_genesys_client(api_base_url=closed, login_base_url=closed, max_attempts=3)
    with pytest.raises(GenesysUnavailable) as caught:
        client.service_token()
    assert caught.value.status is None
    assert len(sleeps) == 2


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, "bad.request"), (403, "missing.permissions"), (404, "not.found"), (409, "request.conflict")],
)
def test_client_errors_are_never_retried(
    scripted: ScriptedGenesys, genesys_client: GenesysClient, sleeps: list[float], status: int, code: str
) -> None:
    body = error_body(status, code, "refused", "ctx-42")
    body["details"] = [{"errorCode": "x", "fieldName": "channel.from.id"}]
    scripted.always("POST", MESSAGE_PATH, Reply(status, body))
    with pytest.raises(GenesysError) as caught:
        genesys_client.send_inbound_message(INTEGRATION, message())
    error = caught.value
    assert not isinstance(error, GenesysUnavailable)
    assert (error.status, error.code, error.context_id, error.message) == (status, code, "ctx-42", "refused")
    assert error.details == [{"errorCode": "x", "fieldName": "channel.from.id"}]
    assert len(scripted.seen("POST", MESSAGE_PATH)) == 1 and sleeps == []


def test_a_401_on_a_users_token_is_not_retried(
    scripted: ScriptedGenesys, genesys_client: GenesysClient, sleeps: list[float]
) -> None:
    scripted.always("GET", "/api/v2/users/me", Reply(401, error_body(401, "bad.credentials", "Invalid")))
    with pytest.raises(GenesysError) as caught:
        genesys_client.get_users_me("agent-token")
    assert caught.value.status == 401
    assert len(scripted.seen()) == 1 and sleeps == []


def test_a_message_is_retried_after_a_definite_failure(
    scripted: ScriptedGenesys, genesys_client: GenesysClient, sleeps: list[float]
) -> None:
    # A 503 means Genesys did not take it: sending it again cannot make a second one.
    down = Reply(503, error_body(503, "service.unavailable", "down"))
    scripted.reply("POST", MESSAGE_PATH, down, Reply(202, answer()))
    assert genesys_client.send_inbound_message(INTEGRATION, message(message_id=None)).id == "genesys-msg-1"
    assert len(scripted.seen("POST", MESSAGE_PATH)) == 2 and len(sleeps) == 1


def test_creating_an_integration_is_never_retried(
    scripted: ScriptedGenesys, genesys_client: GenesysClient, sleeps: list[float]
) -> None:
    scripted.reply("POST", INTEGRATIONS_PATH, Reply(202, integration(), delay=3.0))
    request = OpenIntegrationRequest(
        name="Ferry",
        outbound_notification_webhook_url="https://ferry.example/genesys/webhook",
        outbound_notification_webhook_signature_secret_token="a-webhook-secret-of-some-length",
    )
    with pytest.raises(GenesysUnavailable):
        genesys_client.create_open_integration(request)
    assert len(scripted.seen("POST", INTEGRATIONS_PATH)) == 1 and sleeps == []


def test_receipts_and_events_are_retried(
    scripted: ScriptedGenesys, genesys_client: GenesysClient, sleeps: list[float]
) -> None:
    down = Reply(502, b"<html>Bad gateway</html>")
    scripted.reply("POST", RECEIPT_PATH, down, Reply(202, {"id": "r"}))
    scripted.reply("POST", EVENT_PATH, Reply(drop=True), Reply(202, {"id": "e"}))
    receipt = OpenInboundNormalizedReceipt(
        id="m",
        channel=OpenInboundMessagingReceiptChannel(to=OpenMessagingToRecipient(id="v"), time=WHEN),
        status=ReceiptStatus.DELIVERED,
    )
    event = OpenInboundNormalizedEvent(
        channel=OpenInboundMessagingChannel(from_=VISITOR, time=WHEN),
        events=[OpenEvent(event_type=EventType.TYPING)],
    )
    genesys_client.send_inbound_receipt(INTEGRATION, receipt)
    genesys_client.send_inbound_event(INTEGRATION, event)
    assert len(sleeps) == 2


# -- bad answers and logging --------------------------------------------------------------------------


def test_non_json_error_bodies_still_give_an_error(
    scripted: ScriptedGenesys, genesys_client: GenesysClient
) -> None:
    scripted.always("GET", "/api/v2/organizations/me", Reply(418, b"I'm a teapot"))
    with pytest.raises(GenesysError, match="teapot") as caught:
        genesys_client.get_organization_me()
    assert caught.value.status == 418 and caught.value.code is None


@pytest.mark.parametrize(
    ("body", "problem"),
    [(b"not json", "non-JSON body"), ({"name": "no id"}, r"Organization\.id: required field is missing")],
)
def test_unexpected_successful_answers_are_errors(
    scripted: ScriptedGenesys, genesys_client: GenesysClient, body: Any, problem: str
) -> None:
    scripted.always("GET", "/api/v2/organizations/me", Reply(200, body))
    with pytest.raises(GenesysError, match=problem) as caught:
        genesys_client.get_organization_me()
    assert caught.value.status == 200


def test_logs_never_contain_tokens_or_secrets(
    scripted: ScriptedGenesys, genesys_client: GenesysClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="genesys")
    unauthorized = Reply(401, error_body(401, "bad.credentials", "Invalid login credentials."))
    scripted.reply(
        "POST", MESSAGE_PATH, unauthorized, Reply(503, error_body(503, "x", "down")), Reply(202, answer())
    )
    scripted.reply("GET", "/api/v2/users/me", Reply(200, {"id": "u"}))
    genesys_client.send_inbound_message(INTEGRATION, message())
    genesys_client.get_users_me("agent-secret-token")
    assert caplog.records, "the client logs its calls"
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    for secret in ("token-1", "token-2", "agent-secret-token", CLIENT_SECRET):
        assert secret not in logged
    retry = next(r for r in caplog.records if r.getMessage() == "Genesys call will be retried")
    assert (retry.__dict__["method"], retry.__dict__["path"], retry.__dict__["attempt"]) == (
        "POST",
        MESSAGE_PATH,
        1,
    )
