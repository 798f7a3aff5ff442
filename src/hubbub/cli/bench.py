"""`hubbub bench …`: measure a hot path and print its figures.

Every bench prints a human table and, with --json, one JSON object on its
last line whose keys carry their units.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="bench", metavar="BENCH", required=True)
    from hubbub.cli import bench_web

    bench_web.add_arguments(
        sub.add_parser("web", help="pages and API under load, SQLite and PostgreSQL")
    )


def run(args: argparse.Namespace) -> int:
    from hubbub.cli import bench_web

    runners = {"web": bench_web.run}
    return runners[args.bench](args)
