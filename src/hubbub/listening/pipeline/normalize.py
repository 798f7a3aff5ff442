"""Normalise: clean text, sanitise HTML, pull out links and tags, and fingerprint.

Nothing here fetches anything: links are taken as the platform expanded
them, never by following them.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import unicodedata
from collections.abc import Sequence

import nh3
import numpy as np

from hubbub.intelligence.language import UNDETERMINED, LanguageModelMissing, detect_languages
from hubbub.listening.text import tokenize, urls_in
from hubbub.listening.types import NormalizedPost, RawPost

# Confidence above which the detected language replaces the platform's declared one.
SURE_OF_LANGUAGE = 0.6
MAX_TEXT = 40_000  # characters kept of a post; longer ones are cut, not refused
_CONTROL = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
_SPACE = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_BLANK_LINES = re.compile(r"\n{3,}")
_RETWEET = re.compile(r"^(rt|mt)\s+@[\w.]+:?\s*", re.IGNORECASE)
_HANDLE = re.compile(r"@[\w.]+")
ALLOWED_TAGS = {
    "a",
    "p",
    "br",
    "span",
    "strong",
    "em",
    "b",
    "i",
    "ul",
    "ol",
    "li",
    "blockquote",
    "code",
    "pre",
}


def clean_text(text: str) -> str:
    """NFC, no control or unassigned characters (but keep newlines and ZWJ for emoji)."""
    text = unicodedata.normalize("NFC", text[:MAX_TEXT])
    # Most posts hold nothing to remove; isprintable() says so at C speed
    # (it is False for every category dropped here, and for newlines).
    if not text.isprintable():
        text = "".join(
            ch for ch in text if ch in "\n\t\u200d" or unicodedata.category(ch) not in _CONTROL
        )
    text = _SPACE.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


def sanitize_html(html: str) -> str:
    if not html:
        return ""
    return nh3.clean(
        html[: MAX_TEXT * 4], tags=ALLOWED_TAGS, link_rel="noopener noreferrer nofollow"
    )


def copy_text(text: str) -> str:
    """The text that copies of a post share: folded words only, without the RT
    prefix, links, handles, emoji and punctuation that copies add or drop."""
    text = _RETWEET.sub("", text.strip())
    for url in urls_in(text):
        text = text.replace(url, " ")
    text = _HANDLE.sub(" ", text)
    return " ".join(token for token in tokenize(text) if token[-1].isalnum())


def _features(tokens: Sequence[str]) -> list[str]:
    return [f"{a} {b}" for a, b in itertools.pairwise(tokens)] or list(tokens)


def _feature_hash(feature: str) -> int:
    return int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "little")


def simhashes(texts: Sequence[Sequence[str]]) -> list[int]:
    """64-bit SimHash of each token list, over word pairs (single words when short).

    Vectorised over the whole batch: one bit matrix, one weighted sum per post.
    """
    counts = [len(_features(tokens)) for tokens in texts]
    results = [0] * len(texts)
    filled = [i for i, count in enumerate(counts) if count]
    if not filled:
        return results
    hashes = np.fromiter(
        (_feature_hash(f) for tokens in texts for f in _features(tokens)),
        dtype="<u8",
        count=sum(counts),
    )
    bits = np.unpackbits(hashes.view(np.uint8).reshape(-1, 8), axis=1, bitorder="little")
    votes = bits.astype(np.int32) * 2 - 1
    # Each post's rows start where the previous posts' end; empty posts have none.
    starts = np.cumsum([0, *counts])[:-1][filled]
    sums = np.add.reduceat(votes, starts, axis=0)
    values = np.packbits(sums > 0, axis=1, bitorder="little").view("<u8").ravel()
    for index, value in zip(filled, values, strict=True):
        results[index] = int(value)
    return results


def simhash(tokens: Sequence[str]) -> int:
    return simhashes([tokens])[0]


def normalize_post(raw: RawPost) -> NormalizedPost:
    return normalize_batch([raw])[0]


def normalize_batch(batch: Sequence[RawPost]) -> list[NormalizedPost]:
    """Each post cleaned once; the SimHashes of the whole batch in one vectorised pass."""
    texts = [clean_text(raw.text) for raw in batch]
    shared = [copy_text(text) for text in texts]
    fingerprints = simhashes([words.split() for words in shared])
    langs = post_languages(batch, texts)
    return [
        _normalized(raw, text, words, fingerprint, lang)
        for raw, text, words, fingerprint, lang in zip(
            batch, texts, shared, fingerprints, langs, strict=True
        )
    ]


def post_languages(batch: Sequence[RawPost], texts: Sequence[str]) -> list[str]:
    """Detected when the model is sure enough, otherwise what the platform declared.

    Platforms' language fields are often the account's default ("en" for a
    post in Spanish), so a confident reading of the text wins; a short or
    ambiguous post keeps the declared language.
    """
    try:
        detected = detect_languages(texts)
    except LanguageModelMissing:
        return [raw.lang[:16] for raw in batch]
    return [
        code if code != UNDETERMINED and confidence >= SURE_OF_LANGUAGE else raw.lang[:16]
        for raw, (code, confidence) in zip(batch, detected, strict=True)
    ]


def _normalized(
    raw: RawPost, text: str, shared: str, fingerprint: int, lang: str
) -> NormalizedPost:
    tokens = tokenize(text)
    urls = tuple(dict.fromkeys([*raw.expanded_urls, *urls_in(text)]))
    return NormalizedPost(
        raw=raw,
        text=text,
        html=sanitize_html(raw.html),
        urls=urls,
        hashtags=tuple(dict.fromkeys(t for t in tokens if t.startswith("#"))),
        mentions=tuple(dict.fromkeys(t for t in tokens if t.startswith("@"))),
        cashtags=tuple(dict.fromkeys(t for t in tokens if t.startswith("$") and len(t) > 1)),
        normalized_text=shared,
        content_hash=hashlib.sha256(shared.encode()).hexdigest() if shared else "",
        simhash=fingerprint,
        tokens=tuple(tokens),
        lang=lang,
    )
