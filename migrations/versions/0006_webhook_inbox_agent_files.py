"""the webhook inbox (signed bodies retried from the database) and files agents send (origin, source URL)

Revision ID: 0006
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ferry.db

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "attachments",
        sa.Column("origin", sa.String(length=16), nullable=False, server_default="customer"),
    )
    op.add_column("attachments", sa.Column("source_url", sa.Text(), nullable=True))
    op.add_column("attachments", sa.Column("genesys_message_id", sa.String(length=128), nullable=True))
    op.create_index("ix_attachments_genesys_message_id", "attachments", ["genesys_message_id"])
    op.add_column(
        "attachments", sa.Column("fetch_attempts", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column("attachments", sa.Column("fetch_after", ferry.db.UTCDateTime(timezone=True), nullable=True))
    op.create_table(
        "webhook_inbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", ferry.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=64), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("received_at", ferry.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("done_at", ferry.db.UTCDateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_webhook_inbox_state_next_attempt_at", "webhook_inbox", ["state", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_webhook_inbox_state_next_attempt_at", table_name="webhook_inbox")
    op.drop_table("webhook_inbox")
    op.drop_column("attachments", "fetch_after")
    op.drop_column("attachments", "fetch_attempts")
    op.drop_index("ix_attachments_genesys_message_id", table_name="attachments")
    op.drop_column("attachments", "genesys_message_id")
    op.drop_column("attachments", "source_url")
    op.drop_column("attachments", "origin")
