"""What the pipeline and `hubbub classify` call: every task, every input, one answer each."""

from __future__ import annotations

import pytest

from hubbub.intelligence import interface

HOSTILE = [
    "",
    "   \n\t ",
    "🔥😡🔥",
    "https://example.com/a?b=c",
    "@brightwave @someone",
    "\ud800\udfff lone surrogates",
    "\x00\x01\x7f control",
    "\U0010ffff\ufdd0 noncharacters",
    "Привет 你好 مرحبا hello",
    "refund " * 8000,  # about 56,000 characters
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_posts_get_a_defined_label_for_every_task(text: str) -> None:
    (labels,) = interface.label_batch([text])
    assert set(labels) == set(interface.TASKS)
    for label in labels.values():
        assert isinstance(label.label, str)
        assert label.label
        assert 0.0 <= label.confidence <= 1.0


def test_nothing_to_read_is_other_with_low_confidence() -> None:
    for text in ["", "🔥😡🔥", "https://example.com/a", "@brightwave"]:
        (labels,) = interface.label_batch([text])
        assert labels["intent"] == interface.Label("other", 0.2)
        assert labels["language"] == interface.Label("und", 0.0)


def test_a_batch_keeps_its_order_and_each_post_its_own_labels() -> None:
    texts = ["", "the app crashes every time, useless", "thank you, brilliant help!", ""]
    labels = interface.label_batch(texts, ["sentiment", "intent"])
    assert [row["sentiment"].label for row in labels] == [
        "neutral",
        "negative",
        "positive",
        "neutral",
    ]
    assert labels[1]["intent"].label == "complaint"
    assert labels[2]["intent"].label == "praise"


def test_the_pipeline_records_every_model_that_labelled_a_post() -> None:
    (classification,) = interface.classify_batch(["my router is on fire, sparks everywhere"])
    assert classification.model_version == interface.model_versions()
    assert classification.model_version.split("+")[:2] == [
        "sentiment-linear-1<0.6>sentiment-minilm-1",
        "intent-stacked-1",
    ]
    assert "safety" in classification.urgency_reasons
