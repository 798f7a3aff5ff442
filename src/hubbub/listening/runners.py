"""The embedded runner: sources and the pipeline in one process, no Redis.

`hubbub listen` runs it (and `hubbub serve` starts `hubbub listen` when
embedded). One thread per active source reads and accepts; the main loop
processes accepted posts in batches. A crash loses nothing: accepted posts
wait in the database, and each source resumes from its stored cursor.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

from django.db import close_old_connections, connection

from hubbub.connectors.registry import follower_for
from hubbub.listening import services
from hubbub.listening.models import Source, SourceStatus
from hubbub.listening.pipeline.process import PipelineState, process_pending

logger = logging.getLogger(__name__)
SOURCE_SCAN_SECONDS = 10.0


def _follow(source_id: int, stop: threading.Event, holder: str) -> None:
    source = Source.objects.get(pk=source_id)
    follow = follower_for(source.kind)
    if follow is None:
        logger.warning("no connector follows %s sources yet (source %s)", source.kind, source_id)
        return
    try:
        follow(source_id, stop)
    except Exception as error:  # the source fails, the listener goes on
        logger.exception("source %s stopped", source_id)
        Source.objects.filter(pk=source_id).update(
            status=SourceStatus.FAILING, last_error=str(error)[:2000]
        )
    finally:
        services.release_source_lease(source_id=source_id, holder=holder)
        connection.close()


def run_embedded(stop: threading.Event, *, idle_seconds: float = 0.5) -> None:
    """Follow every active source and process what they accept, until `stop` is set.

    A source is followed only while this listener holds its lease, renewed at
    every scan; a listener that loses a lease stops that source's thread.
    """
    state = PipelineState()
    holder = f"{socket.gethostname()}:{os.getpid()}"
    followers: dict[int, tuple[threading.Thread, threading.Event]] = {}
    next_scan = 0.0
    while not stop.is_set():
        if time.monotonic() >= next_scan:
            _scan_sources(followers, holder)
            next_scan = time.monotonic() + SOURCE_SCAN_SECONDS
        try:
            done = process_pending(state=state)
        except Exception:
            logger.exception("processing a batch failed; it will be tried again")
            done = None
            stop.wait(idle_seconds)
        if done is not None and not done.inbound:
            close_old_connections()
            stop.wait(idle_seconds)
    for thread, source_stop in followers.values():
        source_stop.set()
        thread.join(timeout=5)


def _scan_sources(
    followers: dict[int, tuple[threading.Thread, threading.Event]], holder: str
) -> None:
    active = set(Source.objects.filter(status=SourceStatus.ACTIVE).values_list("pk", flat=True))
    for source_id in active | set(followers):
        running = followers.get(source_id)
        alive = running is not None and running[0].is_alive()
        if source_id in active and services.take_source_lease(source_id=source_id, holder=holder):
            if not alive:
                source_stop = threading.Event()
                thread = threading.Thread(
                    target=_follow,
                    args=(source_id, source_stop, holder),
                    name=f"source-{source_id}",
                    daemon=True,
                )
                followers[source_id] = (thread, source_stop)
                thread.start()
        elif running is not None:
            running[1].set()  # paused, gone, or another listener has it now
            if not alive:
                del followers[source_id]
