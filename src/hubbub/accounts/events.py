from __future__ import annotations

from dataclasses import dataclass

from hubbub.core.events import Event


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentStatusChanged(Event):
    kind = "agent_status_changed"
    user_id: int
    display_name: str
    status: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberJoined(Event):
    kind = "member_joined"
    user_id: int
    display_name: str
    invited_by_id: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class TeamChanged(Event):
    kind = "team_changed"
    team_id: int
    name: str
