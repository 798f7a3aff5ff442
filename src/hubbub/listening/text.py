"""Text normalisation and tokens, shared by the query language and the matcher.

Both sides go through the same functions, so a query term and a post word
compare equal exactly when a reader would call them the same word: case,
accents and Unicode compatibility forms do not matter; hashtags (#refund),
mentions (@brightwave) and cashtags ($BWV) keep their sigil; each emoji is
a token of its own.
"""

from __future__ import annotations

import re
import unicodedata

# A word: letters or digits, with inner apostrophes, dots or hyphens
# ("don't", "e-mail", "v2.1"), optionally led by #, @ or $. Or one
# pictographic character (emoji and other symbols).
_TOKEN = re.compile(r"[#@$]?\w+(?:['.\-]\w+)*|[^\w\s]", re.UNICODE)
_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)


def normalize(text: str) -> str:
    """Case-folded, accent-free, NFKC text."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFKC", stripped).casefold().replace("’", "'")


def _is_symbol(piece: str) -> bool:
    # A lone non-word character counts only when it is a symbol (emoji, ™…),
    # not punctuation.
    return unicodedata.category(piece)[0] == "S"


def _may_have_url(text: str) -> bool:
    return "http" in text or "www." in text or "HTTP" in text or "WWW." in text


def tokenize(text: str) -> list[str]:
    """The normalised tokens of a text, in order; URLs are not words."""
    if _may_have_url(text):
        text = _URL.sub(" ", text)
    # Most pieces are words (longer than one character, or alphanumeric):
    # those short-circuit before the Unicode category lookup.
    return [
        piece
        for piece in _TOKEN.findall(normalize(text))
        if len(piece) > 1 or piece.isalnum() or piece == "_" or _is_symbol(piece)
    ]


def urls_in(text: str) -> list[str]:
    return _URL.findall(text) if _may_have_url(text) else []
