"""Writes of the listening app: queries (sources and mentions come with the pipeline)."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from hubbub.accounts import permissions
from hubbub.accounts import selectors as accounts
from hubbub.accounts.models import Team, User
from hubbub.core.errors import Conflict, NotFound, ValidationFailed
from hubbub.core.events import publish
from hubbub.listening import selectors
from hubbub.listening.events import QueriesChanged
from hubbub.listening.models import Query, QueryKind
from hubbub.listening.query import Node, QueryError, parse


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
