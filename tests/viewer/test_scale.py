"""The QA list with 100,000 attachments: every sort is served by an index, and deep pages still render."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Select, insert, text

from ferry.db import Database, utcnow
from ferry.models import Attachment, AttachmentStatus, Chat
from ferry.services import Services
from tests.viewer.conftest import Login
from viewer.listing import MAX_PAGE, PAGE_SIZE, SORTS, FileFilters

ATTACHMENTS = 100_000
CHATS = 1_000
TYPES = ("video/mp4", "image/jpeg", "application/pdf", "application/dicom", "audio/mpeg")
STATUSES = (AttachmentStatus.CLEAN,) * 8 + (AttachmentStatus.INFECTED, AttachmentStatus.SCANNING)


def seed(db: Database) -> None:
    """Bulk-insert the chats and attachments in a few statements (no ORM objects)."""
    now = utcnow()
    chats = [
        {
            "id": str(uuid.uuid4()),
            "customer_id": f"customer-{n}",
            "nickname": f"Customer {n}",
            "email": f"c{n}@example.com",
            "expires_at": now,
            "created_at": now,
        }
        for n in range(CHATS)
    ]
    attachments = [
        {
            "id": str(uuid.uuid4()),
            "chat_id": chats[n % CHATS]["id"],
            "object_key": f"incoming/{n}",
            "filename": f"file-{n:06}.bin",
            "declared_type": TYPES[n % len(TYPES)],
            "declared_size": n * 1000,
            "size": n * 1000,
            "strategy": "single",
            "status": STATUSES[n % len(STATUSES)],
            "conversation_id": f"conversation-{n % 5000}",
            "created_at": now - timedelta(seconds=n),
        }
        for n in range(ATTACHMENTS)
    ]
    with db.session() as session:
        session.execute(insert(Chat), chats)
        for start in range(0, ATTACHMENTS, 20_000):
            session.execute(insert(Attachment), attachments[start : start + 20_000])
    with db.engine.begin() as connection:
        connection.execute(text("ANALYZE"))


def plan(db: Database, statement: Select[Attachment]) -> str:
    sql = str(statement.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True}))
    prefix = "EXPLAIN QUERY PLAN " if db.is_sqlite else "EXPLAIN "
    with db.engine.connect() as connection:
        rows = connection.exec_driver_sql(prefix + sql).all()
    return "\n".join(str(row[-1]) for row in rows)


def sorts_every_row(db: Database, explained: str) -> bool:
    """Whether the plan sorts the whole filtered table (instead of walking an index in order)."""
    if db.is_sqlite:
        return "TEMP B-TREE FOR ORDER BY" in explained
    # A plain Sort node; an Incremental Sort over an index scan only orders rows with equal keys.
    return any(re.match(r"^\s*(->\s+)?Sort\s+\(cost", line) for line in explained.splitlines())


@pytest.mark.slow
def test_the_qa_list_stays_indexed_with_100000_attachments(
    services: Services, login: Login, client: FlaskClient
) -> None:
    seed(services.db)

    for sort in SORTS:
        for order in ("asc", "desc"):
            explained = plan(services.db, FileFilters(sort=sort, order=order, page=MAX_PAGE).query())
            assert "INDEX" in explained.upper(), (sort, order, explained)
            assert not sorts_every_row(services.db, explained), (sort, order, explained)
    # The planner may walk the status index or the date index and filter: either way no full sort.
    filtered = plan(services.db, FileFilters(status="infected").query())
    assert "INDEX" in filtered.upper() and not sorts_every_row(services.db, filtered), filtered
    by_conversation = plan(services.db, FileFilters(conversation="conversation-7").query())
    assert "ix_attachments_conversation_id" in by_conversation

    login("reviewer")
    deepest = client.get(f"/files?page={MAX_PAGE}&sort=size&order=asc").get_data(as_text=True)
    assert deepest.count('<td class="name"><a href="/files/') == PAGE_SIZE
    assert f"file-{(MAX_PAGE - 1) * PAGE_SIZE:06}.bin" in deepest
    assert "Narrow the filters" in deepest
    # conversation-10 holds attachments 10, 5010, ...: twenty clean videos.
    searched = client.get("/files?conversation=conversation-10&kind=video&status=clean").get_data(
        as_text=True
    )
    assert searched.count('<td class="name"><a href="/files/') == ATTACHMENTS // 5000
