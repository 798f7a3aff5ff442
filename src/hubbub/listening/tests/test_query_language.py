"""The query language: what it accepts, what it refuses and where, and round trips."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hubbub.listening.query import (
    MAX_QUERY_LENGTH,
    And,
    Field,
    Near,
    Not,
    Or,
    Phrase,
    Prefix,
    QueryError,
    Term,
    parse,
    render,
)
from hubbub.listening.tests.strategies import nodes, queries


class TestWhatQueriesMean:
    def test_phrases_booleans_and_implicit_and(self) -> None:
        assert parse('"Brightwave broadband" (outage OR down) NOT test') == And(
            (
                Phrase(("brightwave", "broadband")),
                Or((Term("outage"), Term("down"))),
                Not(Term("test")),
            )
        )

    def test_and_binds_tighter_than_or(self) -> None:
        assert parse("a b OR c") == Or((And((Term("a"), Term("b"))), Term("c")))

    def test_case_accents_and_width_do_not_matter(self) -> None:
        assert parse("CAFÉ Ｗｉｆｉ") == And((Term("cafe"), Term("wifi")))

    def test_tags_keep_their_sigil(self) -> None:
        assert parse("#BrightwaveFail @Brightwave $BWV") == And(
            (
                Term("#brightwavefail"),
                Term("@brightwave"),
                Term("$bwv"),
            )
        )

    def test_wildcards_near_and_emoji(self) -> None:
        assert parse("refund* NEAR/3 late") == Near((Prefix("refund"),), (Term("late"),), 3)
        assert parse("refund* NEAR/3 (late OR slow)") == Near(
            (Prefix("refund"),), (Term("late"), Term("slow")), 3
        )
        assert parse('("no signal" OR outage) NEAR/2 leeds') == Near(
            (Phrase(("no", "signal")), Term("outage")), (Term("leeds"),), 2
        )
        assert parse("router 😡") == And((Term("router"), Term("😡")))

    def test_field_filters(self) -> None:
        query = parse(
            "outage lang:EN platform:bluesky author:@Maya site:www.Example.com is:reply has:link"
        )
        assert query == And(
            (
                Term("outage"),
                Field("lang", "en"),
                Field("platform", "bluesky"),
                Field("author", "maya"),
                Field("site", "example.com"),
                Field("is", "reply"),
                Field("has", "link"),
            )
        )

    def test_lower_case_operators_are_words(self) -> None:
        assert parse("not working") == And((Term("not"), Term("working")))
        assert parse('"AND" router') == And((Term("and"), Term("router")))


@pytest.mark.parametrize(
    ("query", "message", "position"),
    [
        ("NOT spam", "only excludes", 0),
        ("lang:en", "only filters", 0),
        ("refund OR NOT spam", "only excludes", 10),
        ("re*", "at least 3 characters", 0),
        ("ref*und", "can only end a word", 3),
        ("a NEAR/21 b", "from 1 to 20", 2),
        ("a NEAR/x b", "from 1 to 20", 2),
        ("a NEAR/2 (b c)", "NEAR joins words", 9),
        ("(a NOT b) NEAR/2 c", "NEAR joins words", 0),
        ("a NEAR/2 lang:en", "NEAR joins words", 9),
        ("a NEAR/2 b NEAR/2 c", "cannot be chained", 11),
        ("(refund late", "never closed", 0),
        ('"refund late', "never closed", 0),
        ("refund)", "Unexpected", 6),
        ("refund OR", "ends where", 9),
        ("", "empty", 0),
        ("!!!", "no letters", 0),
        ("is:late refund", "can only be reply", 0),
    ],
)
def test_bad_queries_are_refused_with_the_position(query: str, message: str, position: int) -> None:
    with pytest.raises(QueryError) as error:
        parse(query)
    assert message in error.value.message
    assert error.value.position == position


def test_an_overlong_query_is_refused() -> None:
    with pytest.raises(QueryError, match="at most 4096"):
        parse("refund " * (MAX_QUERY_LENGTH // 7 + 1))


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(nodes | queries)
def test_rendering_and_parsing_again_gives_the_same_tree(node: object) -> None:
    try:
        text = render(node)  # type: ignore[arg-type]
        parsed = parse(text)
    except QueryError:
        return  # a generated tree may be a pure negation; the parser must say so, not crash
    assert parsed == node
    assert render(parsed) == text


@settings(max_examples=1500)
@given(
    st.text(alphabet=st.characters(codec="utf-8"), max_size=200)
    | st.lists(
        st.sampled_from(
            [
                '"',
                "(",
                ")",
                "AND",
                "OR",
                "NOT",
                "NEAR/2",
                "a*",
                "abc*",
                "x",
                "lang:",
                "is:reply",
                "#",
                "@",
                " ",
                "😡",
                "\u0301",
                "\x00",
            ]
        ),
        max_size=30,
    ).map(" ".join)
)
def test_no_input_crashes_the_parser(text: str) -> None:
    try:
        parse(text)
    except QueryError as error:
        assert 0 <= error.position <= max(len(text), MAX_QUERY_LENGTH)  # noqa: PT017
