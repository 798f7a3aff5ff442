"""`hubbub listen`: follow the workspaces' sources and run the listening pipeline.

Embedded it processes what it accepts itself; with HUBBUB_REDIS_URL it adds
accepted posts to the Redis stream that `hubbub worker` processes.
"""

from __future__ import annotations

import argparse
import signal
import threading
from types import FrameType


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--idle", type=float, default=0.5, help="seconds to wait when idle")


def run(args: argparse.Namespace) -> int:
    from hubbub.cli.main import setup_django

    setup_django()
    from django.conf import settings

    from hubbub.listening import streams
    from hubbub.listening.runners import run_embedded, run_listener

    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    if settings.HUBBUB_REDIS_URL:
        run_listener(stop, client=streams.connect(settings.HUBBUB_REDIS_URL))
    else:
        run_embedded(stop, idle_seconds=args.idle)
    return 0
