"""index delivered outbox entries by age, for housekeeping's pruning

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outbox_state_sent_at", "outbox", ["state", "sent_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_state_sent_at", table_name="outbox")
