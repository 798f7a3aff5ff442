"""`hubbub bench web`: requests per second and latency percentiles.

Starts `hubbub serve` with production settings on a scratch database,
signs in a demo agent, then drives the inbox page (session cookie) and
`/api/v1/me` (API token) with 1, 10 and 50 concurrent clients.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from hubbub.cli.serve import child_command, free_port

DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/hubbub_bench"

SETUP_SCRIPT = """
import json
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from hubbub.accounts import services
from hubbub.accounts.models import User
from hubbub.demo.seed import seed_demo
seed_demo()
user = User.objects.get(email="agent@brightwave.example")
session = SessionStore()
session[SESSION_KEY] = str(user.pk)
session[BACKEND_SESSION_KEY] = "hubbub.accounts.backends.AccountBackend"
session[HASH_SESSION_KEY] = user.get_session_auth_hash()
session.create()
_, token = services.create_api_token(actor=user, name="bench")
from hubbub.care import case_links
from hubbub.care.models import Conversation
handed_off = Conversation.objects.get(customer_handle="ines.calley@example.net")
case = "/case/" + case_links.token_for(handed_off) + "/"
print(json.dumps({"session": session.session_key, "token": token, "case": case}))
"""


@dataclass(frozen=True, slots=True)
class Result:
    db: str
    endpoint: str
    clients: int
    requests: int
    errors: int
    requests_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES,
        help="scratch database; it is dropped and created again",
    )
    parser.add_argument("--clients", default="1,10,50", help="comma-separated concurrency levels")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per level")
    parser.add_argument(
        "--workers",
        type=int,
        default=2 * (os.cpu_count() or 1),
        help="server processes (default: two per CPU, as recommended for production)",
    )
    parser.add_argument(
        "--json", action="store_true", help="end with one JSON object of the figures"
    )


def _environment(data_dir: Path, database_url: str) -> dict[str, str]:
    from cryptography.fernet import Fernet

    env = {k: v for k, v in os.environ.items() if not k.startswith("HUBBUB_")}
    env.update(
        HUBBUB_ENV="production",
        HUBBUB_DATA_DIR=str(data_dir),
        HUBBUB_DATABASE_URL=database_url,
        HUBBUB_SECRET_KEY=secrets.token_urlsafe(64),
        HUBBUB_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        HUBBUB_ALLOWED_HOSTS="127.0.0.1",
        HUBBUB_LOG_LEVEL="WARNING",
    )
    return env


def _reset_postgres(url: str) -> None:
    import psycopg
    from psycopg import sql

    name = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _hubbub(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hubbub.cli.main", *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )


def _rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, from /proc."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for one in pids:
        status = Path(f"/proc/{one}/status")
        if status.exists():
            for line in status.read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return round(total / 1024, 1)


class _Connection:
    """A minimal HTTP/1.1 keep-alive client.

    Far cheaper per request than a full client library, so on a small
    machine the load generator takes less CPU away from the server it measures.
    """

    def __init__(self, host: str, port: int, request: bytes) -> None:
        self.host, self.port, self.request = host, port, request
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self) -> int:
        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(self.request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        headers = head.decode("latin-1").lower()
        if "content-length:" in headers:
            length = int(headers.split("content-length:", 1)[1].split("\r\n", 1)[0])
            await self.reader.readexactly(length)
        elif "transfer-encoding: chunked" in headers:
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        if "connection: close" in headers:
            self.writer.close()
            self.reader = self.writer = None
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def _drive(
    host: str, port: int, path: str, headers: dict[str, str], clients: int, seconds: float
) -> tuple[list[float], int]:
    lines = [f"GET {path} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    request = "\r\n".join(lines).encode()
    latencies: list[float] = []
    errors = 0
    connections = [_Connection(host, port, request) for _ in range(clients)]

    async def one_client(connection: _Connection, deadline: float, record: bool) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            status = await connection.get()
            elapsed = (time.perf_counter() - start) * 1000
            if status != 200:
                errors += 1
            elif record:
                latencies.append(elapsed)

    try:
        warm = time.perf_counter() + min(1.0, seconds / 4)
        await asyncio.gather(*(one_client(c, warm, False) for c in connections))
        deadline = time.perf_counter() + seconds
        await asyncio.gather(*(one_client(c, deadline, True) for c in connections))
    finally:
        for connection in connections:
            connection.close()
    return latencies, errors


def _percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return round(ordered[index], 2)


def _bench_database(
    db: str, args: argparse.Namespace, levels: list[int]
) -> tuple[list[Result], float]:
    with tempfile.TemporaryDirectory(prefix="hubbub-bench-") as scratch:
        data_dir = Path(scratch)
        if db == "postgres":
            _reset_postgres(args.postgres_url)
            database_url = args.postgres_url
        else:
            database_url = f"sqlite:///{data_dir / 'bench.sqlite3'}"
        env = _environment(data_dir, database_url)
        _hubbub("manage", "migrate", "--verbosity", "0", env=env)
        credentials = json.loads(
            _hubbub("manage", "shell", "-c", SETUP_SCRIPT, env=env).stdout.strip().splitlines()[-1]
        )
        port = free_port()
        server = subprocess.Popen(child_command(port=port, workers=args.workers), env=env)
        try:
            base = f"http://127.0.0.1:{port}"
            common = {"X-Forwarded-Proto": "https", "Host": "127.0.0.1"}
            _wait_ready(base + "/login/", common)
            endpoints = {
                "inbox": ("/inbox/", {**common, "Cookie": f"sessionid={credentials['session']}"}),
                "api_me": (
                    "/api/v1/me",
                    {**common, "Authorization": f"Bearer {credentials['token']}"},
                ),
                # The customer's status page (no login): stages, public updates, the survey.
                "status": (credentials["case"], common),
            }
            results = []
            for name, (path, headers) in endpoints.items():
                for clients in levels:
                    latencies, errors = asyncio.run(
                        _drive("127.0.0.1", port, path, headers, clients, args.seconds)
                    )
                    results.append(
                        Result(
                            db=db,
                            endpoint=name,
                            clients=clients,
                            requests=len(latencies),
                            errors=errors,
                            requests_per_s=round(len(latencies) / args.seconds, 1),
                            p50_ms=round(statistics.median(latencies), 2)
                            if latencies
                            else float("nan"),
                            p95_ms=_percentile(latencies, 95),
                            p99_ms=_percentile(latencies, 99),
                        )
                    )
                    _print_row(results[-1])
            rss = _rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=15)
    return results, rss


def _wait_ready(url: str, headers: dict[str, str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, headers=headers, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"server did not become ready at {url}")


def _print_row(result: Result) -> None:
    print(
        f"{result.db:<9} {result.endpoint:<7} {result.clients:>4} clients  "
        f"{result.requests_per_s:>8.1f} req/s  p50 {result.p50_ms:>7.2f} ms  "
        f"p95 {result.p95_ms:>7.2f} ms  p99 {result.p99_ms:>7.2f} ms  errors {result.errors}",
        flush=True,
    )


def run(args: argparse.Namespace) -> int:
    levels = [int(level) for level in args.clients.split(",") if level.strip()]
    databases = [db.strip() for db in args.db.split(",") if db.strip()]
    unknown = set(databases) - {"sqlite", "postgres"}
    if unknown:
        print(f"unknown --db value(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    print(
        f"hubbub bench web: {args.workers} server process(es), production settings, "
        f"{args.seconds:g} s per level on {os.cpu_count()} CPU(s). Aim: p95 < 50 ms at 10 clients."
    )
    all_results: list[Result] = []
    memory: dict[str, float] = {}
    for db in databases:
        results, rss = _bench_database(db, args, levels)
        all_results += results
        memory[f"{db}_server_rss_mb"] = rss
    if args.json:
        print(
            json.dumps(
                {
                    "server_workers": args.workers,
                    "seconds_per_level": args.seconds,
                    **memory,
                    "results": [asdict(r) for r in all_results],
                }
            )
        )
    return 0 if all(r.errors == 0 for r in all_results) else 1
