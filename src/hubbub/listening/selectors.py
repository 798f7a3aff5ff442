"""Reads of the listening app, scoped to what the reader may see."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from hubbub.accounts import selectors as accounts
from hubbub.accounts.models import Role, User
from hubbub.core.errors import NotFound
from hubbub.listening.matcher import Matcher, Post
from hubbub.listening.models import InboundPost, Mention, Query
from hubbub.listening.query import Node


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
    entry_id: str = ""  # its entry in the dead-letter stream, with Redis
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
        ).values_list("pk", "last_error", "dead_at", "platform", "external_id", "attempts")[
            :limit
        ]
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
    return (
        mentions.prefetch_related("queries")
        .annotate(duplicate_count=Count("duplicates"))
        .order_by("-posted_at", "-id")[:limit]
    )
