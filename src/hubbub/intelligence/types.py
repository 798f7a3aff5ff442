from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Classification:
    """What triage says about one post. Confidences are 0..1."""

    sentiment: str  # negative | neutral | positive
    sentiment_confidence: float
    intent: str  # complaint | question | praise | feedback | other
    intent_confidence: float
    urgency: float  # 0..1: safety, legal, cancellation, outage words
    urgency_reasons: tuple[str, ...]
    model_version: str
