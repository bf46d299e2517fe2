"""Inbound open messages: validation, token kind, conversations per customer, deduplication, attachments."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import pytest

from tests.genesys_standin.conftest import FAST, LocalHttp, Standin, assert_error_body, message_body
from tests.serving import wait_for


def field_names(body: dict[str, Any]) -> list[str]:
    return [d["fieldName"] for d in body["details"]]


def test_a_valid_message_is_answered_as_an_open_message_normalized_message(
    standin: Standin, service_token: str, integration_id: str
) -> None:
    body = message_body("Here is my file", metadata={"source": "widget"})
    answer = standin.inbound(service_token, integration_id, body)
    assert answer.status_code == 202
    message = answer.json()
    assert len(message["id"]) == 32
    assert message["type"] == "Text"
    assert message["text"] == "Here is my file"
    assert message["metadata"] == {"source": "widget"}
    channel = message["channel"]
    assert (channel["id"], channel["platform"], channel["type"]) == (integration_id, "Open", "Private")
    assert channel["messageId"] == "msg-1"
    assert channel["from"] == body["channel"]["from"]
    assert channel["time"] == body["channel"]["time"]
    [conversation] = standin.conversations()
    assert message["conversationId"] == conversation["id"]
    assert conversation["messages"][0]["payload"] == body


def test_conversation_id_only_with_prefetch(
    standin: Standin, service_token: str, integration_id: str
) -> None:
    without = standin.inbound(service_token, integration_id, message_body(message_id="a"), prefetch=None)
    assert "conversationId" not in without.json()
    explicit_false = standin.inbound(
        service_token, integration_id, message_body(message_id="b"), prefetch=False
    )
    assert "conversationId" not in explicit_false.json()


@pytest.mark.parametrize(
    "standin_settings", [dataclasses.replace(FAST, conversation_id_without_prefetch=True)]
)
def test_conversation_id_without_prefetch_is_a_setting(
    standin: Standin, service_token: str, integration_id: str
) -> None:
    answer = standin.inbound(service_token, integration_id, message_body(), prefetch=None)
    assert answer.json()["conversationId"] == standin.conversations()[0]["id"]


@pytest.mark.parametrize(
    ("mutate", "code", "field"),
    [
        (lambda b: b["channel"]["from"].pop("id"), "constraint.validation", "channel.from.id"),
        (lambda b: b.pop("channel"), "constraint.validation", "channel"),
        (lambda b: b["channel"].pop("time"), "missing.open.channel.date", "channel.time"),
        (lambda b: b["channel"].update(to={"id": "x"}), "invalid.property", "channel.to"),
        (lambda b: b.update(direction="Inbound"), "invalid.property", "direction"),
        (lambda b: b["channel"]["from"].update(idType="Twitter"), "invalid.value", "channel.from.idType"),
        (lambda b: b["channel"].update(time="yesterday"), "invalid.date", "channel.time"),
        (lambda b: b.update(text=12), "invalid.value", "text"),
        (lambda b: b.update(metadata={"customAttributes": {"a": "b"}}), "invalid.value", "metadata"),
        (
            lambda b: b.update(
                content=[{"attachment": {"mediaType": "Picture", "url": "https://x/y", "mime": "image/png"}}]
            ),
            "invalid.value",
            "content[0].attachment.mediaType",
        ),
        (
            lambda b: b.update(
                content=[
                    {
                        "contentType": "Attachment",
                        "attachment": {"mediaType": "Image", "url": "u", "mime": "m"},
                    }
                ]
            ),
            "invalid.property",
            "content[0].contentType",
        ),
        (
            lambda b: b.update(content=[{"attachment": {"mediaType": "Image", "url": "https://x/y"}}]),
            "constraint.validation",
            "content[0].attachment.mime",
        ),
    ],
)
def test_invalid_messages_are_refused_with_details_naming_the_field(
    standin: Standin, service_token: str, integration_id: str, mutate: Any, code: str, field: str
) -> None:
    body = message_body()
    mutate(body)
    answer = standin.inbound(service_token, integration_id, body)
    error = assert_error_body(answer, 400, code)
    assert field in field_names(error)
    assert standin.conversations() == []


def test_every_problem_is_listed(standin: Standin, service_token: str, integration_id: str) -> None:
    body = message_body()
    body["channel"]["from"] = {"idType": "Nope", "extra": 1}
    error = assert_error_body(standin.inbound(service_token, integration_id, body), 400, "invalid.value")
    assert sorted(field_names(error)) == ["channel.from.extra", "channel.from.id", "channel.from.idType"]


def test_id_type_is_case_insensitive_by_default(
    standin: Standin, service_token: str, integration_id: str
) -> None:
    body = message_body()
    body["channel"]["from"]["idType"] = "opaque"
    answer = standin.inbound(service_token, integration_id, body)
    assert answer.status_code == 202
    assert answer.json()["channel"]["from"]["idType"] == "Opaque"


@pytest.mark.parametrize("standin_settings", [dataclasses.replace(FAST, id_type_case_sensitive=True)])
def test_id_type_case_sensitivity_is_a_setting(
    standin: Standin, service_token: str, integration_id: str
) -> None:
    body = message_body()
    body["channel"]["from"]["idType"] = "opaque"
    assert_error_body(standin.inbound(service_token, integration_id, body), 400, "invalid.value")


def test_malformed_requests(standin: Standin, service_token: str, integration_id: str) -> None:
    path = f"/api/v2/conversations/messages/{integration_id}/inbound/open/message"
    assert_error_body(
        standin.api("POST", path, service_token, data="{", headers={"Content-Type": "application/json"}),
        400,
        "bad.request",
    )
    assert_error_body(standin.api("POST", path, service_token, data="text=hi"), 415, "unsupported.media.type")
    bad_param = standin.api(
        "POST", path, service_token, json=message_body(), params={"prefetchConversationId": "yes"}
    )
    assert_error_body(bad_param, 400, "invalid.query.param.value")
    unknown = standin.inbound(service_token, "0000-unknown", message_body())
    assert_error_body(unknown, 404, "not.found")


def test_user_tokens_get_not_a_client(standin: Standin, integration_id: str) -> None:
    token = standin.user_token(standin.user())
    base = f"/api/v2/conversations/messages/{integration_id}/inbound/open"
    for kind in ("message", "receipt", "event"):
        assert_error_body(standin.api("POST", f"{base}/{kind}", token, json={}), 400, "not.a.client")


def test_one_conversation_per_integration_and_sender(
    standin: Standin, service_token: str, integration_id: str, local_http: LocalHttp
) -> None:
    other_integration = standin.integration(service_token, f"{local_http.base_url}/other")
    first = standin.inbound(
        service_token, integration_id, message_body(message_id="1", sender="alice")
    ).json()
    second = standin.inbound(
        service_token, integration_id, message_body(message_id="2", sender="alice")
    ).json()
    bob = standin.inbound(service_token, integration_id, message_body(message_id="3", sender="bob")).json()
    elsewhere = standin.inbound(
        service_token, other_integration, message_body(message_id="4", sender="alice")
    ).json()
    assert first["conversationId"] == second["conversationId"]
    assert len({first["conversationId"], bob["conversationId"], elsewhere["conversationId"]}) == 3
    conversation = next(c for c in standin.conversations() if c["id"] == first["conversationId"])
    assert [m["id"] for m in conversation["messages"]] == [first["id"], second["id"]]

    assert standin.control("POST", f"/conversations/{first['conversationId']}/disconnect").status_code == 200
    after = standin.inbound(
        service_token, integration_id, message_body(message_id="5", sender="alice")
    ).json()
    assert after["conversationId"] != first["conversationId"]


def test_retries_are_deduplicated_by_message_id(
    standin: Standin, service_token: str, integration_id: str
) -> None:
    first = standin.inbound(service_token, integration_id, message_body("once", message_id="dup"))
    retry = standin.inbound(service_token, integration_id, message_body("once", message_id="dup"))
    assert retry.status_code == first.status_code == 202
    assert retry.json()["id"] == first.json()["id"]
    no_id_1 = standin.inbound(service_token, integration_id, message_body("no id", message_id=None))
    no_id_2 = standin.inbound(service_token, integration_id, message_body("no id", message_id=None))
    assert no_id_1.json()["id"] != no_id_2.json()["id"]
    [conversation] = standin.conversations()
    assert [m["text"] for m in conversation["messages"]] == ["once", "no id", "no id"]


def test_customer_typing_events_are_accepted(
    standin: Standin, service_token: str, integration_id: str
) -> None:
    standin.inbound(service_token, integration_id, message_body())
    event = {
        "channel": {"from": {"id": "customer-1", "idType": "Opaque"}, "time": "2026-05-01T13:01:15.000Z"},
        "events": [{"eventType": "Typing"}],
    }
    path = f"/api/v2/conversations/messages/{integration_id}/inbound/open/event"
    answer = standin.api("POST", path, service_token, json=event)
    assert answer.status_code == 202
    assert answer.json()["type"] == "Event"
    assert answer.json()["events"] == [{"eventType": "Typing"}]
    bad = {**event, "events": [{"eventType": "Typing", "typing": {"type": "On"}}]}
    assert_error_body(standin.api("POST", path, service_token, json=bad), 400, "invalid.property")


# -- attachments -------------------------------------------------------------------------------------------


def attachment_message(
    url: str, mime: str, media_type: str = "Image", message_id: str = "att-1"
) -> dict[str, Any]:
    return message_body(
        "see attachment",
        message_id=message_id,
        content=[
            {"attachment": {"mediaType": media_type, "url": url, "mime": mime, "filename": "photo.png"}}
        ],
    )


def receipts(standin: Standin) -> list[dict[str, Any]]:
    return [d["payload"] for d in standin.deliveries(kind="receipt")]


def test_an_attachment_is_fetched_without_credentials_and_delivered(
    standin: Standin, service_token: str, integration_id: str, local_http: LocalHttp
) -> None:
    data = b"\x89PNG fake image bytes"
    local_http.files["/files/photo.png"] = ("image/png", data)
    url = f"{local_http.base_url}/files/photo.png"
    message = standin.inbound(service_token, integration_id, attachment_message(url, "image/png")).json()
    assert message["content"][0]["contentType"] == "Attachment"
    assert message["content"][0]["attachment"]["url"] == url

    [receipt] = wait_for(lambda: receipts(standin))
    assert receipt["status"] == "Delivered"
    assert receipt["id"] == message["id"]
    assert receipt["channel"]["messageId"] == "att-1"
    assert receipt["isFinalReceipt"] is True
    assert receipt["direction"] == "Inbound"
    assert "reasons" not in receipt
    [fetch] = local_http.gets()
    assert "Authorization" not in fetch.headers
    assert "Cookie" not in fetch.headers

    [stored] = standin.conversations()[0]["messages"][0]["attachments"]
    assert (stored["status"], stored["size"]) == ("delivered", len(data))
    assert stored["sha256"] == hashlib.sha256(data).hexdigest()
    assert stored["hosted"] is True
    copy = standin.http.get(
        stored["view_url"], headers={"Authorization": f"Bearer {service_token}"}, timeout=10
    )
    assert (copy.status_code, copy.content, copy.headers["Content-Type"]) == (200, data, "image/png")


@pytest.mark.parametrize("standin_settings", [dataclasses.replace(FAST, max_attachment_bytes=1000)])
def test_an_attachment_over_the_limit_gives_a_failed_receipt(
    standin: Standin, service_token: str, integration_id: str, local_http: LocalHttp
) -> None:
    local_http.files["/big.bin"] = ("video/mp4", b"x" * 1001)
    standin.inbound(
        service_token,
        integration_id,
        attachment_message(f"{local_http.base_url}/big.bin", "video/mp4", "Video"),
    )
    [receipt] = wait_for(lambda: receipts(standin))
    assert receipt["status"] == "Failed"
    assert [r["code"] for r in receipt["reasons"]] == ["InvalidMediaContentLength"]
    assert receipt["reasons"][0]["message"]
    [stored] = standin.conversations()[0]["messages"][0]["attachments"]
    assert (stored["status"], stored["hosted"]) == ("failed", False)


def test_a_media_type_outside_the_profile_gives_a_failed_receipt_without_fetching(
    standin: Standin, service_token: str, local_http: LocalHttp
) -> None:
    profile = standin.api(
        "POST",
        "/api/v2/conversations/messaging/supportedcontent",
        service_token,
        json={
            "name": "images only",
            "mediaTypes": {"allow": {"inbound": [{"type": "image/*"}], "outbound": []}},
        },
    )
    assert profile.status_code == 200, profile.text
    integration_id = standin.integration(
        service_token, f"{local_http.base_url}/hook", supportedContent={"id": profile.json()["id"]}
    )
    local_http.files["/doc.pdf"] = ("application/pdf", b"%PDF-1.7")
    local_http.files["/ok.png"] = ("image/png", b"png")
    standin.inbound(
        service_token,
        integration_id,
        attachment_message(f"{local_http.base_url}/doc.pdf", "application/pdf", "File"),
    )
    standin.inbound(
        service_token,
        integration_id,
        attachment_message(f"{local_http.base_url}/ok.png", "image/png", message_id="att-2"),
    )
    got = wait_for(lambda: (r := receipts(standin)) and len(r) == 2 and r)
    assert [r["status"] for r in got] == ["Failed", "Delivered"]
    assert got[0]["reasons"][0]["code"] == "MediaTypeNotAllowed"
    assert [g.path for g in local_http.gets()] == ["/ok.png"]


def test_an_unreachable_attachment_gives_a_failed_receipt(
    standin: Standin, service_token: str, integration_id: str, local_http: LocalHttp
) -> None:
    standin.inbound(
        service_token, integration_id, attachment_message(f"{local_http.base_url}/missing.png", "image/png")
    )
    [receipt] = wait_for(lambda: receipts(standin))
    assert receipt["status"] == "Failed"
    assert receipt["reasons"][0]["code"] == "GeneralError"


def test_a_text_message_gets_a_delivered_receipt(
    standin: Standin, service_token: str, integration_id: str
) -> None:
    message = standin.inbound(service_token, integration_id, message_body()).json()
    [receipt] = wait_for(lambda: receipts(standin))
    assert (receipt["id"], receipt["status"]) == (message["id"], "Delivered")


@pytest.mark.parametrize("standin_settings", [dataclasses.replace(FAST, fetch_attachments=False)])
def test_fetching_attachments_is_a_setting(
    standin: Standin, service_token: str, integration_id: str, local_http: LocalHttp
) -> None:
    url = f"{local_http.base_url}/never-fetched.png"
    standin.inbound(service_token, integration_id, attachment_message(url, "image/png"))
    [receipt] = wait_for(lambda: receipts(standin))
    assert receipt["status"] == "Delivered"
    assert local_http.gets() == []
    [stored] = standin.conversations()[0]["messages"][0]["attachments"]
    assert stored["view_url"] == url


@pytest.mark.parametrize("standin_settings", [dataclasses.replace(FAST, rehost_attachments=False)])
def test_rehosting_is_a_setting(
    standin: Standin, service_token: str, integration_id: str, local_http: LocalHttp
) -> None:
    local_http.files["/p.png"] = ("image/png", b"png")
    url = f"{local_http.base_url}/p.png"
    standin.inbound(service_token, integration_id, attachment_message(url, "image/png"))
    wait_for(lambda: receipts(standin))
    [stored] = standin.conversations()[0]["messages"][0]["attachments"]
    assert (stored["status"], stored["hosted"], stored["view_url"]) == ("delivered", False, url)


def structured_response(body: dict[str, Any], originating: str) -> dict[str, Any]:
    return {
        "channel": body["channel"],
        "buttonResponse": {"type": "QuickReply", "text": "Home", "payload": "home"},
        "originatingMessageId": originating,
    }


def test_a_structured_response_is_validated_and_must_answer_an_outbound_message(
    standin: Standin, service_token: str, integration_id: str
) -> None:
    first = standin.inbound(service_token, integration_id, message_body("claim", message_id="q-1"))
    path = f"/api/v2/conversations/messages/{integration_id}/inbound/open/structured/response"
    body = structured_response(message_body(message_id="q-2"), originating=first.json()["id"])

    missing = {k: v for k, v in body.items() if k != "originatingMessageId"}
    error = assert_error_body(
        standin.api("POST", path, service_token, json=missing), 400, "constraint.validation"
    )
    assert "originatingMessageId" in field_names(error)
    bad_type = {**body, "buttonResponse": {**body["buttonResponse"], "type": "Tap"}}
    assert standin.api("POST", path, service_token, json=bad_type).status_code == 400
    # It answers a message sent to the customer, not one of theirs.
    assert_error_body(standin.api("POST", path, service_token, json=body), 400, "bad.request")
    assert [len(c["messages"]) for c in standin.conversations()] == [1]
