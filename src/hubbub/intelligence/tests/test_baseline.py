"""The lexicon baseline labels posts plainly and never fails on odd input; the interface
puts the trained sentiment model in front of it."""

from __future__ import annotations

import pytest

from hubbub.intelligence import baseline
from hubbub.intelligence.baseline import MODEL_VERSION
from hubbub.intelligence.interface import classify_batch
from hubbub.listening.pipeline.score import priority


@pytest.mark.parametrize(
    ("text", "sentiment", "intent"),
    [
        ("Brightwave is down AGAIN, worst service ever 😡", "negative", "complaint"),
        ("How do I change my plan?", "neutral", "question"),
        ("Thanks @brightwave, fixed in minutes!", "positive", "praise"),
        ("I wish the app had a dark mode option", "neutral", "feedback"),
        ("Brightwave sponsors the marathon", "neutral", "other"),
    ],
)
def test_plain_posts(text: str, sentiment: str, intent: str) -> None:
    (label,) = baseline.classify([text])
    assert (label.sentiment, label.intent, label.model_version) == (
        sentiment,
        intent,
        MODEL_VERSION,
    )


@pytest.mark.parametrize(
    ("text", "sentiment", "intent"),
    [
        ("Brightwave is down AGAIN, worst service ever 😡", "negative", "complaint"),
        ("How do I change my plan?", "neutral", "question"),
        ("Thanks @brightwave, fixed in minutes!", "positive", "praise"),
    ],
)
def test_the_trained_models_label_and_every_version_is_recorded(
    text: str, sentiment: str, intent: str
) -> None:
    (label,) = classify_batch([text])
    assert (label.sentiment, label.intent) == (sentiment, intent)
    assert label.model_version == (
        "sentiment-linear-1<0.6>sentiment-minilm-1+intent-stacked-1"
        f"+fasttext-lid176-ftz+clean-1+{MODEL_VERSION}"
    )
    assert 1 / 3 < label.sentiment_confidence <= 1


def test_urgency_names_its_reasons() -> None:
    (label,) = classify_batch(["Router is sparking, I will call my lawyer and cancel"])
    assert set(label.urgency_reasons) == {"safety", "legal", "cancellation"}
    assert label.urgency == 1.0


@pytest.mark.parametrize(
    "text",
    [
        "",
        "🙂🙂🙂",
        "https://t.co/x https://t.co/y",
        "x" * 50_000,
        "\ud800\x00 ⁉",
        "Привет 你好 مرحبا",
    ],
)
def test_odd_input_gets_a_defined_label(text: str) -> None:
    (label,) = classify_batch([text])
    assert label.intent in {"other", "complaint", "question", "praise", "feedback"}
    assert 0 <= label.intent_confidence <= 1


def test_the_priority_explains_itself() -> None:
    (angry,) = classify_batch(["Brightwave outage for two days, worst, cancelling now"])
    (happy,) = classify_batch(["love my new router"])
    high = priority(angry, followers=50_000, copies=3)
    low = priority(happy, followers=12, copies=0)
    assert high.score > 80 > 30 > low.score
    assert {
        "negative",
        "complaint",
        "outage",
        "cancellation",
        "influential author",
        "spreading",
    } <= high.factors
    assert low.factors == {"reach"}  # a few followers, nothing more
    assert sum(reason.points for reason in high.reasons) + 20 >= high.score
