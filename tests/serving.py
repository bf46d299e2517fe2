"""Ferry served over real HTTP for browser and end-to-end tests, as deployed: gunicorn with the shipped
gunicorn.conf.py (gevent workers) in child processes, configured by environment alone."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Self

import requests

from ferry.config import PROJECT_ROOT


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Poll `condition` until it answers something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


class Gunicorn:
    """`wsgi:app` under gunicorn with the shipped config (gevent, WEB_CONCURRENCY workers, default 2) at
    http://127.0.0.1:`port`, configured by `environ` alone, as on Heroku; its log goes to `log_path`."""

    def __init__(self, environ: Mapping[str, str], port: int, log_path: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self._environ = {**os.environ, **environ}
        self._port = port
        self._log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        argv = [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            "gunicorn.conf.py",
            "-b",
            f"127.0.0.1:{self._port}",
        ]
        with self._log_path.open("wb") as log:  # the child keeps its own copy of the descriptor
            self._process = subprocess.Popen(
                [*argv, "wsgi:app"], env=self._environ, cwd=PROJECT_ROOT, stdout=log, stderr=log
            )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_ready(self) -> None:
        def ready() -> bool:
            assert self._process is not None
            if self._process.poll() is not None:
                raise AssertionError(f"gunicorn exited with {self._process.returncode}: {self.log()}")
            try:
                return requests.get(f"{self.url}/healthz", timeout=1).status_code == 200
            except requests.RequestException:
                return False

        try:
            wait_for(ready, timeout=30)
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {self.log()}") from None

    def log(self) -> str:
        """The end of gunicorn's log (errors and the app's JSON lines)."""
        return self._log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        """SIGTERM, as Heroku stops a dyno: the open streams end at once and the shutdown must not hang."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise AssertionError(f"gunicorn did not stop within 30 s of SIGTERM: {self.log()}") from None
        log = self._log_path.read_text(errors="replace")
        if process.returncode != 0 or "Exception in worker process" in log:
            raise AssertionError(f"gunicorn's shutdown failed (exit {process.returncode}): {self.log()}")

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
