"""LexiconBaseline: word lists, until the trained models of the intelligence issue land.

It is deliberately simple and says so in its model version; `hubbub eval`
will measure the trained models against it. Words are matched on the same
tokens as the listening matcher.
"""

from __future__ import annotations

from collections.abc import Sequence

from hubbub.intelligence.types import Classification
from hubbub.listening.text import tokenize

MODEL_VERSION = "lexicon-baseline-1"

NEGATIVE = frozenset(
    """
awful bad broken cancel cancelled disappointed disgusting down fail failed failing fault frustrated
frustrating furious hate horrible issue issues joke late lost never not nothing problem problems
rubbish ridiculous rude scam slow sucks terrible unacceptable unhappy useless waiting worst wrong
angry annoyed annoying outage error errors overcharged charged refund stuck 😡 😠 🤬 😤 👎 😢 😭
""".split()
)
POSITIVE = frozenset(
    """
amazing awesome best brilliant excellent fantastic fast fixed glad good great happy helpful
impressed kind love loved lovely nice perfect quick recommend resolved smooth superb thank thanks
thx wonderful ❤️ ❤ 😍 😊 🙂 👍 🙏 🎉
""".split()
)
QUESTION_STARTS = frozenset(
    """
how why when where what which who can could does do is are will would should
""".split()
)
COMPLAINT = frozenset(
    """
broken cancel complain complaint down fault outage overcharged refund scam slow stuck terrible
unacceptable useless worst charged error never waiting late lost
""".split()
)
PRAISE = frozenset("thank thanks thx love great amazing awesome brilliant excellent kudos".split())
FEEDBACK = frozenset("suggest suggestion wish feature idea improve please add option".split())
URGENT = {
    "safety": frozenset("fire smoke sparking shock dangerous unsafe injured emergency".split()),
    "legal": frozenset("lawyer solicitor sue suing court ombudsman regulator legal".split()),
    "cancellation": frozenset("cancel cancelling canceling cancellation leaving switching".split()),
    "outage": frozenset("outage down offline disconnected blackout".split()),
}


def _sentiment(tokens: list[str]) -> tuple[str, float]:
    negative = sum(token in NEGATIVE for token in tokens)
    positive = sum(token in POSITIVE for token in tokens)
    if negative == positive:
        return "neutral", 0.5 if negative else 0.6
    label = "negative" if negative > positive else "positive"
    margin = abs(negative - positive)
    return label, min(0.5 + 0.15 * margin, 0.9)


def _intent(text: str, tokens: list[str], sentiment: str) -> tuple[str, float]:
    words = set(tokens)
    if words & COMPLAINT and sentiment != "positive":
        return "complaint", 0.7
    if "?" in text or (tokens and tokens[0] in QUESTION_STARTS) or {"help", "anyone"} <= words:
        return "question", 0.65
    if words & PRAISE and sentiment != "negative":
        return "praise", 0.7
    if words & FEEDBACK:
        return "feedback", 0.55
    if sentiment == "negative":
        return "complaint", 0.5
    return "other", 0.4


def classify(
    texts: Sequence[str],
    *,
    sentiments: Sequence[tuple[str, float]] | None = None,
    intents: Sequence[tuple[str, float]] | None = None,
    version: str = MODEL_VERSION,
) -> list[Classification]:
    """Label a batch of post texts. Never raises: odd input gets "other", low confidence.

    `sentiments` and `intents`, from trained models, replace the lexicon's; the
    intent cues are then read with the sentiments (`version` names them all).
    The urgency words are always the lexicon's.
    """
    results = []
    for index, text in enumerate(texts):
        tokens = tokenize(text or "")
        if not any(token[-1].isalnum() for token in tokens):
            results.append(Classification("neutral", 0.3, "other", 0.2, 0.0, (), MODEL_VERSION))
            continue
        sentiment, sentiment_confidence = (
            _sentiment(tokens) if sentiments is None else sentiments[index]
        )
        intent, intent_confidence = (
            _intent(text, tokens, sentiment) if intents is None else intents[index]
        )
        words = set(tokens)
        reasons = tuple(reason for reason, cues in URGENT.items() if words & cues)
        urgency = min(
            1.0, 0.35 * len(reasons) + (0.3 if "safety" in reasons or "legal" in reasons else 0)
        )
        results.append(
            Classification(
                sentiment,
                sentiment_confidence,
                intent,
                intent_confidence,
                urgency,
                reasons,
                version,
            )
        )
    return results
