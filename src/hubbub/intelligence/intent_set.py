"""The hand-labelled intent set: 800 real posts, read and labelled by the team.

Only ids and labels live in the project (`labels/intent-*.csv`); the texts
are joined from `../shared/data/` at run time. Each half is a seeded random
sample that anyone can redraw (`sample_ids`), so the set cannot have been
picked to flatter a model. `labels/README.md` holds the guideline.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from pathlib import Path

from hubbub.datasets import DataMissing, complaints, twcs_customer_posts

INTENTS = ("complaint", "question", "praise", "feedback", "other")
LABELS = Path(__file__).resolve().parent / "labels"
# source → (seed, size) of its sample; rows sorted by numeric tweet id before drawing.
SAMPLES = {"twcs": (5, 420), "complaints": (11, 380)}


@dataclass(frozen=True, slots=True)
class LabelledPost:
    source: str  # twcs | complaints
    tweet_id: str
    text: str
    intent: str


def _posts(source: str) -> list[tuple[str, str]]:
    if source == "twcs":
        return twcs_customer_posts()
    return [(row.tweet_id, row.text) for row in complaints()]


def sample_ids(source: str) -> list[str]:
    """The tweet ids of the seeded sample of `source`, as drawn for labelling."""
    seed, size = SAMPLES[source]
    posts = sorted(_posts(source), key=lambda post: int(post[0]))
    return [tweet_id for tweet_id, _ in random.Random(seed).sample(posts, size)]


def labels(source: str) -> dict[str, str]:
    """tweet id → intent, as stored in the project."""
    with (LABELS / f"intent-{source}.csv").open(encoding="utf-8", newline="") as rows:
        return {row["id"]: row["label"] for row in csv.DictReader(rows) if row["source"] == source}


def intent_set() -> list[LabelledPost]:
    """Every labelled post with its text, in a fixed order (source, then sample order)."""
    posts = []
    for source in SAMPLES:
        texts = dict(_posts(source))
        for tweet_id, intent in sorted(labels(source).items(), key=lambda item: int(item[0])):
            if tweet_id not in texts:
                raise DataMissing(f"labelled {source} post {tweet_id} is not in the shared data")
            posts.append(LabelledPost(source, tweet_id, texts[tweet_id], intent))
    return posts


def training_set() -> list[LabelledPost]:
    """The posts labelled to train on (`labels/intent-train.csv`): none of them is in the
    evaluation set, which stays untouched by training."""
    held_out = {(source, tweet_id) for source in SAMPLES for tweet_id in labels(source)}
    texts = {source: dict(_posts(source)) for source in SAMPLES}
    posts = []
    with (LABELS / "intent-train.csv").open(encoding="utf-8", newline="") as rows:
        for row in csv.DictReader(rows):
            source, tweet_id = row["source"], row["id"]
            if (source, tweet_id) in held_out:
                raise ValueError(f"training post {source} {tweet_id} is in the evaluation set")
            if tweet_id not in texts[source]:
                raise DataMissing(f"labelled {source} post {tweet_id} is not in the shared data")
            posts.append(LabelledPost(source, tweet_id, texts[source][tweet_id], row["label"]))
    return posts


def evaluation_ids(source: str) -> set[str]:
    """The ids of `source` that are in the evaluation set: models must not train on them."""
    return set(labels(source))
