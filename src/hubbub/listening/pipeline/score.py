"""Score: how soon a care agent should look at a mention (0-100), and why.

  20 base
+ 25 × sentiment confidence, when negative
+ 20 complaint, 15 question (intent)
+ 30 × urgency (safety, legal, cancellation, outage words)
+ up to 15 for reach: 3 × log10(1 + followers)
+ up to 10 for spread: 2 per copy of the same post in the batch
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hubbub.intelligence.types import Classification

INTENT_POINTS = {"complaint": 20.0, "question": 15.0}


@dataclass(frozen=True, slots=True)
class Priority:
    score: float
    reasons: tuple[str, ...]


def priority(classification: Classification, *, followers: int | None, copies: int) -> Priority:
    score, reasons = 20.0, []
    if classification.sentiment == "negative":
        score += 25.0 * classification.sentiment_confidence
        reasons.append("negative")
    if classification.intent in INTENT_POINTS:
        score += INTENT_POINTS[classification.intent]
        reasons.append(classification.intent)
    if classification.urgency:
        score += 30.0 * classification.urgency
        reasons.extend(classification.urgency_reasons)
    if followers:
        reach = min(15.0, 3.0 * math.log10(1 + followers))
        score += reach
        if reach >= 9:  # about 1,000 followers and more
            reasons.append("influential author")
    if copies:
        score += min(10.0, 2.0 * copies)
        reasons.append("spreading")
    return Priority(round(min(score, 100.0), 1), tuple(reasons))
