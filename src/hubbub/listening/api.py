"""REST endpoints for listening queries."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router
from ninja.responses import Status as Reply

from hubbub.api.auth import api_user
from hubbub.listening import selectors, services
from hubbub.listening.models import Query, QueryKind
from hubbub.listening.query import render
from hubbub.listening.schemas import CheckIn, CheckOut, QueryIn, QueryOut

router = Router(tags=["listening"])


def _query(query: Query) -> QueryOut:
    return QueryOut(
        id=query.pk,
        name=query.name,
        kind=QueryKind(query.kind),
        expression=query.expression,
        enabled=query.enabled,
        owner_team_id=query.owner_team_id,
        updated_at=query.updated_at,
    )


@router.get("/queries", response=list[QueryOut], summary="Listening queries you may see")
def list_queries(request: HttpRequest) -> list[QueryOut]:
    return [_query(q) for q in selectors.visible_queries(user=api_user(request))]


@router.post(
    "/queries/check", response=CheckOut, summary="Validate a query; errors carry details.position"
)
def check_query(request: HttpRequest, data: CheckIn) -> CheckOut:
    node = services.check_expression(data.expression)
    preview = selectors.preview_matches(user=api_user(request), query=node)
    return CheckOut(
        canonical=render(node), preview_scanned=preview.scanned, preview_matches=preview.match_count
    )


@router.get("/queries/{query_id}", response=QueryOut)
def get_query(request: HttpRequest, query_id: int) -> QueryOut:
    return _query(selectors.access_query(user=api_user(request), query_id=query_id))


def _save(request: HttpRequest, data: QueryIn, query_id: int | None = None) -> QueryOut:
    query = services.save_query(
        actor=api_user(request),
        name=data.name,
        kind=data.kind,
        expression=data.expression,
        enabled=data.enabled,
        owner_team_id=data.owner_team_id,
        query_id=query_id,
    )
    return _query(query)


@router.post("/queries", response={201: QueryOut}, summary="Create a query (admins and leads)")
def create_query(request: HttpRequest, data: QueryIn) -> Reply[QueryOut]:
    return Reply(201, _save(request, data))


@router.put("/queries/{query_id}", response=QueryOut, summary="Change a query")
def update_query(request: HttpRequest, query_id: int, data: QueryIn) -> QueryOut:
    return _save(request, data, query_id)


@router.delete("/queries/{query_id}", response={204: None})
def delete_query(request: HttpRequest, query_id: int) -> Reply[None]:
    services.delete_query(actor=api_user(request), query_id=query_id)
    return Reply(204, None)
