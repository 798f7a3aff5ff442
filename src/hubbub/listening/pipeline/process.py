"""Process accepted posts: normalise → dedupe → match → classify → score → thread → route → store.

One transaction a batch.

The in-process runner calls `process_pending` in a loop; the Redis runner
calls `process_inbound` with the ids its stream delivered. Both mark the
inbound rows processed in the same transaction that stores the mentions,
so a batch is either wholly done or wholly to be done again; storing is
idempotent on (workspace, platform, external id).
"""

from __future__ import annotations

import datetime as dt
import time
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import InterfaceError, OperationalError, transaction
from django.db.models import Count, Max

from hubbub.accounts.models import Team
from hubbub.care import services as care
from hubbub.core import clock
from hubbub.core.events import publish
from hubbub.intelligence.interface import classify_batch
from hubbub.intelligence.types import Classification
from hubbub.listening.events import MentionsArrived
from hubbub.listening.matcher import Matcher, Post, PreparedPost
from hubbub.listening.models import InboundPost, Mention, Query, RoutingRule
from hubbub.listening.pipeline.dedupe import DedupeIndex, dedupe_batch
from hubbub.listening.pipeline.normalize import normalize_batch
from hubbub.listening.pipeline.route import Rule, choose_team, load_rules
from hubbub.listening.pipeline.score import CONTACT_WINDOW_HOURS, Priority, priority
from hubbub.listening.query import QueryError, parse
from hubbub.listening.text import tokenize
from hubbub.listening.types import DedupedPost, raw_post_from_json

BATCH = 500


@dataclass
class PipelineState:
    """What a runner keeps between batches: the dedupe window and built matchers."""

    dedupe: DedupeIndex = field(default_factory=DedupeIndex)
    matchers: dict[int, tuple[tuple[int, dt.datetime | None, int], Matcher]] = field(
        default_factory=dict
    )
    # query id → the team that owns it, for routing
    query_teams: dict[int, int | None] = field(default_factory=dict)
    rules: dict[int, tuple[tuple[int, dt.datetime | None], list[Rule]]] = field(
        default_factory=dict
    )
    # Seconds each stage took, batch by batch, when a benchmark asks for them.
    timings: dict[str, list[float]] | None = None

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        if self.timings is None:
            yield
            return
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings.setdefault(stage, []).append(time.perf_counter() - started)

    def rules_for(self, workspace_id: int) -> list[Rule]:
        """The workspace's routing rules, read again only when they changed."""
        stamp_row = RoutingRule.objects.filter(workspace_id=workspace_id).aggregate(
            count=Count("id"), changed=Max("updated_at")
        )
        stamp = (stamp_row["count"], stamp_row["changed"])
        cached = self.rules.get(workspace_id)
        if cached is None or cached[0] != stamp:
            cached = (stamp, load_rules(workspace_id))
            self.rules[workspace_id] = cached
        return cached[1]

    def matcher_for(self, workspace_id: int) -> Matcher:
        """The workspace's enabled queries, rebuilt only when they changed."""
        enabled = Query.objects.filter(workspace_id=workspace_id, enabled=True)
        stamp_row = enabled.aggregate(count=Count("id"), changed=Max("updated_at"))
        # Rebuilt when the queries change, and hourly for fresh word frequencies.
        stamp = (stamp_row["count"], stamp_row["changed"], int(time.time() // 3600))
        cached = self.matchers.get(workspace_id)
        if cached is None or cached[0] != stamp:
            compiled = []
            for query_id, expression, team_id in enabled.values_list(
                "id", "expression", "owner_team_id"
            ):
                self.query_teams[query_id] = team_id
                try:
                    compiled.append((query_id, parse(expression)))
                except QueryError:
                    continue  # saved before a rule tightened; the editor shows the error
            cached = (
                stamp,
                Matcher(compiled, word_frequencies=recent_word_frequencies(workspace_id)),
            )
            self.matchers[workspace_id] = cached
        return cached[1]


FREQUENCY_SAMPLE = 2000
MIN_FREQUENCY_SAMPLE = 100


def recent_word_frequencies(
    workspace_id: int, sample: int = FREQUENCY_SAMPLE
) -> Counter[str] | None:
    """In how many of the workspace's latest accepted posts each word occurs.

    The matcher indexes each query under its rarest required words, so that
    a post wakes as few queries as possible; "rare" is judged on what the
    sources actually deliver, matched or not.
    """
    texts = (
        InboundPost.objects.filter(workspace_id=workspace_id)
        .order_by("-id")
        .values_list("post__text", flat=True)[:sample]
    )
    frequencies: Counter[str] = Counter()
    seen = 0
    for text in texts:
        if isinstance(text, str):
            frequencies.update(set(tokenize(text[:2000])))
            seen += 1
    # Too few posts say little about rarity: then longer words count as rarer.
    return frequencies if seen >= MIN_FREQUENCY_SAMPLE else None


@dataclass(frozen=True, slots=True)
class Processed:
    inbound: int
    mentions: int
    # Asked-for ids that another worker holds locked right now: not done, not
    # to be acknowledged; the stream delivers them again.
    busy: frozenset[int] = frozenset()


def process_pending(*, state: PipelineState, limit: int = BATCH) -> Processed:
    """Process the oldest unprocessed posts (any workspace); dead ones wait for an operator."""
    with _forgetting_on_rollback(state), transaction.atomic():
        rows = list(
            InboundPost.objects.filter(processed_at__isnull=True, dead_at__isnull=True)
            .order_by("id")
            .select_for_update(skip_locked=True)
            .values_list("pk", "post")[:limit]
        )
        return _process(rows, state)


@contextmanager
def _forgetting_on_rollback(state: PipelineState) -> Iterator[None]:
    """Forget the dedupe window when the batch's transaction does not commit.

    The window saw the batch's posts; after a rollback (anywhere, the COMMIT
    itself included: foreign keys are checked there) the retry must not take
    them for repeats and drop them.
    """
    try:
        yield
    except BaseException:
        state.dedupe = DedupeIndex()
        raise


def process_inbound(*, ids: Sequence[int], state: PipelineState) -> Processed:
    """Process the given inbound posts; ones already processed (or gone) are skipped."""
    with _forgetting_on_rollback(state), transaction.atomic():
        rows = list(
            InboundPost.objects.filter(pk__in=ids, processed_at__isnull=True, dead_at__isnull=True)
            .order_by("id")
            .select_for_update(skip_locked=True)
            .values_list("pk", "post")
        )
        done = _process(rows, state)
        taken = {pk for pk, _ in rows}
        busy = frozenset(
            InboundPost.objects.filter(
                pk__in=[pk for pk in ids if pk not in taken],
                processed_at__isnull=True,
                dead_at__isnull=True,
            ).values_list("pk", flat=True)
        )
        return Processed(done.inbound, done.mentions, busy)


@dataclass(frozen=True, slots=True)
class Failure:
    inbound_id: int
    error: str


def process_each(*, ids: Sequence[int], state: PipelineState) -> tuple[Processed, list[Failure]]:
    """Process posts one transaction each, after their batch failed: the bad post
    fails alone and the rest go through. Database outages are raised, not
    blamed on a post."""
    inbound = mentions = 0
    busy: set[int] = set()
    failures: list[Failure] = []
    for inbound_id in ids:
        try:
            done = process_inbound(ids=[inbound_id], state=state)
        except (OperationalError, InterfaceError):
            raise
        except Exception as error:
            failures.append(Failure(inbound_id, f"{type(error).__name__}: {error}"[:2000]))
            continue
        inbound, mentions = inbound + done.inbound, mentions + done.mentions
        busy |= done.busy
    return Processed(inbound, mentions, frozenset(busy)), failures


def _process(rows: list[tuple[int, dict[str, Any]]], state: PipelineState) -> Processed:
    """`rows` are (inbound id, stored post) pairs, locked by the caller's transaction."""
    if not rows:
        return Processed(0, 0)
    with state.timed("normalize"):
        normalized = normalize_batch([raw_post_from_json(post) for _, post in rows])
    with state.timed("dedupe"):
        kept = dedupe_batch(normalized, state.dedupe)
    stored = _store(kept, state)
    with state.timed("mark_processed"):
        InboundPost.objects.filter(pk__in=[pk for pk, _ in rows]).update(processed_at=clock.now())
    return Processed(len(rows), stored)


def _store(kept: list[DedupedPost], state: PipelineState) -> int:
    with state.timed("match"):
        matched = _match(kept, state)
    if not matched:
        return 0
    with state.timed("classify"):
        labels = classify_batch([item.post.text for item, _ in matched])
    with state.timed("score_thread_route"):
        mentions = _score_thread_route(matched, labels, state)
    with state.timed("store"):
        return _write(matched, mentions)


def _match(kept: list[DedupedPost], state: PipelineState) -> list[tuple[DedupedPost, list[int]]]:
    matched: list[tuple[DedupedPost, list[int]]] = []
    # One freshness check per workspace per batch, not per post.
    matchers = {ws: state.matcher_for(ws) for ws in {item.post.raw.workspace_id for item in kept}}
    for item in kept:
        raw = item.post.raw
        queries = matchers[raw.workspace_id].match_prepared(
            PreparedPost.of(
                Post(
                    text=item.post.text,
                    lang=item.post.lang,
                    platform=raw.platform,
                    author=raw.author_handle,
                    is_reply=bool(raw.reply_to_external_id),
                    urls=item.post.urls,
                ),
                tokens=item.post.tokens or None,
            )
        )
        if queries:
            matched.append((item, queries))
    return matched


def _score_thread_route(
    matched: list[tuple[DedupedPost, list[int]]],
    labels: list[Classification],
    state: PipelineState,
) -> list[Mention]:
    copies = Counter(item.duplicate_of for item, _ in matched if item.duplicate_of)
    contacts = _earlier_contacts([item for item, _ in matched])
    roots = _thread_roots([item for item, _ in matched])
    rules = {ws: state.rules_for(ws) for ws in {item.post.raw.workspace_id for item, _ in matched}}
    mentions = []
    for (item, queries), label in zip(matched, labels, strict=True):
        raw = item.post.raw
        score = priority(
            label,
            followers=raw.author_followers,
            copies=copies[raw.external_id],
            earlier_contacts=contacts.get(_key(item), 0),
        )
        team_id = choose_team(
            rules[raw.workspace_id],
            query_ids=queries,
            platform=raw.platform,
            lang=item.post.lang,
            intent=label.intent,
            query_teams=state.query_teams,
        )
        mentions.append(_mention(item, label, score, team_id, roots.get(_key(item), "")))
    # A team deleted since the queries were read must not fail the batch's
    # COMMIT on its foreign key: such mentions go to no team.
    wanted = {mention.team_id for mention in mentions if mention.team_id is not None}
    if wanted:
        existing = set(Team.objects.filter(pk__in=wanted).values_list("pk", flat=True))
        for mention in mentions:
            if mention.team_id is not None and mention.team_id not in existing:
                mention.team_id = None
    return mentions


def _write(matched: list[tuple[DedupedPost, list[int]]], mentions: list[Mention]) -> int:
    Mention.objects.bulk_create(mentions, ignore_conflicts=True, batch_size=500)
    ids = _mention_ids([item for item, _ in matched])
    links = [
        Mention.queries.through(mention_id=ids[_key(item)], query_id=query_id)
        for item, queries in matched
        for query_id in queries
        if _key(item) in ids
    ]
    Mention.queries.through.objects.bulk_create(links, ignore_conflicts=True, batch_size=1000)
    _link_duplicates([item for item, _ in matched], ids)
    # Thread: the customer's new posts join their open conversation or open
    # one, in this same transaction, so a mention is never stored unfiled.
    care.thread_mentions(mention_ids=[ids[_key(item)] for item, _ in matched if _key(item) in ids])
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


# An author posting thousands of times in two days is a flood, not a customer: stop reading.
CONTACTS_READ = 20_000


def _earlier_contacts(items: list[DedupedPost]) -> dict[tuple[int, str, str], int]:
    """How many posts each author made in the window before this one (stored or earlier in
    the batch). Counted from the post's own time, so replayed history scores as it happened;
    keyed by post id, so a batch delivered twice does not count itself twice. One query per
    workspace, on the author index."""
    window = dt.timedelta(hours=CONTACT_WINDOW_HOURS)
    authors: dict[int, set[str]] = defaultdict(set)
    for item in items:
        if item.post.raw.author_handle:
            authors[item.post.raw.workspace_id].add(item.post.raw.author_handle)
    if not authors:
        return {}
    earliest = min(item.post.raw.posted_at for item in items) - window
    latest = max(item.post.raw.posted_at for item in items)
    posts: dict[tuple[int, str, str], dict[str, dt.datetime]] = defaultdict(dict)
    for workspace_id, handles in authors.items():
        for platform, handle, external_id, posted_at in Mention.objects.filter(
            workspace_id=workspace_id,
            author_handle__in=handles,
            posted_at__gte=earliest,
            posted_at__lte=latest,
        ).values_list("platform", "author_handle", "external_id", "posted_at")[:CONTACTS_READ]:
            posts[(workspace_id, platform, handle)][external_id] = posted_at
    for item in items:
        raw = item.post.raw
        if raw.author_handle:
            posts[(raw.workspace_id, raw.platform, raw.author_handle)][raw.external_id] = (
                raw.posted_at
            )
    times = {author: sorted(by_id.values()) for author, by_id in posts.items()}
    counts: dict[tuple[int, str, str], int] = {}
    for item in items:
        raw = item.post.raw
        if raw.author_handle:
            posted = times[(raw.workspace_id, raw.platform, raw.author_handle)]
            counts[_key(item)] = bisect_left(posted, raw.posted_at) - bisect_left(
                posted, raw.posted_at - window
            )
    return counts


def _thread_roots(items: list[DedupedPost]) -> dict[tuple[int, str, str], str]:
    """A reply joins its parent's thread: the parent's root, or the parent itself."""
    parents: dict[tuple[int, str, str], str] = {}
    wanted: dict[int, set[str]] = defaultdict(set)
    for item in items:
        raw = item.post.raw
        if raw.thread_root_external_id:
            parents[_key(item)] = raw.thread_root_external_id
        elif raw.reply_to_external_id:
            wanted[raw.workspace_id].add(raw.reply_to_external_id)
    known: dict[tuple[int, str, str], str] = {}
    for workspace_id, parent_ids in wanted.items():
        for platform, external_id, root in Mention.objects.filter(
            workspace_id=workspace_id, external_id__in=parent_ids
        ).values_list("platform", "external_id", "thread_root_external_id"):
            known[(workspace_id, platform, external_id)] = root or external_id
    # In post order, so a reply to a reply in the same batch finds its root too.
    roots_in_batch: dict[tuple[int, str, str], str] = {}
    for item in items:
        raw = item.post.raw
        if _key(item) not in parents and raw.reply_to_external_id:
            parent = (raw.workspace_id, raw.platform, raw.reply_to_external_id)
            parents[_key(item)] = roots_in_batch.get(parent) or known.get(parent) or parent[2]
        roots_in_batch[_key(item)] = parents.get(_key(item)) or raw.external_id
    return parents


def _mention(
    item: DedupedPost,
    label: Classification,
    score: Priority,
    team_id: int | None,
    thread_root: str,
) -> Mention:
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
        lang=post.lang,
        posted_at=raw.posted_at,
        reply_to_external_id=raw.reply_to_external_id[:255],
        thread_root_external_id=thread_root[:255],
        raw=raw.payload,
        normalized_text=post.normalized_text,
        content_hash=post.content_hash,
        # Stored signed: the database's BIGINT is signed, SimHash is 64 unsigned bits.
        simhash=post.simhash - (1 << 64) if post.simhash >= 1 << 63 else post.simhash,
        sentiment=label.sentiment,
        sentiment_confidence=label.sentiment_confidence,
        intent=label.intent,
        intent_confidence=label.intent_confidence,
        urgency=label.urgency,
        priority=score.score,
        priority_reasons=[reason.as_json() for reason in score.reasons],
        model_version=label.model_version,
        team_id=team_id,
    )
