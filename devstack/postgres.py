"""A throwaway PostgreSQL cluster for the test suite (no systemd needed).

`python -m devstack.postgres start DIR` prints a DATABASE_URL; `stop DIR` removes the cluster;
`restart DIR` restarts it (for tests of what survives a database restart).
"""

from __future__ import annotations

import argparse
import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
from pathlib import Path


def _bin(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if not found:
        raise SystemExit(f"{name} not found: install the Debian package 'postgresql'")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(argv: list[str]) -> list[str]:
    # initdb refuses to run as root; run the server binaries as the 'postgres' user instead.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


def start(directory: Path) -> str:
    """Create and start a cluster in `directory`; return its DATABASE_URL."""
    directory.mkdir(parents=True, exist_ok=True)
    data, sockets = directory / "data", directory / "sockets"
    sockets.mkdir(exist_ok=True)
    if os.geteuid() == 0:
        # The server runs as 'postgres', which must be able to reach the directory.
        for parent in directory.resolve().parents:
            if not os.stat(parent).st_mode & 0o001:
                raise SystemExit(f"{parent} is not searchable by the postgres user; choose another directory")
        user = pwd.getpwnam("postgres")
        for path in (directory, sockets):
            os.chown(path, user.pw_uid, user.pw_gid)
    port = _free_port()
    quiet = {"stdout": subprocess.DEVNULL, "check": True}
    subprocess.run(_as_postgres([_bin("initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]), **quiet)  # type: ignore[call-overload]
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
    subprocess.run(
        _as_postgres(
            [
                _bin("pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(directory / "server.log"),
                "-w",
                "start",
            ]
        ),
        **quiet,  # type: ignore[call-overload]
    )
    subprocess.run(
        [
            _bin("psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-U",
            "postgres",
            "-c",
            "CREATE DATABASE ferry_test",
        ],
        **quiet,  # type: ignore[call-overload]
    )
    return f"postgresql://postgres@127.0.0.1:{port}/ferry_test"


def restart(directory: Path) -> None:
    """Restart the cluster in `directory` as an operator would (fast shutdown: every session is ended),
    on the same port; returns once it accepts connections again."""
    quiet = {"stdout": subprocess.DEVNULL, "check": True}
    subprocess.run(
        _as_postgres(
            [
                _bin("pg_ctl"),
                "-D",
                str(directory / "data"),
                "-l",
                str(directory / "server.log"),
                "-m",
                "fast",
                "-w",
                "restart",
            ]
        ),
        **quiet,
    )  # type: ignore[call-overload]


def stop(directory: Path) -> None:
    """Stop the cluster in `directory` and delete it."""
    data = directory / "data"
    if data.exists():
        subprocess.run(
            _as_postgres([_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    shutil.rmtree(directory, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=["start", "stop", "restart"])
    parser.add_argument("directory", type=Path)
    args = parser.parse_args(argv)
    if args.action == "start":
        print(start(args.directory))
    elif args.action == "restart":
        restart(args.directory)
    else:
        stop(args.directory)
    return 0


if __name__ == "__main__":
    sys.exit(main())
