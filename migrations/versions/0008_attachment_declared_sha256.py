"""record the SHA-256 the customer's browser computed of the file it sent (chain of custody)

Revision ID: 0008
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("attachments", sa.Column("declared_sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("attachments", "declared_sha256")
