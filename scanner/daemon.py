"""Starting clamd on Ferry's configuration (scanner/clamav/clamd.conf.template), for the scanner Lambda and
for the development stack (devstack/clamd.py builds on this module: the Lambda image has no devstack/).

In the Lambda, `ensure_lambda_clamd` runs before each batch: on a cold start it copies the signature
databases from the private mirror (CLAMAV_MIRROR_URL) into /tmp, renders clamd.conf beside the socket
CLAMD_ADDRESS names, starts clamd and waits for its PING; on a warm start it refreshes the databases from
the mirror at most hourly (clamd's SelfCheck loads changed files) and restarts clamd if it died.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

from ferry.antivirus import ClamdClient
from ferry.config import Settings
from scanner.signature_updater import MirrorLocation, SignatureMirrorError, download_signatures

log = logging.getLogger("scanner.daemon")

CLAMAV_DIR = Path(__file__).resolve().parent / "clamav"
TEMPLATE = CLAMAV_DIR / "clamd.conf.template"
SOCKET_NAME = "clamd.sock"
# Loading the official database takes tens of seconds; Ferry's test signatures well under one.
START_TIMEOUT = 180.0
# A warm Lambda copies changed databases from the mirror this often (the updater runs every few hours).
SIGNATURE_REFRESH_SECONDS = 3600.0


class ClamdStartError(RuntimeError):
    """clamd did not start or did not answer in time; the message quotes its log."""


def render_config(
    run_dir: Path,
    database_dir: Path,
    *,
    tcp_port: int | None = None,
    temp_dir: Path | None = None,
    overrides: Mapping[str, str] | None = None,
) -> Path:
    """Write `run_dir/clamd.conf` from the template; `overrides` replace directives' values (tests only)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    temp_dir = temp_dir or run_dir / "tmp"
    temp_dir.mkdir(parents=True, exist_ok=True)
    tcp = f"TCPSocket {tcp_port}\nTCPAddr 127.0.0.1" if tcp_port else "# No TCP socket: the unix socket only."
    text = Template(TEMPLATE.read_text()).substitute(
        socket=run_dir / SOCKET_NAME,
        pid_file=run_dir / "clamd.pid",
        database_dir=database_dir,
        temp_dir=temp_dir,
        tcp=tcp,
    )
    if overrides:
        text = _override(text, overrides)
    path = run_dir / "clamd.conf"
    path.write_text(text)
    return path


def _override(text: str, overrides: Mapping[str, str]) -> str:
    """Replace the value of each named directive (which must already be in the config)."""
    lines = text.splitlines()
    for name, value in overrides.items():
        hits = [i for i, line in enumerate(lines) if line.split(" ", 1)[0] == name]
        if not hits:
            raise KeyError(f"{name} is not set in {TEMPLATE.name}")
        for i in hits:
            lines[i] = f"{name} {value}"
    return "\n".join(lines) + "\n"


def start_clamd(
    config: Path, address: str, log_path: Path, *, timeout: float = START_TIMEOUT, new_session: bool = False
) -> subprocess.Popen[bytes]:
    """Start clamd on `config` (its output appended to `log_path`) and wait until `address` answers PING.

    `new_session` detaches it from the caller's terminal (development: it outlives the starting command).

    :raise ClamdStartError: clamd is not installed, exited, or did not answer within `timeout` seconds.
    """
    clamd = shutil.which("clamd") or "/usr/sbin/clamd"
    if not Path(clamd).exists():
        raise ClamdStartError("clamd not found: install ClamAV's daemon (Debian: clamav-daemon)")
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            [clamd, "--config-file", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=new_session,
        )
    client = ClamdClient(address, timeout=5.0)
    deadline = time.monotonic() + timeout
    while not client.ping():
        if process.poll() is not None:
            raise ClamdStartError(f"clamd exited with status {process.returncode}:\n{tail(log_path)}")
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise ClamdStartError(f"clamd did not answer PING within {timeout:.0f} s:\n{tail(log_path)}")
        time.sleep(0.05)  # polling a condition (PING) with a deadline, not waiting blindly
    return process


def tail(path: Path, lines: int = 20) -> str:
    """The last lines of a log file."""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


# -- the scanner Lambda --------------------------------------------------------------------------------


@dataclass
class _LambdaState:
    """What a Lambda sandbox keeps between invocations."""

    process: subprocess.Popen[bytes] | None = None
    synced_at: float | None = None


_state = _LambdaState()
_lock = threading.Lock()


def ensure_lambda_clamd(
    settings: Settings,
    *,
    s3_client: Any = None,
    database_dir: Path | None = None,
    timeout: float = START_TIMEOUT,
) -> str:
    """Make sure a clamd answers at CLAMD_ADDRESS, starting it from the signature mirror if needed.

    `database_dir` replaces the mirror (tests start clamd on Ferry's test signatures). Answers the address.

    :raise ClamdStartError: no address, no mirror, or clamd would not start.
    """
    address = settings.clamd_address
    if not address or Path(address).name != SOCKET_NAME:
        raise ClamdStartError(
            f"CLAMD_ADDRESS must be a unix socket path ending in /{SOCKET_NAME}: {address!r}"
        )
    run_dir = Path(address).parent
    with _lock:
        if _state.process is not None and _state.process.poll() is None and database_dir is None:
            _refresh_signatures(settings, s3_client, run_dir / "database")
        if ClamdClient(address, timeout=5.0).ping():
            return address  # ours, or one the environment already runs at that address
        if _state.process is not None:
            log.warning("clamd is not answering; restarting it", extra={"returncode": _state.process.poll()})
            _state.process.kill()
            _state.process.wait()
            _state.process = None
        if database_dir is None:
            database_dir = run_dir / "database"
            _sync_signatures(settings, s3_client, database_dir)
        config = render_config(run_dir, database_dir)
        started = time.monotonic()
        _state.process = start_clamd(config, address, run_dir / "clamd.log", timeout=timeout)
        log.info("clamd started", extra={"seconds": round(time.monotonic() - started, 2), "socket": address})
        return address


def stop_lambda_clamd() -> None:
    """Stop the clamd `ensure_lambda_clamd` started (tests; a Lambda sandbox simply ends)."""
    with _lock:
        if _state.process is not None:
            _state.process.terminate()
            _state.process.wait()
        _state.process = None
        _state.synced_at = None


def _refresh_signatures(settings: Settings, s3_client: Any, database_dir: Path) -> None:
    """On a warm start, copy what changed in the mirror at most hourly; a failure keeps what is loaded."""
    if _state.synced_at is not None and time.monotonic() - _state.synced_at < SIGNATURE_REFRESH_SECONDS:
        return
    try:
        _sync_signatures(settings, s3_client, database_dir)
    except (SignatureMirrorError, ClamdStartError) as exc:
        # The freshness check stops stale signatures from vouching for a file; no need to stop scanning.
        log.warning("signature refresh from the mirror failed", extra={"error": str(exc)})


def _sync_signatures(settings: Settings, s3_client: Any, database_dir: Path) -> None:
    """Copy the mirror's databases into `database_dir` (only files that changed)."""
    if not settings.clamav_mirror_url:
        raise ClamdStartError("CLAMAV_MIRROR_URL is not set: the scanner has no signatures to load")
    if s3_client is None:
        import boto3

        s3_client = boto3.client("s3", region_name=settings.aws_region)
    report = download_signatures(s3_client, MirrorLocation.parse(settings.clamav_mirror_url), database_dir)
    _state.synced_at = time.monotonic()
    log.info("signatures synced from the mirror", extra=report.as_dict())
