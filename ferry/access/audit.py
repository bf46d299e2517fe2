"""The access audit: one append-only `AccessAudit` row per attempt, allowed or not, hash-chained.

Each row's `row_hash` is the SHA-256 of its canonical form (`canonical`), which includes its place in the
chain (`seq`, 1, 2, 3, ...) and the previous row's hash (`prev_hash`; GENESIS for the first row). Editing,
removing or slipping in a row breaks the chain, and `verify` names the first row where it breaks.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, func, select, update

from ferry.access.identity import Identity
from ferry.db import Database, table_of, utcnow
from ferry.models import AccessAudit, AuditChain, AuditOutcome


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
    EVIDENCE = "evidence"


@dataclass(frozen=True)
class Requester:
    """Where a request came from, as the audit log records it."""

    ip: str | None = None
    user_agent: str | None = None


NOBODY_KNOWN = Requester()

_AUDIT = table_of(AccessAudit)
_CHAIN = table_of(AuditChain)
_AUDIT_INSERT = _AUDIT.insert()
CHAIN_ID = 1
GENESIS = "0" * 64
CANONICAL_VERSION = "ferry-audit-v1"
# The canonical form's fields, in this order (every one a string or null, `seq` an integer).
CHAINED_FIELDS = (
    "seq",
    "prev_hash",
    "at",
    "user_id",
    "user_name",
    "attachment_id",
    "action",
    "outcome",
    "reason",
    "ip",
    "user_agent",
)
# Takes the next place in the chain and learns the previous row's hash, in one statement that holds the
# chain row's lock until commit: PostgreSQL's row lock (a waiting UPDATE re-reads the row once the holder
# commits) or SQLite's write lock. Writers in every process are serialised here and nowhere else.
_TAKE_PLACE = (
    update(_CHAIN)
    .where(_CHAIN.c.id == CHAIN_ID)
    .values(seq=_CHAIN.c.seq + 1)
    .returning(_CHAIN.c.seq, _CHAIN.c.last_hash)
)


def canonical(row: Mapping[Any, Any]) -> bytes:
    """The bytes a row's hash covers: the JSON array [CANONICAL_VERSION, *CHAINED_FIELDS values], UTF-8,
    no whitespace, non-ASCII kept as is; `at` as ISO 8601 UTC with microseconds and a "Z"."""
    values: list[Any] = [CANONICAL_VERSION]
    for field in CHAINED_FIELDS:
        value = row[field]
        if isinstance(value, datetime):
            value = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        values.append(value)
    return json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def row_hash(row: Mapping[Any, Any]) -> str:
    """The SHA-256 (hex) of a row's canonical form."""
    return hashlib.sha256(canonical(row)).hexdigest()


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
    """Append one audit row to the chain (values are clipped to their columns; ids from the URL are stored
    as sent).

    Core statements, not an ORM add: every click writes one, and the unit of work would double its cost.
    Two statements in one transaction: take the next place (locking the chain), insert the row (a
    trigger moves the chain's head to it). The table's triggers keep it append-only.
    """
    values: dict[str, Any] = {
        "at": utcnow(),
        "user_id": _clip(identity.user_id if identity else user_id, 64),
        "user_name": _clip(identity.name if identity else user_name, 255),
        "attachment_id": _clip(attachment_id, 64),
        "action": str(action),
        "outcome": str(outcome),
        "reason": _clip(reason, 1000),
        "ip": _clip(requester.ip, 64),
        "user_agent": _clip(requester.user_agent, 512),
    }
    if db.is_sqlite:
        # One statement, as before the chain: it holds SQLite's write lock only while it runs, where a
        # transaction of two would hold it across a round trip and make the other writers poll for it.
        with db.autocommit() as connection:
            info = connection.connection.info
            if SQLITE_HASH not in info:
                connection.connection.driver_connection.create_function(  # type: ignore[union-attr]
                    SQLITE_HASH, len(CHAINED_FIELDS), _sqlite_row_hash, deterministic=True
                )
                info[SQLITE_HASH] = True
            connection.execute(_SQLITE_APPEND, values)
        return
    with db.engine.begin() as connection:
        values["seq"], values["prev_hash"] = connection.execute(_TAKE_PLACE).one()
        values["row_hash"] = row_hash(values)
        connection.execute(_AUDIT_INSERT, values)


SQLITE_HASH = "ferry_audit_row_hash"
_VALUE_FIELDS = [f for f in CHAINED_FIELDS if f not in ("seq", "prev_hash")]
_NEXT_SEQ = _CHAIN.c.seq + 1
_BOUND = {f: bindparam(f, type_=_AUDIT.c[f].type) for f in _VALUE_FIELDS}
# On SQLite the row takes its place, its predecessor's hash and its own hash in its INSERT (the hash by
# SQLITE_HASH, this module's row_hash registered on the connection); the trigger moves the head.
_SQLITE_APPEND = _AUDIT.insert().from_select(
    [*_VALUE_FIELDS, "seq", "prev_hash", "row_hash"],
    select(
        *(_BOUND[f] for f in _VALUE_FIELDS),
        _NEXT_SEQ,
        _CHAIN.c.last_hash,
        func.ferry_audit_row_hash(
            *(
                _NEXT_SEQ if f == "seq" else _CHAIN.c.last_hash if f == "prev_hash" else _BOUND[f]
                for f in CHAINED_FIELDS
            )
        ),
    ).where(_CHAIN.c.id == CHAIN_ID),
)


def _sqlite_row_hash(*values: Any) -> str:
    """row_hash over SQLite's stored values (`at` as SQLAlchemy stores it: UTC, without its zone)."""
    row = dict(zip(CHAINED_FIELDS, values, strict=True))
    row["at"] = datetime.fromisoformat(row["at"]).replace(tzinfo=UTC)
    return row_hash(row)


@dataclass(frozen=True)
class ChainReport:
    """What `verify` found: intact with `count` rows, or the first break (`row_id` None when the newest
    rows are missing)."""

    count: int
    head_hash: str
    problem: str | None = None
    row_id: int | None = None

    @property
    def intact(self) -> bool:
        return self.problem is None


def verify(db: Database, *, batch: int = 1000) -> ChainReport:
    """Walk the chain in order and report the first row that was changed, removed or inserted out of order."""
    columns = [_AUDIT.c.id, _AUDIT.c.row_hash, *(_AUDIT.c[field] for field in CHAINED_FIELDS)]
    walk = _Walk()
    with db.engine.connect() as connection:
        rows = connection.execution_options(yield_per=batch).execute(
            select(*columns).order_by(_AUDIT.c.seq, _AUDIT.c.id)
        )
        with rows:  # closed (a server-side cursor on PostgreSQL) also when the walk stops early
            for row in rows.mappings():
                problem = walk.step(row)
                if problem is not None:
                    return ChainReport(walk.count, walk.last_hash, problem, row["id"])
        head = connection.execute(
            select(_CHAIN.c.seq, _CHAIN.c.last_hash).where(_CHAIN.c.id == CHAIN_ID)
        ).one()
    if (head.seq, head.last_hash) != (walk.count, walk.last_hash):
        problem = f"the newest rows were removed: the chain holds {head.seq} rows, {walk.count} are left"
        return ChainReport(walk.count, walk.last_hash, problem)
    return ChainReport(walk.count, walk.last_hash)


@dataclass
class _Walk:
    """Where `verify` is in the chain: rows found good so far, the last one's hash and id."""

    count: int = 0
    last_hash: str = GENESIS
    last_id: int | None = None

    def step(self, row: Mapping[Any, Any]) -> str | None:
        """Take the next row (in `seq` order): None if it follows, else what is wrong."""
        expected = self.count + 1
        after = f"row {self.last_id}" if self.last_id is not None else "the start of the log"
        if row["seq"] > expected:
            missing = f"{expected}..{row['seq'] - 1}"
            return f"row {row['id']}: the rows at places {missing} of the chain, after {after}, were removed"
        if row["seq"] < expected:
            return f"row {row['id']} was inserted out of order: place {row['seq']} is already {after}'s"
        if row["prev_hash"] != self.last_hash:
            return f"row {row['id']} was inserted out of order: it does not follow {after}"
        if row_hash(row) != row["row_hash"]:
            return f"row {row['id']} was changed: its content no longer matches its hash"
        self.count, self.last_hash, self.last_id = expected, row["row_hash"], row["id"]
        return None


def _clip(value: str | None, size: int) -> str | None:
    return value[:size] if value else None
