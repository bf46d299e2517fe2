"""Agent replies, receipts and typing events POSTed to the webhook: shape, signature, retries, order."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
from typing import Any

import pytest

from tests.genesys_standin.conftest import (
    FAST,
    WEBHOOK_SECRET,
    LocalHttp,
    Standin,
    assert_error_body,
    message_body,
)
from tests.serving import wait_for


def independent_signature(body: bytes) -> str:
    """Genesys's documented algorithm, computed here without the stand-in's code."""
    mac = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(mac).decode()


def start_conversation(standin: Standin, token: str, integration_id: str, sender: str = "customer-1") -> str:
    answer = standin.inbound(token, integration_id, message_body(sender=sender, message_id=f"first-{sender}"))
    return str(answer.json()["conversationId"])


def agent_posts(local_http: LocalHttp) -> list[dict[str, Any]]:
    return [json.loads(p.body) for p in local_http.posts() if json.loads(p.body)["type"] != "Receipt"]


def test_an_agent_reply_reaches_the_webhook_signed_and_in_the_outbound_format(
    standin: Standin, service_token: str, integration_id: str, local_http: LocalHttp
) -> None:
    conversation_id = start_conversation(standin, service_token, integration_id)
    agent_id = standin.user(name="Alex Agent")
    sent = standin.control(
        "POST", f"/conversations/{conversation_id}/messages", json={"user_id": agent_id, "text": "Hello!"}
    )
    assert sent.status_code == 201

    post = wait_for(
        lambda: [p for p in local_http.posts() if b'"Outbound"' in p.body and b"Receipt" not in p.body]
    )[0]
    assert post.path == "/webhook"
    assert post.headers["Content-Type"] == "application/json"
    assert post.headers["X-Hub-Signature-256"] == independent_signature(post.body)
    payload = json.loads(post.body)
    assert payload["id"] == sent.json()["id"]
    assert payload["type"] == "Text"
    assert payload["text"] == "Hello!"
    assert payload["direction"] == "Outbound"
    assert payload["originatingEntity"] == "Human"
    channel = payload["channel"]
    assert (channel["id"], channel["platform"], channel["type"]) == (integration_id, "Open", "Private")
    assert channel["to"] == {"id": "customer-1", "idType": "Opaque"}
    assert channel["from"]["id"] == integration_id
    assert channel["from"]["nickname"] == "Alex Agent"
    assert channel["messageId"] and channel["time"].endswith("Z")

    conversation = standin.control("GET", f"/conversations/{conversation_id}").json()
    [agent] = [p for p in conversation["participants"] if p["purpose"] == "agent"]
    assert agent["user"]["id"] == agent_id
    wait_for(
        lambda: (
            standin.control("GET", f"/conversations/{conversation_id}").json()["messages"][-1]["status"]
            == "sent"
        )
    )


def test_a_tampered_body_does_not_match_the_signature(
    standin: Standin, service_token: str, integration_id: str, local_http: LocalHttp
) -> None:
    start_conversation(standin, service_token, integration_id)
    [post] = wait_for(lambda: local_http.posts())
    assert post.headers["X-Hub-Signature-256"] == independent_signature(post.body)
    assert post.headers["X-Hub-Signature-256"] != independent_signature(
        post.body.replace(b"Delivered", b"Failed")
    )


def test_agent_attachments_are_hosted_and_described(
    standin: Standin, service_token: str, integration_id: str, local_http: LocalHttp
) -> None:
    conversation_id = start_conversation(standin, service_token, integration_id)
    agent_id = standin.user()
    image = b"GIF89a tiny"
    files = [{"filename": "map.gif", "mime": "image/gif", "data_base64": base64.b64encode(image).decode()}]
    sent = standin.control(
        "POST", f"/conversations/{conversation_id}/messages", json={"user_id": agent_id, "attachments": files}
    )
    assert sent.status_code == 201, sent.text
    [content] = sent.json()["payload"]["content"]
    assert content["contentType"] == "Attachment"
    attachment = content["attachment"]
    assert (attachment["mediaType"], attachment["mime"], attachment["filename"]) == (
        "Image",
        "image/gif",
        "map.gif",
    )
    assert attachment["contentSizeBytes"] == len(image)
    # Like Genesys's download URLs: a bearer token is required, then a redirect to the bytes.
    assert standin.http.get(attachment["url"], timeout=10).status_code == 401
    hop = standin.http.get(
        attachment["url"],
        headers={"Authorization": f"Bearer {service_token}"},
        timeout=10,
        allow_redirects=False,
    )
    assert hop.status_code == 302
    assert standin.http.get(hop.headers["Location"], timeout=10).content == image
    assert "text" not in sent.json()["payload"]

    pdf = [
        {"filename": "x.pdf", "mime": "application/pdf", "data_base64": base64.b64encode(b"%PDF").decode()}
    ]
    refused = standin.control(
        "POST", f"/conversations/{conversation_id}/messages", json={"user_id": agent_id, "attachments": pdf}
    )
    assert refused.status_code == 400
    assert "not allowed" in refused.json()["error"]


def test_webhook_headers_of_the_integration_are_sent(
    standin: Standin, service_token: str, local_http: LocalHttp
) -> None:
    integration_id = standin.integration(
        service_token, f"{local_http.base_url}/h", webhookHeaders={"X-Shared": "s3cret"}
    )
    start_conversation(standin, service_token, integration_id)
    [post] = wait_for(lambda: local_http.posts())
    assert post.headers["X-Shared"] == "s3cret"


def test_retries_on_503_then_succeeds(
    standin: Standin, service_token: str, integration_id: str, local_http: LocalHttp
) -> None:
    local_http.statuses.extend([503, 429])
    start_conversation(standin, service_token, integration_id)
    [delivery] = wait_for(lambda: [d for d in standin.deliveries() if d["status"] != "pending"])
    assert delivery["status"] == "delivered"
    assert [a["status"] for a in delivery["attempts"]] == [503, 429, 200]
    posts = local_http.posts()
    assert len(posts) == 3
    assert len({p.body for p in posts}) == 1
    assert len({p.headers["X-Hub-Signature-256"] for p in posts}) == 1


@pytest.mark.parametrize("standin_settings", [dataclasses.replace(FAST, webhook_timeout_seconds=0.2)])
def test_retries_after_a_timeout(
    standin: Standin, service_token: str, integration_id: str, local_http: LocalHttp
) -> None:
    local_http.delays.append(1.0)
    start_conversation(standin, service_token, integration_id)
    [delivery] = wait_for(lambda: [d for d in standin.deliveries() if d["status"] != "pending"])
    assert delivery["status"] == "delivered"
    assert [(a["status"], a.get("error")) for a in delivery["attempts"]] == [(None, "timeout"), (200, None)]


@pytest.mark.parametrize("standin_settings", [dataclasses.replace(FAST, outbound_nickname="integration")])
def test_the_outbound_nickname_can_be_the_integration_name(
    standin: Standin, service_token: str, integration_id: str
) -> None:
    conversation_id = start_conversation(standin, service_token, integration_id)
    sent = standin.control(
        "POST", f"/conversations/{conversation_id}/messages", json={"user_id": standin.user(), "text": "x"}
    )
    assert sent.json()["payload"]["channel"]["from"]["nickname"] == "Ferry test"


def test_gives_up_after_the_maximum_attempts(
    standin: Standin, service_token: str, integration_id: str, local_http: LocalHttp
) -> None:
    local_http.statuses.extend([500] * 10)
    start_conversation(standin, service_token, integration_id)
    [delivery] = wait_for(lambda: [d for d in standin.deliveries() if d["status"] != "pending"])
    assert delivery["status"] == "failed"
    assert len(delivery["attempts"]) == FAST.webhook_max_attempts == len(local_http.posts())


@pytest.mark.parametrize("standin_settings", [dataclasses.replace(FAST, webhook_retry_client_errors=False)])
def test_other_client_errors_are_not_retried_when_so_configured(
    standin: Standin, service_token: str, integration_id: str, local_http: LocalHttp
) -> None:
    local_http.statuses.append(400)
    start_conversation(standin, service_token, integration_id)
    [delivery] = wait_for(lambda: [d for d in standin.deliveries() if d["status"] != "pending"])
    assert (delivery["status"], len(delivery["attempts"])) == ("failed", 1)


def conversation_of(standin: Standin, conversation_id: str) -> dict[str, Any]:
    [found] = [c for c in standin.conversations() if c["id"] == conversation_id]
    return found


def test_every_non_2xx_is_a_failed_delivery_and_fails_the_conversation_at_last(
    standin: Standin, service_token: str, integration_id: str, local_http: LocalHttp
) -> None:
    local_http.statuses.extend([401, 403, 404, 400, 413, 400])
    conversation_id = start_conversation(standin, service_token, integration_id)
    assert conversation_of(standin, conversation_id)["delivery_failed"] is False
    failed = wait_for(lambda: conversation_of(standin, conversation_id)["delivery_failed"])
    assert failed is True
    [delivery] = standin.deliveries()
    assert delivery["status"] == "failed"
    assert [a["status"] for a in delivery["attempts"]] == [401, 403, 404, 400, 413][
        : FAST.webhook_max_attempts
    ]


def test_a_delivery_that_succeeds_on_a_retry_leaves_the_conversation_alone(
    standin: Standin, service_token: str, integration_id: str, local_http: LocalHttp
) -> None:
    local_http.statuses.extend([400, 503])
    conversation_id = start_conversation(standin, service_token, integration_id)
    [delivery] = wait_for(lambda: [d for d in standin.deliveries() if d["status"] != "pending"])
    assert [a["status"] for a in delivery["attempts"]] == [400, 503, 200]
    assert conversation_of(standin, conversation_id)["delivery_failed"] is False


def test_an_unreachable_webhook_is_retried_then_failed(
    standin: Standin, service_token: str, local_http: LocalHttp
) -> None:
    integration_id = standin.integration(service_token, "http://127.0.0.1:9/unreachable")
    start_conversation(standin, service_token, integration_id)
    [delivery] = wait_for(lambda: [d for d in standin.deliveries() if d["status"] != "pending"])
    assert delivery["status"] == "failed"
    assert len(delivery["attempts"]) == FAST.webhook_max_attempts
    assert all(a["status"] is None and a["error"] for a in delivery["attempts"])


def test_deliveries_keep_their_order_within_a_conversation(
    standin: Standin, service_token: str, integration_id: str, local_http: LocalHttp
) -> None:
    conversation_id = start_conversation(standin, service_token, integration_id)
    agent_id = standin.user()
    wait_for(lambda: local_http.posts())  # the receipt of the customer's message
    local_http.statuses.extend([503, 503])  # the first reply needs two retries; the others must wait for it
    for text in ("one", "two", "three"):
        standin.control(
            "POST", f"/conversations/{conversation_id}/messages", json={"user_id": agent_id, "text": text}
        )
    wait_for(lambda: len(agent_posts(local_http)) >= 5)
    delivered = [p["text"] for p in agent_posts(local_http)]
    assert delivered == ["one", "one", "one", "two", "three"]


def test_inbound_receipts_update_the_agent_message(
    standin: Standin, service_token: str, integration_id: str, local_http: LocalHttp
) -> None:
    conversation_id = start_conversation(standin, service_token, integration_id)
    sent = standin.control(
        "POST", f"/conversations/{conversation_id}/messages", json={"user_id": standin.user(), "text": "hi"}
    )
    receipt = {
        "id": sent.json()["id"],
        "channel": {"to": {"id": "customer-1", "idType": "opaque"}, "time": "2026-05-01T13:02:00.000Z"},
        "status": "Failed",
        "reasons": [{"code": "GeneralError", "message": "customer gone"}],
        "isFinalReceipt": True,
    }
    path = f"/api/v2/conversations/messages/{integration_id}/inbound/open/receipt"
    answer = standin.api("POST", path, service_token, json=receipt)
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert (body["type"], body["status"], body["direction"], body["id"]) == (
        "Receipt",
        "Failed",
        "Outbound",
        receipt["id"],
    )
    message = standin.control("GET", f"/conversations/{conversation_id}").json()["messages"][-1]
    assert message["status"] == "failed"
    assert message["receipts"][-1]["reasons"][0]["message"] == "customer gone"

    unknown = standin.api("POST", path, service_token, json={**receipt, "id": "nope"})
    assert_error_body(unknown, 404, "not.found")
    published = standin.api("POST", path, service_token, json={**receipt, "status": "Published"})
    assert_error_body(published, 400, "constraint.validation")


@pytest.mark.parametrize("standin_settings", [dataclasses.replace(FAST, outbound_typing_events=True)])
def test_agent_typing_reaches_the_webhook_when_enabled(
    standin: Standin, service_token: str, integration_id: str, local_http: LocalHttp
) -> None:
    conversation_id = start_conversation(standin, service_token, integration_id)
    agent_id = standin.user(name="Alex Agent")
    not_joined = standin.control(
        "POST", f"/conversations/{conversation_id}/typing", json={"user_id": agent_id}
    )
    assert not_joined.json() == {"delivery_id": None}
    standin.control("POST", f"/conversations/{conversation_id}/participants", json={"user_id": agent_id})
    answer = standin.control("POST", f"/conversations/{conversation_id}/typing", json={"user_id": agent_id})
    assert answer.status_code == 202
    assert answer.json()["delivery_id"]
    [event] = wait_for(lambda: [p for p in agent_posts(local_http) if p["type"] == "Event"])
    assert event["events"] == [
        {"eventType": "Typing", "typing": {"type": "On", "duration": FAST.typing_duration_ms}}
    ]
    assert event["direction"] == "Outbound"
    assert event["channel"]["to"]["id"] == "customer-1"


def test_agent_typing_is_off_by_default(standin: Standin, service_token: str, integration_id: str) -> None:
    conversation_id = start_conversation(standin, service_token, integration_id)
    agent_id = standin.user()
    standin.control("POST", f"/conversations/{conversation_id}/participants", json={"user_id": agent_id})
    answer = standin.control("POST", f"/conversations/{conversation_id}/typing", json={"user_id": agent_id})
    assert answer.json() == {"delivery_id": None}
    assert standin.deliveries(kind="event") == []


@pytest.mark.parametrize(
    "standin_settings",
    [dataclasses.replace(FAST, download_url_ttl_seconds=0.001, download_redirect_ttl_seconds=0.001)],
)
def test_download_urls_and_their_redirects_expire(
    standin: Standin, service_token: str, integration_id: str
) -> None:
    conversation_id = start_conversation(standin, service_token, integration_id)
    files = [
        {"filename": "map.gif", "mime": "image/gif", "data_base64": base64.b64encode(b"GIF89a").decode()}
    ]
    sent = standin.control(
        "POST",
        f"/conversations/{conversation_id}/messages",
        json={"user_id": standin.user(), "attachments": files},
    )
    url = sent.json()["payload"]["content"][0]["attachment"]["url"]
    answer = standin.http.get(url, headers={"Authorization": f"Bearer {service_token}"}, timeout=10)
    assert answer.status_code == 404
