"""Dedupe: drop exact repeats, group copies and near-copies.

- the same (platform, external id) again: dropped (at-least-once delivery
  hands some posts over twice);
- the same normalised text (retweets, copypasta): kept, grouped under the
  first post as `duplicate_of`;
- a SimHash within `MAX_DISTANCE` bits of a post seen within the window:
  kept, grouped, marked `near_duplicate`.

Near-copies are found with the pigeonhole trick: split the 64 bits into
MAX_DISTANCE + 1 bands; two hashes that differ in at most MAX_DISTANCE bits
agree on at least one whole band, so only posts sharing a band are compared.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from hubbub.listening.types import DedupedPost, NormalizedPost

MAX_DISTANCE = 4
WINDOW = dt.timedelta(hours=24)
MAX_ENTRIES = 500_000  # per index: a day of a busy brand, bounded memory
_BANDS = MAX_DISTANCE + 1
_BAND_BITS = [13, 13, 13, 13, 12]
_BAND_SHIFTS = [sum(_BAND_BITS[:i]) for i in range(_BANDS)]


def _band_keys(value: int) -> list[int]:
    return [
        (value >> shift) & ((1 << bits) - 1)
        for shift, bits in zip(_BAND_SHIFTS, _BAND_BITS, strict=True)
    ]


@dataclass(frozen=True, slots=True)
class Seen:
    workspace_id: int
    external_id: str
    posted_at: dt.datetime
    content_hash: str
    simhash: int


@dataclass
class DedupeIndex:
    """Recent posts per workspace, for the dedupe stage. Not thread-safe: one per runner.

    The window slides with the newest post time seen: a post older than
    that by more than the window (a late backfill) is compared with nothing.
    """

    window: dt.timedelta = WINDOW
    max_entries: int = MAX_ENTRIES
    _ids: set[tuple[int, str, str]] = field(default_factory=set)
    _by_hash: dict[tuple[int, str], Seen] = field(default_factory=dict)
    _bands: list[dict[tuple[int, int], list[Seen]]] = field(
        default_factory=lambda: [defaultdict(list) for _ in range(_BANDS)]
    )
    _order: deque[tuple[Seen, str]] = field(default_factory=deque)
    _newest: dt.datetime | None = None

    def __len__(self) -> int:
        return len(self._order)

    def knows(self, workspace_id: int, platform: str, external_id: str) -> bool:
        return (workspace_id, platform, external_id) in self._ids

    def copy_of(self, workspace_id: int, content_hash: str) -> Seen | None:
        return self._by_hash.get((workspace_id, content_hash)) if content_hash else None

    def near_copy_of(self, workspace_id: int, value: int, posted_at: dt.datetime) -> Seen | None:
        best: Seen | None = None
        best_distance = MAX_DISTANCE + 1
        for band, key in enumerate(_band_keys(value)):
            for seen in self._bands[band].get((workspace_id, key), ()):
                distance = (seen.simhash ^ value).bit_count()
                if distance < best_distance and abs(seen.posted_at - posted_at) <= self.window:
                    best, best_distance = seen, distance
        return best

    def add(self, seen: Seen, platform: str) -> None:
        self._ids.add((seen.workspace_id, platform, seen.external_id))
        if seen.content_hash:
            self._by_hash.setdefault((seen.workspace_id, seen.content_hash), seen)
        if seen.simhash:
            for band, key in enumerate(_band_keys(seen.simhash)):
                self._bands[band][(seen.workspace_id, key)].append(seen)
        self._order.append((seen, platform))
        if self._newest is None or seen.posted_at > self._newest:
            self._newest = seen.posted_at
        self._expire()

    def _expire(self) -> None:
        assert self._newest is not None
        horizon = self._newest - self.window
        while self._order and (
            len(self._order) > self.max_entries or self._order[0][0].posted_at < horizon
        ):
            old, platform = self._order.popleft()
            self._ids.discard((old.workspace_id, platform, old.external_id))
            if self._by_hash.get((old.workspace_id, old.content_hash)) is old:
                del self._by_hash[(old.workspace_id, old.content_hash)]
            if old.simhash:
                for band, key in enumerate(_band_keys(old.simhash)):
                    bucket = self._bands[band].get((old.workspace_id, key))
                    if bucket:
                        bucket.remove(old)  # the oldest are at the front: cheap
                        if not bucket:
                            del self._bands[band][(old.workspace_id, key)]

    def warm(self, recent: Iterable[tuple[Seen, str]]) -> None:
        """Reload what was seen before a restart (oldest first)."""
        for seen, platform in recent:
            self.add(seen, platform)


def dedupe_batch(batch: Sequence[NormalizedPost], index: DedupeIndex) -> list[DedupedPost]:
    """Drop repeats of the same post; group copies and near-copies under the first."""
    kept: list[DedupedPost] = []
    for post in batch:
        raw = post.raw
        if index.knows(raw.workspace_id, raw.platform, raw.external_id):
            continue
        original = index.copy_of(raw.workspace_id, post.content_hash)
        if original is not None and abs(original.posted_at - raw.posted_at) > index.window:
            original = None
        near = False
        if original is None and post.simhash:
            original = index.near_copy_of(raw.workspace_id, post.simhash, raw.posted_at)
            near = original is not None
        kept.append(
            DedupedPost(
                post=post,
                duplicate_of=original.external_id if original else None,
                near_duplicate=near,
            )
        )
        index.add(
            Seen(raw.workspace_id, raw.external_id, raw.posted_at, post.content_hash, post.simhash),
            raw.platform,
        )
    return kept
