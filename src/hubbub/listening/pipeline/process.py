"""Process accepted posts: normalise → dedupe → match → store, in one transaction a batch.

The in-process runner calls `process_pending` in a loop; the Redis runner
calls `process_inbound` with the ids its stream delivered. Both mark the
inbound rows processed in the same transaction that stores the mentions,
so a batch is either wholly done or wholly to be done again; storing is
idempotent on (workspace, platform, external id).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Count, Max

from hubbub.core import clock
from hubbub.core.events import publish
from hubbub.listening.events import MentionsArrived
from hubbub.listening.matcher import Matcher, Post, PreparedPost
from hubbub.listening.models import InboundPost, Mention, Query
from hubbub.listening.pipeline.dedupe import DedupeIndex, dedupe_batch
from hubbub.listening.pipeline.normalize import normalize_batch
from hubbub.listening.query import QueryError, parse
from hubbub.listening.types import DedupedPost, raw_post_from_json

BATCH = 500


@dataclass
class PipelineState:
    """What a runner keeps between batches: the dedupe window and built matchers."""

    dedupe: DedupeIndex = field(default_factory=DedupeIndex)
    matchers: dict[int, tuple[tuple[int, dt.datetime | None], Matcher]] = field(
        default_factory=dict
    )

    def matcher_for(self, workspace_id: int) -> Matcher:
        """The workspace's enabled queries, rebuilt only when they changed."""
        enabled = Query.objects.filter(workspace_id=workspace_id, enabled=True)
        stamp_row = enabled.aggregate(count=Count("id"), changed=Max("updated_at"))
        stamp = (stamp_row["count"], stamp_row["changed"])
        cached = self.matchers.get(workspace_id)
        if cached is None or cached[0] != stamp:
            compiled = []
            for query_id, expression in enabled.values_list("id", "expression"):
                try:
                    compiled.append((query_id, parse(expression)))
                except QueryError:
                    continue  # saved before a rule tightened; the editor shows the error
            cached = (stamp, Matcher(compiled))
            self.matchers[workspace_id] = cached
        return cached[1]


@dataclass(frozen=True, slots=True)
class Processed:
    inbound: int
    mentions: int


def process_pending(*, state: PipelineState, limit: int = BATCH) -> Processed:
    """Process the oldest unprocessed posts (any workspace)."""
    with transaction.atomic():
        rows = list(
            InboundPost.objects.filter(processed_at__isnull=True)
            .order_by("id")
            .select_for_update(skip_locked=True)[:limit]
        )
        return _process(rows, state)


def process_inbound(*, ids: Sequence[int], state: PipelineState) -> Processed:
    """Process the given inbound posts; ones already processed are skipped."""
    with transaction.atomic():
        rows = list(
            InboundPost.objects.filter(pk__in=ids, processed_at__isnull=True)
            .order_by("id")
            .select_for_update(skip_locked=True)
        )
        return _process(rows, state)


def _process(rows: list[InboundPost], state: PipelineState) -> Processed:
    if not rows:
        return Processed(0, 0)
    try:
        kept = dedupe_batch(
            normalize_batch([raw_post_from_json(row.post) for row in rows]), state.dedupe
        )
        stored = _store(kept, state)
    except Exception:
        # The transaction rolls back, but the dedupe window already saw the
        # batch: forget it, so the retry does not take the posts for repeats.
        state.dedupe = DedupeIndex()
        raise
    InboundPost.objects.filter(pk__in=[row.pk for row in rows]).update(processed_at=clock.now())
    return Processed(len(rows), stored)


def _store(kept: list[DedupedPost], state: PipelineState) -> int:
    matched: list[tuple[DedupedPost, list[int]]] = []
    for item in kept:
        raw = item.post.raw
        queries = state.matcher_for(raw.workspace_id).match_prepared(
            PreparedPost.of(
                Post(
                    text=item.post.text,
                    lang=raw.lang,
                    platform=raw.platform,
                    author=raw.author_handle,
                    is_reply=bool(raw.reply_to_external_id),
                    urls=item.post.urls,
                )
            )
        )
        if queries:
            matched.append((item, queries))
    if not matched:
        return 0
    Mention.objects.bulk_create(
        [_mention(item) for item, _ in matched], ignore_conflicts=True, batch_size=500
    )
    ids = _mention_ids([item for item, _ in matched])
    links = [
        Mention.queries.through(mention_id=ids[_key(item)], query_id=query_id)
        for item, queries in matched
        for query_id in queries
        if _key(item) in ids
    ]
    Mention.queries.through.objects.bulk_create(links, ignore_conflicts=True, batch_size=1000)
    _link_duplicates([item for item, _ in matched], ids)
    by_workspace: dict[int, list[int]] = defaultdict(list)
    for item, _ in matched:
        if _key(item) in ids:
            by_workspace[item.post.raw.workspace_id].append(ids[_key(item)])
    for workspace_id, mention_ids in by_workspace.items():
        publish(
            MentionsArrived(mention_ids=mention_ids[:200], count=len(mention_ids)),
            workspace_id=workspace_id,
        )
    return len(matched)


def _key(item: DedupedPost) -> tuple[int, str, str]:
    raw = item.post.raw
    return (raw.workspace_id, raw.platform, raw.external_id)


def _mention_ids(items: list[DedupedPost]) -> dict[tuple[int, str, str], int]:
    return _mention_ids_by_key([_key(item) for item in items])


def _link_duplicates(items: list[DedupedPost], ids: dict[tuple[int, str, str], int]) -> None:
    wanted = [
        (item, (item.post.raw.workspace_id, item.post.raw.platform, item.duplicate_of))
        for item in items
        if item.duplicate_of
    ]
    if not wanted:
        return
    originals = _mention_ids_by_key([key for _, key in wanted if key not in ids])
    originals.update(ids)
    updates = [
        Mention(pk=ids[_key(item)], duplicate_of_id=originals[key])
        for item, key in wanted
        if key in originals and _key(item) in ids
    ]
    Mention.objects.bulk_update(updates, ["duplicate_of"], batch_size=500)


def _mention_ids_by_key(keys: list[tuple[int, str, str | None]]) -> dict[tuple[int, str, str], int]:
    by_workspace: dict[int, set[str]] = defaultdict(set)
    for workspace_id, _, external_id in keys:
        if external_id is not None:
            by_workspace[workspace_id].add(external_id)
    found: dict[tuple[int, str, str], int] = {}
    for workspace_id, external_ids in by_workspace.items():
        for pk, platform, external_id in Mention.objects.filter(
            workspace_id=workspace_id, external_id__in=external_ids
        ).values_list("pk", "platform", "external_id"):
            found[(workspace_id, platform, external_id)] = pk
    return found


def _mention(item: DedupedPost) -> Mention:
    post, raw = item.post, item.post.raw
    return Mention(
        workspace_id=raw.workspace_id,
        source_id=raw.source_id,
        platform=raw.platform,
        external_id=raw.external_id,
        url=raw.url[:2000],
        author_handle=raw.author_handle[:255],
        author_name=raw.author_name[:255],
        author_external_id=raw.author_external_id[:255],
        author_followers=raw.author_followers,
        author_following=raw.author_following,
        text=post.text,
        html=post.html,
        lang=raw.lang[:16],
        posted_at=raw.posted_at,
        reply_to_external_id=raw.reply_to_external_id[:255],
        thread_root_external_id=raw.thread_root_external_id[:255],
        raw=raw.payload,
        normalized_text=post.normalized_text,
        content_hash=post.content_hash,
        # Stored signed: the database's BIGINT is signed, SimHash is 64 unsigned bits.
        simhash=post.simhash - (1 << 64) if post.simhash >= 1 << 63 else post.simhash,
    )
