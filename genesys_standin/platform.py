"""What Genesys Cloud does with messages: conversations per customer, inbound ingestion (attachment fetch,
receipts), agent replies and typing to the webhook, and the JSON shapes the API answers with."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from genesys_standin.attachments import fetch
from genesys_standin.errors import ApiError
from genesys_standin.settings import StandinSettings
from genesys_standin.state import (
    DEFAULT_PROFILE_ID,
    ContentProfile,
    Conversation,
    Integration,
    Message,
    Participant,
    StandinState,
    StoredAttachment,
    Token,
    User,
    iso,
    new_id,
    new_message_id,
    role_id,
    utc_now,
)
from genesys_standin.webhooks import Delivery, Dispatcher, build_delivery

log = logging.getLogger("genesys_standin.platform")

OPEN_CHANNEL = {"platform": "Open", "type": "Private"}
DIVISION_ID = "5a0c0ffe-d1f1-4000-8000-000000000000"


@dataclass(frozen=True)
class AgentFile:
    """A file an agent attaches to a reply."""

    filename: str
    mime: str
    data: bytes


def media_type_for(mime: str) -> str:
    """The attachment `mediaType` for a MIME type."""
    major = mime.split("/", 1)[0].lower()
    return {"image": "Image", "video": "Video", "audio": "Audio"}.get(major, "File")


def hosted_path(media_id: str) -> str:
    """Where the stand-in serves a Genesys-hosted copy."""
    return f"/api/v2/downloads/{media_id}"


class Platform:
    """The stand-in's behaviour on top of its state; safe to call from any thread."""

    def __init__(self, settings: StandinSettings) -> None:
        self.settings = settings
        self.state = StandinState(settings)
        self.dispatcher = Dispatcher(settings, on_failed=self._delivery_failed)
        self.deliveries: list[Delivery] = []

    def reset(self) -> None:
        """Forget everything, including webhook deliveries."""
        with self.state.lock:
            self.state.reset()
            self.deliveries.clear()

    def close(self) -> None:
        """Stop the background delivery threads."""
        self.dispatcher.close()

    # -- integrations -----------------------------------------------------------------------------

    def profile(self, integration: Integration) -> ContentProfile:
        """The supported-content profile of an integration (the default one when it was deleted)."""
        with self.state.lock:
            return (
                self.state.profiles.get(integration.supported_content_id)
                or self.state.profiles[DEFAULT_PROFILE_ID]
            )

    def integration(self, integration_id: str, org_id: str) -> Integration:
        """An integration of the caller's organization.

        :raise ApiError: 404 when there is none.
        """
        with self.state.lock:
            integration = self.state.integrations.get(integration_id)
            if integration is None or integration.org_id != org_id:
                raise ApiError(404, "not.found", f"Open messaging integration {integration_id} was not found")
            return integration

    def integration_resource(
        self, integration: Integration, base_url: str, expand: set[str]
    ) -> dict[str, Any]:
        """As an `OpenIntegration`."""
        profile = self.profile(integration)
        supported: dict[str, Any] = {
            "id": profile.id,
            "name": profile.name,
            "selfUri": f"{base_url}/api/v2/conversations/messaging/supportedcontent/{profile.id}",
        }
        if "supportedContent" in expand:
            supported["mediaTypes"] = profile_media_types(profile)
        resource: dict[str, Any] = {
            "id": integration.id,
            "name": integration.name,
            "supportedContent": supported,
            "outboundNotificationWebhookUrl": integration.webhook_url,
            # The secret is write-only in practice; answer a mask rather than echo it.
            "outboundNotificationWebhookSignatureSecretToken": "*" * 8,
            "webhookHeaders": dict(integration.webhook_headers),
            "status": "Active",
            "dateCreated": iso(integration.created),
            "dateModified": iso(integration.modified),
            "createStatus": integration.create_status,
            "selfUri": f"{base_url}/api/v2/conversations/messaging/integrations/open/{integration.id}",
        }
        if integration.messaging_setting_id:
            resource["messagingSetting"] = {"id": integration.messaging_setting_id}
        if integration.created_by:
            resource["createdBy"] = dict(integration.created_by)
            resource["modifiedBy"] = dict(integration.created_by)
        return resource

    # -- inbound ----------------------------------------------------------------------------------

    def receive_message(
        self,
        integration: Integration,
        body: dict[str, Any],
        *,
        prefetch: bool,
        base_url: str,
        text: str | None = None,
    ) -> dict[str, Any]:
        """Ingest an inbound message (deduplicated by channel.messageId) → `OpenMessageNormalizedMessage`."""
        channel = body["channel"]
        provider_id = channel.get("messageId")
        with self.state.lock:
            deduplicate = provider_id and self.settings.deduplicate_messages
            known = self.state.dedup.get((integration.id, provider_id)) if deduplicate else None
            if known is not None:
                message = self.state.messages[known]
            else:
                conversation = self._conversation_for(integration, channel["from"])
                message = Message(
                    id=new_message_id(),
                    conversation_id=conversation.id,
                    direction="Inbound",
                    time=utc_now(),
                    text=body.get("text") if text is None else text,
                    attachments=[_stored_attachment(c["attachment"]) for c in body.get("content", [])],
                    payload=body,
                    provider_message_id=provider_id,
                )
                conversation.messages.append(message)
                conversation.customer_participant().message_ids.append(message.id)
                self.state.messages[message.id] = message
                if provider_id:
                    self.state.dedup[(integration.id, provider_id)] = message.id
                self.dispatcher.submit(conversation.id, lambda: self._ingest(integration, message, base_url))
            return self._message_answer(integration, message, prefetch)

    def receive_structured_response(
        self, integration: Integration, body: dict[str, Any], *, base_url: str
    ) -> dict[str, Any]:
        """The customer's press of a button: a message (its text the button's) answering an outbound one.

        :raise ApiError: 400 when `originatingMessageId` is not an outbound message of this integration.
        """
        with self.state.lock:
            answered = self.state.messages.get(body["originatingMessageId"])
            conversation = self.state.conversations.get(answered.conversation_id) if answered else None
            if (
                answered is None
                or answered.direction != "Outbound"
                or conversation is None
                or (conversation.integration_id != integration.id)
            ):
                raise ApiError(
                    400, "bad.request", "originatingMessageId is not a message sent to this customer"
                )
        return self.receive_message(
            integration, body, prefetch=True, base_url=base_url, text=body["buttonResponse"]["text"]
        )

    def _conversation_for(self, integration: Integration, sender: dict[str, str]) -> Conversation:
        """The open conversation of this customer on this integration, or a new one."""
        for conversation in self.state.conversations.values():
            if (
                conversation.integration_id == integration.id
                and conversation.customer["id"] == sender["id"]
                and conversation.ended is None
            ):
                return conversation
        now = utc_now()
        name = sender.get("nickname") or " ".join(
            p for p in (sender.get("firstName"), sender.get("lastName")) if p
        )
        customer = Participant(
            id=new_id(),
            purpose="customer",
            name=name or sender["id"],
            address=sender["id"],
            state="connected",
            start_time=now,
            connected_time=now,
        )
        conversation = Conversation(new_id(), integration.id, integration.org_id, dict(sender), [customer])
        self.state.conversations[conversation.id] = conversation
        return conversation

    def _message_answer(self, integration: Integration, message: Message, prefetch: bool) -> dict[str, Any]:
        channel = message.payload["channel"]
        answer_channel: dict[str, Any] = {
            "id": integration.id,
            **OPEN_CHANNEL,
            "to": {"id": integration.id},
            "from": channel["from"],
            "time": channel["time"],
        }
        if message.provider_message_id:
            answer_channel["messageId"] = message.provider_message_id
        answer: dict[str, Any] = {"id": message.id, "channel": answer_channel, "type": "Text"}
        if message.text is not None:
            answer["text"] = message.text
        if "content" in message.payload:
            answer["content"] = [
                {"contentType": "Attachment", "attachment": c["attachment"]}
                for c in message.payload["content"]
            ]
        if "metadata" in message.payload:
            answer["metadata"] = message.payload["metadata"]
        if prefetch or self.settings.conversation_id_without_prefetch:
            answer["conversationId"] = message.conversation_id
        return answer

    def _ingest(self, integration: Integration, message: Message, base_url: str) -> None:
        """Check and fetch the attachments, then tell the webhook: Delivered, or Failed with the reasons."""
        profile = self.profile(integration)
        settings = self.settings
        for attachment in message.attachments:
            if not profile.allows("inbound", attachment.mime):
                attachment.status = "failed"
                attachment.failure_code = "MediaTypeNotAllowed"
                attachment.failure_message = (
                    f"Media type {attachment.mime} is not allowed for inbound messages"
                )
                continue
            if not settings.fetch_attachments:
                attachment.status = "delivered"
                continue
            fetched = fetch(
                attachment.url,
                max_bytes=settings.max_attachment_bytes,
                timeout=settings.attachment_fetch_timeout_seconds,
            )
            if fetched.data is None:
                attachment.status = "failed"
                attachment.failure_code = fetched.failure_code
                attachment.failure_message = fetched.failure_message
                continue
            attachment.status, attachment.size, attachment.sha256 = "delivered", fetched.size, fetched.sha256
            if settings.rehost_attachments:
                self.state.store_media(
                    attachment.media_id, attachment.mime, attachment.filename, fetched.data
                )
                attachment.hosted = True
        reasons = [
            {"code": a.failure_code, "message": a.failure_message or ""}
            for a in message.attachments
            if a.status == "failed"
        ]
        message.status = "failed" if reasons else "delivered"
        with self.state.lock:
            conversation = self.state.conversations.get(message.conversation_id)
            if conversation is None:  # reset meanwhile
                return
            receipt: dict[str, Any] = {
                "id": message.id,
                "channel": self._outbound_channel(
                    integration, conversation, message.provider_message_id, None
                ),
                "type": "Receipt",
                "status": "Failed" if reasons else "Delivered",
                "isFinalReceipt": True,
                "direction": settings.inbound_receipt_direction,
            }
            if reasons:
                receipt["reasons"] = reasons
            message.receipts.append(receipt)
            delivery = self._delivery(integration, conversation.id, "receipt", receipt)
        self.dispatcher.deliver(delivery)

    def receive_receipt(self, integration: Integration, body: dict[str, Any]) -> dict[str, Any]:
        """A receipt from the integration about an outbound message → `OpenReceiptNormalizedMessage`."""
        if body["status"] not in ("Delivered", "Failed"):
            raise ApiError(
                400,
                "constraint.validation",
                "Only Delivered and Failed receipts are supported",
                [{"errorCode": "constraint.validation", "fieldName": "status"}],
            )
        with self.state.lock:
            message = self.state.messages.get(body["id"])
            conversation = self.state.conversations.get(message.conversation_id) if message else None
            if message is None or message.direction != "Outbound" or conversation is None:
                raise ApiError(404, "not.found", f"Outbound message {body['id']} was not found")
            if conversation.integration_id != integration.id:
                raise ApiError(404, "not.found", f"Outbound message {body['id']} was not found")
            message.status = body["status"].lower()
            message.receipts.append(body)
        answer: dict[str, Any] = {
            "id": body["id"],
            "channel": {
                "id": integration.id,
                **OPEN_CHANNEL,
                "to": body["channel"]["to"],
                "from": {"id": integration.id, "idType": "Opaque"},
                "time": body["channel"]["time"],
            },
            "type": "Receipt",
            "status": body["status"],
            "direction": "Outbound",
        }
        for optional in ("reasons", "isFinalReceipt"):
            if optional in body:
                answer[optional] = body[optional]
        return answer

    def receive_event(self, integration: Integration, body: dict[str, Any]) -> dict[str, Any]:
        """A customer event (typing) → `OpenEventNormalizedMessage`; shown in the console."""
        sender = body["channel"]["from"]
        with self.state.lock:
            for conversation in self.state.conversations.values():
                if (
                    conversation.integration_id == integration.id
                    and conversation.customer["id"] == sender["id"]
                    and conversation.ended is None
                ):
                    conversation.customer_typing_at = utc_now()
        return {
            "id": new_message_id(),
            "channel": {
                "id": integration.id,
                **OPEN_CHANNEL,
                "to": {"id": integration.id},
                "from": sender,
                "time": body["channel"]["time"],
            },
            "type": "Event",
            "events": [{"eventType": e["eventType"]} for e in body["events"]],
        }

    # -- agents -----------------------------------------------------------------------------------

    def conversation(self, conversation_id: str, org_id: str | None = None) -> Conversation:
        """A conversation (of `org_id` when given).

        :raise ApiError: 404 when there is none.
        """
        with self.state.lock:
            conversation = self.state.conversations.get(conversation_id)
            if conversation is None or (org_id is not None and conversation.org_id != org_id):
                raise ApiError(404, "not.found", f"Conversation {conversation_id} was not found")
            return conversation

    def user(self, user_id: str) -> User:
        """A user.

        :raise ApiError: 404 when there is none.
        """
        with self.state.lock:
            user = self.state.users.get(user_id)
            if user is None:
                raise ApiError(404, "not.found", f"User {user_id} was not found")
            return user

    def assign(self, conversation_id: str, user_id: str) -> Participant:
        """Make the user an agent participant (connected) of the conversation."""
        with self.state.lock:
            conversation = self.conversation(conversation_id)
            user = self.user(user_id)
            participant = conversation.agent(user_id)
            if participant is not None:
                return participant
            if conversation.ended is not None:
                raise ApiError(409, "request.conflict", "The conversation has ended")
            now = utc_now()
            participant = Participant(
                id=new_id(),
                purpose="agent",
                name=user.name,
                address="",
                state="connected",
                start_time=now,
                connected_time=now,
                user_id=user.id,
            )
            conversation.participants.append(participant)
            return participant

    def disconnect(self, conversation_id: str) -> Conversation:
        """End the conversation; the customer's next message starts a new one."""
        with self.state.lock:
            conversation = self.conversation(conversation_id)
            now = utc_now()
            if conversation.ended is None:
                conversation.ended = now
                for participant in conversation.participants:
                    participant.state = "disconnected"
                    participant.end_time = now
            return conversation

    def agent_reply(
        self,
        conversation_id: str,
        user_id: str,
        text: str,
        files: list[AgentFile],
        base_url: str,
        quick_replies: Sequence[str] = (),
    ) -> Message:
        """An agent's message: joins the agent if needed, stores it, queues the signed webhook POST."""
        with self.state.lock:
            conversation = self.conversation(conversation_id)
            integration = self.state.integrations.get(conversation.integration_id)
            if integration is None:
                raise ApiError(409, "request.conflict", "The conversation's integration was deleted")
            if not text and not files:
                raise ApiError(400, "bad.request", "A reply needs text or an attachment")
            profile = self.profile(integration)
            for file in files:
                if not profile.allows("outbound", file.mime):
                    raise ApiError(
                        400, "bad.request", f"Media type {file.mime} is not allowed for outbound messages"
                    )
            participant = self.assign(conversation_id, user_id)
            user = self.user(user_id)
            attachments: list[StoredAttachment] = []
            for file in files:
                media_id = new_id()
                self.state.store_media(media_id, file.mime, file.filename, file.data)
                attachments.append(
                    StoredAttachment(
                        media_id=media_id,
                        url=base_url + hosted_path(media_id),
                        mime=file.mime,
                        media_type=media_type_for(file.mime),
                        filename=file.filename,
                        status="delivered",
                        size=len(file.data),
                        hosted=True,
                    )
                )
            message_id = new_message_id()
            payload: dict[str, Any] = {
                "id": message_id,
                "channel": self._outbound_channel(integration, conversation, message_id, user),
                "type": "Text",
            }
            if text:
                payload["text"] = text
            # A bot's quick replies, in the shape of ConversationContentQuickReply.
            content: list[dict[str, Any]] = [
                {"contentType": "QuickReply", "quickReply": {"text": q, "payload": q, "action": "Message"}}
                for q in quick_replies
            ]
            content += [
                {
                    "contentType": "Attachment",
                    "attachment": {
                        "id": a.media_id,
                        "mediaType": a.media_type,
                        "url": a.url,
                        "mime": a.mime,
                        "filename": a.filename,
                        "contentSizeBytes": a.size,
                    },
                }
                for a in attachments
            ]
            if content:
                payload["content"] = content
            payload["direction"] = "Outbound"
            payload["originatingEntity"] = "Human"
            message = Message(
                id=message_id,
                conversation_id=conversation.id,
                direction="Outbound",
                time=utc_now(),
                text=text or None,
                attachments=attachments,
                payload=payload,
                user_id=user_id,
                status="queued",
            )
            conversation.messages.append(message)
            participant.message_ids.append(message.id)
            self.state.messages[message.id] = message
            delivery = self._delivery(integration, conversation.id, "message", payload)

        def send() -> None:
            self.dispatcher.deliver(delivery)
            with self.state.lock:
                if message.status == "queued":
                    message.status = "sent" if delivery.status == "delivered" else "failed"

        self.dispatcher.submit(conversation.id, send)
        return message

    def _delivery_failed(self, delivery: Delivery) -> None:
        """A webhook delivery failed every attempt: the conversation's delivery is failed (when set so)."""
        log.warning("webhook delivery %s failed for good", delivery.id)
        if not self.settings.webhook_failure_fails_conversation or delivery.conversation_id is None:
            return
        with self.state.lock:
            conversation = self.state.conversations.get(delivery.conversation_id)
            if conversation is not None and conversation.delivery_failed_at is None:
                conversation.delivery_failed_at = utc_now()

    def agent_typing(self, conversation_id: str, user_id: str) -> Delivery | None:
        """An agent typing: a Typing event to the webhook when `outbound_typing_events` is on."""
        if not self.settings.outbound_typing_events:
            return None
        with self.state.lock:
            conversation = self.conversation(conversation_id)
            integration = self.state.integrations.get(conversation.integration_id)
            if integration is None or conversation.ended is not None or conversation.agent(user_id) is None:
                return None  # only an agent on a live conversation can be typing in it
            user = self.user(user_id)
            event_id = new_message_id()
            payload = {
                "id": event_id,
                "channel": self._outbound_channel(integration, conversation, event_id, user),
                "type": "Event",
                "events": [
                    {
                        "eventType": "Typing",
                        "typing": {"type": "On", "duration": self.settings.typing_duration_ms},
                    }
                ],
                "direction": "Outbound",
            }
            delivery = self._delivery(integration, conversation.id, "event", payload)
        self.dispatcher.submit(conversation.id, lambda: self.dispatcher.deliver(delivery))
        return delivery

    def _outbound_channel(
        self, integration: Integration, conversation: Conversation, message_id: str | None, agent: User | None
    ) -> dict[str, Any]:
        """The channel of what Genesys sends to the webhook: from the integration to the customer."""
        nickname = (
            agent.name
            if agent is not None and self.settings.outbound_nickname == "agent"
            else integration.name
        )
        channel: dict[str, Any] = {
            "id": integration.id,
            **OPEN_CHANNEL,
            "to": {"id": conversation.customer["id"], "idType": conversation.customer["idType"]},
            "from": {"id": integration.id, "idType": "Opaque", "nickname": nickname},
            "time": iso(utc_now()),
        }
        if message_id:
            channel["messageId"] = message_id
        return channel

    def _delivery(
        self, integration: Integration, conversation_id: str, kind: str, payload: dict[str, Any]
    ) -> Delivery:
        delivery = build_delivery(
            integration_id=integration.id,
            conversation_id=conversation_id,
            kind=kind,
            url=integration.webhook_url,
            secret=integration.secret,
            extra_headers=integration.webhook_headers,
            payload=payload,
        )
        with self.state.lock:
            self.deliveries.append(delivery)
        return delivery

    # -- resources --------------------------------------------------------------------------------

    def conversation_resource(self, conversation: Conversation, base_url: str) -> dict[str, Any]:
        """As a `MessageConversation`."""
        with self.state.lock:
            return {
                "id": conversation.id,
                "participants": [
                    self.participant_resource(conversation, p, base_url) for p in conversation.participants
                ],
                "otherMediaUris": [],
                "selfUri": f"{base_url}/api/v2/conversations/messages/{conversation.id}",
            }

    def message_data(self, conversation: Conversation, message_ids: list[str]) -> list[dict[str, Any]]:
        """The conversation's messages among `message_ids`, as `MessageData` (unknown ids left out)."""
        with self.state.lock:
            found = [m for m in conversation.messages if m.id in set(message_ids)]
            return [_message_data(m) for m in found]

    def participant_resource(
        self, conversation: Conversation, participant: Participant, base_url: str
    ) -> dict[str, Any]:
        """As a `MessageMediaParticipant`."""
        resource: dict[str, Any] = {
            "id": participant.id,
            "name": participant.name,
            "address": participant.address,
            "startTime": iso(participant.start_time),
            "purpose": participant.purpose,
            "state": participant.state,
            "direction": "inbound",
            "held": False,
            "wrapupRequired": False,
            "attributes": {},
            "type": "open",
            "messages": [
                _message_details(self.state.messages[m], base_url, conversation.id)
                for m in participant.message_ids
                if m in self.state.messages
            ],
        }
        if participant.connected_time is not None:
            resource["connectedTime"] = iso(participant.connected_time)
        if participant.end_time is not None:
            resource["endTime"] = iso(participant.end_time)
            resource["disconnectType"] = "client" if participant.purpose == "agent" else "endpoint"
        if participant.user_id is not None:
            user = self.state.users.get(participant.user_id)
            resource["user"] = {
                "id": participant.user_id,
                "name": user.name if user else participant.name,
                "selfUri": f"{base_url}/api/v2/users/{participant.user_id}",
            }
        return resource

    def user_resource(self, user: User, token: Token, expand: set[str], base_url: str) -> dict[str, Any]:
        """As a `UserMe`, with the expansions the stand-in knows (others are accepted and ignored)."""
        with self.state.lock:
            resource: dict[str, Any] = {
                "id": user.id,
                "name": user.name,
                "division": {
                    "id": DIVISION_ID,
                    "name": "Home",
                    "selfUri": f"{base_url}/api/v2/authorization/divisions/{DIVISION_ID}",
                },
                "email": user.email,
                "username": user.email,
                "state": user.state,
                "version": user.version,
                "acdAutoAnswer": False,
                "selfUri": f"{base_url}/api/v2/users/{user.id}",
            }
            if "authorization" in expand:
                resource["authorization"] = {
                    "roles": [{"id": role_id(user.org_id, r), "name": r} for r in user.roles],
                    "unusedRoles": [],
                    "permissions": user.permissions(),
                    "permissionPolicies": [],
                }
            if "organization" in expand:
                resource["organization"] = self.state.org(user.org_id).resource(base_url)
            if "token" in expand:
                resource["token"] = self.token_info(token)
            if "dateLastLogin" in expand and user.date_last_login is not None:
                resource["dateLastLogin"] = iso(user.date_last_login)
            return resource

    def token_info(self, token: Token) -> dict[str, Any]:
        """As a `TokenInfo`."""
        with self.state.lock:
            org = self.state.org(token.org_id).entity()
            client = self.state.clients.get(token.client_id)
            client_org = self.state.org(client.org_id).entity() if client else org
            return {
                "organization": org,
                "homeOrganization": org,
                "authorizedScope": list(token.scopes),
                "OAuthClient": {
                    "id": token.client_id,
                    "name": client.name if client else token.client_id,
                    "authorizedGrantType": token.grant,
                    "organization": client_org,
                },
            }

    def control_conversation(self, conversation: Conversation, base_url: str) -> dict[str, Any]:
        """Everything about a conversation, for tests: participants and every message as received/sent."""
        with self.state.lock:
            return {
                "id": conversation.id,
                "integration_id": conversation.integration_id,
                "org_id": conversation.org_id,
                "customer": dict(conversation.customer),
                "state": "disconnected" if conversation.ended else "connected",
                "created": iso(conversation.created),
                "ended": iso(conversation.ended) if conversation.ended else None,
                "delivery_failed": conversation.delivery_failed_at is not None,
                "delivery_failed_at": iso(conversation.delivery_failed_at)
                if conversation.delivery_failed_at
                else None,
                "participants": [
                    self.participant_resource(conversation, p, base_url) for p in conversation.participants
                ],
                "messages": [_control_message(m, base_url) for m in conversation.messages],
            }


def profile_media_types(profile: ContentProfile) -> dict[str, Any]:
    """As `MediaTypes`."""
    return {
        "allow": {
            "inbound": [{"type": t} for t in profile.inbound],
            "outbound": [{"type": t} for t in profile.outbound],
        }
    }


def _stored_attachment(attachment: dict[str, Any]) -> StoredAttachment:
    return StoredAttachment(
        media_id=new_id(),
        url=attachment["url"],
        mime=attachment["mime"],
        media_type=attachment["mediaType"],
        filename=attachment.get("filename"),
        text=attachment.get("text"),
        provider_id=attachment.get("id"),
        declared_sha256=attachment.get("sha256"),
    )


def _message_details(message: Message, base_url: str, conversation_id: str) -> dict[str, Any]:
    """As `MessageDetails`."""
    if message.direction == "Inbound":
        status = "received"
    else:
        status = {"queued": "queued", "sent": "sent", "delivered": "delivery-success"}.get(
            message.status, "delivery-failed"
        )
    return {
        "messageId": message.id,
        "messageURI": f"{base_url}/api/v2/conversations/messages/{conversation_id}/messages/{message.id}",
        "messageStatus": status,
        "messageTime": iso(message.time),
    }


def _message_data(message: Message) -> dict[str, Any]:
    """As `MessageData` with `useNormalizedMessage`: the normalized message keeps the sender's channel."""
    inbound = message.direction == "Inbound"
    channel: dict[str, Any] = {"platform": "Open", "type": "Private"}
    if message.provider_message_id:
        channel["messageId"] = message.provider_message_id
    normalized: dict[str, Any] = {"id": message.id, "channel": channel, "type": "Text"}
    if message.text is not None:
        normalized["text"] = message.text
    data: dict[str, Any] = {
        "id": message.id,
        "timestamp": iso(message.time),
        "direction": "inbound" if inbound else "outbound",
        "messengerType": "open",
        "status": "received" if inbound else "sent",
        "conversationId": message.conversation_id,
        "normalizedMessage": normalized,
    }
    if message.provider_message_id:
        data["providerMessageId"] = message.provider_message_id
    return data


def attachment_view_url(attachment: StoredAttachment, base_url: str) -> str:
    """The URL an agent sees: the Genesys-hosted copy when there is one, else the original URL."""
    return base_url + hosted_path(attachment.media_id) if attachment.hosted else attachment.url


def _control_message(message: Message, base_url: str) -> dict[str, Any]:
    return {
        "id": message.id,
        "direction": message.direction,
        "time": iso(message.time),
        "type": "Text",
        "text": message.text,
        "provider_message_id": message.provider_message_id,
        "user_id": message.user_id,
        "status": message.status,
        "payload": message.payload,
        "receipts": list(message.receipts),
        "attachments": [
            {
                "media_id": a.media_id,
                "url": a.url,
                "view_url": attachment_view_url(a, base_url),
                "hosted": a.hosted,
                "mime": a.mime,
                "media_type": a.media_type,
                "filename": a.filename,
                "status": a.status,
                "failure_code": a.failure_code,
                "failure_message": a.failure_message,
                "size": a.size,
                "sha256": a.sha256,
            }
            for a in message.attachments
        ],
    }
