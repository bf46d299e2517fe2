"""Chat relay benchmark: round-trip latency through Ferry, customer → Genesys and agent → widget.

Starts its own Genesys stand-in (`python -m genesys_standin`), Ferry under gunicorn (shipped config,
2 workers) and `python -m ferry.worker` on a fresh SQLite database, all with their default timings, then
drives the widget's HTTP API and event stream directly:

- customer → stand-in: from the start of POST /chat/api/messages to the time the stand-in stamped the
  message it received (store, outbox, worker, Genesys call);
- agent → widget: from the agent's reply POSTed to the stand-in to the event arriving on the widget's
  stream (stand-in webhook, signature check, store, stream poll).

References measured in the same run: a direct inbound call to the stand-in (what the customer path costs
at the least) and the stand-in's webhook round trip to Ferry. Target: p99 < 1 s for both paths.

    python bench/chat.py                  # 200 messages each way, one every 50 ms
    python bench/chat.py --messages 50 --interval 0.1
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Run as `python bench/chat.py` (what `make bench` does): make the project importable.
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

import requests  # noqa: E402

from ferry.cli import upgrade_database  # noqa: E402
from ferry.config import DEV_CLIENT_ID, DEV_CLIENT_SECRET, DEV_WEBHOOK_SECRET  # noqa: E402
from genesys.client import GenesysClient  # noqa: E402
from genesys.models import (  # noqa: E402
    IdType,
    OpenInboundMessageMessagingChannel,
    OpenInboundNormalizedMessage,
    OpenIntegrationRequest,
    OpenMessagingFromRecipient,
)
from genesys_standin.control_client import StandinControl  # noqa: E402

TARGET_P99 = 1.0
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not answer within {timeout:.0f} s")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


@contextmanager
def process(
    name: str, argv: list[str], env: dict[str, str], log_dir: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """A child process whose output goes to a log file; terminated at the end."""
    with open(log_dir / f"{name}.log", "wb") as log:
        child = subprocess.Popen(argv, env=env, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield child
        finally:
            child.terminate()
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()


def seed(standin: str, ferry: str) -> tuple[str, str]:
    """Ferry's OAuth clients, one agent, an integration whose webhook is Ferry at `ferry` → (integration id,
    agent id)."""
    control = StandinControl(standin)
    control.add_ferry_clients(ferry)
    agent_id = control.add_user("Bench Agent", "bench@example.com")
    with genesys_client(standin) as client:
        integration = client.create_open_integration(
            OpenIntegrationRequest(
                name="Ferry (bench)",
                outbound_notification_webhook_url=f"{ferry}/genesys/webhook",
                outbound_notification_webhook_signature_secret_token=DEV_WEBHOOK_SECRET,
            )
        )
    return integration.id, agent_id


def genesys_client(standin: str) -> GenesysClient:
    return GenesysClient(
        api_base_url=standin, login_base_url=standin, client_id=DEV_CLIENT_ID, client_secret=DEV_CLIENT_SECRET
    )


class StreamReader(threading.Thread):
    """The widget's event stream: records when each agent message's text arrived (time.time())."""

    def __init__(self, http: requests.Session, url: str) -> None:
        super().__init__(daemon=True)
        self.http = http
        self.url = url
        self.arrivals: dict[str, float] = {}
        self.after = 0
        self.stopping = threading.Event()
        self.answer: requests.Response | None = None

    def stop(self) -> None:
        """Stop reading and hang up (gunicorn would otherwise wait for the open stream at shutdown)."""
        self.stopping.set()
        if self.answer is not None:
            self.answer.close()

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                self.read_one_stream()
        except (requests.RequestException, AttributeError, ValueError):
            if not self.stopping.is_set():
                raise

    def read_one_stream(self) -> None:
        url = f"{self.url}/chat/api/events?after={self.after}"
        with self.http.get(url, stream=True, timeout=120) as answer:
            self.answer = answer
            event, data = "", ""
            for line in answer.iter_lines(decode_unicode=True):
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    data = line[6:]
                elif line == "" and data:
                    if event == "message":
                        message = json.loads(data)
                        self.after = max(self.after, message["id"])
                        if message["direction"] == "agent":
                            self.arrivals.setdefault(message["text"], time.time())
                    event, data = "", ""


def reference_inbound(standin: str, integration_id: str, count: int) -> list[float]:
    """Direct inbound calls to the stand-in: the least the customer path can cost."""
    latencies = []
    with genesys_client(standin) as client:
        client.service_token()
        for n in range(count):
            message = OpenInboundNormalizedMessage(
                channel=OpenInboundMessageMessagingChannel(
                    from_=OpenMessagingFromRecipient(id="bench-reference", id_type=IdType.OPAQUE),
                    time=datetime.now().astimezone(),
                    message_id=f"bench-ref-{uuid.uuid4()}",
                ),
                text=f"reference {n}",
            )
            start = time.perf_counter()
            client.send_inbound_message(integration_id, message)
            latencies.append(time.perf_counter() - start)
    return latencies


def webhook_round_trips(standin: str) -> list[float]:
    """The stand-in's own measurement of each webhook POST to Ferry (attempt timestamps are not kept, so
    this is the time from the delivery's creation to its last attempt being recorded)."""
    deliveries = requests.get(f"{standin}/_control/webhook-deliveries?kind=message", timeout=30).json()
    values = []
    for delivery in deliveries:
        if delivery["status"] == "delivered" and delivery["attempts"]:
            created = datetime.fromisoformat(delivery["created"].replace("Z", "+00:00"))
            done = datetime.fromisoformat(delivery["attempts"][-1]["time"].replace("Z", "+00:00"))
            values.append((done - created).total_seconds())
    return values


def report(name: str, values: list[float], reference: list[float] | None = None) -> bool:
    p50, p99 = statistics.median(values), percentile(values, 99)
    line = f"{name:<22} n={len(values):<4} p50={p50 * 1000:6.1f} ms  p99={p99 * 1000:6.1f} ms"
    line += f"  max={max(values) * 1000:6.1f} ms"
    if reference:
        ref50 = statistics.median(reference)
        line += f"   (reference p50 {ref50 * 1000:.1f} ms, ratio {p50 / ref50:.1f}x)"
    ok = p99 < TARGET_P99
    print(f"{line}   {'OK' if ok else 'OVER'} (target p99 < {TARGET_P99:.0f} s)")
    return ok


@dataclass
class Deployed:
    """The stack as deployed: stand-in, gunicorn (shipped config, 2 workers) and the outbox worker."""

    standin: str
    ferry: str
    integration_id: str
    agent_id: str
    gunicorn: subprocess.Popen[bytes]


@contextmanager
def deployed(
    work: Path, logs: Path, database_url: str, extra_env: dict[str, str] | None = None
) -> Iterator[Deployed]:
    """Start the stand-in, then Ferry under gunicorn and `python -m ferry.worker` on `database_url`
    (migrated here), with their default timings; stop them all at the end."""
    standin_port, ferry_port = free_port(), free_port()
    standin = f"http://127.0.0.1:{standin_port}"
    ferry = f"http://127.0.0.1:{ferry_port}"
    upgrade_database(database_url)
    base_env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "PYTHONUNBUFFERED": "1"}
    standin_env = {**base_env, "STANDIN_RATE_LIMIT_PER_MINUTE": "0"}
    logs.mkdir(parents=True, exist_ok=True)
    standin_argv = [
        sys.executable,
        "-m",
        "genesys_standin",
        "--host",
        "127.0.0.1",
        "--port",
        str(standin_port),
    ]
    with process("standin", standin_argv, standin_env, logs):
        wait_http(f"{standin}/_control/settings")
        integration_id, agent_id = seed(standin, ferry)
        ferry_env = {
            **base_env,
            "FERRY_ENV": "development",
            "FERRY_INSTANCE_PATH": str(work / "instance"),
            "DATABASE_URL": database_url,
            "PUBLIC_BASE_URL": ferry,
            "GENESYS_API_BASE_URL": standin,
            "GENESYS_LOGIN_BASE_URL": standin,
            "GENESYS_INTEGRATION_ID": integration_id,
            "CHAT_RATE_PER_CHAT": "100000",
            "CHAT_RATE_PER_IP": "100000",
            "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
            "PORT": str(ferry_port),
            "WEB_CONCURRENCY": "2",
            **(extra_env or {}),
        }
        gunicorn = [
            str(BIN / "gunicorn"),
            "--config",
            "gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{ferry_port}",
        ]
        with (
            process("gunicorn", [*gunicorn, "wsgi:app"], ferry_env, logs) as web,
            process("worker", [sys.executable, "-m", "ferry.worker"], ferry_env, logs),
        ):
            wait_http(f"{ferry}/healthz")
            yield Deployed(standin, ferry, integration_id, agent_id, web)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between messages")
    parser.add_argument("--logs", type=Path, default=None, help="keep the processes' logs in this folder")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ferry-bench-chat-") as tmp:
        work = Path(tmp)
        with deployed(work, args.logs or work, f"sqlite:///{work / 'ferry.sqlite3'}") as stack:
            return run(args, stack.standin, stack.ferry, stack.integration_id, stack.agent_id)


def run(args: argparse.Namespace, standin: str, ferry: str, integration_id: str, agent_id: str) -> int:
    http = requests.Session()
    http.headers.update({"X-Ferry-Chat": "1", "Origin": ferry})
    http.post(f"{ferry}/chat/api/chats", json={"name": "Bench Customer"}, timeout=10).raise_for_status()
    reader = StreamReader(requests.Session(), ferry)
    reader.http.cookies.update(http.cookies)
    reader.start()

    # Customer → stand-in.
    sent_at: dict[str, float] = {}
    for n in range(args.messages):
        text = f"customer {n}"
        sent_at[text] = time.time()
        answer = http.post(
            f"{ferry}/chat/api/messages", json={"client_id": f"bench-{n:06d}", "text": text}, timeout=10
        )
        answer.raise_for_status()
        time.sleep(args.interval)
    conversation = wait_for_conversation(standin, args.messages)
    customer = []
    for message in conversation["messages"]:
        if message["direction"] == "Inbound" and message["text"] in sent_at:
            arrived = datetime.fromisoformat(message["time"].replace("Z", "+00:00")).timestamp()
            customer.append(arrived - sent_at[message["text"]])

    # Agent → widget.
    agent_sent: dict[str, float] = {}
    for n in range(args.messages):
        text = f"agent {n}"
        agent_sent[text] = time.time()
        requests.post(
            f"{standin}/_control/conversations/{conversation['id']}/messages",
            json={"user_id": agent_id, "text": text},
            timeout=10,
        ).raise_for_status()
        time.sleep(args.interval)
    deadline = time.monotonic() + 60
    while len(reader.arrivals) < args.messages and time.monotonic() < deadline:
        time.sleep(0.05)
    reader.stop()
    agent = [reader.arrivals[t] - agent_sent[t] for t in agent_sent if t in reader.arrivals]

    print(
        f"chat relay: {args.messages} messages each way, one every {args.interval * 1000:.0f} ms, "
        "gunicorn (shipped config) x2 + worker, SQLite"
    )
    ok = report("customer -> stand-in", customer, reference_inbound(standin, integration_id, 50))
    ok = report("agent -> widget", agent, webhook_round_trips(standin)) and ok
    missing = args.messages - len(agent)
    if len(customer) != args.messages or missing:
        print(f"LOST: {args.messages - len(customer)} customer, {missing} agent messages")
        return 1
    return 0 if ok else 1


def wait_for_conversation(standin: str, count: int) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        conversations = requests.get(f"{standin}/_control/conversations", timeout=10).json()
        if conversations and sum(m["direction"] == "Inbound" for m in conversations[0]["messages"]) >= count:
            result: dict[str, Any] = conversations[0]
            return result
        time.sleep(0.1)
    raise SystemExit("the customer's messages did not all reach the stand-in within 60 s")


if __name__ == "__main__":
    sys.exit(main())
