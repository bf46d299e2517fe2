"""Attachments straight into the database and their objects into S3, as uploader and scanner leave them."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from urllib.parse import urlencode

from ferry.db import utcnow
from ferry.models import Attachment, AttachmentStatus, Chat, new_id
from ferry.objects import ScanTag, object_key
from ferry.services import Services


def add_chat(
    services: Services, *, nickname: str = "Carla Customer", email: str | None = "carla@example.com"
) -> Chat:
    with services.db.session() as session:
        chat = Chat(nickname=nickname, email=email, expires_at=utcnow() + timedelta(days=1))
        session.add(chat)
    return chat


def add_attachment(
    services: Services,
    *,
    content: bytes = b"\x00" * 1024,
    filename: str = "clip.mp4",
    declared_type: str = "video/mp4",
    sniffed_type: str | None = None,
    status: AttachmentStatus = AttachmentStatus.CLEAN,
    tag: str | None = "clean",
    conversation_id: str | None = None,
    chat: Chat | None = None,
    created_at: datetime | None = None,
    size: int | None = None,
    store: bool = True,
) -> Attachment:
    """A scanned attachment (by default clean, tagged clean, object stored) of a new or given chat."""
    chat = chat or add_chat(services)
    attachment_id = new_id()
    key = object_key(services.settings.s3_incoming_prefix, attachment_id)
    now = utcnow()
    scanned = status.is_final
    attachment = Attachment(
        id=attachment_id,
        chat_id=chat.id,
        object_key=key,
        filename=filename,
        declared_type=declared_type,
        declared_size=size or len(content),
        strategy="single",
        status=status,
        size=size or len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        sniffed_type=sniffed_type or (declared_type if scanned else None),
        signature="Eicar-Test-Signature" if status == AttachmentStatus.INFECTED else None,
        engine_version="ClamAV 1.4.6" if scanned else None,
        signature_version="27000" if scanned else None,
        conversation_id=conversation_id,
        created_at=created_at or now,
        uploaded_at=now,
        scanned_at=now if scanned else None,
    )
    with services.db.session() as session:
        session.add(attachment)
    if store:
        extra = {"Tagging": urlencode({ScanTag.STATUS: tag})} if tag else {}
        services.storage.client.put_object(
            Bucket=services.storage.bucket, Key=key, Body=content, ContentType=declared_type, **extra
        )
    return attachment
