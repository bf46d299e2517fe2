"""The schema: migrations apply on SQLite and PostgreSQL, timestamps are UTC, the audit log is append-only;
the engine says when it is disposed with connections still in use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import DatabaseError

from ferry.access.audit import Action, record
from ferry.db import Base, Database, utcnow
from ferry.models import AccessAudit, AppendOnlyError, Attachment, AttachmentStatus, AuditOutcome, Chat


def test_migrations_create_every_model_table(database_url: str) -> None:
    database = Database(database_url)
    tables = set(inspect(database.engine).get_table_names())
    assert {table.name for table in Base.metadata.sorted_tables} <= tables
    database.dispose()


def test_timestamps_round_trip_as_aware_utc(database_url: str) -> None:
    database = Database(database_url)
    moment = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    with database.session() as session:
        chat = Chat(expires_at=moment + timedelta(days=1))
        session.add(chat)
        session.flush()
        chat_id = chat.id
    with database.session() as session:
        loaded = session.get(Chat, chat_id)
        assert loaded is not None
        assert loaded.expires_at == moment + timedelta(days=1)
        assert loaded.expires_at.tzinfo is not None
    database.dispose()


def test_naive_timestamps_are_refused(database_url: str) -> None:
    database = Database(database_url)
    with pytest.raises(Exception, match="naive"), database.session() as session:
        session.add(Chat(expires_at=datetime(2026, 1, 1)))
        session.flush()
    database.dispose()


def _audit(database: Database) -> int:
    record(database, action=Action.VIEW, outcome=AuditOutcome.ALLOWED, user_id="u1", attachment_id="a1")
    with database.session() as session:
        return session.scalars(select(AccessAudit.id)).one()


def test_audit_rows_cannot_be_changed_through_the_orm(database_url: str) -> None:
    database = Database(database_url)
    audit_id = _audit(database)
    with pytest.raises(AppendOnlyError), database.session() as session:
        row = session.get(AccessAudit, audit_id)
        assert row is not None
        row.outcome = AuditOutcome.DENIED
        session.flush()
    with pytest.raises(AppendOnlyError), database.session() as session:
        session.delete(session.get(AccessAudit, audit_id))
        session.flush()
    database.dispose()


@pytest.mark.parametrize(
    "statement", ["UPDATE access_audit SET outcome = 'denied'", "DELETE FROM access_audit"]
)
def test_audit_rows_cannot_be_changed_in_sql(database_url: str, statement: str) -> None:
    database = Database(database_url)
    _audit(database)
    with pytest.raises(DatabaseError, match="append-only"), database.engine.begin() as connection:
        connection.execute(text(statement))
    with database.session() as session:
        assert session.scalars(select(AccessAudit.outcome)).all() == [AuditOutcome.ALLOWED]
    database.dispose()


def test_attachment_lifecycle_defaults(database_url: str) -> None:
    database = Database(database_url)
    with database.session() as session:
        chat = Chat(expires_at=utcnow() + timedelta(hours=1))
        session.add(chat)
        session.flush()
        attachment = Attachment(
            chat_id=chat.id,
            object_key="incoming/x",
            filename="claim.mp4",
            declared_type="video/mp4",
            declared_size=10,
            strategy="single",
        )
        session.add(attachment)
        session.flush()
        assert attachment.status == AttachmentStatus.CREATED
        assert not AttachmentStatus(attachment.status).is_final
        assert AttachmentStatus.INFECTED.is_final
    database.dispose()


def test_migrations_match_the_models(database_url: str) -> None:
    database = Database(database_url)
    with database.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    database.dispose()
    assert differences == [], "a model changed without a migration (flask db revision -m ...)"


def test_disposing_while_a_connection_is_in_use_says_so(database_url: str) -> None:
    database = Database(database_url)
    in_use = database.engine.connect()
    try:
        with pytest.warns(ResourceWarning, match="1 database connection"):
            database.dispose()
    finally:
        in_use.invalidate()  # closes it for real: returned to the disposed pool, it would stay open
        in_use.close()
    with database.session() as session:
        session.execute(text("SELECT 1"))
    database.dispose()  # none in use: no warning (the suite turns warnings into errors)
