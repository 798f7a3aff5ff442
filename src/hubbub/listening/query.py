"""The listening query language: parse, validate, render.

As in the listening suites (Brandwatch, Talkwalker):

    "brightwave broadband" AND (outage OR down OR "not working") NOT test
    refund* NEAR/3 (late OR slow)      #brightwavefail      @brightwave      $BWV
    lang:en platform:bluesky author:someone site:example.com is:reply has:link

- Operators are upper case: AND, OR, NOT, NEAR/n (n ≤ 20). Juxtaposition
  means AND. AND binds tighter than OR; NOT applies to what follows it.
- Words and phrases match case-, accent- and width-insensitively
  (`hubbub.listening.text`). `word*` matches words starting with a stem of
  at least three characters.
- A query must look for at least one word, phrase or tag in every branch:
  pure negations (`NOT spam`) and filter-only queries (`lang:en`) would
  match a firehose and are refused, with the position of the problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hubbub.listening.text import normalize, tokenize

MAX_QUERY_LENGTH = 4096
MAX_NEAR = 20
MIN_PREFIX = 3
FIELDS = ("lang", "platform", "author", "site", "is", "has")
FIELD_VALUES = {"is": ("reply",), "has": ("link",)}


class QueryError(ValueError):
    """A query that cannot be used; `position` is the 0-based character offset."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} (at character {position + 1})")
        self.message = message
        self.position = position


# --- the syntax tree ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Term:
    token: str


@dataclass(frozen=True, slots=True)
class Phrase:
    tokens: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Prefix:
    stem: str


@dataclass(frozen=True, slots=True)
class Near:
    """Any of `left` within `distance` words of any of `right`, in either order."""

    left: tuple[Term | Phrase | Prefix, ...]
    right: tuple[Term | Phrase | Prefix, ...]
    distance: int


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    value: str


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]


Node = Term | Phrase | Prefix | Near | Field | Not | And | Or
Operand = Term | Phrase | Prefix


# --- lexing ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Lexeme:
    kind: str  # "(", ")", "AND", "OR", "NOT", "NEAR", "PHRASE", "WORD", "FIELD"
    text: str
    position: int


_LEX = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<open>\()
  | (?P<close>\))
  | (?P<phrase>"[^"]*"?)
  | (?P<near>NEAR/\S*)
  | (?P<word>[^\s()"]+)
    """,
    re.VERBOSE,
)
_OPERATORS = {"AND", "OR", "NOT"}
_FIELD = re.compile(r"^([a-z]+):(.*)$", re.IGNORECASE)


def _lex(text: str) -> list[Lexeme]:
    lexemes: list[Lexeme] = []
    for match in _LEX.finditer(text):
        kind, value, position = match.lastgroup, match.group(), match.start()
        if kind == "space":
            continue
        if kind == "open":
            lexemes.append(Lexeme("(", value, position))
        elif kind == "close":
            lexemes.append(Lexeme(")", value, position))
        elif kind == "phrase":
            if len(value) < 2 or not value.endswith('"'):
                raise QueryError("This quote is never closed", position)
            lexemes.append(Lexeme("PHRASE", value[1:-1], position))
        elif kind == "near":
            lexemes.append(Lexeme("NEAR", value, position))
        elif value in _OPERATORS:
            lexemes.append(Lexeme(value, value, position))
        elif (field := _FIELD.match(value)) and field.group(1).lower() in FIELDS:
            lexemes.append(Lexeme("FIELD", value, position))
        else:
            lexemes.append(Lexeme("WORD", value, position))
    return lexemes


# --- parsing --------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.lexemes = _lex(text)
        self.index = 0

    def peek(self) -> Lexeme | None:
        return self.lexemes[self.index] if self.index < len(self.lexemes) else None

    def take(self) -> Lexeme:
        lexeme = self.lexemes[self.index]
        self.index += 1
        return lexeme

    def end_position(self) -> int:
        return len(self.text)

    def parse(self) -> Node:
        if not self.lexemes:
            raise QueryError("The query is empty", 0)
        node = self.parse_or()
        extra = self.peek()
        if extra is not None:
            raise QueryError(f"Unexpected {extra.text!r}", extra.position)
        return node

    def parse_or(self) -> Node:
        children = [self.parse_and()]
        while (lexeme := self.peek()) is not None and lexeme.kind == "OR":
            self.take()
            children.append(self.parse_and())
        return children[0] if len(children) == 1 else Or(_flatten(Or, children))

    def parse_and(self) -> Node:
        children = [self.parse_unary()]
        while (lexeme := self.peek()) is not None and lexeme.kind not in {"OR", ")"}:
            if lexeme.kind == "AND":
                self.take()
            children.append(self.parse_unary())
        return children[0] if len(children) == 1 else And(_flatten(And, children))

    def parse_unary(self) -> Node:
        lexeme = self.peek()
        if lexeme is not None and lexeme.kind == "NOT":
            self.take()
            return Not(self.parse_unary())
        return self.parse_primary()

    def parse_primary(self) -> Node:
        lexeme = self.peek()
        if lexeme is None:
            raise QueryError(
                "The query ends where a word, phrase or ( was expected", self.end_position()
            )
        if lexeme.kind == "(":
            node = self.parse_group()
            following = self.peek()
            if following is not None and following.kind == "NEAR":
                return self.parse_near(_operand_group(node, lexeme.position))
            return node
        if lexeme.kind == "FIELD":
            return self.parse_field(self.take())
        if lexeme.kind in {"WORD", "PHRASE"}:
            operand = self.parse_operand(self.take())
            following = self.peek()
            if following is not None and following.kind == "NEAR":
                return self.parse_near((operand,))
            return operand
        raise QueryError(f"Expected a word, phrase or ( but found {lexeme.text!r}", lexeme.position)

    def parse_group(self) -> Node:
        opening = self.take()
        node = self.parse_or()
        closing = self.peek()
        if closing is None or closing.kind != ")":
            raise QueryError("This parenthesis is never closed", opening.position)
        self.take()
        return node

    def parse_near(self, left: tuple[Operand, ...]) -> Node:
        lexeme = self.take()
        distance = lexeme.text[len("NEAR/") :]
        if not distance.isdigit() or not 0 < int(distance) <= MAX_NEAR:
            raise QueryError(
                f"NEAR needs a distance from 1 to {MAX_NEAR}, as in NEAR/3", lexeme.position
            )
        right_lexeme = self.peek()
        if right_lexeme is None or right_lexeme.kind not in {"WORD", "PHRASE", "("}:
            position = right_lexeme.position if right_lexeme else self.end_position()
            raise QueryError(NEAR_OPERANDS, position)
        if right_lexeme.kind == "(":
            right = _operand_group(self.parse_group(), right_lexeme.position)
        else:
            right = (self.parse_operand(self.take()),)
        following = self.peek()
        if following is not None and following.kind == "NEAR":
            raise QueryError(
                "NEAR cannot be chained; combine two NEARs with AND", following.position
            )
        return Near(left, right, int(distance))

    def parse_operand(self, lexeme: Lexeme) -> Operand:
        if lexeme.kind == "PHRASE":
            tokens = tuple(tokenize(lexeme.text))
            if not tokens:
                raise QueryError("This phrase has no words in it", lexeme.position)
            return Term(tokens[0]) if len(tokens) == 1 else Phrase(tokens)
        word = lexeme.text
        if "*" in word:
            return self.parse_prefix(lexeme)
        tokens = tuple(tokenize(word))
        if not tokens:
            raise QueryError(
                f"{word!r} has no letters, digits or emoji to look for", lexeme.position
            )
        return Term(tokens[0]) if len(tokens) == 1 else Phrase(tokens)

    def parse_prefix(self, lexeme: Lexeme) -> Prefix:
        word = lexeme.text
        star = word.index("*")
        if star != len(word) - 1:
            raise QueryError(
                "A wildcard * can only end a word, as in refund*", lexeme.position + star
            )
        tokens = tokenize(word[:-1])
        if len(tokens) != 1 or tokens[0] != normalize(word[:-1]):
            raise QueryError("A wildcard needs a plain word before the *", lexeme.position)
        stem = tokens[0]
        if len(stem.lstrip("#@$")) < MIN_PREFIX:
            raise QueryError(
                f"A wildcard needs at least {MIN_PREFIX} characters before the *", lexeme.position
            )
        return Prefix(stem)

    def parse_field(self, lexeme: Lexeme) -> Field:
        match = _FIELD.match(lexeme.text)
        assert match is not None
        name, raw = match.group(1).lower(), match.group(2)
        value = normalize(raw).strip()
        if name == "author":
            value = value.lstrip("@")
        if name == "site":
            value = value.removeprefix("www.").rstrip("/")
        if not value or any(ch.isspace() for ch in value):
            raise QueryError(
                f"{name}: needs a value, as in {name}:{_EXAMPLES[name]}", lexeme.position
            )
        allowed = FIELD_VALUES.get(name)
        if allowed and value not in allowed:
            raise QueryError(f"{name}: can only be {' or '.join(allowed)}", lexeme.position)
        return Field(name, value)


NEAR_OPERANDS = "NEAR joins words, phrases or groups like (late OR slow)"


def _operand_group(node: Node, position: int) -> tuple[Operand, ...]:
    """The alternatives of a parenthesised group next to NEAR: words or phrases joined by OR."""
    children = node.children if isinstance(node, Or) else (node,)
    if not all(isinstance(child, Term | Phrase | Prefix) for child in children):
        raise QueryError(NEAR_OPERANDS, position)
    return tuple(child for child in children if isinstance(child, Term | Phrase | Prefix))


_EXAMPLES = {
    "lang": "en",
    "platform": "bluesky",
    "author": "handle",
    "site": "example.com",
    "is": "reply",
    "has": "link",
}


def _flatten(kind: type[And] | type[Or], children: list[Node]) -> tuple[Node, ...]:
    flat: list[Node] = []
    for child in children:
        flat.extend(child.children if isinstance(child, kind) else (child,))
    return tuple(flat)


def _anchored(node: Node) -> bool:
    """True when every match must contain some word, phrase or tag."""
    if isinstance(node, Term | Phrase | Prefix | Near):
        return True
    if isinstance(node, And):
        return any(_anchored(child) for child in node.children)
    if isinstance(node, Or):
        return all(_anchored(child) for child in node.children)
    return False  # Not, Field


def _first_unanchored(node: Node) -> Node:
    if isinstance(node, Or):
        return next(child for child in node.children if not _anchored(child))
    return node


def parse(text: str) -> Node:
    """Parse and validate a query. Raises QueryError pointing at the problem."""
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(
            f"A query can be at most {MAX_QUERY_LENGTH} characters long", MAX_QUERY_LENGTH
        )
    node = _Parser(text).parse()
    if not _anchored(node):
        culprit = _first_unanchored(node)
        what = "only excludes" if isinstance(culprit, Not) else "only filters"
        raise QueryError(
            f"This query {what}: add a word, phrase or tag to look for", _position_of(text, culprit)
        )
    return node


def _position_of(text: str, node: Node) -> int:
    probe = render(node).split()[0].strip('()"')
    found = normalize(text).find(probe.lower()) if probe else -1
    return max(found, 0)


# --- rendering ------------------------------------------------------------------


def _render_operand(node: Operand) -> str:
    if isinstance(node, Term):
        return _quote_if_needed(node.token)
    if isinstance(node, Phrase):
        return '"' + " ".join(node.tokens) + '"'
    return node.stem + "*"


def _render_group(group: tuple[Operand, ...]) -> str:
    if len(group) == 1:
        return _render_operand(group[0])
    return "(" + " OR ".join(_render_operand(operand) for operand in group) + ")"


def _quote_if_needed(token: str) -> str:
    # A token that reads as an operator or field must be quoted to stay a word.
    if (
        (token.upper() == token and token in _OPERATORS)
        or _FIELD.match(token)
        or token.startswith("near/")
    ):
        return f'"{token}"'
    return token


def render(node: Node) -> str:
    """The canonical text of a query; parse(render(n)) == n."""
    if isinstance(node, Term | Phrase | Prefix):
        return _render_operand(node)
    if isinstance(node, Near):
        return f"{_render_group(node.left)} NEAR/{node.distance} {_render_group(node.right)}"
    if isinstance(node, Field):
        return f"{node.name}:{node.value}"
    if isinstance(node, Not):
        child = render(node.child)
        return f"NOT ({child})" if isinstance(node.child, And | Or | Near) else f"NOT {child}"
    if isinstance(node, And):
        return " AND ".join(
            f"({render(c)})" if isinstance(c, Or) else render(c) for c in node.children
        )
    return " OR ".join(render(child) for child in node.children)
