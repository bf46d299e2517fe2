"""Typed Genesys Cloud models, field for field as published in the Platform API swagger.

Every model is a frozen dataclass. `to_json()` gives the exact published field names (camelCase, `from`,
`OAuthClient`), leaves out what is None and writes enums as their published strings. `from_json()` ignores
fields it does not know (Genesys adds fields) and raises `MalformedPayload` when a required field is
missing or has the wrong type. Enum fields of answers are typed `SomeEnum | str`: Genesys extends its
enums, and an unknown value on input must not break Ferry, so it is kept as the raw string.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum, StrEnum
from typing import Any, ClassVar, Self


class MalformedPayload(ValueError):
    """A JSON document does not have the shape of the Genesys model it is read as."""


class WebhookPayloadError(MalformedPayload):
    """An outbound-webhook body from Genesys is not a message Ferry can process."""


# -- enums (values are the published strings) -----------------------------------------------------


class IdType(StrEnum):
    EMAIL = "Email"
    PHONE = "Phone"
    OPAQUE = "Opaque"


class MediaType(StrEnum):
    IMAGE = "Image"
    VIDEO = "Video"
    AUDIO = "Audio"
    FILE = "File"
    LINK = "Link"


class ContentType(StrEnum):
    ATTACHMENT = "Attachment"


class Platform(StrEnum):
    OPEN = "Open"


class ChannelType(StrEnum):
    PRIVATE = "Private"


class ChannelSubType(StrEnum):
    NONE = "None"
    GOOGLE_BUSINESS_PROFILE = "GoogleBusinessProfile"
    ROADSIDE_ASSISTANCE = "RoadsideAssistance"
    YOUTUBE = "YouTube"


class MessageType(StrEnum):
    """`OpenMessageNormalizedMessage.type`."""

    TEXT = "Text"


STRUCTURED = "Structured"


class NormalizedMessageType(StrEnum):
    """`type` of a webhook message (`OpenNormalizedMessage` and `OpenEventNormalizedMessage`)."""

    TEXT = "Text"
    RECEIPT = "Receipt"
    EVENT = "Event"


class ReceiptStatus(StrEnum):
    """Status of a receipt Ferry sends (`OpenInboundNormalizedReceipt.status`)."""

    SENT = "Sent"
    DELIVERED = "Delivered"
    FAILED = "Failed"
    PUBLISHED = "Published"
    REMOVED = "Removed"


class MessageStatus(StrEnum):
    """Status of a message Genesys reports (`OpenNormalizedMessage.status`)."""

    SENT = "Sent"
    DELIVERED = "Delivered"
    READ = "Read"
    FAILED = "Failed"
    PUBLISHED = "Published"
    REMOVED = "Removed"


class ReasonCode(StrEnum):
    MESSAGE_EXPIRED = "MessageExpired"
    RATE_LIMITED = "RateLimited"
    MESSAGE_NOT_ALLOWED = "MessageNotAllowed"
    GENERAL_ERROR = "GeneralError"
    UNSUPPORTED_MESSAGE = "UnsupportedMessage"
    UNKNOWN_MESSAGE = "UnknownMessage"
    INVALID_MESSAGE_STRUCTURE = "InvalidMessageStructure"
    INVALID_DESTINATION = "InvalidDestination"
    SERVER_ERROR = "ServerError"
    MEDIA_TYPE_NOT_ALLOWED = "MediaTypeNotAllowed"
    INVALID_MEDIA_CONTENT_LENGTH = "InvalidMediaContentLength"
    RECIPIENT_OPTED_OUT = "RecipientOptedOut"
    DATA_FILTERED = "DataFiltered"


class Direction(StrEnum):
    INBOUND = "Inbound"
    OUTBOUND = "Outbound"


class OriginatingEntity(StrEnum):
    HUMAN = "Human"
    BOT = "Bot"


class EventType(StrEnum):
    TYPING = "Typing"


class TypingType(StrEnum):
    ON = "On"


class AccountState(StrEnum):
    """`UserMe.state` and `Organization.state`."""

    ACTIVE = "active"
    INACTIVE = "inactive"
    DELETED = "deleted"


class ProductPlatform(StrEnum):
    GENESYS_CLOUD = "GenesysCloud"
    PURE_CLOUD = "PureCloud"
    PURE_ENGAGE = "PureEngage"
    PURE_ENGAGE_CLOUD = "PureEngageCloud"
    PURE_CONNECT = "PureConnect"
    PURE_CONNECT_CLOUD = "PureConnectCloud"
    UNKNOWN = "Unknown"


class GrantType(StrEnum):
    CODE = "CODE"
    TOKEN = "TOKEN"  # noqa: S105 - a grant type's name, not a secret
    SAML2_BEARER = "SAML2-BEARER"
    PASSWORD = "PASSWORD"  # noqa: S105 - a grant type's name, not a secret
    CLIENT_CREDENTIALS = "CLIENT-CREDENTIALS"


class OAuthClientState(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"
    INACTIVE = "inactive"


class ParticipantState(StrEnum):
    ALERTING = "alerting"
    DIALING = "dialing"
    CONTACTING = "contacting"
    OFFERING = "offering"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    TERMINATED = "terminated"
    CONVERTING = "converting"
    UPLOADING = "uploading"
    TRANSMITTING = "transmitting"
    PARKED = "parked"
    NONE = "none"


class ParticipantDirection(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class MessengerType(StrEnum):
    """`MessageMediaParticipant.type`: the messaging channel; Open Messaging is `open`."""

    APPLE = "apple"
    FACEBOOK = "facebook"
    INSTAGRAM = "instagram"
    KAKAO = "kakao"
    LINE = "line"
    OPEN = "open"
    SMS = "sms"
    TELEGRAM = "telegram"
    TWITTER = "twitter"
    WEBMESSAGING = "webmessaging"
    WHATSAPP = "whatsapp"
    UNKNOWN = "unknown"


class CreateStatus(StrEnum):
    INITIATED = "Initiated"
    COMPLETED = "Completed"
    ERROR = "Error"


# -- the JSON codec -------------------------------------------------------------------------------


# JSON names that are not the camelCase of the Python field name.
FROM = {"json": "from"}
OAUTH_CLIENT = {"json": "OAuthClient"}


class GenesysModel:
    """Base of every model: JSON in and out with the published field names."""

    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]

    def to_json(self) -> dict[str, Any]:
        """The published JSON form: camelCase names, None left out, enums as strings, UTC times."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is not None:
                out[json_field_name(f)] = _encode(value)
        return out

    @classmethod
    def from_json(cls, data: object) -> Self:
        """Read a JSON object, ignoring unknown fields; `MalformedPayload` names the first bad field."""
        decoded: Self = _decode_model(cls, data, cls.__name__)
        return decoded


def json_field_name(f: dataclasses.Field[Any]) -> str:
    """The published JSON name of a model field: camelCase of its name, or the explicit one (`from`)."""
    explicit = f.metadata.get("json")
    if explicit:
        return str(explicit)
    head, *rest = f.name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def format_time(value: datetime) -> str:
    """Genesys's date-time form: `yyyy-MM-ddTHH:mm:ss.mmmZ` in UTC."""
    if value.tzinfo is None:
        raise ValueError("Genesys times must be timezone-aware")
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _encode(value: Any) -> Any:
    if isinstance(value, GenesysModel):
        return value.to_json()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    return value


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _decode_model(cls: type[Any], data: object, path: str) -> Any:
    if not isinstance(data, dict):
        raise MalformedPayload(f"{path}: expected an object, got {_kind(data)}")
    hints = _hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        key = json_field_name(f)
        raw = data.get(key)
        if raw is None:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise MalformedPayload(f"{path}.{key}: required field is missing")
            continue
        values[f.name] = _decode(hints[f.name], raw, f"{path}.{key}")
    return cls(**values)


def _decode(tp: Any, value: object, path: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        problems = []
        for option in typing.get_args(tp):
            if option is type(None):
                continue
            try:
                return _decode(option, value, path)
            except MalformedPayload as exc:
                problems.append(str(exc))
        if len(problems) == 1:
            raise MalformedPayload(problems[0])
        raise MalformedPayload(f"{path}: {_kind(value)} fits no allowed type")
    if origin is list:
        if not isinstance(value, list):
            raise MalformedPayload(f"{path}: expected an array, got {_kind(value)}")
        (item,) = typing.get_args(tp)
        return [_decode(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise MalformedPayload(f"{path}: expected an object, got {_kind(value)}")
        _, item = typing.get_args(tp)
        return {str(k): _decode(item, v, f"{path}.{k}") for k, v in value.items()}
    if tp is Any:
        return value
    if isinstance(tp, type) and issubclass(tp, Enum):
        try:
            return tp(value)
        except ValueError:
            allowed = ", ".join(str(m.value) for m in tp)
            raise MalformedPayload(f"{path}: {value!r} is not one of {allowed}") from None
    if isinstance(tp, type) and issubclass(tp, GenesysModel):
        return _decode_model(tp, value, path)
    if tp is datetime:
        return _decode_time(value, path)
    if tp is bool and isinstance(value, bool):
        return value
    if tp is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if tp is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if tp is str and isinstance(value, str):
        return value
    raise MalformedPayload(f"{path}: expected {getattr(tp, '__name__', tp)}, got {_kind(value)}")


def _decode_time(value: object, path: str) -> datetime:
    if not isinstance(value, str):
        raise MalformedPayload(f"{path}: expected a date-time string, got {_kind(value)}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise MalformedPayload(f"{path}: {value!r} is not an ISO 8601 date-time") from None
    # Genesys always writes UTC with a `Z`; a bare time is read the same way rather than as local time.
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _kind(value: object) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), type(value).__name__
    )


# -- common ---------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class NamedEntity(GenesysModel):
    id: str | None = None
    name: str | None = None


@dataclass(frozen=True, kw_only=True)
class Entity(GenesysModel):
    id: str | None = None


@dataclass(frozen=True, kw_only=True)
class DomainEntityRef(GenesysModel):
    id: str | None = None
    name: str | None = None
    self_uri: str | None = None


@dataclass(frozen=True, kw_only=True)
class Detail(GenesysModel):
    error_code: str | None = None
    field_name: str | None = None
    entity_id: str | None = None
    entity_name: str | None = None


@dataclass(frozen=True, kw_only=True)
class ErrorBody(GenesysModel):
    """Genesys's error document (also `OpenIntegration.createError`)."""

    message: str | None = None
    code: str | None = None
    status: int | None = None
    entity_id: str | None = None
    entity_name: str | None = None
    message_with_params: str | None = None
    message_params: dict[str, str] | None = None
    context_id: str | None = None
    details: list[Detail] | None = None
    errors: list[ErrorBody] | None = None


# -- open messaging: what Ferry sends --------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class OpenMessagingFromRecipient(GenesysModel):
    """The customer as Ferry introduces them; `id` is the identity Genesys threads the conversation on."""

    id: str
    id_type: IdType
    nickname: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    image: str | None = None
    email: str | None = None


@dataclass(frozen=True, kw_only=True)
class OpenMessagingToRecipient(GenesysModel):
    id: str
    id_type: IdType | str | None = None
    nickname: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    image: str | None = None
    email: str | None = None


@dataclass(frozen=True, kw_only=True)
class ConversationChannelMetadata(GenesysModel):
    sub_type: ChannelSubType | str | None = None


@dataclass(frozen=True, kw_only=True)
class OpenInboundMessageMessagingChannel(GenesysModel):
    """`messageId` is Ferry's own id for the message, which Genesys deduplicates on."""

    from_: OpenMessagingFromRecipient = field(metadata=FROM)
    time: datetime
    message_id: str | None = None
    metadata: ConversationChannelMetadata | None = None


@dataclass(frozen=True, kw_only=True)
class OpenContentAttachment(GenesysModel):
    media_type: MediaType
    mime: str
    url: str
    id: str | None = None
    text: str | None = None
    sha256: str | None = None
    filename: str | None = None


@dataclass(frozen=True, kw_only=True)
class OpenInboundMessageContent(GenesysModel):
    """An inbound content element: only `attachment` (no `contentType`, unlike outbound content)."""

    attachment: OpenContentAttachment | None = None


@dataclass(frozen=True, kw_only=True)
class OpenInboundNormalizedMessage(GenesysModel):
    channel: OpenInboundMessageMessagingChannel
    text: str | None = None
    content: list[OpenInboundMessageContent] | None = None
    metadata: dict[str, str] | None = None


@dataclass(frozen=True, kw_only=True)
class ConversationReason(GenesysModel):
    message: str
    code: ReasonCode | str | None = None


@dataclass(frozen=True, kw_only=True)
class OpenInboundMessagingReceiptChannel(GenesysModel):
    to: OpenMessagingToRecipient
    time: datetime


@dataclass(frozen=True, kw_only=True)
class OpenInboundNormalizedReceipt(GenesysModel):
    """A receipt for an agent's message; `id` is the Genesys message id from the webhook."""

    id: str
    channel: OpenInboundMessagingReceiptChannel
    status: ReceiptStatus
    reasons: list[ConversationReason] | None = None
    is_final_receipt: bool | None = None


@dataclass(frozen=True, kw_only=True)
class OpenInboundMessagingChannel(GenesysModel):
    from_: OpenMessagingFromRecipient = field(metadata=FROM)
    time: datetime


@dataclass(frozen=True, kw_only=True)
class OpenEvent(GenesysModel):
    """An inbound event: the published schema has only `eventType` (no `typing` object, unlike outbound)."""

    event_type: EventType


@dataclass(frozen=True, kw_only=True)
class OpenInboundNormalizedEvent(GenesysModel):
    channel: OpenInboundMessagingChannel
    events: list[OpenEvent]


# -- open messaging: what Genesys answers and sends to the webhook ----------------------------------


@dataclass(frozen=True, kw_only=True)
class OpenMessagingChannel(GenesysModel):
    """The channel of an answer or webhook message.

    The published `from` is an `OpenMessagingFromRecipient` (`idType` required); a sender without `idType`
    is still read, as the looser recipient shape, because Ferry never needs it and must not refuse a
    message over it.
    """

    id: str | None = None
    platform: Platform | str | None = None
    type: ChannelType | str | None = None
    message_id: str | None = None
    to: OpenMessagingToRecipient | None = None
    from_: OpenMessagingFromRecipient | OpenMessagingToRecipient | None = field(default=None, metadata=FROM)
    time: datetime | None = None
    metadata: ConversationChannelMetadata | None = None


@dataclass(frozen=True, kw_only=True)
class ConversationContentAttachment(GenesysModel):
    media_type: MediaType | str
    id: str | None = None
    url: str | None = None
    mime: str | None = None
    text: str | None = None
    sha256: str | None = None
    filename: str | None = None
    content_size_bytes: int | None = None


@dataclass(frozen=True, kw_only=True)
class ConversationContentQuickReply(GenesysModel):
    """A quick reply of a bot's structured message: pressing it answers `text` and `payload`."""

    text: str
    payload: str
    image: str | None = None
    action: str | None = None
    summary_text: str | None = None


@dataclass(frozen=True, kw_only=True)
class ConversationContentCardAction(GenesysModel):
    type: str | None = None  # Link | Postback | Unknown
    text: str | None = None
    payload: str | None = None
    url: str | None = None


@dataclass(frozen=True, kw_only=True)
class ConversationContentCard(GenesysModel):
    title: str
    actions: list[ConversationContentCardAction]
    description: str | None = None
    image: str | None = None


@dataclass(frozen=True, kw_only=True)
class OpenMessageContent(GenesysModel):
    """A content element of an outbound message. The swagger's OpenMessageContent lists only Attachment;
    a bot's quick replies and cards arrive in the shape of ConversationMessageContent (UNSURE)."""

    content_type: ContentType | str
    attachment: ConversationContentAttachment | None = None
    quick_reply: ConversationContentQuickReply | None = None
    card: ConversationContentCard | None = None


@dataclass(frozen=True, kw_only=True)
class ContentButtonResponse(GenesysModel):
    """What the customer pressed: a quick reply (type QuickReply) or a card's button (type Button)."""

    type: str
    text: str
    payload: str


@dataclass(frozen=True, kw_only=True)
class OpenInboundStructuredResponseMessage(GenesysModel):
    """The customer's answer to a structured message (`originating_message_id`: Genesys's id of it)."""

    channel: OpenInboundMessageMessagingChannel
    button_response: ContentButtonResponse
    originating_message_id: str


@dataclass(frozen=True, kw_only=True)
class OpenMessageNormalizedMessage(GenesysModel):
    """Genesys's answer to an inbound message: its own message `id` and (when prefetched) `conversationId`."""

    channel: OpenMessagingChannel
    type: MessageType | str
    id: str | None = None
    text: str | None = None
    content: list[OpenMessageContent] | None = None
    metadata: dict[str, str] | None = None
    conversation_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class OpenReceiptNormalizedMessage(GenesysModel):
    """Genesys's answer to an inbound receipt."""

    id: str | None = None
    channel: OpenMessagingChannel | None = None
    type: str | None = None  # always "Receipt"
    status: ReceiptStatus | str | None = None
    reasons: list[ConversationReason] | None = None
    is_final_receipt: bool | None = None
    direction: Direction | str | None = None


@dataclass(frozen=True, kw_only=True)
class ConversationEventTyping(GenesysModel):
    type: TypingType | str
    duration: int | None = None


@dataclass(frozen=True, kw_only=True)
class OpenMessageEvent(GenesysModel):
    event_type: EventType | str
    typing: ConversationEventTyping | None = None


@dataclass(frozen=True, kw_only=True)
class OpenEventNormalizedMessage(GenesysModel):
    """Genesys's answer to an inbound event."""

    id: str | None = None
    channel: OpenMessagingChannel | None = None
    type: str | None = None  # always "Event"
    events: list[OpenMessageEvent] | None = None


class WebhookKind(StrEnum):
    """What Ferry does with a webhook message."""

    TEXT = "text"  # an agent's message (text and/or attachments) for the customer
    RECEIPT = "receipt"  # the fate of a message Ferry sent
    TYPING = "typing"  # the agent is typing
    OTHER = "other"  # well formed, but nothing Ferry acts on (a future type or event)


@dataclass(frozen=True, kw_only=True)
class WebhookMessage(GenesysModel):
    """What Genesys POSTs to the integration's outbound webhook (the Open NormalizedMessage format)."""

    id: str
    channel: OpenMessagingChannel
    type: NormalizedMessageType | str
    text: str | None = None
    content: list[OpenMessageContent] | None = None
    status: MessageStatus | str | None = None
    reasons: list[ConversationReason] | None = None
    is_final_receipt: bool | None = None
    direction: Direction | str | None = None
    metadata: dict[str, str] | None = None
    originating_entity: OriginatingEntity | str | None = None
    events: list[OpenMessageEvent] | None = None
    # As in OpenMessageNormalizedMessage: webhook bodies carry their conversation at the top.
    conversation_id: str | None = None

    @property
    def kind(self) -> WebhookKind:
        """Text, receipt, typing or other."""
        # A bot's quick replies may come as "Structured", which the swagger does not list (UNSURE).
        if self.type in (NormalizedMessageType.TEXT, STRUCTURED):
            return WebhookKind.TEXT
        if self.type == NormalizedMessageType.RECEIPT:
            return WebhookKind.RECEIPT
        if self.type == NormalizedMessageType.EVENT and any(
            e.event_type == EventType.TYPING for e in self.events or []
        ):
            return WebhookKind.TYPING
        return WebhookKind.OTHER

    @property
    def attachments(self) -> list[ConversationContentAttachment]:
        """The attachments of a text message, in order."""
        return [c.attachment for c in self.content or [] if c.attachment is not None]

    @property
    def typing_duration_ms(self) -> int | None:
        """How long the typing indicator should show, when Genesys says."""
        for event in self.events or []:
            if event.event_type == EventType.TYPING and event.typing is not None:
                return event.typing.duration
        return None


def parse_webhook(payload: object) -> WebhookMessage:
    """Read and classify a webhook body; `WebhookPayloadError` says what is wrong with a malformed one."""
    try:
        message = WebhookMessage.from_json(payload)
    except MalformedPayload as exc:
        raise WebhookPayloadError(f"malformed webhook payload: {exc}") from None
    # `id` and `channel.time` together identify a message (Genesys's rule), so redeliveries can be spotted.
    if message.channel.time is None:
        raise WebhookPayloadError("malformed webhook payload: WebhookMessage.channel.time is missing")
    kind = message.kind
    if kind in (WebhookKind.TEXT, WebhookKind.TYPING) and message.channel.to is None:
        raise WebhookPayloadError(
            f"malformed webhook payload: a {message.type} message needs channel.to (the customer it is for)"
        )
    if kind is WebhookKind.RECEIPT and message.status is None:
        raise WebhookPayloadError("malformed webhook payload: a Receipt needs a status")
    return message


# -- users, tokens, organizations ------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DomainRole(GenesysModel):
    id: str | None = None
    name: str | None = None


@dataclass(frozen=True, kw_only=True)
class UserAuthorization(GenesysModel):
    roles: list[DomainRole] | None = None
    unused_roles: list[DomainRole] | None = None
    permissions: list[str] | None = None


@dataclass(frozen=True, kw_only=True)
class Organization(GenesysModel):
    id: str
    name: str | None = None
    third_party_org_name: str | None = None
    domain: str | None = None
    state: AccountState | str | None = None
    product_platform: ProductPlatform | str | None = None
    version: int | None = None
    self_uri: str | None = None


@dataclass(frozen=True, kw_only=True)
class UserMe(GenesysModel):
    """The signed-in user (`GET /api/v2/users/me`); `authorization` and `organization` need their expand."""

    id: str
    name: str | None = None
    email: str | None = None
    username: str | None = None
    state: AccountState | str | None = None
    version: int | None = None
    organization: Organization | None = None
    authorization: UserAuthorization | None = None
    self_uri: str | None = None


@dataclass(frozen=True, kw_only=True)
class TokenInfoClonedUser(GenesysModel):
    id: str | None = None
    organization: Entity | None = None


@dataclass(frozen=True, kw_only=True)
class OrgOAuthClient(GenesysModel):
    id: str | None = None
    name: str | None = None
    authorized_grant_type: GrantType | str | None = None
    scope: list[str] | None = None
    state: OAuthClientState | str | None = None
    organization: NamedEntity | None = None


@dataclass(frozen=True, kw_only=True)
class TokenInfo(GenesysModel):
    """What a token is (`GET /api/v2/tokens/me`): its organization, client and scopes."""

    organization: NamedEntity | None = None
    home_organization: NamedEntity | None = None
    authorized_scope: list[str] | None = None
    cloned_user: TokenInfoClonedUser | None = None
    date_token_idles: datetime | None = None
    oauth_client: OrgOAuthClient | None = field(default=None, metadata=OAUTH_CLIENT)


# -- conversations ----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Address(GenesysModel):
    name: str | None = None
    name_raw: str | None = None
    address_normalized: str | None = None
    address_raw: str | None = None
    address_displayable: str | None = None


@dataclass(frozen=True, kw_only=True)
class MessageDetails(GenesysModel):
    """One message of a participant, by Genesys's id (its content is fetched with the bulk call)."""

    message_id: str | None = None
    message_status: str | None = None
    message_time: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class MessageMediaParticipant(GenesysModel):
    """A participant of a message conversation; agents have `purpose` "agent" and a `user`."""

    id: str | None = None
    name: str | None = None
    address: str | None = None
    start_time: datetime | None = None
    connected_time: datetime | None = None
    end_time: datetime | None = None
    purpose: str | None = None
    state: ParticipantState | str | None = None
    direction: ParticipantDirection | str | None = None
    # Published as a long enum that Genesys keeps extending; kept as text.
    disconnect_type: str | None = None
    held: bool | None = None
    user: DomainEntityRef | None = None
    queue: DomainEntityRef | None = None
    team: DomainEntityRef | None = None
    attributes: dict[str, str] | None = None
    to_address: Address | None = None
    from_address: Address | None = None
    type: MessengerType | str | None = None
    authenticated: bool | None = None
    messages: list[MessageDetails] | None = None


@dataclass(frozen=True, kw_only=True)
class MessageConversation(GenesysModel):
    id: str
    name: str | None = None
    participants: list[MessageMediaParticipant] | None = None
    self_uri: str | None = None


@dataclass(frozen=True, kw_only=True)
class ConversationMessagingChannel(GenesysModel):
    """The channel of a stored message; `message_id` is the `channel.messageId` its sender gave."""

    id: str | None = None
    message_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class ConversationNormalizedMessage(GenesysModel):
    type: str
    id: str | None = None
    channel: ConversationMessagingChannel | None = None


@dataclass(frozen=True, kw_only=True)
class MessageData(GenesysModel):
    """A stored message, as the bulk call answers it."""

    id: str | None = None
    provider_message_id: str | None = None
    timestamp: datetime | None = None
    status: str | None = None
    text_body: str | None = None  # left out with useNormalizedMessage
    direction: str | None = None
    conversation_id: str | None = None
    normalized_message: ConversationNormalizedMessage | None = None


@dataclass(frozen=True, kw_only=True)
class TextMessageListing(GenesysModel):
    entities: list[MessageData] | None = None


# -- open messaging integrations --------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SupportedContentReference(GenesysModel):
    id: str
    name: str | None = None
    self_uri: str | None = None


@dataclass(frozen=True, kw_only=True)
class MessagingSettingRequestReference(GenesysModel):
    id: str


@dataclass(frozen=True, kw_only=True)
class MessagingSettingReference(GenesysModel):
    id: str
    name: str | None = None
    self_uri: str | None = None


WEBHOOK_SECRET_MIN_LENGTH = 16  # "This token must be longer than 15 characters."


@dataclass(frozen=True, kw_only=True)
class OpenIntegrationRequest(GenesysModel):
    name: str
    outbound_notification_webhook_url: str
    outbound_notification_webhook_signature_secret_token: str = field(repr=False)
    supported_content: SupportedContentReference | None = None
    messaging_setting: MessagingSettingRequestReference | None = None
    # Static headers Genesys adds to each webhook call; they may carry a shared secret.
    webhook_headers: dict[str, str] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if len(self.outbound_notification_webhook_signature_secret_token) < WEBHOOK_SECRET_MIN_LENGTH:
            raise ValueError(
                f"the webhook signature secret must be at least {WEBHOOK_SECRET_MIN_LENGTH} characters long"
            )


@dataclass(frozen=True, kw_only=True)
class OpenIntegration(GenesysModel):
    """An Open Messaging integration; creation is asynchronous (`createStatus`)."""

    id: str
    name: str | None = None
    supported_content: SupportedContentReference | None = None
    messaging_setting: MessagingSettingReference | None = None
    outbound_notification_webhook_url: str | None = None
    outbound_notification_webhook_signature_secret_token: str | None = field(default=None, repr=False)
    webhook_headers: dict[str, str] | None = field(default=None, repr=False)
    status: str | None = None
    recipient: DomainEntityRef | None = None
    date_created: datetime | None = None
    date_modified: datetime | None = None
    created_by: DomainEntityRef | None = None
    modified_by: DomainEntityRef | None = None
    create_status: CreateStatus | str | None = None
    create_error: ErrorBody | None = None
    self_uri: str | None = None


@dataclass(frozen=True, kw_only=True)
class OpenIntegrationEntityListing(GenesysModel):
    entities: list[OpenIntegration] | None = None
    page_size: int | None = None
    page_number: int | None = None
    total: int | None = None
    page_count: int | None = None
    next_uri: str | None = None
    self_uri: str | None = None
