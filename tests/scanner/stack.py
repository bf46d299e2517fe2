"""Helpers for the scan pipeline's tests: attachment rows with their objects, S3 event bodies, sample files
built around the EICAR test string, and the stand-in's view of what was injected."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import requests

from ferry.db import Database, utcnow
from ferry.models import Attachment, AttachmentStatus, Chat, ChatMessage, MessageDirection, OutboxEntry
from ferry.storage import S3Storage
from tests.conftest import BUCKET
from tests.scanner.conftest import make_mp4

MIB = 1024 * 1024
TEST_EVENTS = Path(__file__).resolve().parent.parent / "events"


def load_event(name: str) -> dict[str, Any]:
    """A stored test event from tests/events/."""
    event: dict[str, Any] = json.loads((TEST_EVENTS / name).read_text())
    return event


def new_chat(db: Database, nickname: str = "Jane") -> str:
    with db.session() as session:
        chat = Chat(expires_at=utcnow() + timedelta(hours=1), nickname=nickname)
        session.add(chat)
        session.flush()
        return chat.id


def add_attachment(
    db: Database,
    storage: S3Storage | None,
    chat_id: str,
    data: bytes,
    *,
    filename: str,
    declared_type: str,
    status: AttachmentStatus = AttachmentStatus.UPLOADED,
    attachment_id: str | None = None,
    declared_size: int | None = None,
) -> str:
    """An attachment row as the upload API leaves it and, with `storage`, its object born pending."""
    with db.session() as session:
        attachment = Attachment(
            chat_id=chat_id,
            object_key="",
            filename=filename,
            declared_type=declared_type,
            declared_size=len(data) if declared_size is None else declared_size,
            strategy="single",
            status=status,
        )
        if attachment_id:
            attachment.id = attachment_id
        session.add(attachment)
        session.flush()
        attachment.object_key = f"incoming/{attachment.id}"
        if status is AttachmentStatus.UPLOADED:
            attachment.size = len(data)
            attachment.uploaded_at = utcnow()
        new_id = attachment.id
    if storage is not None:
        put_object(storage, f"incoming/{new_id}", data, declared_type)
    return new_id


def put_object(storage: S3Storage, key: str, data: bytes, content_type: str) -> None:
    storage.client.put_object(
        Bucket=storage.bucket, Key=key, Body=data, ContentType=content_type, Tagging="scan-status=pending"
    )


def s3_event(key: str, name: str = "ObjectCreated:Put", bucket: str = BUCKET) -> str:
    """An S3 event notification body as SQS carries it (the key URL-encoded, as S3 does)."""
    return json.dumps(
        {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "eventName": name,
                    "s3": {"bucket": {"name": bucket}, "object": {"key": quote_plus(key, safe="")}},
                }
            ]
        }
    )


def attachment(db: Database, attachment_id: str) -> Attachment:
    with db.session() as session:
        return session.get_one(Attachment, attachment_id)


def outbox_entries(db: Database, attachment_id: str) -> list[OutboxEntry]:
    from sqlalchemy import select

    with db.session() as session:
        return list(session.scalars(select(OutboxEntry).where(OutboxEntry.attachment_id == attachment_id)))


def notices(db: Database, attachment_id: str) -> list[ChatMessage]:
    """The widget's transcript items about a file."""
    from sqlalchemy import select

    with db.session() as session:
        return list(
            session.scalars(
                select(ChatMessage).where(
                    ChatMessage.attachment_id == attachment_id,
                    ChatMessage.direction == MessageDirection.SYSTEM,
                )
            )
        )


# -- sample files ------------------------------------------------------------------------------------


def zipped(name: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    return out.getvalue()


def video_with_tail(size: int, tail: bytes) -> bytes:
    """An MP4 of about `size` bytes whose media data ends with `tail`."""
    return make_mp4(bytes(size - len(tail) - 64) + tail)


# -- the stand-in ---------------------------------------------------------------------------------------


def inbound_messages(base_url: str) -> list[dict[str, Any]]:
    """Every inbound message the stand-in's conversations hold (payloads as received and validated)."""
    conversations = requests.get(f"{base_url}/_control/conversations", timeout=10).json()
    return [
        {**message, "conversation_id": conversation["id"]}
        for conversation in conversations
        for message in conversation["messages"]
        if message["direction"] == "Inbound"
    ]


def by_channel_message_id(base_url: str) -> dict[str, list[dict[str, Any]]]:
    """Inbound messages grouped by the channel.messageId Ferry gave them."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for message in inbound_messages(base_url):
        grouped.setdefault(message["payload"]["channel"]["messageId"], []).append(message)
    return grouped
