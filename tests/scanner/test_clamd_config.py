"""The clamd configuration: limits that make "OK" always mean "scanned", and clamd really applying them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from devstack.clamd import ClamdProcess, render_config
from scanner.core import DEFAULT_ENGINE_CAP

MIB = 1024 * 1024


def directives(path: Path) -> dict[str, str]:
    """The config's directives (comments and blank lines dropped)."""
    pairs = (
        line.split(None, 1)
        for line in path.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    return {name: value for name, value in pairs}


def size(value: str) -> int:
    """A clamd SIZE ("2000M", "512K", "100")."""
    number, unit = re.fullmatch(r"(\d+)([KkMm]?)", value).groups()  # type: ignore[union-attr]
    return int(number) * {"": 1, "k": 1024, "m": MIB}[unit.lower()]


@pytest.fixture
def config(tmp_path: Path) -> dict[str, str]:
    return directives(render_config(tmp_path / "run", tmp_path / "db"))


def test_limits_are_explicit_and_loud(config: dict[str, str]) -> None:
    assert config["AlertExceedsMax"] == "yes"  # over a limit is reported, never "OK"
    assert config["AlertEncrypted"] == "yes"
    assert size(config["StreamMaxLength"]) == 2000 * MIB
    assert size(config["MaxFileSize"]) == 2000 * MIB
    assert size(config["MaxScanSize"]) == 4000 * MIB
    assert size(config["PCREMaxFileSize"]) >= size(config["MaxFileSize"])
    assert int(config["MaxRecursion"]) == 17 and int(config["MaxFiles"]) == 10000


def test_engine_cap_fits_clamds_limits(config: dict[str, str]) -> None:
    # The core never sends a stream clamd would refuse or skip.
    assert DEFAULT_ENGINE_CAP <= size(config["StreamMaxLength"])
    assert DEFAULT_ENGINE_CAP <= size(config["MaxFileSize"]) < 2 * 1024 * MIB


def test_scan_time_allows_the_largest_stream_at_a_conservative_speed(config: dict[str, str]) -> None:
    seconds = int(config["MaxScanTime"]) / 1000
    assert DEFAULT_ENGINE_CAP / seconds <= 8 * 1000 * 1000  # 2000 MiB fits at 8 MB/s or slower
    assert seconds < 600  # and clamd answers before the client's default 600 s timeout


def test_paths_are_under_the_run_directory(tmp_path: Path, config: dict[str, str]) -> None:
    run = tmp_path / "run"
    assert config["LocalSocket"] == str(run / "clamd.sock")
    assert config["PidFile"] == str(run / "clamd.pid")
    assert config["TemporaryDirectory"] == str(run / "tmp") and (run / "tmp").is_dir()
    assert config["DatabaseDirectory"] == str(tmp_path / "db")
    assert config["Foreground"] == "yes"
    assert "TCPSocket" not in config


def test_tcp_listens_on_loopback_only(tmp_path: Path) -> None:
    config = directives(render_config(tmp_path, tmp_path / "db", tcp_port=3310))
    assert (config["TCPSocket"], config["TCPAddr"]) == ("3310", "127.0.0.1")


def test_overrides_replace_values_and_refuse_unknown_directives(tmp_path: Path) -> None:
    config = directives(render_config(tmp_path, tmp_path / "db", overrides={"StreamMaxLength": "2M"}))
    assert config["StreamMaxLength"] == "2M"
    with pytest.raises(KeyError):
        render_config(tmp_path, tmp_path / "db", overrides={"NoSuchDirective": "1"})


@pytest.mark.clamd
def test_clamd_applies_the_limits(clamd: ClamdProcess) -> None:
    """clamd's own start-up report shows the configured limits in force."""
    log = (clamd.run_dir / "clamd.log").read_text()
    assert f"File size limit set to {2000 * MIB} bytes" in log
    assert f"Global size limit set to {4000 * MIB} bytes" in log
    assert "Global time limit set to 300000 milliseconds" in log
    assert "Heuristic alerting enabled for scans that exceed set maximums" in log
    assert "Alerting of encrypted archives _and_ documents enabled" in log
