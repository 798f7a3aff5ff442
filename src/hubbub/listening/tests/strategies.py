"""Hypothesis strategies for queries and posts over a small, colliding vocabulary."""

from __future__ import annotations

from hypothesis import strategies as st

from hubbub.listening.matcher import Post
from hubbub.listening.query import And, Field, Near, Node, Not, Operand, Or, Phrase, Prefix, Term

# Few words, sharing stems, so that random posts and queries often meet.
WORDS = [
    "refund",
    "refunds",
    "refunded",
    "late",
    "later",
    "brightwave",
    "#brightwave",
    "@brightwave",
    "$bwv",
    "outage",
    "down",
    "cafe",
    "wifi",
    "router",
    "🙂",
    "not",
]
STEMS = ["ref", "refund", "lat", "bright", "#bri", "out", "rou"]
SPELLINGS = {
    "cafe": ["cafe", "Café", "CAFÉ"],
    "refund": ["refund", "Refund", "REFUND"],
    "wifi": ["wifi", "WiFi", "ｗｉｆｉ"],
}

terms = st.sampled_from(WORDS).map(Term)
phrases = st.lists(st.sampled_from(WORDS), min_size=2, max_size=3).map(lambda ws: Phrase(tuple(ws)))
prefixes = st.sampled_from(STEMS).map(Prefix)
operands: st.SearchStrategy[Operand] = st.one_of(terms, phrases, prefixes)
groups = st.lists(operands, min_size=1, max_size=2, unique=True).map(tuple)
nears = st.builds(Near, groups, groups, st.integers(min_value=1, max_value=4))
fields = st.one_of(
    st.sampled_from(["en", "fr", "de"]).map(lambda v: Field("lang", v)),
    st.sampled_from(["bluesky", "reddit"]).map(lambda v: Field("platform", v)),
    st.sampled_from(["maya", "jonas"]).map(lambda v: Field("author", v)),
    st.sampled_from(["example.com", "brightwave.example"]).map(lambda v: Field("site", v)),
    st.just(Field("is", "reply")),
    st.just(Field("has", "link")),
)


def _and(children: list[Node]) -> Node:
    flat: list[Node] = []
    for child in children:
        flat.extend(child.children if isinstance(child, And) else (child,))
    return And(tuple(flat))


def _or(children: list[Node]) -> Node:
    flat: list[Node] = []
    for child in children:
        flat.extend(child.children if isinstance(child, Or) else (child,))
    return Or(tuple(flat))


nodes: st.SearchStrategy[Node] = st.recursive(
    st.one_of(operands, nears, fields),
    lambda inner: st.one_of(
        inner.map(Not),
        st.lists(inner, min_size=2, max_size=3).map(_and),
        st.lists(inner, min_size=2, max_size=3).map(_or),
    ),
    max_leaves=8,
)


@st.composite
def posts(draw: st.DrawFn) -> Post:
    words = draw(st.lists(st.sampled_from(WORDS), max_size=12))
    spelled = [draw(st.sampled_from(SPELLINGS.get(word, [word]))) for word in words]
    separators = draw(
        st.lists(
            st.sampled_from([" ", ", ", "! ", " - ", "\n"]),
            min_size=len(spelled),
            max_size=len(spelled),
        )
    )
    text = "".join(word + sep for word, sep in zip(spelled, separators, strict=True))
    url = draw(
        st.sampled_from(["", " https://www.example.com/a", " http://shop.brightwave.example/x"])
    )
    return Post(
        text=text + url,
        lang=draw(st.sampled_from(["en", "en-GB", "fr", "de", ""])),
        platform=draw(st.sampled_from(["bluesky", "reddit", "mastodon"])),
        author=draw(st.sampled_from(["maya", "@Jonas", "someone"])),
        is_reply=draw(st.booleans()),
    )


# Trees the language accepts: every branch looks for some word.
_anchored_one: st.SearchStrategy[Node] = st.builds(
    lambda anchor, rest: _and([anchor, *rest]) if rest else anchor,
    st.one_of(operands, nears),
    st.lists(nodes, max_size=2),
)
queries: st.SearchStrategy[Node] = st.one_of(
    _anchored_one, st.lists(_anchored_one, min_size=2, max_size=3).map(_or)
)
