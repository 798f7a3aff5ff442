"""Mentions labelled and scored the way the pipeline does it, for the correction tests."""

from __future__ import annotations

from typing import Any

from hubbub.intelligence.types import Classification
from hubbub.listening.models import Mention
from hubbub.listening.pipeline.score import priority
from hubbub.listening.tests.factories import MentionFactory

MODEL_VERSION = "sentiment-linear-1+intent-stacked-1+fasttext-lid176-ftz+clean-1+lexicon-baseline-1"


def scored_mention(
    *,
    sentiment: tuple[str, float] = ("negative", 0.8),
    intent: tuple[str, float] = ("complaint", 0.7),
    urgency_words: tuple[str, ...] = (),
    followers: int | None = None,
    copies: int = 0,
    earlier_contacts: int = 0,
    **fields: Any,
) -> Mention:
    """A mention as triage left it: its labels, and the priority and reasons score gave them."""
    labels = Classification(
        sentiment=sentiment[0],
        sentiment_confidence=sentiment[1],
        intent=intent[0],
        intent_confidence=intent[1],
        urgency=min(1.0, 0.35 * len(urgency_words)),
        urgency_reasons=urgency_words,
        model_version=MODEL_VERSION,
    )
    scored = priority(labels, followers=followers, copies=copies, earlier_contacts=earlier_contacts)
    mention: Mention = MentionFactory(
        sentiment=labels.sentiment,
        sentiment_confidence=labels.sentiment_confidence,
        intent=labels.intent,
        intent_confidence=labels.intent_confidence,
        urgency=labels.urgency,
        author_followers=followers,
        priority=scored.score,
        priority_reasons=[reason.as_json() for reason in scored.reasons],
        model_version=MODEL_VERSION,
        **fields,
    )
    return mention


def reasons_of(mention: Mention) -> dict[str, tuple[float, str]]:
    """The stored reasons by factor: (points, label)."""
    mention.refresh_from_db()
    return {
        reason["factor"]: (reason["points"], reason["label"]) for reason in mention.priority_reasons
    }
