from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Audience:
    """Who is listening: what events one person may receive."""

    workspace_id: int
    user_id: int
    # None means every team of the workspace (admins, leads, read-only).
    team_ids: frozenset[int] | None


@dataclass(frozen=True, slots=True)
class StreamEvent:
    id: int
    kind: str
    payload: dict[str, Any]
