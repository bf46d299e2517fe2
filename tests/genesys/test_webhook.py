"""The webhook signature (`X-Hub-Signature-256`) and the reading of webhook bodies."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
from typing import Any

import pytest

from genesys.models import (
    EventType,
    MediaType,
    MessageStatus,
    ReasonCode,
    WebhookKind,
    WebhookPayloadError,
    parse_webhook,
)
from genesys.webhook import sign, verify_signature

SECRET = "ferry-webhook-secret-0123456789"
BODY = rb'{"id":"5c1e","channel":{"time":"2026-05-01T13:01:14.462Z"},"type":"Text","text":"caf\u00e9"}'
# Computed once with OpenSSL 3.0, independently of this code:
#   printf '%s' "$BODY" | openssl dgst -sha256 -hmac "$SECRET" -binary | base64
KNOWN_SIGNATURE = "sha256=e1a1TqZ060zmF7zAgXbF88EaqY20m8MO+907WD4HGDs="
KNOWN_HEX = "7b56b54ea674eb4ce617bcc08176c5f3c11aa98db49bc30efbdd3b583e07183b"


def test_sign_matches_a_vector_computed_with_openssl() -> None:
    assert sign(BODY, SECRET) == KNOWN_SIGNATURE
    assert verify_signature(BODY, KNOWN_SIGNATURE, SECRET)


@pytest.mark.parametrize(
    "body",
    [b"", b"{}", '{"text": "\u00e9t\u00e9 \U0001f600"}'.encode(), bytes(range(256)) * 4],
    ids=["empty", "braces", "utf8", "binary"],
)
def test_sign_matches_openssl_for_other_bodies(body: bytes) -> None:
    digest = subprocess.run(  # openssl: an independent HMAC (make test's bootstrap installs it)
        ["openssl", "dgst", "-sha256", "-hmac", SECRET, "-binary"],
        input=body,
        capture_output=True,
        check=True,
    ).stdout
    assert sign(body, SECRET) == "sha256=" + base64.b64encode(digest).decode()


@pytest.mark.parametrize(
    ("header", "body", "secret"),
    [
        (None, BODY, SECRET),
        ("", BODY, SECRET),
        (KNOWN_SIGNATURE.removeprefix("sha256="), BODY, SECRET),  # no prefix
        ("sha1=" + KNOWN_SIGNATURE.removeprefix("sha256="), BODY, SECRET),  # wrong prefix
        ("sha256=" + KNOWN_HEX, BODY, SECRET),  # hex, as GitHub-style webhooks do: not what Genesys sends
        (KNOWN_SIGNATURE, BODY, SECRET + "x"),  # wrong secret
        (KNOWN_SIGNATURE, BODY.replace(b"5c1e", b"5c1f"), SECRET),  # tampered body
        (KNOWN_SIGNATURE, BODY + b"\n", SECRET),  # one byte more
        (KNOWN_SIGNATURE[:-2] + "A=", BODY, SECRET),  # signature altered
        ("sha256=é" + KNOWN_SIGNATURE[8:], BODY, SECRET),  # not even ASCII
        (KNOWN_SIGNATURE, BODY, ""),  # no secret configured
    ],
    ids=[
        "missing",
        "empty",
        "no-prefix",
        "wrong-prefix",
        "hex",
        "wrong-secret",
        "tampered",
        "extra-byte",
        "altered",
        "non-ascii",
        "no-secret",
    ],
)
def test_bad_signatures_are_refused(header: str | None, body: bytes, secret: str) -> None:
    assert verify_signature(body, header, secret) is False


def test_signature_is_over_the_raw_bytes_not_the_parsed_json() -> None:
    reserialised = json.dumps(json.loads(BODY)).encode()  # same JSON, different bytes
    assert reserialised != BODY
    assert not verify_signature(reserialised, KNOWN_SIGNATURE, SECRET)


def test_comparison_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert verify_signature(BODY, KNOWN_SIGNATURE, SECRET)
    assert calls == [(KNOWN_SIGNATURE.encode(), KNOWN_SIGNATURE.encode())]
    expected = hmac.new(SECRET.encode(), BODY, hashlib.sha256).digest()
    assert calls[0][0] == b"sha256=" + base64.b64encode(expected)


# -- reading webhook bodies ------------------------------------------------------------------------------


def channel(**extra: Any) -> dict[str, Any]:
    return {
        "id": "integration-1",
        "platform": "Open",
        "type": "Private",
        "to": {"id": "visitor-123"},
        "from": {"nickname": "Agent Smith", "id": "integration-1", "idType": "Opaque"},
        "time": "2026-05-01T13:02:00.000Z",
        "messageId": "genesys-msg-2",
        **extra,
    }


def test_text_message_from_an_agent() -> None:
    message = parse_webhook(
        {
            "id": "genesys-msg-2",
            "channel": channel(),
            "type": "Text",
            "text": "Thanks, I can see it",
            "direction": "Outbound",
            "originatingEntity": "Human",
        }
    )
    assert message.kind is WebhookKind.TEXT
    assert message.text == "Thanks, I can see it"
    assert message.channel.to is not None and message.channel.to.id == "visitor-123"
    assert message.attachments == []


def test_text_message_with_an_attachment() -> None:
    message = parse_webhook(
        {
            "id": "genesys-msg-3",
            "channel": channel(),
            "type": "Text",
            "content": [
                {
                    "contentType": "Attachment",
                    "attachment": {
                        "id": "a-1",
                        "mediaType": "Image",
                        "url": "https://api.mypurecloud.ie/api/v2/downloads/x",
                        "mime": "image/png",
                        "filename": "form.png",
                        "contentSizeBytes": 2048,
                    },
                }
            ],
            "direction": "Outbound",
        }
    )
    assert message.kind is WebhookKind.TEXT
    (attachment,) = message.attachments
    assert attachment.media_type is MediaType.IMAGE
    assert attachment.content_size_bytes == 2048


def test_failed_receipt() -> None:
    message = parse_webhook(
        {
            "id": "genesys-msg-1",
            "channel": channel(),
            "type": "Receipt",
            "status": "Failed",
            "reasons": [{"code": "InvalidMediaContentLength", "message": "too big"}],
            "isFinalReceipt": True,
            "direction": "Inbound",
        }
    )
    assert message.kind is WebhookKind.RECEIPT
    assert message.status is MessageStatus.FAILED
    assert message.is_final_receipt is True
    assert [r.code for r in message.reasons or []] == [ReasonCode.INVALID_MEDIA_CONTENT_LENGTH]


def test_typing_event() -> None:
    message = parse_webhook(
        {
            "id": "genesys-msg-4",
            "channel": channel(),
            "type": "Event",
            "events": [{"eventType": "Typing", "typing": {"type": "On", "duration": 5000}}],
            "direction": "Outbound",
        }
    )
    assert message.kind is WebhookKind.TYPING
    assert message.typing_duration_ms == 5000
    assert message.events is not None and message.events[0].event_type is EventType.TYPING


def test_well_formed_but_unknown_types_are_other_not_errors() -> None:
    future_type = parse_webhook(
        {"id": "m", "channel": channel(), "type": "SomethingNew", "direction": "Outbound"}
    )
    future_event = parse_webhook(
        {"id": "m", "channel": channel(), "type": "Event", "events": [{"eventType": "Presence"}]}
    )
    assert future_type.kind is WebhookKind.OTHER
    assert future_event.kind is WebhookKind.OTHER


def test_sender_without_id_type_is_accepted() -> None:
    message = parse_webhook(
        {"id": "m", "channel": channel(**{"from": {"id": "integration-1"}}), "type": "Text"}
    )
    assert message.channel.from_ is not None and message.channel.from_.id == "integration-1"


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        ([], "expected an object"),
        ({"channel": channel(), "type": "Text"}, r"WebhookMessage\.id: required field is missing"),
        ({"id": "m", "type": "Text"}, r"WebhookMessage\.channel: required field is missing"),
        ({"id": "m", "channel": channel()}, r"WebhookMessage\.type: required field is missing"),
        ({"id": "m", "channel": channel(time=None), "type": "Text"}, r"channel\.time is missing"),
        ({"id": "m", "channel": channel(time="yesterday"), "type": "Text"}, "not an ISO 8601 date-time"),
        ({"id": "m", "channel": channel(to=None), "type": "Text"}, r"needs channel\.to"),
        ({"id": "m", "channel": channel(), "type": "Receipt"}, "a Receipt needs a status"),
        ({"id": "m", "channel": channel(), "type": "Text", "content": "file"}, "expected an array"),
        ({"id": 7, "channel": channel(), "type": "Text"}, r"WebhookMessage\.id: expected str"),
    ],
    ids=[
        "not-object",
        "no-id",
        "no-channel",
        "no-type",
        "no-time",
        "bad-time",
        "text-without-to",
        "receipt-without-status",
        "content-not-list",
        "id-not-string",
    ],
)
def test_malformed_payloads_are_refused_with_a_clear_message(payload: Any, problem: str) -> None:
    with pytest.raises(WebhookPayloadError, match=problem) as caught:
        parse_webhook(payload)
    assert isinstance(caught.value, ValueError)
    assert str(caught.value).startswith("malformed webhook payload: ")
