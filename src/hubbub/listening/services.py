"""Writes of the listening app: queries, and accepting what sources hand over."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Q

from hubbub.accounts import permissions
from hubbub.accounts import selectors as accounts
from hubbub.accounts.models import Team, User
from hubbub.core import clock
from hubbub.core.errors import Conflict, NotFound, ValidationFailed
from hubbub.core.events import publish
from hubbub.listening import selectors
from hubbub.listening.events import QueriesChanged
from hubbub.listening.models import InboundPost, Query, QueryKind, Source, SourceKind
from hubbub.listening.query import Node, QueryError, parse
from hubbub.listening.types import RawPost, raw_post_to_json


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
    known = set(
        InboundPost.objects.filter(
            workspace_id=source.workspace_id,
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


SOURCE_LEASE = dt.timedelta(seconds=60)


def take_source_lease(
    *, source_id: int, holder: str, duration: dt.timedelta = SOURCE_LEASE
) -> bool:
    """Take or renew the right to follow a source; False while another holder has it.

    One conditional UPDATE, so two listeners racing for a source cannot both win.
    """
    now = clock.now()
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now) | Q(leased_by=holder)
    updated = Source.objects.filter(free, pk=source_id).update(
        leased_by=holder, lease_until=now + duration
    )
    return updated == 1


def release_source_lease(*, source_id: int, holder: str) -> None:
    Source.objects.filter(pk=source_id, leased_by=holder).update(leased_by="", lease_until=None)
