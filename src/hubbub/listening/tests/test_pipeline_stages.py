"""Normalise and dedupe, the first pure stages of the pipeline."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hubbub.listening.pipeline.dedupe import MAX_DISTANCE, DedupeIndex, dedupe_batch
from hubbub.listening.pipeline.normalize import (
    clean_text,
    copy_text,
    normalize_batch,
    normalize_post,
    sanitize_html,
    simhashes,
)
from hubbub.listening.text import tokenize
from hubbub.listening.types import RawPost

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def raw(external_id: str, text: str, minutes: int = 0, **extra: Any) -> RawPost:
    return RawPost(
        workspace_id=1,
        source_id=None,
        platform="bluesky",
        external_id=external_id,
        text=text,
        posted_at=NOW + dt.timedelta(minutes=minutes),
        **extra,
    )


def reference_simhash(tokens: list[str]) -> int:
    """SimHash written the slow, obvious way."""
    features = [f"{a} {b}" for a, b in itertools.pairwise(tokens)] or tokens
    if not features:
        return 0
    weights = [0] * 64
    for feature in features:
        value = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "little")
        for bit in range(64):
            weights[bit] += 1 if value >> bit & 1 else -1
    return sum(1 << bit for bit in range(64) if weights[bit] > 0)


class TestNormalize:
    def test_text_is_cleaned_not_rewritten(self) -> None:
        assert (
            clean_text("Caf\u0065\u0301\x00 is\u200b  down\r\n\r\n\r\n\r\nagain ")
            == "Café is down\n\nagain"
        )
        assert clean_text("👩‍👩‍👧 ok") == "👩‍👩‍👧 ok"  # emoji joiners survive

    def test_html_is_sanitised(self) -> None:
        html = sanitize_html(
            '<p onclick="x()">Hi <a href="javascript:alert(1)">you</a><script>steal()</script></p>'
        )
        assert "script" not in html
        assert "javascript" not in html
        assert "onclick" not in html
        assert html.startswith("<p>Hi ")

    def test_links_and_tags_are_pulled_out_without_fetching(self) -> None:
        post = normalize_post(
            raw(
                "1",
                "RT @fan: @Brightwave #Outage in $BWV land https://t.co/abc",
                expanded_urls=("https://status.brightwave.example/leeds",),
            )
        )
        assert post.urls == ("https://status.brightwave.example/leeds", "https://t.co/abc")
        assert post.hashtags == ("#outage",)
        assert post.mentions == ("@fan", "@brightwave")
        assert post.cashtags == ("$bwv",)

    def test_retweets_and_copies_share_their_normalised_text(self) -> None:
        original = copy_text("Brightwave is down in Leeds https://t.co/a")
        assert copy_text("RT @someone: Brightwave is DOWN in Leeds https://t.co/b") == original
        assert copy_text("@brightwave brightwave is down in leeds!!") == original

    def test_absurd_input_is_handled(self) -> None:
        post = normalize_post(raw("1", "x" * 200_000 + "\ud800"))
        assert len(post.text) <= 40_000
        empty = normalize_post(raw("2", ""))
        assert (empty.text, empty.content_hash, empty.simhash) == ("", "", 0)

    @settings(max_examples=200)
    @given(
        st.lists(
            st.lists(st.sampled_from(["a", "b", "brightwave", "down", "🙂", "x1"]), max_size=8),
            max_size=6,
        )
    )
    def test_batched_simhash_equals_the_obvious_one(self, texts: list[list[str]]) -> None:
        assert simhashes(texts) == [reference_simhash(tokens) for tokens in texts]

    @settings(max_examples=200, deadline=None)
    @given(st.text(max_size=300))
    def test_the_tokens_handed_to_the_matcher_are_those_of_the_clean_text(self, text: str) -> None:
        post = normalize_post(raw("1", text))
        assert post.tokens == tuple(tokenize(post.text))


class TestDedupe:
    def test_a_post_delivered_twice_is_kept_once(self) -> None:
        index = DedupeIndex()
        first = dedupe_batch(
            normalize_batch([raw("1", "Brightwave is down"), raw("1", "Brightwave is down")]), index
        )
        again = dedupe_batch(normalize_batch([raw("1", "Brightwave is down")]), index)
        assert [p.post.raw.external_id for p in first] == ["1"]
        assert again == []

    def test_copies_are_grouped_under_the_first(self) -> None:
        news = "Brightwave broadband has been down all day in Leeds, no updates at all"
        kept = dedupe_batch(
            normalize_batch(
                [
                    raw("1", news),
                    raw("2", f"RT @fan: {news}"),
                    raw("3", f"{news} 😡😡!"),
                    raw("4", f"{news} please", minutes=5),
                    raw("5", "Loving the new Brightwave router, setup took two minutes"),
                ]
            ),
            DedupeIndex(),
        )
        groups = {p.post.raw.external_id: (p.duplicate_of, p.near_duplicate) for p in kept}
        assert groups == {
            "1": (None, False),
            "2": ("1", False),
            "3": ("1", False),
            "4": ("1", True),
            "5": (None, False),
        }

    def test_copies_outside_the_window_are_not_grouped(self) -> None:
        news = "Brightwave broadband has been down all day in Leeds, no updates at all"
        kept = dedupe_batch(
            normalize_batch(
                [
                    raw("1", news),
                    raw("2", f"{news} please", minutes=120),
                    raw("3", news, minutes=121),
                ]
            ),
            DedupeIndex(window=dt.timedelta(hours=1)),
        )
        assert [p.duplicate_of for p in kept] == [None, None, "2"]

    def test_workspaces_never_share_groups(self) -> None:
        index = DedupeIndex()
        ours = raw("1", "Brightwave is down in Leeds today")
        theirs = RawPost(
            workspace_id=2,
            source_id=None,
            platform="bluesky",
            external_id="1",
            text="Brightwave is down in Leeds today",
            posted_at=NOW,
        )
        kept = dedupe_batch(normalize_batch([ours, theirs]), index)
        assert [(p.post.raw.workspace_id, p.duplicate_of) for p in kept] == [(1, None), (2, None)]

    def test_the_index_forgets_old_posts(self) -> None:
        index = DedupeIndex(window=dt.timedelta(minutes=30))
        dedupe_batch(
            normalize_batch(
                [raw(str(i), f"post number {i} about brightwave", minutes=i) for i in range(100)]
            ),
            index,
        )
        assert len(index) == 31

    @settings(max_examples=100, deadline=None)
    @given(
        st.lists(st.integers(min_value=0, max_value=2**64 - 1), min_size=1, max_size=40),
        st.integers(min_value=0, max_value=2**64 - 1),
    )
    def test_band_search_finds_every_hash_within_the_distance(
        self, stored: list[int], probe: int
    ) -> None:
        from hubbub.listening.pipeline.dedupe import Seen

        index = DedupeIndex()
        # Plant hashes near the probe, as well as random ones.
        planted = [probe ^ (1 << (value % 64)) ^ (1 << (value // 7 % 64)) for value in stored[:5]]
        for n, value in enumerate([*stored, *planted]):
            index.add(Seen(1, str(n), NOW, "", value or 1), "bluesky")
        found = index.near_copy_of(1, probe, NOW)
        closest = min((v or 1 for v in [*stored, *planted]), key=lambda v: (v ^ probe).bit_count())
        if (closest ^ probe).bit_count() <= MAX_DISTANCE:
            assert found is not None
            assert (found.simhash ^ probe).bit_count() == (closest ^ probe).bit_count()
        else:
            assert found is None
