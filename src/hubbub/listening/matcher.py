"""Match posts against many queries at once, by percolation.

Each query compiles once to its syntax tree and a set of *required terms*:
words (or word stems) of which every matching post must contain at least
one (the presearcher idea of Lucene Monitor / Luwak). All required terms of
all queries go into one index: a hash of whole tokens and a trie-like hash
of stems by length. A post's tokens are looked up once in that index; only
the queries they hit (the candidates) are evaluated in full.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from hubbub.listening.query import (
    MIN_PREFIX,
    And,
    Field,
    Near,
    Node,
    Not,
    Operand,
    Or,
    Phrase,
    Prefix,
    Term,
)
from hubbub.listening.text import normalize, tokenize, urls_in


@dataclass(frozen=True, slots=True)
class Post:
    """What the matcher needs of a post."""

    text: str
    lang: str = ""
    platform: str = ""
    author: str = ""
    is_reply: bool = False
    urls: tuple[str, ...] = ()


@dataclass(slots=True)
class PreparedPost:
    """A post tokenised once, for every query that looks at it."""

    post: Post
    tokens: list[str]
    token_set: frozenset[str]
    sites: frozenset[str]
    author: str
    _positions: dict[str, list[int]] | None = field(default=None)

    @classmethod
    def of(cls, post: Post, tokens: Sequence[str] | None = None) -> PreparedPost:
        """`tokens`, when the caller has them, must be `tokenize(post.text)`."""
        words = tokenize(post.text) if tokens is None else list(tokens)
        urls = post.urls or tuple(urls_in(post.text))
        return cls(
            post=post,
            tokens=words,
            token_set=frozenset(words),
            sites=frozenset(_host(url) for url in urls),
            author=normalize(post.author).lstrip("@"),
        )

    def positions(self) -> dict[str, list[int]]:
        """Where each token occurs; built only when a phrase or NEAR needs it."""
        if self._positions is None:
            found: dict[str, list[int]] = defaultdict(list)
            for index, token in enumerate(self.tokens):
                found[token].append(index)
            self._positions = found
        return self._positions


def _host(url: str) -> str:
    host = urlsplit(url if "://" in url else f"http://{url}").hostname or ""
    return host.removeprefix("www.")


# --- full evaluation --------------------------------------------------------------


def _spans(node: Operand, post: PreparedPost) -> list[tuple[int, int]]:
    """Where an operand occurs, as (first, last) token positions."""
    if isinstance(node, Term):
        return [(i, i) for i in post.positions().get(node.token, ())]
    if isinstance(node, Prefix):
        return [(i, i) for i, token in enumerate(post.tokens) if token.startswith(node.stem)]
    first, *rest = node.tokens
    width = len(node.tokens)
    return [
        (i, i + width - 1)
        for i in post.positions().get(first, ())
        if post.tokens[i + 1 : i + width] == rest
    ]


def _near(node: Near, post: PreparedPost) -> bool:
    left = [span for operand in node.left for span in _spans(operand, post)]
    right = [span for operand in node.right for span in _spans(operand, post)]
    # The distance is the number of words between the two, in either order.
    return any(
        (b_start - a_end - 1 if b_start > a_end else a_start - b_end - 1) <= node.distance
        and not (a_start <= b_end and b_start <= a_end)
        for a_start, a_end in left
        for b_start, b_end in right
    )


def _field(node: Field, post: PreparedPost) -> bool:
    name, value = node.name, node.value
    if name == "lang":
        lang = post.post.lang.lower()
        return lang == value or lang.startswith(value + "-")
    if name == "platform":
        return post.post.platform.lower() == value
    if name == "author":
        return post.author == value
    if name == "site":
        return any(site == value or site.endswith("." + value) for site in post.sites)
    if name == "is":
        return post.post.is_reply
    return bool(post.sites)  # has:link


def evaluate(node: Node, post: PreparedPost) -> bool:
    """Does this post match this query? The full semantics of the language."""
    if isinstance(node, Term):
        return node.token in post.token_set
    if isinstance(node, Phrase):
        return node.tokens[0] in post.token_set and bool(_spans(node, post))
    if isinstance(node, Prefix):
        return any(token.startswith(node.stem) for token in post.token_set)
    if isinstance(node, Near):
        return _near(node, post)
    if isinstance(node, Field):
        return _field(node, post)
    if isinstance(node, Not):
        return not evaluate(node.child, post)
    if isinstance(node, And):
        return all(evaluate(child, post) for child in node.children)
    return any(evaluate(child, post) for child in node.children)


Predicate = Callable[[PreparedPost], bool]


def _words_of(node: Operand) -> set[str]:
    """Whole words an operand cannot match without."""
    if isinstance(node, Term):
        return {node.token}
    if isinstance(node, Phrase):
        return set(node.tokens)
    return set()


def compile_query(node: Node) -> Predicate:
    """The query as one closure: the same semantics as `evaluate`, without the
    per-node type dispatch on every post (evaluation is the matcher's hot loop)."""
    if isinstance(node, Term):
        token = node.token
        return lambda post: token in post.token_set
    if isinstance(node, Phrase):
        words = frozenset(node.tokens)
        # Most candidates lack one of the words: find out before looking for the order.
        return lambda post: words <= post.token_set and bool(_spans(node, post))
    if isinstance(node, Prefix):
        stem = node.stem
        return lambda post: any(token.startswith(stem) for token in post.token_set)
    if isinstance(node, Near):
        # Words every match needs: those of single-operand sides.
        needed = frozenset().union(
            *(_words_of(side[0]) for side in (node.left, node.right) if len(side) == 1)
        )
        return lambda post: needed <= post.token_set and _near(node, post)
    if isinstance(node, Not):
        inner = compile_query(node.child)
        return lambda post: not inner(post)
    if isinstance(node, And | Or):
        parts = [compile_query(child) for child in node.children]
        if isinstance(node, And):
            if len(parts) == 2:
                first, second = parts
                return lambda post: first(post) and second(post)
            return lambda post: all(part(post) for part in parts)
        if len(parts) == 2:
            first, second = parts
            return lambda post: first(post) or second(post)
        return lambda post: any(part(post) for part in parts)
    return lambda post: evaluate(node, post)


# --- the presearcher ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Required:
    """Every match contains one of `terms` or a word starting with one of `stems`."""

    terms: frozenset[str]
    stems: frozenset[str]


class Selectivity:
    """How many posts a presearch term is expected to hit.

    With word frequencies (from recent posts), the rarest alternatives win,
    as in Luwak's term weighting; without, longer words are taken as rarer.
    """

    def __init__(self, frequencies: Mapping[str, int] | None = None) -> None:
        self.frequencies = frequencies
        self.sorted_words = sorted(frequencies) if frequencies else []

    def of_term(self, term: str) -> float:
        if self.frequencies is None:
            return 1000.0 / (1 + len(term))
        return float(self.frequencies.get(term, 0)) + 1.0

    def of_stem(self, stem: str) -> float:
        if self.frequencies is None:
            return 4000.0 / (1 + len(stem))
        start = bisect.bisect_left(self.sorted_words, stem)
        end = bisect.bisect_left(self.sorted_words, stem + "\U0010ffff")
        return 1.0 + sum(self.frequencies[word] for word in self.sorted_words[start:end])

    def cost(self, required: Required) -> float:
        return sum(map(self.of_term, required.terms)) + sum(map(self.of_stem, required.stems))


def required_terms(node: Node, selectivity: Selectivity | None = None) -> Required | None:
    """The presearch terms of a query; None where nothing is required (NOT, fields)."""
    weigh = selectivity or Selectivity()
    if isinstance(node, Term):
        return Required(frozenset({node.token}), frozenset())
    if isinstance(node, Phrase):
        return Required(frozenset({min(node.tokens, key=weigh.of_term)}), frozenset())
    if isinstance(node, Prefix):
        return Required(frozenset(), frozenset({node.stem}))
    if isinstance(node, Near):
        # Either side will do; a side of alternatives needs one of them.
        sides = [
            required_terms(Or(side) if len(side) > 1 else side[0], weigh)
            for side in (node.left, node.right)
        ]
        return min((side for side in sides if side), key=weigh.cost)
    if isinstance(node, And):
        found = [r for r in (required_terms(child, weigh) for child in node.children) if r]
        return min(found, key=weigh.cost) if found else None
    if isinstance(node, Or):
        alternatives = [required_terms(child, weigh) for child in node.children]
        if any(r is None for r in alternatives):
            return None
        return Required(
            frozenset().union(*(r.terms for r in alternatives if r)),
            frozenset().union(*(r.stems for r in alternatives if r)),
        )
    return None


@dataclass(frozen=True, slots=True)
class CompiledQuery:
    key: int
    node: Node
    required: Required
    predicate: Predicate


class Matcher:
    """All enabled queries of a workspace, ready to match posts.

    Build it once when queries change; `match` is safe to call from many
    threads since nothing is mutated after construction.
    """

    def __init__(
        self,
        queries: Iterable[tuple[int, Node]],
        *,
        word_frequencies: Mapping[str, int] | None = None,
    ) -> None:
        selectivity = Selectivity(word_frequencies)
        self.queries: list[CompiledQuery] = []
        self._by_term: dict[str, list[int]] = defaultdict(list)
        # Stems are found by their first three characters, then checked in full:
        # one dict lookup per word of a post, whatever the number of stems.
        self._by_stem_head: dict[str, list[tuple[str, list[int]]]] = {}
        by_stem: dict[str, list[int]] = defaultdict(list)
        for key, node in queries:
            required = required_terms(node, selectivity)
            if required is None:
                # The parser refuses such queries; a hand-built tree gets here.
                raise ValueError(f"query {key} requires no word, so it cannot be presearched")
            index = len(self.queries)
            self.queries.append(CompiledQuery(key, node, required, compile_query(node)))
            for term in required.terms:
                self._by_term[term].append(index)
            for stem in required.stems:
                by_stem[stem].append(index)
        for stem, indexes in by_stem.items():
            self._by_stem_head.setdefault(stem[:MIN_PREFIX], []).append((stem, indexes))

    def candidates(self, post: PreparedPost) -> set[int]:
        """Indexes of the queries that might match: those whose required terms occur."""
        found: set[int] = set()
        by_term, by_stem_head = self._by_term, self._by_stem_head
        for token in post.token_set:
            hit = by_term.get(token)
            if hit:
                found.update(hit)
            stems = by_stem_head.get(token[:MIN_PREFIX]) if by_stem_head else None
            if stems:
                for stem, indexes in stems:
                    if token.startswith(stem):
                        found.update(indexes)
        return found

    def match_prepared(self, post: PreparedPost) -> list[int]:
        queries = self.queries
        return sorted(queries[i].key for i in self.candidates(post) if queries[i].predicate(post))

    def match(self, post: Post) -> list[int]:
        """The keys of the queries this post matches, in ascending order."""
        return self.match_prepared(PreparedPost.of(post))
