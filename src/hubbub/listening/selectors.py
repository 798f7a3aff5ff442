"""Reads of the listening app, scoped to what the reader may see."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import redis
from django.conf import settings
from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from hubbub.accounts import selectors as accounts
from hubbub.accounts.models import Role, User
from hubbub.core import clock
from hubbub.core.errors import NotFound
from hubbub.listening import search
from hubbub.listening.matcher import Matcher, Post
from hubbub.listening.models import InboundPost, Mention, Query, RejectedItem, RoutingRule, Source
from hubbub.listening.query import Node

if TYPE_CHECKING:
    from hubbub.listening.streams import StreamStatus  # streams imports services, then this


def visible_queries(*, user: User) -> QuerySet[Query]:
    """Leads, admins and read-only people see every query; others those of their teams."""
    queries = Query.objects.filter(workspace_id=accounts.workspace_id_of(user)).select_related(
        "owner_team"
    )
    if not Role(user.role).sees_every_team:
        queries = queries.filter(
            Q(owner_team__isnull=True) | Q(owner_team_id__in=accounts.own_team_ids(user))
        )
    return queries


def access_query(*, user: User, query_id: int) -> Query:
    try:
        return visible_queries(user=user).get(pk=query_id)
    except Query.DoesNotExist as error:
        raise NotFound("No such query.", code="query_not_found") from error


@dataclass(frozen=True, slots=True)
class DeadPost:
    """A post the pipeline gave up on, as `hubbub deadletter` and the settings page list it."""

    inbound_id: int
    error: str
    dead_at: str
    platform: str = ""
    external_id: str = ""
    attempts: int = 0


def dead_posts(*, limit: int = 100, workspace_id: int | None = None) -> list[DeadPost]:
    """Posts set aside after their last allowed failure, oldest first."""
    rows = InboundPost.objects.filter(dead_at__isnull=False, processed_at__isnull=True)
    if workspace_id is not None:
        rows = rows.filter(workspace_id=workspace_id)
    return [
        DeadPost(
            inbound_id=pk,
            error=error,
            dead_at=dead_at.isoformat() if dead_at else "",
            platform=platform,
            external_id=external_id,
            attempts=attempts,
        )
        for pk, error, dead_at, platform, external_id, attempts in rows.order_by(
            "dead_at", "pk"
        ).values_list("pk", "last_error", "dead_at", "platform", "external_id", "attempts")[:limit]
    ]


@dataclass(frozen=True, slots=True)
class PipelineHealth:
    waiting: int  # accepted, not processed, not dead
    dead: int
    oldest_waiting_at: dt.datetime | None


def pipeline_health(*, workspace_id: int) -> PipelineHealth:
    waiting = InboundPost.objects.filter(
        workspace_id=workspace_id, processed_at__isnull=True, dead_at__isnull=True
    )
    return PipelineHealth(
        waiting=waiting.count(),
        dead=InboundPost.objects.filter(
            workspace_id=workspace_id, processed_at__isnull=True, dead_at__isnull=False
        ).count(),
        oldest_waiting_at=waiting.order_by("pk").values_list("accepted_at", flat=True).first(),
    )


@dataclass(frozen=True, slots=True)
class PipelineOverview:
    runner: str  # "embedded" or "redis"
    health: PipelineHealth
    dead: list[DeadPost]
    stream: StreamStatus | None  # with Redis, when it answered
    stream_error: str


def pipeline_overview(*, user: User) -> PipelineOverview:
    """What the pipeline settings page shows: the workspace's backlog and dead posts."""
    workspace_id = accounts.workspace_id_of(user)
    stream, error = None, ""
    if settings.HUBBUB_REDIS_URL:
        from hubbub.listening import streams

        try:
            stream = streams.stream_status(streams.connect(settings.HUBBUB_REDIS_URL))
        except redis.RedisError as problem:
            error = f"Redis did not answer: {problem}"
    return PipelineOverview(
        runner="redis" if settings.HUBBUB_REDIS_URL else "embedded",
        health=pipeline_health(workspace_id=workspace_id),
        dead=dead_posts(workspace_id=workspace_id, limit=200),
        stream=stream,
        stream_error=error,
    )


def mention_facets(*, user: User) -> dict[str, list[str]]:
    """The values the Listening filters offer: what the reader's mentions actually have."""
    mentions = visible_mentions(user=user)
    return {
        name: sorted(v for v in mentions.values_list(name, flat=True).distinct() if v)
        for name in ("platform", "lang", "sentiment", "intent")
    }


def visible_mentions(*, user: User) -> QuerySet[Mention]:
    mentions = Mention.objects.filter(workspace_id=accounts.workspace_id_of(user))
    if not Role(user.role).sees_every_team:
        mentions = mentions.filter(
            Q(team__isnull=True) | Q(team_id__in=accounts.own_team_ids(user))
        )
    return mentions


def access_mention(*, user: User, mention_id: int) -> Mention:
    """A mention the reader may see; NotFound for the rest, as for one that does not exist."""
    try:
        return visible_mentions(user=user).get(pk=mention_id)
    except Mention.DoesNotExist as error:
        raise NotFound("No such mention.", code="mention_not_found") from error


@dataclass(frozen=True, slots=True)
class Preview:
    scanned: int
    matched: list[Mention]
    match_count: int


def preview_matches(*, user: User, query: Node, scan: int = 2000, show: int = 10) -> Preview:
    """What a query would match among the newest stored mentions the reader may see."""
    matcher = Matcher([(0, query)])
    recent = list(
        visible_mentions(user=user)
        .only(
            "id",
            "text",
            "lang",
            "platform",
            "author_handle",
            "reply_to_external_id",
            "url",
            "posted_at",
        )
        .order_by("-posted_at", "-id")[:scan]
    )
    matched = [
        mention
        for mention in recent
        if matcher.match(
            Post(
                text=mention.text,
                lang=mention.lang,
                platform=mention.platform,
                author=mention.author_handle,
                is_reply=bool(mention.reply_to_external_id),
            )
        )
    ]
    return Preview(scanned=len(recent), matched=matched[:show], match_count=len(matched))


@dataclass(frozen=True, slots=True)
class MentionFilters:
    query_id: int | None = None
    platform: str = ""
    lang: str = ""
    sentiment: str = ""
    intent: str = ""
    q: str = ""  # full-text search over text and author handle (see search.py)
    since: dt.datetime | None = None  # posted at or after


def recent_mentions(
    *, user: User, filters: MentionFilters | None = None, limit: int = 50
) -> QuerySet[Mention]:
    """The newest mentions the reader may see, filtered, with what the list shows loaded."""
    mentions = visible_mentions(user=user)
    if filters is not None:
        if filters.query_id is not None:
            mentions = mentions.filter(queries=filters.query_id)
        exact = {
            "platform": filters.platform,
            "lang": filters.lang,
            "sentiment": filters.sentiment,
            "intent": filters.intent,
        }
        mentions = mentions.filter(**{name: value for name, value in exact.items() if value})
        if filters.since is not None:
            mentions = mentions.filter(posted_at__gte=filters.since)
        if filters.q.strip():
            mentions = search.search_mentions(mentions, filters.q)
    return (
        # Only the queries the reader may see are named on a mention.
        mentions.prefetch_related(Prefetch("queries", queryset=visible_queries(user=user)))
        .annotate(duplicate_count=Count("duplicates"))
        .order_by("-posted_at", "-id")[:limit]
    )


@dataclass(frozen=True, slots=True)
class PriorityReason:
    label: str
    points: float


@dataclass(frozen=True, slots=True)
class MentionDetail:
    """One mention and what surrounds it, as the reader may see it."""

    mention: Mention
    link: str  # the original post, only when it is an http(s) address
    queries: list[Query]
    reasons: list[PriorityReason]  # largest contribution first
    original: Mention | None  # the mention this one copies
    copies: list[Mention]  # oldest first, at most `copy_limit`
    copy_count: int
    thread: list[Mention]  # oldest first, the root included when stored
    thread_has_more: bool
    root_stored: bool


def mention_detail(
    *, user: User, mention_id: int, thread_limit: int = 200, copy_limit: int = 50
) -> MentionDetail:
    """A mention with its queries, priority reasons, copies and thread.

    Raises NotFound for a mention the reader may not see, in another
    workspace or routed to another team, as for one that does not exist.
    Copies and thread posts are limited to what the reader may see too.
    """
    visible = visible_mentions(user=user)
    try:
        mention = visible.get(pk=mention_id)
    except Mention.DoesNotExist as error:
        raise NotFound("No such mention.", code="mention_not_found") from error
    listed = ("id", "platform", "external_id", "author_handle", "author_name", "text", "posted_at")
    original = (
        visible.filter(pk=mention.duplicate_of_id).only(*listed).first()
        if mention.duplicate_of_id
        else None
    )
    copies = visible.filter(duplicate_of=mention)
    root = mention.thread_root_external_id or mention.external_id
    thread = list(
        visible.filter(platform=mention.platform)
        .filter(Q(thread_root_external_id=root) | Q(external_id=root))
        .only(*listed, "reply_to_external_id")
        .order_by("posted_at", "id")[: thread_limit + 1]
    )
    return MentionDetail(
        mention=mention,
        # Stored URLs come from the platforms: never render a javascript: link.
        link=mention.url if mention.url.lower().startswith(("https://", "http://")) else "",
        queries=list(visible_queries(user=user).filter(mentions=mention).order_by("name")),
        reasons=priority_reasons(mention),
        original=original,
        copies=list(copies.only(*listed).order_by("posted_at", "id")[:copy_limit]),
        copy_count=copies.count(),
        thread=thread[:thread_limit],
        thread_has_more=len(thread) > thread_limit,
        root_stored=any(post.external_id == root for post in thread),
    )


def priority_reasons(mention: Mention) -> list[PriorityReason]:
    """Why the mention ranks where it does, largest contribution first.

    The stored reasons, skipping malformed entries (old rows may have none).
    """
    return reasons_from(mention.priority_reasons)


def reasons_from(stored: object) -> list[PriorityReason]:
    """Stored reasons ([{"factor", "points", "label"}]) as the page shows them, largest first."""
    if not isinstance(stored, list):
        return []
    reasons = []
    for entry in stored:
        if not isinstance(entry, dict):
            continue
        points = entry.get("points")
        if not isinstance(points, int | float) or isinstance(points, bool):
            continue
        label = str(entry.get("label") or entry.get("factor") or "").strip()
        if label:
            reasons.append(PriorityReason(label=label, points=float(points)))
    return sorted(reasons, key=lambda reason: -abs(reason.points))


def routing_rules(*, user: User) -> QuerySet[RoutingRule]:
    """The workspace's routing rules in the order they are tried; everyone may read them."""
    return (
        RoutingRule.objects.filter(workspace_id=accounts.workspace_id_of(user))
        .select_related("team", "query")
        .order_by("position", "id")
    )


def access_routing_rule(*, user: User, rule_id: int) -> RoutingRule:
    try:
        return routing_rules(user=user).get(pk=rule_id)
    except RoutingRule.DoesNotExist as error:
        raise NotFound("No such routing rule.", code="routing_rule_not_found") from error


# --- sources ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SourceRow:
    source: Source
    items_today: int


def workspace_sources(*, user: User) -> list[SourceRow]:
    """The workspace's sources with what each accepted since midnight (two queries)."""
    workspace_id = accounts.workspace_id_of(user)
    sources = list(Source.objects.filter(workspace_id=workspace_id).order_by("name"))
    today = dict(
        InboundPost.objects.filter(
            source_id__in=[source.pk for source in sources], accepted_at__gte=_midnight()
        )
        .values("source_id")
        .annotate(count=Count("id"))
        .values_list("source_id", "count")
    )
    return [SourceRow(source, today.get(source.pk, 0)) for source in sources]


def access_source(*, user: User, source_id: int) -> Source:
    try:
        return Source.objects.get(pk=source_id, workspace_id=accounts.workspace_id_of(user))
    except Source.DoesNotExist as error:
        raise NotFound("No such source.", code="source_not_found") from error


def source_items_today(source: Source) -> int:
    return InboundPost.objects.filter(source=source, accepted_at__gte=_midnight()).count()


def latest_rejected(source: Source, *, limit: int = 50) -> list[RejectedItem]:
    return list(RejectedItem.objects.filter(source=source).order_by("-id")[:limit])


def _midnight() -> dt.datetime:
    return timezone.localtime(clock.now()).replace(hour=0, minute=0, second=0, microsecond=0)
