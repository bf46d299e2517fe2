"""Viewer benchmark: what Ferry's checks cost an agent's click, and how rarely a click reaches Genesys.

Starts a moto server (S3), the Genesys stand-in and Ferry under gunicorn (the shipped gunicorn.conf.py:
gevent, 2 workers) on a fresh SQLite database, signs one agent in through the real login, and measures:

- redirects per second of GET /files/<id>/download (session lookup, users/me re-check when due, the
  participant grant, the audit row, S3 tag check, presigning: the click on "Download") and of the page
  GET /files/<id>, against a bare redirect route added to the same app in the same gunicorn (the
  reference). Target ratio >= 0.5.
- Genesys calls per 1,000 clicks by one agent, counted by the stand-in (GET /_control/requests).
  Target <= 20.

    python bench/viewer.py                      # 10 s per route, 4 client processes, 1,000 clicks
    python bench/viewer.py --seconds 5 --clients 2
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Run as `python bench/viewer.py` (what `make bench` does): make the project importable.
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

import requests  # noqa: E402
from flask import Flask, redirect  # noqa: E402
from werkzeug.wrappers import Response  # noqa: E402

from bench.chat import BIN, free_port, process, wait_http  # noqa: E402
from devstack.s3 import command as s3_command  # noqa: E402
from ferry.cli import upgrade_database  # noqa: E402
from ferry.config import DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_WEBHOOK_SECRET  # noqa: E402
from ferry.db import Database, utcnow  # noqa: E402
from ferry.models import Attachment, AttachmentStatus, Chat, new_id  # noqa: E402
from ferry.objects import object_key, status_tags  # noqa: E402
from ferry.storage import S3Storage  # noqa: E402
from genesys_standin.control_client import StandinControl  # noqa: E402

TARGET_RATIO = 0.5
TARGET_CALLS_PER_1000 = 20
BARE_ROUTE = "/_bench/redirect"
BUCKET = "ferry-bench"
REGION = "eu-west-1"
AWS_ENV = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": REGION}


def bench_app() -> Flask:
    """Ferry's app plus the reference route: a redirect with none of the viewer's checks (gunicorn entry)."""
    from ferry import create_app

    app = create_app()

    @app.get(BARE_ROUTE)
    def bare_redirect() -> Response:
        return redirect("https://example.invalid/object", code=302)

    return app


def seed_standin(standin: str, ferry: str) -> tuple[str, str]:
    """Ferry's OAuth clients, one agent, a conversation the agent took part in → (agent id, conversation)."""
    control = StandinControl(standin)
    control.add_ferry_clients(ferry)
    agent_id = control.add_user("Bench Agent", "agent@example.com", roles=["Agent"])
    service = requests.post(
        f"{standin}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(DEV_CLIENT_ID, DEV_CLIENT_SECRET),
        timeout=10,
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {service}"}
    integration = requests.post(
        f"{standin}/api/v2/conversations/messaging/integrations/open",
        headers=headers,
        json={
            "name": "Ferry (bench)",
            "outboundNotificationWebhookUrl": f"{ferry}/genesys/webhook",
            "outboundNotificationWebhookSignatureSecretToken": DEV_WEBHOOK_SECRET,
        },
        timeout=10,
    ).json()["id"]
    message = requests.post(
        f"{standin}/api/v2/conversations/messages/{integration}/inbound/open/message",
        params={"prefetchConversationId": "true"},
        headers=headers,
        json={
            "channel": {
                "from": {"id": "bench-customer", "idType": "Opaque"},
                "time": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            },
            "text": "here is the video",
        },
        timeout=10,
    )
    message.raise_for_status()
    conversation = str(message.json()["conversationId"])
    control.add_participant(conversation, agent_id)
    return agent_id, conversation


def seed_attachment(database_url: str, moto: str, conversation: str) -> str:
    """One clean 1 MB video, in the database and (tagged clean) in S3."""
    upgrade_database(database_url)
    storage = S3Storage(bucket=BUCKET, region=REGION, endpoint_url=moto)
    storage.ensure_bucket()
    attachment_id = new_id()
    key = object_key("incoming/", attachment_id)
    storage.client.put_object(
        Bucket=BUCKET,
        Key=key,
        Body=b"\0" * 1_000_000,
        ContentType="video/mp4",
        Tagging=urlencode(status_tags(AttachmentStatus.CLEAN)),
    )
    db = Database(database_url)
    with db.session() as session:
        chat = Chat(
            nickname="Bench Customer", conversation_id=conversation, expires_at=utcnow() + timedelta(days=1)
        )
        session.add(chat)
        session.flush()
        session.add(
            Attachment(
                id=attachment_id,
                chat_id=chat.id,
                object_key=key,
                filename="claim.mp4",
                declared_type="video/mp4",
                declared_size=1_000_000,
                strategy="single",
                status=AttachmentStatus.CLEAN,
                size=1_000_000,
                sniffed_type="video/mp4",
                conversation_id=conversation,
                uploaded_at=utcnow(),
                scanned_at=utcnow(),
            )
        )
    db.dispose()
    return attachment_id


def sign_in(ferry: str, standin: str, agent_id: str) -> requests.Session:
    """The agent's browser: GET a Ferry page, press their button at the login host, follow the callback."""
    browser = requests.Session()
    start = browser.get(f"{ferry}/login?next=/me", allow_redirects=False, timeout=10)
    params = dict(parse_qsl(urlsplit(start.headers["Location"]).query))
    picked = requests.post(
        f"{standin}/oauth/authorize", data={**params, "user_id": agent_id}, allow_redirects=False, timeout=10
    )
    callback = browser.get(picked.headers["Location"], allow_redirects=False, timeout=10)
    if callback.status_code != 302 or callback.headers["Location"] != "/me":
        raise SystemExit(f"login failed: {callback.status_code} {callback.text[:200]}")
    return browser


def hammer(url: str, cookies: dict[str, str], expected: int, seconds: float) -> int:
    """One client process: as many GETs as it can in `seconds`; returns how many got `expected`."""
    http = requests.Session()
    http.cookies.update(cookies)
    done = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        answer = http.get(url, allow_redirects=False, timeout=30)
        if answer.status_code != expected:
            raise RuntimeError(f"{url}: {answer.status_code}")
        done += 1
    return done


@dataclass(frozen=True)
class Measure:
    rate: float  # requests per second
    cpu_ms: float  # gunicorn workers' CPU time per request


def worker_cpu_seconds(master: int) -> float:
    """CPU time (user + system) used so far by the gunicorn master's worker processes (Linux /proc)."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for child in children:
        fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime and stime
    return total


def throughput(
    pool: ProcessPoolExecutor,
    master: int,
    url: str,
    cookies: dict[str, str],
    expected: int,
    args: argparse.Namespace,
) -> Measure:
    cpu = worker_cpu_seconds(master)
    started = time.monotonic()
    futures = [pool.submit(hammer, url, cookies, expected, args.seconds) for _ in range(args.clients)]
    total = sum(f.result() for f in futures)
    elapsed = time.monotonic() - started
    return Measure(total / elapsed, (worker_cpu_seconds(master) - cpu) * 1000 / total)


def genesys_calls(
    ferry: str, standin: str, agent_id: str, url: str, clicks: int
) -> tuple[requests.Session, int]:
    """Sign one agent in and let them open the link `clicks` times; returns their browser session and
    the Genesys requests (API and login host, the login's own included) the stand-in saw meanwhile."""
    control = StandinControl(standin)
    control.clear_recorded_requests()
    browser = sign_in(ferry, standin, agent_id)
    for _ in range(clicks):
        if browser.get(url, allow_redirects=False, timeout=30).status_code != 200:
            raise SystemExit("a click was refused")
    return browser, len(control.recorded_requests())


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="measuring time per route")
    parser.add_argument("--clients", type=int, default=4, help="client processes sending requests")
    parser.add_argument("--clicks", type=int, default=1000, help="clicks for the Genesys-calls count")
    parser.add_argument(
        "--database-url",
        default="",
        help="an empty PostgreSQL database to use instead of a fresh SQLite file",
    )
    args = parser.parse_args()
    for name, value in AWS_ENV.items():  # the emulator knows only these; never real ones
        os.environ[name] = value

    with tempfile.TemporaryDirectory(prefix="ferry-bench-viewer-") as tmp:
        work = Path(tmp)
        ports = {name: free_port() for name in ("moto", "standin", "ferry")}
        moto, standin, ferry = (f"http://127.0.0.1:{ports[n]}" for n in ("moto", "standin", "ferry"))
        base_env = {**os.environ, **AWS_ENV, "PYTHONPATH": str(PROJECT_ROOT), "PYTHONUNBUFFERED": "1"}
        database_url = args.database_url or f"sqlite:///{work / 'ferry.sqlite3'}"
        with (
            process(
                "moto",
                s3_command("127.0.0.1", ports["moto"]),
                base_env,
                work,
            ),
            process(
                "standin",
                [
                    sys.executable,
                    "-m",
                    "genesys_standin",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(ports["standin"]),
                ],
                {**base_env, "STANDIN_RATE_LIMIT_PER_MINUTE": "0"},
                work,
            ),
        ):
            wait_http(f"{moto}/moto-api/")
            wait_http(f"{standin}/_control/requests")
            agent_id, conversation = seed_standin(standin, ferry)
            attachment_id = seed_attachment(database_url, moto, conversation)
            ferry_env = {
                **base_env,
                "FERRY_ENV": "development",
                "FERRY_INSTANCE_PATH": str(work),
                "DATABASE_URL": database_url,
                "PUBLIC_BASE_URL": ferry,
                "S3_BUCKET": BUCKET,
                "S3_ENDPOINT_URL": moto,
                "SQS_ENDPOINT_URL": moto,
                "SQS_QUEUE_URL": f"{moto}/123456789012/ferry-bench",
                "AWS_REGION": REGION,
                "GENESYS_API_BASE_URL": standin,
                "GENESYS_LOGIN_BASE_URL": standin,
                "PORT": str(ports["ferry"]),
                "WEB_CONCURRENCY": "2",
            }
            gunicorn = [str(BIN / "gunicorn"), "--config", "gunicorn.conf.py", "bench.viewer:bench_app()"]
            with process("gunicorn", gunicorn, ferry_env, work) as server:
                wait_http(f"{ferry}/healthz")
                page = f"{ferry}/files/{attachment_id}"
                browser, calls = genesys_calls(ferry, standin, agent_id, page, args.clicks)
                cookies = browser.cookies.get_dict()
                for url, status in ((f"{ferry}{BARE_ROUTE}", 302), (f"{page}/download", 302)):
                    for _ in range(20):  # warm both workers' connections
                        answer = requests.get(url, cookies=cookies, allow_redirects=False, timeout=10)
                        assert answer.status_code == status
                with ProcessPoolExecutor(max_workers=args.clients) as pool:
                    bare = throughput(pool, server.pid, f"{ferry}{BARE_ROUTE}", cookies, 302, args)
                    download = throughput(pool, server.pid, f"{page}/download", cookies, 302, args)
                    shown = throughput(pool, server.pid, page, cookies, 200, args)
    return report(args, bare, download, shown, calls)


def report(args: argparse.Namespace, bare: Measure, download: Measure, shown: Measure, calls: int) -> int:
    """Print the measures; the CPU column is Ferry's own cost per request, without S3's, the database
    server's and the load generator's, which on one small machine compete with Ferry for the same cores."""
    per_1000 = calls * 1000 / args.clicks
    database = "PostgreSQL" if args.database_url else "SQLite"
    clients = f"{args.clients} client processes"
    print(f"viewer bench: gunicorn (shipped config) x2, {database}, S3 = moto server, {clients}")
    print(f"  {'route':<30}{'req/s':>8}  {'ratio':>6}  {'worker CPU/req':>14}  {'CPU ratio':>9}")
    for name, measure in (
        ("bare redirect (reference)", bare),
        ("/files/<id>/download (302)", download),
        ("/files/<id> (page)", shown),
    ):
        print(
            f"  {name:<30}{measure.rate:8.0f}  {measure.rate / bare.rate:6.2f}  {measure.cpu_ms:11.2f} ms"
            f"  {bare.cpu_ms / measure.cpu_ms:9.2f}"
        )
    print(f"  Genesys calls per 1,000 clicks: {per_1000:.1f} (target <= {TARGET_CALLS_PER_1000})")
    ratio = download.rate / bare.rate
    print(f"  download/bare throughput ratio: {ratio:.2f} (target >= {TARGET_RATIO})")
    ok = ratio >= TARGET_RATIO and per_1000 <= TARGET_CALLS_PER_1000
    print("  targets met" if ok else "  TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
