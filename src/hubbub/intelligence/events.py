from __future__ import annotations

from dataclasses import dataclass

from hubbub.core.events import Event


@dataclass(frozen=True, slots=True, kw_only=True)
class LabelCorrected(Event):
    """An agent corrected a mention's sentiment or intent; its priority was recomputed.

    Lists that show the mention's labels or priority (Listening, the inbox) refresh.
    """

    kind = "label_corrected"
    mention_id: int
    task: str
    label: str
    priority: float | None
