"""The access audit's hash chain: `flask audit verify` finds a changed, a removed and a slipped-in row,
the migration chains rows written before it, and writers in parallel keep the chain whole."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from alembic import command
from flask import Flask
from sqlalchemy import Connection, select, text

from ferry.access.audit import Action, record, row_hash, verify
from ferry.cli import alembic_config, upgrade_database
from ferry.db import Database
from ferry.models import AccessAudit, AuditOutcome


def write(db: Database, count: int, who: str = "agent") -> list[int]:
    for n in range(count):
        record(db, action=Action.VIEW, outcome=AuditOutcome.ALLOWED, user_id=who, reason=f"click {n}")
    with db.session() as session:
        return list(session.scalars(select(AccessAudit.id).order_by(AccessAudit.seq)))


@contextmanager
def as_intruder(db: Database) -> Iterator[Connection]:
    """A connection past the append-only triggers, as someone with the database's owner rights has."""
    with db.engine.begin() as connection:
        if db.is_sqlite:
            for trigger in ("access_audit_no_update", "access_audit_no_delete", "access_audit_chain_head"):
                connection.execute(text(f"DROP TRIGGER {trigger}"))  # this test's own copy of the file
        else:
            connection.execute(text("SET LOCAL session_replication_role = replica"))
        yield connection


def verify_command(app: Flask) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    return result.exit_code, result.output


def test_an_untouched_log_is_intact(app: Flask, db: Database) -> None:
    write(db, 3)
    assert verify_command(app)[0] == 0
    assert "audit log intact: 3 rows" in verify_command(app)[1]


def test_a_changed_row_is_named(app: Flask, db: Database) -> None:
    ids = write(db, 3)
    with as_intruder(db) as connection:
        connection.execute(text("UPDATE access_audit SET reason = 'nothing' WHERE id = :id"), {"id": ids[1]})

    code, output = verify_command(app)

    assert code == 1
    assert f"row {ids[1]} was changed" in output
    assert verify(db).row_id == ids[1]


def test_a_removed_row_is_named(app: Flask, db: Database) -> None:
    ids = write(db, 3)
    with as_intruder(db) as connection:
        connection.execute(text("DELETE FROM access_audit WHERE id = :id"), {"id": ids[1]})

    code, output = verify_command(app)

    assert code == 1
    assert f"row {ids[2]}: the rows at places 2..2 of the chain, after row {ids[0]}, were removed" in output


def test_removing_the_newest_rows_is_found(app: Flask, db: Database) -> None:
    ids = write(db, 3)
    with as_intruder(db) as connection:
        connection.execute(text("DELETE FROM access_audit WHERE id = :id"), {"id": ids[2]})

    code, output = verify_command(app)

    assert code == 1
    assert "the newest rows were removed: the chain holds 3 rows, 2 are left" in output


def test_a_row_slipped_in_is_named_even_with_a_well_made_hash(app: Flask, db: Database) -> None:
    ids = write(db, 3)
    with db.session() as session:
        first = session.get_one(AccessAudit, ids[0])
    forged = {
        "seq": 2,
        "prev_hash": first.row_hash,
        "at": first.at,
        "user_id": "intruder",
        "user_name": None,
        "attachment_id": None,
        "action": "view",
        "outcome": "allowed",
        "reason": "an alibi",
        "ip": None,
        "user_agent": None,
    }
    forged["row_hash"] = row_hash(forged)
    with as_intruder(db) as connection:
        connection.execute(AccessAudit.__table__.insert(), forged)
    with db.session() as session:
        forged_id = session.scalars(select(AccessAudit.id).where(AccessAudit.user_id == "intruder")).one()

    code, output = verify_command(app)

    assert code == 1
    assert f"row {forged_id} was inserted out of order: place 2 is already row {ids[1]}'s" in output


def test_a_row_that_does_not_follow_its_predecessor_is_named(app: Flask, db: Database) -> None:
    ids = write(db, 2)
    forged = {"seq": 3, "prev_hash": "f" * 64, "at": None, "user_id": "intruder", "action": "view"}
    forged |= {"outcome": "allowed", "user_name": None, "attachment_id": None, "reason": None}
    forged |= {"ip": None, "user_agent": None}
    with db.session() as session:
        forged["at"] = session.get_one(AccessAudit, ids[1]).at
    forged["row_hash"] = row_hash(forged)
    with as_intruder(db) as connection:
        connection.execute(AccessAudit.__table__.insert(), forged)

    report = verify(db)

    assert not report.intact and report.count == 2
    assert report.problem is not None and f"does not follow row {ids[1]}" in report.problem


def test_writers_in_parallel_keep_the_chain_whole(database_url: str, db: Database) -> None:
    """Eight writers, each with its own engine (as separate processes have), append at once."""
    writers, each = 8, 15
    start = threading.Barrier(writers)
    failures: list[BaseException] = []

    def writer(n: int) -> None:
        own = Database(database_url)
        try:
            start.wait()
            for i in range(each):
                record(own, action=Action.API, outcome=AuditOutcome.ALLOWED, user_id=f"w{n}", reason=str(i))
        except BaseException as exc:  # reported below, in the test's thread
            failures.append(exc)
        finally:
            own.dispose()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    report = verify(db)
    assert report.problem is None
    assert report.count == writers * each


def test_the_migration_chains_rows_written_before_it(database_url: str, db: Database) -> None:
    config = alembic_config(database_url)
    command.downgrade(config, "0004")
    try:
        with db.engine.begin() as connection:
            for n in range(3):
                connection.execute(
                    text(
                        "INSERT INTO access_audit (at, user_id, action, outcome, reason) "
                        "VALUES (:at, 'old', 'view', 'allowed', :reason)"
                    ),
                    {"at": f"2026-01-0{n + 1} 10:00:00.123456", "reason": f"before the chain {n}"},
                )
    finally:
        upgrade_database(database_url)

    assert verify(db).count == 3 and verify(db).intact
    record(db, action=Action.VIEW, outcome=AuditOutcome.ALLOWED, user_id="new")
    assert verify(db).count == 4 and verify(db).intact
