"""A corrected mention's priority, recomputed so that "Why is this high?" stays true.

The score is recomputed with the pipeline's own `score.priority`, from the
mention's labels as they now stand. What the mention's columns do not hold
is read back from the reasons the pipeline stored when it scored the post:
the urgency words, the copies it counted and the author's earlier posts.
So a correction changes what the labels contribute and nothing else: the
spread and repeated-contact lines stay as the pipeline saw them, like every
other mention's in the queue (the pipeline counts the copies in the batch
that brought the post and never re-scores a mention later).

The reasons a corrected label produces say so: "Complaint (corrected by Dana)".
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from hubbub.intelligence.models import Task
from hubbub.intelligence.types import Classification
from hubbub.listening.models import Mention
from hubbub.listening.pipeline import score
from hubbub.listening.pipeline.score import Priority, Reason

# The reasons each label produces, so an agent's label can be credited.
TASK_FACTORS: dict[str, frozenset[str]] = {
    Task.SENTIMENT: frozenset({"negative"}),
    Task.INTENT: frozenset(score.INTENT_POINTS),
}
# Points per unit in score.priority, for reading a count back when a stored
# label carries no number (the label's number wins: the points are capped).
SPREAD_POINTS_PER_COPY = 2.0
CONTACT_POINTS_PER_POST = 5.0
_NUMBER = re.compile(r"\d[\d,]*")


def rescore(mention: Mention, *, corrected_by: Mapping[str, str]) -> Priority:
    """The mention's priority from its current labels and its stored reasons.

    `corrected_by` maps each task whose label in force is an agent's to that
    agent's name; the reasons that label produces are credited to them.
    """
    stored = _stored_reasons(mention.priority_reasons)
    classification = Classification(
        sentiment=mention.sentiment,
        sentiment_confidence=mention.sentiment_confidence or 0.0,
        intent=mention.intent,
        intent_confidence=mention.intent_confidence or 0.0,
        urgency=mention.urgency or 0.0,
        urgency_reasons=tuple(factor for factor in stored if factor in score.URGENCY_LABELS),
        model_version=mention.model_version,
    )
    result = score.priority(
        classification,
        followers=mention.author_followers,
        copies=_count(stored.get("spreading"), SPREAD_POINTS_PER_COPY),
        earlier_contacts=_count(stored.get("repeated contact"), CONTACT_POINTS_PER_POST),
    )
    return Priority(result.score, tuple(_credited(r, corrected_by) for r in result.reasons))


def _stored_reasons(stored: object) -> dict[str, dict[str, object]]:
    """The stored reasons by factor, in their order; malformed entries are skipped."""
    if not isinstance(stored, list):
        return {}
    return {
        str(entry["factor"]): entry
        for entry in stored
        if isinstance(entry, dict) and isinstance(entry.get("factor"), str)
    }


def _count(reason: dict[str, object] | None, points_per_unit: float) -> int:
    """The count a stored reason was computed from: the number in its label, else its points."""
    if reason is None:
        return 0
    number = _NUMBER.search(str(reason.get("label", "")))
    if number:
        return int(number.group().replace(",", ""))
    points = reason.get("points")
    if isinstance(points, int | float) and not isinstance(points, bool):
        return max(0, round(points / points_per_unit))
    return 0


def _credited(reason: Reason, corrected_by: Mapping[str, str]) -> Reason:
    for task, name in corrected_by.items():
        if reason.factor in TASK_FACTORS.get(task, frozenset()):
            label = f"{reason.factor.capitalize()} (corrected by {name})"
            return Reason(reason.factor, reason.points, label)
    return reason
