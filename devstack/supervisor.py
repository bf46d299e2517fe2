"""`make run`: start the whole product locally, seed development data, and keep it running.

Starts the moto S3/SQS emulator (checking S3 signatures: devstack/s3.py), the Genesys stand-in, clamd,
the database migrations, the bucket set-up, the worker and gunicorn; restarts any process that dies;
Ctrl-C stops everything.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import requests

from devstack.clamd import ensure_clamd
from devstack.s3 import command as s3_command
from ferry.config import DEV_ORG_ID, PROJECT_ROOT
from ferry.links import FILES_PATH
from genesys_standin.control_client import StandinControl

log = logging.getLogger("devstack")
PYTHON = sys.executable
BIN = Path(PYTHON).parent

DEMO_USERS: list[dict[str, Any]] = [
    {"name": "Alex Agent", "email": "agent@example.com", "state": "active", "roles": ["Agent"]},
    {
        "name": "Robin Reviewer",
        "email": "reviewer@example.com",
        "state": "active",
        "roles": ["Quality Evaluator"],
    },
    {
        "name": "Ada Auditor",
        "email": "auditor@example.com",
        "state": "active",
        "roles": ["Quality Administrator"],
    },
    {"name": "Ina Inactive", "email": "inactive@example.com", "state": "inactive", "roles": ["Agent"]},
    {
        "name": "Fred Foreign",
        "email": "foreign@example.com",
        "state": "active",
        "roles": ["Agent"],
        "organization": "foreign",
    },
    {"name": "Nora Norole", "email": "norole@example.com", "state": "active", "roles": ["Employee"]},
]


@dataclass
class Ports:
    app: int = int(os.environ.get("FERRY_PORT", "8000"))
    standin: int = int(os.environ.get("GENESYS_STANDIN_PORT", "8100"))
    aws: int = int(os.environ.get("AWS_EMULATOR_PORT", "8200"))


@dataclass
class Child:
    """A supervised process: restarted with back-off when it exits."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_file: Path | None = None  # None: the console
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = 0.0

    def start(self) -> None:
        output = open(self.log_file, "ab") if self.log_file else None  # the child process keeps it open
        self.process = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=PROJECT_ROOT,
            stdout=output,
            stderr=subprocess.STDOUT if output else None,
        )
        if output:
            output.close()
        self.started_at = time.monotonic()
        log.info("started %s (pid %s)", self.name, self.process.pid)

    def check(self) -> None:
        if self.process is None or self.process.poll() is None:
            return
        code = self.process.returncode
        # A process that keeps dying right after start is restarted less and less often.
        if time.monotonic() - self.started_at < min(2**self.restarts, 60):
            return
        self.restarts += 1
        log.warning("%s exited with %s; restarting (restart %d)", self.name, code, self.restarts)
        self.start()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


@dataclass
class Stack:
    ports: Ports = field(default_factory=Ports)
    children: list[Child] = field(default_factory=list)
    stopping: bool = False

    @property
    def base_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.setdefault("FERRY_ENV", "development")
        env.setdefault("AWS_ACCESS_KEY_ID", "development")
        env.setdefault("AWS_SECRET_ACCESS_KEY", "development")
        env.setdefault("AWS_REGION", "eu-west-1")
        env.update(
            PUBLIC_BASE_URL=env.get("PUBLIC_BASE_URL", f"http://127.0.0.1:{self.ports.app}"),
            S3_ENDPOINT_URL=f"http://127.0.0.1:{self.ports.aws}",
            SQS_ENDPOINT_URL=f"http://127.0.0.1:{self.ports.aws}",
            SQS_QUEUE_URL=f"http://127.0.0.1:{self.ports.aws}/123456789012/ferry-dev-scan",
            GENESYS_API_BASE_URL=f"http://127.0.0.1:{self.ports.standin}",
            GENESYS_LOGIN_BASE_URL=f"http://127.0.0.1:{self.ports.standin}",
            PYTHONUNBUFFERED="1",
        )
        return env

    def spawn(self, name: str, argv: list[str], env: dict[str, str], log_file: Path | None = None) -> Child:
        child = Child(name, argv, env, log_file)
        child.start()
        self.children.append(child)
        return child

    def run(self) -> int:
        busy = [f"{name} {port}" for name, port in vars(self.ports).items() if port_in_use(port)]
        if busy:
            log.error(
                "port(s) already in use: %s. Is another `make run` still running? Stop it, or choose other "
                "ports with FERRY_PORT, GENESYS_STANDIN_PORT and AWS_EMULATOR_PORT.",
                ", ".join(busy),
            )
            return 1
        signal.signal(signal.SIGINT, self._stop)
        signal.signal(signal.SIGTERM, self._stop)
        started = time.monotonic()
        env = self.base_env
        instance = Path(env.get("FERRY_INSTANCE_PATH", PROJECT_ROOT / "instance"))
        logs = instance / "logs"
        logs.mkdir(parents=True, exist_ok=True)

        # The emulators' request lines would drown Ferry's own logs: they go to files.
        self.spawn(
            "aws-emulator",
            s3_command("127.0.0.1", self.ports.aws),
            env,
            logs / "aws-emulator.log",
        )
        self.spawn(
            "genesys-standin",
            [PYTHON, "-m", "genesys_standin", "--host", "127.0.0.1", "--port", str(self.ports.standin)],
            {**env, "STANDIN_HOME_ORG_ID": DEV_ORG_ID},
            logs / "genesys-standin.log",
        )
        clamd = ensure_clamd(instance / "clamd")
        env["CLAMD_ADDRESS"] = clamd.address
        wait_for_http(f"http://127.0.0.1:{self.ports.aws}/moto-api/", "aws-emulator")
        wait_for_http(f"http://127.0.0.1:{self.ports.standin}/_control/requests", "genesys-standin")

        seed_standin(f"http://127.0.0.1:{self.ports.standin}", env["PUBLIC_BASE_URL"])
        flask = [PYTHON, "-m", "flask", "--app", "wsgi"]
        # The integration is made the way an operator makes it for the real cloud.
        created = subprocess.run(
            [*flask, "genesys", "create-integration", "--name", "Ferry (development)"],
            env=env,
            cwd=PROJECT_ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        env["GENESYS_INTEGRATION_ID"] = created.rsplit("GENESYS_INTEGRATION_ID=", 1)[1].split()[0]
        subprocess.run([*flask, "db", "upgrade"], env=env, cwd=PROJECT_ROOT, check=True)
        subprocess.run([*flask, "storage", "init"], env=env, cwd=PROJECT_ROOT, check=True)

        self.spawn("worker", [PYTHON, "-m", "ferry.worker"], env)
        self.spawn(
            "web",
            [str(BIN / "gunicorn"), "--config", "gunicorn.conf.py", "wsgi:app"],
            {**env, "PORT": str(self.ports.app)},
        )
        ready = wait_for_http(f"http://127.0.0.1:{self.ports.app}/readyz", "ferry", timeout=180)
        public = env["PUBLIC_BASE_URL"]
        print(
            "\n".join(
                [
                    "",
                    f"Ferry is {'ready' if ready else 'up (but /readyz is not 200 yet)'} "
                    f"after {time.monotonic() - started:.0f} s:",
                    f"  customer chat      {public}/chat",
                    f"  agent console      http://127.0.0.1:{self.ports.standin}/  (the Genesys stand-in)",
                    f"  viewer / QA list   {public}{FILES_PATH}",
                    f"  readiness          {public}/readyz",
                    "Demo agents log in on the stand-in's page: "
                    + ", ".join(str(u["email"]) for u in DEMO_USERS),
                    f"Emulator logs: {logs}/. Ctrl-C stops everything.",
                    "",
                ]
            ),
            flush=True,
        )
        while not self.stopping:
            for child in self.children:
                child.check()
            if not clamd.alive() and not self.stopping:
                log.warning("clamd exited; restarting")
                clamd = ensure_clamd(instance / "clamd")
            time.sleep(1)  # supervision tick, not synchronisation
        for child in reversed(self.children):
            child.stop()
        clamd.stop()
        return 0

    def _stop(self, _signum: int, _frame: FrameType | None) -> None:
        self.stopping = True


def port_in_use(port: int) -> bool:
    """Whether something already listens on 127.0.0.1:`port`."""
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def wait_for_http(url: str, name: str, timeout: float = 60) -> bool:
    """Poll `url` until it answers 200, up to `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.3)
    log.warning("%s did not answer 200 at %s within %.0f s", name, url, timeout)
    return False


def seed_standin(base: str, public_base_url: str) -> None:
    """Give the stand-in Ferry's OAuth clients and the demo users."""
    control = StandinControl(base)
    control.add_ferry_clients(public_base_url)
    for user in DEMO_USERS:
        control.add_user(**{"organization": "home", **user})


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="devstack: %(message)s")
    return Stack().run()
