"""Every model's field names, types, required fields and enums match the published Genesys swagger.

The swagger cut is test data: tests/genesys/data/openapi-subset.json (its SOURCE.md says how it was cut).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import datetime
from enum import Enum
from typing import Any

import pytest

from genesys import models
from genesys.models import GenesysModel
from tests.genesys.published import published_definitions

# Model → the published definition(s) it is. The webhook body has no single published definition: it is
# an OpenNormalizedMessage (text, receipt), an OpenEventNormalizedMessage (event), with the
# originatingEntity of ConversationNormalizedMessage.
DEFINITIONS: dict[type[GenesysModel], tuple[str, ...]] = {
    models.NamedEntity: ("NamedEntity",),
    models.Entity: ("Entity",),
    models.DomainEntityRef: ("DomainEntityRef",),
    models.Detail: ("Detail",),
    models.ErrorBody: ("ErrorBody",),
    models.OpenMessagingFromRecipient: ("OpenMessagingFromRecipient",),
    models.OpenMessagingToRecipient: ("OpenMessagingToRecipient",),
    models.ConversationChannelMetadata: ("ConversationChannelMetadata",),
    models.OpenInboundMessageMessagingChannel: ("OpenInboundMessageMessagingChannel",),
    models.OpenContentAttachment: ("OpenContentAttachment",),
    models.OpenInboundMessageContent: ("OpenInboundMessageContent",),
    models.OpenInboundNormalizedMessage: ("OpenInboundNormalizedMessage",),
    models.ConversationReason: ("ConversationReason",),
    models.OpenInboundMessagingReceiptChannel: ("OpenInboundMessagingReceiptChannel",),
    models.OpenInboundNormalizedReceipt: ("OpenInboundNormalizedReceipt",),
    models.OpenInboundMessagingChannel: ("OpenInboundMessagingChannel",),
    models.OpenEvent: ("OpenEvent",),
    models.OpenInboundNormalizedEvent: ("OpenInboundNormalizedEvent",),
    models.OpenMessagingChannel: ("OpenMessagingChannel",),
    models.ConversationContentAttachment: ("ConversationContentAttachment",),
    models.ConversationContentQuickReply: ("ConversationContentQuickReply",),
    models.ConversationContentCardAction: ("ConversationContentCardAction",),
    models.ConversationContentCard: ("ConversationContentCard",),
    # Quick replies and cards are not in the published OpenMessageContent (UNSURE): their shape is
    # ConversationMessageContent's.
    models.OpenMessageContent: ("OpenMessageContent", "ConversationMessageContent"),
    models.ContentButtonResponse: ("ContentButtonResponse",),
    models.OpenInboundStructuredResponseMessage: ("OpenInboundStructuredResponseMessage",),
    models.OpenMessageNormalizedMessage: ("OpenMessageNormalizedMessage",),
    models.OpenReceiptNormalizedMessage: ("OpenReceiptNormalizedMessage",),
    models.ConversationEventTyping: ("ConversationEventTyping",),
    models.OpenMessageEvent: ("OpenMessageEvent",),
    models.OpenEventNormalizedMessage: ("OpenEventNormalizedMessage",),
    models.WebhookMessage: (
        "OpenNormalizedMessage",
        "OpenEventNormalizedMessage",
        "ConversationNormalizedMessage",
        "OpenMessageNormalizedMessage",  # its conversationId, which webhook bodies carry at the top
    ),
    models.DomainRole: ("DomainRole",),
    models.UserAuthorization: ("UserAuthorization",),
    models.Organization: ("Organization",),
    models.UserMe: ("UserMe",),
    models.TokenInfoClonedUser: ("TokenInfoClonedUser",),
    models.OrgOAuthClient: ("OrgOAuthClient",),
    models.TokenInfo: ("TokenInfo",),
    models.Address: ("Address",),
    models.MessageDetails: ("MessageDetails",),
    models.MessageMediaParticipant: ("MessageMediaParticipant",),
    models.MessageConversation: ("MessageConversation",),
    models.ConversationMessagingChannel: ("ConversationMessagingChannel",),
    models.ConversationNormalizedMessage: ("ConversationNormalizedMessage",),
    models.MessageData: ("MessageData",),
    models.TextMessageListing: ("TextMessageListing",),
    models.SupportedContentReference: ("SupportedContentReference",),
    models.MessagingSettingRequestReference: ("MessagingSettingRequestReference",),
    models.MessagingSettingReference: ("MessagingSettingReference",),
    models.OpenIntegrationRequest: ("OpenIntegrationRequest",),
    models.OpenIntegration: ("OpenIntegration",),
    models.OpenIntegrationEntityListing: ("OpenIntegrationEntityListing",),
}

# What Ferry sends: a field the published schema requires must be required in the dataclass too.
REQUESTS = {
    models.OpenInboundStructuredResponseMessage,
    models.ContentButtonResponse,
    models.OpenInboundNormalizedMessage,
    models.OpenInboundMessageMessagingChannel,
    models.OpenMessagingFromRecipient,
    models.OpenContentAttachment,
    models.OpenInboundNormalizedReceipt,
    models.OpenInboundMessagingReceiptChannel,
    models.OpenMessagingToRecipient,
    models.ConversationReason,
    models.OpenInboundNormalizedEvent,
    models.OpenInboundMessagingChannel,
    models.OpenEvent,
    models.OpenIntegrationRequest,
    models.SupportedContentReference,
    models.MessagingSettingRequestReference,
}


@pytest.fixture(scope="module")
def definitions() -> dict[str, Any]:
    return published_definitions()


def json_fields(model: type[GenesysModel]) -> dict[str, dataclasses.Field[Any]]:
    return {models.json_field_name(f): f for f in dataclasses.fields(model)}


def published_properties(definitions: dict[str, Any], model: type[GenesysModel]) -> dict[str, dict[str, Any]]:
    """Property name → its published schema, from the first mapped definition that has it; an enum
    property gets the values of every mapped definition (a webhook `type` is Text, Receipt or Event)."""
    merged: dict[str, dict[str, Any]] = {}
    for name in DEFINITIONS[model]:
        for prop, schema in definitions[name].get("properties", {}).items():
            if prop not in merged:
                merged[prop] = dict(schema)
            elif "enum" in schema and "enum" in merged[prop]:
                merged[prop]["enum"] = merged[prop]["enum"] + [
                    v for v in schema["enum"] if v not in merged[prop]["enum"]
                ]
    return merged


def test_every_model_is_mapped_to_a_published_definition() -> None:
    declared = {
        obj
        for obj in vars(models).values()
        if isinstance(obj, type) and issubclass(obj, GenesysModel) and obj is not GenesysModel
    }
    assert declared == set(DEFINITIONS)


@pytest.mark.parametrize("model", list(DEFINITIONS), ids=lambda m: m.__name__)
def test_field_names_are_published(definitions: dict[str, Any], model: type[GenesysModel]) -> None:
    published = published_properties(definitions, model)
    unknown = set(json_fields(model)) - set(published)
    assert not unknown, f"{model.__name__} has fields Genesys does not publish: {sorted(unknown)}"


@pytest.mark.parametrize("model", list(DEFINITIONS), ids=lambda m: m.__name__)
def test_published_required_fields_are_present(
    definitions: dict[str, Any], model: type[GenesysModel]
) -> None:
    fields = json_fields(model)
    for name in DEFINITIONS[model][:1]:  # the primary definition's required list
        for required in definitions[name].get("required", []):
            assert required in fields, f"{model.__name__} lacks the required field {required}"
            if model in REQUESTS:
                f = fields[required]
                assert f.default is dataclasses.MISSING, f"{model.__name__}.{required} must be required"


@pytest.mark.parametrize("model", list(DEFINITIONS), ids=lambda m: m.__name__)
def test_field_types_and_enums_match(definitions: dict[str, Any], model: type[GenesysModel]) -> None:
    hints = typing.get_type_hints(model)
    published = published_properties(definitions, model)
    for key, f in json_fields(model).items():
        check_type(hints[f.name], published[key], definitions, f"{model.__name__}.{key}")


def check_type(annotation: Any, schema: dict[str, Any], definitions: dict[str, Any], where: str) -> None:
    """The annotation accepts what the schema describes; enums have exactly the published values."""
    options = [a for a in _options(annotation) if a is not type(None)]
    if "$ref" in schema:
        target = schema["$ref"].rsplit("/", 1)[-1]
        mapped = [o for o in options if isinstance(o, type) and issubclass(o, GenesysModel)]
        assert any(target in DEFINITIONS[o] for o in mapped), (
            f"{where}: published as {target}, typed {annotation}"
        )
        return
    kind: str = schema.get("type", "")
    if kind == "array":
        lists = [o for o in options if typing.get_origin(o) is list]
        assert lists, f"{where}: published as an array, typed {annotation}"
        check_type(typing.get_args(lists[0])[0], schema["items"], definitions, f"{where}[]")
        return
    if kind == "object":
        dicts = [o for o in options if typing.get_origin(o) is dict]
        assert dicts, f"{where}: published as an object, typed {annotation}"
        value_type = typing.get_args(dicts[0])[1]
        if schema.get("additionalProperties", {}).get("type") == "string":
            assert value_type is str, f"{where}: published as a map of strings, typed {annotation}"
        return
    enums = [o for o in options if isinstance(o, type) and issubclass(o, Enum)]
    if "enum" in schema:
        if enums:
            values = [m.value for m in enums[0]]
            assert set(values) <= set(schema["enum"]), f"{where}: {values} is not within {schema['enum']}"
        else:
            assert str in options, f"{where}: published enum typed {annotation}"
        return
    expected: dict[str, type] = {"string": str, "integer": int, "boolean": bool, "number": float}
    if kind == "string" and schema.get("format") == "date-time":
        assert datetime in options, f"{where}: published as a date-time, typed {annotation}"
    else:
        assert expected[kind] in options, f"{where}: published as {kind}, typed {annotation}"


def _options(annotation: Any) -> list[Any]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return list(typing.get_args(annotation))
    return [annotation]


@pytest.mark.parametrize(
    ("enum", "definition", "prop"),
    [
        (models.IdType, "OpenMessagingFromRecipient", "idType"),
        (models.MediaType, "OpenContentAttachment", "mediaType"),
        (models.ContentType, "OpenMessageContent", "contentType"),
        (models.Platform, "OpenMessagingChannel", "platform"),
        (models.ChannelType, "OpenMessagingChannel", "type"),
        (models.ChannelSubType, "ConversationChannelMetadata", "subType"),
        (models.MessageType, "OpenMessageNormalizedMessage", "type"),
        (models.ReceiptStatus, "OpenInboundNormalizedReceipt", "status"),
        (models.MessageStatus, "OpenNormalizedMessage", "status"),
        (models.ReasonCode, "ConversationReason", "code"),
        (models.Direction, "OpenNormalizedMessage", "direction"),
        (models.OriginatingEntity, "ConversationNormalizedMessage", "originatingEntity"),
        (models.EventType, "OpenEvent", "eventType"),
        (models.TypingType, "ConversationEventTyping", "type"),
        (models.AccountState, "UserMe", "state"),
        (models.AccountState, "Organization", "state"),
        (models.ProductPlatform, "Organization", "productPlatform"),
        (models.GrantType, "OrgOAuthClient", "authorizedGrantType"),
        (models.OAuthClientState, "OrgOAuthClient", "state"),
        (models.ParticipantState, "MessageMediaParticipant", "state"),
        (models.ParticipantDirection, "MessageMediaParticipant", "direction"),
        (models.MessengerType, "MessageMediaParticipant", "type"),
        (models.CreateStatus, "OpenIntegration", "createStatus"),
    ],
)
def test_enums_are_exactly_the_published_strings(
    definitions: dict[str, Any], enum: type[Enum], definition: str, prop: str
) -> None:
    assert [m.value for m in enum] == definitions[definition]["properties"][prop]["enum"]


def test_webhook_type_covers_text_receipt_and_event(definitions: dict[str, Any]) -> None:
    published = set(definitions["OpenNormalizedMessage"]["properties"]["type"]["enum"]) | set(
        definitions["OpenEventNormalizedMessage"]["properties"]["type"]["enum"]
    )
    assert {m.value for m in models.NormalizedMessageType} == published
