"""The pipeline on Redis Streams: the listener adds, a consumer group of workers processes.

The database stays the source of truth. Accepting a batch commits the posts
(`InboundPost`, `enqueued_at` empty); the listener's outbox loop then adds
their ids to the stream and stamps `enqueued_at`. A listener that dies between
the two leaves rows that the next loop (in any listener) adds again, so an
id may reach the stream twice; processing is idempotent, so that costs a
skipped row, never a second mention.

Workers read with XREADGROUP, process, and XACK only after the database
commit. An entry left pending by a dead worker is taken over with XAUTOCLAIM
once it has been idle for `claim_idle`. A post whose processing failed
`MAX_ATTEMPTS` times (counted in the database, so a killed worker does not
count against the post) goes to the dead-letter stream; so does an entry
delivered `MAX_DELIVERIES` times, the mark of a post that kills its worker.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis
from django.db import InterfaceError, OperationalError, connection

from hubbub.core import clock
from hubbub.listening import services
from hubbub.listening.models import InboundPost
from hubbub.listening.pipeline.process import PipelineState, process_each, process_inbound

logger = logging.getLogger(__name__)

STREAM = "hubbub:inbound"
GROUP = "pipeline"
DEAD = "hubbub:inbound:dead"
MAX_DELIVERIES = 20
ENQUEUE_BATCH = 1000
GONE_AFTER_MS = 60 * 60 * 1000
RETRY_BUSY_SECONDS = 0.5
KILLER_ERROR = "delivered too often: it may crash its worker"
# An enqueued post still unprocessed after this long is added again: the
# stream may have lost it (Redis restarted without persistence, or an entry
# acknowledged by a worker whose transaction then failed).
STALE_AFTER = dt.timedelta(minutes=10)
CLOCK_MARGIN = dt.timedelta(minutes=1)

Entry = tuple[str, int]  # (stream entry id, inbound post id)


def connect(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)


def ensure_group(client: redis.Redis) -> None:
    try:
        client.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    except redis.ResponseError as error:
        if "BUSYGROUP" not in str(error):
            raise


def join_group(client: redis.Redis, name: str) -> None:
    """Register a consumer at once (not at its first delivery), and forget long-gone ones.

    A consumer that has held nothing for an hour belongs to a worker that
    died or stopped; dropping it keeps `XINFO CONSUMERS` readable.
    """
    client.xgroup_createconsumer(STREAM, GROUP, name)
    consumers: Any = client.xinfo_consumers(STREAM, GROUP)
    for consumer in consumers:
        if int(consumer["pending"]) == 0 and int(consumer["idle"]) > GONE_AFTER_MS:
            client.xgroup_delconsumer(STREAM, GROUP, _text(consumer["name"]))


def consumer_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# --- the listener's side ---------------------------------------------------


def enqueue_accepted(client: redis.Redis, *, limit: int = ENQUEUE_BATCH) -> int:
    """Add accepted, not yet enqueued posts to the stream; return how many.

    No row locks are held while Redis is written to: a worker may take an
    entry at once, and must not find its row locked by the listener.
    """
    rows = list(
        InboundPost.objects.filter(
            enqueued_at__isnull=True, processed_at__isnull=True, dead_at__isnull=True
        )
        .order_by("id")
        .values_list("pk", "workspace_id")[:limit]
    )
    if not rows:
        return 0
    pipe = client.pipeline(transaction=False)
    for inbound_id, workspace_id in rows:
        pipe.xadd(STREAM, {"id": inbound_id, "ws": workspace_id})
    pipe.execute()
    # Stamped after the entries are in Redis: a crash in between adds them
    # twice, never zero times. Rows a worker has finished meanwhile need no stamp.
    InboundPost.objects.filter(
        pk__in=[pk for pk, _ in rows], processed_at__isnull=True, enqueued_at__isnull=True
    ).update(enqueued_at=clock.now())
    return len(rows)


def requeue_stale(client: redis.Redis, *, older_than: dt.timedelta = STALE_AFTER) -> int:
    """Mark for adding again the unprocessed posts whose stream entries are gone.

    An entry leaves the stream only when trimmed after its acknowledgement,
    or when Redis loses its data. So a post still unprocessed, enqueued
    before the oldest entry now in the stream (a minute's margin for clocks),
    was acknowledged by a worker whose transaction then failed, or lost with
    Redis: the enqueue loop adds it again. A backlog still in the stream is
    left alone.
    """
    oldest: Any = client.xrange(STREAM, count=1)
    if oldest:
        millis = _entry_order(_text(oldest[0][0]))[0]
        gone_before = dt.datetime.fromtimestamp(millis / 1000, tz=dt.UTC) - CLOCK_MARGIN
    else:
        gone_before = clock.now()
    cutoff = min(gone_before, clock.now() - older_than)
    return InboundPost.objects.filter(
        processed_at__isnull=True, dead_at__isnull=True, enqueued_at__lt=cutoff
    ).update(enqueued_at=None)


def trim(client: redis.Redis) -> int:
    """Drop entries every consumer has read and acknowledged.

    Everything before the oldest pending entry and before the group's last
    delivered id is done; nothing unread or unacknowledged is removed.
    """
    groups = {_text(g["name"]): g for g in client.xinfo_groups(STREAM)}
    group = groups.get(GROUP)
    if group is None:
        return 0
    millis, sequence = _entry_order(_text(group["last-delivered-id"]))
    floor = (millis, sequence + 1)  # everything delivered so far …
    pending = client.xpending(STREAM, GROUP)
    if pending["pending"]:
        floor = min(floor, _entry_order(_text(pending["min"])))  # … but what is still pending
    return int(client.xtrim(STREAM, minid=f"{floor[0]}-{floor[1]}", approximate=False))


def _entry_order(entry_id: str) -> tuple[int, int]:
    millis, _, sequence = entry_id.partition("-")
    return int(millis), int(sequence or 0)


# --- the workers' side -----------------------------------------------------


@dataclass
class StreamWorker:
    """One consumer of the group: claim what dead workers left, read new entries, process."""

    client: redis.Redis
    name: str = field(default_factory=consumer_name)
    batch: int = 500
    block_ms: int = 1000
    claim_idle_ms: int = 30_000
    state: PipelineState = field(default_factory=PipelineState)
    _claim_from: str = "0-0"
    _next_claim: float = 0.0
    # Entries whose rows another transaction held locked: tried again shortly.
    _retry: list[Entry] = field(default_factory=list)
    _retry_at: float = 0.0
    # Claimed entries delivered more than twice, handled one by one.
    _suspects: list[Entry] = field(default_factory=list)

    def step(self) -> int:
        """Handle one batch; return how many entries it settled (0 when idle)."""
        entries: list[Entry] = []
        if self._retry and time.monotonic() >= self._retry_at:
            entries, self._retry = self._retry, []
        elif self._suspects:
            # Entries delivered more than twice: one at a time, so that a post
            # that crashes its worker takes no healthy post down with it.
            entries = [self._suspects.pop(0)]
        elif time.monotonic() >= self._next_claim:
            entries = self._claim()
            if not entries:
                self._next_claim = time.monotonic() + self.claim_idle_ms / 4000
        if not entries:
            entries = self._read()
        if not entries:
            return 0
        return self._handle(entries)

    def _read(self) -> list[Entry]:
        reply: Any = self.client.xreadgroup(
            GROUP, self.name, {STREAM: ">"}, count=self.batch, block=self.block_ms
        )
        return [entry for _, messages in reply or [] for entry in _entries(messages)]

    def _claim(self) -> list[Entry]:
        """Take over entries idle too long; the ones delivered more than twice wait in line."""
        # Claiming counts a delivery; while the database is down every claim
        # would count against healthy posts, so do not claim then.
        if not _database_answers():
            return []
        reply: Any = self.client.xautoclaim(
            STREAM,
            GROUP,
            self.name,
            min_idle_time=self.claim_idle_ms,
            start_id=self._claim_from,
            count=self.batch,
        )
        self._claim_from = _text(reply[0])
        claimed = _entries(reply[1])
        if not claimed:
            return []
        logger.info("took over %d entries left by another worker", len(claimed))
        counts = self._deliveries(claimed)
        killers = [entry for entry in claimed if counts.get(entry[0], 0) > MAX_DELIVERIES]
        if killers:
            self._bury(
                killers, dict.fromkeys((i for _, i in killers), KILLER_ERROR), mark_dead=True
            )
        rest = [entry for entry in claimed if entry not in killers]
        # The most delivered last: healthy posts go through before a suspect runs.
        suspects = sorted(
            (entry for entry in rest if counts.get(entry[0], 0) > 2),
            key=lambda entry: counts.get(entry[0], 0),
        )
        self._suspects.extend(suspects)
        return [entry for entry in rest if entry not in suspects]

    def _deliveries(self, claimed: list[Entry]) -> dict[str, int]:
        rows: Any = self.client.xpending_range(
            STREAM,
            GROUP,
            min=claimed[0][0],
            max=claimed[-1][0],
            # Beside the claimed ones, this consumer may hold its retries in the range.
            count=len(claimed) + len(self._retry) + len(self._suspects) + 1000,
            consumername=self.name,
        )
        return {_text(row["message_id"]): int(row["times_delivered"]) for row in rows}

    def _handle(self, entries: list[Entry]) -> int:
        ids = list(dict.fromkeys(inbound_id for _, inbound_id in entries))
        failures: dict[int, str] = {}
        try:
            done = process_inbound(ids=ids, state=self.state)
        except Exception:
            logger.exception("a batch of %d failed; processing its posts one by one", len(ids))
            done, failed = process_each(ids=ids, state=self.state)
            failures = {failure.inbound_id: failure.error for failure in failed}
        dead = set(services.record_processing_failures(failures=list(failures.items())))
        if dead:
            self._bury([entry for entry in entries if entry[1] in dead], failures, mark_dead=False)
        busy = [entry for entry in entries if entry[1] in done.busy and entry[1] not in failures]
        if busy:
            self._retry.extend(busy)
            self._retry_at = time.monotonic() + RETRY_BUSY_SECONDS
        settled = [
            entry_id
            for entry_id, inbound_id in entries
            if inbound_id not in done.busy and inbound_id not in failures
        ]
        if settled:
            self.client.xack(STREAM, GROUP, *settled)
        return len(settled)

    def _bury(self, entries: Sequence[Entry], errors: dict[int, str], *, mark_dead: bool) -> None:
        """Move entries to the dead-letter stream, then acknowledge them."""
        if mark_dead:
            InboundPost.objects.filter(
                pk__in=[inbound_id for _, inbound_id in entries], processed_at__isnull=True
            ).update(dead_at=clock.now(), last_error=KILLER_ERROR)
        pipe = self.client.pipeline(transaction=False)
        for entry_id, inbound_id in entries:
            pipe.xadd(
                DEAD,
                {
                    "id": inbound_id,
                    "entry": entry_id,
                    "error": errors.get(inbound_id, "")[:500],
                    "at": clock.now().isoformat(),
                },
            )
        pipe.xack(STREAM, GROUP, *[entry_id for entry_id, _ in entries])
        pipe.execute()
        logger.warning("%d post(s) moved to the dead-letter stream", len(entries))


def _database_answers() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except (OperationalError, InterfaceError):
        return False
    return True


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _entries(messages: Iterable[Any]) -> list[Entry]:
    found: list[Entry] = []
    for message in messages:
        if not message or message[1] is None:
            continue  # trimmed away while pending
        entry_id, fields = message
        raw = fields.get(b"id") or fields.get("id")
        if raw is not None:
            found.append((_text(entry_id), int(raw)))
    return found


# --- the dead-letter stream ------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeadLetter:
    entry_id: str
    inbound_id: int
    error: str
    at: str


def dead_letters(client: redis.Redis, *, limit: int = 1000) -> list[DeadLetter]:
    entries: Any = client.xrange(DEAD, count=limit)
    return [
        DeadLetter(
            entry_id=_text(entry_id),
            inbound_id=int(fields[b"id"]),
            error=_text(fields.get(b"error", b"")),
            at=_text(fields.get(b"at", b"")),
        )
        for entry_id, fields in entries
    ]


def forget_dead_letters(client: redis.Redis, inbound_ids: Sequence[int]) -> int:
    """Drop the dead-letter entries of posts revived some other way (the settings page)."""
    wanted = set(inbound_ids)
    entries = [
        letter.entry_id
        for letter in dead_letters(client, limit=100_000)
        if letter.inbound_id in wanted
    ]
    return int(client.xdel(DEAD, *entries)) if entries else 0


@dataclass(frozen=True, slots=True)
class StreamStatus:
    length: int
    pending: int
    consumers: int
    dead: int


def stream_status(client: redis.Redis) -> StreamStatus:
    ensure_group(client)
    pending = client.xpending(STREAM, GROUP)
    groups = {_text(g["name"]): g for g in client.xinfo_groups(STREAM)}
    return StreamStatus(
        length=int(client.xlen(STREAM)),
        pending=int(pending["pending"]),
        consumers=int(groups[GROUP]["consumers"]) if GROUP in groups else 0,
        dead=int(client.xlen(DEAD)),
    )
