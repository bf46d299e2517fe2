"""The QA list (/files) and the access audit (/audit, /audit.csv)."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from ferry.access.audit import Action, Requester, record
from ferry.db import utcnow
from ferry.models import AccessAudit, AttachmentStatus, AuditOutcome
from ferry.services import Services
from tests.viewer.conftest import Login
from tests.viewer.seeding import add_attachment, add_chat
from viewer.listing import PAGE_SIZE, csv_cell


def names_on(page: str) -> list[str]:
    """File names in the list's first column, in order."""
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r'<td class="name"><a href="/files/[^"]+">([^<]*)</a>', body)


@pytest.fixture
def catalogue(services: Services) -> None:
    now = utcnow()
    carla = add_chat(services, nickname="Carla Customer", email="carla@example.com")
    dan = add_chat(services, nickname="Dan Doe", email="dan@example.com")
    rows = [
        ("a-video.mp4", "video/mp4", 5_000_000, AttachmentStatus.CLEAN, carla, "conv-1", 1),
        ("b-photo.png", "image/png", 200_000, AttachmentStatus.CLEAN, carla, "conv-1", 2),
        ("c-scan.dcm", "application/dicom", 80_000_000, AttachmentStatus.INFECTED, dan, "conv-2", 3),
        ("d-report.pdf", "application/pdf", 1_000_000, AttachmentStatus.SCANNING, dan, "conv-2", 40),
    ]
    for name, kind, size, status, chat, conversation, days in rows:
        add_attachment(
            services,
            filename=name,
            declared_type=kind,
            content=b"x" * 10,
            status=status,
            chat=chat,
            conversation_id=conversation,
            created_at=now - timedelta(days=days),
            size=size,
            store=False,
        )


def test_only_reviewers_browse_every_file(login: Login, client: FlaskClient, services: Services) -> None:
    login("agent")

    assert client.get("/files").status_code == 403
    with services.db.session() as session:
        row = session.scalars(select(AccessAudit).order_by(AccessAudit.id.desc())).first()
    assert row is not None and (row.action, row.outcome, row.reason) == (
        "list",
        AuditOutcome.DENIED,
        "no_role",
    )


def test_newest_first_by_default(catalogue: None, login: Login, client: FlaskClient) -> None:
    login("reviewer")

    page = client.get("/files").get_data(as_text=True)

    assert names_on(page) == ["a-video.mp4", "b-photo.png", "c-scan.dcm", "d-report.pdf"]
    assert "Carla Customer" in page and "conv-2" in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=PHOTO", ["b-photo.png"]),
        ("conversation=conv-2", ["c-scan.dcm", "d-report.pdf"]),
        ("customer=dan@", ["c-scan.dcm", "d-report.pdf"]),
        ("customer=carla", ["a-video.mp4", "b-photo.png"]),
        ("kind=video", ["a-video.mp4"]),
        ("kind=dicom", ["c-scan.dcm"]),
        ("status=infected", ["c-scan.dcm"]),
        ("min_mb=1&max_mb=10", ["a-video.mp4"]),
        ("sort=size&order=desc", ["c-scan.dcm", "a-video.mp4", "d-report.pdf", "b-photo.png"]),
        ("sort=name&order=asc", ["a-video.mp4", "b-photo.png", "c-scan.dcm", "d-report.pdf"]),
        ("sort=created&order=asc", ["d-report.pdf", "c-scan.dcm", "b-photo.png", "a-video.mp4"]),
        ("q=%25", []),  # LIKE wildcards in a search are literal characters
        (
            "sort=nonsense&kind=nonsense&status=nonsense&min_mb=x",
            ["a-video.mp4", "b-photo.png", "c-scan.dcm", "d-report.pdf"],
        ),
    ],
)
def test_filters_and_sorting(
    query: str, expected: list[str], catalogue: None, login: Login, client: FlaskClient
) -> None:
    login("reviewer")

    assert names_on(client.get(f"/files?{query}").get_data(as_text=True)) == expected


def test_date_range(catalogue: None, login: Login, client: FlaskClient) -> None:
    login("reviewer")
    today = utcnow().date()

    page = client.get(f"/files?since={today - timedelta(days=5)}&until={today}").get_data(as_text=True)

    assert names_on(page) == ["a-video.mp4", "b-photo.png", "c-scan.dcm"]


def test_pages_of_fifty(login: Login, client: FlaskClient, services: Services) -> None:
    chat = add_chat(services)
    now = utcnow()
    for number in range(PAGE_SIZE + 5):
        add_attachment(
            services,
            filename=f"f{number:03}",
            chat=chat,
            created_at=now - timedelta(minutes=number),
            store=False,
        )
    login("reviewer")

    first = client.get("/files").get_data(as_text=True)
    second = client.get("/files?page=2").get_data(as_text=True)

    assert len(names_on(first)) == PAGE_SIZE and 'rel="next"' in first
    assert names_on(second) == [f"f{n:03}" for n in range(PAGE_SIZE, PAGE_SIZE + 5)]
    assert 'rel="next"' not in second and 'rel="prev"' in second


def audit_csv(client: FlaskClient, query: str = "") -> list[list[str]]:
    answer = client.get(f"/audit.csv{query}")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/csv")
    assert answer.headers["Content-Disposition"].startswith('attachment; filename="ferry-audit-')
    return list(csv.reader(io.StringIO(answer.get_data(as_text=True))))


def test_the_audit_page_is_for_auditors(login: Login, client: FlaskClient) -> None:
    login("reviewer")

    assert client.get("/audit").status_code == 403
    assert client.get("/audit.csv").status_code == 403


def test_the_audit_filters_and_exports_without_formula_injection(
    login: Login, client: FlaskClient, services: Services
) -> None:
    record(
        services.db,
        action=Action.VIEW,
        outcome=AuditOutcome.DENIED,
        user_id="u-evil",
        user_name='=HYPERLINK("http://evil","x")',
        attachment_id="@SUM(1+1)",
        reason="-2+3",
        requester=Requester(ip="10.0.0.1", user_agent="+cmd|' /C calc'!A0"),
    )
    login("auditor")

    page = client.get("/audit?user=u-evil").get_data(as_text=True)
    rows = audit_csv(client, "?user=u-evil")

    assert "u-evil" in page and "=HYPERLINK(&#34;http://evil&#34;" in page
    assert rows[0] == [
        "id",
        "seq",
        "prev_hash",
        "at",
        "user_id",
        "user_name",
        "attachment_id",
        "action",
        "outcome",
        "reason",
        "ip",
        "user_agent",
        "row_hash",
    ]
    [row] = rows[1:]
    assert row[5] == '\'=HYPERLINK("http://evil","x")'
    assert row[6] == "'@SUM(1+1)" and row[9] == "'-2+3" and row[11].startswith("'+cmd")
    assert row[7:9] == ["view", "denied"]
    assert row[1] == "1" and row[2] == "0" * 64 and len(row[12]) == 64


def test_the_audit_records_its_own_use(login: Login, client: FlaskClient, services: Services) -> None:
    login("auditor")
    client.get("/audit?outcome=denied")
    audit_csv(client)

    rows = audit_csv(client, "?action=audit_export")

    assert [r[7] for r in rows[1:]] == ["audit_export", "audit_export"]
    with services.db.session() as session:
        actions = [r.action for r in session.scalars(select(AccessAudit).order_by(AccessAudit.id))]
    assert actions == ["login", "audit", "audit_export", "audit_export"]


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("plain", "plain"),
        (None, ""),
    ],
)
def test_csv_cells_never_start_a_formula(value: str | None, cell: str) -> None:
    assert csv_cell(value) == cell
