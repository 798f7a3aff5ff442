"""`hubbub worker`: take background jobs from the database queue, and, with
Redis, process the listening stream as one consumer of its group.

Any number of workers on any number of machines may run against the same
database; each job is taken by exactly one (row locks with SKIP LOCKED on
PostgreSQL, an exclusive transaction on SQLite), each stream entry is
delivered to one consumer at a time.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--interval", type=float, default=1.0, help="seconds between polls when idle"
    )
    parser.add_argument("--batch", action="store_true", help="run the queued jobs, then exit")
    parser.add_argument("--max-tasks", type=int, default=None, help="exit after this many jobs")
    parser.add_argument(
        "--only",
        choices=["jobs", "pipeline"],
        default=None,
        help="run only background jobs, or only the listening pipeline (Redis)",
    )
    parser.add_argument(
        "--claim-idle",
        type=float,
        default=30.0,
        help="seconds before a stream entry left by a dead worker is taken over",
    )


PRUNE_EVERY_SECONDS = 60 * 60


def _prune_events_forever() -> None:
    from django.db import connection

    from hubbub.core.services import prune_events
    from hubbub.listening.services import prune_inbound

    while True:
        try:
            prune_events()
            prune_inbound()
        except Exception:  # a failed prune is retried in an hour; jobs go on
            logging.getLogger(__name__).exception("pruning old events or posts failed")
        finally:
            connection.close()
        time.sleep(PRUNE_EVERY_SECONDS)


CARE_TIMER_SECONDS = 30


def _care_timers_forever() -> None:
    """Every half minute: SLA clocks that ran low or out, customer updates that fell due,
    and messages a dead worker left half-sent (see care.sla, care.handoffs, care.outbound)."""
    from django.db import connection

    from hubbub.care import handoffs, outbound, sla

    while True:
        for name, timer in (
            ("SLA sweep", sla.sweep),
            ("update reminders", handoffs.remind_due_updates),
            ("requeueing stuck messages", outbound.requeue_stuck),
        ):
            try:
                timer()
            except Exception:  # tried again at the next tick; jobs go on
                logging.getLogger(__name__).exception("%s failed", name)
            finally:
                connection.close()
        time.sleep(CARE_TIMER_SECONDS)


def _pipeline(stop: threading.Event, claim_idle: float) -> None:
    from django.conf import settings

    from hubbub.listening import streams
    from hubbub.listening.runners import run_stream_worker

    client = streams.connect(settings.HUBBUB_REDIS_URL)
    run_stream_worker(stop, client=client, claim_idle_ms=int(claim_idle * 1000))


def run(args: argparse.Namespace) -> int:
    from hubbub.cli.main import setup_django

    setup_django()
    from django.conf import settings
    from django.core.management import call_command

    from hubbub.core import origin

    origin.set_for_process("worker")

    pipeline = bool(settings.HUBBUB_REDIS_URL) and not args.batch and args.only != "jobs"
    if args.only == "pipeline":
        if not settings.HUBBUB_REDIS_URL:
            print("The pipeline runs in workers only with HUBBUB_REDIS_URL set.", file=sys.stderr)
            return 2
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        _pipeline(stop, args.claim_idle)
        return 0
    if pipeline:
        threading.Thread(
            target=_pipeline,
            args=(threading.Event(), args.claim_idle),
            name="pipeline",
            daemon=True,
        ).start()
    if not args.batch:
        threading.Thread(target=_prune_events_forever, name="prune-events", daemon=True).start()
        threading.Thread(target=_care_timers_forever, name="care-timers", daemon=True).start()

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
