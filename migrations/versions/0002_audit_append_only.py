"""access_audit is append-only in the database too, not only in the ORM

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

MESSAGE = "access_audit is append-only"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION access_audit_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION '{MESSAGE}';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER access_audit_no_change BEFORE UPDATE OR DELETE ON access_audit "
            "FOR EACH ROW EXECUTE FUNCTION access_audit_append_only()"
        )
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER access_audit_no_{action.lower()} BEFORE {action} ON access_audit "
                f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER access_audit_no_change ON access_audit")
        op.execute("DROP FUNCTION access_audit_append_only()")
    else:
        op.execute("DROP TRIGGER access_audit_no_update")
        op.execute("DROP TRIGGER access_audit_no_delete")
