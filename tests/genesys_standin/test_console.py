"""The agent console: sign-in through the picker, transcripts (escaped, linked, previews), assign, reply."""

from __future__ import annotations

import dataclasses
import re

import pytest
import requests

from genesys_standin.console import linkify
from tests.genesys_standin.conftest import FAST, LocalHttp, Standin, message_body
from tests.serving import wait_for


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def sign_in(standin: Standin, user_id: str) -> str:
    """Sign the console in through its user picker; the CSRF token of the session."""
    page = standin.http.get(f"{standin.url}/console/login", params={"next": "/"}, timeout=10)
    assert page.status_code == 200
    token = csrf_of(page.text)
    answer = standin.http.post(
        f"{standin.url}/console/login",
        data={"user_id": user_id, "csrf": token, "next": "/"},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 303
    assert "genesys_standin_session" in standin.http.cookies
    return token


def test_linkify_escapes_markup_and_links_urls() -> None:
    html = str(linkify('<script>alert(1)</script> see https://ferry.example/v/1?a=1&b="2" now.'))
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert (
        '<a href="https://ferry.example/v/1?a=1&amp;b=" target="_blank" rel="noopener noreferrer nofollow">'
        in html
    )
    assert html.endswith(" now.")
    assert str(linkify("javascript:alert(1)")) == "javascript:alert(1)"


def test_the_console_asks_to_sign_in(standin: Standin) -> None:
    page = standin.http.get(f"{standin.url}/", timeout=10)
    assert page.status_code == 200
    assert "/console/login" in page.text


def test_transcript_escapes_markup_and_links_urls(
    standin: Standin, service_token: str, integration_id: str
) -> None:
    text = "<img src=x onerror=alert(1)> my file: https://ferry.example/files/42"
    conversation_id = standin.inbound(service_token, integration_id, message_body(text)).json()[
        "conversationId"
    ]
    sign_in(standin, standin.user())
    page = standin.http.get(f"{standin.url}/console/conversations/{conversation_id}", timeout=10)
    assert page.status_code == 200
    assert "&lt;img src=x onerror=alert(1)&gt;" in page.text
    assert "<img src=x" not in page.text
    assert '<a href="https://ferry.example/files/42"' in page.text
    listing = standin.http.get(f"{standin.url}/", timeout=10).text
    assert f"/console/conversations/{conversation_id}" in listing


def test_attachment_previews(
    standin: Standin, service_token: str, integration_id: str, local_http: LocalHttp
) -> None:
    local_http.files["/cat.png"] = ("image/png", b"png")
    local_http.files["/clip.mp4"] = ("video/mp4", b"mp4")
    content = [
        {
            "attachment": {
                "mediaType": "Image",
                "url": f"{local_http.base_url}/cat.png",
                "mime": "image/png",
                "filename": "cat.png",
            }
        },
        {
            "attachment": {
                "mediaType": "Video",
                "url": f"{local_http.base_url}/clip.mp4",
                "mime": "video/mp4",
                "filename": "clip.mp4",
            }
        },
        {
            "attachment": {
                "mediaType": "File",
                "url": "javascript:alert(1)",
                "mime": "application/pdf",
                "filename": "x.pdf",
            }
        },
    ]
    answer = standin.inbound(service_token, integration_id, message_body("files", content=content))
    conversation_id = answer.json()["conversationId"]
    wait_for(lambda: standin.deliveries(kind="receipt"))
    sign_in(standin, standin.user())
    page = standin.http.get(
        f"{standin.url}/console/conversations/{conversation_id}/transcript", timeout=10
    ).text
    assert re.search(r'<img src="http://127\.0\.0\.1:\d+/console/media/[0-9a-f-]+" alt="cat.png">', page)
    assert re.search(r'<video src="http://127\.0\.0\.1:\d+/console/media/[0-9a-f-]+" controls', page)
    assert not re.search(r'(href|src)="javascript:', page)
    assert "dropped: GeneralError" in page


def test_assign_to_me_and_reply_from_the_console(
    standin: Standin, service_token: str, integration_id: str, local_http: LocalHttp
) -> None:
    conversation_id = standin.inbound(service_token, integration_id, message_body()).json()["conversationId"]
    agent_id = standin.user(name="Alex Agent")
    csrf = sign_in(standin, agent_id)
    page_url = f"{standin.url}/console/conversations/{conversation_id}"
    assert "Assign to me" in standin.http.get(page_url, timeout=10).text

    assigned = standin.http.post(f"{page_url}/assign", data={"csrf": csrf}, allow_redirects=False, timeout=10)
    assert assigned.status_code == 303
    participants = standin.control("GET", f"/conversations/{conversation_id}").json()["participants"]
    assert [p["user"]["id"] for p in participants if p["purpose"] == "agent"] == [agent_id]
    assert "Assign to me" not in standin.http.get(page_url, timeout=10).text

    sent = standin.http.post(
        f"{page_url}/reply",
        data={"csrf": csrf, "text": "Here you go"},
        files={"file": ("map.png", b"\x89PNG", "image/png")},
        allow_redirects=False,
        timeout=10,
    )
    assert sent.status_code == 303
    [reply] = wait_for(lambda: [d["payload"] for d in standin.deliveries(kind="message")])
    assert reply["text"] == "Here you go"
    assert reply["content"][0]["attachment"]["filename"] == "map.png"
    assert reply["channel"]["from"]["nickname"] == "Alex Agent"


def test_console_posts_need_the_csrf_token(standin: Standin, service_token: str, integration_id: str) -> None:
    conversation_id = standin.inbound(service_token, integration_id, message_body()).json()["conversationId"]
    sign_in(standin, standin.user())
    forged = standin.http.post(
        f"{standin.url}/console/conversations/{conversation_id}/assign", data={}, timeout=10
    )
    assert forged.status_code == 400
    assert standin.control("GET", f"/conversations/{conversation_id}").json()["participants"][1:] == []


def test_agents_only_see_their_organization(
    standin: Standin, service_token: str, integration_id: str
) -> None:
    conversation_id = standin.inbound(service_token, integration_id, message_body()).json()["conversationId"]
    sign_in(standin, standin.user(organization="foreign", email="foreign@example.com"))
    assert conversation_id not in standin.http.get(f"{standin.url}/", timeout=10).text
    hidden = standin.http.get(f"{standin.url}/console/conversations/{conversation_id}", timeout=10)
    assert hidden.status_code == 404


def test_signed_out_console_redirects_to_the_picker(
    standin: Standin, service_token: str, integration_id: str
) -> None:
    conversation_id = standin.inbound(service_token, integration_id, message_body()).json()["conversationId"]
    answer = requests.get(
        f"{standin.url}/console/conversations/{conversation_id}", allow_redirects=False, timeout=10
    )
    assert answer.status_code == 303
    assert answer.headers["Location"].startswith("/console/login")


@pytest.mark.parametrize("standin_settings", [dataclasses.replace(FAST, outbound_typing_events=True)])
def test_typing_in_the_console_reaches_the_webhook(
    standin: Standin, service_token: str, integration_id: str
) -> None:
    conversation_id = standin.inbound(service_token, integration_id, message_body()).json()["conversationId"]
    csrf = sign_in(standin, standin.user())
    typing_url = f"{standin.url}/console/conversations/{conversation_id}/typing"
    page = standin.http.get(f"{standin.url}/console/conversations/{conversation_id}", timeout=10).text
    assert f'data-typing="/console/conversations/{conversation_id}/typing"' in page
    standin.http.post(
        f"{standin.url}/console/conversations/{conversation_id}/assign", data={"csrf": csrf}, timeout=10
    )
    answer = standin.http.post(typing_url, headers={"X-CSRF-Token": csrf}, timeout=10)
    assert answer.status_code == 204
    [event] = wait_for(lambda: standin.deliveries(kind="event"))
    assert event["payload"]["events"][0]["eventType"] == "Typing"


def test_the_console_sends_quick_replies(standin: Standin, service_token: str, integration_id: str) -> None:
    conversation_id = standin.inbound(service_token, integration_id, message_body()).json()["conversationId"]
    csrf = sign_in(standin, standin.user(name="Alex Agent"))
    page_url = f"{standin.url}/console/conversations/{conversation_id}"
    assert 'name="quick_replies"' in standin.http.get(page_url, timeout=10).text
    sent = standin.http.post(
        f"{page_url}/reply",
        data={"csrf": csrf, "text": "What kind of claim?", "quick_replies": "Car\n\nHome\n"},
        allow_redirects=False,
        timeout=10,
    )
    assert sent.status_code == 303
    [reply] = wait_for(lambda: [d["payload"] for d in standin.deliveries(kind="message")])
    assert reply["text"] == "What kind of claim?"
    assert [c["quickReply"] for c in reply["content"]] == [
        {"text": "Car", "payload": "Car", "action": "Message"},
        {"text": "Home", "payload": "Home", "action": "Message"},
    ]
    assert {c["contentType"] for c in reply["content"]} == {"QuickReply"}
