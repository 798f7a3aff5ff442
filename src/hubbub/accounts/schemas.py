from __future__ import annotations

import datetime as dt

from ninja import Schema
from pydantic import Field

from hubbub.accounts.models import Role, Status, TeamKind


class WorkspaceOut(Schema):
    id: int
    name: str
    slug: str


class ProfileOut(Schema):
    display_name: str
    avatar_url: str | None
    signature: str
    sender_address: str
    time_zone: str
    languages: list[str]
    status: Status


class TeamRef(Schema):
    id: int
    name: str
    kind: TeamKind


class MeOut(Schema):
    id: int
    email: str
    role: Role
    workspace: WorkspaceOut
    profile: ProfileOut
    teams: list[TeamRef]


class MemberOut(Schema):
    id: int
    email: str
    role: Role
    is_active: bool
    display_name: str
    avatar_url: str | None
    status: Status
    team_ids: list[int]


class TeamOut(Schema):
    id: int
    name: str
    kind: TeamKind
    description: str
    member_ids: list[int]


class ProfileIn(Schema):
    display_name: str | None = Field(default=None, max_length=80)
    signature: str | None = Field(default=None, max_length=500)
    sender_address: str | None = Field(default=None, max_length=254)
    time_zone: str | None = Field(default=None, max_length=64)
    languages: list[str] | None = Field(default=None, max_length=12)


class StatusIn(Schema):
    status: Status


class TeamIn(Schema):
    name: str = Field(max_length=80)
    kind: TeamKind = TeamKind.TEAM
    description: str = Field(default="", max_length=240)


class TeamMembersIn(Schema):
    member_ids: list[int] = Field(max_length=1000)


class InvitationIn(Schema):
    email: str = Field(max_length=254)
    role: Role = Role.AGENT
    team_ids: list[int] = Field(default_factory=list, max_length=100)


class InvitationOut(Schema):
    id: int
    email: str
    role: Role
    expires_at: dt.datetime


class TokenIn(Schema):
    name: str = Field(max_length=80)
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    expires_at: dt.datetime | None


class NewTokenOut(TokenOut):
    token: str = Field(description="The token itself. Shown only in this response.")
