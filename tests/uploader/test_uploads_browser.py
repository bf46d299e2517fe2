"""Uploads through the chat widget in real headless Chromium, straight to a moto S3 server: integrity,
retried parts, resume after a reload, cancel, drag-and-drop, refusals."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from devstack.files import write_random_file
from ferry.config import Settings
from ferry.storage import ObjectNotFound, S3Storage
from tests.uploader.live import LiveStack, live_stack

pytestmark = pytest.mark.browser

MB = 1000 * 1000
UPLOAD_WAIT_MS = 120_000


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


@pytest.fixture
def s3_stack(moto_reset: str, database_url: str, tmp_path: Path) -> Iterator[LiveStack]:
    """Ferry over HTTP (S3 and SQS on the moto server, the bucket set up for the widget), no worker."""
    with live_stack(database_url, tmp_path, moto_reset, worker=False) as stack:
        yield stack


def storage_of(settings: Settings) -> S3Storage:
    return S3Storage(
        bucket=settings.s3_bucket, region=settings.aws_region, endpoint_url=settings.s3_endpoint_url
    )


def start_chat(page: Any, url: str) -> None:
    page.goto(f"{url}/chat")
    page.get_by_role("button", name="Start chat").click()
    expect(page.get_by_label("Message")).to_be_focused()


def upload_item(page: Any, name: str) -> Any:
    return page.get_by_role("log").locator(".upload").filter(has_text=name)


def stored_sha256(storage: S3Storage, key: str) -> str:
    digest = hashlib.sha256()
    for chunk in storage.read(key):
        digest.update(chunk)
    return digest.hexdigest()


def part_number(url: str) -> int | None:
    values = parse_qs(urlsplit(url).query).get("partNumber")
    return int(values[0]) if values else None


def parts_matching(numbers: str) -> re.Pattern[str]:
    """A URL pattern for part PUTs whose number matches the regex `numbers` (only those are intercepted)."""
    return re.compile(rf"[?&]partNumber=(?:{numbers})(?:&|$)")


def dated_a_day_earlier(url: str) -> str:
    """A presigned URL as it would be a day after it was signed (its X-Amz-Date and credential scope a day
    earlier): S3 refuses it with 403 AccessDenied "Request has expired" (the local S3 checks the time before
    the signature)."""
    signed_at = re.search(r"X-Amz-Date=((\d{8})T\d{6}Z)", url)
    assert signed_at is not None
    earlier = datetime.strptime(signed_at[1], "%Y%m%dT%H%M%SZ") - timedelta(days=1)
    dated = url.replace(signed_at[0], f"X-Amz-Date={earlier:%Y%m%dT%H%M%SZ}")
    return dated.replace(f"%2F{signed_at[2]}%2F", f"%2F{earlier:%Y%m%d}%2F")


def poll(page: Any, condition: Callable[[], Any], timeout: float = 60.0) -> Any:
    """Poll `condition` while Playwright keeps serving the page's routes and events (the sync API only
    runs route handlers while the test is inside a Playwright call)."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        page.wait_for_timeout(50)
    return value


def only_upload(page: Any, storage: S3Storage, prefix: str) -> tuple[str, str]:
    uploads = poll(page, lambda: storage.list_multipart_uploads(prefix))
    assert len(uploads) == 1
    return uploads[0].key, uploads[0].upload_id


def test_a_150_mb_file_arrives_intact(s3_stack: LiveStack, page: Any, tmp_path: Path) -> None:
    path = tmp_path / "scan-150.mp4"
    local_sha = write_random_file(path, 150 * MB)
    checksums: dict[int, str] = {}
    page.on(
        "request",
        lambda r: (
            checksums.__setitem__(part_number(r.url) or 0, r.headers.get("x-amz-checksum-sha256", ""))
            if r.method == "PUT" and part_number(r.url)
            else None
        ),
    )
    start_chat(page, s3_stack.url)
    page.get_by_label("Attach file").set_input_files(path)

    item = upload_item(page, "scan-150.mp4")
    expect(item).to_have_attribute("data-state", "scanning", timeout=UPLOAD_WAIT_MS)
    expect(item.get_by_role("status")).to_have_text("Checking for viruses…")
    expect(item.locator(".upload__progress")).to_contain_text("100%")

    storage = storage_of(s3_stack.settings)
    [attachment] = page.evaluate("fetch('/chat/api/attachments').then(r => r.json())")["attachments"]
    key = s3_stack.settings.s3_incoming_prefix + attachment["id"]
    assert stored_sha256(storage, key) == local_sha
    assert storage.get_tags(key) == {"scan-status": "pending"}
    assert attachment["status"] == "uploaded" and attachment["part_count"] == 18
    # Every part carried the SHA-256 of its own bytes (moto does not check it; real S3 does).
    data = path.read_bytes()
    part_size = attachment["part_size"]
    for number in (1, 9, 18):
        chunk = data[(number - 1) * part_size : number * part_size]
        assert checksums[number] == base64.b64encode(hashlib.sha256(chunk).digest()).decode()


def signed_parts(page: Any) -> list[int]:
    """Part numbers the page asks Ferry to sign, as it asks."""
    numbers: list[int] = []

    def record(request: Any) -> None:
        if request.method == "POST" and request.url.endswith("/sign"):
            numbers.extend(p["number"] for p in json.loads(request.post_data or "{}")["parts"])

    page.on("request", record)
    return numbers


def test_failed_part_requests_are_retried_and_the_upload_completes(
    s3_stack: LiveStack, page: Any, tmp_path: Path
) -> None:
    path = tmp_path / "retry.mp4"
    local_sha = write_random_file(path, 60 * MB)
    failures = {
        2: lambda route: route.abort("connectionreset"),
        3: lambda route: route.fulfill(status=400, body="<Error><Code>BadDigest</Code></Error>"),
        5: lambda route: route.fulfill(status=500, body="<Error><Code>InternalError</Code></Error>"),
        # The local S3 answers an expired URL's 403 AccessDenied "Request has expired" as S3 does.
        7: lambda route: route.continue_(url=aged.setdefault(7, dated_a_day_earlier(route.request.url))),
    }
    aged: dict[int, str] = {}
    failed: list[int] = []

    def flaky(route: Any) -> None:
        number = part_number(route.request.url) or 0
        if route.request.method == "PUT" and number not in failed:
            failed.append(number)
            failures[number](route)
            return
        route.continue_()

    page.route(parts_matching("2|3|5|7"), flaky)
    answers: dict[str, int] = {}
    page.on("response", lambda answer: answers.__setitem__(answer.url, answer.status))
    signed = signed_parts(page)
    start_chat(page, s3_stack.url)
    page.get_by_label("Attach file").set_input_files(path)
    item = upload_item(page, "retry.mp4")
    expect(item).to_have_attribute("data-state", "scanning", timeout=UPLOAD_WAIT_MS)
    assert sorted(failed) == [2, 3, 5, 7]
    assert answers[aged[7]] == 403
    # A refused signature (403) or checksum (400) gets a new URL; a dropped connection or a 500 does not.
    assert sorted(signed) == sorted([*range(1, 9), 3, 7])
    [attachment] = page.evaluate("fetch('/chat/api/attachments').then(r => r.json())")["attachments"]
    key = s3_stack.settings.s3_incoming_prefix + attachment["id"]
    assert stored_sha256(storage_of(s3_stack.settings), key) == local_sha


def test_a_lost_connection_pauses_the_upload_until_it_returns(
    s3_stack: LiveStack, page: Any, tmp_path: Path
) -> None:
    path = tmp_path / "offline.mp4"
    local_sha = write_random_file(path, 40 * MB)
    storage = storage_of(s3_stack.settings)
    page.route(parts_matching("[3-9]"), lambda route: route.abort("internetdisconnected"))
    start_chat(page, s3_stack.url)
    page.get_by_label("Attach file").set_input_files(path)
    key, upload_id = only_upload(page, storage, s3_stack.settings.s3_incoming_prefix)
    poll(page, lambda: len(storage.list_parts(key, upload_id)) == 2)

    page.context.set_offline(True)
    item = upload_item(page, "offline.mp4")
    expect(item).to_contain_text("Connection lost. The upload continues when it is back.")
    expect(item).to_have_attribute("data-state", "uploading")
    page.unroute_all()
    page.context.set_offline(False)
    expect(item).to_have_attribute("data-state", "scanning", timeout=UPLOAD_WAIT_MS)
    expect(item).not_to_contain_text("Connection lost")
    assert stored_sha256(storage, key) == local_sha


def test_after_a_reload_reselecting_the_file_sends_only_the_missing_parts(
    s3_stack: LiveStack, page: Any, tmp_path: Path
) -> None:
    path = tmp_path / "resume.mp4"
    local_sha = write_random_file(path, 150 * MB)
    storage = storage_of(s3_stack.settings)
    prefix = s3_stack.settings.s3_incoming_prefix

    # Parts after the sixth cannot get through (a network that dropped) until the page is reloaded.
    page.route(parts_matching("[7-9]|[1-9][0-9]+"), lambda route: route.abort("internetdisconnected"))
    start_chat(page, s3_stack.url)
    page.get_by_label("Attach file").set_input_files(path)
    key, upload_id = only_upload(page, storage, prefix)
    poll(page, lambda: [p.number for p in storage.list_parts(key, upload_id)] == [1, 2, 3, 4, 5, 6])

    page.reload()
    page.unroute_all()
    item = upload_item(page, "resume.mp4")
    expect(item).to_have_attribute("data-state", "uploading")
    expect(item).to_contain_text("Select the same file again to continue this upload.")

    signed = signed_parts(page)
    sent: list[int] = []
    page.on("request", lambda r: sent.append(part_number(r.url)) if r.method == "PUT" else None)
    page.get_by_label("Attach file").set_input_files(path)
    expect(upload_item(page, "resume.mp4")).to_have_attribute(
        "data-state", "scanning", timeout=UPLOAD_WAIT_MS
    )
    expect(page.get_by_role("log").locator(".upload:visible")).to_have_count(1)

    assert sorted(signed) == list(range(7, 19))
    assert sorted(sent) == list(range(7, 19))
    assert stored_sha256(storage, key) == local_sha


def test_cancel_aborts_the_multipart_upload(s3_stack: LiveStack, page: Any, tmp_path: Path) -> None:
    path = tmp_path / "cancel.mp4"
    write_random_file(path, 40 * MB)
    storage = storage_of(s3_stack.settings)
    prefix = s3_stack.settings.s3_incoming_prefix
    page.route(parts_matching("[3-9]|[1-9][0-9]+"), lambda route: route.abort("internetdisconnected"))
    start_chat(page, s3_stack.url)
    page.get_by_label("Attach file").set_input_files(path)
    key, upload_id = only_upload(page, storage, prefix)
    poll(page, lambda: len(storage.list_parts(key, upload_id)) == 2)

    item = upload_item(page, "cancel.mp4")
    item.get_by_role("button", name="Cancel cancel.mp4", exact=True).click()
    expect(item).to_have_attribute("data-state", "cancelled")
    poll(page, lambda: storage.list_multipart_uploads(prefix) == [])
    with pytest.raises(ObjectNotFound):
        storage.list_parts(key, upload_id)
    with pytest.raises(ObjectNotFound):
        storage.head(key)


def test_pause_and_resume(s3_stack: LiveStack, page: Any, tmp_path: Path) -> None:
    path = tmp_path / "pause.mp4"
    local_sha = write_random_file(path, 40 * MB)
    storage = storage_of(s3_stack.settings)
    page.route(parts_matching("[3-9]|[1-9][0-9]+"), lambda route: route.abort("internetdisconnected"))
    start_chat(page, s3_stack.url)
    page.get_by_label("Attach file").set_input_files(path)
    key, upload_id = only_upload(page, storage, s3_stack.settings.s3_incoming_prefix)
    poll(page, lambda: len(storage.list_parts(key, upload_id)) == 2)

    item = upload_item(page, "pause.mp4")
    item.get_by_role("button", name="Pause pause.mp4", exact=True).click()
    expect(item).to_have_attribute("data-state", "paused")
    page.unroute_all()
    item.get_by_role("button", name="Resume pause.mp4", exact=True).click()
    expect(item).to_have_attribute("data-state", "scanning", timeout=UPLOAD_WAIT_MS)
    assert stored_sha256(storage, key) == local_sha


def test_several_files_dropped_at_once(s3_stack: LiveStack, page: Any) -> None:
    start_chat(page, s3_stack.url)
    page.evaluate(
        """() => {
            const files = [new File(["%PDF-1.7 a"], "a.pdf", {type: "application/pdf"}),
                           new File([new Uint8Array(9 * 1024 * 1024)], "b.png", {type: "image/png"})];
            const transfer = new DataTransfer();
            for (const file of files) transfer.items.add(file);
            const zone = document.getElementById("conversation");
            for (const type of ["dragenter", "dragover", "drop"]) {
                const init = {dataTransfer: transfer, bubbles: true, cancelable: true};
                zone.dispatchEvent(new DragEvent(type, init));
            }
        }"""
    )
    for name in ("a.pdf", "b.png"):
        expect(upload_item(page, name)).to_have_attribute("data-state", "scanning", timeout=UPLOAD_WAIT_MS)
    listed = page.evaluate("fetch('/chat/api/attachments').then(r => r.json())")["attachments"]
    assert sorted((a["name"], a["strategy"]) for a in listed) == [("a.pdf", "single"), ("b.png", "multipart")]


def test_a_refused_file_shows_why(s3_stack: LiveStack, page: Any, tmp_path: Path) -> None:
    path = tmp_path / "setup.exe"
    path.write_bytes(b"MZ" + b"\0" * 100)
    start_chat(page, s3_stack.url)
    page.get_by_label("Attach file").set_input_files(path)
    item = upload_item(page, "setup.exe")
    expect(item).to_have_attribute("data-state", "rejected")
    expect(item).to_contain_text("Files of this type can't be sent here.")
    assert storage_of(s3_stack.settings).list_multipart_uploads("") == []
