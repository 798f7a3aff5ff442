"""Full-text search over stored mentions: SQLite FTS5 or PostgreSQL, one interface.

Both index a mention's text and author handle (migration 0004), fold case
and accents, and match every word the reader typed, the last one also as a
prefix, so results narrow as they type. The reader's input is never query
syntax: each whitespace-separated word is quoted as a term and passed as a
parameter, so no input can make the database report a syntax error.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import BooleanField, F, Func, QuerySet, Value
from django.db.models.expressions import RawSQL
from django.db.models.sql.compiler import SQLCompiler

from hubbub.listening.models import Mention

# Words beyond this are ignored: a search box is not a place for essays.
MAX_WORDS = 12
MAX_WORD_LENGTH = 64

# PostgreSQL: 'simple' with accents folded (migration 0004). The document is
# spelled exactly as the GIN index there, or the planner cannot use it.
SEARCH_CONFIG = "hubbub_search"
DOCUMENT_SQL = (
    f"to_tsvector('{SEARCH_CONFIG}', coalesce({{text}}, '') || ' ' || coalesce({{handle}}, ''))"
)

SQLITE_MATCH = "SELECT rowid FROM listening_mention_fts WHERE listening_mention_fts MATCH %s"


def search_words(text: str) -> list[str]:
    """The words of a search that can match something: those with a letter or digit.

    A word of only punctuation or emoji would be dropped by both indexes'
    tokenizers anyway; leaving it out keeps the two databases in agreement.
    """
    # Control characters and lone surrogates separate words: a NUL would end
    # an FTS5 string early, and neither database accepts it in a parameter.
    text = "".join(
        " " if unicodedata.category(char) in {"Cc", "Cs"} else char
        for char in unicodedata.normalize("NFC", text)
    )
    searchable = [word for word in text.split() if any(char.isalnum() for char in word)]
    return [word[:MAX_WORD_LENGTH] for word in searchable[:MAX_WORDS]]


def fts5_query(words: list[str]) -> str:
    """An FTS5 MATCH expression: every word a quoted phrase, the last a prefix.

    Inside double quotes FTS5 reads no operators, and a doubled quote is a
    literal one, so `"AND" "OR" "NEAR("*` is three plain terms.
    """
    terms = ['"' + word.replace('"', '""') + '"' for word in words]
    if terms:
        terms[-1] += "*"
    return " ".join(terms)


def tsquery_prefix(word: str) -> str:
    """A to_tsquery term matching the word as a prefix: `'refun':*`.

    Inside single quotes to_tsquery reads no operators; a quote is doubled
    and a backslash escaped. The word must hold a letter or digit, because an
    empty quoted term is the one thing to_tsquery rejects.
    """
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "':*"


def websearch_words(words: list[str]) -> str:
    """Whole words for websearch_to_tsquery, each quoted so `or` and `-` stay words."""
    return " ".join('"' + word.replace('"', " ") + '"' for word in words)


class _PostgresMatch(Func):
    """`document @@ (websearch_to_tsquery(whole words) && to_tsquery(last word as prefix))`."""

    output_field = BooleanField()

    def __init__(self, words: list[str]) -> None:
        whole, last = words[:-1], words[-1]
        expressions = [F("text"), F("author_handle"), Value(tsquery_prefix(last))]
        # websearch_to_tsquery('') works but logs a notice: leave it out instead.
        if whole:
            expressions.append(Value(websearch_words(whole)))
        super().__init__(*expressions)

    def as_sql(  # type: ignore[override]
        self,
        compiler: SQLCompiler,
        connection: BaseDatabaseWrapper,
        **extra_context: Any,
    ) -> tuple[str, list[Any]]:
        parts: list[str] = []
        params: list[Any] = []
        for expression in self.get_source_expressions():
            sql, expression_params = compiler.compile(expression)
            parts.append(sql)
            params.extend(expression_params)
        text, handle, last, *whole = parts
        query = f"to_tsquery('{SEARCH_CONFIG}', {last})"
        if whole:
            query = f"{query} && websearch_to_tsquery('{SEARCH_CONFIG}', {whole[0]})"
        return f"{DOCUMENT_SQL.format(text=text, handle=handle)} @@ ({query})", params


def search_mentions(mentions: QuerySet[Mention], text: str) -> QuerySet[Mention]:
    """The mentions whose text or author handle holds every word of the search.

    A search with no searchable word (only punctuation, say) matches nothing.
    Ordering is left to the caller.
    """
    words = search_words(text)
    if not words:
        return mentions.none()
    vendor = connections[mentions.db].vendor
    if vendor == "postgresql":
        return mentions.filter(_PostgresMatch(words))
    if vendor == "sqlite":
        # Constant SQL; the reader's words arrive only as the one parameter.
        match = RawSQL(SQLITE_MATCH, [fts5_query(words)])  # noqa: S611
        return mentions.filter(pk__in=match)
    raise NotImplementedError(f"Mention search does not support {vendor}.")
