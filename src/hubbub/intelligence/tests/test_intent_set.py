"""The hand-labelled intent set is what its README says it is."""

from __future__ import annotations

from collections import Counter

import pytest

from hubbub.datasets import DataMissing
from hubbub.intelligence import intent_set
from hubbub.testing import missing_component


@pytest.mark.parametrize("source", ["twcs", "complaints"])
def test_its_ids_are_exactly_the_seeded_sample(source: str) -> None:
    try:
        drawn = intent_set.sample_ids(source)
    except DataMissing as error:
        missing_component(str(error))
    assert sorted(intent_set.labels(source), key=int) == sorted(drawn, key=int)


def test_it_holds_at_least_500_posts_in_five_intents_and_no_text() -> None:
    try:
        posts = intent_set.intent_set()
    except DataMissing as error:
        missing_component(str(error))
    counts = Counter(post.intent for post in posts)
    assert len(posts) == 800
    assert set(counts) == set(intent_set.INTENTS)
    assert all(post.text for post in posts)
    for name in ("intent-twcs.csv", "intent-complaints.csv"):
        header = (intent_set.LABELS / name).read_text().splitlines()[0]
        assert header == "source,id,label"  # ids and labels only


def test_the_training_posts_are_apart_from_the_evaluation_set() -> None:
    try:
        training = intent_set.training_set()  # raises on any overlap
    except DataMissing as error:
        missing_component(str(error))
    assert len(training) == 950
    assert set(Counter(post.intent for post in training)) == set(intent_set.INTENTS)
    header = (intent_set.LABELS / "intent-train.csv").read_text().splitlines()[0]
    assert header == "source,id,label,part"
