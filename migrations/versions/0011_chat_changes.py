"""chat_changes: triggers log (and on PostgreSQL NOTIFY) every write to a chat or its messages

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# (trigger, table, event, the row's chat id)
TRIGGERS = (
    ("chat_messages_insert_changed", "chat_messages", "INSERT", "NEW.chat_id"),
    ("chat_messages_update_changed", "chat_messages", "UPDATE", "NEW.chat_id"),
    ("chats_update_changed", "chats", "UPDATE", "NEW.id"),
)


def upgrade() -> None:
    op.create_table(
        "chat_changes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("chat_id", sa.String(36), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        for name, table, action, chat_id in TRIGGERS:
            op.execute(
                f"""
                CREATE FUNCTION {name}() RETURNS trigger AS $$
                BEGIN
                    INSERT INTO chat_changes (chat_id) VALUES ({chat_id});
                    PERFORM pg_notify('ferry_chat', {chat_id});
                    RETURN NULL;
                END;
                $$ LANGUAGE plpgsql
                """  # noqa: S608 -- constants of this file
            )
            op.execute(
                f"CREATE TRIGGER {name} AFTER {action} ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()"
            )
    else:
        for name, table, action, chat_id in TRIGGERS:
            op.execute(
                f"CREATE TRIGGER {name} AFTER {action} ON {table} "  # noqa: S608 -- constants of this file
                f"BEGIN INSERT INTO chat_changes (chat_id) VALUES ({chat_id}); END"
            )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for name, table, _action, _chat_id in TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON {table}" if postgres else f"DROP TRIGGER {name}")
        if postgres:
            op.execute(f"DROP FUNCTION {name}()")
    op.drop_table("chat_changes")
