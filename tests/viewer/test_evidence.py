"""The evidence export: reviewers get a streamed ZIP of a conversation's clean files and a manifest whose
hashes match them, everyone else a clear refusal; every export is audited; a 1 GB file streams through
without the app's memory growing with it."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import pytest
import requests
from botocore.config import Config
from flask.testing import FlaskClient
from sqlalchemy import select

from devstack.supervisor import wait_for_http
from ferry import create_app
from ferry.config import Settings
from ferry.models import AccessAudit, Attachment, AttachmentStatus, AuditOutcome
from ferry.objects import ScanTag
from ferry.services import Services
from genesys_standin.server import StandinServer
from tests.conftest import free_port, prepare_bucket
from tests.viewer.conftest import Login
from tests.viewer.live import live_environ
from tests.viewer.seeding import add_attachment, add_chat
from tests.viewer.world import World

GIB = 1024**3
PART = 64 * 1024 * 1024


def evidence_rows(services: Services) -> list[AccessAudit]:
    with services.db.session() as session:
        return list(session.scalars(select(AccessAudit).where(AccessAudit.action == "evidence")))


def hashes_match(archive: zipfile.ZipFile) -> dict[str, str]:
    """Each file named in the manifest, read back from the ZIP and hashed: name → SHA-256."""
    manifest = json.loads(archive.read("manifest.json"))
    found = {}
    for entry in manifest["files"]:
        if entry["in_zip"] is None:
            continue
        digest = hashlib.sha256()
        with archive.open(entry["in_zip"]) as member:
            for block in iter(lambda member=member: member.read(1 << 20), b""):
                digest.update(block)
        assert digest.hexdigest() == entry["sha256"], entry["filename"]
        found[entry["filename"]] = digest.hexdigest()
    return found


def test_a_reviewer_exports_files_manifest_and_history(
    login: Login, client: FlaskClient, services: Services
) -> None:
    conversation = str(uuid.uuid4())
    chat = add_chat(services)
    photo = add_attachment(
        services,
        chat=chat,
        conversation_id=conversation,
        content=b"photo" * 999,
        filename="claim.png",
        declared_type="image/png",
    )
    report = add_attachment(
        services,
        chat=chat,
        conversation_id=conversation,
        content=b"%PDF-1.7 " * 50,
        filename="report.pdf",
        declared_type="application/pdf",
    )
    virus = add_attachment(
        services,
        chat=chat,
        conversation_id=conversation,
        status=AttachmentStatus.INFECTED,
        tag="infected",
        filename="bad.exe",
    )
    with services.db.session() as session:
        session.get_one(Attachment, photo.id).declared_sha256 = photo.sha256  # the browser declared it
    login("reviewer")
    assert client.get(f"/files/{photo.id}").status_code == 200  # some access history to show

    page = client.get(f"/conversations/{conversation}")
    answer = client.get(f"/conversations/{conversation}/evidence.zip")

    assert f"/conversations/{conversation}/evidence.zip" in page.get_data(as_text=True)
    assert answer.status_code == 200 and answer.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(answer.get_data()))
    assert archive.testzip() is None
    manifest = json.loads(archive.read("manifest.json"))
    by_name = {f["filename"]: f for f in manifest["files"]}
    assert set(by_name) == {"claim.png", "report.pdf", "bad.exe"}
    assert hashes_match(archive) == {"claim.png": photo.sha256, "report.pdf": report.sha256}
    assert by_name["bad.exe"]["in_zip"] is None and "not clean" in by_name["bad.exe"]["left_out"]
    assert by_name["bad.exe"]["signature"] == "Eicar-Test-Signature"
    assert by_name["claim.png"]["declared_sha256"] == photo.sha256
    assert by_name["report.pdf"]["declared_sha256"] is None
    assert by_name["claim.png"]["engine_version"] == "ClamAV 1.4.6"
    assert by_name["claim.png"]["signature_version"] == "27000"
    assert by_name["claim.png"]["uploaded_at"] and by_name["claim.png"]["scanned_at"]
    assert [a["action"] for a in by_name["claim.png"]["access_history"]] == ["view"]
    html = archive.read("manifest.html").decode()
    assert photo.sha256 in html and "Eicar-Test-Signature" in html
    rows = evidence_rows(services)
    assert {r.attachment_id for r in rows} == {photo.id, report.id, None}
    assert all(r.outcome == AuditOutcome.ALLOWED for r in rows)
    assert virus.id not in {r.attachment_id for r in rows}


def test_an_agent_is_refused_clearly_and_the_refusal_is_audited(
    login: Login, client: FlaskClient, services: Services
) -> None:
    conversation = str(uuid.uuid4())
    add_attachment(services, conversation_id=conversation)
    login("agent")

    answer = client.get(f"/conversations/{conversation}/evidence.zip")

    assert answer.status_code == 403
    assert "Only reviewers can export the evidence of a conversation." in answer.get_data(as_text=True)
    assert [(r.outcome, r.reason) for r in evidence_rows(services)] == [
        (AuditOutcome.DENIED, f"no_role: conversation={conversation}")
    ]


def rss_bytes(pid: int) -> int:
    """A process's resident set size, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS in /proc/{pid}/status")


def store_big(services: Services, conversation: str, size: int) -> str:
    """A clean `size`-byte attachment, uploaded in parts of one repeated 64 MiB block; its SHA-256."""
    block = hashlib.shake_256(b"evidence").digest(PART)
    attachment = add_attachment(
        services, conversation_id=conversation, store=False, size=size, filename="scene.mp4"
    )
    # moto's complete step for 1 GiB takes longer than botocore's read timeout, and a retried complete
    # finds the upload gone: one patient attempt.
    client = boto3.client(
        "s3",
        region_name=services.settings.aws_region,
        endpoint_url=services.settings.s3_endpoint_url,
        config=Config(read_timeout=900, retries={"max_attempts": 1}),
    )
    bucket, key = services.storage.bucket, attachment.object_key
    upload = client.create_multipart_upload(
        Bucket=bucket, Key=key, ContentType="video/mp4", Tagging=f"{ScanTag.STATUS}=clean"
    )
    digest, parts = hashlib.sha256(), []
    for number in range(1, size // PART + 1):
        answer = client.upload_part(
            Bucket=bucket, Key=key, UploadId=upload["UploadId"], PartNumber=number, Body=block
        )
        parts.append({"PartNumber": number, "ETag": answer["ETag"]})
        digest.update(block)
    client.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
    )
    with services.db.session() as session:
        session.get_one(Attachment, attachment.id).sha256 = digest.hexdigest()
    return digest.hexdigest()


@dataclass
class Apart:
    """Ferry serving from a process of its own (so its RSS is its own, not moto's in this one), and an
    in-process app on the same database and bucket to seed them."""

    url: str
    pid: int
    services: Services
    world: World


@pytest.fixture
def apart(
    database_url: str, tmp_path: Path, moto_reset: str, standin_server: StandinServer
) -> Iterator[Apart]:
    port = free_port()
    world = World(standin_server.base_url).seed([f"http://127.0.0.1:{port}"])
    environ = live_environ(database_url, tmp_path, moto_reset, world, port)
    settings = Settings.from_env(environ)
    prepare_bucket(settings)
    app = create_app(settings)
    argv = [sys.executable, "-m", "flask", "--app", "wsgi", "run", "--port", str(port), "--no-reload"]
    with (tmp_path / "ferry.log").open("wb") as log:
        child = subprocess.Popen(argv, env={**os.environ, **environ}, stdout=log, stderr=subprocess.STDOUT)
        try:
            assert wait_for_http(f"http://127.0.0.1:{port}/healthz", "ferry")
            yield Apart(f"http://127.0.0.1:{port}", child.pid, app.extensions["ferry"], world)
        finally:
            child.terminate()
            child.wait(timeout=30)
            app.extensions["ferry"].db.dispose()


def test_a_1_gib_file_streams_without_the_app_holding_it(apart: Apart, tmp_path: Path) -> None:
    conversation = str(uuid.uuid4())
    chat = add_chat(apart.services)
    for name in ("a.png", "b.pdf"):
        add_attachment(
            apart.services, chat=chat, conversation_id=conversation, content=os.urandom(4096), filename=name
        )
    big_sha = store_big(apart.services, conversation, GIB)
    browser = requests.Session()
    start = browser.get(f"{apart.url}/login?next=/me", allow_redirects=False, timeout=10)
    callback = urlsplit(apart.world.pick(start.headers["Location"], "reviewer"))
    assert browser.get(f"{apart.url}{callback.path}?{callback.query}", timeout=10).ok
    zip_path = tmp_path / "evidence.zip"
    before = peak = rss_bytes(apart.pid)

    url = f"{apart.url}/conversations/{conversation}/evidence.zip"
    with browser.get(url, stream=True, timeout=60) as answer:
        assert answer.status_code == 200
        with zip_path.open("wb") as out:
            for n, chunk in enumerate(answer.iter_content(1 << 20)):
                out.write(chunk)
                if n % 8 == 0:
                    peak = max(peak, rss_bytes(apart.pid))

    print(f"app RSS {before >> 20} MiB before, peak {peak >> 20} MiB while streaming {GIB >> 20} MiB")
    assert peak - before < 50 * 1024 * 1024, f"RSS grew by {(peak - before) >> 20} MiB"
    with zipfile.ZipFile(zip_path) as archive:
        found = hashes_match(archive)
    assert found["scene.mp4"] == big_sha
    assert set(found) == {"a.png", "b.pdf", "scene.mp4"}
    assert zip_path.stat().st_size > GIB
