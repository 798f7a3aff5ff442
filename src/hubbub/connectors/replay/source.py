"""Feed a replay file into a source: read, pace, accept in batches, resume from the cursor."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hubbub.connectors.replay.reader import PRESETS, ReplayError, read_records, to_raw_post
from hubbub.core import clock
from hubbub.listening import services
from hubbub.listening.models import Source
from hubbub.listening.types import RawPost

BATCH = 500


@dataclass(frozen=True, slots=True)
class ReplayReport:
    read: int
    accepted: int
    repeated: int
    rejected: int
    cursor: int


def replay_source(
    *,
    source_id: int,
    speed: float | None = None,
    limit: int | None = None,
    batch_size: int = BATCH,
    after_batch: Callable[[], object] | None = None,
    stop: threading.Event | None = None,
    rate: float | None = None,
) -> ReplayReport:
    """Replay the source's file from its cursor.

    speed None replays as fast as possible; 1.0 at the pace the posts were
    written, 10.0 ten times faster. `rate` (posts per second) paces evenly
    instead, for files whose times are out of order. Bad records are counted on the source and
    skipped; everything else is accepted. `after_batch` runs after each
    accepted batch (the CLI processes the pipeline there). Setting `stop`
    ends the replay after the batch in hand; the cursor keeps the place.
    """
    stop = stop or threading.Event()
    source = Source.objects.get(pk=source_id)
    path = Path(source.settings["path"])
    preset = PRESETS[source.settings.get("preset", "generic")]
    mapping = source.settings.get("mapping") or preset.mapping
    columns = source.settings.get("columns") or preset.columns
    platform = source.settings.get("platform", "replay")
    cursor = int(source.cursor or 0)
    records = read_records(path, start_after=cursor, columns=columns)
    if limit is not None:
        records = itertools.islice(records, limit)
    read = accepted = repeated = rejected = 0
    pace: tuple[float, float] | None = None  # (first post time, wall clock) for real-time speed
    while not stop.is_set() and (chunk := list(itertools.islice(records, batch_size))):
        posts: list[RawPost] = []
        problems: list[str] = []
        now = clock.now()
        for record in chunk:
            try:
                posts.append(
                    to_raw_post(
                        record,
                        mapping=mapping,
                        workspace_id=source.workspace_id,
                        source_id=source.pk,
                        platform=platform,
                        now=now,
                        unescape_text=preset.unescape,
                        html_entities=preset.html_entities,
                    )
                )
            except ReplayError as error:
                problems.append(str(error))
        if speed and posts:
            pace = _wait_for(posts[-1], pace, speed, stop)
        cursor = chunk[-1].number
        result = services.accept_posts(source_id=source.pk, posts=posts, cursor=str(cursor))
        if problems:
            services.record_source_problems(source_id=source.pk, problems=problems)
        services.record_source_read(source_id=source.pk)  # "last read" on the sources page
        read += len(chunk)
        accepted += result.new
        repeated += result.repeated
        rejected += len(problems)
        if after_batch is not None:
            after_batch()
        if rate:
            stop.wait(len(chunk) / rate)
    return ReplayReport(read, accepted, repeated, rejected, cursor)


def _wait_for(
    post: RawPost, pace: tuple[float, float] | None, speed: float, stop: threading.Event
) -> tuple[float, float]:
    stamp = post.posted_at.timestamp()
    if pace is None:
        return (stamp, time.monotonic())
    first_stamp, started = pace
    due = started + max(0.0, stamp - first_stamp) / speed
    stop.wait(max(0.0, min(due - time.monotonic(), 60.0)))
    return pace


def follow(source_id: int, stop: threading.Event) -> None:
    """Run a replay source for a listener, paced by its settings, to the end of the file."""
    source = Source.objects.get(pk=source_id)
    speed, rate = source.settings.get("speed"), source.settings.get("rate")
    replay_source(
        source_id=source_id,
        speed=float(speed) if speed else None,
        rate=float(rate) if rate else None,
        batch_size=int(source.settings.get("batch_size", 100)),
        stop=stop,
    )
