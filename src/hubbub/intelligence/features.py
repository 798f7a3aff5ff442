"""Hashed text features: the same post gives the same indices on every machine, for ever.

Words and word pairs (from the tokeniser the matcher uses, so @user,
#tags and emoji are words) and character 4-grams of each word, hashed
with CRC-32 into a fixed number of buckets. CRC-32 is stable across
processes and Python versions, unlike `hash()`, so a trained model keeps
meaning what it meant.
"""

from __future__ import annotations

import itertools
import re
import zlib
from collections.abc import Iterable

import numpy as np

from hubbub.listening.text import tokenize

BUCKETS = 1 << 18
_HANDLE = re.compile(r"^@\w+")
_REPEAT = re.compile(r"(.)\1{2,}")  # "soooo" and "sooo" are the same word


def _words(text: str) -> list[str]:
    words = []
    for token in tokenize(text):
        if token.startswith("@"):
            words.append("@user")  # who is addressed says little about sentiment
        else:
            words.append(_REPEAT.sub(r"\1\1", token))
    return words


def _feature_names(text: str) -> Iterable[str]:
    words = _words(text)
    yield from (f"w:{word}" for word in words)
    yield from (f"b:{a} {b}" for a, b in itertools.pairwise(words))
    for word in words:
        padded = f"<{word}>"
        if len(padded) > 5:
            yield from (f"c:{padded[i : i + 4]}" for i in range(len(padded) - 3))


def hashed_features(text: str, buckets: int = BUCKETS) -> np.ndarray:
    """The distinct feature buckets of a text, sorted (int32)."""
    indices = {zlib.crc32(name.encode()) % buckets for name in _feature_names(text)}
    return np.fromiter(sorted(indices), dtype=np.int32, count=len(indices))
