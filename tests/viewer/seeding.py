"""Attachments straight into the database and their objects into S3, as uploader and scanner leave them."""

from __future__ import annotations

import hashlib
import io
import struct
from datetime import datetime, timedelta
from urllib.parse import urlencode

import pydicom
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from ferry.db import utcnow
from ferry.models import Attachment, AttachmentStatus, Chat, new_id
from ferry.objects import PREVIEW_TYPE, ScanTag, object_key, preview_key
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
    preview: bytes | None = None,
) -> Attachment:
    """A scanned attachment (by default clean, tagged clean, object stored) of a new or given chat, with
    the scanner's `preview` image when given."""
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
        preview_key=preview_key(attachment_id) if preview is not None else None,
    )
    with services.db.session() as session:
        session.add(attachment)
    if store:
        extra = {"Tagging": urlencode({ScanTag.STATUS: tag})} if tag else {}
        services.storage.client.put_object(
            Bucket=services.storage.bucket, Key=key, Body=content, ContentType=declared_type, **extra
        )
    if preview is not None:
        services.storage.put(preview_key(attachment_id), preview, content_type=PREVIEW_TYPE, tags={})
    return attachment


def dicom_bytes(pixels: int | None = None) -> bytes:
    """A CT slice of Jane Doe, 512 x 512. With `pixels`, that many bytes of filler pixel data (the header is
    what counts); without, a real 16-bit image (a left-to-right gradient) that a renderer can window."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = FileDataset("scan.dcm", {}, file_meta=meta, preamble=b"\0" * 128)
    dataset.PatientName = "Doe^Jane"
    dataset.PatientID = "P-123"
    dataset.Modality = "CT"
    dataset.StudyDate = "20260102"
    dataset.StudyDescription = "<b>Chest</b>"
    dataset.Rows = 512
    dataset.Columns = 512
    if pixels is not None:
        dataset.BitsAllocated = 8
        dataset.PixelData = b"\x01" * pixels
    else:
        dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit = 16, 16, 15
        dataset.SamplesPerPixel, dataset.PixelRepresentation = 1, 0
        dataset.PhotometricInterpretation = "MONOCHROME2"
        dataset.PixelData = b"".join(struct.pack("<H", column * 100) for column in range(512)) * 512
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, dataset, enforce_file_format=True)
    return buffer.getvalue()
