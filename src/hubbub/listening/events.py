from __future__ import annotations

from dataclasses import dataclass

from hubbub.core.events import Event


@dataclass(frozen=True, slots=True, kw_only=True)
class QueriesChanged(Event):
    """A query was created, changed, enabled, disabled or deleted: matchers rebuild."""

    kind = "queries_changed"
    query_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class MentionsArrived(Event):
    """New matched mentions were stored (the first 200 ids of the batch)."""

    kind = "mentions_arrived"
    mention_ids: list[int]
    count: int
