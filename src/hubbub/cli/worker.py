"""`hubbub worker`: take background jobs from the database queue.

Any number of workers on any number of machines may run against the same
database; each job is taken by exactly one (row locks with SKIP LOCKED on
PostgreSQL, an exclusive transaction on SQLite).
"""

from __future__ import annotations

import argparse
import logging
import threading
import time


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--interval", type=float, default=1.0, help="seconds between polls when idle"
    )
    parser.add_argument("--batch", action="store_true", help="run the queued jobs, then exit")
    parser.add_argument("--max-tasks", type=int, default=None, help="exit after this many jobs")


PRUNE_EVERY_SECONDS = 60 * 60


def _prune_events_forever() -> None:
    from django.db import connection

    from hubbub.core.services import prune_events

    while True:
        try:
            prune_events()
        except Exception:  # a failed prune is retried in an hour; jobs go on
            logging.getLogger(__name__).exception("pruning old events failed")
        finally:
            connection.close()
        time.sleep(PRUNE_EVERY_SECONDS)


def run(args: argparse.Namespace) -> int:
    from hubbub.cli.main import setup_django

    setup_django()
    from django.core.management import call_command

    if not args.batch:
        threading.Thread(target=_prune_events_forever, name="prune-events", daemon=True).start()

    options: list[str] = [
        "--queue-name",
        "*",
        "--interval",
        str(args.interval),
        "--no-startup-delay",
    ]
    if args.batch:
        options.append("--batch")
    if args.max_tasks is not None:
        options += ["--max-tasks", str(args.max_tasks)]
    call_command("db_worker", *options)
    return 0
