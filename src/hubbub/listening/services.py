"""Writes of the listening app: queries, and accepting what sources hand over."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import redis
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q

from hubbub.accounts import permissions
from hubbub.accounts import selectors as accounts
from hubbub.accounts.models import Team, User
from hubbub.core import clock
from hubbub.core.errors import Conflict, NotFound, ValidationFailed
from hubbub.core.events import publish
from hubbub.listening import selectors
from hubbub.listening.events import QueriesChanged
from hubbub.listening.models import (
    InboundPost,
    Query,
    QueryKind,
    RejectedItem,
    RoutingRule,
    Source,
    SourceKind,
    SourceStatus,
)
from hubbub.listening.pipeline.route import Intent
from hubbub.listening.query import Node, QueryError, parse
from hubbub.listening.types import RawPost, Rejection, raw_post_to_json

logger = logging.getLogger(__name__)


def check_expression(expression: str) -> Node:
    """Parse a query; raises ValidationFailed whose message points at the problem.

    The error's code is `query_invalid`; `details["position"]` is the 0-based
    character offset of the problem.
    """
    try:
        return parse(expression)
    except QueryError as error:
        raise ValidationFailed(
            error.message,
            code="query_invalid",
            field="expression",
            details={"position": error.position},
        ) from error


@transaction.atomic
def save_query(
    *,
    actor: User,
    name: str,
    kind: QueryKind,
    expression: str,
    enabled: bool = True,
    owner_team_id: int | None = None,
    query_id: int | None = None,
) -> Query:
    """Create a query (query_id None) or change one. Admins and team leads only."""
    permissions.check_can_manage_teams(actor)
    workspace_id = accounts.workspace_id_of(actor)
    name = name.strip()
    if not name or len(name) > 120:
        raise ValidationFailed("Name the query (up to 120 characters).", field="name")
    check_expression(expression)
    team: Team | None = None
    if owner_team_id is not None:
        team = Team.objects.filter(pk=owner_team_id, workspace_id=workspace_id).first()
        if team is None:
            raise NotFound("No such team.", code="team_not_found")
    query = (
        Query(workspace_id=workspace_id, created_by=actor)
        if query_id is None
        else selectors.access_query(user=actor, query_id=query_id)
    )
    query.name, query.kind, query.expression = name, kind, expression.strip()
    query.enabled, query.owner_team = enabled, team
    try:
        with transaction.atomic():
            query.save()
    except IntegrityError as error:
        raise Conflict(
            f"There is already a query called {name!r}.", code="query_exists", field="name"
        ) from error
    publish(QueriesChanged(query_id=query.pk), workspace_id=workspace_id)
    return query


@transaction.atomic
def delete_query(*, actor: User, query_id: int) -> None:
    permissions.check_can_manage_teams(actor)
    query = selectors.access_query(user=actor, query_id=query_id)
    query.delete()
    publish(QueriesChanged(query_id=query_id), workspace_id=accounts.workspace_id_of(actor))


@dataclass(frozen=True, slots=True)
class Accepted:
    new: int
    repeated: int


@transaction.atomic
def accept_posts(*, source_id: int, posts: Sequence[RawPost], cursor: str) -> Accepted:
    """Store a source's batch and its new cursor in one transaction.

    Once this returns, the posts are safe: a crash anywhere later resumes
    from the stored rows, and the source resumes from the stored cursor.
    Posts already accepted (at-least-once delivery) are counted, not stored again.
    """
    source = Source.objects.select_for_update().get(pk=source_id)
    unique: dict[tuple[str, str], RawPost] = {}
    for post in posts:
        if post.workspace_id != source.workspace_id:
            raise ValidationFailed("A post for another workspace reached this source.")
        unique.setdefault((post.platform, post.external_id), post)
    skewed = _correct_clock_skew(unique)
    if skewed:
        record_source_problems(
            source_id=source.pk,
            problems=[
                f"{skewed} post(s) dated more than {CLOCK_SKEW.seconds // 60} minutes in the "
                "future (the source's clock is off?); they were given the time they arrived."
            ],
        )
    known = set(
        InboundPost.objects.filter(
            # All three, so the unique index (workspace, platform, external_id) answers.
            workspace_id=source.workspace_id,
            platform__in={platform for platform, _ in unique},
            external_id__in=[external_id for _, external_id in unique],
        ).values_list("platform", "external_id")
    )
    rows = [
        InboundPost(
            workspace_id=source.workspace_id,
            source=source,
            platform=platform,
            external_id=external_id,
            post=raw_post_to_json(post),
        )
        for (platform, external_id), post in unique.items()
        if (platform, external_id) not in known
    ]
    # ignore_conflicts: another process may accept the same post at this moment.
    InboundPost.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    source.cursor = cursor
    source.accepted_count += len(rows)
    source.save(update_fields=["cursor", "accepted_count", "updated_at"])
    return Accepted(new=len(rows), repeated=len(posts) - len(rows))


CLOCK_SKEW = dt.timedelta(minutes=5)


def _correct_clock_skew(posts: dict[tuple[str, str], RawPost]) -> int:
    """Posts dated in the future take the time they arrived; returns how many did."""
    now = clock.now()
    skewed = [key for key, post in posts.items() if post.posted_at > now + CLOCK_SKEW]
    for key in skewed:
        posts[key] = dataclasses.replace(posts[key], posted_at=now)
    return len(skewed)


@transaction.atomic
def record_source_problems(*, source_id: int, problems: Sequence[str]) -> None:
    """Count bad input on a source and keep the latest message; the rest goes on."""
    source = Source.objects.select_for_update().get(pk=source_id)
    source.error_count += len(problems)
    source.last_error = problems[-1][:2000]
    source.last_error_at = clock.now()
    source.save(update_fields=["error_count", "last_error", "last_error_at", "updated_at"])


MAX_ATTEMPTS = 5


@transaction.atomic
def record_processing_failures(
    *, failures: Sequence[tuple[int, str]], max_attempts: int = MAX_ATTEMPTS
) -> list[int]:
    """Count a failed attempt on each (inbound id, error); return the ids that are now dead.

    A post that failed `max_attempts` times is set aside (`dead_at`) so that it
    stops holding up the rest; an operator replays it after a fix.
    """
    if not failures:
        return []
    errors = dict(failures)
    now = clock.now()
    rows = list(
        InboundPost.objects.select_for_update()
        .filter(pk__in=errors, processed_at__isnull=True, dead_at__isnull=True)
        .order_by("pk")  # the same lock order as the pipeline's: no deadlock between workers
        .only("pk", "attempts")
    )
    for row in rows:
        row.attempts = min(row.attempts + 1, 32_000)
        row.last_error = errors[row.pk]
        row.dead_at = now if row.attempts >= max_attempts else None
    InboundPost.objects.bulk_update(rows, ["attempts", "last_error", "dead_at"], batch_size=500)
    return [row.pk for row in rows if row.dead_at is not None]


@transaction.atomic
def revive_dead_posts(
    *, inbound_ids: Sequence[int] | None = None, workspace_id: int | None = None
) -> list[int]:
    """Give dead posts a fresh set of attempts; the runner takes them again.

    None for `inbound_ids` means every dead post (of the workspace, when given).
    With Redis, the listener re-adds them to the stream (enqueued_at is cleared).
    """
    dead = InboundPost.objects.select_for_update().filter(
        dead_at__isnull=False, processed_at__isnull=True
    )
    if inbound_ids is not None:
        dead = dead.filter(pk__in=inbound_ids)
    if workspace_id is not None:
        dead = dead.filter(workspace_id=workspace_id)
    ids = list(dead.values_list("pk", flat=True))
    InboundPost.objects.filter(pk__in=ids).update(
        dead_at=None, attempts=0, last_error="", enqueued_at=None
    )
    return ids


def replay_dead_posts(*, actor: User, inbound_ids: Sequence[int] | None = None) -> int:
    """Send the workspace's dead posts (all, or those given) back to the pipeline."""
    permissions.check_can_manage_teams(actor)
    revived = revive_dead_posts(
        inbound_ids=inbound_ids, workspace_id=accounts.workspace_id_of(actor)
    )
    if revived and settings.HUBBUB_REDIS_URL:
        from hubbub.listening import streams  # streams imports this module

        try:
            streams.forget_dead_letters(streams.connect(settings.HUBBUB_REDIS_URL), revived)
        except redis.RedisError:
            # The database is the record; a stale dead-letter entry only
            # shows in `hubbub deadletter list` until replayed from there.
            logger.warning("could not drop %d dead-letter entries from Redis", len(revived))
    return len(revived)


INBOUND_RETENTION = dt.timedelta(days=7)
PRUNE_BATCH = 5000


def prune_inbound(*, older_than: dt.timedelta = INBOUND_RETENTION) -> int:
    """Delete processed inbound posts older than the retention; returns how many went.

    Their mentions stay; what goes is the raw copy kept until processing. A
    source that delivers such an old post again has it accepted and
    processed again, and storing its mention is idempotent. Batched, so a
    big backlog does not hold one long transaction.
    """
    cutoff = clock.now() - older_than
    total = 0
    while True:
        ids = list(
            InboundPost.objects.filter(processed_at__lt=cutoff).values_list("pk", flat=True)[
                :PRUNE_BATCH
            ]
        )
        if not ids:
            return total
        total += InboundPost.objects.filter(pk__in=ids).delete()[0]


@transaction.atomic
def ensure_source(
    *, workspace_id: int, name: str, kind: SourceKind, settings: dict[str, object]
) -> Source:
    """The workspace's source of that name, created or with its settings replaced.

    Operators' way to set up a source from the command line (`hubbub replay`).
    """
    source, created = Source.objects.select_for_update().get_or_create(
        workspace_id=workspace_id, name=name, defaults={"kind": kind, "settings": settings}
    )
    if not created and (source.kind != kind or source.settings != settings):
        source.kind, source.settings = kind, settings
        source.save(update_fields=["kind", "settings", "updated_at"])
    return source


# --- the state of a followed source ----------------------------------------------

# Rejected items kept per source: enough to see what a platform is sending.
REJECTED_KEPT = 200


@transaction.atomic
def record_rejected_items(*, source_id: int, rejected: Sequence[Rejection]) -> None:
    """Keep what a source could not turn into posts, with the reason; the source goes on.

    Only the latest REJECTED_KEPT per source stay; the count keeps growing.
    """
    if not rejected:
        return
    source = Source.objects.select_for_update().only("pk", "workspace_id").get(pk=source_id)
    RejectedItem.objects.bulk_create(
        RejectedItem(
            workspace_id=source.workspace_id,
            source_id=source.pk,
            external_id=item.external_id[:255],
            reason=item.reason[:500],
            excerpt=item.excerpt[:1000],
        )
        for item in rejected[-REJECTED_KEPT:]
    )
    Source.objects.filter(pk=source_id).update(
        rejected_count=F("rejected_count") + len(rejected),
        last_error=f"Rejected: {rejected[-1].reason}"[:2000],
        last_error_at=clock.now(),
    )
    oldest_kept = (
        RejectedItem.objects.filter(source_id=source_id)
        .order_by("-id")
        .values_list("pk", flat=True)[REJECTED_KEPT - 1 : REJECTED_KEPT]
    )
    if oldest_kept:
        RejectedItem.objects.filter(source_id=source_id, pk__lt=oldest_kept[0]).delete()


def record_source_read(
    *,
    source_id: int,
    budget_remaining: int | None = None,
    budget_limit: int | None = None,
    budget_reset_at: dt.datetime | None = None,
) -> None:
    """A read from the platform worked: note when, and the rate-limit budget it reported.

    A source that was failing is active again.
    """
    changes: dict[str, object] = {"last_read_at": clock.now(), "rate_limited_until": None}
    if budget_remaining is not None:
        changes.update(
            rate_limit_remaining=budget_remaining,
            rate_limit_limit=budget_limit,
            rate_limit_reset_at=budget_reset_at,
        )
    Source.objects.filter(pk=source_id).update(**changes)
    Source.objects.filter(pk=source_id, status=SourceStatus.FAILING).update(
        status=SourceStatus.ACTIVE
    )


def record_source_failure(
    *, source_id: int, message: str, retry_at: dt.datetime | None, permanent: bool
) -> None:
    """A read failed. Transient: the source waits until `retry_at`. Permanent: it is marked
    failing, and stays so until a person changes its settings or resumes it."""
    changes: dict[str, object] = {
        "last_error": message[:2000],
        "last_error_at": clock.now(),
        "error_count": F("error_count") + 1,
        "rate_limited_until": retry_at,
    }
    Source.objects.filter(pk=source_id).update(**changes)
    if permanent:
        Source.objects.filter(pk=source_id).exclude(status=SourceStatus.PAUSED).update(
            status=SourceStatus.FAILING
        )


def take_source_lease(*, source_id: int, holder: str, duration: dt.timedelta | None = None) -> bool:
    """Take or renew the right to follow a source; False while another holder has it.

    One conditional UPDATE, so two listeners racing for a source cannot both win.
    """
    duration = duration or dt.timedelta(seconds=settings.HUBBUB_SOURCE_LEASE_SECONDS)
    now = clock.now()
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now) | Q(leased_by=holder)
    updated = Source.objects.filter(free, pk=source_id).update(
        leased_by=holder, lease_until=now + duration
    )
    return updated == 1


def release_source_lease(*, source_id: int, holder: str) -> None:
    Source.objects.filter(pk=source_id, leased_by=holder).update(leased_by="", lease_until=None)


# --- routing rules -------------------------------------------------------------

# A BCP 47 language tag as platforms report it: "en", "pt-BR", "zh-Hant-TW".
LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*")


@transaction.atomic
def save_routing_rule(
    *,
    actor: User,
    name: str,
    team_id: int,
    query_id: int | None = None,
    platform: str = "",
    lang: str = "",
    intent: str = "",
    tag: str = "",
    enabled: bool = True,
    rule_id: int | None = None,
) -> RoutingRule:
    """Create a routing rule, tried after all the others (rule_id None), or change one.

    Admins and team leads only. The team and the query must be the actor's
    workspace's (NotFound otherwise). An empty condition holds for anything;
    `platform` is a source kind, `lang` a language tag that also holds for
    its regional variants, `intent` one of triage's intents, `tag` a
    conversation tag (the rule then applies when an agent tags a conversation).
    """
    permissions.check_can_manage_teams(actor)
    workspace_id = accounts.workspace_id_of(actor)
    name, platform, lang, intent = name.strip(), platform.strip(), lang.strip(), intent.strip()
    if not name or len(name) > 120:
        raise ValidationFailed("Name the rule (up to 120 characters).", field="name")
    if platform and platform not in SourceKind.values:
        raise ValidationFailed(
            f"Unknown platform {platform[:40]!r}.", code="platform_unknown", field="platform"
        )
    if lang and (len(lang) > 16 or not LANGUAGE_TAG.fullmatch(lang)):
        raise ValidationFailed(
            "Give a language code such as en or en-GB.", code="lang_invalid", field="lang"
        )
    tag = " ".join(tag.split())
    if len(tag) > 40:
        raise ValidationFailed("A tag has up to 40 characters.", field="tag")
    if intent and intent not in {i.value for i in Intent}:
        raise ValidationFailed(
            f"Unknown intent {intent[:40]!r}.", code="intent_unknown", field="intent"
        )
    team = Team.objects.filter(pk=team_id, workspace_id=workspace_id).first()
    if team is None:
        raise NotFound("No such team.", code="team_not_found", field="team")
    query: Query | None = None
    if query_id is not None:
        query = Query.objects.filter(pk=query_id, workspace_id=workspace_id).first()
        if query is None:
            raise NotFound("No such query.", code="query_not_found", field="query")
    if rule_id is None:
        # Locking the workspace's rules makes two rules added at once take
        # different positions (where there were rules to lock).
        positions = RoutingRule.objects.select_for_update().filter(workspace_id=workspace_id)
        last = max(positions.values_list("position", flat=True), default=-1)
        rule = RoutingRule(workspace_id=workspace_id, position=last + 1)
    else:
        rule = selectors.access_routing_rule(user=actor, rule_id=rule_id)
    rule.name, rule.team, rule.query = name, team, query
    rule.platform, rule.lang, rule.intent, rule.enabled = platform, lang, intent, enabled
    rule.tag = tag
    rule.save()
    return rule


@transaction.atomic
def delete_routing_rule(*, actor: User, rule_id: int) -> None:
    """Delete a rule; the ones after it move up. Admins and team leads only."""
    permissions.check_can_manage_teams(actor)
    selectors.access_routing_rule(user=actor, rule_id=rule_id).delete()


@transaction.atomic
def move_routing_rule(
    *, actor: User, rule_id: int, direction: Literal["up", "down"]
) -> RoutingRule:
    """Swap a rule with the one above or below it; at either end nothing moves.

    Admins and team leads only. The workspace's rules are locked and numbered
    again from 0, so two moves at once never leave two rules on one position.
    """
    permissions.check_can_manage_teams(actor)
    if direction not in ("up", "down"):
        raise ValidationFailed("Move a rule up or down.", field="direction")
    rules = list(
        RoutingRule.objects.select_for_update()
        .filter(workspace_id=accounts.workspace_id_of(actor))
        .order_by("position", "id")
    )
    index = next((i for i, rule in enumerate(rules) if rule.pk == rule_id), None)
    if index is None:
        raise NotFound("No such routing rule.", code="routing_rule_not_found")
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(rules):
        rules[index], rules[other] = rules[other], rules[index]
    moved = []
    for position, rule in enumerate(rules):
        if rule.position != position:
            rule.position = position
            moved.append(rule)
    RoutingRule.objects.bulk_update(moved, ["position"])
    return next(rule for rule in rules if rule.pk == rule_id)
