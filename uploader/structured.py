"""A bot's structured content (quick replies, cards) as the widget draws it, and the customer's press."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from genesys.models import ContentButtonResponse, WebhookMessage

QUICK_REPLY = "quick_reply"
CARD = "card"


def structured_items(message: WebhookMessage, is_web_url: Callable[[str], bool]) -> list[dict[str, Any]]:
    """The quick replies and cards of an outbound message, as stored in `ChatMessage.content` (each
    has a `type`; attachments have none). Links that are not web URLs are left out."""
    items: list[dict[str, Any]] = []
    for content in message.content or []:
        if content.quick_reply is not None:
            reply = content.quick_reply
            items.append({"type": QUICK_REPLY, "text": reply.text, "payload": reply.payload})
        elif content.card is not None:
            card = content.card
            actions = []
            for action in card.actions:
                if action.type == "Postback" and action.text and action.payload is not None:
                    actions.append({"type": "postback", "text": action.text, "payload": action.payload})
                elif action.type == "Link" and action.text and action.url and is_web_url(action.url):
                    actions.append({"type": "link", "text": action.text, "url": action.url})
            items.append(
                {"type": CARD, "title": card.title, "description": card.description or "", "actions": actions}
            )
    return items


def button_response(
    content: list[dict[str, Any]] | None, text: object, payload: object
) -> ContentButtonResponse | None:
    """The button response for pressing (`text`, `payload`) among a message's stored items; None when the
    message offers no such button."""
    for item in content or []:
        if item.get("type") == QUICK_REPLY and (item["text"], item["payload"]) == (text, payload):
            return ContentButtonResponse(type="QuickReply", text=item["text"], payload=item["payload"])
        if item.get("type") == CARD:
            for action in item["actions"]:
                if action["type"] == "postback" and (action["text"], action["payload"]) == (text, payload):
                    return ContentButtonResponse(
                        type="Button", text=action["text"], payload=action["payload"]
                    )
    return None
