"""A project-local clamd for development and tests.

`python -m devstack.clamd start --run-dir DIR` renders scanner/clamav/clamd.conf.template into DIR,
picks the signature database, starts clamd in the background, waits until it answers PING and prints
its socket path; `stop` and `status` do what they say. Tests use `ensure_clamd(run_dir)`.

Signatures: the official database in /var/lib/clamav when it is there (main and daily, .cvd or
.cld), optionally after one quick `freshclam` attempt; otherwise Ferry's test signatures (EICAR only),
and a WARNING says so, because such a clamd finds nothing real.
"""

from __future__ import annotations

import argparse
import logging
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ferry.antivirus import ClamdClient, ClamdError, EngineVersion
from scanner.daemon import (  # the rendering and starting the scanner Lambda shares
    CLAMAV_DIR,
    SOCKET_NAME,
    START_TIMEOUT,
    render_config,
    start_clamd,
)

log = logging.getLogger("devstack.clamd")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEST_SIGNATURES = CLAMAV_DIR / "test-signatures"
OFFICIAL_DATABASE_DIR = Path("/var/lib/clamav")
STOP_TIMEOUT = 15.0
FRESHCLAM_TIMEOUT = 120.0

# clamd processes started by this process, kept so that they are waited for (and never reported as
# leaked by Popen's finaliser) when stopped.
_children: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class ClamdProcess:
    """A clamd running from `run_dir`."""

    run_dir: Path
    address: str
    pid: int

    def client(self, timeout: float = 600.0) -> ClamdClient:
        return ClamdClient(self.address, timeout=timeout)

    def alive(self) -> bool:
        """The process is still running (a supervisor restarts it when not)."""
        return _alive(self.pid)

    def stop(self) -> None:
        """Stop this clamd and wait until it is gone."""
        stop_clamd(self.run_dir)


def has_official_database(directory: Path) -> bool:
    """Both official databases (main and daily, signed .cvd or incremental .cld) are in `directory`."""
    return all(
        any((directory / f"{name}.{ext}").is_file() for ext in ("cvd", "cld")) for name in ("main", "daily")
    )


def try_freshclam(
    database_dir: Path, run_dir: Path, *, mirror: str | None = None, timeout: float = FRESHCLAM_TIMEOUT
) -> bool:
    """One quick freshclam attempt into `database_dir`; False (never an exception) when it cannot.

    `mirror` is a private mirror's URL (cvdupdate); by default ClamAV's CDN.
    """
    freshclam = shutil.which("freshclam")
    if not freshclam or not os.access(database_dir, os.W_OK):
        log.info(
            "freshclam skipped: %s", "not installed" if not freshclam else f"{database_dir} is not writable"
        )
        return False
    config = run_dir / "freshclam.conf"
    # One attempt, short timeouts: offline, freshclam gives up in well under a second.
    source = f"PrivateMirror {mirror}" if mirror else "DatabaseMirror database.clamav.net"
    config.write_text(
        f"DatabaseDirectory {database_dir}\n{source}\nMaxAttempts 1\n"
        f"ConnectTimeout 10\nReceiveTimeout 60\nForeground yes\n"
        # As root, freshclam switches to DatabaseOwner: keep the directory's owner.
        + (f"DatabaseOwner {pwd.getpwuid(database_dir.stat().st_uid).pw_name}\n" if os.geteuid() == 0 else "")
    )
    try:
        done = subprocess.run(
            [freshclam, f"--config-file={config}", "--stdout"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        log.warning("freshclam did not finish within %.0f s", timeout)
        return False
    if done.returncode != 0:
        last = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
        log.info("freshclam could not update the database (exit %s): %s", done.returncode, last)
        return False
    return has_official_database(database_dir)


def choose_database(
    run_dir: Path,
    *,
    update: bool = False,
    mirror: str | None = None,
    official_dir: Path = OFFICIAL_DATABASE_DIR,
) -> Path:
    """The official database if present (after one freshclam attempt when `update`), else test signatures."""
    if update and not has_official_database(official_dir) and official_dir.is_dir():
        try_freshclam(official_dir, run_dir, mirror=mirror)
    if has_official_database(official_dir):
        return official_dir
    test_dir = run_dir / "test-signatures"
    shutil.rmtree(test_dir, ignore_errors=True)
    shutil.copytree(TEST_SIGNATURES, test_dir)
    log.warning(
        "NO OFFICIAL CLAMAV DATABASE in %s: clamd loads Ferry's TEST SIGNATURES ONLY and detects the EICAR "
        "test file and nothing else",
        official_dir,
    )
    return test_dir


def ensure_clamd(
    run_dir: Path,
    *,
    tcp_port: int | None = None,
    database_dir: Path | None = None,
    update_signatures: bool = False,
    mirror: str | None = None,
    overrides: Mapping[str, str] | None = None,
    timeout: float = START_TIMEOUT,
) -> ClamdProcess:
    """Return the clamd of `run_dir`, starting it (with a freshly rendered config) if it is not running."""
    run_dir = run_dir.resolve()
    running = _running(run_dir)
    if running:
        return running
    database_dir = database_dir or choose_database(run_dir, update=update_signatures, mirror=mirror)
    config = render_config(run_dir, database_dir, tcp_port=tcp_port, overrides=overrides)
    address = str(run_dir / SOCKET_NAME)
    # A session of its own: clamd outlives `devstack.clamd start` and ignores the terminal's Ctrl-C.
    process = start_clamd(config, address, run_dir / "clamd.log", timeout=timeout, new_session=True)
    _children[process.pid] = process
    (run_dir / "clamd.pid").write_text(f"{process.pid}\n")
    return ClamdProcess(run_dir, address, process.pid)


def stop_clamd(run_dir: Path, timeout: float = STOP_TIMEOUT) -> bool:
    """Stop the clamd of `run_dir` (SIGTERM, then SIGKILL after `timeout`); False if none was running."""
    run_dir = run_dir.resolve()
    pid = _pid(run_dir)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    child = _children.pop(pid, None)
    if child is not None:
        try:
            child.wait(timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    else:
        deadline = time.monotonic() + timeout
        while _alive(pid):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)  # polling for the process to be gone, with a deadline
    (run_dir / "clamd.pid").unlink(missing_ok=True)
    return True


def clamd_version(run_dir: Path) -> EngineVersion | None:
    """The running clamd's VERSION, or None when it does not answer."""
    try:
        return ClamdClient(str(run_dir.resolve() / SOCKET_NAME), timeout=5.0).version()
    except ClamdError:
        return None


def _running(run_dir: Path) -> ClamdProcess | None:
    pid = _pid(run_dir)
    address = str(run_dir / SOCKET_NAME)
    if pid is not None and ClamdClient(address, timeout=5.0).ping():
        return ClamdProcess(run_dir, address, pid)
    return None


def _pid(run_dir: Path) -> int | None:
    """The pid recorded in `run_dir`, if that process is alive."""
    try:
        pid = int((run_dir / "clamd.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) else None


def _alive(pid: int) -> bool:
    child = _children.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument("--run-dir", type=Path, default=PROJECT_ROOT / "instance" / "clamd")
    parser.add_argument("--tcp-port", type=int, help="also listen on 127.0.0.1:PORT")
    parser.add_argument(
        "--update-signatures", action="store_true", help="try freshclam once if no official database"
    )
    parser.add_argument("--mirror", help="private signature mirror URL for --update-signatures")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    if args.action == "start":
        process = ensure_clamd(
            args.run_dir, tcp_port=args.tcp_port, update_signatures=args.update_signatures, mirror=args.mirror
        )
        print(process.address)
        return 0
    if args.action == "stop":
        if not stop_clamd(args.run_dir):
            print("clamd was not running", file=sys.stderr)
        return 0
    version = clamd_version(args.run_dir)
    if version is None:
        print("clamd is not running")
        return 1
    signatures = (
        "TEST SIGNATURES ONLY" if version.test_signatures_only else f"signatures {version.signature_version}"
    )
    print(f"clamd is running at {args.run_dir.resolve() / SOCKET_NAME}: {version.raw} ({signatures})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
