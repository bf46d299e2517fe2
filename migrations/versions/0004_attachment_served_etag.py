"""record the ETag of the object served for a clean attachment (the scanner's copy of what it read)

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("attachments", sa.Column("served_etag", sa.String(length=255), nullable=True))


def downgrade() -> None:
    op.drop_column("attachments", "served_etag")
