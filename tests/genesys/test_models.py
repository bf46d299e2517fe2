"""Models write the published JSON form, read it back, and tolerate what Genesys may add."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest

from genesys.models import (
    ConversationReason,
    CreateStatus,
    EventType,
    IdType,
    MalformedPayload,
    MediaType,
    MessageConversation,
    MessengerType,
    OpenContentAttachment,
    OpenEvent,
    OpenInboundMessageContent,
    OpenInboundMessageMessagingChannel,
    OpenInboundMessagingChannel,
    OpenInboundMessagingReceiptChannel,
    OpenInboundNormalizedEvent,
    OpenInboundNormalizedMessage,
    OpenInboundNormalizedReceipt,
    OpenIntegration,
    OpenIntegrationRequest,
    OpenMessageNormalizedMessage,
    OpenMessagingFromRecipient,
    OpenMessagingToRecipient,
    ParticipantState,
    ReasonCode,
    ReceiptStatus,
    TokenInfo,
    UserMe,
)

WHEN = datetime(2026, 5, 1, 13, 1, 14, 462000, tzinfo=UTC)


def inbound_message() -> OpenInboundNormalizedMessage:
    return OpenInboundNormalizedMessage(
        channel=OpenInboundMessageMessagingChannel(
            from_=OpenMessagingFromRecipient(
                id="visitor-123", id_type=IdType.OPAQUE, nickname="Jane", first_name="Jane", last_name="Doe"
            ),
            time=WHEN,
            message_id="ferry-msg-1",
        ),
        text="Here is my file",
        content=[
            OpenInboundMessageContent(
                attachment=OpenContentAttachment(
                    media_type=MediaType.FILE,
                    mime="application/pdf",
                    url="https://ferry.example/a/1",
                    filename="claim.pdf",
                    sha256="ab" * 32,
                    id="att-1",
                    text="my claim",
                )
            )
        ],
        metadata={"ferryChatId": "chat-1"},
    )


def test_inbound_message_has_the_published_shape() -> None:
    assert inbound_message().to_json() == {
        "channel": {
            "from": {
                "id": "visitor-123",
                "idType": "Opaque",
                "nickname": "Jane",
                "firstName": "Jane",
                "lastName": "Doe",
            },
            "time": "2026-05-01T13:01:14.462Z",
            "messageId": "ferry-msg-1",
        },
        "text": "Here is my file",
        "content": [
            {
                "attachment": {
                    "mediaType": "File",
                    "mime": "application/pdf",
                    "url": "https://ferry.example/a/1",
                    "filename": "claim.pdf",
                    "sha256": "ab" * 32,
                    "id": "att-1",
                    "text": "my claim",
                }
            }
        ],
        "metadata": {"ferryChatId": "chat-1"},
    }


def test_inbound_message_round_trips() -> None:
    message = inbound_message()
    assert OpenInboundNormalizedMessage.from_json(message.to_json()) == message


def test_times_are_written_in_utc_with_milliseconds_and_z() -> None:
    paris = timezone(timedelta(hours=2))
    channel = OpenInboundMessagingChannel(
        from_=OpenMessagingFromRecipient(id="v", id_type=IdType.EMAIL),
        time=datetime(2026, 5, 1, 15, 0, tzinfo=paris),
    )
    assert channel.to_json()["time"] == "2026-05-01T13:00:00.000Z"


def test_naive_times_are_refused_rather_than_guessed() -> None:
    channel = OpenInboundMessagingChannel(
        from_=OpenMessagingFromRecipient(id="v", id_type=IdType.EMAIL), time=datetime(2026, 5, 1, 15, 0)
    )
    with pytest.raises(ValueError, match="timezone"):
        channel.to_json()


def test_receipt_and_event_have_the_published_shape() -> None:
    receipt = OpenInboundNormalizedReceipt(
        id="genesys-msg-9",
        channel=OpenInboundMessagingReceiptChannel(to=OpenMessagingToRecipient(id="visitor-123"), time=WHEN),
        status=ReceiptStatus.FAILED,
        reasons=[ConversationReason(code=ReasonCode.GENERAL_ERROR, message="the widget was closed")],
        is_final_receipt=True,
    )
    assert receipt.to_json() == {
        "id": "genesys-msg-9",
        "channel": {"to": {"id": "visitor-123"}, "time": "2026-05-01T13:01:14.462Z"},
        "status": "Failed",
        "reasons": [{"message": "the widget was closed", "code": "GeneralError"}],
        "isFinalReceipt": True,
    }
    event = OpenInboundNormalizedEvent(
        channel=OpenInboundMessagingChannel(
            from_=OpenMessagingFromRecipient(id="v", id_type=IdType.OPAQUE), time=WHEN
        ),
        events=[OpenEvent(event_type=EventType.TYPING)],
    )
    assert event.to_json() == {
        "channel": {"from": {"id": "v", "idType": "Opaque"}, "time": "2026-05-01T13:01:14.462Z"},
        "events": [{"eventType": "Typing"}],
    }
    assert OpenInboundNormalizedReceipt.from_json(receipt.to_json()) == receipt
    assert OpenInboundNormalizedEvent.from_json(event.to_json()) == event


def test_answer_to_an_inbound_message_is_read_with_unknown_fields_ignored() -> None:
    answer = OpenMessageNormalizedMessage.from_json(
        {
            "id": "genesys-msg-1",
            "channel": {
                "id": "integration-1",
                "platform": "Open",
                "type": "Private",
                "messageId": "ferry-msg-1",
                "to": {"id": "integration-1"},
                "from": {"id": "visitor-123", "idType": "Opaque", "brandNewField": 1},
                "time": "2026-05-01T13:01:14.462Z",
            },
            "type": "Text",
            "text": "Here is my file",
            "conversationId": "conv-1",
            "someFutureField": {"nested": True},
        }
    )
    assert answer.id == "genesys-msg-1"
    assert answer.conversation_id == "conv-1"
    assert answer.channel.time == WHEN
    assert answer.channel.from_ is not None and answer.channel.from_.id == "visitor-123"


def test_unknown_enum_values_in_answers_are_kept_as_text() -> None:
    conversation = MessageConversation.from_json(
        {"id": "c", "participants": [{"purpose": "agent", "state": "teleported", "type": "open"}]}
    )
    (participant,) = conversation.participants or []
    assert participant.state == "teleported"
    assert participant.type is MessengerType.OPEN
    assert ParticipantState.CONNECTED == "connected"  # StrEnum members compare equal to their published text


def test_malformed_documents_are_refused_naming_the_field() -> None:
    with pytest.raises(
        MalformedPayload, match=r"channel\.from\.idType: 'person' is not one of Email, Phone, Opaque"
    ):
        OpenInboundNormalizedMessage.from_json(
            {"channel": {"from": {"id": "x", "idType": "person"}, "time": "2026-05-01T13:01:14Z"}}
        )
    with pytest.raises(MalformedPayload, match=r"channel\.time: required field is missing"):
        OpenInboundNormalizedMessage.from_json({"channel": {"from": {"id": "x", "idType": "Email"}}})
    with pytest.raises(MalformedPayload, match=r"content: expected an array"):
        OpenInboundNormalizedMessage.from_json(
            {
                "channel": {"from": {"id": "x", "idType": "Email"}, "time": "2026-05-01T13:01:14Z"},
                "content": {},
            }
        )
    with pytest.raises(MalformedPayload, match="expected an object"):
        UserMe.from_json(["not", "an", "object"])
    with pytest.raises(MalformedPayload, match=r"UserMe\.id: expected str, got a boolean"):
        UserMe.from_json({"id": True})


def test_user_me_reads_roles_permissions_and_organization() -> None:
    user = UserMe.from_json(
        {
            "id": "u-1",
            "name": "Agent Smith",
            "email": "smith@example.com",
            "state": "active",
            "version": 3,
            "organization": {"id": "org-1", "name": "Insurer", "version": 1},
            "authorization": {
                "roles": [{"id": "r-1", "name": "Agent"}],
                "permissions": ["conversation:message:view"],
            },
        }
    )
    assert user.organization is not None and user.organization.id == "org-1"
    assert user.authorization is not None
    assert [r.name for r in user.authorization.roles or []] == ["Agent"]
    assert user.authorization.permissions == ["conversation:message:view"]


def test_token_info_uses_the_published_oauth_client_name() -> None:
    info = TokenInfo.from_json(
        {
            "organization": {"id": "org-1", "name": "Insurer"},
            "homeOrganization": {"id": "org-1", "name": "Insurer"},
            "authorizedScope": ["user-basic-info"],
            "OAuthClient": {"id": "client-1", "name": "Ferry viewer", "authorizedGrantType": "CODE"},
        }
    )
    assert info.oauth_client is not None and info.oauth_client.id == "client-1"
    assert info.cloned_user is None
    assert "OAuthClient" in info.to_json()


def test_integration_request_refuses_a_short_secret_and_hides_it_from_repr() -> None:
    with pytest.raises(ValueError, match="at least 16 characters"):
        OpenIntegrationRequest(
            name="Ferry",
            outbound_notification_webhook_url="https://ferry.example/genesys/webhook",
            outbound_notification_webhook_signature_secret_token="fifteen-chars!!",
        )
    request = OpenIntegrationRequest(
        name="Ferry",
        outbound_notification_webhook_url="https://ferry.example/genesys/webhook",
        outbound_notification_webhook_signature_secret_token="sixteen-chars!!!",
        webhook_headers={"X-Ferry-Key": "also-secret"},
    )
    assert "sixteen-chars" not in repr(request) and "also-secret" not in repr(request)
    assert request.to_json()["outboundNotificationWebhookSignatureSecretToken"] == "sixteen-chars!!!"
    integration = OpenIntegration.from_json(
        {"id": "i-1", "outboundNotificationWebhookSignatureSecretToken": "xyz"}
    )
    assert "xyz" not in repr(integration)


def test_integration_create_status_and_error() -> None:
    integration = OpenIntegration.from_json(
        {
            "id": "i-1",
            "name": "Ferry",
            "createStatus": "Error",
            "createError": {"message": "Webhook URL is invalid", "code": "invalid.value", "status": 400},
        }
    )
    assert integration.create_status is CreateStatus.ERROR
    assert integration.create_error is not None and integration.create_error.code == "invalid.value"


def test_models_are_immutable() -> None:
    message = inbound_message()
    with pytest.raises(dataclasses.FrozenInstanceError):
        message.text = "changed"  # type: ignore[misc]
