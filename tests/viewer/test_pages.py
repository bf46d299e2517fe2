"""Attachment pages, previews and downloads: who may see what, what is shown, and what is recorded."""

from __future__ import annotations

import dataclasses
import io
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import requests
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import event, select

from ferry.models import AccessAudit, Attachment, AttachmentStatus, AuditOutcome, ConversationGrant
from ferry.services import Services
from genesys.client import GenesysClient
from genesys.setup import PARTICIPANTS_ROUTE
from genesys_standin.server import StandinServer
from tests.viewer.conftest import GENESYS_APPS, Login
from tests.viewer.seeding import add_attachment, add_chat, dicom_bytes
from tests.viewer.world import World

NOT_AVAILABLE = "This attachment does not exist or is not available to you."


def audit_rows(services: Services) -> list[AccessAudit]:
    with services.db.session() as session:
        return list(session.scalars(select(AccessAudit).order_by(AccessAudit.id)))


def last_audit(services: Services) -> AccessAudit:
    return audit_rows(services)[-1]


def presigned(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


# -- what the page shows ---------------------------------------------------------------------------


def test_the_page_describes_the_file_and_previews_it_without_any_url(
    login: Login, client: FlaskClient, services: Services
) -> None:
    attachment = add_attachment(
        services, filename="claim.mp4", declared_type="video/mp4", content=b"v" * 2048
    )
    login("reviewer")

    answer = client.get(f"/files/{attachment.id}")

    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    for fact in (
        "claim.mp4",
        "video/mp4",
        "2.0 kB",
        attachment.sha256,
        "ClamAV 1.4.6",
        "27000",
        "Carla Customer",
    ):
        assert fact in page
    assert "Scanned: no threat found." in page
    assert f'<video controls preload="metadata" src="/files/{attachment.id}/content">' in page
    assert f'href="/files/{attachment.id}/download"' in page
    assert "X-Amz" not in page and "127.0.0.1" not in page  # no presigned URL is ever put in a page
    assert (last_audit(services).action, last_audit(services).outcome) == ("view", AuditOutcome.ALLOWED)


def test_the_page_shows_the_customers_and_the_scanners_sha256(
    login: Login, client: FlaskClient, services: Services
) -> None:
    attachment = add_attachment(services, content=b"v" * 2048)
    with services.db.session() as session:
        session.get_one(Attachment, attachment.id).declared_sha256 = attachment.sha256
    undeclared = add_attachment(services, content=b"w" * 2048)
    login("reviewer")

    page = client.get(f"/files/{attachment.id}").get_data(as_text=True)
    assert f'SHA-256 (scanner)</dt><dd class="hash">{attachment.sha256}</dd>' in page
    assert f'SHA-256 (customer\'s browser)</dt><dd class="hash">{attachment.sha256}</dd>' in page
    older = client.get(f"/files/{undeclared.id}").get_data(as_text=True)
    assert 'browser)</dt><dd class="hash">not declared</dd>' in older


def test_viewer_answers_carry_the_security_headers(
    login: Login, client: FlaskClient, services: Services
) -> None:
    attachment = add_attachment(services)
    login("reviewer")

    answer = client.get(f"/files/{attachment.id}")

    csp = answer.headers["Content-Security-Policy"]
    assert f"frame-ancestors 'self' {GENESYS_APPS}" in csp
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "https://ferry-test.s3.eu-west-1.amazonaws.com" in csp  # media loads from S3 after the redirect
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Cache-Control"] == "no-store"
    assert client.get(f"/files/{attachment.id}/content").headers["Cache-Control"] == "no-store"


def test_markup_in_file_and_customer_names_is_escaped(
    login: Login, client: FlaskClient, services: Services
) -> None:
    chat = add_chat(services, nickname='<img src=x onerror="alert(1)">', email="a@b.c")
    attachment = add_attachment(services, chat=chat, filename="<script>alert(1)</script>.pdf")
    login("reviewer")

    page = client.get(f"/files/{attachment.id}").get_data(as_text=True)

    assert "<script>alert(1)</script>" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.pdf" in page
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page


@pytest.mark.parametrize(
    ("declared", "element"),
    [
        ("image/png", '<img src="{src}"'),
        ("audio/mpeg", '<audio controls preload="metadata" src="{src}">'),
        ("application/pdf", '<iframe src="{src}"'),
        ("video/webm", '<video controls preload="metadata" src="{src}">'),
    ],
)
def test_previews_by_type(
    declared: str, element: str, login: Login, client: FlaskClient, services: Services
) -> None:
    attachment = add_attachment(services, declared_type=declared, filename="f")
    login("reviewer")

    page = client.get(f"/files/{attachment.id}").get_data(as_text=True)

    assert element.format(src=f"/files/{attachment.id}/content") in page


@pytest.mark.parametrize("declared", ["image/svg+xml", "text/html", "application/zip", "text/plain"])
def test_active_or_unknown_types_are_download_only(
    declared: str, login: Login, client: FlaskClient, services: Services
) -> None:
    attachment = add_attachment(services, declared_type=declared, filename="f")
    login("reviewer")

    page = client.get(f"/files/{attachment.id}").get_data(as_text=True)
    content = client.get(f"/files/{attachment.id}/content")

    assert f"/files/{attachment.id}/content" not in page
    assert "download it to open it" in page
    # Even asked for inline, the URL makes S3 answer as a download.
    assert presigned(content.headers["Location"])["response-content-disposition"].startswith("attachment;")


# -- URLs: made per click, short, only for clean objects --------------------------------------------


def test_content_redirects_to_a_fresh_inline_url_that_lives_five_minutes(
    login: Login, client: FlaskClient, services: Services
) -> None:
    attachment = add_attachment(services, content=b"0123456789" * 100, declared_type="video/mp4")
    login("reviewer")

    first = client.get(f"/files/{attachment.id}/content")
    second = client.get(f"/files/{attachment.id}/content")

    assert first.status_code == 302
    query = presigned(first.headers["Location"])
    assert query["X-Amz-Expires"] == "300"
    assert query["response-content-type"] == "video/mp4"
    assert query["response-content-disposition"].startswith("inline;")
    assert first.headers["Location"] != second.headers["Location"] or query["X-Amz-Date"]
    ranged = requests.get(first.headers["Location"], headers={"Range": "bytes=10-19"}, timeout=10)
    assert ranged.status_code == 206 and ranged.content == b"0123456789"
    assert [(r.action, r.outcome) for r in audit_rows(services)][-2:] == [
        ("preview", AuditOutcome.ALLOWED),
        ("preview", AuditOutcome.ALLOWED),
    ]


def test_a_click_costs_one_select_and_the_audit_rows_two_statements(
    login: Login, client: FlaskClient, services: Services
) -> None:
    """The hot path: the session, attachment and grant in one select; the chained audit row in one insert
    (and, on PostgreSQL, an update taking its place in the chain)."""
    attachment = add_attachment(services)
    login("reviewer")
    assert client.get(f"/files/{attachment.id}/download").status_code == 302  # the tag is confirmed clean
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement.split(None, 1)[0].upper())

    event.listen(services.db.engine, "before_cursor_execute", seen)
    try:
        assert client.get(f"/files/{attachment.id}/download").status_code == 302
    finally:
        event.remove(services.db.engine, "before_cursor_execute", seen)

    # SQLite appends the chained row in one INSERT; PostgreSQL takes its place first (the head's row lock).
    assert statements == ["SELECT", "INSERT"] if services.db.is_sqlite else ["SELECT", "UPDATE", "INSERT"]


def test_download_keeps_the_original_name_safely_encoded(
    login: Login, client: FlaskClient, services: Services
) -> None:
    name = '../../etc/passwd "Ünïcode"; <b>.pdf'
    attachment = add_attachment(services, filename=name, declared_type="application/pdf")
    login("reviewer")

    answer = client.get(f"/files/{attachment.id}/download")

    disposition = presigned(answer.headers["Location"])["response-content-disposition"]
    assert disposition.startswith('attachment; filename="')
    fallback = disposition.split('filename="', 1)[1].split('"', 1)[0]
    assert '"' not in fallback and "\\" not in fallback and ";" not in fallback
    assert unquote(disposition.split("filename*=UTF-8''", 1)[1]) == name
    served = requests.get(answer.headers["Location"], timeout=10)
    assert served.headers["Content-Disposition"] == disposition
    assert last_audit(services).action == "download"


PENDING = [AttachmentStatus.CREATED, AttachmentStatus.UPLOADED, AttachmentStatus.SCANNING]
REFUSED = [
    AttachmentStatus.INFECTED,
    AttachmentStatus.REJECTED,
    AttachmentStatus.TOO_LARGE,
    AttachmentStatus.FAILED,
    AttachmentStatus.ABORTED,
    AttachmentStatus.EXPIRED,
]


@pytest.mark.parametrize("status", PENDING + REFUSED)
def test_files_that_are_not_clean_show_their_status_and_never_get_a_url(
    status: AttachmentStatus, login: Login, client: FlaskClient, services: Services
) -> None:
    # The object's tag says clean: the database status alone must be enough to refuse.
    attachment = add_attachment(services, status=status, tag="clean")
    login("reviewer")

    page = client.get(f"/files/{attachment.id}")
    content = client.get(f"/files/{attachment.id}/content")
    download = client.get(f"/files/{attachment.id}/download")

    assert page.status_code == 200
    assert f'data-status="{status.value}"' in page.get_data(as_text=True)
    assert "/content" not in page.get_data(as_text=True)
    assert ('http-equiv="refresh"' in page.get_data(as_text=True)) == (status in PENDING)
    assert content.status_code == download.status_code == 409
    assert "Location" not in content.headers and "Location" not in download.headers
    refused = audit_rows(services)[-2:]
    assert [(r.action, r.outcome) for r in refused] == [
        ("preview", AuditOutcome.DENIED),
        ("download", AuditOutcome.DENIED),
    ]
    assert all(r.reason == f"not_clean: status={status.value}" for r in refused)


@pytest.mark.parametrize("tag", ["pending", "infected", None])
def test_a_clean_record_whose_object_is_not_tagged_clean_gets_no_url(
    tag: str | None, login: Login, client: FlaskClient, services: Services
) -> None:
    attachment = add_attachment(services, status=AttachmentStatus.CLEAN, tag=tag)
    login("reviewer")

    answer = client.get(f"/files/{attachment.id}/download")

    assert answer.status_code == 409 and "Location" not in answer.headers
    assert last_audit(services).reason == f"tag_not_clean: tag={tag}"


def test_a_missing_object_gets_no_url(login: Login, client: FlaskClient, services: Services) -> None:
    attachment = add_attachment(services, store=False)
    login("reviewer")

    assert client.get(f"/files/{attachment.id}/content").status_code == 409
    assert last_audit(services).reason is not None and last_audit(services).reason.startswith(
        "object_missing"
    )


# -- who may see what ------------------------------------------------------------------------------------


def test_an_agent_opens_attachments_of_their_own_conversation(
    login: Login, client: FlaskClient, services: Services, world: World
) -> None:
    conversation = world.conversation("cust-1", "agent")
    attachment = add_attachment(services, conversation_id=conversation)
    login("agent")

    assert client.get(f"/files/{attachment.id}").status_code == 200
    assert client.get(f"/files/{attachment.id}/download").status_code == 302


def test_an_agent_of_another_conversation_gets_the_same_answer_as_for_a_missing_file(
    login: Login, client: FlaskClient, services: Services, world: World
) -> None:
    theirs = world.conversation("cust-2", "agent2")
    attachment = add_attachment(services, conversation_id=theirs)
    login("agent")

    forbidden = [client.get(f"/files/{attachment.id}{suffix}") for suffix in ("", "/content", "/download")]
    missing = client.get("/files/00000000-0000-4000-8000-000000000000")

    for answer in forbidden:
        assert answer.status_code == missing.status_code == 404
        assert answer.get_data() == missing.get_data()
        assert NOT_AVAILABLE in answer.get_data(as_text=True)
    reasons = [(r.action, r.outcome, r.reason) for r in audit_rows(services) if r.action != "login"]
    assert reasons == [
        ("view", AuditOutcome.DENIED, "not_participant"),
        ("preview", AuditOutcome.DENIED, "not_participant"),
        ("download", AuditOutcome.DENIED, "not_participant"),
        ("view", AuditOutcome.DENIED, "not_found"),
    ]


def test_a_customer_participant_with_the_agent_s_id_is_not_an_agent(
    login: Login, client: FlaskClient, services: Services, world: World
) -> None:
    # Only purpose "agent" counts; the conversation exists but the agent never joined it.
    conversation = world.conversation("cust-3")
    attachment = add_attachment(services, conversation_id=conversation)
    login("agent")

    assert client.get(f"/files/{attachment.id}").status_code == 404


@pytest.mark.parametrize(
    "tampered",
    ["not-a-uuid", "0000", "%2e%2e", "{00000000-0000-4000-8000-000000000000}", "<script>", "x" * 300],
)
def test_tampered_ids_are_refused_like_missing_ones(
    tampered: str, login: Login, client: FlaskClient, services: Services
) -> None:
    login("reviewer")

    answer = client.get(f"/files/{tampered}")

    assert answer.status_code == 404
    row = last_audit(services)
    assert (row.action, row.outcome, row.reason) == ("view", AuditOutcome.DENIED, "malformed_id")
    assert row.attachment_id is not None and len(row.attachment_id) <= 64


def test_an_attachment_outside_any_conversation_is_for_reviewers_only(
    login: Login, client: FlaskClient, services: Services
) -> None:
    attachment = add_attachment(services, conversation_id=None)
    login("agent")

    assert client.get(f"/files/{attachment.id}").status_code == 404
    assert last_audit(services).reason == "no_conversation"


def test_an_agent_s_clicks_are_answered_from_the_cache(
    login: Login, client: FlaskClient, services: Services, world: World
) -> None:
    conversation = world.conversation("cust-4", "agent")
    attachment = add_attachment(services, conversation_id=conversation)
    login("agent")
    assert client.get(f"/files/{attachment.id}").status_code == 200
    world.clear_requests()

    for _ in range(10):
        assert client.get(f"/files/{attachment.id}/download").status_code == 302

    assert world.requests() == []


def test_genesys_unreachable_for_the_participant_check_refuses(
    login: Login, client: FlaskClient, services: Services, world: World, impatient_genesys: GenesysClient
) -> None:
    conversation = world.conversation("cust-5", "agent")
    attachment = add_attachment(services, conversation_id=conversation)
    login("agent")
    world.fault(path_pattern="/api/v2/conversations/messages/*", status=503)

    answer = client.get(f"/files/{attachment.id}/download")

    assert answer.status_code == 503 and "Location" not in answer.headers
    row = last_audit(services)
    assert (row.action, row.outcome, row.reason) == ("download", AuditOutcome.ERROR, "genesys_unavailable")


def test_a_permission_ferrys_client_lacks_is_could_not_check_and_never_cached(
    login: Login,
    client: FlaskClient,
    services: Services,
    world: World,
    standin_server: StandinServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    conversation = world.conversation("cust-6", "agent")
    attachment = add_attachment(services, conversation_id=conversation)
    login("agent")
    revoked = dataclasses.replace(
        standin_server.settings, revoked_client_permissions=",".join(PARTICIPANTS_ROUTE.permissions)
    )
    monkeypatch.setattr(standin_server.platform, "settings", revoked)

    answer = client.get(f"/files/{attachment.id}/download")

    assert answer.status_code == 503 and "Location" not in answer.headers
    row = last_audit(services)
    assert (row.action, row.outcome, row.reason) == ("download", AuditOutcome.ERROR, "genesys_forbidden")
    with services.db.session() as session:
        assert session.scalars(select(ConversationGrant)).all() == []  # not cached as "not a participant"
    assert any(r.levelname == "ERROR" and r.name == "ferry.access" for r in caplog.records)

    monkeypatch.setattr(
        standin_server.platform, "settings", dataclasses.replace(revoked, revoked_client_permissions="")
    )
    assert client.get(f"/files/{attachment.id}/download").status_code == 302  # the agent was there all along


# -- DICOM -----------------------------------------------------------------------------------------------


def test_dicom_shows_its_header_read_with_one_ranged_request(
    login: Login, client: FlaskClient, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = dicom_bytes(2 * 1024 * 1024)
    attachment = add_attachment(
        services, content=content, declared_type="application/dicom", filename="scan.dcm"
    )
    reads: list[tuple[str, int | None, int | None]] = []
    real_read = services.storage.read

    def spy(key: str, start: int | None = None, end: int | None = None):  # type: ignore[no-untyped-def]
        reads.append((key, start, end))
        return real_read(key, start, end)

    monkeypatch.setattr(services.storage, "read", spy)
    login("reviewer")

    page = client.get(f"/files/{attachment.id}").get_data(as_text=True)

    for shown in ("Doe^Jane", "P-123", "CT", "20260102", "512", "&lt;b&gt;Chest&lt;/b&gt;"):
        assert shown in page
    assert reads == [(attachment.object_key, 0, 64 * 1024 - 1)]
    assert f'href="/files/{attachment.id}/download"' in page


def test_an_infected_dicom_file_is_never_read(
    login: Login, client: FlaskClient, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    attachment = add_attachment(
        services, content=dicom_bytes(10), declared_type="application/dicom", status=AttachmentStatus.INFECTED
    )
    monkeypatch.setattr(services.storage, "read", lambda *a, **k: pytest.fail("read an infected object"))
    login("reviewer")

    assert "Doe^Jane" not in client.get(f"/files/{attachment.id}").get_data(as_text=True)


# -- the scanner's preview image -----------------------------------------------------------------------


def png_bytes(width: int = 8, height: int = 6) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_video_shows_the_scanners_poster_served_through_the_same_check(
    login: Login, client: FlaskClient, services: Services
) -> None:
    poster = png_bytes()
    attachment = add_attachment(services, declared_type="video/mp4", filename="claim.mp4", preview=poster)
    login("reviewer")

    page = client.get(f"/files/{attachment.id}").get_data(as_text=True)
    answer = client.get(f"/files/{attachment.id}/picture")

    assert f'src="/files/{attachment.id}/content" poster="/files/{attachment.id}/picture"' in page
    assert answer.status_code == 302
    query = presigned(answer.headers["Location"])
    assert query["X-Amz-Expires"] == "300" and query["response-content-type"] == "image/png"
    assert unquote(urlsplit(answer.headers["Location"]).path).endswith(f"{attachment.id}.png")
    assert requests.get(answer.headers["Location"], timeout=10).content == poster
    assert (last_audit(services).action, last_audit(services).outcome, last_audit(services).reason) == (
        "preview",
        AuditOutcome.ALLOWED,
        "picture",
    )


def test_a_dicom_file_shows_its_image_beside_its_header(
    login: Login, client: FlaskClient, services: Services
) -> None:
    attachment = add_attachment(
        services,
        content=dicom_bytes(64),
        declared_type="application/dicom",
        filename="scan.dcm",
        preview=png_bytes(),
    )
    login("reviewer")

    page = client.get(f"/files/{attachment.id}").get_data(as_text=True)

    study = page[page.index('<div class="dicom-study">') :]
    assert study.index(f'<img src="/files/{attachment.id}/picture"') < study.index("<caption>DICOM header")
    assert "Doe^Jane" in study


def test_a_file_without_a_preview_has_no_picture_and_says_so(
    login: Login, client: FlaskClient, services: Services
) -> None:
    attachment = add_attachment(services, declared_type="video/mp4", filename="corrupt.mp4")
    login("reviewer")

    page = client.get(f"/files/{attachment.id}").get_data(as_text=True)
    answer = client.get(f"/files/{attachment.id}/picture")

    assert "/picture" not in page
    assert answer.status_code == 404
    assert "There is no preview image of this file." in answer.get_data(as_text=True)
    assert (last_audit(services).outcome, last_audit(services).reason) == (AuditOutcome.DENIED, "no_preview")


@pytest.mark.parametrize("why", ["infected", "not a participant"])
def test_the_preview_is_refused_like_the_file_itself(
    why: str, login: Login, client: FlaskClient, services: Services, world: World
) -> None:
    if why == "infected":
        attachment = add_attachment(
            services, status=AttachmentStatus.INFECTED, tag="infected", preview=png_bytes()
        )
        login("reviewer")
    else:
        conversation = world.conversation("cust-9")  # the agent is not in it
        attachment = add_attachment(services, conversation_id=conversation, preview=png_bytes())
        login("agent")

    answer = client.get(f"/files/{attachment.id}/picture")

    assert answer.status_code in (404, 409) and "Location" not in answer.headers
    assert (last_audit(services).action, last_audit(services).outcome) == ("preview", AuditOutcome.DENIED)


# -- the conversation page (Genesys interaction widget) ------------------------------------------------


def test_the_conversation_page_lists_its_attachments(
    login: Login, client: FlaskClient, services: Services, world: World
) -> None:
    conversation = world.conversation("cust-6", "agent")
    mine = add_attachment(services, conversation_id=conversation, filename="mine.mp4")
    add_attachment(services, conversation_id=world.conversation("cust-7"), filename="other.mp4")
    login("agent")

    answer = client.get(f"/conversations/{conversation}?gcHostOrigin={GENESYS_APPS}")

    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "mine.mp4" in page and "other.mp4" not in page
    assert f'href="/files/{mine.id}"' in page
    assert f"frame-ancestors 'self' {GENESYS_APPS}" in answer.headers["Content-Security-Policy"]
    assert last_audit(services).reason == f"conversation={conversation}"


def test_the_conversation_page_refuses_unknown_host_origins(
    login: Login, client: FlaskClient, services: Services, world: World
) -> None:
    conversation = world.conversation("cust-8", "agent")
    login("agent")

    answer = client.get(f"/conversations/{conversation}?gcHostOrigin=https://evil.example")

    assert answer.status_code == 400
    assert last_audit(services).reason == "bad_host_origin: https://evil.example"


def test_the_conversation_page_of_someone_else_s_conversation_is_not_available(
    login: Login, client: FlaskClient, services: Services, world: World
) -> None:
    conversation = world.conversation("cust-9", "agent2")
    add_attachment(services, conversation_id=conversation, filename="secret.mp4")
    login("agent")

    answer = client.get(f"/conversations/{conversation}")

    assert answer.status_code == 404 and "secret.mp4" not in answer.get_data(as_text=True)


def test_the_framed_conversation_page_offers_a_pop_up_sign_in(client: FlaskClient, world: World) -> None:
    conversation = world.conversation("cust-10", "agent")

    answer = client.get(f"/conversations/{conversation}?gcHostOrigin={GENESYS_APPS}")

    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert 'data-popup-login="/login?next=/auth/done"' in page
    assert f"/login?next=/conversations/{conversation}" in page
