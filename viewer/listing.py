"""The QA list of attachments and the audit log: filters, sorting and bounded pagination.

Every sort column is indexed and pages are fetched with LIMIT/OFFSET bounded to MAX_PAGE pages, so a
page costs the same with 100,000 attachments as with 100; deeper than that, narrow the filters.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import selectinload
from sqlalchemy.sql.elements import ColumnElement

from ferry.access.audit import CHAINED_FIELDS
from ferry.config import DOCUMENT_TYPES
from ferry.db import Database
from ferry.models import AccessAudit, Attachment, AttachmentStatus, AuditOutcome, Chat

PAGE_SIZE = 50
MAX_PAGE = 200
MIB = 1024 * 1024

T = TypeVar("T")

KINDS: dict[str, str] = {
    "image": "Images",
    "video": "Video",
    "audio": "Audio",
    "pdf": "PDF",
    "dicom": "DICOM",
    "document": "Documents",
}
SORTS: dict[str, Any] = {
    "created": Attachment.created_at,
    "name": Attachment.filename,
    "size": Attachment.size,
    "type": Attachment.declared_type,
    "status": Attachment.status,
}


@dataclass(frozen=True)
class Page(Generic[T]):
    rows: list[T]
    page: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def at_limit(self) -> bool:
        return self.page >= MAX_PAGE and self.has_next


def _text(args: Mapping[str, str], name: str, limit: int = 200) -> str:
    return (args.get(name) or "").strip()[:limit]


def _day(args: Mapping[str, str], name: str) -> date | None:
    try:
        return date.fromisoformat(_text(args, name, 10))
    except ValueError:
        return None


def _number(args: Mapping[str, str], name: str) -> float | None:
    try:
        value = float(_text(args, name, 20))
    except ValueError:
        return None
    return value if 0 <= value < 1e12 else None


def _page(args: Mapping[str, str]) -> int:
    try:
        return min(max(int(_text(args, "page", 6)), 1), MAX_PAGE)
    except ValueError:
        return 1


def _query_args(values: dict[str, Any]) -> dict[str, str]:
    """Filter values as query arguments, leaving out empty ones and page 1."""
    return {
        k: str(v) for k, v in values.items() if v is not None and v != "" and not (k == "page" and v == 1)
    }


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


@dataclass(frozen=True)
class FileFilters:
    """What the QA list was asked for; unreadable values are ignored rather than refused."""

    q: str = ""
    conversation: str = ""
    customer: str = ""
    kind: str = ""
    status: str = ""
    min_mb: float | None = None
    max_mb: float | None = None
    since: date | None = None
    until: date | None = None
    sort: str = "created"
    order: str = "desc"
    page: int = 1

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> FileFilters:
        kind = _text(args, "kind")
        status = _text(args, "status")
        sort = _text(args, "sort")
        return cls(
            q=_text(args, "q"),
            conversation=_text(args, "conversation", 64),
            customer=_text(args, "customer"),
            kind=kind if kind in KINDS else "",
            status=status if status in {s.value for s in AttachmentStatus} else "",
            min_mb=_number(args, "min_mb"),
            max_mb=_number(args, "max_mb"),
            since=_day(args, "since"),
            until=_day(args, "until"),
            sort=sort if sort in SORTS else "created",
            order="asc" if _text(args, "order") == "asc" else "desc",
            page=_page(args),
        )

    def args(self, **changes: Any) -> dict[str, str]:
        """These filters as query arguments (for links), with `changes` applied; empty ones left out."""
        return _query_args(asdict(replace(self, **changes)))

    def conditions(self) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if self.q:
            where.append(Attachment.filename.icontains(self.q, autoescape=True))
        if self.conversation:
            where.append(Attachment.conversation_id == self.conversation)
        if self.customer:
            # A subquery, not a join: the page is then read from the attachments' indexes alone.
            customers = select(Chat.id).where(
                or_(
                    Chat.email.icontains(self.customer, autoescape=True),
                    Chat.nickname.icontains(self.customer, autoescape=True),
                    Chat.first_name.icontains(self.customer, autoescape=True),
                    Chat.last_name.icontains(self.customer, autoescape=True),
                    Chat.customer_id == self.customer,
                )
            )
            where.append(Attachment.chat_id.in_(customers))
        if self.kind in ("image", "video", "audio"):
            where.append(Attachment.declared_type.startswith(f"{self.kind}/", autoescape=True))
        elif self.kind == "pdf":
            where.append(Attachment.declared_type == "application/pdf")
        elif self.kind == "dicom":
            where.append(Attachment.declared_type == "application/dicom")
        elif self.kind == "document":
            where.append(Attachment.declared_type.in_(DOCUMENT_TYPES))
        if self.status:
            where.append(Attachment.status == self.status)
        if self.min_mb is not None:
            where.append(Attachment.size >= int(self.min_mb * MIB))
        if self.max_mb is not None:
            where.append(Attachment.size <= int(self.max_mb * MIB))
        if self.since:
            where.append(Attachment.created_at >= _start_of(self.since))
        if self.until:
            where.append(Attachment.created_at < _start_of(self.until + timedelta(days=1)))
        return where

    def query(self) -> Select[Attachment]:
        """The page's query: filtered, sorted on an indexed column (id breaks ties), one page plus one row;
        the page's chats come in one more query by primary key."""
        column = SORTS[self.sort]
        ordered = (
            (column.asc(), Attachment.id.asc())
            if self.order == "asc"
            else (column.desc(), Attachment.id.desc())
        )
        return (
            select(Attachment)
            .options(selectinload(Attachment.chat))
            .where(*self.conditions())
            .order_by(*ordered)
            .limit(PAGE_SIZE + 1)
            .offset((self.page - 1) * PAGE_SIZE)
        )


def list_files(db: Database, filters: FileFilters) -> Page[Attachment]:
    with db.session() as session:
        rows = list(session.scalars(filters.query()))
    return Page(rows=rows[:PAGE_SIZE], page=filters.page, has_next=len(rows) > PAGE_SIZE)


@dataclass(frozen=True)
class AuditFilters:
    """Filters of the audit page and its CSV export."""

    user: str = ""
    attachment: str = ""
    action: str = ""
    outcome: str = ""
    since: date | None = None
    until: date | None = None
    page: int = 1

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> AuditFilters:
        outcome = _text(args, "outcome")
        return cls(
            user=_text(args, "user"),
            attachment=_text(args, "attachment", 64),
            action=_text(args, "action", 32),
            outcome=outcome if outcome in {o.value for o in AuditOutcome} else "",
            since=_day(args, "since"),
            until=_day(args, "until"),
            page=_page(args),
        )

    def args(self, **changes: Any) -> dict[str, str]:
        return _query_args(asdict(replace(self, **changes)))

    def conditions(self) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if self.user:
            where.append(
                or_(
                    AccessAudit.user_id == self.user,
                    AccessAudit.user_name.icontains(self.user, autoescape=True),
                )
            )
        if self.attachment:
            where.append(AccessAudit.attachment_id == self.attachment)
        if self.action:
            where.append(AccessAudit.action == self.action)
        if self.outcome:
            where.append(AccessAudit.outcome == self.outcome)
        if self.since:
            where.append(AccessAudit.at >= _start_of(self.since))
        if self.until:
            where.append(AccessAudit.at < _start_of(self.until + timedelta(days=1)))
        return where

    def query(self) -> Select[AccessAudit]:
        return (
            select(AccessAudit)
            .where(*self.conditions())
            .order_by(AccessAudit.id.desc())
            .limit(PAGE_SIZE + 1)
            .offset((self.page - 1) * PAGE_SIZE)
        )


def list_audit(db: Database, filters: AuditFilters) -> Page[AccessAudit]:
    with db.session() as session:
        rows = list(session.scalars(filters.query()))
    return Page(rows=rows[:PAGE_SIZE], page=filters.page, has_next=len(rows) > PAGE_SIZE)


# Every field a row's hash covers, and the hash: the CSV can be checked against the chain offline.
CSV_COLUMNS = ("id", *CHAINED_FIELDS, "row_hash")
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "|", "%")


def csv_cell(value: object) -> str:
    """A cell value that no spreadsheet will evaluate: risky leading characters get a leading quote."""
    text = value.isoformat() if isinstance(value, datetime) else ("" if value is None else str(value))
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def audit_csv(db: Database, filters: AuditFilters) -> Iterator[str]:
    """Every matching audit row as CSV, streamed in batches (no page limit), newest first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    yield buffer.getvalue()
    statement = select(AccessAudit).where(*filters.conditions()).order_by(AccessAudit.id.desc())
    with db.session() as session:
        for row in session.scalars(statement.execution_options(yield_per=1000)):
            buffer.seek(0)
            buffer.truncate()
            writer.writerow([csv_cell(getattr(row, column)) for column in CSV_COLUMNS])
            yield buffer.getvalue()
