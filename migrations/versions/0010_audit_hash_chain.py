"""chain the access audit's rows by hash (tamper-evident), existing rows included

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from alembic import op

from ferry.access.audit import CHAIN_ID, GENESIS, row_hash

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _append_only() -> ModuleType:
    """Migration 0002, whose upgrade and downgrade add and drop the append-only triggers."""
    path = Path(__file__).with_name("0002_audit_append_only.py")
    spec = importlib.util.spec_from_file_location("ferry_migration_0002", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table(
        "audit_chain",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
    )
    append_only = _append_only()
    append_only.downgrade()  # the existing rows are given their place in the chain, once
    with op.batch_alter_table("access_audit") as batch:
        batch.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("row_hash", sa.String(length=64), nullable=True))
    audit = sa.table(
        "access_audit",
        *(sa.column(name) for name in ("id", "seq", "prev_hash", "row_hash")),
        *(sa.column(name) for name in ("user_id", "user_name", "attachment_id", "action", "outcome")),
        *(sa.column(name) for name in ("reason", "ip", "user_agent")),
        sa.column("at", sa.DateTime(timezone=True)),
    )
    seq, previous = 0, GENESIS
    rows = bind.execute(sa.select(audit).order_by(audit.c.id)).mappings().all()
    for row in rows:
        seq += 1
        values = {**row, "seq": seq, "prev_hash": previous, "at": _utc(row["at"])}
        previous = row_hash(values)
        bind.execute(
            audit.update()
            .where(audit.c.id == row["id"])
            .values(seq=seq, prev_hash=values["prev_hash"], row_hash=previous)
        )
    with op.batch_alter_table("access_audit") as batch:
        batch.alter_column("seq", existing_type=sa.BigInteger(), nullable=False)
        batch.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch.alter_column("row_hash", existing_type=sa.String(length=64), nullable=False)
        batch.create_index("ix_access_audit_seq", ["seq"])
    chain = sa.table("audit_chain", sa.column("id"), sa.column("seq"), sa.column("last_hash"))
    bind.execute(chain.insert().values(id=CHAIN_ID, seq=seq, last_hash=previous))
    # The head (row 1, CHAIN_ID) follows every insert in the inserting transaction, so a writer reads its
    # predecessor's hash in the statement that locks the head (ferry.access.audit.record).
    if bind.dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION access_audit_chain_head() RETURNS trigger AS $$
            BEGIN
                UPDATE audit_chain SET seq = NEW.seq, last_hash = NEW.row_hash WHERE id = 1;
                RETURN NEW;
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER access_audit_chain_head AFTER INSERT ON access_audit "
            "FOR EACH ROW EXECUTE FUNCTION access_audit_chain_head()"
        )
    else:
        op.execute(
            "CREATE TRIGGER access_audit_chain_head AFTER INSERT ON access_audit "
            "BEGIN UPDATE audit_chain SET seq = NEW.seq, last_hash = NEW.row_hash WHERE id = 1; END"
        )
    append_only.upgrade()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER access_audit_chain_head ON access_audit")
        op.execute("DROP FUNCTION access_audit_chain_head()")
    else:
        op.execute("DROP TRIGGER access_audit_chain_head")
    append_only = _append_only()
    append_only.downgrade()
    with op.batch_alter_table("access_audit") as batch:
        batch.drop_index("ix_access_audit_seq")
        batch.drop_column("row_hash")
        batch.drop_column("prev_hash")
        batch.drop_column("seq")
    append_only.upgrade()
    op.drop_table("audit_chain")


def _utc(value: object) -> object:
    """SQLite hands timestamps back naive (they are stored in UTC); the hash is over UTC times."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
