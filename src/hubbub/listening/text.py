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


def _is_token(piece: str) -> bool:
    if piece[0].isalnum() or piece[0] in "#@$_" or len(piece) > 1:
        return True
    # A lone non-word character counts only when it is a symbol (emoji, ™…),
    # not punctuation.
    return unicodedata.category(piece).startswith("S")


def tokenize(text: str) -> list[str]:
    """The normalised tokens of a text, in order; URLs are not words."""
    plain = _URL.sub(" ", text)
    return [piece for piece in _TOKEN.findall(normalize(plain)) if _is_token(piece)]


def urls_in(text: str) -> list[str]:
    return _URL.findall(text)
