"""What the agent and the customer are told about a scanned file: the text of its one message to Genesys
(name, size, type, link) and the native attachment that may go with it: the scanner's preview image of
the file (scanner/previews.py), or else the file itself when Genesys can show it.

A clean file is announced in the customer's Genesys conversation as an inbound message: text naming the
file and its stable Ferry link, and, when Genesys can show it natively (a small file of a previewable type),
a `content[].attachment` whose presigned URL `native_attachment_finisher` mints when the outbox sends the
message, through the clean-only gate (`ferry.access.serving.presigned_url`). A refused file gets a short
notice with no link.
"""

from __future__ import annotations

import dataclasses
import logging

from ferry.access.refusals import AccessDenied, AccessUnavailable
from ferry.access.serving import GENESYS_INGEST_URL_SECONDS, presigned_url, preview_url, served_type
from ferry.config import Settings
from ferry.db import Database
from ferry.links import file_link
from ferry.mediatypes import matches
from ferry.models import Attachment, AttachmentStatus
from ferry.objects import PREVIEW_TYPE
from ferry.outbox import Claim, DeliveryDeferred, MessageFinisher
from ferry.sizes import human_size
from ferry.storage import ObjectStorage
from genesys.models import (
    MediaType,
    OpenContentAttachment,
    OpenInboundMessageContent,
    OpenInboundNormalizedMessage,
)

log = logging.getLogger("ferry.announcement")

# What the widget and the agent read about a file that was not delivered (never the signature name).
REFUSALS = {
    AttachmentStatus.INFECTED: "the virus scan found a threat in it",
    AttachmentStatus.REJECTED: "this kind of file can't be sent",
    AttachmentStatus.TOO_LARGE: "it is too large to be checked for viruses",
    AttachmentStatus.FAILED: "it could not be checked for viruses",
}


def channel_message_id(attachment_id: str, rescan: int = 0) -> str:
    """The `channel.messageId` of a file's one message to Genesys per verdict: fixed, so no retry or replay
    adds one. An operator's rescan (`flask scan retry`) gives the new verdict its own, `rescan` counting the
    verdicts before it, or Genesys would discard the new message as a duplicate of the first."""
    return f"ferry-attachment-{attachment_id}" + (f"-{rescan}" if rescan else "")


def announcement_text(settings: Settings, attachment: Attachment) -> str:
    """The agent's message for a clean file: name, size, type, the Ferry link and the SHA-256 the scanner
    read (the same the customer's browser declared, or the file would not be clean)."""
    size = attachment.size if attachment.size is not None else attachment.declared_size
    digest = f"SHA-256: {attachment.sha256}\n" if attachment.sha256 else ""
    return (
        f"File from the customer: {attachment.filename} ({human_size(size)}, {served_type(attachment)})\n"
        f"{digest}{file_link(settings, attachment.id)}"
    )


def refusal_text(attachment: Attachment, status: AttachmentStatus) -> str:
    """The notice for a file that was not delivered (the widget shows it; the agent may get it too)."""
    size = human_size(attachment.declared_size)
    return f"File not delivered: {attachment.filename} ({size}), because {REFUSALS[status]}."


def has_native_preview(settings: Settings, attachment: Attachment) -> bool:
    """Small enough for Genesys to ingest, and of a type its agent UI previews."""
    size = attachment.size if attachment.size is not None else attachment.declared_size
    return size <= settings.native_preview_max_bytes and matches(
        served_type(attachment), settings.native_preview_types
    )


def media_type(mime: str) -> MediaType:
    """Genesys's media type for a MIME type."""
    family = mime.split("/", 1)[0]
    return {"image": MediaType.IMAGE, "video": MediaType.VIDEO, "audio": MediaType.AUDIO}.get(
        family, MediaType.FILE
    )


def native_attachment(attachment: Attachment, url: str) -> OpenInboundMessageContent:
    """The `content[]` element that lets Genesys show the file natively."""
    mime = served_type(attachment)
    return OpenInboundMessageContent(
        attachment=OpenContentAttachment(
            media_type=media_type(mime),
            mime=mime,
            url=url,
            id=attachment.id,
            filename=attachment.filename,
            sha256=attachment.sha256,
        )
    )


def preview_attachment(attachment: Attachment, url: str) -> OpenInboundMessageContent:
    """The `content[]` element that shows the scanner's preview image of the file in the conversation."""
    stem = attachment.filename.rsplit(".", 1)[0] or "file"
    return OpenInboundMessageContent(
        attachment=OpenContentAttachment(
            media_type=MediaType.IMAGE,
            mime=PREVIEW_TYPE,
            url=url,
            id=f"{attachment.id}-preview",
            filename=f"{stem}-preview.png",
        )
    )


def native_attachment_finisher(settings: Settings, db: Database, storage: ObjectStorage) -> MessageFinisher:
    """The outbox hook that adds a native attachment when a clean file's message is sent: the scanner's
    preview image when there is one, else the file itself when Genesys can show it.

    The URL is minted per attempt (an entry may be retried hours after it was written) and only through
    the gate that checks the record and the object's tag both say clean. A refusal sends the text and
    link alone; S3 being unreachable defers the message.
    """

    def finish(claim: Claim, message: OpenInboundNormalizedMessage) -> OpenInboundNormalizedMessage:
        with db.session() as session:
            attachment = session.get(Attachment, claim.attachment_id)
        if attachment is None or attachment.status != AttachmentStatus.CLEAN:
            return message
        try:
            preview = preview_url(
                storage,
                attachment,
                seconds=GENESYS_INGEST_URL_SECONDS,
                max_seconds=GENESYS_INGEST_URL_SECONDS,
            )
        except AccessDenied as exc:
            log.warning(
                "clean attachment refused by the presign gate: announced without a preview",
                extra={"attachment_id": attachment.id, "reason": str(exc.reason)},
            )
            return message
        except AccessUnavailable as exc:
            raise DeliveryDeferred(f"cannot presign the preview of {attachment.id}: {exc}") from None
        if preview is not None:
            return dataclasses.replace(message, content=[preview_attachment(attachment, preview)])
        if not has_native_preview(settings, attachment):
            return message
        try:
            url = presigned_url(
                storage,
                attachment,
                inline=False,
                seconds=GENESYS_INGEST_URL_SECONDS,
                max_seconds=GENESYS_INGEST_URL_SECONDS,
            )
        except AccessDenied as exc:
            log.warning(
                "clean attachment refused by the presign gate: announced without a native attachment",
                extra={"attachment_id": attachment.id, "reason": str(exc.reason)},
            )
            return message
        except AccessUnavailable as exc:
            raise DeliveryDeferred(f"cannot presign attachment {attachment.id}: {exc}") from None
        return dataclasses.replace(message, content=[native_attachment(attachment, url)])

    return finish
