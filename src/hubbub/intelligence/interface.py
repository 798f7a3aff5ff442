"""What the rest of Hubbub calls to triage posts. Today: the lexicon baseline."""

from __future__ import annotations

from collections.abc import Sequence

from hubbub.intelligence import baseline
from hubbub.intelligence.types import Classification


def classify_batch(texts: Sequence[str]) -> list[Classification]:
    return baseline.classify(texts)
