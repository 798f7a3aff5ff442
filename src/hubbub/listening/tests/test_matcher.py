"""The percolating matcher agrees with the naive reference on every post."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hubbub.listening.matcher import Matcher, Post
from hubbub.listening.query import Node, parse, render
from hubbub.listening.tests.reference import reference_match
from hubbub.listening.tests.strategies import posts, queries


def matcher_for(*queries: str) -> Matcher:
    return Matcher((key, parse(query)) for key, query in enumerate(queries, start=1))


class TestExamples:
    def test_a_complaint_about_an_outage(self) -> None:
        matcher = matcher_for('"brightwave broadband" (outage OR down)', "refund* NEAR/3 late")
        assert matcher.match(Post("Brightwave Broadband is DOWN again!!")) == [1]
        assert matcher.match(Post("my refunds are always late")) == [2]
        assert matcher.match(Post("Where is my refund? it is so very very late now")) == []

    def test_filters_narrow_a_match(self) -> None:
        matcher = matcher_for(
            "brightwave lang:en platform:bluesky",
            "brightwave site:example.com",
            "brightwave is:reply",
            "brightwave has:link",
        )
        assert matcher.match(Post("brightwave", lang="en-GB", platform="bluesky")) == [1]
        assert matcher.match(Post("brightwave https://shop.example.com/x")) == [2, 4]
        assert matcher.match(Post("brightwave", is_reply=True)) == [3]

    def test_mentions_and_hashtags_are_their_own_words(self) -> None:
        matcher = matcher_for("brightwave", "@brightwave", "#brightwave")
        assert matcher.match(Post("@Brightwave why #BrightWave")) == [2, 3]

    def test_urls_are_not_words(self) -> None:
        assert matcher_for("refund").match(Post("see https://example.com/refund")) == []

    def test_only_candidates_are_evaluated(self) -> None:
        matcher = matcher_for("outage", "refund*", '"late delivery"', "router NOT wifi")
        prepared_post = Post("my router died")
        from hubbub.listening.matcher import PreparedPost

        candidates = matcher.candidates(PreparedPost.of(prepared_post))
        assert candidates == {3}  # the index of "router NOT wifi"
        assert matcher.match(prepared_post) == [4]

    def test_hostile_text_is_just_text(self) -> None:
        matcher = matcher_for("refund")
        for text in [
            "",
            "😀" * 10_000,
            "\x00\ud800 refund",
            "ｒｅｆｕｎｄ",
            "refund" * 10_000,
            "Ⓡefund",
        ]:
            assert matcher.match(Post(text.encode("utf-8", "replace").decode("utf-8"))) in ([], [1])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(queries, min_size=1, max_size=12), st.lists(posts(), min_size=1, max_size=15))
def test_the_matcher_agrees_with_the_naive_reference(trees: list[Node], sample: list[Post]) -> None:
    valid = [(key, parse(render(node))) for key, node in enumerate(trees)]
    matcher = Matcher(valid)
    for post in sample:
        expected = [key for key, node in valid if reference_match(node, post)]
        assert matcher.match(post) == expected, post.text
