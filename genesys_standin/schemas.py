"""Hand-written validation schemas for the request bodies the stand-in accepts, and their validator.

Written from the published Genesys Cloud swagger definitions of the same names (property names, `required`,
enums and `readOnly` flags); tests/genesys_standin/test_contract_sdk.py checks them against the published
file.
Genesys refuses unknown properties, so every object here is closed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Field:
    """One property: its JSON kind and constraints."""

    kind: str  # string | boolean | integer | object | array | map (object of strings)
    enum: tuple[str, ...] = ()
    date_time: bool = False
    obj: ObjectSchema | None = None
    items: Field | None = None
    read_only: bool = False
    enum_name: str = ""


@dataclass(frozen=True)
class ObjectSchema:
    """A closed object: its published definition name, properties and required property names."""

    name: str
    properties: dict[str, Field]
    required: tuple[str, ...] = ()


@dataclass(frozen=True)
class Violation:
    """Why a body is refused, with the Genesys error code and the dotted path of the field."""

    code: str
    field: str
    message: str
    entity: str


def _s(**kw: Any) -> Field:
    return Field("string", **kw)


def _enum(name: str, *values: str, read_only: bool = False) -> Field:
    return Field("string", enum=values, enum_name=name, read_only=read_only)


def _obj(schema: ObjectSchema, read_only: bool = False) -> Field:
    return Field("object", obj=schema, read_only=read_only)


def _list(item: Field, read_only: bool = False) -> Field:
    return Field("array", items=item, read_only=read_only)


ID_TYPES = ("Email", "Phone", "Opaque")
MEDIA_TYPES = ("Image", "Video", "Audio", "File", "Link")
RECEIPT_STATUSES = ("Sent", "Delivered", "Failed", "Published", "Removed")
REASON_CODES = (
    "MessageExpired",
    "RateLimited",
    "MessageNotAllowed",
    "GeneralError",
    "UnsupportedMessage",
    "UnknownMessage",
    "InvalidMessageStructure",
    "InvalidDestination",
    "ServerError",
    "MediaTypeNotAllowed",
    "InvalidMediaContentLength",
    "RecipientOptedOut",
    "DataFiltered",
)
DATE_TIME = Field("string", date_time=True)
STRING_MAP = Field("map")

CHANNEL_METADATA = ObjectSchema(
    "ConversationChannelMetadata",
    {
        "subType": _enum(
            "SubType", "None", "GoogleBusinessProfile", "RoadsideAssistance", "YouTube", read_only=True
        )
    },
)
FROM_RECIPIENT = ObjectSchema(
    "OpenMessagingFromRecipient",
    {
        "nickname": _s(),
        "id": _s(),
        "idType": _enum("IdType", *ID_TYPES),
        "firstName": _s(),
        "lastName": _s(),
        "image": _s(read_only=True),
        "email": _s(),
    },
    required=("id", "idType"),
)
TO_RECIPIENT = ObjectSchema(
    "OpenMessagingToRecipient",
    {
        "nickname": _s(read_only=True),
        "id": _s(),
        "idType": _enum("IdType", *ID_TYPES, read_only=True),
        "firstName": _s(read_only=True),
        "lastName": _s(read_only=True),
        "image": _s(read_only=True),
        "email": _s(),
    },
    required=("id",),
)
CONTENT_ATTACHMENT = ObjectSchema(
    "OpenContentAttachment",
    {
        "id": _s(),
        "mediaType": _enum("MediaType", *MEDIA_TYPES),
        "url": _s(),
        "mime": _s(),
        "text": _s(),
        "sha256": _s(),
        "filename": _s(),
    },
    required=("mediaType", "mime", "url"),
)
INBOUND_MESSAGE_CHANNEL = ObjectSchema(
    "OpenInboundMessageMessagingChannel",
    {
        "from": _obj(FROM_RECIPIENT),
        "time": DATE_TIME,
        "messageId": _s(),
        "metadata": _obj(CHANNEL_METADATA),
    },
    required=("from", "time"),
)
INBOUND_MESSAGE = ObjectSchema(
    "OpenInboundNormalizedMessage",
    {
        "channel": _obj(INBOUND_MESSAGE_CHANNEL),
        "text": _s(),
        "content": _list(
            _obj(ObjectSchema("OpenInboundMessageContent", {"attachment": _obj(CONTENT_ATTACHMENT)}))
        ),
        "metadata": STRING_MAP,
    },
    required=("channel",),
)
STRUCTURED_RESPONSE = ObjectSchema(
    "OpenInboundStructuredResponseMessage",
    {
        "channel": _obj(INBOUND_MESSAGE_CHANNEL),
        "buttonResponse": _obj(
            ObjectSchema(
                "ContentButtonResponse",
                {
                    "id": _s(),
                    "type": _enum(
                        "ButtonResponseType", "Button", "QuickReply", "DatePicker", "ListPicker", "Form"
                    ),
                    "text": _s(),
                    "payload": _s(),
                },
                required=("payload", "text", "type"),
            )
        ),
        "originatingMessageId": _s(),
    },
    required=("buttonResponse", "channel", "originatingMessageId"),
)
REASON = ObjectSchema(
    "ConversationReason", {"code": _enum("ReasonCode", *REASON_CODES), "message": _s()}, required=("message",)
)
INBOUND_RECEIPT = ObjectSchema(
    "OpenInboundNormalizedReceipt",
    {
        "id": _s(),
        "channel": _obj(
            ObjectSchema(
                "OpenInboundMessagingReceiptChannel",
                {"to": _obj(TO_RECIPIENT), "time": DATE_TIME},
                ("time", "to"),
            )
        ),
        "status": _enum("ReceiptStatus", *RECEIPT_STATUSES),
        "reasons": _list(_obj(REASON)),
        "isFinalReceipt": Field("boolean"),
    },
    required=("channel", "id", "status"),
)
INBOUND_EVENT = ObjectSchema(
    "OpenInboundNormalizedEvent",
    {
        "channel": _obj(
            ObjectSchema(
                "OpenInboundMessagingChannel",
                {"from": _obj(FROM_RECIPIENT), "time": DATE_TIME},
                ("from", "time"),
            )
        ),
        "events": _list(
            _obj(ObjectSchema("OpenEvent", {"eventType": _enum("EventType", "Typing")}, ("eventType",)))
        ),
    },
    required=("channel", "events"),
)
MEDIA_TYPE_LIST = _list(_obj(ObjectSchema("MediaType", {"type": _s()})))
MEDIA_TYPES_OBJ = ObjectSchema(
    "MediaTypes",
    {
        "allow": _obj(
            ObjectSchema("MediaTypeAccess", {"inbound": MEDIA_TYPE_LIST, "outbound": MEDIA_TYPE_LIST})
        )
    },
)
SUPPORTED_CONTENT_REFERENCE = ObjectSchema(
    "SupportedContentReference",
    {
        "id": _s(),
        "name": _s(read_only=True),
        "selfUri": _s(read_only=True),
        "mediaTypes": _obj(MEDIA_TYPES_OBJ, read_only=True),
    },
    required=("id",),
)
MESSAGING_SETTING_REFERENCE = ObjectSchema("MessagingSettingRequestReference", {"id": _s()}, required=("id",))
_INTEGRATION_PROPERTIES = {
    "id": _s(read_only=True),
    "name": _s(),
    "supportedContent": _obj(SUPPORTED_CONTENT_REFERENCE),
    "messagingSetting": _obj(MESSAGING_SETTING_REFERENCE),
    "outboundNotificationWebhookUrl": _s(),
    "outboundNotificationWebhookSignatureSecretToken": _s(),
    "webhookHeaders": STRING_MAP,
    "selfUri": _s(read_only=True),
}
INTEGRATION_REQUEST = ObjectSchema(
    "OpenIntegrationRequest",
    _INTEGRATION_PROPERTIES,
    required=("name", "outboundNotificationWebhookSignatureSecretToken", "outboundNotificationWebhookUrl"),
)
INTEGRATION_UPDATE_REQUEST = ObjectSchema("OpenIntegrationUpdateRequest", _INTEGRATION_PROPERTIES, ("name",))
_ENTITY_REF = ObjectSchema("DomainEntityRef", {"id": _s(), "name": _s(), "selfUri": _s()})
SUPPORTED_CONTENT = ObjectSchema(
    "SupportedContent",
    {
        "id": _s(read_only=True),
        "name": _s(),
        "dateCreated": Field("string", date_time=True, read_only=True),
        "dateModified": Field("string", date_time=True, read_only=True),
        "createdBy": _obj(_ENTITY_REF, read_only=True),
        "modifiedBy": _obj(_ENTITY_REF, read_only=True),
        "version": Field("integer", read_only=True),
        "mediaTypes": _obj(MEDIA_TYPES_OBJ),
        "selfUri": _s(read_only=True),
    },
    # The published definition also requires the read-only `id`, which a create request cannot carry.
    required=("name",),
)

# Every top-level request schema, by the published definition name.
REQUEST_SCHEMAS = {
    schema.name: schema
    for schema in (
        INBOUND_MESSAGE,
        INBOUND_RECEIPT,
        INBOUND_EVENT,
        INTEGRATION_REQUEST,
        INTEGRATION_UPDATE_REQUEST,
        SUPPORTED_CONTENT,
    )
}


@dataclass
class _Checker:
    """Walks a body, collecting violations and building a copy with canonical enum spellings."""

    case_insensitive_enums: tuple[str, ...]
    violations: list[Violation] = field(default_factory=list)

    def fail(self, code: str, path: str, message: str, entity: str) -> None:
        self.violations.append(Violation(code, path, message, entity))

    def check_object(self, value: Any, schema: ObjectSchema, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(
                "invalid.value",
                path or schema.name,
                f"Value [{value}] is not valid for field type [object]",
                schema.name,
            )
            return {}
        result: dict[str, Any] = {}
        for name, item in value.items():
            where = f"{path}.{name}" if path else name
            prop = schema.properties.get(name)
            if prop is None:
                self.fail(
                    "invalid.property",
                    where,
                    f"Value [{name}] is not a valid property for object [{schema.name}]",
                    schema.name,
                )
                continue
            if item is None:  # Jackson treats an explicit null like an absent property
                continue
            checked = self.check_field(item, prop, where, schema.name)
            if not prop.read_only:
                result[name] = checked
        for name in schema.required:
            if value.get(name) is None:
                where = f"{path}.{name}" if path else name
                if name == "time" and schema.name.startswith("OpenInbound"):
                    self.fail("missing.open.channel.date", where, "Missing open channel date.", schema.name)
                else:
                    self.fail("constraint.validation", where, f"{where} may not be null", schema.name)
        return result

    def check_field(self, value: Any, prop: Field, path: str, entity: str) -> Any:
        if prop.kind == "object" and prop.obj is not None:
            return self.check_object(value, prop.obj, path)
        if prop.kind == "array" and prop.items is not None:
            if not isinstance(value, list):
                self.fail(
                    "invalid.value", path, f"Value [{value}] is not valid for field type [array]", entity
                )
                return []
            return [self.check_field(v, prop.items, f"{path}[{i}]", entity) for i, v in enumerate(value)]
        if prop.kind == "map":
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                self.fail(
                    "invalid.value",
                    path,
                    f"Value [{value}] is not valid for field type [map of string]",
                    entity,
                )
                return {}
            return dict(value)
        if prop.kind == "boolean":
            if not isinstance(value, bool):
                self.fail(
                    "invalid.value", path, f"Value [{value}] is not valid for field type [boolean]", entity
                )
            return value
        if prop.kind == "integer":
            if not isinstance(value, int) or isinstance(value, bool):
                self.fail(
                    "invalid.value", path, f"Value [{value}] is not valid for field type [integer]", entity
                )
            return value
        if not isinstance(value, str):
            self.fail("invalid.value", path, f"Value [{value}] is not valid for field type [string]", entity)
            return value
        if prop.enum:
            return self.check_enum(value, prop, path, entity)
        if prop.date_time and not is_date_time(value):
            self.fail(
                "invalid.date",
                path,
                "Dates must be specified as ISO-8601 strings. For example: yyyy-MM-ddTHH:mm:ss.SSSZ",
                entity,
            )
        return value

    def check_enum(self, value: str, prop: Field, path: str, entity: str) -> str:
        if value in prop.enum:
            return value
        if prop.enum_name in self.case_insensitive_enums:
            for allowed in prop.enum:
                if allowed.lower() == value.lower():
                    return allowed
        self.fail(
            "invalid.value",
            path,
            f"Value [{value}] is not valid for field type [{prop.enum_name}]. Allowable values are: "
            + ", ".join(prop.enum),
            entity,
        )
        return value


def is_date_time(value: str) -> bool:
    """An ISO-8601 date and time with a zone, as Genesys requires (yyyy-MM-ddTHH:mm:ss[.SSS]Z)."""
    if "T" not in value:
        return False
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return False
    return parsed.tzinfo is not None


def validate(
    body: Any, schema: ObjectSchema, *, case_insensitive_enums: tuple[str, ...] = ()
) -> tuple[dict[str, Any], list[Violation]]:
    """Check `body` against `schema`: (copy without read-only fields and with canonical enums, violations)."""
    checker = _Checker(case_insensitive_enums)
    result = checker.check_object(body, schema, "")
    return result, checker.violations
