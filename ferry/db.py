"""The database: one SQLAlchemy engine per process, sessions scoped to a unit of work."""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, DateTime, Engine, Label, Table, create_engine, event, inspect, text
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import QueuePool
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (every timestamp Ferry stores is UTC)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use ferry.db.utcnow()")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of every Ferry table."""


ModelT = TypeVar("ModelT", bound=Base)


def table_of(model: type[Base]) -> Table:
    """The model's table, for Core statements."""
    return model.metadata.tables[model.__tablename__]


def columns_of(model: type[Base], prefix: str = "") -> list[Label[Any]]:
    """Every column of a model, labelled with its attribute name (after `prefix`, when one select reads
    two models): a Core select of whole rows that `detached` turns back into model instances."""
    return [attr.columns[0].label(prefix + attr.key) for attr in inspect(model).column_attrs]


def detached(model: type[ModelT], row: Mapping[str, Any], prefix: str = "") -> ModelT:
    """A model instance holding a Core row's values (those labelled with `prefix`), outside any session
    (relationships unloaded)."""
    if prefix:
        row = {key[len(prefix) :]: value for key, value in row.items() if key.startswith(prefix)}
    return model(**row)


class Database:
    """Owns the engine and the session factory for one database URL."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine: Engine = _make_engine(url, echo=echo)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._autocommit_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits when the block succeeds and rolls back when it raises."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def autocommit(self) -> Iterator[Connection]:
        """A Core connection in which every statement commits on its own: for the one-statement units
        of work every click runs (viewer session, attachment, audit row).

        It skips the ORM's identity map and unit of work, which cost several times the query itself,
        and on PostgreSQL the BEGIN and COMMIT round trips.
        """
        with self._autocommit_engine.connect() as connection:
            yield connection

    def ping(self) -> None:
        """Run a trivial query; raises if the database is unreachable."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def dispose(self) -> None:
        """Close pooled connections (after a fork, and at shutdown).

        A connection still checked out is not closed: it is left to the garbage collector, which
        complains at some later, unrelated moment. So say so here, where the cause is: whatever
        still uses the database (a request, a stream, a worker thread) should have ended first.
        """
        pool = self.engine.pool
        busy = pool.checkedout() if isinstance(pool, QueuePool) else 0
        if busy:
            warnings.warn(
                f"{busy} database connection(s) still in use when the engine is disposed: they stay open",
                ResourceWarning,
                stacklevel=2,
            )
        self.engine.dispose()


def _make_engine(url: str, *, echo: bool) -> Engine:
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Several gunicorn workers and the scan worker share one SQLite file: WAL lets readers run
        # beside the writer, and busy_timeout makes a writer wait instead of failing at once.
        engine = create_engine(url, echo=echo, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # WAL with synchronous=NORMAL survives any process crash; only a power cut may lose the last
            # commits. PostgreSQL is the production database; this keeps SQLite's per-click audit cheap.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=5, max_overflow=5)
