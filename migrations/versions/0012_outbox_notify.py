"""outbox: on PostgreSQL, NOTIFY ferry_outbox when an entry falls due (added, or made pending again)

The worker listens and delivers at once instead of reading the outbox several times a second. On
SQLite (one machine) the worker polls, and nothing changes.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION outbox_due() RETURNS trigger AS $$
        BEGIN
            PERFORM pg_notify('ferry_outbox', '');
            RETURN NULL;
        END;
        $$ LANGUAGE plpgsql
        """
    )
    # One notification per inserting statement is enough: the worker reads every due entry.
    op.execute(
        "CREATE TRIGGER outbox_added AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION outbox_due()"
    )
    op.execute(
        "CREATE TRIGGER outbox_pending_again AFTER UPDATE OF state ON outbox FOR EACH ROW "
        "WHEN (NEW.state = 'pending' AND OLD.state <> 'pending') EXECUTE FUNCTION outbox_due()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER outbox_pending_again ON outbox")
    op.execute("DROP TRIGGER outbox_added ON outbox")
    op.execute("DROP FUNCTION outbox_due()")
