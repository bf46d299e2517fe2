"""The widget in real headless Chromium against the Genesys stand-in, Ferry over HTTP and the worker."""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests
from sqlalchemy import select

from devstack.clamd import ClamdProcess
from ferry.models import Attachment, AttachmentOrigin, AttachmentStatus
from ferry.worker import outbox_client
from genesys_standin.state import DEFAULT_PROFILE_ID
from tests.conftest import free_port
from tests.genesys.published import published_definitions
from tests.serving import wait_for
from tests.uploader.live import LiveStack, live_stack

pytestmark = pytest.mark.browser

AGENT_WAIT_MS = 5000


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def start_chat(page: Any, url: str, name: str = "", email: str = "") -> None:
    page.goto(f"{url}/chat")
    if name:
        page.get_by_label("Your name").fill(name)
    if email:
        page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Start chat").click()
    expect(page.get_by_label("Message")).to_be_focused()


def send(page: Any, text: str) -> None:
    box = page.get_by_label("Message")
    box.fill(text)
    box.press("Enter")


def only_conversation(stack: LiveStack) -> dict[str, Any]:
    conversations = wait_for(stack.conversations)
    assert len(conversations) == 1
    result: dict[str, Any] = conversations[0]
    return result


def assert_schema_valid(payload: dict[str, Any], definition: str) -> None:
    """Validate against the published Genesys swagger."""
    schema = {"$ref": f"#/definitions/{definition}", "definitions": published_definitions()}
    jsonschema.Draft4Validator(schema).validate(payload)


def console_errors(page: Any) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    return errors


def test_a_chat_round_trip_reaches_genesys_and_survives_a_reload(stack: LiveStack, page: Any) -> None:
    errors = console_errors(page)
    start_chat(page, stack.url, name="Jane Doe", email="jane@example.com")
    send(page, "Hello, I need help with my claim")
    log = page.get_by_role("log")
    expect(log.get_by_text("Hello, I need help with my claim")).to_be_visible()

    conversation = only_conversation(stack)
    wait_for(lambda: stack.inbound_texts(conversation["id"]) == ["Hello, I need help with my claim"])
    inbound = stack.standin_message(conversation["id"], 0)
    assert_schema_valid(inbound["payload"], "OpenInboundNormalizedMessage")
    sender = inbound["payload"]["channel"]["from"]
    assert (
        sender["idType"] == "Opaque"
        and sender["nickname"] == "Jane Doe"
        and sender["email"] == "jane@example.com"
    )
    expect(log.locator(".msg--customer .msg__status")).to_have_text("Delivered")

    stack.agent_reply(conversation["id"], "Hi Jane, happy to help.")
    expect(log.get_by_text("Hi Jane, happy to help.")).to_be_visible(timeout=AGENT_WAIT_MS)

    page.reload()
    items = page.get_by_role("log").locator(".msg")
    expect(items).to_have_count(2)
    expect(items.nth(0)).to_contain_text("Hello, I need help with my claim")
    expect(items.nth(1)).to_contain_text("Hi Jane, happy to help.")
    expect(items.nth(0).locator(".msg__status")).to_have_text("Delivered")
    assert errors == [], errors  # no CSP violation, no script error


def test_markup_in_names_and_messages_is_shown_as_text(stack: LiveStack, page: Any) -> None:
    name = "<img src=x onerror=\"alert('name')\">"
    text = '<script>alert("customer")</script><b id="customer-markup">bold</b>'
    reply = '<img src=x onerror="alert(\'agent\')"><i id="agent-markup">x</i>'
    start_chat(page, stack.url, name=name)
    send(page, text)
    log = page.get_by_role("log")
    expect(log.get_by_text(text)).to_be_visible()
    conversation = only_conversation(stack)
    assert conversation["customer"]["nickname"] == name
    stack.agent_reply(conversation["id"], reply)
    expect(log.get_by_text(reply)).to_be_visible(timeout=AGENT_WAIT_MS)
    page.reload()
    expect(page.get_by_role("log").get_by_text(reply)).to_be_visible()
    assert page.locator("#customer-markup, #agent-markup, img[src=x]").count() == 0
    assert page.dialogs == []


def test_keyboard_only_use_and_multiline_messages(stack: LiveStack, page: Any) -> None:
    page.goto(f"{stack.url}/chat")
    expect(page.get_by_role("button", name="Start chat")).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Your name")).to_be_focused()
    page.keyboard.type("Kim")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Email")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Start chat")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_label("Message")).to_be_focused()
    page.keyboard.type("first line")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("second line")
    page.keyboard.press("Enter")
    conversation = only_conversation(stack)
    wait_for(lambda: stack.inbound_texts(conversation["id"]) == ["first line\nsecond line"])
    page.keyboard.press("Enter")  # an empty box sends nothing and says why
    notice = page.get_by_role("alert").filter(has_text="Type a message before sending.")
    expect(notice).to_be_visible()
    # The event stream reconnecting (every CHAT_STREAM_SECONDS) leaves the notice alone. Once a second
    # reconnect starts, the first one has been answered and handled.
    for _ in range(2):
        with page.expect_request(lambda r: "/chat/api/events" in r.url):
            pass
    expect(notice).to_be_visible()
    assert stack.inbound_texts(conversation["id"]) == ["first line\nsecond line"]


def test_agent_messages_in_a_background_tab_are_announced_in_the_title(stack: LiveStack, page: Any) -> None:
    start_chat(page, stack.url)
    send(page, "anyone there?")
    conversation = only_conversation(stack)
    page.evaluate(
        """() => {
            Object.defineProperty(document, "hidden", { value: true, configurable: true });
            Object.defineProperty(document, "visibilityState", { value: "hidden", configurable: true });
            document.dispatchEvent(new Event("visibilitychange"));
        }"""
    )
    stack.agent_reply(conversation["id"], "Yes, I am here.")
    stack.agent_reply(conversation["id"], "How can I help?")
    expect(page).to_have_title("(2) New messages · Chat with us", timeout=AGENT_WAIT_MS)
    page.evaluate(
        """() => {
            Object.defineProperty(document, "hidden", { value: false, configurable: true });
            Object.defineProperty(document, "visibilityState", { value: "visible", configurable: true });
            document.dispatchEvent(new Event("visibilitychange"));
        }"""
    )
    expect(page).to_have_title("Chat with us")
    # Seeing them sends Genesys a Delivered receipt for each agent message.
    wait_for(
        lambda: all(
            m["status"] == "delivered"
            for m in stack.standin_conversation(conversation["id"])["messages"]
            if m["direction"] == "Outbound"
        )
    )


def test_typing_indicators_both_ways(stack: LiveStack, page: Any) -> None:
    start_chat(page, stack.url)
    send(page, "first")
    conversation = only_conversation(stack)
    wait_for(lambda: stack.inbound_texts(conversation["id"]) == ["first"])
    page.get_by_label("Message").type("still typ")
    wait_for(lambda: any(r["path"].endswith("/inbound/open/event") for r in stack.standin_requests()))
    stack.agent_typing(conversation["id"])
    expect(page.get_by_role("status").filter(has_text="The agent is typing…")).to_be_visible(
        timeout=AGENT_WAIT_MS
    )
    stack.agent_reply(conversation["id"], "done typing")
    expect(page.get_by_text("The agent is typing…")).to_be_hidden(timeout=AGENT_WAIT_MS)


PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


class Console:
    """The stand-in's agent console, driven as the agent's browser would (sign-in, form posts)."""

    def __init__(self, stack: LiveStack) -> None:
        self.base = stack.standin.base_url
        self.http = requests.Session()
        login = self.http.get(f"{self.base}/console/login", params={"next": "/"}, timeout=10)
        self.csrf = re.search(r'name="csrf" value="([^"]+)"', login.text).group(1)  # type: ignore[union-attr]
        signed_in = self.http.post(
            f"{self.base}/console/login",
            data={"user_id": stack.agent_id, "csrf": self.csrf, "next": "/"},
            allow_redirects=False,
            timeout=10,
        )
        assert signed_in.status_code == 303

    def send_file(self, conversation_id: str, name: str, mime: str, data: bytes, text: str = "") -> None:
        answer = self.http.post(
            f"{self.base}/console/conversations/{conversation_id}/reply",
            data={"csrf": self.csrf, "text": text},
            files={"file": (name, data, mime)},
            allow_redirects=False,
            timeout=10,
        )
        assert answer.status_code == 303, answer.text


@pytest.fixture
def scanning_stack(
    database_url: str, tmp_path: Path, moto_reset: str, clamd: ClamdProcess
) -> Iterator[LiveStack]:
    """The live stack with the worker's scan consumers on clamd, and an outbound profile allowing PDFs."""
    env = {"CLAMD_ADDRESS": clamd.address, "SCAN_RETRY_BASE_SECONDS": "0.1"}
    with live_stack(database_url, tmp_path, moto_reset, env=env) as live:
        with outbox_client(live.settings) as client:
            token = client.service_token()
        answer = requests.patch(
            f"{live.standin.base_url}/api/v2/conversations/messaging/supportedcontent/{DEFAULT_PROFILE_ID}",
            headers={"Authorization": f"Bearer {token}"},
            json={
                "name": "Default",
                "mediaTypes": {"allow": {"outbound": [{"type": "image/png"}, {"type": "application/pdf"}]}},
            },
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        yield live


def test_files_the_agent_sends_are_served_from_ferrys_bucket_and_infected_ones_never_arrive(
    scanning_stack: LiveStack, page: Any
) -> None:
    stack = scanning_stack
    start_chat(page, stack.url)
    send(page, "please send the form")
    conversation = only_conversation(stack)
    console = Console(stack)
    console.send_file(conversation["id"], "dot.png", "image/png", PNG, text="Here you go")
    console.send_file(conversation["id"], "form.pdf", "application/pdf", PDF)
    log = page.get_by_role("log")
    expect(log.get_by_text("Here you go")).to_be_visible(timeout=AGENT_WAIT_MS)

    # The image is shown inline, from Ferry's bucket by a presigned URL.
    image = log.get_by_role("img", name="dot.png")
    expect(image).to_be_visible(timeout=20_000)
    wait_for(lambda: image.evaluate("img => img.complete && img.naturalWidth === 1"))
    src = image.get_attribute("src")
    bucket_url = (
        f"{stack.settings.s3_endpoint_url}/{stack.settings.s3_bucket}/{stack.settings.s3_clean_prefix}"
    )
    assert src.startswith(bucket_url) and "X-Amz-Signature=" in src

    # The PDF is a link that downloads the very bytes the agent sent.
    link = log.get_by_role("link", name="form.pdf")
    expect(link).to_have_attribute("href", re.compile("X-Amz-Signature="), timeout=20_000)
    href = link.get_attribute("href")
    assert href.startswith(bucket_url)
    assert requests.get(href, timeout=10).content == PDF

    # Genesys's own download URLs need a token: the widget never used them.
    sent = [
        m for m in stack.standin_conversation(conversation["id"])["messages"] if m["direction"] == "Outbound"
    ]
    urls = [a["attachment"]["url"] for m in sent for a in m["payload"].get("content", [])]
    assert len(urls) == 2
    for url in urls:
        assert requests.get(url, timeout=10).status_code == 401
        assert url not in page.content()

    # An infected file never reaches the customer, who is told; Genesys gets a Failed receipt.
    console.send_file(conversation["id"], "invoice.pdf", "application/pdf", EICAR)
    expect(log.get_by_text("The agent sent a file that could not be delivered")).to_be_visible(timeout=20_000)
    assert log.get_by_role("link", name="invoice.pdf").count() == 0
    with stack.services.db.session() as session:
        infected = session.scalars(select(Attachment).where(Attachment.filename == "invoice.pdf")).one()
        assert infected.status in (AttachmentStatus.INFECTED, AttachmentStatus.REJECTED)
        assert infected.origin == AttachmentOrigin.AGENT

    def receipts_of(filename: str) -> list[str]:
        messages = stack.standin_conversation(conversation["id"])["messages"]
        return [
            r["status"]
            for m in messages
            if any(a["filename"] == filename for a in m["attachments"])
            for r in m["receipts"]
        ]

    assert wait_for(lambda: receipts_of("invoice.pdf")) == ["Failed"]
    assert wait_for(lambda: receipts_of("dot.png")) == ["Delivered"]
    # Nothing of the agent's files was announced back into Genesys as a customer's file.
    assert stack.inbound_texts(conversation["id"]) == ["please send the form"]


def test_the_widget_fits_a_360_pixel_screen_with_readable_contrast(stack: LiveStack, chromium: Any) -> None:
    context = chromium.new_context(viewport={"width": 360, "height": 640})
    page = context.new_page()
    try:
        start_chat(page, stack.url)
        send(page, "A long message " * 20)
        expect(page.get_by_role("log").locator(".msg")).to_have_count(1)
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        send_box = page.get_by_role("button", name="Send").bounding_box()
        assert send_box is not None and send_box["x"] + send_box["width"] <= 360
        low = page.evaluate(LOW_CONTRAST_JS)
        assert low == [], low
    finally:
        context.close()


# Every visible text node's colour against its effective background: the WCAG AA ratio (4.5:1).
LOW_CONTRAST_JS = """() => {
  const parse = (c) => c.match(/[\\d.]+/g).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map((v) => v / 255)
    .map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4))
    .reduce((s, c, i) => s + c * [0.2126, 0.7152, 0.0722][i], 0);
  const background = (el) => {
    for (let n = el; n; n = n.parentElement) {
      const c = parse(getComputedStyle(n).backgroundColor);
      if (c.length < 4 || c[3] > 0) return c;
    }
    return [255, 255, 255];
  };
  const low = [];
  for (const el of document.querySelectorAll("body *")) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || !el.checkVisibility()) continue;
    const [a, b] = [lum(parse(getComputedStyle(el).color)), lum(background(el))].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    if (ratio < 4.5) low.push(`${el.tagName}.${el.className}: ${ratio.toFixed(2)}`);
  }
  return low;
}"""


@pytest.fixture
def site_port() -> int:
    return free_port()


@pytest.fixture
def embed_stack(database_url: str, tmp_path: Path, moto_reset: str, site_port: int) -> Iterator[LiveStack]:
    """A live stack that lets http://localhost:<site_port> (another site) embed the widget."""
    origins = {"WIDGET_ORIGINS": f"http://localhost:{site_port}"}
    with live_stack(database_url, tmp_path, moto_reset, env=origins) as live:
        yield live


@pytest.fixture
def customer_site(embed_stack: LiveStack, site_port: int) -> Iterator[str]:
    """A customer's own page on another site, with the one script tag."""
    html = (
        "<!doctype html><html><head><title>Acme</title>"
        "<style>button, iframe { all: unset; color: red; font-size: 40px; }</style></head>"
        "<body><h1>Acme Insurance</h1>"
        f'<script src="{embed_stack.url}/chat/embed.js" data-title="Acme support" '
        'data-intro="We answer within minutes." data-launcher="Chat with Acme" '
        'data-accent="#ffcc00"></script>'
        "</body></html>"
    ).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", site_port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{site_port}/"
    server.shutdown()
    thread.join()
    server.server_close()


def test_the_embed_runs_on_another_site_with_its_own_labels(
    embed_stack: LiveStack, customer_site: str, page: Any
) -> None:
    page.goto(customer_site)
    launcher = page.get_by_role("button", name="Chat with Acme")
    launcher.click()
    expect(launcher).to_have_attribute("aria-expanded", "true")
    frame = page.frame_locator("iframe[title='Acme support']")
    expect(frame.get_by_role("heading", name="Acme support")).to_be_visible()
    expect(frame.get_by_text("We answer within minutes.")).to_be_visible()
    # The site's own CSS does not reach the chat: its button keeps the accent, with black text for contrast.
    start = frame.get_by_role("button", name="Start chat")
    assert start.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(255, 204, 0)"
    assert start.evaluate("b => getComputedStyle(b).color") == "rgb(0, 0, 0)"
    frame.get_by_label("Your name").fill("Sam")
    start.click()
    box = frame.get_by_label("Message")
    box.fill("Hello from the Acme site")
    box.press("Enter")
    conversation = only_conversation(embed_stack)
    wait_for(lambda: embed_stack.inbound_texts(conversation["id"]) == ["Hello from the Acme site"])
    embed_stack.agent_reply(conversation["id"], "Hello Sam")
    expect(frame.get_by_role("log").get_by_text("Hello Sam")).to_be_visible(timeout=AGENT_WAIT_MS)
    # A third-party iframe gets no cookies: the embed keeps its bearer token across reloads.
    page.reload()
    page.get_by_role("button", name="Chat with Acme").click()
    expect(
        page.frame_locator("iframe[title='Acme support']").get_by_role("log").locator(".msg")
    ).to_have_count(2)


def test_messages_wait_as_sending_while_genesys_is_down(stack: LiveStack, page: Any) -> None:
    stack.fault(path_pattern="*/inbound/open/message", status=503)
    start_chat(page, stack.url)
    send(page, "are you there?")
    status = page.get_by_role("log").locator(".msg--customer .msg__status")
    expect(status).to_have_text("Sending…")
    wait_for(lambda: any(r["status"] == 503 for r in stack.standin_requests()))
    page.reload()  # still waiting after a reload
    expect(page.get_by_role("log").locator(".msg--customer .msg__status")).to_have_text("Sending…")
    stack.clear_faults()
    expect(page.get_by_role("log").locator(".msg--customer .msg__status")).to_have_text("Delivered")


def test_a_read_receipt_shows_and_a_replayed_failed_one_changes_nothing(stack: LiveStack, page: Any) -> None:
    start_chat(page, stack.url)
    send(page, "did you see this?")
    status = page.get_by_role("log").locator(".msg--customer .msg__status")
    expect(status).to_have_text("Delivered")
    (delivered,) = stack.standin_message(only_conversation(stack)["id"], 0)["receipts"]
    stack.webhook({**delivered, "status": "Read"})
    expect(status).to_have_text("Read")
    reasons = [{"code": "GeneralError", "message": "replayed"}]
    assert stack.webhook({**delivered, "status": "Failed", "reasons": reasons}).json() == {
        "status": "stale_receipt"
    }
    page.reload()  # what the server holds, not only what the open stream said
    expect(status).to_have_text("Read")
    expect(page.get_by_role("alert").filter(has_text="could not be delivered")).to_have_count(0)


def test_a_refused_message_shows_not_delivered_and_can_be_retried(stack: LiveStack, page: Any) -> None:
    stack.fault(path_pattern="*/inbound/open/message", status=400, count=1)
    start_chat(page, stack.url)
    send(page, "please take this")
    item = page.get_by_role("log").locator(".msg--customer")
    expect(item.locator(".msg__status")).to_have_text("Not delivered")
    expect(page.get_by_role("alert").filter(has_text="could not be delivered")).to_be_visible()
    item.get_by_role("button", name="Retry").click()
    expect(item.locator(".msg__status")).to_have_text("Delivered")
    expect(page.get_by_label("Message")).to_be_focused()
    conversation = only_conversation(stack)
    assert stack.inbound_texts(conversation["id"]) == ["please take this"]
    expect(page.get_by_role("log").locator(".msg")).to_have_count(1)


def test_quick_replies_show_as_buttons_and_a_press_goes_back_as_a_structured_response(
    stack: LiveStack, page: Any
) -> None:
    errors = console_errors(page)
    start_chat(page, stack.url)
    send(page, "I want to file a claim")
    conversation = only_conversation(stack)
    asked = stack.agent_reply(conversation["id"], "What kind of claim?", quick_replies=["Car", "Home"])

    log = page.get_by_role("log")
    expect(log.get_by_text("What kind of claim?")).to_be_visible(timeout=AGENT_WAIT_MS)
    choices = log.get_by_role("group", name="Choose an answer")
    expect(choices.get_by_role("button")).to_have_count(2)
    choices.get_by_role("button", name="Home").click()
    expect(log.locator(".msg--customer", has_text="Home")).to_be_visible()

    def answered() -> dict[str, Any] | None:
        messages = stack.standin_conversation(conversation["id"])["messages"]
        return next((m for m in messages if "buttonResponse" in m["payload"]), None)

    payload = wait_for(answered)["payload"]
    assert_schema_valid(payload, "OpenInboundStructuredResponseMessage")
    assert payload["originatingMessageId"] == asked["id"]
    assert payload["buttonResponse"] == {"type": "QuickReply", "text": "Home", "payload": "Home"}
    accepted = [
        r for r in stack.standin_requests() if r["path"].endswith("/inbound/open/structured/response")
    ]
    assert [r["status"] for r in accepted] == [202]
    expect(choices.get_by_role("button", name="Car")).to_be_disabled()
    assert errors == []
