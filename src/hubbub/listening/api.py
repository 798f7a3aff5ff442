"""REST endpoints for listening queries and routing rules."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router
from ninja.responses import Status as Reply

from hubbub.api.auth import api_user
from hubbub.listening import selectors, services
from hubbub.listening.models import Query, QueryKind, RoutingRule
from hubbub.listening.query import render
from hubbub.listening.schemas import (
    CheckIn,
    CheckOut,
    QueryIn,
    QueryOut,
    RoutingRuleIn,
    RoutingRuleMove,
    RoutingRuleOut,
    RoutingRulePatch,
)

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


def _rule(rule: RoutingRule) -> RoutingRuleOut:
    return RoutingRuleOut(
        id=rule.pk,
        position=rule.position,
        name=rule.name,
        team_id=rule.team_id,
        query_id=rule.query_id,
        platform=rule.platform,
        lang=rule.lang,
        intent=rule.intent,
        tag=rule.tag,
        enabled=rule.enabled,
        updated_at=rule.updated_at,
    )


@router.get(
    "/routing-rules",
    response=list[RoutingRuleOut],
    summary="Routing rules, in the order they are tried",
)
def list_routing_rules(request: HttpRequest) -> list[RoutingRuleOut]:
    return [_rule(r) for r in selectors.routing_rules(user=api_user(request))]


@router.post(
    "/routing-rules",
    response={201: RoutingRuleOut},
    summary="Add a routing rule, tried after the others (admins and leads)",
)
def create_routing_rule(request: HttpRequest, data: RoutingRuleIn) -> Reply[RoutingRuleOut]:
    rule = services.save_routing_rule(
        actor=api_user(request),
        name=data.name,
        team_id=data.team_id,
        query_id=data.query_id,
        platform=data.platform,
        lang=data.lang,
        intent=data.intent,
        tag=data.tag,
        enabled=data.enabled,
    )
    return Reply(201, _rule(rule))


@router.patch(
    "/routing-rules/{rule_id}", response=RoutingRuleOut, summary="Change some of a rule's fields"
)
def update_routing_rule(
    request: HttpRequest, rule_id: int, data: RoutingRulePatch
) -> RoutingRuleOut:
    user = api_user(request)
    rule = selectors.access_routing_rule(user=user, rule_id=rule_id)
    saved = services.save_routing_rule(
        actor=user,
        rule_id=rule.pk,
        name=rule.name if data.name is None else data.name,
        team_id=rule.team_id if data.team_id is None else data.team_id,
        # null clears the query condition; leaving the field out keeps it.
        query_id=data.query_id if "query_id" in data.model_fields_set else rule.query_id,
        platform=rule.platform if data.platform is None else data.platform,
        lang=rule.lang if data.lang is None else data.lang,
        intent=rule.intent if data.intent is None else data.intent,
        tag=rule.tag if data.tag is None else data.tag,
        enabled=rule.enabled if data.enabled is None else data.enabled,
    )
    return _rule(saved)


@router.post(
    "/routing-rules/{rule_id}/move",
    response=list[RoutingRuleOut],
    summary="Move a rule one place up or down; returns the rules in their new order",
)
def move_routing_rule(
    request: HttpRequest, rule_id: int, data: RoutingRuleMove
) -> list[RoutingRuleOut]:
    user = api_user(request)
    services.move_routing_rule(actor=user, rule_id=rule_id, direction=data.direction)
    return [_rule(r) for r in selectors.routing_rules(user=user)]


@router.delete("/routing-rules/{rule_id}", response={204: None})
def delete_routing_rule(request: HttpRequest, rule_id: int) -> Reply[None]:
    services.delete_routing_rule(actor=api_user(request), rule_id=rule_id)
    return Reply(204, None)
