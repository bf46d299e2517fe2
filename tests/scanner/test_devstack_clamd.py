"""devstack.clamd: choosing signatures, starting, reusing and stopping a project-local clamd."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from devstack import clamd as devstack_clamd
from devstack.clamd import TEST_SIGNATURES, choose_database, ensure_clamd, has_official_database
from ferry.antivirus import ClamdClient


def test_official_database_is_preferred(tmp_path: Path) -> None:
    official = tmp_path / "official"
    official.mkdir()
    (official / "main.cvd").write_bytes(b"")
    assert not has_official_database(official)  # daily is missing
    (official / "daily.cld").write_bytes(b"")
    assert has_official_database(official)
    assert choose_database(tmp_path / "run", official_dir=official) == official


def test_without_official_database_test_signatures_are_copied_loudly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="devstack.clamd"):
        chosen = choose_database(tmp_path / "run", official_dir=tmp_path / "empty")
    assert chosen == tmp_path / "run" / "test-signatures"
    assert sorted(p.name for p in chosen.iterdir()) == sorted(p.name for p in TEST_SIGNATURES.iterdir())
    assert any(
        r.levelno == logging.WARNING and "TEST SIGNATURES ONLY" in r.getMessage() for r in caplog.records
    )


def test_unreachable_mirror_does_not_block(tmp_path: Path, free_port: int) -> None:
    # As offline: one attempt, which fails at once and says so with False (never an exception).
    database = tmp_path / "db"
    database.mkdir()
    assert (
        devstack_clamd.try_freshclam(database, tmp_path, mirror=f"http://127.0.0.1:{free_port}", timeout=60)
        is False
    )
    assert not has_official_database(database)


@pytest.mark.clamd
def test_start_reuse_status_stop(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path / "clamd"
    first = ensure_clamd(run_dir, database_dir=TEST_SIGNATURES)
    try:
        assert ClamdClient(first.address).ping()
        assert ensure_clamd(run_dir).pid == first.pid  # already running: reused, not restarted
        assert devstack_clamd.main(["status", "--run-dir", str(run_dir)]) == 0
        assert "TEST SIGNATURES ONLY" in capsys.readouterr().out
        assert first.alive()
    finally:
        first.stop()
    assert not first.alive()
    assert not ClamdClient(first.address).ping()
    assert devstack_clamd.main(["status", "--run-dir", str(run_dir)]) == 1
