"""Intent: complaint, question, praise, feedback or other, from what the other models say.

A few hundred hand-labelled posts are too few to learn intent from words
alone, so the intent model stacks what is already known about a post:

- a hashed-text linear model trained on the labelled posts (`text_model`);
- the complaint detector's and the sentiment model's probabilities, trained
  on thousands of posts each;
- a handful of cues that words miss: a question mark, a question word first,
  thanks, a suggestion, a link, a very short post.

A small softmax regression (`stack`) weighs them. It is fitted on
out-of-fold text-model probabilities, so it learns how far to trust the text
model on posts it has not seen. Everything lives in one `.npz` (no pickles).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hubbub.intelligence.linear import LinearModel, softmax_rows

INTENTS = ("complaint", "question", "praise", "feedback", "other")
_WORD = re.compile(r"[a-z']+")
_QUESTION_FIRST = frozenset(
    "how why when where what which who whom whose can could does do did is are will would "
    "should any anyone anybody".split()
)
_THANKS = frozenset("thanks thank thx ty cheers appreciate appreciated kudos".split())
_SUGGEST = frozenset("should suggest suggestion wish idea feature option add bring".split())
_LINK = re.compile(r"https?://|www\.")
CUES = ("question mark", "question word first", "thanks", "suggestion", "link", "short")


def cues(text: str) -> list[float]:
    """The cue features of one text, in CUES order (0 or 1)."""
    words = _WORD.findall(text.lower())
    # Salutations and handles come first in replies: the first real word counts.
    first = next((word for word in words if word not in {"hi", "hey", "hello", "so"}), "")
    return [
        float("?" in text),
        float(first in _QUESTION_FIRST),
        float(any(word in _THANKS for word in words)),
        float(any(word in _SUGGEST for word in words)),
        float(bool(_LINK.search(text))),
        float(len(words) < 5),
    ]


def dense_features(
    texts: Sequence[str],
    text_probabilities: np.ndarray,
    sentiment: np.ndarray,
    complaint: np.ndarray,
) -> np.ndarray:
    """(n, d): log text-model probabilities, complaint log-odds, sentiment log-probabilities,
    cues and a constant. `complaint` is P(complaint) per post, `sentiment` (n, 3)."""
    p = np.clip(complaint, 1e-4, 1 - 1e-4)
    return np.column_stack(
        [
            np.log(text_probabilities + 1e-4),
            np.log(p / (1 - p)),
            np.log(sentiment + 1e-4),
            np.array([cues(text) for text in texts], dtype=np.float32).reshape(len(texts), -1),
            np.ones(len(texts)),
        ]
    ).astype(np.float32)


def fit_stack(
    features: np.ndarray, targets: np.ndarray, classes: int, *, steps: int = 3000, l2: float = 1e-3
) -> np.ndarray:
    """Class-balanced softmax regression by full-batch gradient descent (small: a few hundred
    rows, a few dozen features)."""
    weights = np.zeros((features.shape[1], classes), dtype=np.float64)
    onehot = np.eye(classes)[targets]
    counts = np.bincount(targets, minlength=classes).clip(1)
    row_weight = (len(targets) / (classes * counts))[targets][:, None]
    for _ in range(steps):
        scores = features @ weights
        probabilities = softmax_rows(scores)
        gradient = features.T @ ((probabilities - onehot) * row_weight) / len(targets)
        weights -= 0.05 * (gradient + l2 * weights)
    return weights.astype(np.float32)


@dataclass(frozen=True)
class IntentModel:
    version: str
    text_model: LinearModel
    stack: np.ndarray  # (dense features, classes)
    card: dict[str, object]

    labels = INTENTS

    def probabilities(
        self,
        texts: Sequence[str],
        *,
        sentiment: np.ndarray,
        complaint: np.ndarray,
        hashed: Sequence[np.ndarray] | None = None,
    ) -> np.ndarray:
        """`hashed`: the texts' hashed features, when the caller has them already."""
        if not texts:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        text_probabilities = (
            self.text_model.probabilities(texts)
            if hashed is None
            else self.text_model.probabilities_of(hashed)
        )
        features = dense_features(texts, text_probabilities, sentiment, complaint)
        return softmax_rows(features @ self.stack)

    def save(self, path: Path) -> None:
        text = self.text_model
        np.savez_compressed(
            path,
            weights=text.weights.astype(np.float16),
            bias=text.bias,
            stack=self.stack,
            labels=np.array(self.labels),
            meta=np.array(
                json.dumps(
                    {"version": self.version, "text_version": text.version, "card": self.card}
                )
            ),
        )

    @classmethod
    def load(cls, path: Path) -> IntentModel:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            labels = tuple(str(label) for label in data["labels"])
            if labels != INTENTS:
                raise ValueError(f"{path} labels {labels}, not {INTENTS}")
            text_model = LinearModel(
                version=meta["text_version"],
                labels=labels,
                weights=data["weights"].astype(np.float32),
                bias=data["bias"].astype(np.float32),
                card={},
            )
            return cls(meta["version"], text_model, data["stack"].astype(np.float32), meta["card"])
