"""`hubbub bench connectors`: how fast the connectors bring posts in.

- jetstream: the local Jetstream (bluesky/tests/jetstream_fake.py, in its own
  process, as the real one is remote) replays N events made from real
  customer tweets at full speed, and `follow_jetstream`'s follower consumes
  them into InboundPost in batches (posts and cursor in one transaction).
  Figures: `jetstream_events_per_s`, `events`, `accepted`, `elapsed_s`, and
  the consumer's `peak_rss_mb`.

Each database is measured in a child process configured for it: a scratch
SQLite file (the embedded default; its keys carry no prefix) and, with
--database-url, a scratch PostgreSQL database (dropped and re-created; its
keys start with `postgres_`). Measurements are named in MEASURES, so polling
connectors can add theirs (`<platform>_requests_per_s`) beside Jetstream's.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hubbub.cli.bench_web import _environment, _hubbub, _reset_postgres

if TYPE_CHECKING:  # imported when measuring: Django is set up by then
    from hubbub.connectors.bluesky.jetstream import JetstreamFollower

DEFAULT_EVENTS = 50_000
FAKE_MODULE = "hubbub.connectors.bluesky.tests.jetstream_fake"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS)
    parser.add_argument(
        "--database-url",
        default="",
        help="also measure on this scratch PostgreSQL database (dropped and re-created)",
    )
    parser.add_argument(
        "--json", action="store_true", help="end with one JSON object of the figures"
    )
    parser.add_argument("--phase", choices=["child"], help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    if args.phase:
        return _child(args)
    print(f"hubbub bench connectors: {args.events:,} Jetstream events at full speed")
    figures: dict[str, Any] = {}
    databases = [("sqlite", "")] + ([("postgres", args.database_url)] if args.database_url else [])
    for db, url in databases:
        result = _measure(args, db=db, database_url=url)
        if result is None:
            return 2
        _print(db, result)
        prefix = "" if db == "sqlite" else f"{db}_"
        figures.update({f"{prefix}{key}": value for key, value in result.items()})
    if args.json:
        print(json.dumps(figures))
    return 0


def _measure(args: argparse.Namespace, *, db: str, database_url: str) -> dict[str, Any] | None:
    """Run the child in a fresh database; its figures, or None when it failed."""
    with tempfile.TemporaryDirectory(prefix="hubbub-bench-connectors-") as data_dir:
        if db == "sqlite":
            url = f"sqlite:///{Path(data_dir) / 'bench.sqlite3'}"
        else:
            _reset_postgres(database_url)
            url = database_url
        env = _environment(Path(data_dir), url)
        # The fake Jetstream listens on loopback, which the SSRF guard refuses by default.
        env["HUBBUB_SAFE_HTTP_ALLOW"] = "127.0.0.1"
        _hubbub("manage", "migrate", "--verbosity", "0", env=env)
        command = [sys.executable, "-m", "hubbub.cli.main", "bench", "connectors"]
        done = subprocess.run(
            [*command, "--phase", "child", "--events", str(args.events)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            print(done.stdout[-2000:], done.stderr[-4000:], file=sys.stderr)
            return None
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return result


def _print(db: str, result: dict[str, Any]) -> None:
    print(
        f"  {db:<8} jetstream {result['jetstream_events_per_s']:>9,.0f} events/s   "
        f"{result['accepted']:,} of {result['events']:,} accepted in {result['elapsed_s']:.2f} s"
        f"   peak RSS {result['peak_rss_mb']:.0f} MB"
    )


# --- the child, inside one configured database ----------------------------------------


def _child(args: argparse.Namespace) -> int:
    from hubbub.cli.main import setup_django

    setup_django()
    print(json.dumps(measure(args.events)))
    return 0


def measure(events: int) -> dict[str, Any]:
    """Every measurement in the current database, and this process's peak memory."""
    figures: dict[str, Any] = {}
    for measure_one in MEASURES.values():
        figures.update(measure_one(events))
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return figures


def jetstream_figures(events: int) -> dict[str, Any]:
    """Replay `events` Jetstream events from the fake (its own process) into a new source.

    Elapsed time runs from starting the follower to the moment every event is
    covered by a committed batch. Raises RuntimeError if the follower stops
    or stalls first.
    """
    from hubbub.connectors.bluesky.jetstream import JetstreamFollower
    from hubbub.listening.models import InboundPost

    fake = subprocess.Popen(
        [sys.executable, "-m", FAKE_MODULE, "--events", str(events)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert fake.stdout is not None
        url = fake.stdout.readline().strip()
        if not url.startswith("ws://"):
            raise RuntimeError("the fake Jetstream did not start")
        source_id = _bench_source(url)
        follower = JetstreamFollower(source_id)
        stop = threading.Event()
        thread = threading.Thread(target=_follow, args=(follower, stop), daemon=True)
        started = time.perf_counter()
        thread.start()
        _wait_for(follower, thread, events)
        elapsed = time.perf_counter() - started
        stop.set()
        thread.join(timeout=30)
    finally:
        if fake.stdin is not None:
            fake.stdin.close()  # the fake stops when its stdin closes
        fake.wait(timeout=30)
    return {
        "jetstream_events_per_s": round(events / elapsed, 1),
        "events": events,
        "accepted": InboundPost.objects.filter(source_id=source_id).count(),
        "elapsed_s": round(elapsed, 3),
    }


def _bench_source(url: str) -> int:
    from hubbub.accounts.services import create_workspace
    from hubbub.core.models import Workspace
    from hubbub.listening.models import Source, SourceKind

    workspace = Workspace.objects.filter(slug="bench-connectors").first() or create_workspace(
        name="Bench connectors", slug="bench-connectors"
    )
    source = Source.objects.create(
        workspace=workspace,
        name=f"Jetstream bench {time.time_ns()}",
        kind=SourceKind.BLUESKY,
        settings={"mode": "jetstream", "jetstream_url": url},
    )
    return source.pk


def _follow(follower: JetstreamFollower, stop: threading.Event) -> None:
    from django.db import connection

    try:
        follower.run(stop)
    finally:
        connection.close()


def _wait_for(follower: JetstreamFollower, thread: threading.Thread, events: int) -> None:
    """Until the follower has stored `events` events; it must not stop or stall first."""
    last, last_change = -1, time.monotonic()
    while follower.stored < events:
        if not thread.is_alive():
            raise RuntimeError(f"the follower stopped after {follower.stored:,} events")
        if follower.stored != last:
            last, last_change = follower.stored, time.monotonic()
        elif time.monotonic() - last_change > 60:
            raise RuntimeError(f"the follower stalled at {follower.stored:,} events")
        time.sleep(0.01)


# name → measure(events) → figures with unit-named keys; polling connectors add theirs here.
MEASURES: dict[str, Callable[[int], dict[str, Any]]] = {"jetstream": jetstream_figures}
