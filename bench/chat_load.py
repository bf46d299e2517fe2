"""Live chat at scale: N open widget event streams on the app as deployed, and what they cost.

Starts the stack as bench/chat.py does (stand-in, gunicorn with the shipped config and 2 workers, the
outbox worker) on a fresh SQLite or PostgreSQL database, then for N = 10 (the reference, same run) and
N = --chats: opens N event streams with embed tokens (one asyncio client, not a thread per stream) and,
while they stay open, measures

- time until every stream was answered (the opening `statuses` event);
- database statements per second while idle (every statement the app and worker processes run, counted
  by a SQLAlchemy hook this bench injects through `sitecustomize`; on PostgreSQL also its transaction
  count from pg_stat_database); app RSS and CPU while idle;
- for a sample of chats: POST /chat/api/messages answer time, customer → Genesys (the stand-in's stamp),
  the stand-in's webhook round trip to Ferry, agent → widget (over the open stream), and /readyz.

    python bench/chat_load.py --chats 1000                    # SQLite
    python bench/chat_load.py --chats 1000 --database postgres  # a throwaway cluster (devstack.postgres)

Targets (issue 12) are printed beside each figure; the exit status is non-zero only on errors (a stream
never answered, a message lost), not on a missed target.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

import requests  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from bench.chat import Deployed, deployed, percentile, webhook_round_trips  # noqa: E402
from devstack import postgres  # noqa: E402

IDLE_SECONDS = 10.0
# Before idle is measured, the opening's burst must land in the counters, not inside the idle window:
# the statement counters are written every 0.2 s, and an idle PostgreSQL backend flushes its statistics
# up to 10 s later (PGSTAT_IDLE_INTERVAL).
SETTLE_SECONDS = 11.0
ANSWER_SECONDS = 10.0
HEADERS = {"X-Ferry-Chat": "1"}
# Counts every statement of a process into COUNT_DIR/<pid>, once a second (bench only).
SITECUSTOMIZE = """
import os, threading, time
from sqlalchemy import event
from sqlalchemy.engine import Engine
_count = [0]
def _seen(*_args):
    _count[0] += 1
event.listen(Engine, "before_cursor_execute", _seen)
def _write():
    path = os.path.join(os.environ["FERRY_BENCH_COUNT_DIR"], str(os.getpid()))
    _count[0] = 0
    while True:
        with open(path + ".tmp", "w") as f:
            f.write(str(_count[0]))
        os.replace(path + ".tmp", path)
        time.sleep(0.2)
# gunicorn forks its workers after importing this: each child needs its own writer.
os.register_at_fork(after_in_child=lambda: threading.Thread(target=_write, daemon=True).start())
threading.Thread(target=_write, daemon=True).start()
"""


@dataclass
class Stream:
    """One widget's open event stream; records when each message text arrived."""

    token: str
    answered: float | None = None
    arrivals: dict[str, float] = field(default_factory=dict)
    writer: asyncio.StreamWriter | None = None
    failed: str | None = None


async def hold(ferry: str, stream: Stream, opened: float) -> None:
    url = urlsplit(ferry)
    try:
        reader, writer = await asyncio.open_connection(url.hostname, url.port)
        stream.writer = writer
        writer.write(
            f"GET /chat/api/events HTTP/1.1\r\nHost: {url.netloc}\r\nAccept: text/event-stream\r\n"
            f"Authorization: Bearer {stream.token}\r\n\r\n".encode()
        )
        status = await reader.readline()
        if b" 200 " not in status:
            stream.failed = status.decode().strip()
            return
        event = ""
        async for raw in reader:
            line = raw.decode().strip()
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event == "statuses" and stream.answered is None:
                stream.answered = time.monotonic() - opened
            elif line.startswith("data:") and event == "message" and '"text":' in line:
                body = line[line.index("{") :]
                stream.arrivals.setdefault(json.loads(body[: body.rindex("}") + 1])["text"], time.time())
    except (OSError, ValueError) as error:
        stream.failed = str(error)


class Client:
    """An asyncio loop in a thread holding every stream."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.tasks: list[Future[None]] = []
        self.pool = ThreadPoolExecutor(1)
        self.pool.submit(self.loop.run_forever)

    def open(self, ferry: str, streams: list[Stream]) -> float:
        opened = time.monotonic()
        for stream in streams:
            self.tasks.append(asyncio.run_coroutine_threadsafe(hold(ferry, stream, opened), self.loop))
        return opened

    def close(self, streams: list[Stream]) -> None:
        for stream in streams:
            if stream.writer is not None:
                self.loop.call_soon_threadsafe(stream.writer.close)

    def stop(self) -> None:
        async def cancel_all() -> None:
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(cancel_all(), self.loop).result(timeout=60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.pool.shutdown()
        self.loop.close()


def new_chats(ferry: str, count: int) -> list[Stream]:
    def one(_: int) -> Stream:
        answer = requests.post(f"{ferry}/chat/api/chats", json={"mode": "embed"}, headers=HEADERS, timeout=30)
        answer.raise_for_status()
        return Stream(answer.json()["token"])

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(count)))


def tree(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [pid, *(p for child in children for p in tree(int(child)))]


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def cpu_seconds(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    return (
        sum(sum(map(int, Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[11:13])) for p in pids)
        / ticks
    )


def statements(count_dir: Path) -> int:
    return sum(int(p.read_text()) for p in count_dir.iterdir() if p.suffix != ".tmp")


def pg_transactions(database_url: str | None) -> int | None:
    if database_url is None:
        return None
    engine = create_engine(database_url)
    with engine.connect() as connection:
        value = connection.execute(
            text(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()"
            )
        ).scalar_one()
    engine.dispose()
    return int(value)


@dataclass
class Phase:
    """What one N measured."""

    chats: int
    answered_max: float = 0.0
    unanswered: int = 0
    idle_statements: float = 0.0
    idle_pg_transactions: float | None = None
    rss_mb: float = 0.0
    idle_cpu_percent: float = 0.0
    post_message: list[float] = field(default_factory=list)
    customer_to_genesys: list[float] = field(default_factory=list)
    webhook: list[float] = field(default_factory=list)
    agent_to_widget: list[float] = field(default_factory=list)
    readyz: list[float] = field(default_factory=list)
    lost: int = 0


def measure(
    stack: Deployed, client: Client, count_dir: Path, pg_url: str | None, chats: int, sample: int
) -> Phase:
    phase = Phase(chats)
    streams = new_chats(stack.ferry, chats)
    client.open(stack.ferry, streams)
    deadline = time.monotonic() + 60
    while any(s.answered is None and s.failed is None for s in streams) and time.monotonic() < deadline:
        time.sleep(0.1)
    phase.unanswered = sum(s.answered is None for s in streams)
    phase.answered_max = max((s.answered or 60.0) for s in streams)
    time.sleep(SETTLE_SECONDS)

    pids = tree(stack.gunicorn.pid)
    before, pg_before, cpu_before, started = (
        statements(count_dir),
        pg_transactions(pg_url),
        cpu_seconds(pids),
        time.monotonic(),
    )
    time.sleep(IDLE_SECONDS)
    elapsed = time.monotonic() - started
    phase.idle_statements = (statements(count_dir) - before) / elapsed
    pg_after = pg_transactions(pg_url)
    if pg_before is not None and pg_after is not None:
        phase.idle_pg_transactions = (pg_after - pg_before - 2) / elapsed  # minus this bench's own two
    phase.idle_cpu_percent = 100 * (cpu_seconds(pids) - cpu_before) / elapsed
    phase.rss_mb = rss_mb(pids)

    requests.get(f"{stack.ferry}/readyz", timeout=30)  # its first Genesys sign-in is not what is measured
    chosen = streams[:: max(1, len(streams) // sample)][:sample]
    deliveries_before = len(webhook_round_trips(stack.standin))
    sent_at: dict[str, float] = {}
    for n, stream in enumerate(chosen):
        said = f"load {chats} customer {n}"
        sent_at[said] = time.time()
        start = time.perf_counter()
        requests.post(
            f"{stack.ferry}/chat/api/messages",
            json={"client_id": f"load-{chats}-{n:06d}", "text": said},
            headers={**HEADERS, "Authorization": f"Bearer {stream.token}"},
            timeout=30,
        ).raise_for_status()
        phase.post_message.append(time.perf_counter() - start)
        start = time.perf_counter()
        requests.get(f"{stack.ferry}/readyz", timeout=30)
        phase.readyz.append(time.perf_counter() - start)
    conversations = conversations_by_text(stack.standin, set(sent_at), time.monotonic() + 60)
    for said, (_conversation, stamped) in conversations.items():
        phase.customer_to_genesys.append(stamped - sent_at[said])
    agent_sent: dict[str, float] = {}
    for n in range(len(chosen)):
        said, reply = f"load {chats} customer {n}", f"load {chats} agent {n}"
        if said not in conversations:
            continue
        agent_sent[reply] = time.time()
        requests.post(
            f"{stack.standin}/_control/conversations/{conversations[said][0]}/messages",
            json={"user_id": stack.agent_id, "text": reply},
            timeout=30,
        ).raise_for_status()
    by_reply = {f"load {chats} agent {n}": s for n, s in enumerate(chosen)}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(r not in by_reply[r].arrivals for r in agent_sent):
        time.sleep(0.05)
    phase.agent_to_widget = [
        by_reply[r].arrivals[r] - t for r, t in agent_sent.items() if r in by_reply[r].arrivals
    ]
    phase.lost = len(chosen) - len(phase.agent_to_widget)
    phase.webhook = webhook_round_trips(stack.standin)[deliveries_before:]
    client.close(streams)
    return phase


def conversations_by_text(standin: str, texts: set[str], deadline: float) -> dict[str, tuple[str, float]]:
    """The stand-in's conversation id and arrival stamp of each customer text, once all have arrived."""
    found: dict[str, tuple[str, float]] = {}
    while time.monotonic() < deadline:
        for conversation in requests.get(f"{standin}/_control/conversations", timeout=30).json():
            for message in conversation["messages"]:
                if message["direction"] == "Inbound" and message["text"] in texts:
                    stamped = datetime.fromisoformat(message["time"].replace("Z", "+00:00")).timestamp()
                    found[message["text"]] = (conversation["id"], stamped)
        if len(found) == len(texts):
            break
        time.sleep(0.2)
    return found


def p99(values: list[float]) -> str:
    return (
        f"{percentile(values, 99) * 1000:.0f} ms (p50 {statistics.median(values) * 1000:.0f})"
        if values
        else "-"
    )


def report(reference: Phase, loaded: Phase, database: str) -> None:
    rows = [
        ("streams answered, slowest", lambda p: f"{p.answered_max:.2f} s ({p.unanswered} not)", "< 10 s"),
        ("idle statements/s (app+worker)", lambda p: f"{p.idle_statements:.1f}", "< 20/s"),
        (
            "idle PG transactions/s",
            lambda p: "-" if p.idle_pg_transactions is None else f"{p.idle_pg_transactions:.1f}",
            "",
        ),
        ("app RSS (master+workers)", lambda p: f"{p.rss_mb:.0f} MB", "< 600 MB"),
        ("app CPU while idle", lambda p: f"{p.idle_cpu_percent:.1f} %", ""),
        ("POST /chat/api/messages p99", lambda p: p99(p.post_message), "< 1 s"),
        ("/readyz p99", lambda p: p99(p.readyz), "< 1 s"),
        ("webhook round trip p99", lambda p: p99(p.webhook), "< 1 s"),
        ("customer -> Genesys p99", lambda p: p99(p.customer_to_genesys), ""),
        ("agent -> widget p99", lambda p: p99(p.agent_to_widget), "< 1 s"),
        ("sample messages lost", lambda p: str(p.lost), "0"),
    ]
    print(f"\nchat load: gunicorn (shipped config) x2 + worker, {database}")
    print(f"{'':32}{'N=' + str(reference.chats):>24}{'N=' + str(loaded.chats):>24}   target")
    for name, value, target in rows:
        print(f"{name:32}{value(reference):>24}{value(loaded):>24}   {target}")


@contextmanager
def database(kind: str, work: Path) -> Iterator[tuple[str, str | None]]:
    """(DATABASE_URL, the URL to read PostgreSQL's statistics from, if any)."""
    if kind == "sqlite":
        yield f"sqlite:///{work / 'ferry.sqlite3'}", None
        return
    work.chmod(0o755)  # the cluster runs as the postgres user
    url = postgres.start(work / "pg").replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield url, url
    finally:
        postgres.stop(work / "pg")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=1000)
    parser.add_argument("--sample", type=int, default=20, help="chats whose messages are timed")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--logs", type=Path, default=None, help="keep the processes' logs in this folder")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ferry-bench-load-") as tmp:
        work = Path(tmp)
        count_dir, inject = work / "counts", work / "inject"
        count_dir.mkdir()
        inject.mkdir()
        (inject / "sitecustomize.py").write_text(SITECUSTOMIZE)
        extra = {
            "PYTHONPATH": f"{inject}{os.pathsep}{PROJECT_ROOT}",
            "FERRY_BENCH_COUNT_DIR": str(count_dir),
            "CHAT_STARTS_PER_IP": "1000000",
        }
        with (
            database(args.database, work) as (url, pg_url),
            deployed(work, args.logs or work, url, extra) as stack,
        ):
            client = Client()
            try:
                reference = measure(stack, client, count_dir, pg_url, 10, min(10, args.sample))
                loaded = measure(stack, client, count_dir, pg_url, args.chats, args.sample)
            finally:
                client.stop()
            report(reference, loaded, args.database)
            errors = reference.unanswered + loaded.unanswered + reference.lost + loaded.lost
            return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
