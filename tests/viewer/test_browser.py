"""End to end in real Chromium: Genesys login by clicking the stand-in's user button, who sees what,
video seeking through Range requests, logout, and framing by Genesys only."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Page, Response
from sqlalchemy import select

from ferry.models import AccessAudit, AttachmentStatus, AuditOutcome, ViewerSession
from ferry.storage import S3Storage
from genesys_standin.server import StandinServer
from scanner.previews import make_preview
from tests.axe import assert_accessible
from tests.viewer.live import LiveFerry
from tests.viewer.seeding import add_attachment, add_chat, dicom_bytes
from tests.viewer.webm import encode_vp8, mux
from tests.viewer.world import USERS
from viewer import tokens

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def browser(chromium: Browser) -> Browser:
    """The session's Chromium (one Playwright instance per session)."""
    return chromium


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    fresh = browser.new_context()
    fresh.set_default_timeout(15_000)
    yield fresh
    fresh.close()


@pytest.fixture(scope="module")
def webm(browser: Browser, standin_server: StandinServer) -> bytes:
    """A 20-second, about 8 MB VP8 WebM with cues."""
    page = browser.new_page()
    page.goto(f"{standin_server.base_url}/_control/settings")  # any page of a secure (loopback) origin
    data = mux(encode_vp8(page))
    page.close()
    return data


def sign_in(page: Page, live: LiveFerry, path: str, user: str) -> None:
    """Open a Ferry link and press the user's button on the Genesys login page."""
    page.goto(f"{live.url}{path}")
    page.get_by_role("button", name=USERS[user]["email"]).click()
    page.wait_for_url(f"{live.url}/**")


def audit(live: LiveFerry) -> list[tuple[str, str, str | None]]:
    with live.services.db.session() as session:
        rows = session.scalars(select(AccessAudit).order_by(AccessAudit.id))
        return [(r.action, str(r.outcome), r.reason) for r in rows]


def test_login_end_to_end_comes_back_to_the_link(live: LiveFerry, context: BrowserContext) -> None:
    chat = add_chat(live.services, nickname="<img src=x onerror=window.pwned=1>")
    attachment = add_attachment(
        live.services, chat=chat, filename="<img src=y onerror=window.pwned=2>.png", declared_type="image/png"
    )
    page = context.new_page()

    sign_in(page, live, f"/files/{attachment.id}", "reviewer")

    assert page.url == f"{live.url}/files/{attachment.id}"
    assert page.locator("h1.filename").text_content() == "<img src=y onerror=window.pwned=2>.png"
    assert page.evaluate("window.pwned") is None
    [cookie] = [c for c in context.cookies() if c["name"] == "ferry_viewer"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert audit(live)[:2] == [("login", "allowed", "roles=Quality Evaluator"), ("view", "allowed", None)]


@pytest.mark.parametrize(
    ("user", "heading", "outcome", "reason"),
    [
        ("agent", "clip.mp4", "allowed", None),
        ("reviewer", "clip.mp4", "allowed", None),
        ("agent2", "Not available", "denied", "not_participant"),
        ("inactive", "No access", "denied", "user_inactive"),
        ("foreign", "No access", "denied", "foreign_organization"),
        ("norole", "No access", "denied", "no_role"),
    ],
)
def test_who_sees_what(
    user: str, heading: str, outcome: str, reason: str | None, live: LiveFerry, context: BrowserContext
) -> None:
    conversation = live.world.conversation("customer-1", "agent")
    live.world.conversation("customer-2", "agent2")
    attachment = add_attachment(live.services, conversation_id=conversation)
    page = context.new_page()

    sign_in(page, live, f"/files/{attachment.id}", user)

    assert page.locator("h1").first.text_content() == heading
    # The page's (or the login's) row: a shown video also loads its content, audited as a preview.
    _, recorded, why = [row for row in audit(live) if row[0] != "preview"][-1]
    assert (recorded, why.split(":")[0] if why else None) == (outcome, reason)


def test_a_video_preview_seeks_with_range_requests(
    live: LiveFerry, context: BrowserContext, webm: bytes
) -> None:
    attachment = add_attachment(
        live.services, content=webm, declared_type="video/webm", filename="claim.webm"
    )
    page = context.new_page()
    media: list[tuple[str | None, int]] = []

    def watch(response: Response) -> None:
        if response.url.startswith(live.services.settings.s3_endpoint_url or "-"):
            media.append((response.request.all_headers().get("range"), response.status))

    page.on("response", watch)
    sign_in(page, live, f"/files/{attachment.id}", "reviewer")
    page.wait_for_function("document.querySelector('video').readyState >= 1")

    duration = page.evaluate("document.querySelector('video').duration")
    position = page.evaluate(
        """() => new Promise((resolve) => {
             const video = document.querySelector('video');
             video.addEventListener('seeked', () => resolve(video.currentTime), {once: true});
             video.currentTime = 17.5;
           })"""
    )

    assert 19 <= duration <= 21
    assert 17 <= position <= 18
    deadline = time.monotonic() + 10
    while (
        not any(r and not r.startswith("bytes=0-") and s == 206 for r, s in media)
        and time.monotonic() < deadline
    ):
        page.wait_for_timeout(100)
    seeks = [(r, s) for r, s in media if r and not r.startswith("bytes=0-")]
    assert seeks and all(s == 206 for _, s in seeks), media
    assert ("preview", "allowed", "inline") in audit(live)


def test_logout_revokes_the_genesys_token(live: LiveFerry, context: BrowserContext) -> None:
    page = context.new_page()
    sign_in(page, live, "/me", "agent")
    with live.services.db.session() as session:
        token = tokens.unseal(
            live.services.settings.secret_key, session.scalars(select(ViewerSession.access_token)).one()
        )
    assert token

    page.get_by_role("button", name="Sign out").click()

    page.wait_for_url(f"{live.url}/signed-out")
    assert page.locator("h1").text_content() == "Signed out"
    me = requests.get(
        f"{live.world.base_url}/api/v2/users/me", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert me.status_code == 401
    page.goto(f"{live.url}/me")
    assert page.url.startswith(f"{live.world.base_url}/oauth/authorize")
    assert audit(live)[-1][:2] == ("logout", str(AuditOutcome.ALLOWED))


def framing_page(live: LiveFerry, src: str, host: str) -> str:
    """A page that frames `src`, served from `host` (the moto server's origin is the configured Genesys
    host; the same server reached as localhost is another origin). Chromium would refuse to let a page
    that is not on a loopback address frame a loopback one, so both must be real loopback servers."""
    storage = live.services.storage
    storage.client.put_object(
        Bucket=storage.bucket,
        Key="agent-ui.html",
        Body=f'<!doctype html><iframe id="w" src="{src}"></iframe>'.encode(),
        ContentType="text/html",
    )
    # Signed for the host it is fetched from: S3 refuses a URL whose host was changed after signing.
    at_host = S3Storage(bucket=storage.bucket, region=storage.region, endpoint_url=host)
    return at_host.presign_get("agent-ui.html", expires=60, filename=None, inline=True, content_type=None)


def test_only_genesys_may_frame_the_conversation_page(live: LiveFerry, context: BrowserContext) -> None:
    genesys = live.services.settings.s3_endpoint_url or ""
    conversation = live.world.conversation("customer-3", "agent")
    src = f"{live.url}/conversations/{conversation}?gcHostOrigin={genesys}"
    page = context.new_page()

    page.goto(framing_page(live, src, genesys))
    allowed = page.frame_locator("#w").get_by_role("link", name="Sign in with Genesys Cloud")
    allowed.wait_for()

    assert allowed.get_attribute("data-popup-login") == "/login?next=/auth/done"
    page.goto(framing_page(live, src, genesys.replace("127.0.0.1", "localhost")))
    # Chromium replaces a frame that CSP frame-ancestors refuses with its own error page.
    deadline = time.monotonic() + 10
    while not page.frames[-1].url.startswith("chrome-error://") and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert page.frames[-1].url.startswith("chrome-error://")


def test_the_viewer_pages_have_no_serious_accessibility_violation(
    live: LiveFerry, context: BrowserContext
) -> None:
    conversation = live.world.conversation("customer-1", "agent")
    long_name = "claim-2026-04-17-rear-bumper-damage-front-left-side-photographed-at-the-garage.mp4"
    attachment = add_attachment(live.services, conversation_id=conversation, filename=long_name)
    add_attachment(
        live.services,
        conversation_id=conversation,
        filename=long_name,
        status=AttachmentStatus.REJECTED,
        tag=None,
    )
    page = context.new_page()
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, live, "/files", "auditor")  # a Quality Administrator: reviewer and auditor

    for path in ("/files", f"/files/{attachment.id}", f"/conversations/{conversation}", "/audit"):
        page.goto(f"{live.url}{path}")
        assert_accessible(page)
    # The QA list at 1280 px: headings and statuses each on one line, never broken inside a word.
    page.goto(f"{live.url}/files")
    lines = page.evaluate(
        """() => [...document.querySelectorAll("table.list th, td[class^='status-']")].map((cell) => {
            const range = document.createRange();
            range.selectNodeContents(cell);
            const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
            return [cell.textContent.trim(), tops.size];
        })"""
    )
    assert ["rejected", 1] in lines
    assert all(count == 1 for _, count in lines), lines


def test_a_dicom_file_shows_the_scanners_image_beside_its_header(
    live: LiveFerry, context: BrowserContext
) -> None:
    study = dicom_bytes()
    picture = make_preview([study], "application/dicom", timeout=30)
    assert picture is not None
    attachment = add_attachment(
        live.services, content=study, declared_type="application/dicom", filename="scan.dcm", preview=picture
    )
    page = context.new_page()
    page.set_viewport_size({"width": 1280, "height": 900})

    sign_in(page, live, f"/files/{attachment.id}", "reviewer")

    image = page.locator(".dicom-study img")
    image.wait_for()
    page.wait_for_function("() => document.querySelector('.dicom-study img').complete")
    width = image.evaluate("(img) => img.naturalWidth")
    assert width > 0, "the preview image did not load (CSP, redirect or presigned URL)"
    header = page.locator("table.dicom").bounding_box()
    shown = image.bounding_box()
    assert header is not None and shown is not None and shown["x"] + shown["width"] <= header["x"]
    assert page.locator("table.dicom").get_by_text("Doe^Jane").count() == 1
    assert_accessible(page)
    assert ("preview", "allowed", "picture") in audit(live)
