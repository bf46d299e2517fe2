"""Files sent through the widget in real headless Chromium all the way to the agent (S3, clamd, the
worker, the Genesys stand-in): each keeps its card, labelled as the customer's, until "Delivered to the
agent"; axe-core finds no serious accessibility violation on the way."""

from __future__ import annotations

import hashlib
import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.clamd import ClamdProcess
from devstack.files import write_random_file
from ferry.sizes import human_size
from tests.axe import assert_accessible
from tests.uploader.live import LiveStack, live_stack

pytestmark = pytest.mark.browser

MB = 1000 * 1000
DELIVERY_WAIT_MS = 180_000


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


@pytest.fixture
def scan_stack(
    moto_reset: str, database_url: str, tmp_path: Path, clamd: ClamdProcess
) -> Iterator[LiveStack]:
    """The live stack with the worker's scan loop on a real clamd."""
    env = {"CLAMD_ADDRESS": clamd.address, "SCAN_QUEUE_WAIT_SECONDS": "0"}
    with live_stack(database_url, tmp_path, moto_reset, env=env) as stack:
        yield stack


def write_png(path: Path, side: int = 44) -> None:
    """A valid RGB PNG of random pixels (about 6 kB: noise does not compress)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = b"".join(b"\0" + os.urandom(side * 3) for _ in range(side))
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def mp4_head(size: int) -> bytes:
    """An ISO base media file's ftyp box and the header of one mdat box filling the rest of `size` bytes."""
    ftyp = b"isom" + struct.pack(">I", 512) + b"isomiso2mp41"
    head = struct.pack(">I", 8 + len(ftyp)) + b"ftyp" + ftyp
    return head + struct.pack(">I", size - len(head)) + b"mdat"


def start_chat(page: Any, url: str) -> None:
    page.goto(f"{url}/chat")
    assert_accessible(page)  # the start screen
    page.get_by_role("button", name="Start chat").click()
    expect(page.get_by_label("Message")).to_be_focused()


def file_card(page: Any, name: str) -> Any:
    """The visible transcript item that shows the file `name`."""
    return (
        page.get_by_role("log")
        .locator("li.msg:visible")
        .filter(has=page.locator(".upload__name", has_text=name))
    )


def assert_delivered_as_the_customers(page: Any, path: Path, sha256: str) -> Any:
    """One card for the file, labelled You, ending "Delivered to the agent", with a receipt whose SHA-256 is
    the file's."""
    card = file_card(page, path.name)
    expect(card.locator(".upload__state")).to_have_text("Delivered to the agent", timeout=DELIVERY_WAIT_MS)
    expect(card).to_have_count(1)
    expect(card.locator(".msg__who")).to_have_text("You")
    receipt = card.locator(".upload__receipt")
    expect(receipt.locator(".upload__sha256")).to_have_text(sha256)
    expect(receipt).to_contain_text(path.name)
    expect(receipt).to_contain_text(human_size(path.stat().st_size))
    return card


def test_a_small_png_keeps_its_card_until_delivered(scan_stack: LiveStack, page: Any, tmp_path: Path) -> None:
    path = tmp_path / "photo.png"
    write_png(path)
    assert 5_000 < path.stat().st_size < 8_000
    sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    start_chat(page, scan_stack.url)
    page.get_by_label("Message").fill("Here is the photo")
    page.get_by_label("Message").press("Enter")
    page.get_by_label("Attach file").set_input_files(path)
    expect(file_card(page, "photo.png")).to_have_count(1)
    assert_accessible(page)  # during the chat, with the upload's card
    assert_delivered_as_the_customers(page, path, sha256)
    assert_accessible(page)
    # A reload shows the same single card and receipt (the hash the browser declared, from the server).
    page.reload()
    assert_delivered_as_the_customers(page, path, sha256)
    # The agent's message carries the same SHA-256.
    [conversation] = scan_stack.conversations()
    texts = [m["text"] for m in scan_stack.standin_conversation(conversation["id"])["messages"]]
    assert any(f"SHA-256: {sha256}" in text for text in texts), texts


def test_a_150_mb_mp4_keeps_its_card_until_delivered(
    scan_stack: LiveStack, page: Any, tmp_path: Path
) -> None:
    path = tmp_path / "claim.mp4"
    size = 150 * MB
    sha256 = write_random_file(path, size, head=mp4_head(size))
    start_chat(page, scan_stack.url)
    page.get_by_label("Attach file").set_input_files(path)
    assert_delivered_as_the_customers(page, path, sha256)
    assert_accessible(page)
