"""`hubbub bench pipeline`: posts/s through accept → route, and each stage's latency.

For each database (a scratch SQLite file, a scratch PostgreSQL database) it
measures, on real posts from `../shared/data/`:

- embedded: accept in batches of 500 (posts and cursor in one transaction),
  then process in one process, with p50/p95 per stage and per batch; once
  with the real mix (a few posts match a query) and once with every post
  made to match, which measures storing mentions at full tilt;
- Redis: the same posts accepted and added to the stream, then 1 and 2
  `hubbub worker --only pipeline` processes drain it.

Each measurement runs in a child process configured for its database.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from hubbub.cli.bench_web import DEFAULT_POSTGRES, _environment, _hubbub, _reset_postgres

DEFAULT_REDIS = "redis://127.0.0.1:6379/14"
ACCEPT_BATCH = 500
# Beside the demo's queries: one that many support posts match, so that the
# store stage has real work (a listening firehose matches far fewer).
SUPPORT_QUERY = (
    "help OR service OR phone OR internet OR account OR order* OR app OR wait* OR "
    "@sprintcare OR @amazonhelp OR @applesupport OR @uber_support OR @spotifycares"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--posts", type=int, default=20_000)
    parser.add_argument("--db", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument("--workers", default="1,2", help="Redis worker counts; '' to skip Redis")
    parser.add_argument(
        "--postgres-url", default=DEFAULT_POSTGRES, help="scratch database; dropped and re-created"
    )
    parser.add_argument(
        "--redis-url", default=DEFAULT_REDIS, help="scratch Redis database; its stream is cleared"
    )
    parser.add_argument(
        "--json", action="store_true", help="end with one JSON object of the figures"
    )
    parser.add_argument("--phase", choices=["embedded", "redis"], help=argparse.SUPPRESS)
    parser.add_argument("--worker-count", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--all-match", action="store_true", help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    if args.phase:
        return _child(args)
    figures: dict[str, Any] = {"posts": args.posts}
    print(f"hubbub bench pipeline: {args.posts:,} real posts, batches of {ACCEPT_BATCH}")
    for db in [d.strip() for d in args.db.split(",") if d.strip()]:
        # Every post a mention in the second run: what storing costs at full tilt.
        runs = [("embedded", 0, False), ("embedded", 0, True)] + [
            ("redis", int(n), False) for n in args.workers.split(",") if n.strip()
        ]
        for phase, workers, all_match in runs:
            result = _measure(args, db=db, phase=phase, workers=workers, all_match=all_match)
            if result is None:
                return 2
            label = phase if phase == "embedded" else f"redis_{workers}w"
            label += "_all_match" if all_match else ""
            figures[f"{db}_{label}"] = result
            _print(db, label, result)
    if args.json:
        print(json.dumps(_flatten(figures)))
    return 0


def _measure(
    args: argparse.Namespace, *, db: str, phase: str, workers: int, all_match: bool
) -> dict[str, Any] | None:
    with tempfile.TemporaryDirectory(prefix="hubbub-bench-pipeline-") as data_dir:
        if db == "sqlite":
            url = f"sqlite:///{Path(data_dir) / 'bench.sqlite3'}"
        else:
            _reset_postgres(args.postgres_url)
            url = args.postgres_url
        env = _environment(Path(data_dir), url)
        env["HUBBUB_REDIS_URL"] = args.redis_url if phase == "redis" else ""
        _hubbub("manage", "migrate", "--verbosity", "0", env=env)
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "hubbub.cli.main",
                "bench",
                "pipeline",
                "--phase",
                phase,
                "--posts",
                str(args.posts),
                "--worker-count",
                str(workers),
                *(["--all-match"] if all_match else []),
            ],
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


def _print(db: str, label: str, result: dict[str, Any]) -> None:
    print(
        f"  {db:<8} {label:<21} accept {result['accept_posts_per_s']:>8,.0f} posts/s   "
        f"process {result['process_posts_per_s']:>7,.0f} posts/s   "
        f"end to end {result['end_to_end_posts_per_s']:>7,.0f} posts/s   "
        f"{result['mentions_per_s']:>6,.0f} mentions/s ({result['mentions']:,} stored)   "
        f"RSS {result['rss_mb']:.0f} MB"
    )
    stages = result.get("stages_ms", {})
    if stages:
        print(
            "           per batch of 500, p50/p95 ms: "
            + ", ".join(f"{name} {v['p50']:.1f}/{v['p95']:.1f}" for name, v in stages.items())
        )


def _flatten(figures: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in figures.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}_"))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


# --- the child, inside one configured database ----------------------------


def _child(args: argparse.Namespace) -> int:
    from hubbub.cli.main import setup_django

    setup_django()
    workspace_id, source_id = _set_up()
    posts = _posts(workspace_id, source_id, args.posts, all_match=args.all_match)
    started = time.perf_counter()
    accept_s = _accept(source_id, posts)
    if args.phase == "embedded":
        figures = _process_embedded(args.posts)
    else:
        figures = _process_with_workers(args.posts, args.worker_count)
    total_s = time.perf_counter() - started
    from hubbub.listening.models import Mention

    mentions = Mention.objects.count()
    process_s = figures.pop("process_s")
    figures.update(
        accept_posts_per_s=round(len(posts) / accept_s, 1),
        process_posts_per_s=round(len(posts) / process_s, 1),
        end_to_end_posts_per_s=round(len(posts) / total_s, 1),
        mentions=mentions,
        mentions_per_s=round(mentions / process_s, 1),
        rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    )
    print(json.dumps(figures))
    return 0


def _set_up() -> tuple[int, int]:
    from hubbub.accounts.models import Role, User
    from hubbub.accounts.services import create_workspace
    from hubbub.demo.seed import QUERIES
    from hubbub.listening import services
    from hubbub.listening.models import QueryKind, SourceKind

    workspace = create_workspace(name="Bench", slug="bench")
    lead = User.objects.create(workspace=workspace, email="lead@bench.example", role=Role.LEAD)
    queries = [*QUERIES, ("Support", QueryKind.PRODUCT, SUPPORT_QUERY, None)]
    for name, kind, expression, _team in queries:
        services.save_query(actor=lead, name=name, kind=kind, expression=expression)
    source = services.ensure_source(
        workspace_id=workspace.pk, name="Bench", kind=SourceKind.REPLAY, settings={}
    )
    return workspace.pk, source.pk


def _posts(workspace_id: int, source_id: int, count: int, *, all_match: bool) -> list[Any]:
    from hubbub.datasets import post_texts
    from hubbub.listening.types import RawPost

    texts = post_texts()
    random.Random(7).shuffle(texts)  # the data sets mixed, as a firehose would mix them
    start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    return [
        RawPost(
            workspace_id=workspace_id,
            source_id=source_id,
            platform="replay",
            external_id=f"b{n}",
            text=f"Brightwave: {texts[n % len(texts)]}" if all_match else texts[n % len(texts)],
            posted_at=start + dt.timedelta(seconds=n),
            author_handle=f"customer{n % 5000}",
            lang="en",
        )
        for n in range(count)
    ]


def _accept(source_id: int, posts: list[Any]) -> float:
    from hubbub.listening import services

    started = time.perf_counter()
    for offset in range(0, len(posts), ACCEPT_BATCH):
        services.accept_posts(
            source_id=source_id,
            posts=posts[offset : offset + ACCEPT_BATCH],
            cursor=str(offset + ACCEPT_BATCH),
        )
    return time.perf_counter() - started


def _process_embedded(count: int) -> dict[str, Any]:
    from hubbub.listening.pipeline.process import PipelineState, process_pending

    state = PipelineState(timings={})
    started = time.perf_counter()
    done = 0
    while done < count:
        processed = process_pending(state=state).inbound
        if not processed:
            break
        done += processed
    process_s = time.perf_counter() - started
    timings = state.timings or {}
    return {
        "process_s": process_s,
        "stages_ms": {
            stage: {
                "p50": round(statistics.median(values) * 1000, 2),
                "p95": round(_p95(values) * 1000, 2),
            }
            for stage, values in timings.items()
        },
    }


def _process_with_workers(count: int, workers: int) -> dict[str, Any]:
    from django.conf import settings

    from hubbub.listening import streams
    from hubbub.listening.models import InboundPost

    client = streams.connect(settings.HUBBUB_REDIS_URL)
    client.delete(streams.STREAM, streams.DEAD)
    streams.ensure_group(client)
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "hubbub.cli.main", "worker", "--only", "pipeline"],
            env=os.environ.copy(),
        )
        for _ in range(workers)
    ]
    try:
        deadline = time.monotonic() + 60
        while len(client.xinfo_consumers(streams.STREAM, streams.GROUP)) < workers:
            if time.monotonic() > deadline:
                raise RuntimeError("the workers did not start")
            time.sleep(0.05)
        started = time.perf_counter()
        while streams.enqueue_accepted(client, limit=5000):
            pass
        while InboundPost.objects.filter(processed_at__isnull=True).exists():
            time.sleep(0.05)
        process_s = time.perf_counter() - started
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.wait(timeout=30)
        client.delete(streams.STREAM, streams.DEAD)
    return {"process_s": process_s, "workers": workers}


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
