from __future__ import annotations

import datetime as dt
from typing import Literal

from ninja import Schema
from pydantic import Field

from hubbub.listening.models import QueryKind, SourceKind
from hubbub.listening.pipeline.route import Intent
from hubbub.listening.query import MAX_QUERY_LENGTH


class QueryIn(Schema):
    name: str = Field(max_length=120)
    kind: QueryKind = QueryKind.BRAND
    expression: str = Field(max_length=MAX_QUERY_LENGTH + 1)
    enabled: bool = True
    owner_team_id: int | None = None


class QueryOut(Schema):
    id: int
    name: str
    kind: QueryKind
    expression: str
    enabled: bool
    owner_team_id: int | None
    updated_at: dt.datetime


class CheckIn(Schema):
    expression: str = Field(max_length=MAX_QUERY_LENGTH + 1)


class CheckOut(Schema):
    canonical: str
    preview_scanned: int
    preview_matches: int


class RoutingRuleIn(Schema):
    """A routing rule; an empty condition ("" or null) holds for any mention."""

    name: str = Field(max_length=120)
    team_id: int
    query_id: int | None = None
    platform: SourceKind | Literal[""] = ""
    lang: str = Field(default="", max_length=16, description='"en" also fits "en-GB"')
    intent: Intent | Literal[""] = ""
    tag: str = Field(
        default="", max_length=40, description="applies when a conversation is tagged so"
    )
    enabled: bool = True


class RoutingRulePatch(Schema):
    """The fields to change; the others keep their values."""

    name: str | None = Field(default=None, max_length=120)
    team_id: int | None = None
    query_id: int | None = None
    platform: SourceKind | Literal[""] | None = None
    lang: str | None = Field(default=None, max_length=16)
    intent: Intent | Literal[""] | None = None
    tag: str | None = Field(default=None, max_length=40)
    enabled: bool | None = None


class RoutingRuleMove(Schema):
    direction: Literal["up", "down"]


class RoutingRuleOut(Schema):
    id: int
    position: int  # rules are tried in ascending position
    name: str
    team_id: int
    query_id: int | None
    platform: str
    lang: str
    intent: str
    tag: str
    enabled: bool
    updated_at: dt.datetime
