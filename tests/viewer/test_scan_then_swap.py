"""Scan-then-swap: a customer keeps the presigned PUT URL of their upload and writes the key again after the
clean verdict. Against the SigV4-checking local S3, real clamd and the scan pipeline: what the viewer, the
API and the native-preview URL handed to Genesys serve stays byte for byte what the scanner read, and the
file stays viewable."""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Callable, Iterator

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from ferry.announcement import native_attachment_finisher
from ferry.antivirus import ClamdClient
from ferry.attachments import (
    FileDeclaration,
    PartChecksum,
    UploadPolicy,
    complete_upload,
    create_upload,
    sign_parts,
)
from ferry.config import Settings
from ferry.models import Attachment, AttachmentStatus, Chat
from ferry.objects import PENDING_TAGS, tagged_clean
from ferry.outbox import claim_due
from ferry.services import Services
from ferry.storage import ObjectNotFound
from genesys.models import OpenInboundNormalizedMessage
from scanner.pipeline import Disposition, ScanPipeline
from tests.conftest import prepare_bucket
from tests.scanner.stack import s3_event
from tests.viewer.conftest import Login, genesys_settings, running_app
from tests.viewer.seeding import add_chat
from tests.viewer.world import World

# A small PDF (scanned clean, previewed natively by Genesys); the swap is another PDF of the same size,
# which the widget's URL (its length signed in) would otherwise refuse for the length alone.
SCANNED = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n% the bytes the scanner read.....\n"
SWAPPED = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n% other bytes, never scanned.....\n"
CHECKSUM = base64.b64encode(hashlib.sha256(SCANNED).digest()).decode()  # as the widget signs it


@pytest.fixture
def viewer_settings(settings: Settings, world: World, moto_reset: str) -> Settings:
    """The viewer against the local S3 that checks signatures, so every URL below is really fetched."""
    configured = genesys_settings(
        settings,
        world,
        s3_endpoint_url=moto_reset,
        sqs_endpoint_url=moto_reset,
        sqs_queue_url=f"{moto_reset}/123456789012/ferry-test-scan",
    )
    prepare_bucket(configured)
    return configured


@pytest.fixture
def viewer_app(viewer_settings: Settings) -> Iterator[Flask]:
    with running_app(viewer_settings) as application:
        yield application


@pytest.fixture
def pipeline(services: Services, clamd: object) -> ScanPipeline:
    return ScanPipeline(
        services.settings,
        services.db,
        services.storage,
        ClamdClient(clamd.address, timeout=60),  # type: ignore[attr-defined]
    )


def uploaded(services: Services, chat: Chat) -> tuple[str, str, dict[str, str]]:
    """A file sent as the widget sends it; answers its id and the kept presigned PUT URL with its headers."""
    policy = UploadPolicy.from_settings(services.settings)
    declared = FileDeclaration(name="claim.pdf", size=len(SCANNED), content_type="application/pdf")
    with services.db.session() as session:
        attachment, _ = create_upload(session, services.storage, policy, session.merge(chat), declared)
        [part] = sign_parts(services.storage, policy, attachment, [PartChecksum(1, CHECKSUM)]).parts
        requests.put(part.url, data=SCANNED, headers=part.headers, timeout=10).raise_for_status()
        complete_upload(session, services.storage, attachment)
        return attachment.id, part.url, part.headers


def served_by_everyone(
    client: FlaskClient, services: Services, world: World, attachment_id: str
) -> dict[str, Callable[[], str]]:
    """Fresh URLs from the viewer (inline and download), the API and the native-preview finisher."""
    token = world.token("reviewer")
    finish = native_attachment_finisher(services.settings, services.db, services.storage)
    [entry] = claim_due(services.db, lease_seconds=30)

    def native() -> str:
        message = finish(entry, OpenInboundNormalizedMessage.from_json(entry.payload))
        attachment = message.content[0].attachment if message.content else None
        assert attachment is not None, "no native attachment: the gate refused the file"
        return attachment.url

    def redirect(path: str) -> str:
        answer = client.get(path)
        assert answer.status_code == 302, answer.status_code
        return answer.headers["Location"]

    def api() -> str:
        answer = client.get(f"/api/files/{attachment_id}", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, answer.json
        return str(answer.json["url"])  # type: ignore[index]

    return {
        "viewer": lambda: redirect(f"/files/{attachment_id}/content"),
        "download": lambda: redirect(f"/files/{attachment_id}/download"),
        "api": api,
        "native preview": native,
    }


def bytes_at(url: str) -> bytes:
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.content


def test_a_put_after_the_clean_verdict_never_changes_what_is_served(
    login: Login,
    client: FlaskClient,
    services: Services,
    world: World,
    pipeline: ScanPipeline,
    caplog: pytest.LogCaptureFixture,
) -> None:
    storage = services.storage
    attachment_id, kept_url, kept_headers = uploaded(services, add_chat(services))
    upload_key = f"{services.settings.s3_incoming_prefix}{attachment_id}"
    assert pipeline.handle_message(s3_event(upload_key)).detail == "clean"
    login("reviewer")
    urls = served_by_everyone(client, services, world, attachment_id)
    issued_before = {name: fresh() for name, fresh in urls.items()}
    assert {name: bytes_at(url) for name, url in issued_before.items()} == dict.fromkeys(urls, SCANNED)

    # The widget's URL has the scanned bytes' checksum signed in: S3 itself refuses other bytes.
    refused = requests.put(kept_url, data=SWAPPED, headers=kept_headers, timeout=10)
    assert refused.status_code == 400 and "BadDigest" in refused.text
    # A plain PUT URL of the upload key (no checksum signed) is accepted; so is the same bytes again.
    plain_url, plain_headers = storage.presign_put(
        upload_key, content_type="application/pdf", tags=PENDING_TAGS, expires=60
    )
    writes = [(plain_url, SWAPPED, plain_headers), (kept_url, SCANNED, kept_headers)]
    for url, data, headers in writes:
        requests.put(url, data=data, headers=headers, timeout=10).raise_for_status()
        with caplog.at_level(logging.WARNING, logger="scanner.pipeline"):
            result = pipeline.handle_message(s3_event(upload_key))

        assert (result.disposition, result.detail) == (
            Disposition.DONE,
            "already clean; stray upload removed",
        )
        assert any("written to the upload key after the verdict" in r.getMessage() for r in caplog.records)
        caplog.clear()
        with pytest.raises(ObjectNotFound):
            storage.head(upload_key)  # nothing unscanned lingers
        with services.db.session() as session:
            record = session.get_one(Attachment, attachment_id)
        assert record.status == AttachmentStatus.CLEAN
        assert tagged_clean(storage.get_tags(record.object_key))
        assert record.sha256 == hashlib.sha256(SCANNED).hexdigest()
        # URLs issued before the write and fresh ones alike serve the scanned bytes.
        for name, fresh in urls.items():
            assert bytes_at(issued_before[name]) == SCANNED, name
            assert bytes_at(fresh()) == SCANNED, name
