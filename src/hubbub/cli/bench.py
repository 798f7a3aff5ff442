"""`hubbub bench …`: measure a hot path and print its figures.

Every bench prints a human table and, with --json, one JSON object on its
last line whose keys carry their units.
"""

from __future__ import annotations

import argparse
from importlib import import_module

# name → (module, help)
BENCHES = {
    "web": ("hubbub.cli.bench_web", "pages and API under load, SQLite and PostgreSQL"),
    "matcher": ("hubbub.cli.bench_matcher", "query matching: percolation against the naive way"),
    "pipeline": ("hubbub.cli.bench_pipeline", "accept → route: posts/s and per-stage latency"),
    "classify": ("hubbub.cli.bench_classify", "triage models on one core: posts/s, batch latency"),
    "inbox": ("hubbub.cli.bench_inbox", "inbox at 1M mentions: p95 per action, live delivery"),
    "connectors": (
        "hubbub.cli.bench_connectors",
        "connectors: Jetstream events/s into the pipeline, polling requests/s",
    ),
    "email": (
        "hubbub.cli.bench_email",
        "email: mails/s in from Dovecot and out through SMTP, IDLE push delay",
    ),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="bench", metavar="BENCH", required=True)
    for name, (module, help_text) in BENCHES.items():
        import_module(module).add_arguments(sub.add_parser(name, help=help_text))


def run(args: argparse.Namespace) -> int:
    result: int = import_module(BENCHES[args.bench][0]).run(args)
    return result
