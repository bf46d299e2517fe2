"""record the key of the preview image the scanner made of a clean attachment

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("attachments", sa.Column("preview_key", sa.String(length=1024), nullable=True))


def downgrade() -> None:
    op.drop_column("attachments", "preview_key")
