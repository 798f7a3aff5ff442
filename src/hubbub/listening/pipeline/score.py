"""Score: how soon a care agent should look at a mention (0-100), and why.

  20 base
+ 25 × sentiment confidence, when negative
+ 20 complaint, 15 question (intent)
+ 30 × urgency (safety, legal, cancellation, outage words)
+ up to 15 for repeated contact: 5 per earlier post by the same author in 48 h
+ up to 15 for reach: 3 × log10(1 + followers)
+ up to 10 for spread: 2 per copy of the same post in the batch
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hubbub.intelligence.types import Classification

INTENT_POINTS = {"complaint": 20.0, "question": 15.0}
BASE = 20.0
CONTACT_WINDOW_HOURS = 48
URGENCY_LABELS = {
    "safety": "Safety words",
    "legal": "Legal threat",
    "cancellation": "Wants to cancel",
    "outage": "Outage words",
}


@dataclass(frozen=True, slots=True)
class Reason:
    """One contribution to the score, as the "why is this high?" list shows it."""

    factor: str  # negative | complaint | question | safety | … | influential author | spreading
    points: float
    label: str

    def as_json(self) -> dict[str, object]:
        return {"factor": self.factor, "points": self.points, "label": self.label}


@dataclass(frozen=True, slots=True)
class Priority:
    score: float
    reasons: tuple[Reason, ...]

    @property
    def factors(self) -> set[str]:
        return {reason.factor for reason in self.reasons}


def priority(
    classification: Classification,
    *,
    followers: int | None,
    copies: int,
    earlier_contacts: int = 0,
) -> Priority:
    """The score and its reasons. `earlier_contacts`: the author's other posts in the window."""
    reasons: list[Reason] = []
    if classification.sentiment == "negative":
        confidence = classification.sentiment_confidence
        reasons.append(Reason("negative", 25.0 * confidence, f"Negative ({confidence:.0%} sure)"))
    if classification.intent in INTENT_POINTS:
        reasons.append(
            Reason(
                classification.intent,
                INTENT_POINTS[classification.intent],
                classification.intent.capitalize(),
            )
        )
    if classification.urgency:
        # The urgency points are shared among the words that raised them.
        share = 30.0 * classification.urgency / max(1, len(classification.urgency_reasons))
        reasons.extend(
            Reason(word, share, URGENCY_LABELS.get(word, word.capitalize()))
            for word in classification.urgency_reasons
        )
    if earlier_contacts:
        reasons.append(
            Reason(
                "repeated contact",
                min(15.0, 5.0 * earlier_contacts),
                f"Repeated contact ({earlier_contacts} earlier post"
                f"{'s' if earlier_contacts > 1 else ''} in {CONTACT_WINDOW_HOURS} h)",
            )
        )
    if followers:
        reach = min(15.0, 3.0 * math.log10(1 + followers))
        if reach >= 9:  # about 1,000 followers and more
            reasons.append(
                Reason("influential author", reach, f"Influential author ({followers:,} followers)")
            )
        else:
            reasons.append(Reason("reach", reach, f"{followers:,} followers"))
    if copies:
        reasons.append(Reason("spreading", min(10.0, 2.0 * copies), f"Spreading ({copies} copies)"))
    score = BASE + sum(reason.points for reason in reasons)
    rounded = tuple(
        Reason(reason.factor, round(reason.points, 1), reason.label) for reason in reasons
    )
    return Priority(round(min(score, 100.0), 1), rounded)
