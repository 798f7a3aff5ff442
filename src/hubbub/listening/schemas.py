from __future__ import annotations

import datetime as dt

from ninja import Schema
from pydantic import Field

from hubbub.listening.models import QueryKind
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
