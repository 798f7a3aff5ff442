"""The two runners of the listening pipeline; the stages are the same.

Embedded (no Redis): `hubbub listen` follows the sources and processes what
they accept in one process (`hubbub serve` starts it). With Redis:
`hubbub listen` follows the sources and adds accepted posts to a stream, and
any number of `hubbub worker` processes consume it (`streams.py`).

Either way a crash loses nothing: accepted posts wait in the database, and
each source resumes from its stored cursor.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time

import redis
from django.conf import settings
from django.db import (
    InterfaceError,
    OperationalError,
    close_old_connections,
    connection,
)

from hubbub.connectors.email import sync as mail_sync
from hubbub.connectors.registry import follower_for
from hubbub.listening import services, streams
from hubbub.listening.models import InboundPost, Source, SourceStatus
from hubbub.listening.pipeline.process import BATCH, PipelineState, process_each, process_inbound
from hubbub.listening.services import MAX_ATTEMPTS

logger = logging.getLogger(__name__)


def _scan_interval() -> float:
    """Sources are rescanned (and their leases renewed) six times a lease."""
    return settings.HUBBUB_SOURCE_LEASE_SECONDS / 6


def _follow(source_id: int, stop: threading.Event, holder: str) -> None:
    source = Source.objects.get(pk=source_id)
    follow = follower_for(source.kind)
    if follow is None:
        logger.warning("no connector follows %s sources yet (source %s)", source.kind, source_id)
        return
    try:
        follow(source_id, stop)
    except (OperationalError, InterfaceError):
        # The database, not the source: the next scan starts the source again.
        logger.exception("source %s paused: the database did not answer", source_id)
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
    mailboxes: mail_sync.Followers = {}
    next_scan = 0.0
    while not stop.is_set():
        try:
            if time.monotonic() >= next_scan:
                _scan_sources(followers, holder)
                _scan_mailboxes(mailboxes)
                next_scan = time.monotonic() + _scan_interval()
            busy = process_next_batch(state)
        except Exception:
            logger.exception("processing a batch failed; it will be tried again")
            busy = False
            stop.wait(idle_seconds)
        if not busy:
            close_old_connections()
            stop.wait(idle_seconds)
    _stop_followers(followers)
    mail_sync.stop_mailboxes(mailboxes)


def process_next_batch(state: PipelineState) -> bool:
    """One batch; a batch that fails is taken apart so that a bad post fails alone.

    True when it got something done: False tells the loop to wait (nothing
    waiting, or what waits is locked by another process).
    """
    ids = list(
        InboundPost.objects.filter(processed_at__isnull=True, dead_at__isnull=True)
        .order_by("id")
        .values_list("pk", flat=True)[:BATCH]
    )
    if not ids:
        return False
    try:
        return process_inbound(ids=ids, state=state).inbound > 0
    except (OperationalError, InterfaceError):
        raise
    except Exception:
        logger.exception("a batch of %d failed; processing its posts one by one", len(ids))
        _, failures = process_each(ids=ids, state=state)
        dead = services.record_processing_failures(
            failures=[(failure.inbound_id, failure.error) for failure in failures]
        )
        if dead:
            logger.warning("%d post(s) set aside after %d failures", len(dead), MAX_ATTEMPTS)
    return True


def run_listener(
    stop: threading.Event,
    *,
    client: redis.Redis,
    idle_seconds: float = 0.2,
    stale_after: dt.timedelta = streams.STALE_AFTER,
) -> None:
    """Follow every active source and add what they accept to the Redis stream.

    Workers (`hubbub worker`) process the stream. At start, and every pass,
    posts accepted but not yet in the stream are added: a listener that died
    between accepting and adding loses nothing.
    """
    holder = f"{socket.gethostname()}:{os.getpid()}"
    followers: dict[int, tuple[threading.Thread, threading.Event]] = {}
    mailboxes: mail_sync.Followers = {}
    next_scan = next_trim = next_stale = 0.0
    while not stop.is_set():
        now = time.monotonic()
        try:
            if now >= next_trim:
                # Also after Redis lost its data: an XADD recreates the stream
                # without the group, which workers need.
                streams.ensure_group(client)
                streams.trim(client)
                next_trim = now + 10
            if now >= next_scan:
                _scan_sources(followers, holder)
                _scan_mailboxes(mailboxes)
                next_scan = now + _scan_interval()
            if now >= next_stale:
                streams.requeue_stale(client, older_than=stale_after)
                next_stale = now + 60
            added = streams.enqueue_accepted(client)
        except Exception:  # Redis or the database away, most likely: the listener waits
            logger.exception("the listener hit a problem; trying again in 2 s")
            added = 0
            stop.wait(2.0)
        if not added:
            close_old_connections()
            stop.wait(idle_seconds)
    _stop_followers(followers)
    mail_sync.stop_mailboxes(mailboxes)


def run_stream_worker(
    stop: threading.Event, *, client: redis.Redis, claim_idle_ms: int = 30_000
) -> None:
    """Process the stream as one consumer of the group, until `stop` is set.

    Nothing ends the loop but `stop`: with Redis or the database away the
    worker waits and tries again, and it rejoins a group that Redis lost.
    """
    worker = streams.StreamWorker(client=client, claim_idle_ms=claim_idle_ms)
    joined = False
    while not stop.is_set():
        try:
            if not joined:
                streams.ensure_group(client)
                streams.join_group(client, worker.name)
                logger.info("pipeline worker %s reading %s", worker.name, streams.STREAM)
                joined = True
            if not worker.step():
                close_old_connections()
        except Exception as error:
            if isinstance(error, redis.ResponseError) and "NOGROUP" in str(error):
                joined = False
            logger.exception("the worker hit a problem; trying again in 2 s")
            close_old_connections()
            stop.wait(2.0)


def _scan_mailboxes(mailboxes: mail_sync.Followers) -> None:
    """Mailboxes are read beside the sources; stored mails are filed at once, and mails
    whose filing failed earlier are tried again at every scan."""
    from hubbub.care import mail

    def file_stored(mailbox_id: int) -> None:
        mail.file_pending(mailbox_id=mailbox_id)

    mail_sync.scan_mailboxes(mailboxes, on_stored=file_stored)
    mail.file_pending()


def _stop_followers(followers: dict[int, tuple[threading.Thread, threading.Event]]) -> None:
    for _, source_stop in followers.values():
        source_stop.set()
    for thread, _ in followers.values():
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
