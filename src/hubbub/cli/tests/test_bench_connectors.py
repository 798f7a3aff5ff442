"""`hubbub bench connectors`: the polling connectors' figures, from each platform's fake.

Small sizes, shapes and counts only: timings depend on the machine. The
polls and stores run in the test's thread (the fakes' threads never touch
the database), so the ordinary test transaction holds everything.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from hubbub.cli import bench_connectors
from hubbub.listening.models import InboundPost, RejectedItem, Source

PLATFORMS = ("bluesky", "mastodon", "reddit", "hackernews", "rss")
# More than two pages on every platform (40 to 100 a page, a feed of 50).
POSTS = 230
POLLS = 3


@pytest.fixture(autouse=True)
def loopback_allowed(settings: Any) -> None:
    settings.HUBBUB_SAFE_HTTP_ALLOW = ["127.0.0.0/8"]


def positive_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def test_every_polling_connector_is_measured() -> None:
    assert set(bench_connectors.POLLING) == set(PLATFORMS)
    assert set(PLATFORMS) < set(bench_connectors.MEASURES)


@pytest.mark.django_db
@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_polling_connector_catches_up_on_every_post_its_fake_holds(platform: str) -> None:
    sizes = bench_connectors.Sizes(events=0, posts=POSTS, polls=POLLS)

    figures = json.loads(json.dumps(bench_connectors.polling_figures(platform, sizes)))

    assert set(figures) == {f"{platform}_{key}" for key in bench_connectors.POLLING_KEYS}
    # The fakes that start a new source at the newest page hold one post read before
    # the backlog: seeded counts it, and so does stored.
    assert figures[f"{platform}_posts_seeded"] in (POSTS, POSTS + 1)
    assert figures[f"{platform}_posts_stored"] == figures[f"{platform}_posts_seeded"]
    (source,) = Source.objects.filter(kind=platform)
    assert InboundPost.objects.filter(source=source).count() == figures[f"{platform}_posts_stored"]
    assert not RejectedItem.objects.filter(source=source).exists()
    # Paging through the backlog takes several requests, and every idle poll makes one.
    assert figures[f"{platform}_requests"] > 2 + POLLS
    for key in ("requests_per_s", "posts_per_s", "poll_p95_ms", "catch_up_s"):
        assert positive_number(figures[f"{platform}_{key}"]), key


@pytest.mark.django_db
def test_measure_runs_the_polling_connectors_and_leaves_out_what_has_size_zero() -> None:
    figures = bench_connectors.measure(0, posts=60, polls=2)

    expected = {f"{p}_{key}" for p in PLATFORMS for key in bench_connectors.POLLING_KEYS}
    assert set(figures) == expected | {"peak_rss_mb"}
    for platform in PLATFORMS:
        assert figures[f"{platform}_posts_stored"] == figures[f"{platform}_posts_seeded"]
        assert figures[f"{platform}_requests"] > 0


def test_no_posts_means_no_polling_figures() -> None:
    sizes = bench_connectors.Sizes(events=0, posts=0)
    assert bench_connectors.polling_figures("rss", sizes) == {}
