"""`hubbub bench inbox`: the inbox at a large brand's volume, on PostgreSQL.

Loads a workspace of 1,000,000 mentions on 100,000 conversations worked by
50 agents in a few teams into a scratch database (kept between runs when it
already holds the volume asked for), starts `hubbub serve` with production
settings and Redis, and measures, one request at a time on a keep-alive
connection, the server time of: the inbox of an agent and of a lead, a
narrowed view, a search, opening a conversation, and sending a reply (the
htmx POST the composer makes). The number of SQL queries of each action
comes from one in-process request. Then it opens many signed-in
server-sent-events streams and measures how long a committed change takes
to reach each of them.

Each measurement that needs Django runs in a child process configured for
the bench database, like `hubbub bench pipeline`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from hubbub.cli.bench_inbox_load import AGENT_EMAIL, LEAD_EMAIL, load
from hubbub.cli.bench_web import (
    _environment,
    _hubbub,
    _percentile,
    _reset_postgres,
    _wait_ready,
)
from hubbub.cli.serve import child_command, free_port

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/hubbub_bench_inbox"
DEFAULT_REDIS = "redis://127.0.0.1:6379/13"
HOST = "127.0.0.1"
WARMUP = 5  # requests per action before the measured ones
SSE_INTERVAL_S = 0.25  # between two published changes
# The measured actions: JSON prefix (inbox_p95_ms) and table label.
LABELS = (
    ("inbox", "inbox, agent (/inbox/)"),
    ("inbox_lead", "inbox, lead (/inbox/)"),
    ("inbox_unassigned_negative", "unassigned + negative"),
    ("inbox_search", "search (?q=…)"),
    ("open_conversation", "open a conversation"),
    ("reply", "send a reply (htmx POST)"),
)
NOT_FIGURES = {"name", "label"}


@dataclass(frozen=True, slots=True)
class Action:
    name: str  # the JSON prefix: inbox_p95_ms
    label: str
    requests: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    queries: int
    slowest_query_ms: float


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        default=DEFAULT_DATABASE,
        help="scratch PostgreSQL database; dropped and re-created when it does not hold the volume",
    )
    parser.add_argument(
        "--redis-url", default=DEFAULT_REDIS, help="Redis for live events across server processes"
    )
    parser.add_argument("--mentions", type=int, default=1_000_000)
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--agents", type=int, default=50, help="agents, in teams of about ten")
    parser.add_argument("--requests", type=int, default=200, help="measured requests per action")
    parser.add_argument("--sse-clients", type=int, default=100, help="concurrent live streams")
    parser.add_argument("--sse-events", type=int, default=20, help="changes committed for them")
    parser.add_argument("--search", default="refund", help="the word the search action looks for")
    parser.add_argument(
        "--workers",
        type=int,
        default=2 * (os.cpu_count() or 1),
        help="server processes (default: two per CPU, as recommended for production)",
    )
    parser.add_argument("--reload", action="store_true", help="load the data again even if present")
    parser.add_argument(
        "--explain",
        action="store_true",
        help="print EXPLAIN ANALYZE of each action's slowest query",
    )
    parser.add_argument(
        "--json", action="store_true", help="end with one JSON object of the figures"
    )
    parser.add_argument(
        "--phase", choices=["load", "prepare", "queries", "publish"], help=argparse.SUPPRESS
    )
    parser.add_argument("--plan", help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    if args.phase:
        return _child(args)
    if args.mentions < args.conversations or args.conversations < 1 or args.agents < 1:
        print("need at least one conversation and agent, and a mention per conversation")
        return 2
    problem = _missing_component(args)
    if problem:
        print(problem)
        return 2
    print(
        f"hubbub bench inbox: {args.mentions:,} mentions, {args.conversations:,} conversations, "
        f"{args.agents} agents on PostgreSQL; {args.workers} server process(es), production "
        f"settings, {os.cpu_count()} CPU(s). Aim: server p95 ≤ 100 ms per action, "
        "live delivery p95 ≤ 1 s.",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="hubbub-bench-inbox-") as scratch:
        env = _environment(Path(scratch), args.database_url)
        env["HUBBUB_REDIS_URL"] = args.redis_url
        figures: dict[str, Any] = {
            "mentions": args.mentions,
            "conversations": args.conversations,
            "agents": args.agents,
            "server_workers": args.workers,
            "requests_per_action": args.requests,
        }
        reload = args.reload or not _holds_volume(args)
        if reload:
            _reset_postgres(args.database_url)
        _hubbub("manage", "migrate", "--verbosity", "0", env=env)
        loaded: dict[str, Any] = {"load_s": None}
        if reload:
            print("  loading (bulk COPY, then indexes and ANALYZE) …", flush=True)
            loaded = _run_child(args, env, "load")
            steps = loaded["steps"].items()
            print(
                f"  loaded in {loaded['load_s']:.1f} s: "
                + ", ".join(f"{step.removesuffix('_s')} {s:.1f} s" for step, s in steps),
                flush=True,
            )
        else:
            print("  the database already holds this volume (--reload loads it again)", flush=True)
        figures.update(reloaded=reload, load_s=loaded["load_s"])
        plan = _run_child(args, env, "prepare")
        plan_path = Path(scratch) / "plan.json"
        plan_path.write_text(json.dumps(plan))
        counted = _run_child(args, env, "queries", plan_path=plan_path)
        actions, stream, rss = _against_server(args, env, plan, plan_path, Path(scratch))
    results = [_action_result(name, label, actions[name], counted[name]) for name, label in LABELS]
    for result in results:
        figures.update(
            {f"{result.name}_{k}": v for k, v in asdict(result).items() if k not in NOT_FIGURES}
        )
    figures.update(stream)
    figures.update(search_word=args.search, search_matches=plan["search_matches"])
    figures["server_peak_rss_mb"] = rss
    _print_table(results, figures)
    if args.explain:
        for name, label in LABELS:
            print(f"\n{label}: slowest query ({counted[name]['slowest_ms']:.1f} ms)")
            print(counted[name]["sql"][:2000])
            print(counted[name]["plan"])
    if args.json:
        print(json.dumps(figures))
    delivered = figures["sse_clients_all_received"] == figures["sse_clients"]
    return 0 if delivered and all(r.errors == 0 for r in results) else 1


def _missing_component(args: argparse.Namespace) -> str:
    import psycopg
    import redis

    try:
        redis.Redis.from_url(args.redis_url, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        return f"Redis at {args.redis_url} is not reachable: {error}"
    admin_url = args.database_url.rsplit("/", 1)[0] + "/postgres"
    try:
        psycopg.connect(admin_url, connect_timeout=3).close()
    except psycopg.Error as error:
        return f"PostgreSQL at {admin_url} is not reachable: {error}"
    return ""


def _holds_volume(args: argparse.Namespace) -> bool:
    """Whether the bench database was loaded with this volume already (a load is all or nothing)."""
    import psycopg

    try:
        with psycopg.connect(args.database_url, connect_timeout=3) as conn:
            row = conn.execute(
                "SELECT (SELECT count(*) FROM listening_mention),"
                " (SELECT count(*) FROM care_conversation),"
                " (SELECT count(*) FROM accounts_user WHERE role = 'agent')"
            ).fetchone()
    except psycopg.Error:
        return False
    return row == (args.mentions, args.conversations, args.agents)


def _run_child(
    args: argparse.Namespace, env: dict[str, str], phase: str, *, plan_path: Path | None = None
) -> dict[str, Any]:
    """Run a phase in a child process; its last line of output is JSON."""
    # stderr passes through: the loader reports its progress there.
    done = subprocess.run(
        _phase_command(args, phase, plan_path),
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        print(done.stdout[-4000:], file=sys.stderr)
        raise SystemExit(f"bench inbox: the {phase} step failed")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _phase_command(args: argparse.Namespace, phase: str, plan_path: Path | None) -> list[str]:
    return [
        *(sys.executable, "-m", "hubbub.cli.main", "bench", "inbox", "--phase", phase),
        *(["--plan", str(plan_path)] if plan_path else []),
        *("--mentions", str(args.mentions), "--conversations", str(args.conversations)),
        *("--agents", str(args.agents), "--requests", str(args.requests)),
        *("--sse-clients", str(args.sse_clients), "--sse-events", str(args.sse_events)),
        *("--search", args.search, *(["--explain"] if args.explain else [])),
    ]


def _action_result(
    name: str, label: str, measured: tuple[list[float], int], counted: dict[str, Any]
) -> Action:
    latencies, errors = measured
    return Action(
        name=name,
        label=label,
        requests=len(latencies),
        errors=errors,
        p50_ms=round(statistics.median(latencies), 2) if latencies else float("nan"),
        p95_ms=_percentile(latencies, 95),
        p99_ms=_percentile(latencies, 99),
        queries=counted["queries"],
        slowest_query_ms=round(counted["slowest_ms"], 2),
    )


def _print_table(results: list[Action], figures: dict[str, Any]) -> None:
    print(
        f"  {'action':<28} {'requests':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'queries':>7} {'slowest query ms':>16} {'errors':>6}"
    )
    for r in results:
        print(
            f"  {r.label:<28} {r.requests:>8} {r.p50_ms:>8.2f} {r.p95_ms:>8.2f} {r.p99_ms:>8.2f} "
            f"{r.queries:>7} {r.slowest_query_ms:>16.2f} {r.errors:>6}"
        )
    print(
        f"  live delivery, commit → {figures['sse_clients']} SSE clients, "
        f"{figures['sse_events']} changes: p50 {figures['sse_delivery_p50_ms']:.1f} ms  "
        f"p95 {figures['sse_delivery_p95_ms']:.1f} ms  p99 {figures['sse_delivery_p99_ms']:.1f} ms;"
        f" {figures['sse_clients_all_received']}/{figures['sse_clients']} clients got every event"
    )
    print(
        f"  search {figures['search_word']!r} matches {figures['search_matches']:,} mentions;"
        f" server peak RSS {figures['server_peak_rss_mb']:.0f} MB"
    )


# --- against a real server ------------------------------------------------------


def _against_server(
    args: argparse.Namespace,
    env: dict[str, str],
    plan: dict[str, Any],
    plan_path: Path,
    scratch: Path,
) -> tuple[dict[str, tuple[list[float], int]], dict[str, Any], float]:
    port = free_port()
    log = scratch / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            child_command(port=port, workers=args.workers),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_ready(f"http://{HOST}:{port}/login/", {"X-Forwarded-Proto": "https"})
        actions = asyncio.run(_drive_actions(port, plan))
        publisher = _phase_command(args, "publish", plan_path)
        stream = asyncio.run(_measure_stream(port, plan["stream_sessions"], publisher, env))
        rss = _peak_rss_mb(server.pid)
        if stream["sse_clients_all_received"] < stream["sse_clients"]:
            print(log.read_text(errors="replace")[-3000:], file=sys.stderr)
    except BaseException:
        print(log.read_text(errors="replace")[-3000:], file=sys.stderr)
        raise
    finally:
        server.terminate()
        server.wait(timeout=30)
    return actions, stream, rss


def _peak_rss_mb(pid: int) -> float:
    """The peak resident memory (VmHWM) of a process and its children, summed, from /proc."""
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    total = 0
    for one in pids:
        status = Path(f"/proc/{one}/status")
        if status.exists():
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
    return round(total / 1024, 1)


class _Connection:
    """One keep-alive HTTP/1.1 connection, cheap enough not to steal the server's CPU."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self, request: bytes) -> tuple[int, str]:
        """The status and the lower-cased response head; the body is read and dropped."""
        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        self.writer.write(request)
        head = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
        if "content-length:" in head:
            await self.reader.readexactly(int(head.split("content-length:", 1)[1].split()[0]))
        elif "transfer-encoding: chunked" in head:
            while size := int((await self.reader.readuntil(b"\r\n")).strip(), 16):
                await self.reader.readexactly(size + 2)
            await self.reader.readexactly(2)
        if "connection: close" in head:
            self.close()
        return int(head[9:12]), head

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def _request(method: str, path: str, session: str, *, form: dict[str, str] | None = None) -> bytes:
    headers = [f"{method} {path} HTTP/1.1", f"Host: {HOST}", "X-Forwarded-Proto: https"]
    body = b""
    if form is None:
        headers.append(f"Cookie: sessionid={session}")
    else:
        # The browser's htmx POST: CSRF cookie and header, same origin.
        csrf = secrets.token_hex(16)
        body = urlencode(form).encode()
        headers += [
            f"Cookie: sessionid={session}; csrftoken={csrf}",
            f"X-CSRFToken: {csrf}",
            f"Origin: https://{HOST}",
            "HX-Request: true",
            "Content-Type: application/x-www-form-urlencoded",
            f"Content-Length: {len(body)}",
        ]
    return "\r\n".join([*headers, "", ""]).encode() + body


def _action_requests(
    plan: dict[str, Any],
) -> dict[str, tuple[list[bytes], Callable[[int, str], bool]]]:
    agent, lead = plan["agent_session"], plan["lead_session"]
    count = WARMUP + plan["requests"]

    def same(path: str, session: str) -> list[bytes]:
        return [_request("GET", path, session)] * count

    def ok(status: int, head: str) -> bool:
        return status == 200

    def replied(status: int, head: str) -> bool:
        # A refused reply still answers 200 with the page; only a sent one triggers this.
        return status == 200 and "care-action-done" in head

    reply = [
        _request(
            "POST",
            f"/inbox/conversations/{pk}/reply/",
            agent,
            form={
                "from": "composer",
                "body": f"Sorry about that, we are on it ({n}).",
                "macro": "",
            },
        )
        for n, pk in enumerate(plan["reply_ids"])
    ]
    return {
        "inbox": (same("/inbox/", agent), ok),
        "inbox_lead": (same("/inbox/", lead), ok),
        "inbox_unassigned_negative": (
            same("/inbox/?view=unassigned&sentiment=negative", agent),
            ok,
        ),
        "inbox_search": (same(f"/inbox/?{urlencode({'q': plan['search']})}", agent), ok),
        "open_conversation": (
            [_request("GET", f"/inbox/conversations/{pk}/", agent) for pk in plan["open_ids"]],
            ok,
        ),
        "reply": (reply, replied),
    }


async def _drive_actions(port: int, plan: dict[str, Any]) -> dict[str, tuple[list[float], int]]:
    """Each action's requests one at a time: server time plus a loopback round trip."""
    results = {}
    connection = _Connection(port)
    try:
        for name, (requests, succeeded) in _action_requests(plan).items():
            latencies: list[float] = []
            errors = 0
            for n, request in enumerate(requests):
                started = time.perf_counter()
                status, head = await connection.send(request)
                elapsed_ms = (time.perf_counter() - started) * 1000
                if not succeeded(status, head):
                    errors += 1
                elif n >= WARMUP:
                    latencies.append(elapsed_ms)
            results[name] = (latencies, errors)
    finally:
        connection.close()
    return results


class _Stream:
    """A signed-in /events/stream reader that notes when each conversation's change arrives."""

    def __init__(self, port: int, session: str) -> None:
        self.port, self.session = port, session
        self.arrivals: dict[int, float] = {}  # conversation id → wall-clock time of arrival
        self.ended = ""  # why the stream stopped before the bench closed it
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self) -> bool:
        self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        lines = [
            "GET /events/stream HTTP/1.1",
            f"Host: {HOST}",
            "X-Forwarded-Proto: https",
            "Accept: text/event-stream",
            f"Cookie: sessionid={self.session}",
        ]
        self.writer.write("\r\n".join([*lines, "", ""]).encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        if int(head[9:12]) != 200:
            self.ended = f"answered {head[9:12].decode()}"
            return False
        await self._chunk()  # "retry: …": the stream is running
        return True

    async def follow(self) -> None:
        buffer = ""
        try:
            while chunk := await self._chunk():
                arrived = time.time()
                buffer += chunk
                while "\n\n" in buffer:
                    block, buffer = buffer.split("\n\n", 1)
                    self._note(block, arrived)
            self.ended = "closed by the server"
        except (OSError, asyncio.IncompleteReadError) as error:
            self.ended = f"broken: {error!r}"

    def _note(self, block: str, arrived: float) -> None:
        for line in block.split("\n"):
            if line.startswith("data: "):
                event = json.loads(line[6:])
                if event["kind"] == "conversation_changed":
                    self.arrivals.setdefault(event["payload"]["conversation_id"], arrived)

    async def _chunk(self) -> str:
        assert self.reader is not None
        size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
        return (await self.reader.readexactly(size + 2))[:-2].decode()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def _measure_stream(
    port: int, sessions: list[str], publisher: list[str], env: dict[str, str]
) -> dict[str, Any]:
    streams = [_Stream(port, session) for session in sessions]
    connected = await asyncio.gather(*(stream.connect() for stream in streams))
    followers = [
        asyncio.create_task(s.follow()) for s, up in zip(streams, connected, strict=True) if up
    ]
    await asyncio.sleep(1.0)  # every stream past its first poll and waiting on the bus
    child = await asyncio.create_subprocess_exec(*publisher, env=env, stdout=subprocess.PIPE)
    out, _ = await child.communicate()
    if child.returncode != 0:
        raise SystemExit("bench inbox: the publish step failed")
    commits = {
        int(pk): at for pk, at in json.loads(out.decode().strip().splitlines()[-1])["commits"]
    }
    # A lost wake-up would still arrive at the next heartbeat (15 s): wait for that long.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not all(
        s.arrivals.keys() >= commits.keys() for s in streams
    ):
        await asyncio.sleep(0.05)
    for task in followers:
        task.cancel()
    await asyncio.gather(*followers, return_exceptions=True)
    for stream in streams:
        stream.close()
    delays = [
        (stream.arrivals[pk] - at) * 1000
        for stream in streams
        for pk, at in commits.items()
        if pk in stream.arrivals
    ]
    ended = Counter(stream.ended for stream in streams if stream.ended)
    if ended:
        print(
            "  streams that stopped early: " + "; ".join(f"{n}× {why}" for why, n in ended.items())
        )
    return {
        "sse_clients": len(streams),
        "sse_clients_connected": sum(connected),
        "sse_streams_ended_early": sum(ended.values()),
        "sse_events": len(commits),
        "sse_clients_all_received": sum(s.arrivals.keys() >= commits.keys() for s in streams),
        "sse_delivery_p50_ms": round(statistics.median(delays), 1) if delays else float("nan"),
        "sse_delivery_p95_ms": _percentile(delays, 95),
        "sse_delivery_p99_ms": _percentile(delays, 99),
    }


# --- the child, inside the configured bench database -----------------------------


def _child(args: argparse.Namespace) -> int:
    from hubbub.cli.main import setup_django

    setup_django()
    plan = json.loads(Path(args.plan).read_text()) if args.plan else {}
    phases: dict[str, Callable[[], dict[str, Any]]] = {
        "load": lambda: load(
            mentions=args.mentions, conversations=args.conversations, agents=args.agents
        ),
        "prepare": lambda: _prepare(args),
        "queries": lambda: _count_queries(plan, explain=args.explain),
        "publish": lambda: _publish(plan),
    }
    print(json.dumps(phases[args.phase]()))
    return 0


def _prepare(args: argparse.Namespace) -> dict[str, Any]:
    """Sessions for the measured people and the conversations each action works on."""
    from django.db.models import Q

    from hubbub.accounts.models import Role, User
    from hubbub.accounts.selectors import workspace_id_of
    from hubbub.care.models import Conversation, ConversationStatus
    from hubbub.care.selectors import visible_conversations
    from hubbub.listening.models import Mention
    from hubbub.listening.search import search_mentions

    rng = random.Random()
    agent = User.objects.get(email=AGENT_EMAIL)
    lead = User.objects.get(email=LEAD_EMAIL)
    workspace_id = workspace_id_of(agent)
    people = list(User.objects.filter(workspace_id=workspace_id, role__in=[Role.AGENT, Role.LEAD]))
    visible = visible_conversations(user=agent)
    openable = list(visible.values_list("pk", flat=True))
    # Each reply on its own conversation: one public answer per customer post.
    answerable = list(
        visible.filter(status__in=ConversationStatus.active(), messages__isnull=True)
        .filter(Q(assignee__isnull=True) | Q(assignee=agent))
        .values_list("pk", flat=True)[:200_000]
    )
    replies = rng.sample(answerable, min(len(answerable), WARMUP + args.requests + 2))
    # Changes every stream may see: conversations of no team.
    everyone = list(
        Conversation.objects.filter(
            workspace_id=workspace_id,
            team__isnull=True,
            status__in=ConversationStatus.active(),
        ).values_list("pk", flat=True)[:100_000]
    )
    matches = search_mentions(
        Mention.objects.filter(workspace_id=workspace_id), args.search
    ).count()
    return {
        "requests": args.requests,
        "search": args.search,
        "search_matches": matches,
        "agent_session": _session_for(agent),
        "lead_session": _session_for(lead),
        "lead_id": lead.pk,
        "stream_sessions": [_session_for(people[n % len(people)]) for n in range(args.sse_clients)],
        "open_ids": rng.choices(openable, k=WARMUP + args.requests),
        "count_reply_ids": replies[:2],
        "reply_ids": replies[2:],
        "publish_ids": rng.sample(everyone, min(len(everyone), args.sse_events)),
        "count_open_id": rng.choice(openable),
    }


def _session_for(user: Any) -> str:
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "hubbub.accounts.backends.AccountBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return str(session.session_key)


class _QueryLog:
    """An execute wrapper: how long each query of a request took, to the microsecond."""

    def __init__(self) -> None:
        self.queries: list[tuple[float, str, Any]] = []

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.queries.append((time.perf_counter() - started, sql, params))


def _count_queries(plan: dict[str, Any], *, explain: bool) -> dict[str, Any]:
    """Each action once in-process, after one warm-up: its queries and its slowest one."""
    from django.db import connection
    from django.test import Client

    agent, lead = plan["agent_session"], plan["lead_session"]
    replies = [f"/inbox/conversations/{pk}/reply/" for pk in plan["count_reply_ids"]]
    opened = f"/inbox/conversations/{plan['count_open_id']}/"
    calls: dict[str, list[tuple[str, str, str]]] = {
        "inbox": [("GET", "/inbox/", agent)] * 2,
        "inbox_lead": [("GET", "/inbox/", lead)] * 2,
        "inbox_unassigned_negative": [("GET", "/inbox/?view=unassigned&sentiment=negative", agent)]
        * 2,
        "inbox_search": [("GET", f"/inbox/?{urlencode({'q': plan['search']})}", agent)] * 2,
        "open_conversation": [("GET", opened, agent)] * 2,
        "reply": [("POST", path, agent) for path in replies],
    }
    client = Client(HTTP_HOST=HOST)
    counted = {}
    for name, requests in calls.items():
        for method, path, session in requests:
            client.cookies["sessionid"] = session
            log = _QueryLog()
            with connection.execute_wrapper(log):
                if method == "GET":
                    client.get(path, secure=True)
                else:
                    form = {"from": "composer", "body": "Counting queries.", "macro": ""}
                    response = client.post(path, form, secure=True, headers={"HX-Request": "true"})
                    if response.get("HX-Trigger") != "care-action-done":
                        raise SystemExit(f"bench inbox: the reply on {path} was refused")
        seconds, sql, params = max(log.queries, key=lambda query: query[0])
        with connection.cursor() as cursor:
            query = str(cursor.mogrify(sql, params))  # the statement as the server ran it
        counted[name] = {
            "queries": len(log.queries),
            "slowest_ms": seconds * 1000,
            "sql": query,
            "plan": _explain(query) if explain else "",
        }
    return counted


def _explain(query: str) -> str:
    from django.db import connection

    # Only a read may run for real: ANALYZE executes the statement.
    analyze = "ANALYZE, BUFFERS, " if query.lstrip().upper().startswith("SELECT") else ""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN ({analyze}COSTS) {query}")
        return "\n".join(row[0] for row in cursor.fetchall())


def _publish(plan: dict[str, Any]) -> dict[str, Any]:
    """A lead re-prioritises conversations, one change every SSE_INTERVAL_S; when each committed."""
    from django.db import transaction

    from hubbub.accounts.models import User
    from hubbub.care import services

    lead = User.objects.select_related("profile").get(pk=plan["lead_id"])
    committed: list[float] = []
    for n, conversation_id in enumerate(plan["publish_ids"]):
        with transaction.atomic():
            # Registered before the service's own callbacks, so it runs right
            # after COMMIT and before the wake-up goes out to the streams.
            transaction.on_commit(lambda: committed.append(time.time()))
            services.set_priority(actor=lead, conversation_id=conversation_id, priority=float(n))
        time.sleep(SSE_INTERVAL_S)
    return {"commits": list(zip(plan["publish_ids"], committed, strict=True))}
