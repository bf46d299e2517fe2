"""Clean files injected into the customer's Genesys conversation: the scan pipeline, the outbox worker's
delivery (with the send-time presigned URL) and the Genesys stand-in, which validates every inbound payload
against the published schema and fetches native attachments from the moto server like Genesys would."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from PIL import Image
from sqlalchemy import select, update

from ferry.access.serving import GENESYS_INGEST_URL_SECONDS
from ferry.announcement import native_attachment_finisher
from ferry.antivirus import ClamdClient
from ferry.attachments import display_state
from ferry.config import DEV_CLIENT_ID, DEV_CLIENT_SECRET, Settings
from ferry.db import Database
from ferry.models import Chat, MessageStatus, OutboxEntry, OutboxState
from ferry.outbox import OutboxDelivery, RetryPolicy, claim_due
from ferry.outbox import Outcome as Delivery
from ferry.sizes import human_size
from ferry.storage import S3Storage
from genesys.client import GenesysClient
from genesys_standin.server import StandinServer
from genesys_standin.settings import StandinSettings
from scanner.pipeline import ScanPipeline
from tests.conftest import prepare_bucket
from tests.scanner.stack import (
    add_attachment,
    attachment,
    by_channel_message_id,
    new_chat,
    notices,
    outbox_entries,
    s3_event,
)
from tests.serving import wait_for
from tests.uploader.live import seed_standin


@pytest.fixture
def server_settings(settings: Settings, moto_reset: str, clamd: object) -> Settings:
    """Settings against the moto server, whose presigned URLs the stand-in can really fetch."""
    configured = dataclasses.replace(
        settings,
        s3_endpoint_url=moto_reset,
        sqs_endpoint_url=moto_reset,
        sqs_queue_url=f"{moto_reset}/123456789012/ferry-test-scan",
        clamd_address=clamd.address,  # type: ignore[attr-defined]
    )
    prepare_bucket(configured)
    return configured


@pytest.fixture
def storage(server_settings: Settings) -> S3Storage:
    return S3Storage(
        bucket=server_settings.s3_bucket,
        region=server_settings.aws_region,
        endpoint_url=server_settings.s3_endpoint_url,
    )


@pytest.fixture
def pipeline(server_settings: Settings, db: Database, storage: S3Storage, clamd: object) -> ScanPipeline:
    return ScanPipeline(server_settings, db, storage, ClamdClient(clamd.address, timeout=60))  # type: ignore[attr-defined]


@pytest.fixture
def pipeline_without_previews(
    server_settings: Settings, db: Database, storage: S3Storage, clamd: object
) -> ScanPipeline:
    settings = dataclasses.replace(server_settings, previews_enabled=False)
    return ScanPipeline(settings, db, storage, ClamdClient(clamd.address, timeout=60))  # type: ignore[attr-defined]


@pytest.fixture
def standin() -> Iterator[StandinServer]:
    with StandinServer(StandinSettings(rate_limit_per_minute=0, webhook_backoff_base_seconds=0.01)) as server:
        yield server


@pytest.fixture
def delivery(
    server_settings: Settings, db: Database, storage: S3Storage, standin: StandinServer
) -> Iterator[OutboxDelivery]:
    # Nothing listens on the discard port: the stand-in's receipts go nowhere, which these tests ignore.
    integration_id, _agent = seed_standin(standin.base_url, "http://127.0.0.1:9/genesys/webhook")
    client = GenesysClient(
        api_base_url=standin.base_url,
        login_base_url=standin.base_url,
        client_id=DEV_CLIENT_ID,
        client_secret=DEV_CLIENT_SECRET,
        timeout=5,
        max_attempts=1,
    )
    yield OutboxDelivery(
        db,
        client,
        integration_id,
        RetryPolicy(base_seconds=0.05, max_seconds=0.2),
        lease_seconds=30,
        finish_message=native_attachment_finisher(server_settings, db, storage),
    )
    client.close()


def deliver_all(delivery: OutboxDelivery) -> None:
    wait_for(lambda: delivery.run_once() == 0 and not _pending(delivery.db), timeout=20)


def _pending(db: Database) -> bool:
    with db.session() as session:
        return (
            session.scalars(select(OutboxEntry.id).where(OutboxEntry.state == OutboxState.PENDING)).first()
            is not None
        )


def the_message(standin: StandinServer, attachment_id: str) -> dict[str, Any]:
    """The one stand-in message for this file (fails if there are none or several)."""
    [message] = by_channel_message_id(standin.base_url)[f"ferry-attachment-{attachment_id}"]
    return message


def fetched(standin: StandinServer, attachment_id: str) -> dict[str, Any]:
    """The stand-in's record of fetching the file's native attachment, once it has finished."""

    def done() -> dict[str, Any] | None:
        [stored] = the_message(standin, attachment_id)["attachments"]
        return stored if stored["status"] != "pending" else None

    result: dict[str, Any] = wait_for(done, timeout=20)
    return result


CLEAN = [
    ("pdf", "claim.pdf", "application/pdf", "File"),
    ("png", "damage.png", "image/png", "Image"),
    ("mp4", "walkaround.mp4", "video/mp4", "Video"),
    ("dicom", "knee.dcm", "application/dicom", None),  # not natively previewable: text and link only
]


@pytest.mark.parametrize(("kind", "filename", "mime", "media_type"), CLEAN)
def test_clean_files_are_injected_with_schema_valid_payloads(
    pipeline_without_previews: ScanPipeline,
    delivery: OutboxDelivery,
    standin: StandinServer,
    db: Database,
    storage: S3Storage,
    samples: dict[str, bytes],
    kind: str,
    filename: str,
    mime: str,
    media_type: str | None,
) -> None:
    data = samples[kind]
    chat_id = new_chat(db, nickname="Jane")
    attachment_id = add_attachment(db, storage, chat_id, data, filename=filename, declared_type=mime)

    assert pipeline_without_previews.handle_message(s3_event(f"incoming/{attachment_id}")).detail == "clean"
    deliver_all(delivery)

    message = the_message(standin, attachment_id)  # the stand-in accepted it: the payload is schema-valid
    payload = message["payload"]
    done = attachment(db, attachment_id)
    with db.session() as session:
        chat = session.get_one(Chat, chat_id)
        assert payload["channel"]["from"] == {"id": chat.customer_id, "idType": "Opaque", "nickname": "Jane"}
        assert chat.conversation_id == message["conversation_id"]
    assert done.conversation_id == message["conversation_id"] and done.announced_at is not None
    assert display_state(done) == "delivered"
    assert payload["text"] == (
        f"File from the customer: {filename} ({human_size(len(data))}, {mime})\n"
        f"SHA-256: {hashlib.sha256(data).hexdigest()}\nhttp://ferry.test/files/{attachment_id}"
    )
    if media_type is None:
        assert "content" not in payload
        return
    [content] = payload["content"]
    native = content["attachment"]
    assert {k: v for k, v in native.items() if k != "url"} == {
        "mediaType": media_type,
        "mime": mime,
        "filename": filename,
        "sha256": done.sha256,
        "id": attachment_id,
    }
    query = parse_qs(urlsplit(native["url"]).query)
    assert query["X-Amz-Expires"] == [str(GENESYS_INGEST_URL_SECONDS)]  # at least 15 minutes to ingest it
    stored = fetched(standin, attachment_id)  # Genesys fetched the bytes through the presigned URL
    assert (stored["status"], stored["size"], stored["sha256"]) == ("delivered", len(data), done.sha256)


PREVIEWED = [
    ("mp4", "walkaround.mp4", "video/mp4", (320, 240)),
    ("dicom", "knee.dcm", "application/dicom", (48, 64)),
    ("pdf", "claim.pdf", "application/pdf", (400, 400)),
]


@pytest.mark.parametrize(("kind", "filename", "mime", "dimensions"), PREVIEWED)
def test_real_media_reach_the_agent_with_a_preview_image_as_the_native_attachment(
    pipeline: ScanPipeline,
    delivery: OutboxDelivery,
    standin: StandinServer,
    db: Database,
    storage: S3Storage,
    media: dict[str, bytes],
    kind: str,
    filename: str,
    mime: str,
    dimensions: tuple[int, int],
) -> None:
    attachment_id = add_attachment(
        db, storage, new_chat(db), media[kind], filename=filename, declared_type=mime
    )

    assert pipeline.handle_message(s3_event(f"incoming/{attachment_id}")).detail == "clean"
    deliver_all(delivery)

    payload = the_message(standin, attachment_id)["payload"]  # accepted: schema-valid
    assert payload["text"].endswith(f"http://ferry.test/files/{attachment_id}")  # the link opens the file
    [content] = payload["content"]
    native = content["attachment"]
    stem = filename.rsplit(".", 1)[0]
    assert {k: v for k, v in native.items() if k != "url"} == {
        "mediaType": "Image",
        "mime": "image/png",
        "filename": f"{stem}-preview.png",
        "id": f"{attachment_id}-preview",
    }
    stored = fetched(standin, attachment_id)  # Genesys fetched the preview through the presigned URL
    png = requests.get(native["url"], timeout=10).content
    assert (stored["status"], stored["sha256"]) == ("delivered", hashlib.sha256(png).hexdigest())
    with Image.open(io.BytesIO(png)) as image:
        assert (image.format, image.size) == ("PNG", dimensions)
        low, high = image.convert("L").getextrema()
    assert high > low  # a picture, not a blank: the DICOM gradient is windowed across the display range
    assert attachment(db, attachment_id).preview_key == f"previews/{attachment_id}.png"


def test_a_corrupt_video_still_gets_its_link_message_without_a_preview(
    pipeline: ScanPipeline,
    delivery: OutboxDelivery,
    standin: StandinServer,
    db: Database,
    storage: S3Storage,
    mp4_with: Callable[[bytes], bytes],
) -> None:
    corrupt = mp4_with(bytes(range(256)) * 64)  # an MP4's boxes around bytes no decoder reads
    attachment_id = add_attachment(
        db, storage, new_chat(db), corrupt, filename="broken.mp4", declared_type="video/mp4"
    )

    assert pipeline.handle_message(s3_event(f"incoming/{attachment_id}")).detail == "clean"
    deliver_all(delivery)

    payload = the_message(standin, attachment_id)["payload"]
    assert payload["text"].endswith(f"http://ferry.test/files/{attachment_id}")
    assert all(c["attachment"]["mime"] != "image/png" for c in payload.get("content", []))
    assert attachment(db, attachment_id).preview_key is None


def test_the_native_url_is_minted_when_sent_not_when_queued(
    pipeline: ScanPipeline,
    delivery: OutboxDelivery,
    standin: StandinServer,
    db: Database,
    storage: S3Storage,
    samples: dict[str, bytes],
) -> None:
    attachment_id = add_attachment(
        db, storage, new_chat(db), samples["png"], filename="a.png", declared_type="image/png"
    )
    pipeline.handle_message(s3_event(f"incoming/{attachment_id}"))
    [entry] = outbox_entries(db, attachment_id)
    assert "content" not in entry.payload
    with db.session() as session:  # as if the outbox only got to it two hours later
        earlier = entry.created_at - timedelta(hours=2)
        session.execute(update(OutboxEntry).where(OutboxEntry.id == entry.id).values(created_at=earlier))

    before = datetime.now(UTC).replace(microsecond=0)
    deliver_all(delivery)

    url = the_message(standin, attachment_id)["payload"]["content"][0]["attachment"]["url"]
    signed_at = datetime.strptime(parse_qs(urlsplit(url).query)["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(
        tzinfo=UTC
    )
    assert signed_at >= before


def test_a_clean_record_whose_tag_is_not_clean_gets_no_url(
    pipeline: ScanPipeline,
    delivery: OutboxDelivery,
    standin: StandinServer,
    db: Database,
    storage: S3Storage,
    samples: dict[str, bytes],
    caplog: pytest.LogCaptureFixture,
) -> None:
    attachment_id = add_attachment(
        db, storage, new_chat(db), samples["png"], filename="a.png", declared_type="image/png"
    )
    pipeline.handle_message(s3_event(f"incoming/{attachment_id}"))
    storage.put_tags(f"clean/{attachment_id}", {"scan-status": "pending"})  # record and tag disagree

    with caplog.at_level(logging.WARNING, logger="ferry.announcement"):
        deliver_all(delivery)

    payload = the_message(standin, attachment_id)["payload"]
    assert "content" not in payload and f"/files/{attachment_id}" in payload["text"]
    assert any("refused by the presign gate" in r.getMessage() for r in caplog.records)


def test_storage_unreachable_at_send_time_defers_the_message(
    server_settings: Settings,
    pipeline: ScanPipeline,
    delivery: OutboxDelivery,
    standin: StandinServer,
    db: Database,
    storage: S3Storage,
    samples: dict[str, bytes],
) -> None:
    attachment_id = add_attachment(
        db, storage, new_chat(db), samples["png"], filename="a.png", declared_type="image/png"
    )
    pipeline.handle_message(s3_event(f"incoming/{attachment_id}"))
    unreachable = S3Storage(bucket=storage.bucket, region=storage.region, endpoint_url="http://127.0.0.1:9")
    offline = dataclasses.replace(
        delivery, finish_message=native_attachment_finisher(server_settings, db, unreachable)
    )

    [claim] = claim_due(db, lease_seconds=30)
    assert offline.deliver(claim) is Delivery.RETRY

    [entry] = outbox_entries(db, attachment_id)
    assert entry.state == OutboxState.PENDING and "cannot presign" in (entry.last_error or "")
    assert f"ferry-attachment-{attachment_id}" not in by_channel_message_id(standin.base_url)


def test_an_infected_file_reaches_the_agent_as_a_notice_without_a_link(
    pipeline: ScanPipeline,
    delivery: OutboxDelivery,
    standin: StandinServer,
    db: Database,
    storage: S3Storage,
    eicar: bytes,
) -> None:
    attachment_id = add_attachment(
        db, storage, new_chat(db), eicar, filename="invoice.txt", declared_type="text/plain"
    )

    pipeline.handle_message(s3_event(f"incoming/{attachment_id}"))
    deliver_all(delivery)

    payload = the_message(standin, attachment_id)["payload"]
    assert "content" not in payload
    assert "invoice.txt" in payload["text"] and "virus" in payload["text"] and "http" not in payload["text"]
    done = attachment(db, attachment_id)
    assert display_state(done) == "rejected" and done.conversation_id is not None
    [notice] = notices(db, attachment_id)  # the widget's item; its status follows the agent's notice
    assert notice.status == MessageStatus.SENT
