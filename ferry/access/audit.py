"""The access audit: one append-only `AccessAudit` row per attempt, allowed or not."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ferry.access.identity import Identity
from ferry.db import Database, table_of, utcnow
from ferry.models import AccessAudit, AuditOutcome


class Action(StrEnum):
    """What was attempted (the `action` of an audit row)."""

    LOGIN = "login"
    LOGOUT = "logout"
    VIEW = "view"
    PREVIEW = "preview"
    DOWNLOAD = "download"
    API = "api"
    CONVERSATION = "conversation"
    LIST = "list"
    AUDIT = "audit"
    AUDIT_EXPORT = "audit_export"


@dataclass(frozen=True)
class Requester:
    """Where a request came from, as the audit log records it."""

    ip: str | None = None
    user_agent: str | None = None


NOBODY_KNOWN = Requester()

_AUDIT_INSERT = table_of(AccessAudit).insert()


def record(
    db: Database,
    *,
    action: Action,
    outcome: AuditOutcome,
    identity: Identity | None = None,
    user_id: str | None = None,
    user_name: str | None = None,
    attachment_id: str | None = None,
    reason: str | None = None,
    requester: Requester = NOBODY_KNOWN,
) -> None:
    """Append one audit row (values are clipped to their columns; ids from the URL are stored as sent).

    A Core INSERT, not an ORM add: every click writes one, and the unit of work would double its cost.
    The table's triggers keep it append-only either way.
    """
    with db.autocommit() as connection:
        connection.execute(
            _AUDIT_INSERT,
            {
                "at": utcnow(),
                "user_id": _clip(identity.user_id if identity else user_id, 64),
                "user_name": _clip(identity.name if identity else user_name, 255),
                "attachment_id": _clip(attachment_id, 64),
                "action": str(action),
                "outcome": str(outcome),
                "reason": _clip(reason, 1000),
                "ip": _clip(requester.ip, 64),
                "user_agent": _clip(requester.user_agent, 512),
            },
        )


def _clip(value: str | None, size: int) -> str | None:
    return value[:size] if value else None
