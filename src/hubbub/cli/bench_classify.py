"""`hubbub bench classify`: posts/s of the triage models on one core, as the pipeline runs them.

Real posts from `../shared/data/` in pipeline-sized batches through
`interface.label_batch` with the default model set (sentiment, intent with
the complaint detector it reads, language), after a warm-up batch. The
process is pinned to one core first. Beside it, in the same run, each
task alone, so a slow model shows which one it is.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import statistics
import time

DEFAULT_SET = ("sentiment", "intent", "language")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--posts", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument(
        "--json", action="store_true", help="end with one JSON object of the figures"
    )


def measure(texts: list[str], tasks: tuple[str, ...], batch: int) -> tuple[float, list[float]]:
    from hubbub.intelligence.interface import label_batch

    label_batch(texts[:batch], tasks)  # warm-up: models load lazily
    latencies = []
    started = time.perf_counter()
    for start in range(0, len(texts), batch):
        began = time.perf_counter()
        label_batch(texts[start : start + batch], tasks)
        latencies.append((time.perf_counter() - began) * 1000)
    return len(texts) / (time.perf_counter() - started), latencies


def run(args: argparse.Namespace) -> int:
    from hubbub.cli.eval import pin_to_one_core
    from hubbub.datasets import DataMissing, post_texts

    pin_to_one_core()
    try:
        corpus = post_texts()
    except DataMissing as error:
        print(error)
        return 2
    texts = [corpus[n % len(corpus)] for n in range(args.posts)]
    speed, latencies = measure(texts, DEFAULT_SET, args.batch)
    # Peak resident memory of the process: the models, the posts and the work, as deployed.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    alone = {task: measure(texts, (task,), args.batch)[0] for task in (*DEFAULT_SET, "complaint")}
    p50 = statistics.median(latencies)
    p95 = sorted(latencies)[math.ceil(0.95 * len(latencies)) - 1]  # nearest rank
    print(f"hubbub bench classify: {len(texts):,} real posts, batches of {args.batch}, one core")
    print(f"  default set ({', '.join(DEFAULT_SET)}): {speed:,.0f} posts/s")
    print(
        f"  per batch: p50 {p50:.1f} ms, p95 {p95:.1f} ms; peak resident memory {peak / 1e6:.0f} MB"
    )
    for task, task_speed in alone.items():
        print(f"  {task:<10} alone: {task_speed:>9,.0f} posts/s")
    if args.json:
        print(
            json.dumps(
                {
                    "posts": len(texts),
                    "posts_per_s": round(speed, 1),
                    "batch_p50_ms": round(p50, 2),
                    "batch_p95_ms": round(p95, 2),
                    "peak_memory_mb": round(peak / 1e6, 1),
                    **{f"{task}_posts_per_s": round(value, 1) for task, value in alone.items()},
                }
            )
        )
    return 0
