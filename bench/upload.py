"""Upload benchmark: the chat widget's uploader in headless Chromium against boto3's upload_file, the
same file to the same moto S3 server (its own process), measured in the same run, in alternating order.

Ferry runs in its own process (werkzeug, threaded) wrapped in a WSGI middleware that counts request
body bytes; the bench samples that process's RSS while the widget uploads, and checks that every
stored object has the file's SHA-256. Targets: throughput ratio widget / boto3 >= 0.9 (best of the
runs); Ferry's RSS grows < 20 MB and it receives < 64 KB of request bodies per upload (the bytes go
browser → S3). Misses are reported as MISSED; the exit status is 1 only when an object is corrupt.

It also measures the floor under any in-browser uploader on this machine: the same file sent from the
same page by bare XHRs of Blob slices (same part size, six in flight, no checksums, no API, no UI),
presigned and completed from Python. When that floor is itself below the target, the gap is Chromium's
cost of sending bytes, not the widget's.

    python bench/upload.py                 # 500 MB, 4 runs of each
    python bench/upload.py --size 100M --rounds 2
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Run as `python bench/upload.py` (what `make bench` does): make the project importable.
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from devstack.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from devstack.files import write_random_file  # noqa: E402
from devstack.s3 import command as s3_command  # noqa: E402

MB = 1000 * 1000
MIB = 1024 * 1024
BUCKET = "ferry-bench"
REGION = "eu-west-1"
QUEUE = "ferry-bench-scan"
AWS_ENV = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": REGION}
STATS_PATH = "/_bench/stats"
TARGET_RATIO = 0.9
TARGET_RSS_GROWTH = 20 * MB
TARGET_BODY_BYTES = 64 * 1024


def parse_size(text: str) -> int:
    """'500M', '1G', or bytes (decimal units, like the targets)."""
    match = re.fullmatch(r"(\d+)([KMG]?)", text.strip().upper())
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r}")
    return int(match.group(1)) * {"": 1, "K": 1000, "M": MB, "G": 1000 * MB}[match.group(2)]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not happen within {timeout} s")
        time.sleep(0.05)


def answers(url: str) -> bool:
    import requests

    try:
        requests.get(url, timeout=1)
    except requests.RequestException:
        return False
    return True


# -- Ferry's process: the app behind a body-counting middleware ------------------------------------


class BodyCounter:
    """WSGI middleware: counts request bodies (declared and actually read) and serves the counts."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.declared = 0
        self.read = 0
        self.requests = 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == STATS_PATH:
            with self.lock:
                body = json.dumps({"declared": self.declared, "read": self.read, "requests": self.requests})
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body.encode()]
        with self.lock:
            self.requests += 1
            self.declared += int(environ.get("CONTENT_LENGTH") or 0)
        environ["wsgi.input"] = _CountingStream(environ["wsgi.input"], self)
        result: Iterable[bytes] = self.app(environ, start_response)
        return result

    def add_read(self, count: int) -> None:
        with self.lock:
            self.read += count


class _CountingStream:
    def __init__(self, stream: Any, counter: BodyCounter) -> None:
        self.stream = stream
        self.counter = counter

    def read(self, *args: Any) -> bytes:
        data: bytes = self.stream.read(*args)
        self.counter.add_read(len(data))
        return data

    def readline(self, *args: Any) -> bytes:
        data: bytes = self.stream.readline(*args)
        self.counter.add_read(len(data))
        return data

    def __iter__(self) -> Iterator[bytes]:
        for line in self.stream:
            self.counter.add_read(len(line))
            yield line


def serve(port: int, environ: dict[str, str]) -> None:
    """Run Ferry (werkzeug, threaded) on `port` with the middleware; until killed."""
    from werkzeug.serving import make_server

    from ferry import create_app
    from ferry.config import Settings

    app = create_app(Settings.from_env(environ))
    make_server("127.0.0.1", port, BodyCounter(app), threaded=True).serve_forever()


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


class RssSampler:
    """Peak RSS of a process, sampled every 20 ms in a thread."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = rss_bytes(pid)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stopped.wait(0.02):
            self.peak = max(self.peak, rss_bytes(self.pid))

    def __enter__(self) -> RssSampler:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stopped.set()
        self.thread.join()
        self.peak = max(self.peak, rss_bytes(self.pid))


# -- the stack ---------------------------------------------------------------------------------------


@contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        child = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield child
        finally:
            child.terminate()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def prepare_storage(moto: str, ferry_origin: str) -> None:
    """Bucket with CORS for Ferry's origin, scan queue and events, as `flask storage init` leaves them."""
    from ferry.queues import SqsQueue
    from ferry.storage import S3Storage, queue_policy

    storage = S3Storage(bucket=BUCKET, region=REGION, endpoint_url=moto)
    queue = SqsQueue(url=f"{moto}/123456789012/{QUEUE}", region=REGION, endpoint_url=moto)
    storage.ensure_bucket()
    queue.ensure(visibility_timeout=60)
    queue.ensure(visibility_timeout=60, policy=queue_policy(queue.arn(), BUCKET))
    storage.configure(
        widget_origins=(ferry_origin,), queue_arn=queue.arn(), incoming_prefix="incoming/", abort_after_days=1
    )


def stored_sha256(moto: str, key: str) -> str:
    from ferry.storage import S3Storage

    digest = hashlib.sha256()
    for chunk in S3Storage(bucket=BUCKET, region=REGION, endpoint_url=moto).read(key):
        digest.update(chunk)
    return digest.hexdigest()


def delete_object(moto: str, key: str) -> None:
    """Free moto's memory between rounds."""
    from ferry.storage import S3Storage

    S3Storage(bucket=BUCKET, region=REGION, endpoint_url=moto).delete(key)


def boto3_upload(moto: str, path: Path, name: str) -> tuple[float, float, str]:
    """boto3's managed upload (its defaults: 8 MiB parts, 10 threads) under the same prefix as the
    widget's objects (so the same event notifications fire); answers seconds, the seconds its
    CompleteMultipartUpload took, and the key's name."""
    import boto3

    client = boto3.client("s3", region_name=REGION, endpoint_url=moto)
    marks: dict[str, float] = {}

    def mark(name: str) -> Callable[..., None]:
        def handler(**_kwargs: Any) -> None:
            marks[name] = time.perf_counter()

        return handler

    client.meta.events.register("before-call.s3.CompleteMultipartUpload", mark("complete"))
    client.meta.events.register("after-call.s3.CompleteMultipartUpload", mark("completed"))
    started = time.perf_counter()
    client.upload_file(str(path), BUCKET, f"incoming/{name}")
    seconds = time.perf_counter() - started
    return seconds, marks.get("completed", 0.0) - marks.get("complete", 0.0), name


def body_stats(ferry: str) -> dict[str, int]:
    import requests

    result: dict[str, int] = requests.get(f"{ferry}{STATS_PATH}", timeout=5).json()
    return result


class Widget:
    """The chat page in Chromium with a started chat."""

    def __init__(self, playwright: Any, ferry: str) -> None:
        self.browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        self.page = self.browser.new_context().new_page()
        self.page.goto(f"{ferry}/chat")
        self.page.get_by_role("button", name="Start chat").click()
        self.page.get_by_label("Message").wait_for()
        self.count = 0

    def upload(self, path: Path, timeout_s: float = 600) -> tuple[float, float, dict[str, Any]]:
        """Select the file, wait until it is stored (state scanning); answers seconds, the seconds the
        complete call took (Ferry's ListParts + CompleteMultipartUpload + HeadObject), the attachment."""
        self.count += 1
        self.page.evaluate(
            "performance.clearResourceTimings(); performance.setResourceTimingBufferSize(10000)"
        )
        started = time.perf_counter()
        self.page.get_by_label("Attach file").set_input_files(path)
        item = self.page.locator(".upload").nth(self.count - 1)
        # Resolves in the page the moment the item's state settles: no polling to disturb the measurement.
        state = self.page.evaluate(
            """(el) => new Promise((resolve) => {
                const done = () => ["scanning", "rejected", "failed"].includes(el.dataset.state);
                if (done()) return resolve(el.dataset.state);
                new MutationObserver((_, observer) => {
                    if (done()) { observer.disconnect(); resolve(el.dataset.state); }
                }).observe(el, {attributes: true, attributeFilter: ["data-state"]});
            })""",
            item.element_handle(timeout=timeout_s * 1000),
        )
        seconds = time.perf_counter() - started
        if state != "scanning":
            raise RuntimeError(f"widget upload ended {state}: {item.inner_text()!r}")
        complete = self.page.evaluate(
            """performance.getEntriesByType("resource").filter((e) => e.name.endsWith("/complete"))
                .map((e) => (e.responseEnd - e.startTime) / 1000).pop() || 0"""
        )
        listed = self.page.evaluate("fetch('/chat/api/attachments').then(r => r.json())")["attachments"]
        return seconds, float(complete), listed[self.count - 1]

    def bare_upload(self, moto: str, path: Path, key: str) -> float:
        """The floor: CreateMultipartUpload, bare XHR PUTs of the file's slices from this page (8 MiB,
        six in flight, as the widget), CompleteMultipartUpload; answers seconds."""
        from ferry.objects import PENDING_TAGS
        from ferry.storage import S3Storage

        storage = S3Storage(bucket=BUCKET, region=REGION, endpoint_url=moto)
        size = path.stat().st_size
        part_size = max(8 * MIB, -(-size // 10_000))
        if not self.page.locator("#bench-floor").count():
            self.page.evaluate(
                """() => { const input = document.createElement("input");
                    input.type = "file"; input.id = "bench-floor"; input.hidden = true;
                    document.body.append(input); }"""
            )
        self.page.set_input_files("#bench-floor", path)
        started = time.perf_counter()
        upload_id = storage.create_multipart(key, content_type="video/mp4", tags=PENDING_TAGS)
        count = -(-size // part_size)
        urls = [storage.presign_part(key, upload_id, n, expires=3600)[0] for n in range(1, count + 1)]
        self.page.evaluate(
            """async ([urls, partSize]) => {
                const file = document.getElementById("bench-floor").files[0];
                let next = 0;
                const put = (i) => new Promise((resolve, reject) => {
                    const xhr = new XMLHttpRequest();
                    xhr.open("PUT", urls[i]);
                    xhr.onload = () => (xhr.status < 300 ? resolve() : reject(new Error(xhr.responseText)));
                    xhr.onerror = () => reject(new Error("network"));
                    xhr.send(file.slice(i * partSize, (i + 1) * partSize));
                });
                const worker = async () => { while (next < urls.length) await put(next++); };
                await Promise.all(Array.from({ length: 6 }, worker));
            }""",
            [urls, part_size],
        )
        storage.complete_multipart(key, upload_id, storage.list_parts(key, upload_id))
        return time.perf_counter() - started

    def close(self) -> None:
        self.browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=parse_size, default=500 * MB, help="file size (default 500M)")
    parser.add_argument("--rounds", type=int, default=4, help="uploads of each kind; the best counts")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)  # internal: run Ferry on this port
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, dict(os.environ))
        return 0
    if not Path(CHROMIUM).exists():
        print(f"needs Chromium at {CHROMIUM}", file=sys.stderr)
        return 2

    from playwright.sync_api import sync_playwright

    from ferry.cli import upgrade_database

    env = {**os.environ, **AWS_ENV}
    os.environ.update(AWS_ENV)
    with tempfile.TemporaryDirectory(prefix="ferry-bench-upload-") as tmp:
        work = Path(tmp)
        moto_port, ferry_port = free_port(), free_port()
        moto, ferry = f"http://127.0.0.1:{moto_port}", f"http://127.0.0.1:{ferry_port}"
        database = f"sqlite:///{work / 'ferry.sqlite3'}"
        upgrade_database(database)
        ferry_env = {
            **env,
            "FERRY_ENV": "development",
            "FERRY_INSTANCE_PATH": str(work / "instance"),
            "DATABASE_URL": database,
            "PUBLIC_BASE_URL": ferry,
            "WIDGET_ORIGINS": ferry,
            "S3_BUCKET": BUCKET,
            "S3_ENDPOINT_URL": moto,
            "SQS_ENDPOINT_URL": moto,
            "SQS_QUEUE_URL": f"{moto}/123456789012/{QUEUE}",
            "LOG_LEVEL": "WARNING",
        }
        moto_cmd = s3_command("127.0.0.1", moto_port)
        ferry_cmd = [sys.executable, __file__, "--serve", str(ferry_port)]
        with (
            process(moto_cmd, {**env, "PYTHONPATH": str(PROJECT_ROOT)}, work / "moto.log"),
            process(ferry_cmd, ferry_env, work / "ferry.log") as ferry_process,
            sync_playwright() as playwright,
        ):
            wait_until(lambda: answers(f"{moto}/moto-api/"), "moto server start")
            wait_until(lambda: answers(f"{ferry}/healthz"), "Ferry start")
            prepare_storage(moto, ferry)
            print(f"writing a {args.size / MB:.0f} MB file ...", flush=True)
            path = work / "bench-upload.mp4"
            local_sha = write_random_file(path, args.size)
            warmup = work / "warmup.mp4"
            write_random_file(warmup, 9 * MIB)  # two parts: every upload route has run once before measuring

            widget = Widget(playwright, ferry)
            try:
                # Warm both sides up (imports, connections, every upload route) before measuring.
                widget.upload(warmup)
                delete_object(moto, f"incoming/{boto3_upload(moto, warmup, 'warmup')[2]}")
                results = measure(args, widget, moto, ferry, ferry_process.pid, path, local_sha)
            finally:
                widget.close()
    return report(args, results)


@dataclass
class Results:
    widget: list[float] = field(default_factory=list)  # seconds per upload
    boto3: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)  # seconds of the bare-XHR floor
    widget_complete: list[float] = field(default_factory=list)  # seconds of the complete step
    boto3_complete: list[float] = field(default_factory=list)
    rss_growth: list[int] = field(default_factory=list)
    body_bytes: list[int] = field(default_factory=list)
    intact: bool = True


def measure(
    args: argparse.Namespace,
    widget: Widget,
    moto: str,
    ferry: str,
    ferry_pid: int,
    path: Path,
    local_sha: str,
) -> Results:
    """Rounds of one boto3, one widget and one floor upload, in rotating order so that drift in the
    machine's load or in moto's memory favours none."""
    results = Results()
    kinds = ["boto3", "widget", "floor"]
    for round_ in range(1, args.rounds + 1):
        order = kinds[round_ % 3 :] + kinds[: round_ % 3]
        for kind in order:
            if kind == "floor":
                key = f"incoming/floor-{round_}"
                seconds = widget.bare_upload(moto, path, key)
                results.floor.append(seconds)
                results.intact = results.intact and stored_sha256(moto, key) == local_sha
                delete_object(moto, key)
                print(f"round {round_} floor:  {args.size / seconds / MB:6.1f} MB/s (bare XHRs)", flush=True)
                continue
            if kind == "boto3":
                seconds, complete, key = boto3_upload(moto, path, f"reference-{round_}")
                results.boto3.append(seconds)
                results.boto3_complete.append(complete)
                delete_object(moto, f"incoming/{key}")
                print(
                    f"round {round_} boto3:  {args.size / seconds / MB:6.1f} MB/s "
                    f"(complete {complete:.2f} s)",
                    flush=True,
                )
                continue
            before = body_stats(ferry)
            baseline = rss_bytes(ferry_pid)
            with RssSampler(ferry_pid) as sampler:
                seconds, complete, attachment = widget.upload(path)
            after = body_stats(ferry)
            results.widget.append(seconds)
            results.widget_complete.append(complete)
            results.rss_growth.append(sampler.peak - baseline)
            results.body_bytes.append(after["declared"] - before["declared"])
            key = f"incoming/{attachment['id']}"
            results.intact = results.intact and stored_sha256(moto, key) == local_sha
            delete_object(moto, key)
            requests_made = after["requests"] - before["requests"]
            print(
                f"round {round_} widget: {args.size / seconds / MB:6.1f} MB/s (complete {complete:.2f} s; "
                f"{attachment['part_count']} parts of {attachment['part_size'] / MIB:.0f} MiB; Ferry: "
                f"RSS +{results.rss_growth[-1] / MB:.1f} MB, {requests_made} requests, "
                f"{results.body_bytes[-1]} body bytes)",
                flush=True,
            )
    return results


def report(args: argparse.Namespace, results: Results) -> int:
    """Print the comparison; fail (exit 1) only when a stored object is not the file that was sent."""
    boto_best = args.size / min(results.boto3) / MB
    widget_best = args.size / min(results.widget) / MB
    boto_median = args.size / statistics.median(results.boto3) / MB
    widget_median = args.size / statistics.median(results.widget) / MB
    ratio = widget_best / boto_best
    floor_best = args.size / min(results.floor) / MB
    growth, bodies = max(results.rss_growth), max(results.body_bytes)

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    runs = f"{args.rounds} runs each"
    print(f"boto3 upload_file: best {boto_best:.1f} MB/s, median {boto_median:.1f} MB/s ({runs})")
    print(f"widget uploader:   best {widget_best:.1f} MB/s, median {widget_median:.1f} MB/s ({runs})")
    print(f"bare-XHR floor:    best {floor_best:.1f} MB/s ({runs})")
    print(
        f"  complete step (median): widget {statistics.median(results.widget_complete):.2f} s, "
        f"boto3 {statistics.median(results.boto3_complete):.2f} s"
    )
    print(f"  stored objects' SHA-256 equal to the file's: {'yes' if results.intact else 'NO'}")
    print(
        f"  ratio widget/boto3 {ratio:.2f} best-of, {widget_median / boto_median:.2f} median "
        f"(target >= {TARGET_RATIO}): {verdict(ratio >= TARGET_RATIO)}"
    )
    print(
        f"  floor/boto3 {floor_best / boto_best:.2f}: the most any uploader in this browser reached here\n"
        f"  widget/floor {widget_best / floor_best:.2f}: what the widget's checksums, API calls and UI cost"
    )
    print(
        f"  Ferry RSS growth during an upload {growth / MB:.1f} MB "
        f"(target < {TARGET_RSS_GROWTH / MB:.0f} MB): {verdict(growth < TARGET_RSS_GROWTH)}"
    )
    print(
        f"  Ferry request bodies for an upload {bodies} bytes "
        f"(target < {TARGET_BODY_BYTES} bytes): {verdict(bodies < TARGET_BODY_BYTES)}"
    )
    return 0 if results.intact else 1


if __name__ == "__main__":
    sys.exit(main())
